//! Broken files built from bytes: each is refused with one line of `InvalidData`, never a panic.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use std::io::{self, Write};
use std::path::Path;

use bomdata_format_core::ProbeOptions;
use bomdata_nifti::{DataType, DecodeError, Header, Version, WriteOptions, Writer};

fn good_nii(shape: &[u64]) -> Vec<u8> {
    let opts = WriteOptions::new(DataType::Int16, shape);
    let n: u64 = shape.iter().product();
    let mut w = Writer::new(Vec::new(), &opts).unwrap();
    w.write_values(&(0..n).map(|i| (i % 1000) as f64).collect::<Vec<_>>())
        .unwrap();
    w.finish().unwrap()
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

fn refused(dir: &Path, name: &str, bytes: &[u8]) -> (io::Error, String) {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    let err = bomdata_nifti::probe::probe(&p, &ProbeOptions::default()).expect_err(name);
    assert_eq!(err.kind(), io::ErrorKind::InvalidData, "{name}: {err}");
    let msg = err.to_string();
    assert!(
        !msg.contains('\n') && !msg.is_empty(),
        "{name}: message is not one line: {msg:?}"
    );
    // Streaming reads give the same refusal.
    let streamed = bomdata_nifti::Reader::open(&p).and_then(|mut r| {
        let mut v = Vec::<f32>::new();
        while r.read_volume_f32(&mut v)? {}
        Ok(())
    });
    assert!(streamed.is_err(), "{name}: streaming read accepted it");
    (err, msg)
}

fn decode_error(e: &io::Error) -> DecodeError {
    e.get_ref()
        .and_then(|i| i.downcast_ref::<DecodeError>())
        .cloned()
        .expect("typed inner error")
}

fn set_i16(b: &mut [u8], at: usize, v: i16) {
    b[at..at + 2].copy_from_slice(&v.to_le_bytes());
}

fn set_f32(b: &mut [u8], at: usize, v: f32) {
    b[at..at + 4].copy_from_slice(&v.to_le_bytes());
}

#[test]
fn truncated_gzip() {
    let dir = tempfile::tempdir().unwrap();
    let gz = gzip(&good_nii(&[20, 20, 10, 4]));
    let (e, msg) = refused(dir.path(), "cut.nii.gz", &gz[..gz.len() / 2]);
    assert!(
        matches!(decode_error(&e), DecodeError::Truncated { .. }),
        "{msg}"
    );
    assert!(msg.starts_with("data ends early in volume"), "{msg}");
    // Cut inside the header.
    let (e, _) = refused(dir.path(), "cut_header.nii.gz", &gz[..30]);
    assert!(matches!(decode_error(&e), DecodeError::ShortHeader { .. }));
}

#[test]
fn truncated_plain() {
    let dir = tempfile::tempdir().unwrap();
    let b = good_nii(&[10, 10, 10]);
    let (e, msg) = refused(dir.path(), "cut.nii", &b[..b.len() - 10]);
    assert!(
        matches!(decode_error(&e), DecodeError::DataTooLarge { .. }),
        "{msg}"
    );
    let (e, _) = refused(dir.path(), "tiny.nii", &b[..100]);
    assert!(matches!(
        decode_error(&e),
        DecodeError::ShortHeader {
            got: 100,
            need: 348
        }
    ));
}

#[test]
fn wrong_sizeof_hdr() {
    let dir = tempfile::tempdir().unwrap();
    let mut b = good_nii(&[4, 4, 4]);
    b[0..4].copy_from_slice(&350i32.to_le_bytes());
    let (e, msg) = refused(dir.path(), "size.nii", &b);
    assert_eq!(decode_error(&e), DecodeError::SizeofHdr(350));
    assert!(msg.contains("sizeof_hdr"), "{msg}");
    let (_, msg) = refused(dir.path(), "size.nii.gz", &gzip(&b));
    assert!(msg.contains("sizeof_hdr"), "{msg}");
}

#[test]
fn negative_and_huge_dims() {
    let dir = tempfile::tempdir().unwrap();
    let good = good_nii(&[4, 4, 4]);
    let mut b = good.clone();
    set_i16(&mut b, 44, -5);
    let (e, msg) = refused(dir.path(), "neg.nii", &b);
    assert_eq!(
        decode_error(&e),
        DecodeError::NegativeDim {
            index: 2,
            value: -5
        }
    );
    assert!(msg.contains("dim[2]"), "{msg}");

    let mut b = good.clone();
    set_i16(&mut b, 40, 4);
    for i in 1..=4 {
        set_i16(&mut b, 40 + 2 * i, 32767);
    }
    let (e, msg) = refused(dir.path(), "huge.nii", &b);
    assert!(
        matches!(decode_error(&e), DecodeError::DataTooLarge { .. }),
        "{msg}"
    );
    let (e, _) = refused(dir.path(), "huge.nii.gz", &gzip(&b));
    assert!(matches!(decode_error(&e), DecodeError::DataTooLarge { .. }));

    let mut b = good.clone();
    set_i16(&mut b, 40, 0);
    let (e, _) = refused(dir.path(), "rank0.nii", &b);
    assert_eq!(decode_error(&e), DecodeError::Rank(0));

    // NIfTI-2 dims whose product overflows 64 bits.
    let mut h = Header::new(DataType::Float64, &[1 << 40, 1 << 40, 1]);
    h.version = Version::Two;
    h.vox_offset = 544.0;
    let mut b2 = h.encode();
    b2.extend_from_slice(&[0; 4]);
    let (e, msg) = refused(dir.path(), "overflow.nii", &b2);
    assert!(
        matches!(decode_error(&e), DecodeError::SizeOverflow(_)),
        "{msg}"
    );
}

#[test]
fn vox_offset_past_end_or_invalid() {
    let dir = tempfile::tempdir().unwrap();
    let good = good_nii(&[4, 4, 4]);
    let mut b = good.clone();
    set_f32(&mut b, 108, 1.0e6);
    let (e, msg) = refused(dir.path(), "past.nii", &b);
    assert!(
        matches!(
            decode_error(&e),
            DecodeError::VoxOffsetPastEnd {
                vox_offset: 1_000_000,
                ..
            }
        ),
        "{msg}"
    );
    assert!(msg.contains("vox_offset"), "{msg}");
    let mut b = good.clone();
    set_f32(&mut b, 108, 3.0e9);
    let (_, msg) = refused(dir.path(), "past.nii.gz", &gzip(&b));
    assert!(msg.contains("vox_offset"), "{msg}");
    for (name, v) in [
        ("neg.nii", -16.0f32),
        ("frac.nii", 352.5),
        ("nan.nii", f32::NAN),
    ] {
        let mut b = good.clone();
        set_f32(&mut b, 108, v);
        let (e, _) = refused(dir.path(), name, &b);
        assert!(matches!(decode_error(&e), DecodeError::VoxOffset(_)));
    }
    let mut b = good.clone();
    set_f32(&mut b, 108, 100.0);
    let (e, _) = refused(dir.path(), "inside.nii", &b);
    assert!(matches!(
        decode_error(&e),
        DecodeError::VoxOffsetInHeader { .. }
    ));
}

#[test]
fn bad_magic_datatype_and_extension() {
    let dir = tempfile::tempdir().unwrap();
    let good = good_nii(&[4, 4, 4]);
    let mut b = good.clone();
    b[344..348].copy_from_slice(b"xyz\0");
    let (_, msg) = refused(dir.path(), "magic.nii", &b);
    assert!(msg.contains("magic"), "{msg}");
    let mut b = good.clone();
    set_i16(&mut b, 70, 1); // DT_BINARY
    let (_, msg) = refused(dir.path(), "binary.nii", &b);
    assert!(msg.contains("datatype 1"), "{msg}");
    // float128: a platform-dependent layout, refused rather than guessed.
    let mut b = good.clone();
    set_i16(&mut b, 70, 1536);
    let (e, msg) = refused(dir.path(), "float128.nii", &b);
    assert!(
        matches!(decode_error(&e), DecodeError::LongDouble(1536, "float128")),
        "{msg}"
    );

    // An extension whose esize runs past vox_offset.
    let mut opts = WriteOptions::new(DataType::Uint8, &[2, 2, 2]);
    opts.extensions.push(bomdata_nifti::Extension {
        code: 6,
        size: 0,
        content: b"hi".to_vec(),
    });
    let mut w = Writer::new(Vec::new(), &opts).unwrap();
    w.write_values(&[0.0; 8]).unwrap();
    let mut b = w.finish().unwrap();
    b[352..356].copy_from_slice(&4000i32.to_le_bytes());
    let (e, msg) = refused(dir.path(), "ext.nii", &b);
    assert!(
        matches!(
            decode_error(&e),
            DecodeError::Extension {
                index: 0,
                offset: 352,
                ..
            }
        ),
        "{msg}"
    );
}

#[test]
fn garbage_never_panics() {
    let dir = tempfile::tempdir().unwrap();
    let good = good_nii(&[3, 3, 3, 2]);
    let mut rng = bomdata_testdata::Rng::new(7);
    for i in 0..300 {
        let mut b = good.clone();
        for _ in 0..4 {
            let at = (rng.next_u64() % 352) as usize;
            b[at] = rng.next_u64() as u8;
        }
        let p = dir.path().join(format!("g{i}.nii"));
        std::fs::write(&p, &b).unwrap();
        let _ = bomdata_nifti::probe::probe(&p, &ProbeOptions::default());
    }
}
