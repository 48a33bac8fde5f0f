//! Safe runs (issue 15, items 4, 5 and resume): every zero-sample outcome is exit 1 with its
//! reasons counted, partial outcomes say what they skipped, a NIfTI whose header claims more
//! memory than the unit budget fails that unit alone (under `ulimit -v`), and a damaged finished
//! unit is redone on resume rather than trusted.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use bomdata_testdata::files::{put, zip_with};
use bomdata_testdata::genome::fasta;
use bomdata_tests::{bin, bomdata, cmd, copy_dir, example_bids, run, tree};

fn ingest(src: &Path, out: &Path, extra: &[&str]) -> Output {
    let mut c = cmd();
    c.arg("ingest").arg(src).arg("--out").arg(out).args(extra);
    run(c)
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).to_string()
}

/// Asserts exit 1 and an error line holding every one of `want`.
fn assert_empty(o: &Output, what: &str, want: &[&str]) {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(1), "{what}: {err}");
    let line = err
        .lines()
        .find(|l| l.starts_with("bomdata: error:"))
        .unwrap_or_else(|| panic!("{what}: no error line in {err}"));
    for w in want {
        assert!(line.contains(w), "{what}: {w:?} not in {line:?}");
    }
}

/// A genome tree whose sequences are `lengths` bases long, with 256 bp windows.
fn dna_tree(root: &Path, lengths: &[usize]) {
    let seqs: Vec<(String, Vec<u8>)> = lengths
        .iter()
        .enumerate()
        .map(|(i, &n)| {
            (
                format!("chr{}", i + 1),
                b"ACGT".repeat(n / 4 + 1)[..n].to_vec(),
            )
        })
        .collect();
    let records: Vec<(&str, &[u8])> = seqs
        .iter()
        .map(|(n, s)| (n.as_str(), s.as_slice()))
        .collect();
    put(root, "T2T-CHM13v2.0.fa", fasta(&records));
    put(
        root,
        "genome.toml",
        "assembly = \"T2T-CHM13v2.0\"\nwindow = 256\nstride = 256\n",
    );
}

#[test]
fn each_empty_case_exits_1_with_its_reasons_counted() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    // Sequences all shorter than the window.
    dna_tree(&p.join("dna"), &[100, 200, 50]);
    let o = ingest(&p.join("dna"), &p.join("o-dna"), &[]);
    assert_empty(
        &o,
        "short DNA",
        &["0 samples", "3 × sequence shorter than the 256 bp window"],
    );
    // A UKB zip whose members the adapter does not know.
    zip_with(
        &p.join("ukb/20252/1234567_20252_2_0.zip"),
        &[("T1/unknown.nii.gz", b"x"), ("other/notes.txt", b"y")],
    );
    let o = ingest(&p.join("ukb"), &p.join("o-ukb"), &["--source", "ukb"]);
    assert_empty(
        &o,
        "UKB",
        &["0 samples", "× no T1/T1.nii.gz in the archive"],
    );
    // An Olink tree with nothing the adapter takes.
    put(&p.join("olink"), "cohort_NPX.parquet", b"not parquet");
    let o = ingest(&p.join("olink"), &p.join("o-olink"), &["--source", "olink"]);
    assert_empty(&o, "Olink", &["0 units", "olink adapter"]);
    // cbramod on recordings all shorter than its 300 s minimum.
    bomdata_testdata::eeg::tueg_recordings(&p.join("eeg"));
    let o = ingest(&p.join("eeg"), &p.join("o-eeg"), &["--source", "tueg"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = bomdata(
        &["shard", "--profile", "cbramod", "--out"],
        &[&p.join("s-cb"), &p.join("o-eeg")],
    );
    assert_empty(
        &o,
        "cbramod",
        &["0 samples: 2 × shorter than cbramod's 300 s minimum"],
    );
    let i = bomdata(&["inspect"], &[&p.join("s-cb")]);
    let text = String::from_utf8_lossy(&i.stdout);
    assert!(
        text.contains("skipped     2 × shorter than cbramod's 300 s minimum"),
        "{text}"
    );
    let i = bomdata(&["inspect", "--json"], &[&p.join("s-cb")]);
    let v: serde_json::Value = serde_json::from_slice(&i.stdout).unwrap();
    assert_eq!(v["skipped_by_reason"][0]["count"], 2, "{v}");
    // A source marked planned: refused (could not run) unless --allow-planned.
    let o = ingest(&p.join("dna"), &p.join("o-planned"), &["--source", "a4"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("--allow-planned"), "{}", stderr(&o));
    let o = ingest(
        &p.join("dna"),
        &p.join("o-planned"),
        &["--source", "a4", "--allow-planned"],
    );
    assert_empty(&o, "planned", &["0 units"]);
}

#[test]
fn a_partial_outcome_exits_0_and_says_what_it_skipped() {
    let d = tempfile::tempdir().unwrap();
    dna_tree(&d.path().join("dna"), &[1000, 100]);
    let o = ingest(&d.path().join("dna"), &d.path().join("o"), &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("1 inputs skipped: 1 × sequence shorter than the 256 bp window"),
        "{}",
        stderr(&o)
    );
}

/// Writes a real gzip stream of `nx*ny*nz` zero bytes behind a NIfTI-1 header declaring that
/// uint8 shape: a small file that decodes to what its header says.
fn gzip_bomb(path: &Path, dims: [u64; 3]) {
    let mut h = vec![0u8; 352];
    h[0..4].copy_from_slice(&348i32.to_le_bytes());
    let dim: [i16; 8] = [
        3,
        dims[0] as i16,
        dims[1] as i16,
        dims[2] as i16,
        1,
        1,
        1,
        1,
    ];
    for (i, v) in dim.iter().enumerate() {
        h[40 + 2 * i..42 + 2 * i].copy_from_slice(&v.to_le_bytes());
    }
    h[70..72].copy_from_slice(&2i16.to_le_bytes()); // datatype uint8
    h[72..74].copy_from_slice(&8i16.to_le_bytes()); // bitpix
    for i in 0..4 {
        h[76 + 4 * i..80 + 4 * i].copy_from_slice(&1f32.to_le_bytes()); // pixdim
    }
    h[108..112].copy_from_slice(&352f32.to_le_bytes()); // vox_offset
    h[344..348].copy_from_slice(b"n+1\0");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    // Raw deflate segments, each ending on a full flush (byte-aligned, no reference to what came
    // before), so one compressed 4 MiB block of zeros can be repeated; the CRC is combined.
    let deflate = |data: &[u8], flush: flate2::FlushCompress| {
        let mut c = flate2::Compress::new(flate2::Compression::best(), false);
        let mut out = Vec::with_capacity(data.len() + 1024);
        c.compress_vec(data, &mut out, flush).unwrap();
        out
    };
    let chunk = vec![0u8; 1 << 22];
    let block = deflate(&chunk, flate2::FlushCompress::Full);
    let mut crc = flate2::Crc::new();
    crc.update(&h);
    let mut chunk_crc = flate2::Crc::new();
    chunk_crc.update(&chunk);
    let total = dims.iter().product::<u64>();
    assert_eq!(total % chunk.len() as u64, 0);
    let mut f = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    f.write_all(&[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255])
        .unwrap();
    f.write_all(&deflate(&h, flate2::FlushCompress::Full))
        .unwrap();
    for _ in 0..total / chunk.len() as u64 {
        f.write_all(&block).unwrap();
        crc.combine(&chunk_crc);
    }
    f.write_all(&deflate(&[], flate2::FlushCompress::Finish))
        .unwrap();
    f.write_all(&crc.sum().to_le_bytes()).unwrap();
    let isize = (total + h.len() as u64) as u32;
    f.write_all(&isize.to_le_bytes()).unwrap();
    f.flush().unwrap();
}

/// `bomdata ARGS` under `ulimit -v 2000000` (2 GB of address space).
fn limited(args: &[&std::ffi::OsStr]) -> Output {
    let mut c = Command::new("bash");
    c.arg("-c")
        .arg("ulimit -v 2000000; exec \"$0\" \"$@\"")
        .arg(bin())
        .args(args)
        .env("BOMDATA_KEY", "test-key-0123456789abcdef");
    run(c)
}

#[test]
fn a_gzip_bomb_nifti_fails_its_unit_alone_under_a_memory_limit() {
    let d = tempfile::tempdir().unwrap();
    let src = d.path().join("src");
    copy_dir(&example_bids(), &src);
    let bomb = src.join("sub-09/anat/sub-09_T1w.nii.gz");
    gzip_bomb(&bomb, [1024, 1024, 768]);
    if let Some(keep) = std::env::var_os("BOMDATA_KEEP_BOMB") {
        std::fs::copy(&bomb, keep).unwrap();
    }
    let size = std::fs::metadata(&bomb).unwrap().len();
    assert!(size < 1 << 20, "the bomb is {size} bytes");
    let out = d.path().join("out");
    let o = limited(&[
        "ingest".as_ref(),
        src.as_os_str(),
        "--out".as_ref(),
        out.as_os_str(),
        "--jobs".as_ref(),
        "2".as_ref(),
    ]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("dataset complete: 5 samples"), "{err}");
    // The private report names the source file (the dataset's own report uses pseudonyms).
    let report = std::fs::read_to_string(d.path().join("out.private/report.jsonl")).unwrap();
    let failed: Vec<&str> = report
        .lines()
        .filter(|l| l.contains("\"failed\""))
        .collect();
    assert_eq!(failed.len(), 1, "{report}");
    assert!(
        failed[0].contains("sub-09_T1w.nii.gz") && failed[0].contains("memory budget"),
        "{report}"
    );
    // probe: a clean refusal naming the file (a refused file: exit 1).
    let o = limited(&["probe".as_ref(), bomb.as_os_str()]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("sub-09_T1w.nii.gz") && err.contains("memory budget"),
        "{err}"
    );
    // A budget raised on the command line is honoured (here: lowered, for a good file).
    let good = src.join("sub-01/anat/sub-01_T1w.nii");
    let o = bomdata(&["probe", "--unit-memory", "1KiB"], &[&good]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("1.0 KiB"), "{}", stderr(&o));
}

fn flip_middle_byte(p: &Path) {
    let mut b = std::fs::read(p).unwrap();
    let i = b.len() / 2;
    b[i] ^= 0x55;
    std::fs::write(p, b).unwrap();
}

fn files_with(dir: &Path, suffix: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.to_string_lossy().ends_with(suffix))
        .collect();
    v.sort();
    v
}

#[test]
fn a_damaged_finished_unit_is_redone_on_resume() {
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("out");
    assert!(ingest(&example_bids(), &out, &[]).status.success());
    let want = tree(&out);
    let shards = out.join("shards");
    // Same size, other bytes: a size check alone would trust it.
    flip_middle_byte(&files_with(&shards, ".tar")[0]);
    flip_middle_byte(&files_with(&shards, ".idx.json")[2]);
    let o = ingest(&example_bids(), &out, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("(2 converted, 3 already done, 0 failed)"),
        "{}",
        stderr(&o)
    );
    assert_eq!(tree(&out), want, "the redone units differ");
    let v = bomdata(&["verify"], &[&out]);
    assert!(v.status.success(), "{}", String::from_utf8_lossy(&v.stdout));
}
