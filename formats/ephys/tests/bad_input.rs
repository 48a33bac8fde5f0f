//! Malformed input: truncated files, corrupted bytes, absurd counts. Every case must be refused
//! with an `io::Error` (never a panic, never a huge allocation); header errors are
//! `InvalidData` with a one-line message.

#![allow(clippy::unwrap_used, clippy::panic)]

use std::io;
use std::path::{Path, PathBuf};

use bomdata_ephys::probe;
use bomdata_format_core::ProbeOptions;

fn temp_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("bomdata-ephys-bad-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn fixture(rel: &str) -> PathBuf {
    bomdata_testdata::require_fixtures().join(rel)
}

/// Opens and streams a file to the end; returns the first error.
fn read_through(path: &Path) -> io::Result<()> {
    let (rec, mut r) = bomdata_ephys::open(path)?;
    let mut buf = Vec::new();
    let mut total = 0u64;
    loop {
        let n = r.read_chunk(4096, &mut buf)?;
        if n == 0 {
            break;
        }
        total += n as u64;
        assert!(total <= 1 << 32, "runaway read");
    }
    let _ = rec;
    Ok(())
}

fn assert_invalid(e: &io::Error, needle: &str) {
    assert_eq!(e.kind(), io::ErrorKind::InvalidData, "{e}");
    let m = e.to_string();
    assert!(!m.contains('\n'), "one line: {m}");
    assert!(m.contains(needle), "{m:?} should mention {needle:?}");
}

const VHDR_HEAD: &str = "Brain Vision Data Exchange Header File Version 1.0\n[Common Infos]\nDataFile=d.eeg\n\
                         DataFormat=BINARY\nDataOrientation=VECTORIZED\n";

#[test]
fn brainvision_bad_headers() {
    let dir = temp_dir("bv");
    std::fs::write(dir.join("d.eeg"), [0u8; 10]).unwrap();
    let cases: &[(&str, &str)] = &[
        ("not a header\n", "not a brainvision"),
        (
            "Brain Vision Data Exchange Header File Version 1.0\n[Common Infos]\nDataFile=d.eeg\n",
            "NumberOfChannels missing",
        ),
        (
            "NumberOfChannels=4000000000\nSamplingInterval=1000\n",
            "NumberOfChannels",
        ),
        (
            "NumberOfChannels=x\nSamplingInterval=1000\n",
            "NumberOfChannels: not an integer",
        ),
        (
            "NumberOfChannels=1\nSamplingInterval=0\n",
            "SamplingInterval",
        ),
        (
            "NumberOfChannels=1\nSamplingInterval=1000\n[Binary Infos]\nBinaryFormat=INT_8\n",
            "INT_8",
        ),
        (
            "NumberOfChannels=2\nSamplingInterval=1000\n[Binary Infos]\nBinaryFormat=INT_16\n[Channel Infos]\nCh1=a,,1\n",
            "Ch2 missing",
        ),
        (
            "NumberOfChannels=1\nSamplingInterval=1000\n[Binary Infos]\nBinaryFormat=INT_16\n[Channel Infos]\nCh7=a,,1\n",
            "channel number 7",
        ),
        (
            "NumberOfChannels=1\nSamplingInterval=1000\n[Binary Infos]\nBinaryFormat=INT_16\n[Channel Infos]\nCh1=a,,abc\n",
            "resolution",
        ),
        // 10 bytes of 4-byte samples of 2 channels, vectorized: not whole vectors.
        (
            "NumberOfChannels=2\nSamplingInterval=1000\n[Binary Infos]\nBinaryFormat=INT_32\n[Channel Infos]\nCh1=a\nCh2=b\n",
            "not a whole number",
        ),
    ];
    for (i, (body, needle)) in cases.iter().enumerate() {
        let text = if body.starts_with("Brain") || body.starts_with("not") {
            body.to_string()
        } else {
            format!("{VHDR_HEAD}{body}")
        };
        let p = dir.join(format!("case{i}.vhdr"));
        std::fs::write(&p, text).unwrap();
        let e = bomdata_ephys::brainvision::open(&p)
            .map(|_| ())
            .unwrap_err();
        assert_invalid(&e, needle);
    }
    // A bad marker line.
    let p = dir.join("mk.vhdr");
    std::fs::write(
        &p,
        format!("{VHDR_HEAD}MarkerFile=m.vmrk\nNumberOfChannels=1\nSamplingInterval=1000\n[Binary Infos]\nBinaryFormat=INT_16\n[Channel Infos]\nCh1=a\n"),
    )
    .unwrap();
    std::fs::write(dir.join("m.vmrk"), "Brain Vision Data Exchange Marker File, Version 1.0\n[Marker Infos]\nMk1=Stimulus,S1,xx,1,0\n").unwrap();
    assert_invalid(
        &bomdata_ephys::brainvision::open(&p)
            .map(|_| ())
            .unwrap_err(),
        "position",
    );
    // A missing data file is an error too (not found).
    std::fs::remove_file(dir.join("d.eeg")).unwrap();
    assert!(bomdata_ephys::brainvision::open(&p).is_err());
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Every prefix (at a stride) and a series of single-byte corruptions of a file must be refused
/// or read without panicking.
fn mutate_file(
    src: &Path,
    name: &str,
    extra: &[(&str, &Path)],
    stride: usize,
    corruptions: usize,
) -> (usize, usize) {
    let dir = temp_dir(name);
    for (n, p) in extra {
        std::fs::copy(p, dir.join(n)).unwrap();
    }
    let bytes = std::fs::read(src).unwrap();
    let target = dir.join(src.file_name().unwrap());
    let (mut errs, mut oks) = (0, 0);
    let mut cut = 0;
    while cut < bytes.len() {
        std::fs::write(&target, &bytes[..cut]).unwrap();
        match read_through(&target) {
            Ok(()) => oks += 1,
            Err(_) => errs += 1,
        }
        cut += stride;
    }
    let mut rng = bomdata_testdata::Rng::new(42);
    for _ in 0..corruptions {
        let mut b = bytes.clone();
        for _ in 0..4 {
            let i = rng.below(b.len().min(20_000) as u64) as usize;
            b[i] = rng.next_u64() as u8;
        }
        std::fs::write(&target, &b).unwrap();
        let _ = read_through(&target);
        let _ = probe(&target, &ProbeOptions::default());
    }
    std::fs::remove_dir_all(&dir).unwrap();
    (errs, oks)
}

#[test]
fn eeglab_truncated_and_corrupted() {
    let (errs, _) = mutate_file(
        &fixture("eeglab/test_raw_2021.set"),
        "set2021",
        &[],
        997,
        200,
    );
    assert!(errs > 70, "truncations must be refused: {errs}");
    let compressed = bomdata_testdata::repo_data().join("eeglab/epoched_compressed.set");
    let (errs, _) = mutate_file(&compressed, "setz", &[], 7, 300);
    assert!(errs > 100, "truncated compressed file refused: {errs}");
    // A .fdt shorter than nbchan × pnts × trials.
    let dir = temp_dir("fdt");
    let src = bomdata_testdata::repo_data().join("eeglab");
    std::fs::copy(src.join("epoched_fdt.set"), dir.join("epoched_fdt.set")).unwrap();
    std::fs::write(dir.join("epoched_fdt.fdt"), [0u8; 100]).unwrap();
    let e = bomdata_ephys::eeglab::open(&dir.join("epoched_fdt.set"))
        .map(|_| ())
        .unwrap_err();
    assert_invalid(&e, "needs 240");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A MAT v5 file with one uncompressed miMATRIX double scalar per field, `data` inline.
fn mat_file(fields: &[(&str, Vec<f64>, [i32; 2])]) -> Vec<u8> {
    let mut out = vec![b' '; 116];
    out[..19].copy_from_slice(b"MATLAB 5.0 MAT-file");
    out.extend_from_slice(&[0u8; 8]);
    out.extend_from_slice(&0x0100u16.to_le_bytes());
    out.extend_from_slice(b"IM");
    for (name, vals, dims) in fields {
        let mut m = Vec::new();
        let el = |m: &mut Vec<u8>, ty: u32, d: &[u8]| {
            m.extend_from_slice(&ty.to_le_bytes());
            m.extend_from_slice(&(d.len() as u32).to_le_bytes());
            m.extend_from_slice(d);
            m.resize(m.len() + (8 - d.len() % 8) % 8, 0);
        };
        el(&mut m, 6, &[6, 0, 0, 0, 0, 0, 0, 0]);
        el(
            &mut m,
            5,
            &[dims[0].to_le_bytes(), dims[1].to_le_bytes()].concat(),
        );
        el(&mut m, 1, name.as_bytes());
        let d: Vec<u8> = vals.iter().flat_map(|v| v.to_le_bytes()).collect();
        el(&mut m, 9, &d);
        out.extend_from_slice(&14u32.to_le_bytes());
        out.extend_from_slice(&(m.len() as u32).to_le_bytes());
        out.extend_from_slice(&m);
    }
    out
}

#[test]
fn eeglab_absurd_counts() {
    let dir = temp_dir("counts");
    let p = dir.join("x.set");
    let base = |nbchan: f64, pnts: f64, data: Vec<f64>, dims: [i32; 2]| {
        mat_file(&[
            ("nbchan", vec![nbchan], [1, 1]),
            ("pnts", vec![pnts], [1, 1]),
            ("trials", vec![1.0], [1, 1]),
            ("srate", vec![100.0], [1, 1]),
            ("data", data, dims),
        ])
    };
    // A well-formed one reads.
    std::fs::write(&p, base(2.0, 2.0, vec![1.0, 2.0, 3.0, 4.0], [2, 2])).unwrap();
    let (rec, _) = bomdata_ephys::eeglab::open(&p).unwrap();
    assert_eq!(rec.channels.len(), 2);
    let cases = [
        (base(1e9, 1e9, vec![1.0; 4], [2, 2]), "nbchan"),
        (
            base(3.0, 2.0, vec![1.0; 4], [2, 2]),
            "inline data holds 4 values",
        ),
        (base(-1.0, 2.0, vec![1.0; 4], [2, 2]), "nbchan = -1"),
        (base(2.0, 2.5, vec![1.0; 4], [2, 2]), "pnts = 2.5"),
        // Dimensions that claim more values than stored.
        (
            base(2.0, 2.0, vec![1.0; 4], [60000, 60000]),
            "dimensions say 3600000000",
        ),
    ];
    for (bytes, needle) in cases {
        std::fs::write(&p, bytes).unwrap();
        assert_invalid(
            &bomdata_ephys::eeglab::open(&p).map(|_| ()).unwrap_err(),
            needle,
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn fif_truncated_and_corrupted() {
    let src = fixture("fif/test_move_anon_erm_raw.fif");
    let (errs, _) = mutate_file(&src, "fif", &[], 100_003, 40);
    assert!(errs > 15, "truncations inside a tag are refused: {errs}");
    let (errs, _) = mutate_file(
        &fixture("fif/sample_audvis_trunc_raw-eve.fif"),
        "eve",
        &[],
        13,
        50,
    );
    assert!(errs > 0);
}

#[test]
fn fif_bad_tags() {
    let dir = temp_dir("fiftags");
    let p = dir.join("x.fif");
    let tag = |kind: i32, ty: i32, data: &[u8]| {
        let mut t = Vec::new();
        for v in [kind, ty, data.len() as i32, 0] {
            t.extend_from_slice(&v.to_be_bytes());
        }
        t.extend_from_slice(data);
        t
    };
    // Not starting with a file id.
    std::fs::write(&p, tag(200, 3, &[0, 0, 0, 1])).unwrap();
    assert_invalid(
        &bomdata_ephys::fif::open(&p).map(|_| ()).unwrap_err(),
        "file id",
    );
    // A tag whose size runs past the end.
    let mut b = tag(100, 31, &[0; 20]);
    b.extend_from_slice(&[0, 0, 0, 200, 0, 0, 0, 3, 0x7f, 0xff, 0xff, 0xff, 0, 0, 0, 0]);
    std::fs::write(&p, &b).unwrap();
    assert_invalid(
        &bomdata_ephys::fif::open(&p).map(|_| ()).unwrap_err(),
        "runs past the end",
    );
    // No raw data block.
    std::fs::write(&p, tag(100, 31, &[0; 20])).unwrap();
    assert_invalid(
        &bomdata_ephys::fif::open(&p).map(|_| ()).unwrap_err(),
        "no raw data block",
    );
    // nchan disagreeing with the channel infos, in a measurement info block.
    let mut b = tag(100, 31, &[0; 20]);
    b.extend(tag(104, 3, &101i32.to_be_bytes()));
    b.extend(tag(200, 3, &5i32.to_be_bytes()));
    b.extend(tag(201, 4, &100f32.to_be_bytes()));
    let mut ch = vec![0u8; 96];
    ch[8..12].copy_from_slice(&2i32.to_be_bytes());
    b.extend(tag(203, 30, &ch));
    b.extend(tag(105, 3, &101i32.to_be_bytes()));
    b.extend(tag(104, 3, &102i32.to_be_bytes()));
    b.extend(tag(300, 4, &[0; 12]));
    b.extend(tag(105, 3, &102i32.to_be_bytes()));
    std::fs::write(&p, &b).unwrap();
    assert_invalid(
        &bomdata_ephys::fif::open(&p).map(|_| ()).unwrap_err(),
        "nchan 5",
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn brainvision_truncated_header_and_corruption() {
    let src = fixture("brainvision/test-ref.vhdr");
    let eeg = fixture("brainvision/test-ref.eeg");
    let vmrk = fixture("brainvision/test-ref.vmrk");
    let (errs, _) = mutate_file(
        &src,
        "bvtrunc",
        &[("test-ref.eeg", &eeg), ("test-ref.vmrk", &vmrk)],
        31,
        200,
    );
    assert!(errs > 30, "{errs}");
}

#[test]
fn undetected_files_are_refused() {
    let dir = temp_dir("detect");
    let p = dir.join("x.txt");
    std::fs::write(&p, "hello").unwrap();
    assert_eq!(bomdata_ephys::detect(&p), None);
    assert_invalid(
        &probe(&p, &ProbeOptions::default()).unwrap_err(),
        "not a brainvision",
    );
    let p = dir.join("x.fif");
    std::fs::write(&p, "hello").unwrap();
    assert_eq!(bomdata_ephys::detect(&p), None);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Issue 20 item 8: a header whose `.eeg` is 0 bytes (a git-annex placeholder in BIDS
/// datasets) is refused, through every entry point, rather than read as 0 samples; MNE's
/// `read_raw_brainvision` refuses it too.
#[test]
fn brainvision_empty_data_file_is_refused() {
    let dir = temp_dir("bvempty");
    let p = dir.join("e.vhdr");
    std::fs::write(
        &p,
        format!("{VHDR_HEAD}NumberOfChannels=1\nSamplingInterval=1000\n[Binary Infos]\nBinaryFormat=INT_16\n[Channel Infos]\nCh1=a\n"),
    )
    .unwrap();
    std::fs::write(dir.join("d.eeg"), b"").unwrap();
    assert_invalid(
        &bomdata_ephys::brainvision::open(&p)
            .map(|_| ())
            .unwrap_err(),
        "data file is empty",
    );
    assert_invalid(
        &bomdata_ephys::brainvision::read_recording(&p)
            .map(|_| ())
            .unwrap_err(),
        "data file is empty",
    );
    assert_invalid(&read_through(&p).unwrap_err(), "data file is empty");
    assert_invalid(
        &probe(&p, &ProbeOptions::default()).unwrap_err(),
        "data file is empty",
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
