//! Token metrics of an OpenAI-compatible stream, read by the real `scan-bench` binary from the
//! embedded mock with a fixed time to first token, inter-token gap and answer length: `ttft`,
//! `itl`, `tpot`, `chunk_gap` and `output_tokens` against the injected values, and the
//! buffered-stream check against the mock's `burst` fault, which holds every token back and
//! sends them in one write at the end.
//!
//! Bounds: a time from the request's start is never below what the mock injected (the mock
//! cannot send early), so the lower bounds of `ttft` and `tpot` are strict up to the
//! histogram's precision (0.1 %); upper bounds leave room for a loaded 2-core machine. A gap
//! can be short as well as long (after a late chunk the next is due sooner), so `itl` and
//! `chunk_gap` are held to the injected gap from both sides.

mod support;

use std::path::Path;

use reports::RunReport;
use scenarios::Timing;

const TTFT_MS: f64 = 200.0;
const GAP_MS: f64 = 20.0;
const TOKENS: u64 = 16;
/// What a loaded machine may add to a figure on top of the injected one, ms.
const SLACK_MS: f64 = 60.0;

/// Writes a chat scenario with `[stream.tokens]` against the embedded mock at real time, four
/// users for a second, and runs it; the exit code, the report and the terminal summary.
fn run(dir: &Path, fault: &str, include_usage: bool) -> (i32, RunReport, String) {
    let file = dir.join(format!("tokens-{fault}.toml"));
    std::fs::write(
        &file,
        format!(
            r#"name = "tokens-{fault}"
embedded_target = "mock-openai"

[load]
stages = [{{ duration = "0s", target = 4 }}, {{ duration = "1s", target = 4 }}]
think_time = "10ms"
graceful_ramp_down = "10s"

[request]
path = "/v1/chat/completions"
vars = {{}}

[request.headers]
content-type = "application/json"
x-mock-fault = "{fault}"

[request.body]
model = "gpt-4o-mini"
stream = true
stream_options = {{ include_usage = {include_usage} }}
messages = [{{ role = "user", content = "hello" }}]

[stream]
stages = []
terminal = [{{ data = "[DONE]" }}]
error = []
null_checks = []

[stream.tokens]

[thresholds]
llm_ttft = ["p(50)<10000"]
itl = ["max<10000"]

[mock.models."gpt-4o-mini"]
ttft = "{TTFT_MS}ms"
inter_token = "{GAP_MS}ms"
output_tokens = {TOKENS}
"#
        ),
    )
    .unwrap();
    let ran = support::run(&[file.to_str().unwrap()], &dir.join(format!("out-{fault}")));
    (ran.code, ran.report, ran.stdout)
}

/// The p50 and max of a token timing, ms.
fn p50_max(report: &RunReport, timing: Timing) -> (f64, f64, u64) {
    let m = report
        .latency(timing)
        .unwrap_or_else(|| panic!("{timing} in {:?}", report.latencies));
    (m.summary.p50, m.summary.max, m.summary.count)
}

/// `value` is the injected `expected` or a little above it, never below.
fn assert_near(what: &str, value: f64, expected: f64, slack: f64) {
    assert!(
        value >= expected * 0.999 && value <= expected + slack,
        "{what}: {value} ms, injected {expected} ms"
    );
}

#[test]
fn token_metrics_match_the_injected_pacing() {
    let dir = tempfile::tempdir().unwrap();
    for include_usage in [true, false] {
        let (code, report, stdout) = run(dir.path(), "none", include_usage);
        assert_eq!(code, 0, "{:?}\n{stdout}", report.thresholds);
        let t = report.totals.clone();
        assert!(t.completed >= 4 && t.completed == t.attempted, "{t:?}");
        let tokens = report.tokens.as_ref().expect("a token stream's counts");
        assert_eq!(tokens.streams, t.completed);
        assert_eq!(
            tokens.from_usage,
            if include_usage { t.completed } else { 0 }
        );
        assert_eq!(tokens.output_tokens_total, TOKENS * t.completed);
        let counts = &tokens.output_tokens.summary;
        assert_eq!((counts.min, counts.max), (TOKENS as f64, TOKENS as f64));
        assert_eq!(tokens.buffered, 0, "a paced stream is not buffered");

        let (ttft, _, n) = p50_max(&report, Timing::Ttft);
        assert_eq!(n, t.completed);
        assert_near("ttft p50", ttft, TTFT_MS, SLACK_MS);
        // e2e = ttft + 15 gaps: itl is the gap, tpot e2e / 16, and so is each chunk's gap.
        let (itl, itl_max, n) = p50_max(&report, Timing::Itl);
        assert_eq!(n, t.completed);
        // The mock paces tokens by deadlines from the request, so a late first token shortens
        // the rest: itl holds to the gap from both sides, by a late ttft over 15 gaps.
        assert!(
            (itl - GAP_MS).abs() < 4.0,
            "itl p50 {itl} ms, injected {GAP_MS} ms"
        );
        assert!(itl_max < GAP_MS * 2.0, "itl max {itl_max}");
        let e2e = TTFT_MS + GAP_MS * (TOKENS - 1) as f64;
        let (tpot, _, _) = p50_max(&report, Timing::Tpot);
        assert_near(
            "tpot p50",
            tpot,
            e2e / TOKENS as f64,
            SLACK_MS / TOKENS as f64,
        );
        let (gap, _, n) = p50_max(&report, Timing::ChunkGap);
        assert_eq!(n, (TOKENS - 1) * t.completed, "one gap between two chunks");
        // A gap is measured between two arrivals: one late read shortens the next gap, so the
        // median holds to the injected gap from both sides.
        assert!((gap - GAP_MS).abs() < 5.0, "chunk_gap p50 {gap}");
        let rate = tokens.tokens_per_s.summary.p50;
        let expected = TOKENS as f64 * 1000.0 / e2e;
        assert!(
            rate <= expected * 1.001 && rate > expected * 0.8,
            "tokens/s {rate}"
        );

        assert!(
            report
                .thresholds
                .iter()
                .all(|r| r.passed && r.observed.is_some()),
            "{:?}",
            report.thresholds
        );
        for name in [
            "ttft",
            "llm_itl",
            "tpot",
            "chunk_gap",
            "output_tokens",
            "Tokens",
        ] {
            assert!(stdout.contains(name), "{name} in the summary:\n{stdout}");
        }
        assert!(!stdout.contains("BUFFERED"), "{stdout}");
    }
}

#[test]
fn a_buffered_stream_is_counted_and_flagged() {
    let dir = tempfile::tempdir().unwrap();
    let (_, report, stdout) = run(dir.path(), "burst", true);
    let t = &report.totals;
    assert!(t.completed >= 4 && t.completed == t.attempted, "{t:?}");
    let tokens = report.tokens.as_ref().unwrap();
    assert_eq!(
        tokens.buffered, t.completed,
        "every stream came in one burst"
    );
    // The first token a user sees comes with the last: ttft is the whole answer's time.
    let e2e = TTFT_MS + GAP_MS * (TOKENS - 1) as f64;
    let (ttft, _, _) = p50_max(&report, Timing::Ttft);
    assert_near("ttft p50 of a burst", ttft, e2e, SLACK_MS);
    let (gap, _, _) = p50_max(&report, Timing::ChunkGap);
    assert!(gap < 1.0, "one read: no gap ({gap} ms)");
    let warning = stdout
        .lines()
        .find(|l| l.contains("BUFFERED STREAMS"))
        .unwrap_or_else(|| panic!("a warning line:\n{stdout}"));
    assert!(
        warning.contains(&format!("{} of {}", t.completed, t.completed)),
        "{warning}"
    );
}
