//! Compressed transfer syntaxes against an independent encoder: each native fixture is
//! re-encoded by DCMTK (`dcmcrle`, `dcmcjpeg`, `dcmcjpls`; Debian package `dcmtk`) and must
//! probe to the same values (lossless) or close ones (baseline). Skipped with a message without
//! DCMTK. JPEG-LS has its own file, `jpegls.rs`.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use std::path::Path;
use std::process::Command;

use bomdata_format_core::ProbeOptions;
use serde_json::Value;

const LOSSLESS_FIXTURES: [&str; 5] = [
    "CT_small.dcm",
    "MR_small.dcm",
    "SC_rgb_small_odd.dcm",
    "nibabel_0.dcm",
    "MR_small_expb.dcm",
];

fn probe(path: &Path) -> Value {
    let at = vec![vec![0, 0], vec![1, 2], vec![2, 1]];
    let colour = bomdata_dicom::probe::probe(path, &ProbeOptions::default()).unwrap()["samples_per_pixel"]
        == 3;
    let at = at.into_iter().map(|mut v| {
        if colour {
            v.push(1);
        }
        v
    });
    bomdata_dicom::probe::probe(
        path,
        &ProbeOptions {
            at: at.collect(),
            ..Default::default()
        },
    )
    .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn encode(tool: &str, args: &[&str], from: &Path, to: &Path) -> bool {
    match Command::new(tool).args(args).arg(from).arg(to).output() {
        Ok(o) => {
            assert!(
                o.status.success(),
                "{tool} {from:?}: {}",
                String::from_utf8_lossy(&o.stderr)
            );
            true
        }
        Err(_) => false,
    }
}

#[allow(clippy::print_stderr)] // the skip is said where the test output shows it
fn skip(tool: &str) {
    eprintln!("{tool} is absent (Debian package dcmtk): comparison skipped");
}

#[test]
fn rle_and_jpeg_lossless_equal_the_native_file() {
    let dir = tempfile::tempdir().unwrap();
    let fixtures = bomdata_testdata::require_fixtures().join("dicom");
    for name in LOSSLESS_FIXTURES {
        let src = fixtures.join(name);
        let want = probe(&src);
        for (tool, args, uid) in [
            ("dcmcrle", &[][..], "1.2.840.10008.1.2.5"),
            ("dcmcjpeg", &[][..], "1.2.840.10008.1.2.4.70"),
            ("dcmcjpeg", &["+el"][..], "1.2.840.10008.1.2.4.57"),
        ] {
            if tool == "dcmcjpeg" && !cfg!(feature = "jpeg") {
                continue;
            }
            let out = dir.path().join(format!("{tool}{}_{name}", args.len()));
            if !encode(tool, args, &src, &out) {
                return skip(tool);
            }
            let got = probe(&out);
            assert_eq!(got["transfer_syntax_uid"], uid, "{name} {tool}");
            assert_eq!(got["stats"], want["stats"], "{name} {tool}");
            assert_eq!(got["values"], want["values"], "{name} {tool}");
        }
    }
}

#[cfg(feature = "jpeg")]
#[test]
fn jpeg_baseline_is_close_to_the_native_file() {
    let dir = tempfile::tempdir().unwrap();
    let fixtures = bomdata_testdata::require_fixtures().join("dicom");
    for name in ["SC_rgb_small_odd.dcm", "SC_ybr_full_422_uncompressed.dcm"] {
        let src = fixtures.join(name);
        let out = dir.path().join(format!("eb_{name}"));
        if !encode("dcmcjpeg", &["+eb", "+q", "95"], &src, &out) {
            return skip("dcmcjpeg");
        }
        let (want, got) = (probe(&src), probe(&out));
        assert_eq!(got["transfer_syntax_uid"], "1.2.840.10008.1.2.4.50");
        assert_eq!(got["stats"]["n"], want["stats"]["n"]);
        let (m0, m1) = (
            want["stats"]["mean"].as_f64().unwrap(),
            got["stats"]["mean"].as_f64().unwrap(),
        );
        assert!((m0 - m1).abs() < 3.0, "{name}: mean {m1} vs {m0}");
    }
}

/// Every decoded sample (before the modality LUT) of a DICOM file.
#[cfg(feature = "jpeg")]
fn pixels(path: &Path) -> Vec<f64> {
    let f = bomdata_dicom::open(path).unwrap();
    let img = bomdata_dicom::Image::from_file(&f).unwrap();
    bomdata_dicom::decode(&f, &img).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// JPEG extended with 12-bit samples (process 4), which `jpeg-decoder` lacks: grey images
/// through the crate's own decoder, equal to DCMTK's decode (`dcmdjpeg`: the same integer
/// IDCT) sample for sample; colour is refused by name.
#[cfg(feature = "jpeg")]
#[test]
fn jpeg_extended_12_bit_equals_dcmtk_decode() {
    let dir = tempfile::tempdir().unwrap();
    let fixtures = bomdata_testdata::require_fixtures().join("dicom");
    for name in ["nibabel_0.dcm", "MR_small.dcm", "CT_small.dcm"] {
        for q in ["75", "90", "100"] {
            let out = dir.path().join(format!("ee{q}_{name}"));
            let back = dir.path().join(format!("ee{q}_back_{name}"));
            if !encode(
                "dcmcjpeg",
                &["+ee", "+bt", "+q", q],
                &fixtures.join(name),
                &out,
            ) || !encode("dcmdjpeg", &[], &out, &back)
            {
                return skip("dcmcjpeg");
            }
            assert_eq!(
                probe(&out)["transfer_syntax_uid"],
                "1.2.840.10008.1.2.4.51",
                "{name}"
            );
            let (got, want) = (pixels(&out), pixels(&back));
            assert!(got == want, "{name} q{q}: differs from dcmdjpeg");
        }
    }
    let src = fixtures.join("SC_rgb_small_odd.dcm");
    let out = dir.path().join("ee12rgb.dcm");
    assert!(encode("dcmcjpeg", &["+ee", "+bt"], &src, &out));
    let e = bomdata_dicom::probe::probe(&out, &ProbeOptions::default()).unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::Unsupported, "{e}");
    assert!(
        e.to_string()
            .contains("unsupported transfer syntax 1.2.840.10008.1.2.4.51"),
        "{e}"
    );
    // The 8-bit extended process still goes through jpeg-decoder.
    let out = dir.path().join("ee8.dcm");
    assert!(encode("dcmcjpeg", &["+ee"], &src, &out));
    assert_eq!(probe(&out)["transfer_syntax_uid"], "1.2.840.10008.1.2.4.51");
}

/// Cuts and flipped bytes of 12-bit JPEG frames: errors, never panics.
#[cfg(feature = "jpeg")]
#[test]
fn damaged_12_bit_jpeg_is_a_clean_error() {
    let dir = tempfile::tempdir().unwrap();
    let src = bomdata_testdata::require_fixtures().join("dicom/MR_small.dcm");
    let out = dir.path().join("j12.dcm");
    if !encode("dcmcjpeg", &["+ee", "+bt"], &src, &out) {
        return skip("dcmcjpeg");
    }
    damage(&out, dir.path());
}

#[test]
fn damaged_jpeg_is_a_clean_error() {
    let dir = tempfile::tempdir().unwrap();
    let src = bomdata_testdata::require_fixtures().join("dicom/SC_rgb_small_odd.dcm");
    for (k, args) in [&[][..], &["+eb"][..]].into_iter().enumerate() {
        let out = dir.path().join(format!("j{k}.dcm"));
        if !encode("dcmcjpeg", args, &src, &out) {
            return skip("dcmcjpeg");
        }
        damage(&out, dir.path());
    }
}

/// Every cut of the last 400 bytes is refused; flipped bytes decode or are refused, never panic.
fn damage(out: &Path, dir: &Path) {
    {
        let good = std::fs::read(out).unwrap();
        let bad = dir.join("bad.dcm");
        for cut in (good.len() - 400..good.len()).step_by(3) {
            std::fs::write(&bad, &good[..cut]).unwrap();
            assert!(
                bomdata_dicom::probe::probe(&bad, &ProbeOptions::default()).is_err(),
                "cut at {cut}"
            );
        }
        for p in good.len() - 300..good.len() {
            let mut b = good.clone();
            b[p] ^= 0x5A;
            std::fs::write(&bad, &b).unwrap();
            let _ = bomdata_dicom::probe::probe(&bad, &ProbeOptions::default());
        }
    }
}

#[cfg(feature = "jpeg2000")]
#[test]
fn damaged_jpeg_2000_is_a_clean_error() {
    let dir = tempfile::tempdir().unwrap();
    let src = bomdata_testdata::require_fixtures().join("dicom/MR_small.dcm");
    let out = dir.path().join("j.dcm");
    if !encode("gdcmconv", &["--j2k"], &src, &out) {
        return skip("gdcmconv (Debian package libgdcm-tools)");
    }
    damage(&out, dir.path());
}

#[cfg(feature = "jpeg2000")]
#[test]
fn jpeg_2000_from_gdcm_equals_the_native_file() {
    let dir = tempfile::tempdir().unwrap();
    let fixtures = bomdata_testdata::require_fixtures().join("dicom");
    // (gdcmconv crashes on the 3×3 RGB fixture; the YBR_FULL_422 one covers colour.)
    for name in [
        "CT_small.dcm",
        "MR_small.dcm",
        "nibabel_0.dcm",
        "SC_ybr_full_422_uncompressed.dcm",
    ] {
        let src = fixtures.join(name);
        let out = dir.path().join(format!("j2k_{name}"));
        if !encode("gdcmconv", &["--j2k"], &src, &out) {
            return skip("gdcmconv (Debian package libgdcm-tools)");
        }
        let (want, got) = (probe(&src), probe(&out));
        assert_eq!(
            got["transfer_syntax_uid"], "1.2.840.10008.1.2.4.90",
            "{name}"
        );
        assert_eq!(got["stats"], want["stats"], "{name}");
        assert_eq!(got["values"], want["values"], "{name}");
    }
    let src = fixtures.join("MR_small.dcm");
    let out = dir.path().join("lossy.dcm");
    assert!(encode(
        "gdcmconv",
        &["--j2k", "--lossy", "-q", "50"],
        &src,
        &out
    ));
    let (want, got) = (probe(&src), probe(&out));
    assert_eq!(got["transfer_syntax_uid"], "1.2.840.10008.1.2.4.91");
    let (m0, m1) = (
        want["stats"]["mean"].as_f64().unwrap(),
        got["stats"]["mean"].as_f64().unwrap(),
    );
    assert!((m0 - m1).abs() < 0.1 * m0, "lossy mean {m1} vs {m0}");
}
