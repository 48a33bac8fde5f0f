//! Malformed inputs: each is read correctly or refused with a clear `InvalidData` error,
//! never a panic.

#![allow(clippy::unwrap_used, reason = "test helpers outside #[test] functions")]

use std::io;

use bomdata_format_core::ProbeOptions;
use bomdata_genomic::fasta::{FaiStatus, IndexedFasta, indexed::IndexCheck};
use bomdata_genomic::probe::probe;
use bomdata_genomic::{bgzf, twobit};

fn write(dir: &tempfile::TempDir, name: &str, bytes: &[u8]) -> std::path::PathBuf {
    let p = dir.path().join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

#[test]
fn fasta_empty_name_is_refused_by_the_index_and_read_sequentially() {
    let dir = tempfile::tempdir().unwrap();
    let data = b">\nACGT\n>b\nAC\n";
    let p = write(&dir, "empty_name.fa", data);
    let e = IndexedFasta::open(&p).err().unwrap();
    assert_eq!(e.kind(), io::ErrorKind::InvalidData);
    assert!(
        e.to_string()
            .contains("record 0 at byte 0: empty sequence name"),
        "{e}"
    );
    assert!(probe(&p, &ProbeOptions::default()).is_err());
    // the sequential reader reads it, name ""
    let recs: Vec<_> = bomdata_genomic::fasta::Reader::new(&data[..])
        .records()
        .collect::<io::Result<_>>()
        .unwrap();
    assert_eq!(recs[0].name, "");
    assert_eq!(recs[0].sequence, b"ACGT");
}

#[test]
fn fasta_crlf_lines_are_read_correctly() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(
        &dir,
        "crlf.fa",
        b">a x\r\nACGTA\r\nCGTAC\r\nGT\r\n>b\r\nNNnn\r\n",
    );
    let mut fa = IndexedFasta::open(&p).unwrap();
    let r = &fa.sequences()[0];
    assert_eq!((r.length, r.line_bases, r.line_width), (12, 5, 7));
    let mut v = Vec::new();
    fa.fetch("a", 3, 12, &mut v).unwrap();
    assert_eq!(v, b"TACGTACGT");
    fa.fetch_all("b", &mut v).unwrap();
    assert_eq!(v, b"NNnn");
    let j = probe(
        &p,
        &ProbeOptions {
            region: Some("a:4-8".into()),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(j["region"]["seq"], "ACGT");
    assert_eq!(j["sequences"][1]["count_N"], 4);
}

#[test]
fn truncated_bgzf_block_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let mut fa = Vec::new();
    fa.extend_from_slice(b">c\n");
    for i in 0..5000 {
        fa.extend_from_slice(&b"ACGTACGTAC"[..(i % 7) + 3]);
        fa.extend_from_slice(
            b"ACGTACGTACGTACGTACGTACGTACGTACGTACGTACGTACGTACGTACGTACGTACGTACG"[..60 - (i % 7) - 3]
                .as_ref(),
        );
        fa.push(b'\n');
    }
    let z = bgzf::compress(&fa, 6);
    let p = write(&dir, "cut.fa.gz", &z[..z.len() - 100]);
    let e = IndexedFasta::open(&p).err().unwrap();
    assert_eq!(e.kind(), io::ErrorKind::InvalidData);
    assert!(
        e.to_string().contains("bgzf") && e.to_string().contains("truncated"),
        "{e}"
    );
    // whole file reads and agrees with the plain text
    let p = write(&dir, "ok.fa.gz", &z);
    let mut f = IndexedFasta::open(&p).unwrap();
    let mut v = Vec::new();
    f.fetch("c", 100_000, 100_050, &mut v).unwrap();
    let plain: Vec<u8> = fa[3..].iter().copied().filter(|&b| b != b'\n').collect();
    assert_eq!(v, &plain[100_000..100_050]);
}

#[test]
fn plain_gzip_fasta_reads() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(b">a\nACGTacgt\nNN\n").unwrap();
    let p = write(&dir, "x.fa.gz", &gz.finish().unwrap());
    let j = probe(
        &p,
        &ProbeOptions {
            region: Some("a:6-10".into()),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(j["gzip"], true);
    assert_eq!(j["bgzf"], false);
    assert_eq!(j["region"]["seq"], "gtNN");
}

#[test]
fn fai_that_disagrees_is_ignored() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(&dir, "x.fa", b">a\nACGTAC\nGT\n>b\nTTTT\n");
    // The data has a: 8 bases at offset 3, 6 per line. This index claims 10 bases at offset 2:
    // the data is right (an index is derived from the data), so the index must be ignored.
    write(&dir, "x.fa.fai", b"a\t10\t2\t6\t7\nb\t4\t16\t4\t5\n");
    for check in [IndexCheck::Full, IndexCheck::Quick] {
        let mut fa = IndexedFasta::open_with(&p, check).unwrap();
        assert!(
            matches!(fa.fai_status(), FaiStatus::ShippedIgnored(_)),
            "{check:?}: {:?}",
            fa.fai_status()
        );
        let mut v = Vec::new();
        fa.fetch_all("a", &mut v).unwrap();
        assert_eq!(v, b"ACGTACGT");
    }
    let j = probe(&p, &ProbeOptions::default()).unwrap();
    assert_eq!(j["fai"]["agrees"], false);
    assert_eq!(j["sequences"][0]["length"], 8);
    // a correct shipped index is used, under both checks
    write(&dir, "x.fa.fai", b"a\t8\t3\t6\t7\nb\t4\t16\t4\t5\n");
    for check in [IndexCheck::Full, IndexCheck::Quick] {
        let fa = IndexedFasta::open_with(&p, check).unwrap();
        assert_eq!(fa.fai_status(), &FaiStatus::ShippedAgrees, "{check:?}");
    }
    // a garbage index is ignored too
    write(&dir, "x.fa.fai", b"not an index\n");
    let fa = IndexedFasta::open(&p).unwrap();
    assert!(matches!(fa.fai_status(), FaiStatus::ShippedIgnored(_)));
}

#[test]
fn twobit_bad_signature_and_truncation() {
    let dir = tempfile::tempdir().unwrap();
    let good = twobit::write(&[("s", b"ACGTNNacgt")], false, 0).unwrap();
    let mut bad = good.clone();
    bad[0] ^= 0xff;
    let p = write(&dir, "bad.2bit", &bad);
    let e = probe(&p, &ProbeOptions::default()).err().unwrap();
    assert_eq!(e.kind(), io::ErrorKind::InvalidData);
    assert!(e.to_string().contains("bad signature"), "{e}");
    let p = write(&dir, "short.2bit", &good[..good.len() - 2]);
    let e = twobit::TwoBit::open(&p).err().unwrap();
    assert!(e.to_string().contains("need"), "{e}");
    // big-endian v1 reads through probe
    let be = twobit::write(&[("s", b"ACGTNNacgt")], true, 1).unwrap();
    let p = write(&dir, "be.2bit", &be);
    let j = probe(
        &p,
        &ProbeOptions {
            region: Some("s:2-10".into()),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(j["byte_order"], "big");
    assert_eq!(j["version"], 1);
    assert_eq!(j["region"]["seq"], "GTNNacgt");
}

#[test]
fn garbage_in_every_reader_is_an_error_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let junk: Vec<u8> = (0..4096u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    for name in [
        "j.fa", "j.2bit", "j.bam", "j.bw", "j.bb", "j.bed", "j.gtf", "j.gff3", "j.fa.gz",
    ] {
        let p = write(&dir, name, &junk);
        let r = probe(&p, &ProbeOptions::default());
        assert!(r.is_err(), "{name}: {r:?}");
    }
    // truncated copies of a valid bigWig
    let bw = bomdata_testdata::require_fixtures().join("bigwig/volvox.bw");
    let bytes = std::fs::read(bw).unwrap();
    let mut huge = bytes.clone();
    huge[52..56].copy_from_slice(&u32::MAX.to_le_bytes());
    let p = write(&dir, "huge.bw", &huge);
    let e = probe(&p, &ProbeOptions::default()).err().unwrap();
    assert!(e.to_string().contains("uncompressBufSize"), "{e}");
    for cut in [10, 64, 500, bytes.len() / 2, bytes.len() - 10] {
        let p = write(&dir, "cut.bw", &bytes[..cut]);
        let _ = probe(&p, &ProbeOptions::default()); // either way, no panic
    }
}

/// Issue 20 item 5: `>  foo` names the sequence `foo`, as samtools faidx (htslib) and pyfaidx
/// read it (checked with pysam 0.24 and pyfaidx 0.9: both list `foo`, `b`).
#[test]
fn fasta_name_after_leading_whitespace_like_samtools() {
    let dir = tempfile::tempdir().unwrap();
    let data = b">  foo bar\nACGT\n>\tb\nAC\n";
    let p = write(&dir, "lead_space.fa", data);
    let mut fa = IndexedFasta::open(&p).unwrap();
    let names: Vec<&str> = fa.sequences().iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["foo", "b"]);
    let mut v = Vec::new();
    fa.fetch_all("foo", &mut v).unwrap();
    assert_eq!(v, b"ACGT");
    assert_eq!(
        fa.index().to_fai(),
        "foo\t4\t11\t4\t5\nb\t2\t20\t2\t3\n",
        "the .fai samtools (pysam 0.24) writes for this file"
    );
    // a shipped .fai with these rows agrees under the quick check too
    std::fs::write(dir.path().join("lead_space.fa.fai"), fa.index().to_fai()).unwrap();
    let fa = IndexedFasta::open_with(&p, IndexCheck::Quick).unwrap();
    assert_eq!(fa.fai_status(), &FaiStatus::ShippedAgrees);
    let recs: Vec<_> = bomdata_genomic::fasta::Reader::new(&data[..])
        .records()
        .collect::<io::Result<_>>()
        .unwrap();
    assert_eq!(
        (recs[0].name.as_str(), recs[0].description.as_str()),
        ("foo", "bar")
    );
    assert_eq!(recs[1].name, "b");
}

/// Issue 20 item 5: a record with a truly empty name is set aside with its reason; the other
/// sequences stay readable.
#[test]
fn fasta_empty_name_is_set_aside_by_the_lenient_open() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(&dir, "empty_mid.fa", b">a\nACGT\n>\nGG\n>b\nAC\n");
    let mut fa = IndexedFasta::open_setting_aside_unnamed(&p, IndexCheck::Quick).unwrap();
    let names: Vec<&str> = fa.sequences().iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["a", "b"]);
    let set_aside: Vec<String> = fa.unnamed().iter().map(ToString::to_string).collect();
    assert_eq!(set_aside, ["record 1 at byte 8: empty sequence name"]);
    let mut v = Vec::new();
    fa.fetch_all("b", &mut v).unwrap();
    assert_eq!(v, b"AC");
    // the strict open still refuses the file
    let e = IndexedFasta::open(&p).err().unwrap();
    assert!(
        e.to_string()
            .contains("record 1 at byte 8: empty sequence name"),
        "{e}"
    );
}
