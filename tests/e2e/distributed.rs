//! A `shard` build shared by ranks (`--rank/--world-size`), then `bomdata merge`: every output
//! file byte-identical to one process, whatever the world size; a failed rank is rerun alone.

use std::path::{Path, PathBuf};

use bomdata_tests::{cmd, example_bids, run, tree};

fn ingest(src: &Path, canon: &Path) {
    let mut c = cmd();
    c.arg("ingest").arg(src).arg("--out").arg(canon);
    assert!(run(c).status.success());
}

fn shard(canon: &Path, out: &Path, args: &[&str], rank: Option<(usize, usize)>) -> bool {
    let mut c = cmd();
    c.arg("shard").arg(canon).arg("--out").arg(out).args(args);
    if let Some((r, w)) = rank {
        c.args(["--rank", &r.to_string(), "--world-size", &w.to_string()]);
    }
    run(c).status.success()
}

fn merge(out: &Path) -> std::process::Output {
    let mut c = cmd();
    c.arg("merge").arg(out);
    run(c)
}

/// One process, then world sizes 1 to 4 (ranks run in reverse order): the same files.
fn check_world_sizes(canon: &Path, tmp: &Path, args: &[&str]) -> PathBuf {
    let one = tmp.join("one");
    assert!(shard(canon, &one, args, None));
    let want = tree(&one);
    assert!(want.contains_key("manifest.json"));
    for world in 1..=4 {
        let out = tmp.join(format!("w{world}"));
        for rank in (0..world).rev() {
            assert!(shard(canon, &out, args, Some((rank, world))));
        }
        if world > 1 {
            assert!(
                !out.join("manifest.json").exists(),
                "ranks write no manifest"
            );
            assert!(merge(&out).status.success());
        }
        assert_eq!(tree(&out), want, "world size {world}: {args:?}");
        assert!(!out.join(".ingest/shard").exists(), "the parts are removed");
    }
    one
}

#[test]
fn distributed_shard_is_byte_identical_for_world_sizes_1_to_4() {
    let d = tempfile::tempdir().unwrap();
    let canon = d.path().join("canon");
    ingest(&example_bids(), &canon);
    for (i, args) in [
        &["--max-shard-samples", "2", "--seed", "3"][..],
        &[
            "--max-shard-bytes",
            "300000",
            "--compress",
            "member",
            "--split",
            "0.4,0.3,0.3",
        ][..],
        &["--compress", "shard", "--jobs", "2"][..],
    ]
    .iter()
    .enumerate()
    {
        let tmp = d.path().join(format!("case{i}"));
        check_world_sizes(&canon, &tmp, args);
    }
}

#[test]
fn distributed_eeg_windows_with_rejections_and_a_failed_rank_rerun() {
    let d = tempfile::tempdir().unwrap();
    let src = d.path().join("src");
    bomdata_testdata::eeg::tueg_long_tree(&src, 6, 40);
    let canon = d.path().join("canon");
    ingest(&src, &canon);
    let args = [
        "--profile",
        "generic",
        "--param",
        "window_s=10",
        "--max-shard-samples",
        "5",
        "--split",
        "0.5,0.25,0.25",
    ];
    let one = check_world_sizes(&canon, &d.path().join("sizes"), &args);
    let m = bomdata_shard::dataset::read_manifest(&one).unwrap();
    assert!(m.counts.shards > 2, "{:?}", m.counts);
    // Every window rejected: the report (in plan order) and an empty manifest, identical too.
    let mut all_rejected = args.to_vec();
    all_rejected.extend(["--param", "reject_abs_uv=45"]);
    let none = check_world_sizes(&canon, &d.path().join("rejected"), &all_rejected);
    let report = std::fs::read_to_string(none.join("report.jsonl")).unwrap();
    assert!(report.lines().count() > 6, "{report}");

    // Rank 1 of 3 dies after its first batch: the merge is refused naming it; rerun alone.
    let out = d.path().join("failed");
    assert!(shard(&canon, &out, &args, Some((0, 3))));
    let mut c = cmd();
    c.arg("shard").arg(&canon).arg("--out").arg(&out).args(args);
    c.args(["--rank", "1", "--world-size", "3"])
        .env("BOMDATA_FAIL_RANK", "1");
    let o = c.output().unwrap();
    assert_eq!(o.status.code(), Some(86), "injected failure exits 86");
    assert!(shard(&canon, &out, &args, Some((2, 3))));
    let o = merge(&out);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("ranks [1] of 3"), "{err}");
    assert!(!out.join("manifest.json").exists());
    // A rank started with other options is refused.
    assert!(!shard(&canon, &out, &["--seed", "9"], Some((1, 3))));
    assert!(shard(&canon, &out, &args, Some((1, 3))));
    assert!(merge(&out).status.success());
    assert_eq!(tree(&out), tree(&one));
    // A merged run is not run into again.
    assert!(!shard(&canon, &out, &args, Some((1, 3))));
}

#[test]
fn ranks_default_from_slurm_and_the_template_fixes_the_world_size() {
    let d = tempfile::tempdir().unwrap();
    let canon = d.path().join("canon");
    ingest(&example_bids(), &canon);
    let one = d.path().join("one");
    assert!(shard(&canon, &one, &[], None));
    // Array tasks 0..2 of 3, rank and world size from Slurm's variables.
    let out = d.path().join("array");
    for task in 0..3 {
        let mut c = cmd();
        c.arg("shard").arg(&canon).arg("--out").arg(&out);
        c.env("SLURM_ARRAY_TASK_ID", task.to_string())
            .env("SLURM_ARRAY_TASK_COUNT", "3");
        assert!(run(c).status.success());
    }
    assert!(merge(&out).status.success());
    assert_eq!(tree(&out), tree(&one));
    // A resubmitted single task sees a task count of 1: refused, with the hint.
    let mut c = cmd();
    c.arg("shard")
        .arg(&canon)
        .arg("--out")
        .arg(d.path().join("x"));
    c.env("SLURM_ARRAY_TASK_ID", "2")
        .env("SLURM_ARRAY_TASK_COUNT", "1");
    let o = c.output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--world-size"));

    let mut c = cmd();
    c.args(["slurm-template", "shard"])
        .arg(&canon)
        .arg("--out")
        .arg(&out);
    c.args([
        "--tasks",
        "3",
        "--",
        "--profile",
        "volume",
        "--param",
        "target=[8,8,8]",
    ]);
    let o = run(c);
    assert!(o.status.success());
    let text = String::from_utf8(o.stdout).unwrap();
    for want in [
        "#SBATCH --array=0-2",
        "--world-size 3",
        "'target=[8,8,8]'",
        "--dependency=afterok:$jid",
        "--array=K",
    ] {
        assert!(text.contains(want), "{want} missing from:\n{text}");
    }
    let mut c = cmd();
    c.args(["slurm-template", "shard"])
        .arg(&canon)
        .arg("--out")
        .arg(&out);
    c.args(["--", "--rank", "1"]);
    assert_eq!(c.output().unwrap().status.code(), Some(2));
}
