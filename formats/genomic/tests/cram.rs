//! CRAM with a reference: a CRAM written by pysam (htslib) from the BAM fixture `ex1.bam` and
//! its reference `ex1.fa` must decode to the same records as the BAM (through bomdata) and as
//! pysam reading the CRAM; `probe` reports it like the BAM. (Long-read windows of both files are
//! compared in `ingest/tests/genome_reads.rs`.)

#![allow(clippy::unwrap_used, reason = "test helpers outside #[test] functions")]

use std::path::{Path, PathBuf};
use std::process::Command;

use bomdata_format_core::ProbeOptions;
use bomdata_genomic::cram::{Alignment, AlignmentReader};
use serde_json::Value;

const SCRIPT: &str = r#"
import json, sys
import pysam
bam, ref, out, dump = sys.argv[1:5]
with pysam.AlignmentFile(bam, "rb") as src:
    with pysam.AlignmentFile(out, "wc", template=src, reference_filename=ref) as dst:
        for r in src:
            dst.write(r)
rows = []
with pysam.AlignmentFile(out, "rc", reference_filename=ref) as f:
    for r in f:
        q = r.query_qualities
        rows.append([r.query_name, r.flag, r.reference_id, r.reference_start, r.mapping_quality,
                     r.cigarstring, r.query_sequence,
                     None if q is None else list(q)])
json.dump(rows, open(dump, "w"))
"#;

fn all(path: &Path, reference: Option<&Path>) -> (String, Vec<Alignment>) {
    let mut r = AlignmentReader::open(path, reference).unwrap();
    let mut v = Vec::new();
    r.for_each(|a| {
        v.push(a.clone());
        Ok(())
    })
    .unwrap();
    (r.format().to_string(), v)
}

/// pysam writes `name` (a `.cram`) from the fixture `ex1.bam` and `ex1.fa` (copied into a temporary
/// folder) and dumps what it reads back. Returns the fixture folder, the temporary folder and the
/// paths of the FASTA, the CRAM and pysam's JSON dump.
fn write_cram(name: &str) -> (PathBuf, tempfile::TempDir, PathBuf, PathBuf, PathBuf) {
    let python = bomdata_testdata::require_python();
    let fx = bomdata_testdata::require_fixtures().join("bam");
    let dir = tempfile::tempdir().unwrap();
    let fa = dir.path().join("ex1.fa");
    std::fs::copy(fx.join("ex1.fa"), &fa).unwrap();
    let cram = dir.path().join(name);
    let dump = dir.path().join("pysam.json");
    let script = dir.path().join("w.py");
    std::fs::write(&script, SCRIPT).unwrap();
    let st = Command::new(&python)
        .arg(&script)
        .arg(fx.join("ex1.bam"))
        .arg(&fa)
        .arg(&cram)
        .arg(&dump)
        .status()
        .unwrap();
    assert!(st.success(), "pysam failed to write/read the cram");
    (fx, dir, fa, cram, dump)
}

#[test]
fn cram_matches_bam_and_pysam() {
    let (fx, _dir, fa, cram, dump) = write_cram("ex1.cram");

    let (fb, bam) = all(&fx.join("ex1.bam"), None);
    let (fc, cr) = all(&cram, Some(&fa));
    assert_eq!((fb.as_str(), fc.as_str()), ("bam", "cram"));
    assert_eq!(bam.len(), 3270);
    assert_eq!(cr.len(), bam.len());
    for (i, (b, c)) in bam.iter().zip(&cr).enumerate() {
        assert_eq!(b, c, "record {i} differs between bam and cram");
    }
    // the reference is found next to the cram (ex1.cram -> ex1.fa) when not given
    let (_, adj) = all(&cram, None);
    assert_eq!(adj, cr);

    let rows: Vec<Value> = serde_json::from_str(&std::fs::read_to_string(&dump).unwrap()).unwrap();
    assert_eq!(rows.len(), cr.len());
    for (i, (row, c)) in rows.iter().zip(&cr).enumerate() {
        let r = row.as_array().unwrap();
        assert_eq!(r[0].as_str(), c.qname.as_deref(), "record {i} name");
        assert_eq!(r[1].as_u64(), Some(u64::from(c.flag)), "record {i} flag");
        let rid = r[2].as_i64().unwrap();
        assert_eq!(
            (rid >= 0).then_some(rid as usize),
            c.ref_id,
            "record {i} reference"
        );
        let pos = r[3].as_i64().unwrap();
        assert_eq!((pos >= 0).then_some(pos as u64), c.pos0, "record {i} pos");
        assert_eq!(r[4].as_u64(), Some(u64::from(c.mapq)), "record {i} mapq");
        if !c.is_unmapped() {
            assert_eq!(r[5].as_str(), c.cigar.as_deref(), "record {i} cigar");
        }
        assert_eq!(
            r[6].as_str().map(str::as_bytes),
            Some(&c.seq[..]),
            "record {i} seq"
        );
        let q: Option<Vec<u8>> = r[7]
            .as_array()
            .map(|a| a.iter().map(|x| x.as_u64().unwrap() as u8).collect());
        assert_eq!(q, c.qual, "record {i} qual");
    }

    // probe: same report as the bam, format "cram", with --reference
    let opts = ProbeOptions {
        reference: Some(fa.clone()),
        ..ProbeOptions::default()
    };
    assert_eq!(bomdata_genomic::probe::detect(&cram), Some("cram"));
    let pc = bomdata_genomic::probe::probe(&cram, &opts).unwrap();
    let pb = bomdata_genomic::probe::probe(&fx.join("ex1.bam"), &ProbeOptions::default()).unwrap();
    assert_eq!(pc["format"], "cram");
    for k in [
        "references",
        "lengths",
        "n_records",
        "n_unmapped_flag",
        "n_secondary",
        "n_supplementary",
        "first_records",
    ] {
        assert_eq!(pc[k], pb[k], "probe field {k}");
    }
}

#[test]
fn cram_with_a_wrong_reference_is_an_error() {
    // named x.cram: no x.fa beside it, so a reader without a reference has none
    let (_, dir, fa, cram, _) = write_cram("x.cram");
    // same names and lengths, different bases
    let text = std::fs::read_to_string(&fa).unwrap();
    let wrong: String = text
        .lines()
        .map(|l| {
            if l.starts_with('>') {
                l.to_string()
            } else {
                l.chars()
                    .map(|c| match c {
                        'A' => 'C',
                        'C' => 'G',
                        'G' => 'T',
                        'T' => 'A',
                        o => o,
                    })
                    .collect()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
        + "\n";
    let bad = dir.path().join("wrong.fa");
    std::fs::write(&bad, wrong).unwrap();
    // a missing reference: no FASTA given and none next to x.cram
    let e = AlignmentReader::open(&cram, None)
        .and_then(|mut r| r.for_each(|_| Ok(())))
        .unwrap_err();
    assert!(e.to_string().starts_with("cram: "), "{e}");
    // truncated files: an error, never a panic
    let bytes = std::fs::read(&cram).unwrap();
    for cut in [
        10,
        26,
        100,
        bytes.len() / 3,
        bytes.len() / 2,
        bytes.len() - 40,
    ] {
        let t = dir.path().join(format!("cut{cut}.cram"));
        std::fs::write(&t, &bytes[..cut]).unwrap();
        let r = AlignmentReader::open(&t, Some(&fa)).and_then(|mut r| r.for_each(|_| Ok(())));
        if cut < bytes.len() - 40 {
            assert!(r.is_err(), "truncated at {cut} read without error");
        }
    }
    // a reference shorter than the header says
    let short = dir.path().join("short.fa");
    std::fs::write(&short, ">chr1\nACGT\n>chr2\nACGT\n").unwrap();
    let e = AlignmentReader::open(&cram, Some(&short))
        .and_then(|mut r| r.for_each(|_| Ok(())))
        .unwrap_err();
    assert!(e.to_string().contains("the cram header says"), "{e}");
    let mut r = AlignmentReader::open(&cram, Some(&bad)).unwrap();
    let e = r.for_each(|_| Ok(())).unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::InvalidData, "{e}");
    assert!(e.to_string().contains("checksum mismatch"), "{e}");
}
