//! `bomdata ingest` end to end on the shipped example tree.

use std::path::Path;
use std::time::Duration;

use bomdata_tests::{cmd, copy_dir, example_bids, run, tree};

fn ingest(src: &Path, out: &Path, extra: &[&str]) -> std::process::Output {
    let mut c = cmd();
    c.arg("ingest").arg(src).arg("--out").arg(out).args(extra);
    run(c)
}

/// A bigger tree: the example plus copies of its subjects, for more units.
fn big_tree(dir: &Path) -> std::path::PathBuf {
    let src = dir.join("src");
    copy_dir(&example_bids(), &src);
    for i in 4..10 {
        let from = src.join("sub-01");
        let to = src.join(format!("sub-{i:02}"));
        copy_dir(&from, &to);
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

#[test]
fn reproducible_across_runs_and_job_counts() {
    let d = tempfile::tempdir().unwrap();
    let src = big_tree(d.path());
    let a = d.path().join("a");
    let b = d.path().join("b");
    assert!(ingest(&src, &a, &["--jobs", "1"]).status.success());
    assert!(ingest(&src, &b, &["--jobs", "2"]).status.success());
    let ta = tree(&a);
    assert!(ta.contains_key("manifest.json"));
    assert!(ta.keys().any(|k| k.ends_with(".tar")));
    assert_eq!(ta, tree(&b), "--jobs 1 and --jobs 2 differ");
    // A second run over a finished dataset converts nothing and changes nothing.
    let again = ingest(&src, &a, &["--jobs", "2", "--json"]);
    assert!(again.status.success());
    let err = String::from_utf8_lossy(&again.stderr);
    assert!(err.contains("\"converted\":0"), "{err}");
    assert_eq!(ta, tree(&a));
}

#[test]
fn killed_runs_resume_to_the_same_bytes() {
    let d = tempfile::tempdir().unwrap();
    let src = big_tree(d.path());
    let reference = d.path().join("ref");
    assert!(ingest(&src, &reference, &["--jobs", "1"]).status.success());
    let want = tree(&reference);
    let out = d.path().join("crashy");
    // Deterministic "random" kill points, in ms after start.
    let mut state = 0x2545_F491_4F6C_DD1Du64;
    for _ in 0..6 {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let ms = 20 + state % 400;
        let mut c = cmd();
        c.arg("ingest")
            .arg(&src)
            .arg("--out")
            .arg(&out)
            .args(["--jobs", "2"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        let mut child = c.spawn().unwrap();
        std::thread::sleep(Duration::from_millis(ms));
        let _ = child.kill(); // SIGKILL
        let _ = child.wait();
        // Whatever a manifest lists must be complete and intact.
        if out.join("manifest.json").exists() {
            let mut v = cmd();
            v.arg("verify").arg(&out);
            assert!(
                run(v).status.success(),
                "manifest lists a damaged shard after kill at {ms} ms"
            );
        }
    }
    assert!(ingest(&src, &out, &["--jobs", "2"]).status.success());
    assert_eq!(
        tree(&out),
        want,
        "resumed dataset differs from an uninterrupted run"
    );
}

#[test]
fn ranks_write_parts_and_merge_joins_them() {
    let d = tempfile::tempdir().unwrap();
    let src = big_tree(d.path());
    let single = d.path().join("single");
    assert!(ingest(&src, &single, &[]).status.success());
    let out = d.path().join("ranked");
    assert!(
        ingest(&src, &out, &["--rank", "0", "--world-size", "3"])
            .status
            .success()
    );
    assert!(
        !out.join("manifest.json").exists(),
        "manifest before all ranks finished"
    );
    let mut m = cmd();
    m.arg("merge").arg(&out);
    assert_eq!(
        run(m).status.code(),
        Some(1),
        "merge with ranks missing must fail"
    );
    let mut c = cmd();
    c.arg("ingest")
        .arg(&src)
        .arg("--out")
        .arg(&out)
        .env("SLURM_PROCID", "2")
        .env("SLURM_NTASKS", "3");
    assert!(run(c).status.success());
    assert!(
        ingest(&src, &out, &["--rank", "1", "--world-size", "3"])
            .status
            .success()
    );
    let mut m = cmd();
    m.arg("merge").arg(&out);
    assert!(run(m).status.success());
    assert_eq!(tree(&out), tree(&single));
}

#[test]
fn bad_files_fail_alone_and_are_reported() {
    let d = tempfile::tempdir().unwrap();
    let src = d.path().join("src");
    copy_dir(&example_bids(), &src);
    let good = std::fs::read(src.join("sub-01/func/sub-01_task-rest_bold.nii.gz")).unwrap();
    // Truncated gzip stream.
    std::fs::create_dir_all(src.join("sub-20/anat")).unwrap();
    std::fs::write(
        src.join("sub-20/anat/sub-20_T1w.nii.gz"),
        &good[..good.len() / 3],
    )
    .unwrap();
    // Wrong sizeof_hdr.
    let mut bad = std::fs::read(src.join("sub-01/anat/sub-01_T1w.nii")).unwrap();
    bad[0..4].copy_from_slice(&999i32.to_le_bytes());
    std::fs::create_dir_all(src.join("sub-21/anat")).unwrap();
    std::fs::write(src.join("sub-21/anat/sub-21_T1w.nii"), &bad).unwrap();
    let out = d.path().join("out");
    let o = ingest(&src, &out, &["--source", "openneuro"]);
    assert_eq!(o.status.code(), Some(1), "exit 1 when some units failed");
    let m: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(m["counts"]["samples"], 5, "the good files are all written");
    assert_eq!(m["counts"]["failed_units"], 2);
    // The private report (beside the dataset) names the source files; the dataset's own
    // report has the same entries with pseudonyms.
    let shared = std::fs::read_to_string(out.join("report.jsonl")).unwrap();
    assert_eq!(shared.lines().count(), 2, "{shared}");
    assert!(!shared.contains("sub-2/"), "{shared}");
    let private = bomdata_ingest::run::private_dir(&out).join("report.jsonl");
    let report = std::fs::read_to_string(private).unwrap();
    let lines: Vec<serde_json::Value> = report
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2, "{report}");
    for l in &lines {
        assert_eq!(l["outcome"], "failed");
        assert!(l["path"].as_str().unwrap().contains("sub-2"), "{l}");
        let reason = l["reason"].as_str().unwrap();
        assert!(!reason.is_empty() && !reason.contains('\n'), "{reason}");
    }
}

#[test]
fn refuses_to_run_without_a_key() {
    let d = tempfile::tempdir().unwrap();
    let mut c = cmd();
    c.env_remove("BOMDATA_KEY")
        .arg("ingest")
        .arg(example_bids())
        .arg("--out")
        .arg(d.path().join("o"));
    let o = run(c);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("key"));
    let mut c = cmd();
    c.env_remove("BOMDATA_KEY")
        .arg("ingest")
        .arg(example_bids())
        .arg("--out")
        .arg(d.path().join("o"))
        .arg("--allow-unkeyed");
    assert!(run(c).status.success());
}

#[test]
fn no_original_subject_id_reaches_a_shard() {
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("o");
    assert!(ingest(&example_bids(), &out, &[]).status.success());
    for (name, bytes) in tree(&out) {
        let text = String::from_utf8_lossy(&bytes);
        for id in ["sub-01", "sub-02", "sub-03"] {
            assert!(
                !text.contains(id),
                "{name} contains the original subject ID {id}"
            );
        }
    }
}

#[test]
fn verify_names_the_damaged_key() {
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("o");
    assert!(ingest(&example_bids(), &out, &[]).status.success());
    let mut v = cmd();
    v.arg("verify").arg(&out);
    assert!(run(v).status.success());
    let m = bomdata_shard::dataset::read_manifest(&out).unwrap();
    let shard = &m.shards[1];
    let idx = bomdata_shard::dataset::read_index(&out, shard).unwrap();
    let member = &idx.samples[0].members[0];
    let path = bomdata_shard::dataset::shard_path(&out, shard);
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[(member.offset + member.size / 2) as usize] ^= 0x40;
    std::fs::write(&path, bytes).unwrap();
    let mut v = cmd();
    v.arg("verify").arg(&out);
    let o = run(v);
    assert_eq!(o.status.code(), Some(1));
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains(&idx.samples[0].key), "{text}");
    assert!(text.contains(&shard.name), "{text}");
}

#[test]
fn dry_run_prints_the_plan_and_writes_nothing() {
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("o");
    let mut c = cmd();
    c.arg("ingest")
        .arg(example_bids())
        .arg("--out")
        .arg(&out)
        .arg("--dry-run")
        .arg("--json");
    let o = run(c);
    assert!(o.status.success());
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["units"].as_array().unwrap().len(), 5);
    assert!(!out.exists());
}
