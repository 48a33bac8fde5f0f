//! `corder` (header-only planning, pixels read once straight into the C-order float32 array)
//! gives exactly `series::volume`'s values cast to float32, in the canonical `(x, y, z[, t])`
//! C order, and the same geometry and errors: 16-bit signed/unsigned, BitsStored < 16 (masking,
//! sign extension), rescale per instance, implicit VR (fast path); big endian and 8-bit (full
//! parse); 4-D; pixel data cut short after planning.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use std::path::{Path, PathBuf};

use bomdata_dicom::corder::headers;
use bomdata_dicom::series::volume;

#[derive(Clone, Copy)]
enum Ts {
    ExplicitLe,
    ImplicitLe,
    ExplicitBe,
}

impl Ts {
    fn uid(self) -> &'static str {
        match self {
            Ts::ImplicitLe => "1.2.840.10008.1.2",
            Ts::ExplicitLe => "1.2.840.10008.1.2.1",
            Ts::ExplicitBe => "1.2.840.10008.1.2.2",
        }
    }
}

fn el(ts: Ts, tag: u32, vr: &[u8; 2], value: &[u8]) -> Vec<u8> {
    let mut value = value.to_vec();
    if value.len() % 2 == 1 {
        value.push(if vr == b"UI" { 0 } else { b' ' });
    }
    let be = matches!(ts, Ts::ExplicitBe);
    let u16b = |v: u16| if be { v.to_be_bytes() } else { v.to_le_bytes() };
    let u32b = |v: u32| if be { v.to_be_bytes() } else { v.to_le_bytes() };
    let mut v = Vec::new();
    v.extend(u16b((tag >> 16) as u16));
    v.extend(u16b(tag as u16));
    match ts {
        Ts::ImplicitLe => v.extend(u32b(value.len() as u32)),
        _ if matches!(vr, b"OB" | b"OW") => {
            v.extend(vr);
            v.extend([0, 0]);
            v.extend(u32b(value.len() as u32));
        }
        _ => {
            v.extend(vr);
            v.extend(u16b(value.len() as u16));
        }
    }
    v.extend(value);
    v
}

#[derive(Clone)]
struct Spec {
    ts: Ts,
    bits: u16,
    stored: u16,
    signed: bool,
    rows: u16,
    cols: u16,
    slices: usize,
    volumes: usize,
    /// Rescale of instance `i` (storage order), if any.
    rescale: fn(usize) -> Option<(f64, f64)>,
}

fn ds(v: &[f64]) -> Vec<u8> {
    let s: Vec<String> = v.iter().map(|x| format!("{x}")).collect();
    s.join("\\").into_bytes()
}

/// A stored sample: every bit pattern of the allocated width shows up across the image.
fn sample(s: &Spec, k: usize, t: usize, p: usize) -> u32 {
    let x = (p as u32).wrapping_mul(2_654_435_761) ^ ((k * 131 + t * 17) as u32);
    x & ((1u32 << s.bits) - 1)
}

fn instance(dir: &Path, s: &Spec, k: usize, t: usize) -> PathBuf {
    let ts = s.ts;
    let be = matches!(ts, Ts::ExplicitBe);
    let us = |tag, v: u16| {
        el(
            ts,
            tag,
            b"US",
            &if be { v.to_be_bytes() } else { v.to_le_bytes() },
        )
    };
    let mut b = vec![0u8; 128];
    b.extend(b"DICM");
    b.extend(el(Ts::ExplicitLe, 0x0002_0010, b"UI", ts.uid().as_bytes()));
    b.extend(el(ts, 0x0008_0060, b"CS", b"MR"));
    b.extend(el(ts, 0x0020_000E, b"UI", b"1.2.3.4"));
    let n = t * s.slices + k;
    b.extend(el(ts, 0x0020_0013, b"IS", format!("{}", n + 1).as_bytes()));
    // Written in reverse slice order, so planning must sort.
    let z = (s.slices - 1 - k) as f64 * 2.5;
    b.extend(el(ts, 0x0020_0032, b"DS", &ds(&[-100.0, -110.0, z])));
    b.extend(el(
        ts,
        0x0020_0037,
        b"DS",
        &ds(&[1.0, 0.0, 0.0, 0.0, 1.0, 0.0]),
    ));
    b.extend(us(0x0028_0002, 1));
    b.extend(el(ts, 0x0028_0004, b"CS", b"MONOCHROME2"));
    b.extend(us(0x0028_0010, s.rows));
    b.extend(us(0x0028_0011, s.cols));
    b.extend(el(ts, 0x0028_0030, b"DS", &ds(&[0.9, 1.1])));
    b.extend(us(0x0028_0100, s.bits));
    b.extend(us(0x0028_0101, s.stored));
    b.extend(us(0x0028_0102, s.stored - 1));
    b.extend(us(0x0028_0103, u16::from(s.signed)));
    if let Some((m, c)) = (s.rescale)(n) {
        b.extend(el(ts, 0x0028_1052, b"DS", &ds(&[c])));
        b.extend(el(ts, 0x0028_1053, b"DS", &ds(&[m])));
    }
    let np = usize::from(s.rows) * usize::from(s.cols);
    let px: Vec<u8> = (0..np)
        .flat_map(|p| {
            let v = sample(s, k, t, p);
            match (s.bits, be) {
                (8, _) => vec![v as u8],
                (_, true) => (v as u16).to_be_bytes().to_vec(),
                _ => (v as u16).to_le_bytes().to_vec(),
            }
        })
        .collect();
    b.extend(el(
        ts,
        0x7FE0_0010,
        if s.bits == 8 { b"OB" } else { b"OW" },
        &px,
    ));
    let p = dir.join(format!("{t}_{k}.dcm"));
    std::fs::write(&p, b).unwrap();
    p
}

fn write(dir: &Path, s: &Spec) -> Vec<PathBuf> {
    let mut v = Vec::new();
    for t in 0..s.volumes {
        for k in 0..s.slices {
            v.push(instance(dir, s, k, t));
        }
    }
    v.reverse();
    v
}

/// `series::volume`'s values cast to float32, in C order of `(x, y, z[, t])`.
fn expected(files: &[PathBuf]) -> (Vec<usize>, Vec<u32>) {
    let v = volume(files).unwrap();
    let (nx, ny, nz) = (v.shape[0], v.shape[1], v.shape[2]);
    let nt = v.shape.get(3).copied().unwrap_or(1);
    let mut out = vec![0u32; v.data.len()];
    for t in 0..nt {
        for z in 0..nz {
            for y in 0..ny {
                for x in 0..nx {
                    let from = ((t * nz + z) * ny + y) * nx + x;
                    out[((x * ny + y) * nz + z) * nt + t] = (v.data[from] as f32).to_bits();
                }
            }
        }
    }
    (v.shape, out)
}

fn check(name: &str, s: &Spec) {
    let d = tempfile::tempdir().unwrap();
    let files = write(d.path(), s);
    let (shape, want) = expected(&files);
    let h = headers(&files).unwrap();
    let reference = volume(&files).unwrap();
    let fast = matches!(s.ts, Ts::ExplicitLe | Ts::ImplicitLe) && s.bits == 16;
    let n = if fast { files.len() } else { 0 };
    assert_eq!(h.native16_count(), n, "{name}: instances on the fast path");
    assert_eq!(h.geometry().shape, shape, "{name}");
    assert_eq!(h.geometry().affine, reference.affine, "{name}");
    assert_eq!(h.geometry().files, reference.files, "{name}");
    let w = files.len();
    let (nx, ny) = (shape[0], shape[1]);
    // The default batches; bands of 5 rows (the last one partial); bands too thin (so slice
    // batches); batches of 3 slices and of one.
    let tries = [
        (None, true),
        (Some(5 * 4 * w * nx), true),
        (Some(3 * 4 * w * nx), true),
        (Some(3 * 4 * nx * ny), false),
        (Some(1), false),
    ];
    for (batch, by_rows) in tries {
        let mut out = vec![0xAAu8; 4 * h.len()];
        match batch {
            None => h.fill_c_order_f32(&mut out).unwrap(),
            Some(b) => h.fill_with(&mut out, b, by_rows).unwrap(),
        }
        let got: Vec<u32> = out
            .chunks_exact(4)
            .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        let bad = got.iter().zip(&want).filter(|(a, b)| a != b).count();
        assert_eq!(
            bad,
            0,
            "{name} ({batch:?}, {by_rows}): {bad} of {} values differ",
            want.len()
        );
    }
}

fn base() -> Spec {
    Spec {
        ts: Ts::ExplicitLe,
        bits: 16,
        stored: 16,
        signed: true,
        rows: 37,
        cols: 41,
        slices: 23,
        volumes: 1,
        rescale: |_| None,
    }
}

#[test]
fn fast_and_full_paths_equal_the_reference_volume() {
    check("int16", &base());
    check(
        "int16 identity rescale",
        &Spec {
            rescale: |_| Some((1.0, 0.0)),
            ..base()
        },
    );
    check(
        "uint12 rescaled",
        &Spec {
            signed: false,
            stored: 12,
            rescale: |_| Some((2.5, -1024.0)),
            ..base()
        },
    );
    check(
        "int12 sign-extended, rescale per instance",
        &Spec {
            stored: 12,
            rescale: |i| Some((0.001 * (i + 1) as f64, 3.25)),
            ..base()
        },
    );
    check(
        "uint16",
        &Spec {
            signed: false,
            ..base()
        },
    );
    check(
        "implicit VR",
        &Spec {
            ts: Ts::ImplicitLe,
            stored: 10,
            ..base()
        },
    );
    check(
        "big endian (full parse)",
        &Spec {
            ts: Ts::ExplicitBe,
            stored: 12,
            rescale: |_| Some((0.5, 1.0)),
            ..base()
        },
    );
    check(
        "8-bit (full parse)",
        &Spec {
            bits: 8,
            stored: 8,
            signed: false,
            ..base()
        },
    );
    check(
        "4-D",
        &Spec {
            volumes: 3,
            slices: 7,
            ..base()
        },
    );
    // More instances than are held open at once by the row-band pass.
    check(
        "many instances",
        &Spec {
            rows: 6,
            cols: 5,
            slices: 300,
            ..base()
        },
    );
}

#[test]
fn errors_match_the_full_path() {
    let d = tempfile::tempdir().unwrap();
    let s = Spec {
        rows: 64,
        cols: 64,
        slices: 5,
        ..base()
    };
    let files = write(d.path(), &s);
    // A duplicate position: the same error as `volume`.
    let dup = [files.clone(), vec![files[0].clone()]].concat();
    let a = headers(&dup).unwrap_err();
    assert_eq!(Some(a), volume(&dup).err());
    // Pixel data cut short after planning: both passes report the full parse's error.
    let h = headers(&files).unwrap();
    let bytes = std::fs::read(&files[2]).unwrap();
    std::fs::write(&files[2], &bytes[..bytes.len() - 100]).unwrap();
    let mut out = vec![0u8; 4 * h.len()];
    let e = h.fill_c_order_f32(&mut out).unwrap_err();
    assert!(e.to_string().contains(&*files[2].to_string_lossy()), "{e}");
    assert_eq!(Some(e.clone()), volume(&files).err());
    assert_eq!(h.fill_with(&mut out, 1, false).unwrap_err(), e);
    // The wrong output size is refused.
    let mut short = vec![0u8; 4 * h.len() - 4];
    assert!(h.fill_c_order_f32(&mut short).is_err());
}
