//! Every NIfTI file in the fixture corpus (`tests/fixtures/nifti`), probed and compared with nibabel's answer
//! (`*.expected.json`). A file that cannot be read fails the test.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use std::path::Path;

use bomdata_format_core::ProbeOptions;
use serde_json::Value;

fn num(v: &Value) -> f64 {
    match v {
        Value::Number(n) => n.as_f64().unwrap(),
        Value::String(s) if s == "NaN" => f64::NAN,
        Value::String(s) if s == "Infinity" => f64::INFINITY,
        Value::String(s) if s == "-Infinity" => f64::NEG_INFINITY,
        other => panic!("not a number: {other}"),
    }
}

fn close(a: f64, b: f64, rel: f64) -> bool {
    if a.is_nan() || b.is_nan() {
        return a.is_nan() && b.is_nan();
    }
    a == b || (a - b).abs() <= rel * a.abs().max(b.abs()).max(1.0)
}

fn check_close(errs: &mut Vec<String>, what: &str, got: &Value, want: &Value, rel: f64) {
    match (got, want) {
        (Value::Array(g), Value::Array(w)) => {
            if g.len() != w.len() {
                errs.push(format!("{what}: length {} vs {}", g.len(), w.len()));
                return;
            }
            for (i, (g, w)) in g.iter().zip(w).enumerate() {
                check_close(errs, &format!("{what}[{i}]"), g, w, rel);
            }
        }
        _ => {
            let (g, w) = (num(got), num(want));
            if !close(g, w, rel) {
                errs.push(format!("{what}: got {g} want {w}"));
            }
        }
    }
}

/// numpy dtype string (`int16`, `>f4`, `<u2`) to the probe name.
fn numpy_name(s: &str) -> String {
    let s = s.trim_start_matches(['<', '>', '|', '=']);
    let map = [
        ("i1", "int8"),
        ("u1", "uint8"),
        ("i2", "int16"),
        ("u2", "uint16"),
        ("i4", "int32"),
        ("u4", "uint32"),
        ("i8", "int64"),
        ("u8", "uint64"),
        ("f4", "float32"),
        ("f8", "float64"),
        ("f16", "float128"),
        ("c8", "complex64"),
        ("c16", "complex128"),
        ("c32", "complex256"),
    ];
    map.iter()
        .find(|(k, _)| *k == s)
        .map(|(_, v)| v.to_string())
        .unwrap_or_else(|| s.to_string())
}

fn check_file(path: &Path, want: &Value) -> Vec<String> {
    let mut errs = Vec::new();
    let voxels = want["voxels"].as_array().cloned().unwrap_or_default();
    let at: Vec<Vec<u64>> = voxels
        .iter()
        .map(|v| {
            v["index"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| i.as_u64().unwrap())
                .collect()
        })
        .collect();
    let opts = ProbeOptions {
        at,
        ..Default::default()
    };
    let got = match bomdata_nifti::probe::probe(path, &opts) {
        Ok(v) => v,
        Err(e) => return vec![format!("cannot read: {e}")],
    };
    assert_eq!(got["format"], "nifti");
    assert_eq!(got["path"], path.display().to_string());
    for key in [
        "nifti_version",
        "byte_order",
        "gzipped",
        "datatype_code",
        "shape",
        "xyzt_units",
        "qform_code",
        "sform_code",
    ] {
        if got[key] != want[key] {
            errs.push(format!("{key}: got {} want {}", got[key], want[key]));
        }
    }
    let dtype = numpy_name(want["dtype_on_disk"].as_str().unwrap());
    if got["dtype"] != dtype.as_str() {
        errs.push(format!("dtype: got {} want {dtype}", got["dtype"]));
    }
    check_close(&mut errs, "zooms", &got["zooms"], &want["zooms"], 1e-12);
    check_close(
        &mut errs,
        "affine",
        &got["affine"],
        &want["best_affine_nibabel"],
        1e-9,
    );
    check_close(
        &mut errs,
        "qform_affine",
        &got["qform_affine"],
        &want["qform_affine"],
        1e-9,
    );
    check_close(
        &mut errs,
        "sform_affine",
        &got["sform_affine"],
        &want["sform_affine"],
        1e-12,
    );
    let sc = &want["scaling_applied_by_nibabel"];
    check_close(&mut errs, "scl_slope", &got["scl_slope"], &sc["slope"], 0.0);
    check_close(&mut errs, "scl_inter", &got["scl_inter"], &sc["inter"], 0.0);
    check_text_and_extensions(&mut errs, &got, want);
    let (gs, ws) = (&got["stats"], &want["stats_scaled_float64"]);
    for key in ["n", "n_nonfinite"] {
        if gs[key] != ws[key] {
            errs.push(format!("stats.{key}: got {} want {}", gs[key], ws[key]));
        }
    }
    for key in ["sum", "mean", "std", "min", "max"] {
        check_close(&mut errs, &format!("stats.{key}"), &gs[key], &ws[key], 1e-9);
    }
    let gv = got["values"].as_array().unwrap();
    for (g, w) in gv.iter().zip(&voxels) {
        if g["index"] != w["index"] {
            errs.push(format!("values index {} vs {}", g["index"], w["index"]));
        }
        check_close(
            &mut errs,
            &format!("value at {}", w["index"]),
            &g["value"],
            &w["scaled"],
            1e-12,
        );
    }
    errs
}

/// The text fields (up to the first NUL) and the extension (code, size) list.
fn check_text_and_extensions(errs: &mut Vec<String>, got: &Value, want: &Value) {
    // PROBE.md: text up to the first NUL (nibabel's raw field keeps what follows a NUL).
    let raw = &want["header_raw_fields"];
    for key in ["descrip", "aux_file", "intent_name"] {
        let w = raw[key]
            .as_str()
            .unwrap_or("")
            .split('\0')
            .next()
            .unwrap_or("");
        if got[key] != w {
            errs.push(format!("{key}: got {} want {w:?}", got[key]));
        }
    }
    let ext_got: Vec<(i64, i64)> = got["extensions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["code"].as_i64().unwrap(), e["size"].as_i64().unwrap()))
        .collect();
    let ext_want: Vec<(i64, i64)> = want["extensions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["code"].as_i64().unwrap(),
                e["size_on_disk"].as_i64().unwrap(),
            )
        })
        .collect();
    if ext_got != ext_want {
        errs.push(format!("extensions: got {ext_got:?} want {ext_want:?}"));
    }
}

fn check_dir(dir: &Path) {
    let files = bomdata_testdata::files::with_expected(dir, |p| {
        let s = p.to_string_lossy();
        !s.ends_with(".expected.json") && !s.ends_with(".md") && p.is_file()
    });
    assert!(!files.is_empty(), "no NIfTI fixtures in {}", dir.display());
    let mut failures = Vec::new();
    for (path, text) in &files {
        assert_eq!(
            bomdata_nifti::probe::detect(path),
            Some("nifti"),
            "{}",
            path.display()
        );
        let want: Value = serde_json::from_str(text).unwrap();
        for e in check_file(path, &want) {
            failures.push(format!("{}: {e}", path.display()));
        }
    }
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn every_nifti_fixture_matches_nibabel() {
    check_dir(&bomdata_testdata::require_fixtures().join("nifti"));
}

#[test]
fn committed_nifti_fixtures_match_nibabel() {
    check_dir(&bomdata_testdata::repo_data().join("nifti"));
}
