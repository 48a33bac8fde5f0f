//! Long-read windows: a CRAM written by pysam (htslib) from the BAM fixture `ex1.bam` and its
//! reference `ex1.fa` gives the same windows as the BAM.

#![allow(clippy::unwrap_used, reason = "test helpers outside #[test] functions")]

use std::process::Command;

use bomdata_genomic::cram::AlignmentReader;
use bomdata_ingest::sources::genome::reads::{ReadSpec, read_windows};

const WRITE_CRAM: &str = r#"
import sys
import pysam
bam, ref, out = sys.argv[1:4]
with pysam.AlignmentFile(bam, "rb") as src:
    with pysam.AlignmentFile(out, "wc", template=src, reference_filename=ref) as dst:
        for r in src:
            dst.write(r)
"#;

#[test]
fn cram_and_bam_give_the_same_read_windows() {
    let python = bomdata_testdata::require_python();
    let fx = bomdata_testdata::require_fixtures().join("bam");
    let dir = tempfile::tempdir().unwrap();
    let fa = dir.path().join("ex1.fa");
    std::fs::copy(fx.join("ex1.fa"), &fa).unwrap();
    let cram = dir.path().join("ex1.cram");
    let st = Command::new(&python)
        .arg("-c")
        .arg(WRITE_CRAM)
        .arg(fx.join("ex1.bam"))
        .arg(&fa)
        .arg(&cram)
        .status()
        .unwrap();
    assert!(st.success(), "pysam failed to write the cram");

    // long-read windows are the same from both files
    let spec = ReadSpec {
        length: Some(20),
        stride: 10,
        quality: true,
        ..ReadSpec::default()
    };
    let mut wb = Vec::new();
    read_windows(
        &mut AlignmentReader::open(&fx.join("ex1.bam"), None).unwrap(),
        &spec,
        |w| {
            wb.push(w.clone());
            Ok(())
        },
    )
    .unwrap();
    let mut wc = Vec::new();
    read_windows(
        &mut AlignmentReader::open(&cram, Some(&fa)).unwrap(),
        &spec,
        |w| {
            wc.push(w.clone());
            Ok(())
        },
    )
    .unwrap();
    assert!(!wb.is_empty());
    assert_eq!(wb, wc);
    assert!(wb.iter().all(|w| w.name.is_none() && w.seq.len() == 20));
}
