use super::*;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

#[derive(Debug, Deserialize, Serialize, PartialEq)]
struct Holder {
    d: Delay,
    n: TokenCount,
}

fn parse(text: &str) -> Result<Holder, toml::de::Error> {
    toml::from_str(text)
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// A log-normal without a lower clamp, as most tables here write it.
fn lognormal<T: Quantity>(median: T::Param, width: Width<T::Param>, max: Option<T>) -> Dist<T> {
    Dist::LogNormal {
        median,
        width,
        min: None,
        max,
    }
}

#[test]
fn short_and_table_forms_parse() {
    let h = parse("d = \"15ms\"\nn = 120").unwrap();
    assert_eq!(h.d, Delay::fixed(ms(15)));
    assert_eq!(h.n, TokenCount::fixed(120));
    let h = parse(
        "d = { dist = \"lognormal\", median = \"4.2s\", sigma = 0.35, max = \"30s\" }\n\
         n = { dist = \"uniform\", min = 5, max = 9 }",
    )
    .unwrap();
    assert_eq!(
        h.d,
        Delay::lognormal(ms(4200), 0.35, Duration::from_secs(30))
    );
    assert_eq!(h.n, TokenCount::Uniform { min: 5, max: 9 });
    let h = parse("d = { dist = \"fixed\", value = \"1s\" }\nn = { dist = \"fixed\", value = 3 }")
        .unwrap();
    assert_eq!(
        h,
        Holder {
            d: Delay::fixed(ms(1000)),
            n: TokenCount::fixed(3)
        }
    );
    let h = parse("d = { sigma = 0.5, dist = \"lognormal\", median = \"2s\" }\nn = { dist = \"lognormal\", median = 150, sigma = 0.5 }").unwrap();
    assert_eq!(h.d, lognormal(ms(2000), Width::Sigma(0.5), None));
    assert_eq!(h.n, lognormal(150.0, Width::Sigma(0.5), None));
}

#[test]
fn a_median_and_p95_is_a_lognormal() {
    let h = parse("d = { median = \"1s\", p95 = \"3s\" }\nn = 1").unwrap();
    assert_eq!(h.d, lognormal(ms(1000), Width::P95(ms(3000)), None));
    let h = parse("d = { p95 = \"3s\", median = \"1s\" }\nn = 1").unwrap();
    assert_eq!(h.d.validate(), Ok(()));
    let h = parse("d = { median = \"300ms\" }\nn = 1").unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    assert_eq!(
        h.d.sample(&mut rng),
        ms(300),
        "a median alone is that value"
    );
    let h =
        parse("d = { dist = \"lognormal\", median = \"1s\", p95 = \"3s\", max = \"2s\" }\nn = 1")
            .unwrap();
    assert!((0..1000).all(|_| h.d.sample(&mut rng) <= ms(2000)));
    let err = parse("d = { median = \"1s\", p99 = \"3s\" }\nn = 1").unwrap_err();
    assert!(err.to_string().contains("unknown field `p99`"), "{err}");
    let err = parse("d = { median = \"1s\", sigma = 0.3 }\nn = 1").unwrap_err();
    assert!(err.to_string().contains("needs a `dist` key"), "{err}");
    let bad = parse("d = { median = \"1s\", p95 = \"500ms\" }\nn = 1")
        .unwrap()
        .d;
    let err = bad.validate().unwrap_err();
    assert_eq!(err.field, FieldPath::root("p95"));
    assert!(err.to_string().contains("at least the median"), "{err}");
}

#[test]
fn unknown_fields_kinds_and_values_are_refused() {
    let err =
        parse("d = { dist = \"lognormal\", median = \"4s\", sigma = 0.3, mx = \"1s\" }\nn = 1");
    let err = err.unwrap_err().to_string();
    assert!(
        err.contains("mx") && err.contains("`median`, `sigma`"),
        "{err}"
    );
    let err = parse("d = { dist = \"gamma\", median = \"4s\" }\nn = 1");
    assert!(err.unwrap_err().message().contains("gamma"));
    let err = parse("d = \"4 parsecs\"\nn = 1");
    assert!(err.unwrap_err().message().contains("invalid duration"));
    let err = parse("d = 5\nn = 1").unwrap_err();
    assert!(err.to_string().contains("median"), "{err}");
    let err = parse("d = \"1s\"\nn = -3").unwrap_err();
    assert!(err.to_string().contains("negative"), "{err}");
    let err = parse("d = { dist = \"uniform\", min = \"1s\", mean = \"2s\" }\nn = 1").unwrap_err();
    assert!(
        err.to_string()
            .contains("`mean` is not a setting of dist = \"uniform\""),
        "{err}"
    );
    let err = parse("d = { dist = \"uniform\", min = \"1s\" }\nn = 1").unwrap_err();
    assert!(err.to_string().contains("missing field `max`"), "{err}");
    let err =
        parse("d = { dist = \"lognormal\", median = \"1s\", sigma = 1, p95 = \"2s\" }\nn = 1")
            .unwrap_err();
    assert!(err.to_string().contains("give one"), "{err}");
}

#[test]
fn serialized_forms_parse_back() {
    let d = Delay::Pareto {
        scale: Duration::from_secs(3),
        shape: 2.5,
        max: Some(Duration::from_secs(60)),
    };
    let n: TokenCount = lognormal(180.0, Width::Sigma(0.5), Some(900));
    let json = serde_json::json!({ "d": d, "n": n });
    assert_eq!(json["d"]["dist"], "pareto");
    let back: Holder = serde_json::from_value(json).unwrap();
    assert_eq!((back.d, back.n), (d, n));
    for holder in [
        Holder {
            d: Delay::fixed(ms(15)),
            n: TokenCount::fixed(7),
        },
        Holder {
            d: lognormal(ms(200), Width::P95(ms(400)), None),
            n: Dist::Normal {
                mean: 10.0,
                std_dev: 2.0,
                min: Some(3),
                max: None,
            },
        },
        Holder {
            d: Dist::Uniform {
                min: ms(1),
                max: ms(2),
            },
            n: Dist::Uniform { min: 1, max: 2 },
        },
    ] {
        let text = toml::to_string(&holder).unwrap();
        assert_eq!(parse(&text).unwrap(), holder, "{text}");
    }
    assert_eq!(
        toml::to_string(&Holder {
            d: Delay::fixed(ms(15)),
            n: TokenCount::fixed(7)
        })
        .unwrap(),
        "d = \"15ms\"\nn = 7\n"
    );
}

#[test]
fn old_report_forms_still_read() {
    // A v1 report writes a fixed delay as a tagged table and a lognormal count's median as a
    // real number.
    let json = serde_json::json!({
        "d": { "dist": "fixed", "value": "14ms" },
        "n": { "dist": "lognormal", "median": 150.0, "sigma": 0.5, "max": 1000 },
    });
    let h: Holder = serde_json::from_value(json).unwrap();
    assert_eq!(h.d, Delay::fixed(ms(14)));
    assert_eq!(h.n, lognormal(150.0, Width::Sigma(0.5), Some(1000)));
}

#[test]
fn draws_respect_clamps() {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let heavy = Delay::Pareto {
        scale: Duration::from_secs(1),
        shape: 0.5,
        max: Some(Duration::from_secs(20)),
    };
    let normal = Delay::Normal {
        mean: ms(100),
        std_dev: Duration::from_secs(5),
        min: None,
        max: Some(Duration::from_secs(1)),
    };
    let count = TokenCount::Normal {
        mean: 10.0,
        std_dev: 100.0,
        min: Some(3),
        max: Some(40),
    };
    for _ in 0..10_000 {
        let d = heavy.sample(&mut rng);
        assert!(
            d >= Duration::from_secs(1) && d <= Duration::from_secs(20),
            "{d:?}"
        );
        assert!(normal.sample(&mut rng) <= Duration::from_secs(1));
        assert!((3..=40).contains(&count.sample(&mut rng)));
    }
}

#[test]
fn lognormal_median_is_the_median() {
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let d = Delay::lognormal(Duration::from_secs(4), 0.4, Delay::CEILING);
    let mut draws: Vec<Duration> = (0..20_001).map(|_| d.sample(&mut rng)).collect();
    draws.sort();
    let median = draws[10_000].as_secs_f64();
    assert!((median - 4.0).abs() < 0.1, "median {median}");
}

#[test]
fn lognormal_by_p95_has_the_median_and_p95_asked_for() {
    let mut rng = ChaCha8Rng::seed_from_u64(2);
    let d: Delay = lognormal(
        Duration::from_secs(1),
        Width::P95(Duration::from_secs(3)),
        None,
    );
    let mut draws: Vec<f64> = (0..20_000)
        .map(|_| d.sample(&mut rng).as_secs_f64())
        .collect();
    draws.sort_by(f64::total_cmp);
    let (p50, p95) = (draws[10_000], draws[19_000]);
    // 20,000 draws put both within a few percent; the bounds are 5 sigma wide.
    assert!((0.95..1.05).contains(&p50), "p50 {p50}");
    assert!((2.8..3.2).contains(&p95), "p95 {p95}");
}

/// The draws of the mock's seeded latency model, as they were before delays and counts shared
/// one type: same seed, same values.
#[test]
fn seeded_draws_are_stable() {
    let mut rng = ChaCha8Rng::seed_from_u64(42);
    let delay = Delay::lognormal(ms(2500), 0.35, Duration::from_secs(60));
    let count: TokenCount = lognormal(150.0, Width::Sigma(0.5), Some(1000));
    let uniform = TokenCount::Uniform { min: 5, max: 9 };
    let draws: Vec<u128> = (0..3).map(|_| delay.sample(&mut rng).as_nanos()).collect();
    let counts: Vec<u32> = (0..3).map(|_| count.sample(&mut rng)).collect();
    let picks: Vec<u32> = (0..3).map(|_| uniform.sample(&mut rng)).collect();
    let expected = reference_draws();
    assert_eq!((draws, counts, picks), expected);
}

/// The same draws written out with the formulas the mock used (`median * exp(sigma * z)`,
/// rounded counts clamped to at least 1, integer uniform counts).
fn reference_draws() -> (Vec<u128>, Vec<u32>, Vec<u32>) {
    let mut rng = ChaCha8Rng::seed_from_u64(42);
    let draws = (0..3)
        .map(|_| {
            let z: f64 = rng.sample(StandardNormal);
            Duration::from_secs_f64((2.5 * (0.35 * z).exp()).clamp(0.0, 60.0)).as_nanos()
        })
        .collect();
    let counts = (0..3)
        .map(|_| {
            let z: f64 = rng.sample(StandardNormal);
            (150.0 * (0.5 * z).exp()).round().clamp(1.0, 1000.0) as u32
        })
        .collect();
    let picks = (0..3).map(|_| rng.random_range(5..=9u32)).collect();
    (draws, counts, picks)
}

#[test]
fn scaling_multiplies_values_not_shapes() {
    let d: Delay = lognormal(ms(1000), Width::P95(ms(3000)), Some(ms(5000)));
    assert_eq!(
        d.scaled(0.1),
        lognormal(ms(100), Width::P95(ms(300)), Some(ms(500)))
    );
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    assert_eq!(Delay::fixed(ms(300)).scaled(0.1).sample(&mut rng), ms(30));
}

#[test]
fn validation_names_the_parameter() {
    let bad: Delay = lognormal(Duration::from_secs(1), Width::Sigma(-1.0), None);
    let err = bad.validate().unwrap_err().within("ttft");
    assert_eq!(err.field.to_string(), "ttft.sigma");
    let bad = Delay::Uniform {
        min: Duration::from_secs(2),
        max: Duration::from_secs(1),
    };
    assert_eq!(bad.validate().unwrap_err().field, FieldPath::root("min"));
    let bad = TokenCount::Normal {
        mean: -1.0,
        std_dev: 1.0,
        min: None,
        max: None,
    };
    assert_eq!(bad.validate().unwrap_err().field, FieldPath::root("mean"));
    let bad: Delay = lognormal(Duration::ZERO, Width::Sigma(0.3), None);
    assert_eq!(bad.validate().unwrap_err().field, FieldPath::root("median"));
}
