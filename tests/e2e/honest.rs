//! Honest runs (issue 15): the output folder's lock, rank-shared folders, run fingerprints,
//! foreign folders, a `verify` that checks indexes and the manifest, and the small refusals.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use bomdata_tests::{bomdata, cmd, copy_dir, example_bids, run, tree};
use serde_json::Value;

fn ingest(src: &Path, out: &Path, extra: &[&str]) -> Output {
    let mut c = cmd();
    c.arg("ingest").arg(src).arg("--out").arg(out).args(extra);
    run(c)
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).to_string()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).to_string()
}

fn rank_cmd(src: &Path, out: &Path, rank: usize) -> Command {
    let mut c = cmd();
    c.arg("ingest")
        .arg(src)
        .arg("--out")
        .arg(out)
        .args([
            "--rank",
            &rank.to_string(),
            "--world-size",
            "2",
            "--jobs",
            "1",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    c
}

#[test]
fn twenty_simultaneous_two_rank_starts_merge_to_one_rank() {
    let d = tempfile::tempdir().unwrap();
    let src = example_bids();
    let single = d.path().join("single");
    assert!(ingest(&src, &single, &[]).status.success());
    let want = tree(&single);
    for i in 0..20 {
        let out = d.path().join(format!("ranked-{i}"));
        let a = rank_cmd(&src, &out, 0).spawn().unwrap();
        let b = rank_cmd(&src, &out, 1).spawn().unwrap();
        for (r, child) in [a, b].into_iter().enumerate() {
            let o = child.wait_with_output().unwrap();
            assert!(
                o.status.success(),
                "try {i}, rank {r}: {:?}\n{}",
                o.status,
                stderr(&o)
            );
        }
        let m = bomdata(&["merge"], &[&out]);
        assert!(m.status.success(), "try {i}: merge: {}", stderr(&m));
        assert_eq!(
            tree(&out),
            want,
            "try {i}: merged ranks differ from one rank"
        );
    }
}

#[test]
fn a_held_folder_refuses_a_second_run_naming_the_holder() {
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("o");
    // Another process holds the folder (here: this test process).
    let state = bomdata_ingest::run::private_dir(&out);
    let held = bomdata_shard::lock::RunLock::rank_in(&state, &out, "ingest", 0, 1).unwrap();
    let o = ingest(&example_bids(), &out, &[]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains(&format!("pid={}", std::process::id())) && err.contains("o.private/lock"),
        "{err}"
    );
    let m = bomdata(&["shard", "--out"], &[&out, &out]);
    assert_eq!(m.status.code(), Some(2));
    drop(held);
    assert!(ingest(&example_bids(), &out, &[]).status.success());
}

/// A tree with more units than the example, so a run lasts long enough to be caught running.
fn big_tree(dir: &Path) -> PathBuf {
    let src = dir.join("src");
    copy_dir(&example_bids(), &src);
    for i in 4..30 {
        let to = src.join(format!("sub-{i:02}"));
        copy_dir(&src.join("sub-01"), &to);
        for sub in ["anat", "func"] {
            for e in std::fs::read_dir(to.join(sub)).unwrap().flatten() {
                let name = e
                    .file_name()
                    .to_string_lossy()
                    .replace("sub-01", &format!("sub-{i:02}"));
                std::fs::rename(e.path(), to.join(sub).join(name)).unwrap();
            }
        }
    }
    src
}

/// Starts an ingest, waits until it holds the lock, runs a second ingest on the same folder;
/// returns (second's output, whether the first was still running when the second ended, the
/// first's lock tag). The first run's dataset must verify.
fn race(src: &Path, out: &Path) -> (Output, bool, String) {
    let mut first = cmd();
    first
        .arg("ingest")
        .arg(src)
        .arg("--out")
        .arg(out)
        .args(["--jobs", "1"])
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let mut first = first.spawn().unwrap();
    let tag = format!("pid={} ", first.id());
    let lock = bomdata_ingest::run::private_dir(out).join("lock");
    while !std::fs::read_to_string(&lock).is_ok_and(|t| t.contains(&tag)) {
        assert!(first.try_wait().unwrap().is_none(), "first run ended early");
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    let second = ingest(src, out, &["--jobs", "1"]);
    let still_running = first.try_wait().unwrap().is_none();
    assert!(first.wait().unwrap().success());
    let v = bomdata(&["verify"], &[out]);
    assert!(v.status.success(), "{}", stdout(&v));
    (second, still_running, tag.trim().to_string())
}

#[test]
fn two_ingests_on_one_folder_the_second_is_refused() {
    let d = tempfile::tempdir().unwrap();
    let src = big_tree(d.path());
    for i in 0..3 {
        let (second, still_running, tag) = race(&src, &d.path().join(format!("o{i}")));
        if still_running {
            assert_eq!(second.status.code(), Some(2), "{}", stderr(&second));
            assert!(stderr(&second).contains(&tag), "{}", stderr(&second));
            return;
        }
    }
    panic!("the first run always ended before the second: the race was never tested");
}

#[test]
fn a_resume_with_other_options_is_refused() {
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("o");
    let src = example_bids();
    assert!(ingest(&src, &out, &[]).status.success());
    let before = tree(&out);
    let mut c = cmd();
    c.arg("ingest")
        .arg(&src)
        .arg("--out")
        .arg(&out)
        .env("BOMDATA_KEY", "another-key-0123456789");
    let o = run(c);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(
        err.contains("(key)") && err.contains("--overwrite"),
        "{err}"
    );
    assert!(
        !err.contains("another-key"),
        "the key must never be printed: {err}"
    );
    let o = ingest(&src, &out, &["--float16"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("(float16)"), "{}", stderr(&o));
    assert_eq!(tree(&out), before, "a refused run changed the folder");
    // --overwrite starts fresh: the result equals a run into a new folder.
    assert!(
        ingest(&src, &out, &["--float16", "--overwrite"])
            .status
            .success()
    );
    let fresh = d.path().join("fresh");
    assert!(ingest(&src, &fresh, &["--float16"]).status.success());
    assert_eq!(tree(&out), tree(&fresh));
    let run_json =
        std::fs::read_to_string(bomdata_ingest::run::private_dir(&out).join("run.json")).unwrap();
    assert!(!run_json.contains("test-key"), "{run_json}");
}

#[test]
fn a_foreign_folder_is_refused() {
    let d = tempfile::tempdir().unwrap();
    let src = example_bids();
    let foreign = d.path().join("f");
    std::fs::create_dir_all(&foreign).unwrap();
    std::fs::write(foreign.join("notes.txt"), b"mine").unwrap();
    let o = ingest(&src, &foreign, &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("notes.txt"), "{}", stderr(&o));
    let o = ingest(&src, &foreign, &["--overwrite"]);
    assert_eq!(
        o.status.code(),
        Some(2),
        "--overwrite must not delete foreign files"
    );
    assert!(foreign.join("notes.txt").is_file());

    let ds = d.path().join("ds");
    assert!(ingest(&src, &ds, &[]).status.success());
    let o = bomdata(&["shard", "--out"], &[&foreign, &ds]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("notes.txt"), "{}", stderr(&o));

    // Another dataset (a shard output) is refused by ingest and by shard, unless --overwrite.
    let sh = d.path().join("sh");
    assert!(bomdata(&["shard", "--out"], &[&sh, &ds]).status.success());
    let o = ingest(&src, &sh, &[]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let o = bomdata(&["shard", "--out"], &[&sh, &ds]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let o = bomdata(&["shard", "--overwrite", "--out"], &[&sh, &ds]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(ingest(&src, &sh, &["--overwrite"]).status.success());
    assert_eq!(tree(&sh), tree(&ds));
}

/// A shard output of the example (split labels in the manifest), verified clean.
fn split_dataset(dir: &Path) -> PathBuf {
    let ds = dir.join("ds");
    assert!(ingest(&example_bids(), &ds, &[]).status.success());
    let sh = dir.join("sh");
    let o = bomdata(&["shard", "--max-shard-samples", "1", "--out"], &[&sh, &ds]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v = bomdata(&["verify"], &[&sh]);
    assert!(v.status.success(), "{}", stdout(&v));
    sh
}

fn read_json(p: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap()
}

fn write_json(p: &Path, v: &Value) {
    std::fs::write(p, serde_json::to_vec_pretty(v).unwrap()).unwrap();
}

/// Runs `verify` on a damaged copy and checks it fails naming `what`.
fn assert_flags(dir: &Path, what: &str, damage: impl FnOnce(&Path, &Value)) {
    let copy = dir.join(format!("copy-{}", what.replace(['/', '.', ' '], "_")));
    copy_dir(&dir.join("sh"), &copy);
    let manifest = read_json(&copy.join("manifest.json"));
    damage(&copy, &manifest);
    let v = bomdata(&["verify"], &[&copy]);
    let text = stdout(&v);
    assert_eq!(v.status.code(), Some(1), "{what}: {text}");
    assert!(text.contains(what), "{what} not named: {text}");
}

#[test]
fn verify_checks_indexes_manifest_and_unlisted_files() {
    let d = tempfile::tempdir().unwrap();
    split_dataset(d.path());
    let first = |m: &Value, f: &str| m["shards"][0][f].as_str().unwrap().to_string();
    let edit_index = |c: &Path, m: &Value, f: &dyn Fn(&mut Value)| {
        let p = c.join("shards").join(first(m, "index"));
        let mut v = read_json(&p);
        f(&mut v);
        std::fs::write(&p, serde_json::to_vec(&v).unwrap()).unwrap();
    };
    let m0 = read_json(&d.path().join("sh/manifest.json"));
    let index0 = first(&m0, "index");
    let shard0 = first(&m0, "name");

    assert_flags(d.path(), &index0, |c, m| {
        std::fs::remove_file(c.join("shards").join(first(m, "index"))).unwrap();
    });
    assert_flags(d.path(), &index0, |c, m| {
        edit_index(c, m, &|v| {
            let o = &mut v["samples"][0]["members"][0]["offset"];
            *o = Value::from(o.as_u64().unwrap() + 512);
        });
    });
    assert_flags(d.path(), &index0, |c, m| {
        edit_index(c, m, &|v| {
            v["samples"][0]["members"][0]["checksum"] = Value::from("0000000000000000");
        });
    });
    assert_flags(d.path(), &index0, |c, m| {
        edit_index(c, m, &|v| {
            v["samples"][0]["key"] = Value::from("renamed_key")
        });
    });
    assert_flags(d.path(), &shard0, |c, m| {
        let mut m = m.clone();
        let s = m["shards"][0]["split"].as_str().unwrap();
        let other = if s == "train" { "test" } else { "train" };
        m["shards"][0]["split"] = Value::from(other);
        write_json(&c.join("manifest.json"), &m);
    });
    assert_flags(d.path(), &index0, |c, m| {
        let mut m = m.clone();
        let n = m["shards"][0]["samples"].as_u64().unwrap();
        m["shards"][0]["samples"] = Value::from(n + 1);
        write_json(&c.join("manifest.json"), &m);
    });
    assert_flags(d.path(), "listed more than once", |c, m| {
        let mut m = m.clone();
        let dup = m["shards"][0].clone();
        m["shards"].as_array_mut().unwrap().push(dup);
        write_json(&c.join("manifest.json"), &m);
    });
    assert_flags(d.path(), "shards/extra-000000.tar", |c, m| {
        std::fs::copy(
            c.join("shards").join(first(m, "name")),
            c.join("shards/extra-000000.tar"),
        )
        .unwrap();
    });
}

#[test]
fn verify_reports_every_problem_in_one_run() {
    let d = tempfile::tempdir().unwrap();
    let sh = split_dataset(d.path());
    let m = read_json(&sh.join("manifest.json"));
    let shards = m["shards"].as_array().unwrap();
    assert!(shards.len() >= 2);
    let index0 = shards[0]["index"].as_str().unwrap();
    let shard1 = shards[1]["name"].as_str().unwrap();
    std::fs::remove_file(sh.join("shards").join(index0)).unwrap();
    let p = sh.join("shards").join(shard1);
    let mut bytes = std::fs::read(&p).unwrap();
    bytes[700] ^= 0x40;
    std::fs::write(&p, bytes).unwrap();
    let v = bomdata(&["verify"], &[&sh]);
    let text = stdout(&v);
    assert_eq!(v.status.code(), Some(1), "{text}");
    assert!(text.contains(index0) && text.contains(shard1), "{text}");
}

#[test]
fn small_refusals_say_what_is_wrong() {
    let d = tempfile::tempdir().unwrap();
    // probe of a missing file: could not run.
    let o = bomdata(&["probe"], &[&d.path().join("missing.edf")]);
    assert_eq!(o.status.code(), Some(2));
    // A URL of an unsupported scheme is refused, and s3:// (remote) needs a local state
    // folder; nothing named `gs:` or `s3:` is created.
    for (url, says) in [
        ("gs://bucket/x", "URL scheme"),
        ("s3://bucket/x", "--state-dir"),
    ] {
        let mut c = cmd();
        c.current_dir(d.path())
            .arg("ingest")
            .arg(example_bids())
            .args(["--out", url]);
        let o = run(c);
        assert_eq!(o.status.code(), Some(2));
        assert!(stderr(&o).contains(says), "{}", stderr(&o));
    }
    assert!(!d.path().join("s3:").exists() && !d.path().join("gs:").exists());
    // The key length is in the help text.
    let h = bomdata(&["ingest", "--help"], &[]);
    assert!(stdout(&h).contains("16 bytes"), "{}", stdout(&h));
    // shard on a raw tree says it is not a dataset.
    let o = bomdata(&["shard", "--out"], &[&d.path().join("x"), &example_bids()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("not a bomdata dataset: no manifest"),
        "{}",
        stderr(&o)
    );
    // Control bytes from a file (its name or its header) never reach the terminal raw.
    let evil = d.path().join("evil\x1b[2J\x07.edf");
    let mut h = b"0       ".to_vec();
    h.extend_from_slice(format!("{:80}{:80}", "P", "").as_bytes());
    h.extend_from_slice(b"01.01.0101.01.01512     ");
    h.extend_from_slice(&[b' '; 44]);
    h.extend_from_slice(b"1       1       \x1b[2J");
    std::fs::write(&evil, &h).unwrap();
    for p in [evil.clone(), d.path().join("missing\x1b]0;t\x07.edf")] {
        let o = bomdata(&["probe"], &[&p]);
        assert!(!o.stderr.is_empty());
        assert!(
            !o.stderr.contains(&0x1b) && !o.stderr.contains(&0x07),
            "{}",
            stderr(&o)
        );
    }
    let mut c = cmd();
    c.arg("ingest")
        .arg(&evil)
        .arg("--out")
        .arg(d.path().join("o"));
    let o = run(c);
    assert_eq!(o.status.code(), Some(2));
    assert!(!o.stderr.contains(&0x1b), "{}", stderr(&o));
}
