//! The command surface: help, exit codes, `sources`, `probe` errors.

use bomdata_tests::{cmd, run};

#[test]
fn every_subcommand_has_help() {
    for sub in [
        "ingest", "shard", "probe", "verify", "inspect", "sources", "merge", "profiles",
    ] {
        let mut c = cmd();
        c.args([sub, "--help"]);
        let o = run(c);
        assert!(o.status.success(), "{sub} --help");
        assert!(
            String::from_utf8_lossy(&o.stdout).contains("Usage"),
            "{sub}"
        );
    }
}

#[test]
fn sources_lists_every_registry_entry_with_status() {
    let mut c = cmd();
    c.args(["sources", "--json"]);
    let o = run(c);
    assert!(o.status.success());
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let list = v.as_array().unwrap();
    assert!(list.len() >= 37);
    assert!(
        list.iter()
            .all(|e| ["supported", "planned"].contains(&e["status"].as_str().unwrap()))
    );
    assert!(
        list.iter()
            .any(|e| e["id"] == "openneuro" && e["status"] == "supported")
    );
}

#[test]
fn probe_refusal_is_json_with_exit_1() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("nothing.xyz");
    std::fs::write(&p, b"hello").unwrap();
    let mut c = cmd();
    c.arg("probe").arg(&p).arg("--json");
    let o = run(c);
    assert_eq!(o.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(v["error"]["kind"].is_string());
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("nothing.xyz")
    );
}

#[test]
fn bad_arguments_exit_2() {
    let mut c = cmd();
    c.args([
        "shard",
        "/nonexistent-dataset",
        "--out",
        "/tmp/x-bomdata-none",
    ]);
    assert_eq!(run(c).status.code(), Some(2));
}
