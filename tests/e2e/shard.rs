//! `bomdata shard` end to end: subject splits, reproducible training shards.

use bomdata_tests::{cmd, example_bids, run, tree};

#[test]
fn training_shards_are_reproducible_and_split_by_subject() {
    let d = tempfile::tempdir().unwrap();
    let canon = d.path().join("canon");
    let mut c = cmd();
    c.arg("ingest").arg(example_bids()).arg("--out").arg(&canon);
    assert!(run(c).status.success());
    let mut outs = Vec::new();
    for (name, jobs) in [("t1", "1"), ("t2", "2")] {
        let out = d.path().join(name);
        let mut c = cmd();
        c.arg("shard").arg(&canon).arg("--out").arg(&out).args([
            "--seed",
            "7",
            "--split",
            "0.34,0.33,0.33",
            "--max-shard-samples",
            "2",
            "--jobs",
            jobs,
        ]);
        assert!(run(c).status.success());
        outs.push(out);
    }
    assert_eq!(tree(&outs[0]), tree(&outs[1]));
    let m = bomdata_shard::dataset::read_manifest(&outs[0]).unwrap();
    assert_eq!(m.counts.samples, 5);
    assert!(m.profile.is_some());
    // Every subject's samples sit in one split only.
    let mut split_of = std::collections::BTreeMap::new();
    for s in &m.shards {
        let idx = bomdata_shard::dataset::read_index(&outs[0], s).unwrap();
        for smp in idx.samples {
            let subj = smp.subject.clone().unwrap();
            let prev = split_of.insert(subj, s.split.clone());
            assert!(prev.is_none() || prev == Some(s.split.clone()));
        }
    }
    let rows = bomdata_shard::subjects::read(&outs[0]).unwrap();
    assert!(rows.iter().all(|r| !r.split.is_empty()));
}
