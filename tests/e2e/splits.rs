//! A sample's declared split wins over the subject split: DNA windows of held-out chromosomes
//! (`splits = { ... }`) or of Basenji-style `intervals` must never reach `train`, through
//! `bomdata shard` and `bomdata shard --tokens` alike (issue 20, item 1).

use std::collections::BTreeMap;
use std::path::Path;

use bomdata_shard::dataset;
use bomdata_shard::reader::ShardReader;
use bomdata_tests::{cmd, run};

/// Ingests `src` (a genome tree) into `canon`; returns every block's and window's key →
/// declared split.
fn ingest(src: &Path, canon: &Path) -> BTreeMap<String, String> {
    let mut c = cmd();
    c.arg("ingest")
        .arg(src)
        .arg("--out")
        .arg(canon)
        .args(["--source", "t2t_chm13"]);
    let o = run(c);
    assert!(
        o.status.success(),
        "ingest failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let m = dataset::read_manifest(canon).unwrap();
    let mut declared = BTreeMap::new();
    for e in &m.shards {
        for s in ShardReader::open(canon, e).unwrap() {
            let s = s.unwrap();
            let meta: serde_json::Value =
                serde_json::from_slice(&s.member("meta.json").unwrap().data).unwrap();
            let split = meta["split"].as_str().unwrap().to_string();
            // a block of windows (genome/2): each window's key is a document key of tokens
            let first = meta["first_index"].as_u64().unwrap();
            for i in 0..meta["lengths"].as_array().unwrap().len() {
                let k = bomdata_schemas::genome::WindowBlock::window_key(&s.key, first, i as u64);
                declared.insert(k, split.clone());
            }
            declared.insert(s.key.clone(), split);
        }
    }
    declared
}

fn shard(canon: &Path, out: &Path, args: &[&str]) {
    let mut c = cmd();
    c.arg("shard").arg(canon).arg("--out").arg(out).args(args);
    let o = run(c);
    assert!(
        o.status.success(),
        "shard {args:?} failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// Every (output split, source window key) pair of an output dataset: the sample key for a
/// canonical shard, the keys of the documents in `meta.json` for token sequences.
fn placed(out: &Path) -> Vec<(String, String)> {
    let m = dataset::read_manifest(out).unwrap();
    let mut v = Vec::new();
    for e in &m.shards {
        let split = e.split.clone().unwrap();
        for s in ShardReader::open(out, e).unwrap() {
            let s = s.unwrap();
            let meta: serde_json::Value =
                serde_json::from_slice(&s.member("meta.json").unwrap().data).unwrap();
            match meta["keys"].as_array() {
                Some(keys) => {
                    for k in keys {
                        v.push((split.clone(), k.as_str().unwrap().to_string()));
                    }
                }
                None => v.push((split.clone(), s.key.clone())),
            }
        }
    }
    v
}

/// Shards `canon` every way and checks that each window lands in its declared split, and that
/// every declared split is present in the output.
fn check_all_modes(canon: &Path, declared: &BTreeMap<String, String>, tmp: &Path) {
    let runs: &[(&str, &[&str])] = &[
        ("canonical", &["--seed", "4"]),
        (
            "canonical-seed9",
            &["--seed", "9", "--split", "0.2,0.4,0.4"],
        ),
        (
            "hyena",
            &["--tokens", "hyena-char", "--seq-len", "128", "--seed", "4"],
        ),
        (
            "evo-pad",
            &["--tokens", "evo-byte", "--seq-len", "64", "--pad"],
        ),
    ];
    for (name, args) in runs {
        let out = tmp.join(name);
        shard(canon, &out, args);
        let placed = placed(&out);
        assert!(!placed.is_empty(), "{name}: nothing written");
        let mut seen = std::collections::BTreeSet::new();
        for (split, key) in &placed {
            let want = declared
                .get(key)
                .unwrap_or_else(|| panic!("{name}: unknown key {key}"));
            assert_eq!(
                split, want,
                "{name}: window {key} ({want}) written to {split}"
            );
            seen.insert(split.clone());
        }
        let wanted: std::collections::BTreeSet<String> = declared.values().cloned().collect();
        assert_eq!(seen, wanted, "{name}: splits present");
    }
}

/// Split by chromosome (`splits = { chr2 = "valid", chr3 = "test" }`).
#[test]
fn chromosome_splits_survive_shard_and_tokens() {
    let d = tempfile::tempdir().unwrap();
    let src = d.path().join("src");
    std::fs::create_dir_all(&src).unwrap();
    bomdata_testdata::genome::assembly_tree(&src);
    let canon = d.path().join("canon");
    let declared = ingest(&src, &canon);
    assert!(declared.values().any(|s| s == "valid"));
    assert!(declared.values().any(|s| s == "test"));
    check_all_modes(&canon, &declared, d.path());
}

/// Split by Basenji-style intervals (a `chrom start end split` BED).
#[test]
fn interval_splits_survive_shard_and_tokens() {
    let d = tempfile::tempdir().unwrap();
    let src = d.path().join("src");
    std::fs::create_dir_all(&src).unwrap();
    bomdata_testdata::genome::assembly_tree(&src);
    std::fs::write(
        src.join("seqs.bed"),
        "chr1\t0\t1500\ttrain\nchr1\t1500\t3000\tvalid\nchr2\t0\t1700\ttest\nchr3\t0\t1300\ttrain\n",
    )
    .unwrap();
    std::fs::write(
        src.join("genome.toml"),
        "assembly = \"T2T-CHM13v2.0\"\nwindow = 256\nstride = 200\nintervals = \"seqs.bed\"\n",
    )
    .unwrap();
    let canon = d.path().join("canon");
    let declared = ingest(&src, &canon);
    assert!(declared.values().any(|s| s == "valid"));
    assert!(declared.values().any(|s| s == "test"));
    check_all_modes(&canon, &declared, d.path());
}
