//! Every DICOM file in the fixture corpus (`tests/fixtures/dicom`), probed and compared with
//! pydicom's answer (`*.expected.json`): transfer syntax, image attributes, geometry, the
//! statistics after the modality LUT and the values at pydicom's indices. Identity attributes must
//! be absent without `show_identity`.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use std::path::Path;

use bomdata_format_core::ProbeOptions;
use serde_json::Value;

fn close(a: f64, b: f64) -> bool {
    a == b || (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0)
}

fn num(v: &Value) -> f64 {
    v.as_f64().unwrap_or(f64::NAN)
}

fn check_same(errs: &mut Vec<String>, what: &str, got: &Value, want: Option<&Value>) {
    let want = want.cloned().unwrap_or(Value::Null);
    let ok = match (got, &want) {
        (Value::Array(g), Value::Array(w)) => {
            g.len() == w.len() && g.iter().zip(w).all(|(g, w)| close(num(g), num(w)))
        }
        (Value::Number(_), Value::Number(_)) => close(num(got), num(&want)),
        _ => *got == want,
    };
    if !ok {
        errs.push(format!("{what}: got {got} want {want}"));
    }
}

fn check_file(path: &Path, want: &Value) -> Vec<String> {
    let mut errs = Vec::new();
    let w = &want["elements"];
    let px = &want["pixel_array"];
    let at: Vec<Vec<u64>> = px["values"]
        .as_array()
        .unwrap()
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
    let got = match bomdata_dicom::probe::probe(path, &opts) {
        Ok(v) => v,
        Err(e) => return vec![format!("probe failed: {e}")],
    };
    check_same(
        &mut errs,
        "transfer_syntax_uid",
        &got["transfer_syntax_uid"],
        want.get("transfer_syntax_uid"),
    );
    let fields = [
        ("modality", "Modality"),
        ("rows", "Rows"),
        ("columns", "Columns"),
        ("samples_per_pixel", "SamplesPerPixel"),
        ("photometric", "PhotometricInterpretation"),
        ("bits_allocated", "BitsAllocated"),
        ("bits_stored", "BitsStored"),
        ("pixel_representation", "PixelRepresentation"),
        ("pixel_spacing", "PixelSpacing"),
        ("slice_thickness", "SliceThickness"),
        ("image_position_patient", "ImagePositionPatient"),
        ("image_orientation_patient", "ImageOrientationPatient"),
    ];
    for (ours, theirs) in fields {
        check_same(&mut errs, ours, &got[ours], w.get(theirs));
    }
    let frames = w.get("NumberOfFrames").cloned().unwrap_or(Value::from(1));
    check_same(&mut errs, "frames", &got["frames"], Some(&frames));
    let lut = &want["modality_lut_applied"]["stats"];
    for k in ["n", "n_nonfinite", "sum", "mean", "std", "min", "max"] {
        check_same(
            &mut errs,
            &format!("stats.{k}"),
            &got["stats"][k],
            lut.get(k),
        );
    }
    let slope = w.get("RescaleSlope").map_or(1.0, num);
    let intercept = w.get("RescaleIntercept").map_or(0.0, num);
    for (g, v) in got["values"]
        .as_array()
        .unwrap()
        .iter()
        .zip(px["values"].as_array().unwrap())
    {
        let expect = Value::from(num(&v["value"]) * slope + intercept);
        check_same(
            &mut errs,
            &format!("value at {}", v["index"]),
            &g["value"],
            Some(&expect),
        );
    }
    let text = got.to_string();
    for k in ["PatientName", "PatientID"] {
        if let Some(Value::String(s)) = w.get(k)
            && !s.is_empty()
            && text.contains(s.as_str())
        {
            errs.push(format!("{k} {s:?} printed without show_identity"));
        }
    }
    errs
}

#[test]
fn every_dicom_fixture_matches_pydicom() {
    let dir = bomdata_testdata::require_fixtures().join("dicom");
    let mut failures = Vec::new();
    let cases = bomdata_testdata::files::with_expected(&dir, |p| {
        p.file_name()
            .is_some_and(|n| n.to_string_lossy().ends_with(".dcm"))
    });
    let n = cases.len();
    for (path, text) in &cases {
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let want: Value = serde_json::from_str(text).unwrap();
        for e in check_file(path, &want) {
            failures.push(format!("{name}: {e}"));
        }
    }
    assert!(n >= 8, "only {n} DICOM fixtures found in {}", dir.display());
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn identity_only_when_asked() {
    let path = bomdata_testdata::require_fixtures().join("dicom/MR_small.dcm");
    let opts = ProbeOptions {
        show_identity: true,
        ..Default::default()
    };
    let v = bomdata_dicom::probe::probe(&path, &opts).unwrap();
    assert_eq!(v["identity"]["PatientName"], "CompressedSamples^MR1");
    assert_eq!(v["identity"]["PatientID"], "4MR1");
    let v = bomdata_dicom::probe::probe(&path, &ProbeOptions::default()).unwrap();
    assert!(v.get("identity").is_none());
}
