//! The `meg` profile against MNE (`python/meg/reference.py`): the script builds a canonical
//! eeg/1 sample from the Vectorview FIF fixture (12 s, every channel type, head-frame sensor
//! geometry) and the MNE windows of each case (`RawArray.pick` → `filter`/`notch_filter`/
//! `resample` with default arguments → trims → windows). Every output channel of every window
//! must equal the reference within 1e-4 of that channel's peak in the window, the window starts
//! and channel names must agree, and `meta.json` must carry each channel's type, unit and sensor
//! geometry as given in the canonical sample.

#![allow(clippy::unwrap_used, clippy::print_stderr)] // test code: a panic is the failure report

use bomdata_profiles::{Params, registry};
use bomdata_shard::Sample;
use bomdata_shard::npy;
mod common;
use common::{canonical, f64s, reference_cases};
use serde_json::Value;

#[test]
fn meg_profile_matches_mne() {
    let _ = bomdata_testdata::require_fixtures();
    let (_out, cases) = reference_cases(
        "python/meg/reference.py",
        &bomdata_testdata::workspace_root(),
    );
    assert_eq!(cases.len(), 4, "every case");
    let mut total = 0;
    for dir in &cases {
        let case = dir.file_name().unwrap().to_string_lossy().to_string();
        let spec: Value =
            serde_json::from_slice(&std::fs::read(dir.join("params.json")).unwrap()).unwrap();
        let params: Params = spec["params"].as_object().cloned().unwrap_or_default();
        let prof = registry::create("meg", &params).unwrap();
        let input: Value =
            serde_json::from_slice(&std::fs::read(dir.join("meta.json")).unwrap()).unwrap();
        let by_name: std::collections::HashMap<&str, &Value> = input["channels"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| (c["name"].as_str().unwrap(), c))
            .collect();
        let t0 = std::time::Instant::now();
        let applied = prof.apply(canonical(dir, "fx_s1_meg_000000")).unwrap();
        let took = t0.elapsed();
        let r: Value =
            serde_json::from_slice(&std::fs::read(dir.join("ref.json")).unwrap()).unwrap();
        let starts = r["starts"].as_array().unwrap();
        assert_eq!(
            applied.samples.len(),
            starts.len(),
            "{case}: window count; rejected {:?}",
            applied.rejected
        );
        assert!(
            applied.rejected.is_empty(),
            "{case}: {:?}",
            applied.rejected
        );
        let mut worst = 0f64;
        for (i, (s, start)) in applied.samples.iter().zip(starts).enumerate() {
            let meta: Value = serde_json::from_slice(&s.member("meta.json").unwrap().data).unwrap();
            assert_eq!(meta["schema"], "meg-window/1");
            assert_eq!(&meta["start_sample"], start, "{case}: window {i} start");
            assert_eq!(meta["channel_names"], r["names"], "{case}: channels");
            let names = meta["channel_names"].as_array().unwrap();
            for (k, n) in names.iter().enumerate() {
                let c = by_name[n.as_str().unwrap()];
                assert_eq!(meta["channel_types"][k], c["type"], "{case}: type of {n}");
                assert_eq!(meta["units"][k], c["unit"], "{case}: unit of {n}");
                assert_eq!(meta["sensors"][k], c["sensor"], "{case}: sensor of {n}");
                assert_eq!(meta["xyz_mm"][k], c["xyz_mm"], "{case}: xyz of {n}");
            }
            let (shape, got) = f64s(&s.member("meg.npy").unwrap().data);
            let (rshape, want) = f64s(&std::fs::read(dir.join(format!("win_{i:06}.npy"))).unwrap());
            assert_eq!(shape, rshape, "{case}: window {i} shape");
            let t = shape[1];
            for (ch, (g, w)) in got.chunks(t).zip(want.chunks(t)).enumerate() {
                let peak = w.iter().fold(0f64, |a, v| a.max(v.abs()));
                let err = g.iter().zip(w).fold(0f64, |a, (x, y)| a.max((x - y).abs()));
                let rel = if peak > 0.0 { err / peak } else { err };
                worst = worst.max(rel);
                assert!(
                    rel <= 1e-4,
                    "{case}: window {i} channel {}: max error {err:e} vs peak {peak:e} ({rel:e})",
                    names[ch]
                );
            }
        }
        total += applied.samples.len();
        eprintln!(
            "{case}: {} windows of {:?}, worst error per channel peak {worst:e} ({took:.2?})",
            applied.samples.len(),
            applied
                .samples
                .first()
                .map(|s| f64s(&s.member("meg.npy").unwrap().data).0)
        );
    }
    assert!(total >= 20, "windows compared: {total}");
}

#[test]
fn meg_profile_rejects_recordings_without_meg() {
    let prof = registry::create("meg", &Params::new()).unwrap();
    let meta = serde_json::json!({
        "schema": "eeg/1", "modality": "eeg", "sampling_rate": 100.0, "n_samples": 10,
        "channels": [{"name": "CZ", "original_name": "Cz", "type": "eeg", "unit": "uV",
                      "xyz_mm": [null, null, null]}],
        "reference": {"kind": "unknown"},
        "chunk": {"index": 0, "count": 1, "offset_s": 0.0, "duration_s": 0.1},
        "annotations": [], "provenance": null
    });
    let s = Sample::new("k")
        .with("signal.npy", npy::encode_f32(&[1, 10], &[0.0; 10]))
        .with("meta.json", serde_json::to_vec(&meta).unwrap());
    let a = prof.apply(s).unwrap();
    assert!(a.samples.is_empty());
    assert!(
        a.rejected[0].to_string().contains("no MEG channels"),
        "{:?}",
        a.rejected
    );
    let bad: Params = serde_json::from_str(r#"{"picks": "eeg"}"#).unwrap();
    assert!(registry::create("meg", &bad).is_err());
}
