//! JPEG-LS (feature `jpegls`, the crate's own T.87 decoder) against an independent encoder,
//! DCMTK's `dcmcjpls` (CharLS inside; Debian package `dcmtk`): every fixture it accepts and
//! images written here at 2 to 16 bits, one and three samples, one and several frames, in each
//! interleave mode, with default and preset (LSE) parameters, lossless (equal to the native
//! pixels) and near-lossless (equal to DCMTK's own decode by `dcmdjpls`, within NEAR of the
//! native pixels); restart intervals, built from separately encoded strips; and damaged
//! codestreams, which must give an error, never a panic. Skipped with a message without DCMTK.

#![cfg(feature = "jpegls")]
#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use std::path::{Path, PathBuf};
use std::process::Command;

use bomdata_format_core::ProbeOptions;

const LOSSLESS: &str = "1.2.840.10008.1.2.4.80";
const NEAR_LOSSLESS: &str = "1.2.840.10008.1.2.4.81";

/// Every decoded sample (before the modality LUT) of a DICOM file.
fn pixels(path: &Path) -> Result<Vec<f64>, String> {
    let f = bomdata_dicom::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let img = bomdata_dicom::Image::from_file(&f).map_err(|e| e.to_string())?;
    bomdata_dicom::decode(&f, &img).map_err(|e| format!("{}: {e}", path.display()))
}

/// Runs a DCMTK tool; `false` when it is not installed.
fn tool(name: &str, args: &[&str], from: &Path, to: &Path) -> bool {
    match try_tool(name, args, from, to) {
        Some(Ok(())) => true,
        Some(Err(e)) => panic!("{name} {args:?} {from:?}: {e}"),
        None => false,
    }
}

/// Runs a DCMTK tool: `None` when it is not installed, else whether it succeeded.
fn try_tool(name: &str, args: &[&str], from: &Path, to: &Path) -> Option<Result<(), String>> {
    let o = Command::new(name)
        .args(args)
        .arg(from)
        .arg(to)
        .output()
        .ok()?;
    Some(if o.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&o.stderr).into_owned())
    })
}

#[allow(clippy::print_stderr)] // the skip is said where the test output shows it
fn skip() {
    eprintln!("dcmcjpls/dcmdjpls are absent (Debian package dcmtk): JPEG-LS comparison skipped");
}

fn syntax(path: &Path) -> String {
    let f = bomdata_dicom::open_header(path).unwrap();
    f.transfer_syntax_uid
}

/// The interleave and parameter options tried for each image.
const LOSSLESS_OPTIONS: [&[&str]; 7] = [
    &["+il"],
    &["+is"],
    &["+in"],
    // Frames split over 1 KiB fragments (joined again at each EOI).
    &["+fs", "1", "-ot"],
    &["+pc"],
    &["+t1", "5", "+t2", "9", "+t3", "30", "+rs", "32"],
    &["+in", "+t1", "2", "+t2", "3", "+t3", "4", "+rs", "3"],
];

/// Encodes `src` with each lossless option set and checks the decoded samples equal `want`.
/// The interleave modes and fragmenting must encode; DCMTK refuses some of the others for low bit depths
/// ("unsupported compression parameters"), and those are left out.
fn lossless(dir: &Path, name: &str, src: &Path, want: &[f64]) -> bool {
    for (k, opts) in LOSSLESS_OPTIONS.iter().enumerate() {
        let out = dir.join(format!("ll{k}_{name}"));
        match try_tool("dcmcjpls", opts, src, &out) {
            None => return false,
            Some(Err(e)) if k < 4 => panic!("dcmcjpls {opts:?} {name}: {e}"),
            Some(Err(_)) => continue,
            Some(Ok(())) => {}
        }
        assert_eq!(syntax(&out), LOSSLESS, "{name} {opts:?}");
        let got = pixels(&out).unwrap_or_else(|e| panic!("{name} {opts:?}: {e}"));
        assert!(got == want, "{name} {opts:?}: decoded samples differ");
    }
    true
}

/// Near-lossless with each NEAR: equal to `dcmdjpls`'s decode, within NEAR of `want`.
fn near_lossless(dir: &Path, name: &str, src: &Path, want: &[f64], colour: bool) -> bool {
    let interleaves: &[&str] = if colour {
        &["+il", "+is", "+in"]
    } else {
        &["+il"]
    };
    for near in ["1", "3", "10"] {
        for ilv in interleaves {
            let out = dir.join(format!("nl{near}{ilv}_{name}"));
            let back = dir.join(format!("nl{near}{ilv}_back_{name}"));
            match try_tool("dcmcjpls", &["+en", "+md", near, ilv], src, &out) {
                None => return false,
                // DCMTK refuses near-lossless below 8 bits ("unsupported compression
                // parameters").
                Some(Err(e)) if want.len() > 9 && !e.contains("unsupported compression") => {
                    panic!("dcmcjpls NEAR {near} {name}: {e}")
                }
                Some(Err(_)) => continue,
                Some(Ok(())) => {}
            }
            assert_eq!(syntax(&out), NEAR_LOSSLESS, "{name} NEAR {near}");
            let got = pixels(&out);
            // DCMTK 3.6.7 fails on some of its own near-lossless output: tiny sample-
            // interleaved frames written without their SOI marker, and 16-bit colour without
            // interleave ("Invalid compressed image data"). There a decode here must still be
            // within NEAR of the native pixels (or refused, for the streams without SOI).
            let got = match try_tool("dcmdjpls", &[], &out, &back) {
                None => return false,
                Some(Ok(())) => {
                    let dcmtk = pixels(&back).unwrap();
                    let got = got.unwrap_or_else(|e| panic!("{name} NEAR {near}: {e}"));
                    assert!(
                        got == dcmtk,
                        "{name} NEAR {near} {ilv}: differs from dcmdjpls"
                    );
                    got
                }
                Some(Err(_)) => match got {
                    Ok(got) => got,
                    Err(_) => continue,
                },
            };
            let near: f64 = near.parse().unwrap();
            let worst = got
                .iter()
                .zip(want)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0, f64::max);
            assert!(worst <= near, "{name}: error {worst} > NEAR {near}");
            assert_eq!(got.len(), want.len());
        }
    }
    true
}

#[test]
fn every_fixture_dcmcjpls_accepts_decodes_to_the_native_pixels() {
    let dir = tempfile::tempdir().unwrap();
    let fixtures = bomdata_testdata::require_fixtures().join("dicom");
    // liver_1frame (1 bit) and the YBR_FULL_422 fixture are refused by dcmcjpls itself.
    for name in [
        "CT_small.dcm",
        "MR_small.dcm",
        "MR_small_expb.dcm",
        "MR_small_implicit.dcm",
        "SC_rgb_small_odd.dcm",
        "nibabel_0.dcm",
    ] {
        let src = fixtures.join(name);
        let want = pixels(&src).unwrap();
        if !lossless(dir.path(), name, &src, &want) {
            return skip();
        }
    }
    // Near-lossless: dcmcjpls refuses signed images; these two are unsigned.
    for name in ["SC_rgb_small_odd.dcm", "nibabel_0.dcm"] {
        let src = fixtures.join(name);
        let want = pixels(&src).unwrap();
        if !near_lossless(dir.path(), name, &src, &want, name.starts_with("SC")) {
            return skip();
        }
    }
}

/// An image written here: unsigned, MONOCHROME2 or RGB.
#[derive(Clone, Copy)]
struct Img {
    rows: u16,
    cols: u16,
    frames: u16,
    spp: u16,
    stored: u16,
}

impl Img {
    fn allocated(&self) -> u16 {
        if self.stored <= 8 { 8 } else { 16 }
    }

    /// Sample values in (frame, row, column, sample) order: a flat band (run mode), a smooth
    /// ramp with noise (regular mode) and extremes (modulo reduction).
    fn values(&self) -> Vec<u16> {
        let max = (1u32 << self.stored) - 1;
        let mut out = Vec::new();
        for f in 0..u32::from(self.frames) {
            for r in 0..u32::from(self.rows) {
                for c in 0..u32::from(self.cols) {
                    for s in 0..u32::from(self.spp) {
                        let h = (r * 131 + c * 71 + s * 29 + f * 17).wrapping_mul(2_654_435_761);
                        let v = if r < u32::from(self.rows) / 4 {
                            max / 3 + s
                        } else if (r + c) % 23 == 0 {
                            if (h >> 7) & 1 == 0 { 0 } else { max }
                        } else {
                            (r * max / u32::from(self.rows) + c * 3 + f * 5 + (h >> 13) % 7) & max
                        };
                        out.push((v & max) as u16);
                    }
                }
            }
        }
        out
    }

    /// A native explicit VR little endian file of the values.
    fn write(&self, path: &Path) {
        self.write_values(path, &self.values());
    }

    /// A native file of the given values (this image's attributes).
    fn write_values(&self, path: &Path, values: &[u16]) {
        let mut px: Vec<u8> = if self.allocated() == 8 {
            values.iter().map(|&v| v as u8).collect()
        } else {
            values.iter().flat_map(|v| v.to_le_bytes()).collect()
        };
        if px.len() % 2 == 1 {
            px.push(0);
        }
        let vr = if self.allocated() == 8 { b"OB" } else { b"OW" };
        let mut el = vec![0xE0, 0x7F, 0x10, 0x00, vr[0], vr[1], 0, 0];
        el.extend((px.len() as u32).to_le_bytes());
        el.extend(px);
        std::fs::write(path, self.file("1.2.840.10008.1.2.1", &el)).unwrap();
    }

    /// A file with `cs` as its one JPEG-LS lossless fragment.
    fn write_encapsulated(&self, path: &Path, cs: &[u8]) {
        let mut el = vec![
            0xE0, 0x7F, 0x10, 0x00, b'O', b'B', 0, 0, 0xFF, 0xFF, 0xFF, 0xFF,
        ];
        el.extend([0xFE, 0xFF, 0x00, 0xE0, 0, 0, 0, 0]);
        let mut frag = cs.to_vec();
        if frag.len() % 2 == 1 {
            frag.push(0);
        }
        el.extend([0xFE, 0xFF, 0x00, 0xE0]);
        el.extend((frag.len() as u32).to_le_bytes());
        el.extend(frag);
        el.extend([0xFE, 0xFF, 0xDD, 0xE0, 0, 0, 0, 0]);
        std::fs::write(path, self.file(LOSSLESS, &el)).unwrap();
    }

    /// The file: meta group with syntax `ts`, this image's attributes, then `pixel_element`.
    fn file(&self, ts: &str, pixel_element: &[u8]) -> Vec<u8> {
        let el = |tag: u32, vr: &[u8; 2], v: &[u8]| -> Vec<u8> {
            let mut v = v.to_vec();
            if v.len() % 2 == 1 {
                v.push(if vr == b"UI" || vr == b"OB" { 0 } else { b' ' });
            }
            let mut b = Vec::new();
            b.extend(((tag >> 16) as u16).to_le_bytes());
            b.extend(((tag & 0xFFFF) as u16).to_le_bytes());
            b.extend(vr);
            if vr == b"OB" {
                b.extend([0, 0]);
                b.extend((v.len() as u32).to_le_bytes());
            } else {
                b.extend((v.len() as u16).to_le_bytes());
            }
            b.extend(v);
            b
        };
        let us = |v: u16| v.to_le_bytes();
        let class: &[u8] = b"1.2.840.10008.5.1.4.1.1.7";
        let sop: &[u8] = b"1.2.826.0.1.3680043.2.1125.777.1";
        let mut meta = el(0x0002_0001, b"OB", &[0, 1]);
        meta.extend(el(0x0002_0002, b"UI", class));
        meta.extend(el(0x0002_0003, b"UI", sop));
        meta.extend(el(0x0002_0010, b"UI", ts.as_bytes()));
        meta.extend(el(0x0002_0012, b"UI", b"1.2.826.0.1.3680043.2.1125.777"));
        let mut f = vec![0u8; 128];
        f.extend(b"DICM");
        f.extend(el(0x0002_0000, b"UL", &(meta.len() as u32).to_le_bytes()));
        f.extend(meta);
        f.extend(el(0x0008_0016, b"UI", class));
        f.extend(el(0x0008_0018, b"UI", sop));
        f.extend(el(0x0008_0060, b"CS", b"OT"));
        f.extend(el(0x0010_0010, b"PN", b"JPEGLS^TEST"));
        f.extend(el(0x0020_000D, b"UI", b"1.2.826.0.1.3680043.2.1125.777.2"));
        f.extend(el(0x0020_000E, b"UI", b"1.2.826.0.1.3680043.2.1125.777.3"));
        f.extend(el(0x0028_0002, b"US", &us(self.spp)));
        let photometric: &[u8] = if self.spp == 3 {
            b"RGB"
        } else {
            b"MONOCHROME2"
        };
        f.extend(el(0x0028_0004, b"CS", photometric));
        if self.spp == 3 {
            f.extend(el(0x0028_0006, b"US", &us(0)));
        }
        if self.frames > 1 {
            f.extend(el(0x0028_0008, b"IS", self.frames.to_string().as_bytes()));
        }
        f.extend(el(0x0028_0010, b"US", &us(self.rows)));
        f.extend(el(0x0028_0011, b"US", &us(self.cols)));
        f.extend(el(0x0028_0100, b"US", &us(self.allocated())));
        f.extend(el(0x0028_0101, b"US", &us(self.stored)));
        f.extend(el(0x0028_0102, b"US", &us(self.stored - 1)));
        f.extend(el(0x0028_0103, b"US", &us(0)));
        f.extend(pixel_element);
        f
    }
}

#[test]
fn bit_depths_samples_and_frames_in_every_interleave_mode() {
    let dir = tempfile::tempdir().unwrap();
    let images = [
        (2, 1, 1),
        (5, 1, 1),
        (7, 1, 2),
        (8, 1, 1),
        (8, 3, 1),
        (8, 3, 2),
        (10, 1, 1),
        (12, 1, 3),
        (15, 1, 1),
        (16, 1, 1),
        (16, 3, 1),
    ];
    for (stored, spp, frames) in images {
        let img = Img {
            rows: 37,
            cols: 41,
            frames,
            spp,
            stored,
        };
        let name = format!("b{stored}_s{spp}_f{frames}.dcm");
        let src = dir.path().join(&name);
        img.write(&src);
        let want: Vec<f64> = img.values().into_iter().map(f64::from).collect();
        assert_eq!(pixels(&src).unwrap(), want, "{name}: native file");
        if !lossless(dir.path(), &name, &src, &want) {
            return skip();
        }
        if stored >= 4 && !near_lossless(dir.path(), &name, &src, &want, spp == 3) {
            return skip();
        }
    }
}

/// Offsets of the marker segments of a codestream: (marker, offset of FF).
fn markers(cs: &[u8]) -> Vec<(u8, usize)> {
    let mut out = vec![(0xD8, 0)];
    let mut p = 2;
    while p + 2 <= cs.len() {
        let m = cs[p + 1];
        if m == 0xFF {
            p += 1; // a fill byte
            continue;
        }
        out.push((m, p));
        if m == 0xD9 || p + 4 > cs.len() {
            break;
        }
        let len = usize::from(u16::from_be_bytes([cs[p + 2], cs[p + 3]]));
        p += 2 + len;
        if m == 0xDA {
            // Scan data up to the next marker (FF followed by a byte ≥ 0x80).
            while p + 1 < cs.len() && !(cs[p] == 0xFF && cs[p + 1] >= 0x80) {
                p += 1;
            }
        }
    }
    out
}

/// The codestream of a single-fragment, single-frame encapsulated file.
fn codestream(path: &Path) -> Vec<u8> {
    let b = std::fs::read(path).unwrap();
    let start = b
        .windows(4)
        .position(|w| w == [0xFF, 0xD8, 0xFF, 0xF7])
        .unwrap();
    let end = b.windows(2).rposition(|w| w == [0xFF, 0xD9]).unwrap();
    b[start..end + 2].to_vec()
}

/// A restart interval of `interval` lines: each strip of that many lines is encoded alone by
/// DCMTK (a restart resets the coder as at the start of an image), their scan data joined with
/// RSTm markers under one frame header and a DRI segment; the file must decode to the whole
/// image.
#[test]
fn restart_intervals_from_separately_encoded_strips() {
    let dir = tempfile::tempdir().unwrap();
    for (stored, spp, ilv, interval) in [
        (12, 1, "+il", 5u16),
        (8, 3, "+il", 4),
        (8, 3, "+is", 9),
        (16, 1, "+il", 1),
    ] {
        let whole = Img {
            rows: 37,
            cols: 41,
            frames: 1,
            spp,
            stored,
        };
        let all = whole.values();
        let per_line = usize::from(whole.cols) * usize::from(spp);
        let mut data = Vec::new();
        let mut head: Option<Vec<u8>> = None;
        for (k, lines) in all.chunks(per_line * usize::from(interval)).enumerate() {
            let rows = (lines.len() / per_line) as u16;
            let src = dir.path().join(format!("strip{k}.dcm"));
            let out = dir.path().join(format!("strip{k}.jls.dcm"));
            let strip = Img { rows, ..whole };
            strip.write_values(&src, lines);
            if !tool("dcmcjpls", &[ilv], &src, &out) {
                return skip();
            }
            let cs = codestream(&out);
            let ms = markers(&cs);
            let sos = ms.iter().find(|m| m.0 == 0xDA).unwrap().1;
            let eoi = ms.iter().find(|m| m.0 == 0xD9).unwrap().1;
            let sos_len = usize::from(u16::from_be_bytes([cs[sos + 2], cs[sos + 3]]));
            if head.is_none() {
                // SOI .. SOS header with the height patched to the whole image, DRI inserted.
                let mut h = cs[..sos].to_vec();
                let sof = ms.iter().find(|m| m.0 == 0xF7).unwrap().1;
                h[sof + 5..sof + 7].copy_from_slice(&whole.rows.to_be_bytes());
                h.extend([0xFF, 0xDD, 0, 4]);
                h.extend(interval.to_be_bytes());
                h.extend(&cs[sos..sos + 2 + sos_len]);
                head = Some(h);
            } else {
                data.extend([0xFF, 0xD0 + ((k - 1) % 8) as u8]);
            }
            data.extend(&cs[sos + 2 + sos_len..eoi]);
        }
        let mut cs = head.unwrap();
        cs.extend(data);
        cs.extend([0xFF, 0xD9]);
        let path = dir.path().join("restart.dcm");
        whole.write_encapsulated(&path, &cs);
        let want: Vec<f64> = all.into_iter().map(f64::from).collect();
        let got = pixels(&path).unwrap_or_else(|e| panic!("interval {interval}: {e}"));
        assert!(
            got == want,
            "{stored} bits, {spp} samples, {ilv}, interval {interval}"
        );
        // A missing restart marker is an error.
        let rst = cs.windows(2).position(|w| w == [0xFF, 0xD0]).unwrap();
        let mut bad = cs.clone();
        bad[rst + 1] = 0xD3;
        whole.write_encapsulated(&path, &bad);
        assert!(
            pixels(&path).is_err(),
            "out-of-order restart marker accepted"
        );
    }
}

/// Every cut of the codestream is an error; flipped bytes decode or fail, never panic, and
/// never hang.
#[test]
fn damaged_and_truncated_codestreams_are_clean_errors() {
    let dir = tempfile::tempdir().unwrap();
    let mut files: Vec<PathBuf> = Vec::new();
    let fixtures = bomdata_testdata::require_fixtures().join("dicom");
    for (k, (name, opts)) in [
        ("MR_small.dcm", &["+il"][..]),
        ("SC_rgb_small_odd.dcm", &["+is"][..]),
        ("nibabel_0.dcm", &["+en", "+md", "2"][..]),
    ]
    .into_iter()
    .enumerate()
    {
        let out = dir.path().join(format!("d{k}.dcm"));
        if !tool("dcmcjpls", opts, &fixtures.join(name), &out) {
            return skip();
        }
        files.push(out);
    }
    let bad = dir.path().join("bad.dcm");
    for good_path in &files {
        let good = std::fs::read(good_path).unwrap();
        let cs = codestream(good_path);
        let start = good.windows(cs.len()).position(|w| w == cs).unwrap();
        // Every cut inside the codestream, the fragment length kept: the data ends early.
        let step = (cs.len() / 100).max(1);
        for cut in (2..cs.len() - 2).step_by(step) {
            let mut b = good.clone();
            for x in &mut b[start + cut..start + cs.len()] {
                *x = 0;
            }
            std::fs::write(&bad, &b).unwrap();
            assert!(pixels(&bad).is_err(), "{good_path:?} zeroed from {cut}");
            std::fs::write(&bad, &good[..start + cut]).unwrap();
            let r = bomdata_dicom::probe::probe(&bad, &ProbeOptions::default());
            assert!(r.is_err(), "{good_path:?} cut at {cut}");
        }
        for p in (start..start + cs.len()).step_by((cs.len() / 150).max(1)) {
            for flip in [0x01, 0xFF] {
                let mut b = good.clone();
                b[p] ^= flip;
                std::fs::write(&bad, &b).unwrap();
                let _ = pixels(&bad);
            }
        }
    }
}

/// A header claiming a huge image over a few bytes of scan data fails without allocating the
/// image: the decoder grows its output line by line.
#[test]
fn header_sized_claims_allocate_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let img = Img {
        rows: 65535,
        cols: 65535,
        frames: 1,
        spp: 1,
        stored: 16,
    };
    let cs = [
        0xFF, 0xD8, 0xFF, 0xF7, 0, 11, 16, 0xFF, 0xFF, 0xFF, 0xFF, 1, 1, 0x11, 0, 0xFF, 0xDA, 0, 8,
        1, 1, 0, 0, 0, 0, 0x12, 0x34, 0xFF, 0xD9,
    ];
    let path = dir.path().join("huge.dcm");
    img.write_encapsulated(&path, &cs);
    let e = pixels(&path).unwrap_err();
    assert!(e.contains("jpeg-ls frame 0"), "{e}");
}
