//! The EEG profiles against their MNE/SciPy/NumPy re-implementations (`python/eeg/reference.py`)
//! on recordings built from the EDF fixtures, and the window/boundary rules.
//!
//! The Python script reads each fixture with MNE, assigns the profile's channel names to its
//! signals (tiled when the file has fewer), and writes the canonical sample (float32 µV
//! `signal.npy` + eeg/1 `meta.json`) and the reference windows. Every output window must equal
//! the reference within 1e-4 of the window's peak magnitude (max |ref|), window starts and
//! rejections must agree.

#![allow(clippy::unwrap_used, clippy::print_stderr)] // test code: a panic is the failure report

use std::path::Path;

use bomdata_profiles::{Params, registry};
use bomdata_shard::Sample;
use bomdata_shard::npy;
mod common;
use common::{canonical, f64s, reference_cases};
use serde_json::{Value, json};

#[test]
fn profiles_match_python_reference() {
    let fixtures = bomdata_testdata::require_fixtures();
    let (_out, cases) = reference_cases("python/eeg/reference.py", &fixtures);
    assert!(
        cases.len() >= 16,
        "expected every case, got {}",
        cases.len()
    );
    let mut seen_profiles = std::collections::BTreeSet::new();
    let mut total_windows = 0;
    let mut mixed_rejection = false;
    for dir in &cases {
        let case = dir.file_name().unwrap().to_string_lossy().to_string();
        let spec: Value =
            serde_json::from_slice(&std::fs::read(dir.join("params.json")).unwrap()).unwrap();
        let name = spec["profile"].as_str().unwrap();
        seen_profiles.insert(name.to_string());
        let params: Params = spec["params"].as_object().cloned().unwrap_or_default();
        let prof = registry::create(name, &params).unwrap();
        let applied = prof.apply(canonical(dir, "fx_s1_eeg_000000")).unwrap();
        let r: Value =
            serde_json::from_slice(&std::fs::read(dir.join("ref.json")).unwrap()).unwrap();
        if r["rejected_recording"].as_bool() == Some(true) {
            assert!(
                applied.samples.is_empty(),
                "{case}: reference rejects the recording"
            );
            assert_eq!(applied.rejected.len(), 1, "{case}: {:?}", applied.rejected);
            eprintln!(
                "{case}: rejected as in the reference: {}",
                applied.rejected[0]
            );
            continue;
        }
        let wins = r["windows"].as_array().unwrap();
        let kept: Vec<&Value> = wins
            .iter()
            .filter(|w| !w["rejected"].as_bool().unwrap())
            .collect();
        assert_eq!(
            applied.samples.len(),
            kept.len(),
            "{case}: window count; rejected {:?}",
            applied.rejected
        );
        assert_eq!(
            applied.rejected.len(),
            wins.len() - kept.len(),
            "{case}: rejections {:?}",
            applied.rejected
        );
        let mut worst = 0f64;
        for (s, w) in applied.samples.iter().zip(&kept) {
            let i = w["index"].as_u64().unwrap();
            assert_eq!(s.key, format!("fx_s1_eeg_000000_{i:06}"), "{case}");
            let meta: Value = serde_json::from_slice(&s.member("meta.json").unwrap().data).unwrap();
            assert_eq!(meta["start_sample"], w["start"], "{case}: window {i} start");
            let (shape, got) = f64s(&s.member("eeg.npy").unwrap().data);
            let (rshape, want) = f64s(&std::fs::read(dir.join(format!("win_{i:06}.npy"))).unwrap());
            assert_eq!(shape, rshape, "{case}: window {i} shape");
            let peak = want.iter().fold(0f64, |a, v| a.max(v.abs()));
            let err = got
                .iter()
                .zip(&want)
                .fold(0f64, |a, (g, w)| a.max((g - w).abs()));
            let rel = if peak > 0.0 { err / peak } else { err };
            worst = worst.max(rel);
            assert!(
                rel <= 1e-4,
                "{case}: window {i}: max error {err:e} vs peak {peak:e} ({rel:e} relative)"
            );
            if case == "cbramod_noise256" {
                // This case runs the filters on the resampled spectrum (`exec` in the chain).
                let chain = meta["chain"].as_array().unwrap();
                assert!(
                    chain.iter().any(|c| c.get("exec").is_some()),
                    "{case}: {chain:?}"
                );
            }
            assert_eq!(meta["channel_names"].as_array().unwrap().len(), shape[0]);
            assert_eq!(meta["xyz_mm"].as_array().unwrap().len(), shape[0]);
        }
        total_windows += kept.len();
        if wins.iter().any(|w| w.get("max_abs_uv").is_some()) {
            let (n_kept, n_rej) = check_before_rejection(&case, dir, name, &params, wins, &applied);
            mixed_rejection |= n_kept > 0 && n_rej > 0;
        }
        eprintln!(
            "{case}: {} windows, {} rejected, worst relative error {worst:e}",
            kept.len(),
            applied.rejected.len()
        );
    }
    for p in ["cbramod", "labram", "eegpt", "biot", "diver", "generic"] {
        assert!(seen_profiles.contains(p), "no case for {p}");
    }
    assert!(total_windows > 50);
    assert!(
        mixed_rejection,
        "no case where the default rejection rule keeps some windows and rejects others"
    );
}

/// The CBraMod rejection rule at the profile's own settings: the windows before the rule
/// (profile run again without it) equal the reference's, every window's max |x| agrees, and
/// the same windows are rejected. Returns (kept, rejected).
fn check_before_rejection(
    case: &str,
    dir: &Path,
    name: &str,
    params: &Params,
    wins: &[Value],
    applied: &bomdata_profiles::Applied,
) -> (usize, usize) {
    let threshold = registry::create(name, params).unwrap().params()["reject_abs_uv"]
        .as_f64()
        .unwrap();
    let rejected_rust: std::collections::BTreeSet<u64> = applied
        .rejected
        .iter()
        .map(|r| {
            let w = r.split("window ").nth(1).unwrap();
            w.split(':').next().unwrap().parse().unwrap()
        })
        .collect();
    let mut relaxed = params.clone();
    relaxed.insert("reject_abs_uv".into(), Value::Null);
    let all = registry::create(name, &relaxed)
        .unwrap()
        .apply(canonical(dir, "fx_s1_eeg_000000"))
        .unwrap();
    assert_eq!(
        all.samples.len(),
        wins.len(),
        "{case}: windows before the rule"
    );
    let mut worst = 0f64;
    for (s, w) in all.samples.iter().zip(wins) {
        let i = w["index"].as_u64().unwrap();
        let (shape, got) = f64s(&s.member("eeg.npy").unwrap().data);
        let (rshape, want) = f64s(&std::fs::read(dir.join(format!("pre_{i:06}.npy"))).unwrap());
        assert_eq!(shape, rshape, "{case}: window {i} shape before the rule");
        let peak = want.iter().fold(0f64, |a, v| a.max(v.abs()));
        let err = got
            .iter()
            .zip(&want)
            .fold(0f64, |a, (g, w)| a.max((g - w).abs()));
        worst = worst.max(err / peak);
        assert!(
            err <= 1e-4 * peak,
            "{case}: window {i} before the rule: error {err:e} vs peak {peak:e}"
        );
        // max |x| in µV: the output is µV/100.
        let want_max = w["max_abs_uv"].as_f64().unwrap();
        let got_max = 100.0 * got.iter().fold(0f64, |a, v| a.max(v.abs()));
        assert!(
            (got_max - want_max).abs() <= 1e-4 * want_max,
            "{case}: window {i}: max |x| {got_max} vs {want_max} uV"
        );
        let margin = (want_max - threshold).abs() / threshold;
        assert!(
            margin > 1e-4,
            "{case}: window {i} too close to the threshold"
        );
        assert_eq!(
            rejected_rust.contains(&i),
            w["rejected"].as_bool().unwrap(),
            "{case}: window {i} (max |x| {want_max} uV) rejection decision"
        );
    }
    let n_rej = rejected_rust.len();
    eprintln!(
        "{case}: before the {threshold} uV rule {} windows match (worst relative error {worst:e}); \
         {} kept, {n_rej} rejected as in the reference",
        wins.len(),
        wins.len() - n_rej
    );
    (wins.len() - n_rej, n_rej)
}

/// Two chunks of one recording separated by an EDF+D gap, as the ingest writes them: no window
/// may start before its chunk or run past its end, and chunk 1's windows start at its offset.
#[test]
fn no_window_crosses_a_gap() {
    let fs = 256.0;
    let names = ["FP1", "FP2", "C3", "C4"];
    let mk = |index: u32, offset: f64, n: usize| {
        let mut v = Vec::with_capacity(names.len() * n);
        for c in 0..names.len() {
            for t in 0..n {
                v.push(((t as f64 / fs * (3.0 + c as f64)).sin() * 20.0) as f32);
            }
        }
        let meta = json!({
            "schema": "eeg/1", "modality": "eeg", "sampling_rate": fs, "n_samples": n,
            "channels": names.iter().map(|n| json!({"name": n, "original_name": n, "type": "eeg", "unit": "uV", "xyz_mm": [null, null, null]})).collect::<Vec<_>>(),
            "reference": {"kind": "unknown"},
            "chunk": {"index": index, "count": 2, "offset_s": offset, "duration_s": n as f64 / fs},
            "annotations": [], "provenance": null,
        });
        Sample::new(format!("r_s1_eeg_{index:06}"))
            .with("signal.npy", npy::encode_f32(&[names.len(), n], &v))
            .with("meta.json", serde_json::to_vec(&meta).unwrap())
    };
    // chunk 0: 0..7.3 s, gap, chunk 1: 12.0..21.1 s
    let chunks = [
        (0u32, 0.0, (7.3 * fs) as usize),
        (1u32, 12.0, (9.1 * fs) as usize),
    ];
    for name in ["generic", "cbramod", "eegpt", "labram", "diver"] {
        let mut params = Params::new();
        params.insert("window_s".into(), json!(2.0));
        params.insert("stride_s".into(), json!(1.0));
        params.insert("min_duration_s".into(), json!(0.0));
        params.insert("trim_start_s".into(), json!(0.0));
        params.insert("trim_end_s".into(), json!(0.0));
        params.insert("missing".into(), json!("zero"));
        if name == "eegpt" || name == "diver" {
            params.insert("patch_len".into(), json!(0));
        }
        let prof = registry::create(name, &params).unwrap();
        for &(index, offset, n) in &chunks {
            let applied = prof.apply(mk(index, offset, n)).unwrap();
            let dur = n as f64 / fs;
            assert!(
                !applied.samples.is_empty(),
                "{name}: {:?}",
                applied.rejected
            );
            for s in &applied.samples {
                let meta: Value =
                    serde_json::from_slice(&s.member("meta.json").unwrap().data).unwrap();
                let start = meta["start_s"].as_f64().unwrap();
                let rate = meta["sampling_rate"].as_f64().unwrap();
                assert_eq!(meta["chunk_index"], json!(index));
                assert!(
                    start >= offset - 1e-9,
                    "{name}: window starts before its chunk"
                );
                assert!(
                    start + 2.0 <= offset + dur + 1e-9,
                    "{name}: window at {start} s crosses the chunk end {}",
                    offset + dur
                );
                let (shape, _) = f64s(&s.member("eeg.npy").unwrap().data);
                assert_eq!(shape[1..].iter().product::<usize>(), (2.0 * rate) as usize);
            }
            // floor((dur - 2) / 1) + 1 windows, never one across the gap
            assert_eq!(
                applied.samples.len(),
                ((dur - 2.0).floor() as usize) + 1,
                "{name}"
            );
        }
    }
}

#[test]
fn missing_channel_policies() {
    let fs = 200.0;
    let present = [
        "FP1", "FP2", "F3", "F4", "C3", "C4", "P3", "P4", "O1", "O2", "F7", "F8", "T7", "T8", "P7",
        "P8", "FZ", "CZ",
    ]; // no PZ
    let n = 2000;
    let v: Vec<f32> = (0..present.len() * n).map(|i| (i % 97) as f32).collect();
    let meta = json!({
        "schema": "eeg/1", "modality": "eeg", "sampling_rate": fs, "n_samples": n,
        "channels": present.iter().map(|n| json!({"name": n, "original_name": n, "type": "eeg", "unit": "uV", "xyz_mm": [null, null, null]})).collect::<Vec<_>>(),
        "reference": {"kind": "average"},
        "chunk": {"index": 0, "count": 1, "offset_s": 0.0, "duration_s": 10.0},
        "annotations": [], "provenance": null,
    });
    let s = Sample::new("m_s1_eeg_000000")
        .with("signal.npy", npy::encode_f32(&[present.len(), n], &v))
        .with("meta.json", serde_json::to_vec(&meta).unwrap());
    let base = |missing: &str| {
        let mut p = Params::new();
        for (k, v) in [
            ("steps", json!("")),
            ("missing", json!(missing)),
            ("min_duration_s", json!(0)),
            ("trim_start_s", json!(0)),
            ("trim_end_s", json!(0)),
            ("window_s", json!(10)),
            ("stride_s", json!(10)),
            ("reject_abs_uv", json!(null)),
        ] {
            p.insert(k.into(), v);
        }
        p
    };
    let skip = registry::create("cbramod", &base("skip"))
        .unwrap()
        .apply(s.clone())
        .unwrap();
    assert!(skip.samples.is_empty());
    assert!(skip.rejected[0].contains("PZ"), "{:?}", skip.rejected);
    let zero = registry::create("cbramod", &base("zero"))
        .unwrap()
        .apply(s.clone())
        .unwrap();
    let meta: Value =
        serde_json::from_slice(&zero.samples[0].member("meta.json").unwrap().data).unwrap();
    assert_eq!(meta["channel_mask"][18], json!(false));
    assert_eq!(
        meta["channel_names"][12],
        json!("T3"),
        "T7 feeds CBraMod's T3 row"
    );
    let (_, x) = f64s(&zero.samples[0].member("eeg.npy").unwrap().data);
    assert!(x[18 * n..19 * n].iter().all(|v| *v == 0.0));
    let interp = registry::create("cbramod", &base("interpolate"))
        .unwrap()
        .apply(s.clone())
        .unwrap();
    let (_, y) = f64s(&interp.samples[0].member("eeg.npy").unwrap().data);
    assert!(y[18 * n..19 * n].iter().any(|v| *v != 0.0));
    let meta: Value =
        serde_json::from_slice(&interp.samples[0].member("meta.json").unwrap().data).unwrap();
    assert!(
        meta["channel_sources"][18]
            .as_str()
            .unwrap()
            .starts_with("interpolated (spherical spline) from")
    );
    // bipolar TCP from unipolar channels: FP1-F7 = FP1 - F7
    let mut p = base("zero");
    p.insert("percentile".into(), json!(null));
    p.insert("unit".into(), json!("uV"));
    let b = registry::create("biot", &p).unwrap().apply(s).unwrap();
    let (shape, z) = f64s(&b.samples[0].member("eeg.npy").unwrap().data);
    assert_eq!(shape, vec![16, 2000]);
    let fp1 = &v[0..n];
    let f7 = &v[10 * n..11 * n];
    for t in 0..n {
        assert_eq!(z[t], f64::from(fp1[t] - f7[t]));
    }
}

/// The fused resample + filter path runs float32 FFTs only where their error bound allows:
/// a channel with a huge slow drift and a tiny fluctuation (its float32 error would be ~1% of
/// its output) must fall back to float64 and still equal the unfused float64 path (no trims,
/// so the steps run one after the other) on the windows both produce.
#[test]
fn fused_float32_path_falls_back_on_drift() {
    let names = [
        "FP1", "FP2", "F3", "F4", "C3", "C4", "P3", "P4", "O1", "O2", "F7", "F8", "T3", "T4", "T5",
        "T6", "FZ", "CZ", "PZ",
    ];
    let fs = 256.0;
    let n = 600 * 256;
    let mut state = 7u64;
    let mut v = Vec::with_capacity(names.len() * n);
    for c in 0..names.len() {
        for i in 0..n {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let r = (state >> 11) as f64 / (1u64 << 53) as f64 - 0.5;
            let t = i as f64 / fs;
            let x = if c == 0 {
                2e4 * (2.0 * std::f64::consts::PI * 0.01 * t).sin() + 500.0 + 0.5 * r
            } else {
                30.0 * (2.0 * std::f64::consts::PI * (5.0 + c as f64) * t).sin()
                    + 1e3 * c as f64
                    + 20.0 * r
            };
            v.push(x as f32);
        }
    }
    let meta = json!({
        "schema": "eeg/1", "modality": "eeg", "sampling_rate": fs, "n_samples": n,
        "channels": names.iter().map(|n| json!({"name": n, "original_name": n, "type": "eeg", "unit": "uV", "xyz_mm": [null, null, null]})).collect::<Vec<_>>(),
        "reference": {"kind": "average"},
        "chunk": {"index": 0, "count": 1, "offset_s": 0.0, "duration_s": 600.0},
        "annotations": [], "provenance": null,
    });
    let s = Sample::new("d_s1_eeg_000000")
        .with("signal.npy", npy::encode_f32(&[names.len(), n], &v))
        .with("meta.json", serde_json::to_vec(&meta).unwrap());
    let mut p = Params::new();
    p.insert("reject_abs_uv".into(), json!(null));
    let fused = registry::create("cbramod", &p)
        .unwrap()
        .apply(s.clone())
        .unwrap();
    p.insert("trim_start_s".into(), json!(0));
    p.insert("trim_end_s".into(), json!(0));
    let plain = registry::create("cbramod", &p).unwrap().apply(s).unwrap();
    assert!(!fused.samples.is_empty());
    let chain = |s: &Sample| -> Value {
        let m: Value = serde_json::from_slice(&s.member("meta.json").unwrap().data).unwrap();
        m["chain"].clone()
    };
    assert!(
        chain(&fused.samples[0])
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c.get("exec").is_some())
    );
    // 60 s trimmed = two 30 s windows.
    for (k, f) in fused.samples.iter().enumerate() {
        let (_, got) = f64s(&f.member("eeg.npy").unwrap().data);
        let (_, want) = f64s(&plain.samples[k + 2].member("eeg.npy").unwrap().data);
        for c in 0..names.len() {
            let row = |x: &[f64]| x[c * 6000..(c + 1) * 6000].to_vec();
            let (g, w) = (row(&got), row(&want));
            let peak = w.iter().fold(0f64, |a, v| a.max(v.abs()));
            let err = g
                .iter()
                .zip(&w)
                .fold(0f64, |a, (x, y)| a.max((x - y).abs()));
            assert!(
                err <= 1e-5 * peak,
                "window {k} channel {c}: error {err:e} vs peak {peak:e}"
            );
        }
    }
}
