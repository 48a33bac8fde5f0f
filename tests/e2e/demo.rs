//! The multi-modal main job's pieces: `shard` progress and the HTML QC report.

use bomdata_tests::{cmd, example_bids, run};

/// Ingests the example BIDS tree into `dir/canonical`.
fn canonical(dir: &std::path::Path) -> std::path::PathBuf {
    let can = dir.join("canonical");
    let mut c = cmd();
    c.arg("ingest").arg(example_bids()).arg("--out").arg(&can);
    assert!(run(c).status.success());
    can
}

#[test]
fn shard_reports_progress_as_lines_and_json() {
    let dir = tempfile::tempdir().unwrap();
    let can = canonical(dir.path());
    // Not a terminal: plain lines, the last one with every sample done, then the summary.
    let mut c = cmd();
    c.arg("shard")
        .arg(&can)
        .arg("--out")
        .arg(dir.path().join("a"));
    let out = run(c);
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bomdata: 0/5 samples, 0.0/"), "{err}");
    assert!(err.contains("bomdata: 5/5 samples, "), "{err}");
    assert!(
        err.contains("bomdata: profile canonical: 5 samples in"),
        "{err}"
    );
    // --json: planned, progress (the last with done == total), summary; nothing else.
    let mut c = cmd();
    c.arg("shard")
        .arg(&can)
        .arg("--out")
        .arg(dir.path().join("b"))
        .arg("--json");
    let out = run(c);
    assert!(out.status.success());
    let events: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stderr)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(events[0]["event"], "planned");
    assert_eq!(events[0]["samples"], 5);
    let last = &events[events.len() - 2];
    assert_eq!(last["event"], "progress");
    assert_eq!(
        (last["done"].as_u64(), last["total"].as_u64()),
        (Some(5), Some(5))
    );
    assert_eq!(last["written"], 5);
    let summary = &events[events.len() - 1];
    assert_eq!(summary["event"], "summary");
    assert_eq!(summary["samples"], 5);
}
