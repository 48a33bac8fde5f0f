//! Issue 19 item 6: the `pet` profile (frames summed over a window from injection, SUV) through
//! `bomdata ingest` + `bomdata shard --profile pet`, against the NumPy reference
//! `python/pet/pet_reference.py` (within 1e-5 relative):
//!
//! - a BIDS tree (`openneuro` source) of 4-D float32 PET NIfTI with full sidecars: decay
//!   corrected to scan start (injection 100 s before), not decay corrected, no body weight, and
//!   a scan that ends before the window; the window straddles frame edges, so the overlap
//!   weighting is exercised;
//! - a generic DICOM folder (`dicom` source) of dynamic PET series (`PT`, AcquisitionTime,
//!   ActualFrameDuration, RadiopharmaceuticalInformationSequence, PatientWeight, Units,
//!   DecayCorrection `START` and `NONE`): the canonical `meta.json` has the frame timing and
//!   PET facts the headers say, and the profile's output equals the reference run on the
//!   canonical volume with the equivalent BIDS sidecar.
//!
//! Refusals: SUV without a body weight and a window no frame covers are rejected by name.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Output;

use bomdata_shard::reader::ShardReader;
use bomdata_shard::{dataset, npy};
use bomdata_testdata::dicom::{PetHeaders, Series, write_series};
use bomdata_testdata::files::put;
use bomdata_testdata::nifti::nifti_f32_bytes;
use bomdata_tests::bomdata;
use serde_json::{Value, json};

const SHAPE: [usize; 4] = [4, 3, 2, 9];
/// Frame starts from TimeZero; with InjectionStart −100 s the amyloid window (3000–4200 s from
/// injection) takes 70 s of frame 3, frames 4–6 whole and 230 s of frame 7.
const STARTS: [f64; 9] = [
    0.0, 300.0, 900.0, 1800.0, 2970.0, 3270.0, 3570.0, 3870.0, 4170.0,
];
const DURS: [f64; 9] = [
    300.0, 600.0, 900.0, 1170.0, 300.0, 300.0, 300.0, 300.0, 600.0,
];

/// Voxel (x, y, z) of frame t: a time-activity curve that rises then washes out, scaled per
/// voxel (x fastest in the file).
fn activity(x: usize, y: usize, z: usize, t: usize) -> f32 {
    let tac = [0.5, 3.0, 6.0, 5.0, 4.2, 4.0, 3.9, 3.7, 3.4][t];
    (tac * (1.0 + x as f64 * 0.25 + y as f64 * 0.5 + z as f64 * 0.125) * 1.7) as f32
}

fn pet_nifti(root: &Path, rel: &str, sidecar: &Value) {
    let [nx, ny, nz, nt] = SHAPE;
    let mut v = Vec::with_capacity(nx * ny * nz * nt);
    for t in 0..nt {
        for z in 0..nz {
            for y in 0..ny {
                for x in 0..nx {
                    v.push(activity(x, y, z, t));
                }
            }
        }
    }
    let shape: Vec<u64> = SHAPE.iter().map(|&d| d as u64).collect();
    put(root, rel, nifti_f32_bytes(&shape, &v, true));
    let json = rel.replace(".nii.gz", ".json");
    put(root, &json, serde_json::to_vec_pretty(sidecar).unwrap());
}

fn sidecar(overrides: Value) -> Value {
    let mut s = json!({
        "FrameTimesStart": STARTS,
        "FrameDuration": DURS,
        "InjectionStart": -100.0,
        "Units": "kBq/mL",
        "InjectedRadioactivity": 370.0,
        "InjectedRadioactivityUnits": "MBq",
        "BodyWeight": 72.5,
        "ImageDecayCorrected": true,
        "ImageDecayCorrectionTime": 0.0,
        "TracerRadionuclide": "F18",
    });
    for (k, v) in overrides.as_object().unwrap() {
        if v.is_null() {
            s.as_object_mut().unwrap().remove(k);
        } else {
            s[k] = v.clone();
        }
    }
    s
}

/// Samples of a dataset by key: (meta.json, volume.npy bytes).
fn samples(ds: &Path) -> BTreeMap<String, (Value, Vec<u8>)> {
    let m = dataset::read_manifest(ds).unwrap();
    let mut out = BTreeMap::new();
    for e in &m.shards {
        for s in ShardReader::open(ds, e).unwrap() {
            let s = s.unwrap();
            let meta = serde_json::from_slice(&s.member("meta.json").unwrap().data).unwrap();
            let vol = s.member("volume.npy").unwrap().data.clone();
            out.insert(s.key.clone(), (meta, vol));
        }
    }
    out
}

fn values(npy_bytes: &[u8]) -> (Vec<usize>, Vec<f64>) {
    let v = npy::decode(npy_bytes).unwrap();
    let vals = match v.dtype {
        npy::Dtype::F32 => v
            .data
            .chunks_exact(4)
            .map(|c| f64::from(f32::from_le_bytes(c.try_into().unwrap())))
            .collect(),
        npy::Dtype::F64 => v
            .data
            .chunks_exact(8)
            .map(|c| f64::from_le_bytes(c.try_into().unwrap()))
            .collect(),
        other => panic!("unexpected dtype {other:?}"),
    };
    (v.shape.clone(), vals)
}

/// Runs the reference; `Err(stderr)` when it refuses.
fn reference(dir: &Path, image: &Path, side: &Value, params: &Value) -> Result<Vec<f64>, String> {
    let py = bomdata_testdata::require_python();
    let script = bomdata_testdata::workspace_root().join("python/pet/pet_reference.py");
    let n = std::fs::read_dir(dir).unwrap().count();
    let (sp, pp, out) = (
        dir.join(format!("side{n}.json")),
        dir.join(format!("params{n}.json")),
        dir.join(format!("ref{n}.npy")),
    );
    std::fs::write(&sp, side.to_string()).unwrap();
    std::fs::write(&pp, params.to_string()).unwrap();
    let o = std::process::Command::new(py)
        .arg(&script)
        .args([image, &sp, &pp, &out])
        .output()
        .unwrap();
    if o.status.code() == Some(3) {
        return Err(String::from_utf8_lossy(&o.stderr).into_owned());
    }
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    Ok(values(&std::fs::read(&out).unwrap()).1)
}

fn assert_close(what: &str, ours: &[f64], want: &[f64]) {
    assert_eq!(ours.len(), want.len(), "{what}");
    let scale = want.iter().fold(0f64, |m, v| m.max(v.abs()));
    for (i, (a, b)) in ours.iter().zip(want).enumerate() {
        let tol = 1e-5 * b.abs().max(1e-3 * scale);
        assert!((a - b).abs() <= tol, "{what}: voxel {i}: {a} vs {b}");
    }
}

fn shard(ds: &Path, out: &Path, params: &[(&str, String)]) -> Output {
    let mut args = vec!["shard", "--seed", "1", "--profile", "pet"];
    let kv: Vec<String> = params.iter().map(|(k, v)| format!("{k}={v}")).collect();
    for p in &kv {
        args.push("--param");
        args.push(p);
    }
    args.push("--out");
    bomdata(&args, &[out, ds])
}

/// The profile's parameters as `--param` pairs and as the reference's JSON.
fn both(p: &Value) -> Vec<(&str, String)> {
    p.as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| {
            (
                k.as_str(),
                v.as_str().map_or_else(|| v.to_string(), String::from),
            )
        })
        .collect()
}

#[test]
fn pet_profile_on_bids_matches_numpy_reference() {
    let d = tempfile::tempdir().unwrap();
    let src = d.path().join("bids");
    put(
        &src,
        "dataset_description.json",
        br#"{"Name": "pet", "BIDSVersion": "1.8.0"}"#,
    );
    let cases: [(&str, Value); 4] = [
        ("01", sidecar(json!({}))),
        (
            "02",
            sidecar(json!({"ImageDecayCorrected": false, "ImageDecayCorrectionTime": null})),
        ),
        ("03", sidecar(json!({"BodyWeight": null}))),
        ("04", sidecar(json!({"InjectionStart": 3000.0}))),
    ];
    let mut images = BTreeMap::new();
    for (sub, side) in &cases {
        let rel = format!("sub-{sub}/pet/sub-{sub}_trc-AV45_pet.nii.gz");
        pet_nifti(&src, &rel, side);
        images.insert(sub.to_string(), (src.join(&rel), side.clone()));
    }
    let ds = d.path().join("ds");
    let o = bomdata(
        &["ingest", "--source", "openneuro", "--jobs", "1", "--out"],
        &[&ds, &src],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let canon = samples(&ds);
    assert_eq!(canon.len(), 4);
    // The canonical meta keeps the sidecar's PET facts.
    let m01 = canon
        .values()
        .find(|(m, _)| m["pet"]["body_weight_kg"] == 72.5)
        .unwrap();
    assert_eq!(m01.0["pet"]["injection_s"], -100.0);
    assert_eq!(m01.0["pet"]["units"], "kBq/mL");
    let work = d.path().join("ref");
    std::fs::create_dir_all(&work).unwrap();
    for (i, params) in [
        json!({"window": "amyloid", "suv": true}),
        json!({"start_s": 2900, "end_s": 4000, "overlap": "inside", "suv": false, "min_coverage": 0.5}),
        json!({"window": "amyloid", "suv": false, "min_coverage": 0}),
    ]
    .iter()
    .enumerate()
    {
        let out = d.path().join(format!("train{i}"));
        let o = shard(&ds, &out, &both(params));
        let stderr = String::from_utf8_lossy(&o.stderr).into_owned();
        assert!(o.status.success(), "{stderr}");
        let got = samples(&out);
        let mut checked = 0;
        for (sub, (image, side)) in &images {
            let want = reference(&work, image, side, params);
            match want {
                Ok(want) => {
                    // Find our sample by comparing its recorded weight / decay facts.
                    let (meta, vol) = got
                        .values()
                        .find(|(m, _)| m["pet"] == canonical_pet(side))
                        .unwrap_or_else(|| panic!("case {i} sub-{sub}: no output sample"));
                    let (shape, ours) = values(vol);
                    assert_eq!(shape, SHAPE[..3].to_vec());
                    assert_close(&format!("case {i} sub-{sub}"), &ours, &want);
                    assert_eq!(meta["profile"]["name"], "pet");
                    assert!(meta.get("frames").is_none());
                    if params["suv"] == true {
                        assert_eq!(meta["profile"]["unit"], "g/mL (SUVbw)");
                        assert_eq!(meta["profile"]["suv"]["dose_bq"], 370e6);
                        assert_eq!(meta["profile"]["suv"]["body_weight_kg"], 72.5);
                    }
                    checked += 1;
                }
                Err(why) => {
                    let expect = if why.contains("weight") {
                        "SUV asked but the body weight is missing"
                    } else {
                        "no frame covers the window"
                    };
                    assert!(stderr.contains(expect) || report_has(&out, expect), "case {i} sub-{sub}: {stderr}");
                }
            }
        }
        assert!(checked >= 2, "case {i}: {checked} samples checked");
    }
}

/// The `pet` object ingest writes for a sidecar (to find a sample by its facts).
fn canonical_pet(side: &Value) -> Value {
    let mut m = serde_json::Map::new();
    for (k, ours) in [
        ("Units", "units"),
        ("InjectedRadioactivity", "injected"),
        ("InjectedRadioactivityUnits", "injected_units"),
        ("BodyWeight", "body_weight_kg"),
        ("InjectionStart", "injection_s"),
        ("ImageDecayCorrected", "decay_corrected"),
        ("ImageDecayCorrectionTime", "decay_reference_s"),
        ("TracerRadionuclide", "radionuclide"),
    ] {
        if let Some(v) = side.get(k) {
            m.insert(ours.into(), v.clone());
        }
    }
    Value::Object(m)
}

/// Whether any report file under `out` (or beside it) mentions `text`.
fn report_has(out: &Path, text: &str) -> bool {
    let mut stack: Vec<PathBuf> = vec![out.to_path_buf()];
    while let Some(p) = stack.pop() {
        if p.is_dir() {
            stack.extend(std::fs::read_dir(&p).unwrap().map(|e| e.unwrap().path()));
        } else if let Ok(s) = std::fs::read_to_string(&p)
            && s.contains(text)
        {
            return true;
        }
    }
    false
}

fn dicom_pet(number: u32, patient: &str, decay: &'static str, weight: Option<f64>) -> Series {
    let mut s = Series::axial(patient, number, "Dynamic_AV45", 2);
    s.modality = "PT";
    s.volumes = 5;
    s.rescale = Some((0.5, 0.0));
    s.pet = Some(PetHeaders {
        series_time_s: 10.0 * 3600.0,
        starts_s: vec![0.0, 300.0, 600.0, 900.0, 1200.0],
        durations_s: vec![300.0; 5],
        injection_time_s: 9.0 * 3600.0 + 10.0 * 60.0,
        dose_bq: Some(3.7e8),
        half_life_s: 6586.2,
        weight_kg: weight,
        decay,
        units: "BQML",
    });
    s
}

#[test]
fn pet_profile_on_dicom_series_matches_numpy_reference() {
    let d = tempfile::tempdir().unwrap();
    let src = d.path().join("dicom");
    let series = [
        dicom_pet(41, "PET-PATIENT-1", "START", Some(68.0)),
        dicom_pet(42, "PET-PATIENT-2", "NONE", Some(81.5)),
        dicom_pet(43, "PET-PATIENT-3", "ADMIN", None),
    ];
    for s in &series {
        let dir = src.join(&s.patient_id);
        write_series(&dir, s, |k, t| format!("IM_{t}_{k}.dcm"));
    }
    let ds = d.path().join("ds");
    let o = bomdata(
        &["ingest", "--source", "dicom", "--jobs", "1", "--out"],
        &[&ds, &src],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let canon = samples(&ds);
    assert_eq!(canon.len(), 3);
    let work = d.path().join("ref");
    std::fs::create_dir_all(&work).unwrap();
    let params = json!({"window": "amyloid", "suv": true});
    let out = d.path().join("train");
    let o = shard(&ds, &out, &both(&params));
    let stderr = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(o.status.success(), "{stderr}");
    let got = samples(&out);
    assert_eq!(got.len(), 2, "{stderr}");
    assert!(
        stderr.contains("SUV asked but the body weight is missing")
            || report_has(&out, "body weight is missing"),
        "{stderr}"
    );
    for (key, (meta, vol)) in &canon {
        let pet = &meta["pet"];
        // Injection 09:10, series 10:00: the frames start 3000 s after injection.
        assert_eq!(pet["injection_s"], -3000.0, "{key}");
        assert_eq!(
            meta["frames"]["starts_s"],
            json!([0.0, 300.0, 600.0, 900.0, 1200.0])
        );
        assert_eq!(meta["frames"]["durations_s"], json!(vec![300.0; 5]));
        assert_eq!(pet["units"], "BQML");
        assert_eq!(pet["half_life_s"], 6586.2);
        let corrected = pet["decay_corrected"].as_bool().unwrap();
        let weight = pet.get("body_weight_kg").cloned();
        let mut side = json!({
            "FrameTimesStart": meta["frames"]["starts_s"],
            "FrameDuration": meta["frames"]["durations_s"],
            "InjectionStart": -3000.0,
            "Units": "Bq/mL",
            "InjectedRadioactivity": 3.7e8,
            "InjectedRadioactivityUnits": "Bq",
            "ImageDecayCorrected": corrected,
            "RadionuclideHalfLife": 6586.2,
        });
        if let Some(w) = weight.filter(|w| !w.is_null()) {
            side["BodyWeight"] = w;
        }
        if corrected {
            // START: the series time (0); ADMIN: the injection.
            side["ImageDecayCorrectionTime"] = pet["decay_reference_s"].clone();
            assert!(pet["decay_reference_s"] == 0.0 || pet["decay_reference_s"] == -3000.0);
        }
        let npy_in = work.join(format!("{key}.npy"));
        std::fs::write(&npy_in, vol).unwrap();
        match reference(&work, &npy_in, &side, &params) {
            Ok(want) => {
                let (m, v) = &got[key];
                let (shape, ours) = values(v);
                assert_eq!(shape, vec![6, 4, 2]);
                assert_close(key, &ours, &want);
                assert_eq!(m["profile"]["window_s"], json!([3000.0, 4200.0]));
                assert!(
                    m["profile"]["suv"]["dose_at_reference_bq"]
                        .as_f64()
                        .unwrap()
                        > 0.0
                );
            }
            Err(why) => {
                assert!(why.contains("weight"), "{why}");
                assert!(!got.contains_key(key));
            }
        }
    }
}
