//! A report written and read back, and files that are not reports.

mod common;

use reports::{ReportError, RunReport};

#[test]
fn a_report_round_trips_through_its_file() {
    let report = common::run(300, 1, 1.0);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nested/report.json");
    report.write_atomic(&path).unwrap();
    let back = RunReport::read(&path).unwrap();
    assert_eq!(back, report);
    for m in back.latencies.iter().chain(&back.stages) {
        assert_eq!(
            reports::histogram::Summary::of(&m.decode().unwrap()),
            m.summary,
            "{}",
            m.name
        );
    }
    let leftovers: Vec<_> = std::fs::read_dir(path.parent().unwrap()).unwrap().collect();
    assert_eq!(leftovers.len(), 1, "no temporary file left behind");
}

#[test]
fn bad_files_are_refused_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let good = serde_json::to_string(&common::run(20, 1, 1.0)).unwrap();
    let write = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    };
    let truncated = write("truncated.json", &good[..good.len() / 2]);
    let err = RunReport::read(&truncated).unwrap_err();
    assert!(matches!(err, ReportError::Invalid { .. }), "{err}");
    assert!(
        err.to_string().starts_with(&format!(
            "{}: not a scan-bench run report: EOF",
            truncated.display()
        )),
        "{err}"
    );

    let foreign = write(
        "package.json",
        r#"{"name": "left-pad", "version": "1.3.0"}"#,
    );
    let err = RunReport::read(&foreign).unwrap_err().to_string();
    assert!(
        err.contains("not a scan-bench run report: no `schema_version` field"),
        "{err}"
    );

    let newer = write(
        "v2.json",
        &good.replacen("\"schema_version\":1", "\"schema_version\":2", 1),
    );
    let err = RunReport::read(&newer).unwrap_err();
    assert!(
        matches!(
            err,
            ReportError::Version {
                found: 2,
                expected: 1,
                ..
            }
        ),
        "{err}"
    );
    assert!(
        err.to_string()
            .contains("report schema version 2, this scan-bench reads version 1")
    );

    let mangled = write(
        "mangled.json",
        &good.replacen("\"attempted\":", "\"attempted\":\"many\",\"x\":", 1),
    );
    assert!(matches!(
        RunReport::read(&mangled),
        Err(ReportError::Invalid { .. })
    ));

    let missing = dir.path().join("missing.json");
    assert!(matches!(
        RunReport::read(&missing),
        Err(ReportError::Io { .. })
    ));
}
