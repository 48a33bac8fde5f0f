//! Files written here, byte by byte, for what the fixture corpus lacks: explicit big endian,
//! deflated, RLE, multi-frame, planar configuration 1, 32-bit samples, undefined-length
//! sequences; and damaged files (every truncation, bad lengths, unsupported syntaxes) that must
//! give typed errors, never panics.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use std::io::Write;

use bomdata_dicom::DicomError;
use bomdata_format_core::ProbeOptions;

const EXPLICIT_LE: &str = "1.2.840.10008.1.2.1";
const IMPLICIT_LE: &str = "1.2.840.10008.1.2";
const EXPLICIT_BE: &str = "1.2.840.10008.1.2.2";
const DEFLATED: &str = "1.2.840.10008.1.2.1.99";
const RLE: &str = "1.2.840.10008.1.2.5";

#[derive(Clone, Copy)]
struct Enc {
    explicit: bool,
    big: bool,
}

fn u16b(v: u16, big: bool) -> [u8; 2] {
    if big {
        v.to_be_bytes()
    } else {
        v.to_le_bytes()
    }
}

fn u32b(v: u32, big: bool) -> [u8; 4] {
    if big {
        v.to_be_bytes()
    } else {
        v.to_le_bytes()
    }
}

/// One element; `len` overrides the stored length (0xFFFFFFFF for undefined).
fn element(e: Enc, tag: u32, vr: &[u8; 2], value: &[u8], len: Option<u32>) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend(u16b((tag >> 16) as u16, e.big));
    v.extend(u16b(tag as u16, e.big));
    let n = len.unwrap_or(value.len() as u32);
    if e.explicit && tag >> 16 != 0xFFFE {
        v.extend(vr);
        if matches!(vr, b"OB" | b"OW" | b"SQ" | b"UN" | b"UT") {
            v.extend([0, 0]);
            v.extend(u32b(n, e.big));
        } else {
            v.extend(u16b(n as u16, e.big));
        }
    } else {
        v.extend(u32b(n, e.big));
    }
    v.extend(value);
    v
}

fn text(s: &str) -> Vec<u8> {
    let mut b = s.as_bytes().to_vec();
    if b.len() % 2 == 1 {
        b.push(b' ');
    }
    b
}

fn file(ts: &str, body: &[u8]) -> Vec<u8> {
    let le = Enc {
        explicit: true,
        big: false,
    };
    let mut uid = ts.as_bytes().to_vec();
    if uid.len() % 2 == 1 {
        uid.push(0);
    }
    let mut meta = element(le, 0x0002_0001, b"OB", &[0, 1], None);
    meta.extend(element(le, 0x0002_0010, b"UI", &uid, None));
    let mut v = vec![0u8; 128];
    v.extend(b"DICM");
    v.extend(element(
        le,
        0x0002_0000,
        b"UL",
        &(meta.len() as u32).to_le_bytes(),
        None,
    ));
    v.extend(meta);
    v.extend(body);
    v
}

struct Img {
    rows: u16,
    cols: u16,
    frames: u32,
    spp: u16,
    bits: u16,
    stored: u16,
    signed: bool,
    planar: bool,
    rescale: Option<(&'static str, &'static str)>,
}

/// Attributes up to (not including) the pixel data, with an undefined-length sequence holding
/// an undefined-length item and a nested defined-length sequence.
fn attributes(e: Enc, i: &Img) -> Vec<u8> {
    let us = |tag, v: u16| element(e, tag, b"US", &u16b(v, e.big), None);
    let mut b = element(e, 0x0008_0060, b"CS", &text("MR"), None);
    let inner = element(e, 0x0008_0100, b"SH", &text("CODE"), None);
    let nested_seq = element(
        e,
        0x0008_1250,
        b"SQ",
        &element(e, 0xFFFE_E000, b"  ", &inner, None),
        None,
    );
    let mut item = inner.clone();
    item.extend(nested_seq);
    item.extend(element(e, 0xFFFE_E00D, b"  ", &[], None));
    let mut seq = element(e, 0xFFFE_E000, b"  ", &item, Some(u32::MAX));
    seq.extend(element(e, 0xFFFE_E0DD, b"  ", &[], None));
    b.extend(element(e, 0x0008_1140, b"SQ", &seq, Some(u32::MAX)));
    b.extend(element(e, 0x0010_0010, b"PN", &text("Doe^Jane"), None));
    b.extend(element(e, 0x0020_0032, b"DS", &text("-10.5\\2\\30"), None));
    b.extend(us(0x0028_0002, i.spp));
    b.extend(element(
        e,
        0x0028_0004,
        b"CS",
        &text(if i.spp == 3 { "RGB" } else { "MONOCHROME2" }),
        None,
    ));
    if i.spp == 3 {
        b.extend(us(0x0028_0006, u16::from(i.planar)));
    }
    b.extend(element(
        e,
        0x0028_0008,
        b"IS",
        &text(&i.frames.to_string()),
        None,
    ));
    b.extend(us(0x0028_0010, i.rows));
    b.extend(us(0x0028_0011, i.cols));
    b.extend(us(0x0028_0100, i.bits));
    b.extend(us(0x0028_0101, i.stored));
    b.extend(us(0x0028_0103, u16::from(i.signed)));
    if let Some((intercept, slope)) = i.rescale {
        b.extend(element(e, 0x0028_1052, b"DS", &text(intercept), None));
        b.extend(element(e, 0x0028_1053, b"DS", &text(slope), None));
    }
    b
}

/// Stored sample values, in (frame, row, col, sample) order.
fn samples(i: &Img) -> Vec<u32> {
    let n = usize::from(i.rows) * usize::from(i.cols) * i.frames as usize * usize::from(i.spp);
    let mask = if i.stored == 32 {
        u32::MAX
    } else {
        (1u32 << i.stored) - 1
    };
    (0..n as u32)
        .map(|k| k.wrapping_mul(2_654_435_761) & mask)
        .collect()
}

fn expected(i: &Img) -> Vec<f64> {
    let (slope, intercept) = i.rescale.map_or((1.0, 0.0), |(a, s)| {
        (s.parse::<f64>().unwrap(), a.parse::<f64>().unwrap())
    });
    samples(i)
        .into_iter()
        .map(|s| {
            let v = if i.signed && i.stored < 32 && s >> (i.stored - 1) & 1 == 1 {
                i64::from(s) - (1i64 << i.stored)
            } else if i.signed {
                i64::from(s as i32)
            } else {
                i64::from(s)
            };
            v as f64 * slope + intercept
        })
        .collect()
}

/// Native pixel bytes, honouring the planar configuration.
fn native(i: &Img, big: bool) -> Vec<u8> {
    let s = samples(i);
    let (spp, px) = (
        usize::from(i.spp),
        usize::from(i.rows) * usize::from(i.cols),
    );
    let mut out = Vec::new();
    for k in 0..s.len() {
        let idx = if i.planar && spp == 3 {
            let (f, w) = (k / (px * spp), k % (px * spp));
            f * px * spp + (w % px) * spp + w / px
        } else {
            k
        };
        let v = s[idx];
        match i.bits {
            8 => out.push(v as u8),
            16 => out.extend(u16b(v as u16, big)),
            _ => out.extend(u32b(v, big)),
        }
    }
    if out.len() % 2 == 1 {
        out.push(0);
    }
    out
}

fn native_file(ts: &str, e: Enc, i: &Img) -> Vec<u8> {
    let mut body = attributes(e, i);
    let vr = if i.bits == 8 { b"OB" } else { b"OW" };
    body.extend(element(e, 0x7FE0_0010, vr, &native(i, e.big), None));
    if ts == DEFLATED {
        let mut z = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
        z.write_all(&body).unwrap();
        body = z.finish().unwrap();
    }
    file(ts, &body)
}

fn packbits(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut k = 0;
    while k < data.len() {
        let run = data[k..]
            .iter()
            .take(128)
            .take_while(|&&b| b == data[k])
            .count();
        if run >= 3 {
            out.push((1i16 - run as i16) as i8 as u8);
            out.push(data[k]);
            k += run;
        } else {
            let n = (data.len() - k).min(128).min(2);
            out.push((n - 1) as u8);
            out.extend(&data[k..k + n]);
            k += n;
        }
    }
    if out.len() % 2 == 1 {
        out.push(0x80);
    }
    out
}

fn rle_file(i: &Img) -> Vec<u8> {
    rle_file_with(i, false)
}

/// RLE frames, each in one fragment or (`split`) two.
fn rle_file_with(i: &Img, split: bool) -> Vec<u8> {
    let e = Enc {
        explicit: true,
        big: false,
    };
    let s = samples(i);
    let (spp, px, width) = (
        usize::from(i.spp),
        usize::from(i.rows) * usize::from(i.cols),
        usize::from(i.bits / 8),
    );
    let mut pix = element(e, 0xFFFE_E000, b"  ", &[], None);
    for f in 0..i.frames as usize {
        let mut segs = Vec::new();
        for c in 0..spp {
            for byte in (0..width).rev() {
                let plane: Vec<u8> = (0..px)
                    .map(|p| (s[(f * px + p) * spp + c] >> (8 * byte)) as u8)
                    .collect();
                segs.push(packbits(&plane));
            }
        }
        let mut frame = vec![0u8; 64];
        frame[..4].copy_from_slice(&(segs.len() as u32).to_le_bytes());
        let mut off = 64u32;
        for (k, seg) in segs.iter().enumerate() {
            frame[4 + 4 * k..8 + 4 * k].copy_from_slice(&off.to_le_bytes());
            off += seg.len() as u32;
        }
        segs.iter().for_each(|g| frame.extend(g));
        if split {
            let half = (frame.len() / 2) & !1;
            pix.extend(element(e, 0xFFFE_E000, b"  ", &frame[..half], None));
            pix.extend(element(e, 0xFFFE_E000, b"  ", &frame[half..], None));
        } else {
            pix.extend(element(e, 0xFFFE_E000, b"  ", &frame, None));
        }
    }
    pix.extend(element(e, 0xFFFE_E0DD, b"  ", &[], None));
    let mut body = attributes(e, i);
    body.extend(element(e, 0x7FE0_0010, b"OB", &pix, Some(u32::MAX)));
    file(RLE, &body)
}

fn probe_bytes(name: &str, bytes: &[u8], at: Vec<Vec<u64>>) -> std::io::Result<serde_json::Value> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    std::fs::write(&path, bytes).unwrap();
    bomdata_dicom::probe::probe(
        &path,
        &ProbeOptions {
            at,
            ..Default::default()
        },
    )
}

fn mono(bits: u16, stored: u16, signed: bool, frames: u32) -> Img {
    Img {
        rows: 5,
        cols: 7,
        frames,
        spp: 1,
        bits,
        stored,
        signed,
        planar: false,
        rescale: None,
    }
}

/// Every sample through `--at`, compared with the values written.
fn check(name: &str, bytes: &[u8], i: &Img) {
    let want = expected(i);
    let mut at = Vec::new();
    for f in 0..u64::from(i.frames) {
        for r in 0..u64::from(i.rows) {
            for c in 0..u64::from(i.cols) {
                for s in 0..u64::from(i.spp) {
                    let mut ix = if i.frames > 1 {
                        vec![f, r, c]
                    } else {
                        vec![r, c]
                    };
                    if i.spp > 1 {
                        ix.push(s);
                    }
                    at.push(ix);
                }
            }
        }
    }
    let v = probe_bytes(name, bytes, at).unwrap_or_else(|e| panic!("{name}: {e}"));
    let got: Vec<f64> = v["values"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["value"].as_f64().unwrap())
        .collect();
    assert_eq!(got, want, "{name}");
    assert_eq!(v["stats"]["n"], want.len() as u64, "{name}");
    let sum: f64 = want.iter().sum();
    assert!(
        (v["stats"]["sum"].as_f64().unwrap() - sum).abs() <= 1e-9 * sum.abs().max(1.0),
        "{name}"
    );
    assert_eq!(
        v["image_position_patient"],
        serde_json::json!([-10.5, 2.0, 30.0]),
        "{name}"
    );
    assert!(
        !v.to_string().contains("Doe^Jane"),
        "{name}: patient name printed"
    );
}

#[test]
fn every_uncompressed_syntax_gives_the_written_values() {
    let mut i = mono(16, 12, true, 2);
    i.rescale = Some(("-5", "2"));
    let le = Enc {
        explicit: true,
        big: false,
    };
    check("le.dcm", &native_file(EXPLICIT_LE, le, &i), &i);
    check(
        "implicit.dcm",
        &native_file(
            IMPLICIT_LE,
            Enc {
                explicit: false,
                big: false,
            },
            &i,
        ),
        &i,
    );
    check(
        "be.dcm",
        &native_file(
            EXPLICIT_BE,
            Enc {
                explicit: true,
                big: true,
            },
            &i,
        ),
        &i,
    );
    check("deflated.dcm", &native_file(DEFLATED, le, &i), &i);
    for (bits, stored, signed) in [
        (8, 8, false),
        (8, 7, true),
        (16, 16, false),
        (32, 32, false),
        (32, 32, true),
        (32, 20, true),
    ] {
        let i = mono(bits, stored, signed, 3);
        check(
            &format!("b{bits}.dcm"),
            &native_file(EXPLICIT_LE, le, &i),
            &i,
        );
        check(
            &format!("b{bits}be.dcm"),
            &native_file(
                EXPLICIT_BE,
                Enc {
                    explicit: true,
                    big: true,
                },
                &i,
            ),
            &i,
        );
    }
}

#[test]
fn colour_in_both_planar_configurations() {
    let le = Enc {
        explicit: true,
        big: false,
    };
    for planar in [false, true] {
        let i = Img {
            rows: 3,
            cols: 4,
            frames: 2,
            spp: 3,
            bits: 8,
            stored: 8,
            signed: false,
            planar,
            rescale: None,
        };
        check(
            &format!("rgb{planar}.dcm"),
            &native_file(EXPLICIT_LE, le, &i),
            &i,
        );
    }
}

#[test]
fn rle_lossless_frames() {
    for i in [
        mono(16, 16, true, 3),
        mono(8, 8, false, 1),
        mono(32, 32, false, 2),
        Img {
            rows: 4,
            cols: 6,
            frames: 2,
            spp: 3,
            bits: 8,
            stored: 8,
            signed: false,
            planar: true,
            rescale: None,
        },
    ] {
        check("rle.dcm", &rle_file(&i), &i);
    }
    let i = mono(16, 16, true, 1);
    check("rle_split.dcm", &rle_file_with(&i, true), &i);
}

fn dicom_error(r: std::io::Result<serde_json::Value>) -> DicomError {
    let e = r.expect_err("a damaged file must be refused");
    e.get_ref()
        .and_then(|x| x.downcast_ref::<DicomError>())
        .cloned()
        .unwrap_or_else(|| panic!("not a DicomError: {e}"))
}

#[test]
fn every_truncation_is_a_clean_error() {
    let le = Enc {
        explicit: true,
        big: false,
    };
    let mut i = mono(16, 16, false, 2);
    i.spp = 1;
    for (name, full) in [
        ("le", native_file(EXPLICIT_LE, le, &i)),
        (
            "be",
            native_file(
                EXPLICIT_BE,
                Enc {
                    explicit: true,
                    big: true,
                },
                &i,
            ),
        ),
        (
            "implicit",
            native_file(
                IMPLICIT_LE,
                Enc {
                    explicit: false,
                    big: false,
                },
                &i,
            ),
        ),
        ("deflated", native_file(DEFLATED, le, &i)),
        ("rle", rle_file(&i)),
    ] {
        for n in 0..full.len() {
            let r = probe_bytes("t.dcm", &full[..n], vec![]);
            assert!(
                r.is_err(),
                "{name} cut at {n} of {} was accepted",
                full.len()
            );
        }
    }
}

#[test]
fn bad_lengths_and_syntaxes_are_named() {
    let le = Enc {
        explicit: true,
        big: false,
    };
    let i = mono(16, 16, false, 1);
    let mut body = attributes(le, &i);
    body.extend(element(
        le,
        0x7FE0_0010,
        b"OW",
        &native(&i, false),
        Some(0xFFFF_FFF0),
    ));
    match dicom_error(probe_bytes("len.dcm", &file(EXPLICIT_LE, &body), vec![])) {
        DicomError::Length {
            group: 0x7FE0,
            element: 0x0010,
            length: 0xFFFF_FFF0,
            ..
        } => {}
        e => panic!("wrong error {e}"),
    }
    let mut body = attributes(le, &i);
    body.extend(element(le, 0x0010_4000, b"UT", b"ID", Some(u32::MAX)));
    assert!(matches!(
        dicom_error(probe_bytes("undef.dcm", &file(EXPLICIT_LE, &body), vec![])),
        DicomError::UndefinedLength {
            group: 0x0010,
            element: 0x4000,
            ..
        }
    ));
    // HTJ2K: no decoder in this build.
    let htj2k = "1.2.840.10008.1.2.4.201";
    let e = probe_bytes("j.dcm", &rle_file(&i).replace_syntax(htj2k), vec![]).unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::Unsupported);
    assert!(
        e.to_string()
            .contains("unsupported transfer syntax 1.2.840.10008.1.2.4.201"),
        "{e}"
    );
    assert_eq!(
        dicom_error(probe_bytes("m.dcm", &[0u8; 200], vec![])),
        DicomError::Magic
    );
    let mut big = mono(16, 16, false, 1);
    big.rows = 60000;
    let mut body = attributes(le, &big);
    body.extend(element(le, 0x7FE0_0010, b"OW", &native(&i, false), None));
    assert!(matches!(
        dicom_error(probe_bytes("short.dcm", &file(EXPLICIT_LE, &body), vec![])),
        DicomError::PixelDataShort { .. }
    ));
}

#[test]
fn damaged_rle_is_a_clean_error() {
    let i = mono(16, 16, false, 1);
    let good = rle_file(&i);
    // Flip each byte of the encapsulated data in turn: refused or decoded, never a panic.
    let start = good.len() - 200;
    for k in start..good.len() {
        let mut bad = good.clone();
        bad[k] ^= 0xA5;
        let _ = probe_bytes("r.dcm", &bad, vec![]);
    }
}

trait ReplaceSyntax {
    fn replace_syntax(&self, uid: &str) -> Vec<u8>;
}

impl ReplaceSyntax for Vec<u8> {
    /// The same file with the transfer syntax UID replaced (same even length, NUL-padded).
    fn replace_syntax(&self, uid: &str) -> Vec<u8> {
        let old = RLE.as_bytes();
        let p = self.windows(old.len()).position(|w| w == old).unwrap();
        let mut v = self[..p].to_vec();
        let mut u = uid.as_bytes().to_vec();
        let len_pos = p - 2;
        let mut padded = u.len();
        if padded % 2 == 1 {
            u.push(0);
            padded += 1;
        }
        v[len_pos..len_pos + 2].copy_from_slice(&(padded as u16).to_le_bytes());
        v.extend(&u);
        v.extend(&self[p + old.len() + 1..]);
        v
    }
}
