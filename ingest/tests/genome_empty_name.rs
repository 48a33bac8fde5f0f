//! Issue 20 item 5 end to end: a FASTA record with an empty name (`>`) fails its own unit,
//! with the reason in `report.jsonl`, while the other sequences of the file are windowed; a
//! name after leading whitespace (`>  foo`) is read as samtools and pyfaidx read it.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use bomdata_ingest::Pseudonymizer;
use bomdata_ingest::registry::Registry;
use bomdata_ingest::run::{self, Quiet, RunOptions};
use bomdata_ingest::sources::genome::GenomeSource;
use bomdata_shard::writer::WriterOptions;
use bomdata_testdata::TempDir;

#[test]
fn empty_name_fails_only_its_unit() {
    let tmp = TempDir::new("genome-empty-name");
    let root = tmp.0.join("src");
    std::fs::create_dir_all(&root).unwrap();
    std::fs::write(root.join("genome.toml"), "window = 4\nstride = 4\n").unwrap();
    // records: 0 `a` (8 bases), 1 unnamed (at byte 12), 2 `  foo` = `foo` (4 bases)
    std::fs::write(
        root.join("tiny.fa"),
        ">a\nACGTACGT\n>\nGGGG\n>  foo bar\nTTTT\n",
    )
    .unwrap();
    let out = tmp.0.join("out");
    let opts = RunOptions {
        root: root.clone(),
        out: out.clone(),
        state: bomdata_ingest::run::private_dir(&out),
        entry: Registry::builtin()
            .unwrap()
            .get("t2t_chm13")
            .unwrap()
            .clone(),
        jobs: 1,
        rank: 0,
        world: 1,
        pseudonymizer: Pseudonymizer::new(b"genome-test-key".to_vec()),
        keep_identity: false,
        keep_free_text: false,
        allow_terms: Vec::new(),
        chunk_seconds: 0.0,
        allow_burned_in: false,
        float16: false,
        writer: WriterOptions::default(),
        overwrite: false,
        transform: None,
    };
    let summary = run::run(&opts, &GenomeSource, &Quiet).unwrap();
    assert_eq!(summary.planned, 3, "a, foo and the unnamed record");
    assert_eq!(summary.failed.len(), 1, "{:?}", summary.failed);
    let (id, reason) = &summary.failed[0];
    assert!(
        reason.contains("record 1 at byte 12: empty sequence name"),
        "{id}: {reason}"
    );
    let manifest = summary.manifest.unwrap();
    let samples = manifest.counts.samples;
    assert_eq!(samples, 2, "a block of the two windows of a, one of foo");
    let report = std::fs::read_to_string(out.join("report.jsonl")).unwrap();
    assert!(
        report.contains("record 1 at byte 12: empty sequence name"),
        "{report}"
    );
}
