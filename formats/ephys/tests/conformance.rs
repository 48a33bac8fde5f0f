//! Conformance of `bomdata_ephys::probe` with the reference readers' answers (`*.expected.json`)
//! on every BrainVision, EEGLAB, FIF and NWB file of the fixture corpus (`tests/fixtures`), plus bad-input
//! tests built from bytes.
//!
//! The references report MNE values in SI units (V, T, T/m); the probe reports values in the unit
//! each file declares, so values are converted with [`si_factor`] before comparing. Values and
//! statistics must agree within 1e-6 relative (relative to the channel's largest magnitude for
//! values near zero).

#![allow(clippy::unwrap_used, clippy::panic)]

use std::path::{Path, PathBuf};

use bomdata_ephys::probe;
use bomdata_format_core::ProbeOptions;
use serde_json::Value;

fn fixtures(sub: &str) -> Vec<PathBuf> {
    let dir = bomdata_testdata::require_fixtures().join(sub);
    let mut out: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    out.sort();
    out
}

fn expected(path: &Path) -> Value {
    let p = PathBuf::from(format!("{}.expected.json", path.display()));
    serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap()
}

fn num(v: &Value) -> f64 {
    match v {
        Value::Number(n) => n.as_f64().unwrap(),
        Value::String(s) if s == "NaN" => f64::NAN,
        Value::String(s) if s == "Infinity" => f64::INFINITY,
        Value::String(s) if s == "-Infinity" => f64::NEG_INFINITY,
        other => panic!("not a number: {other}"),
    }
}

fn si_factor(unit: &str) -> f64 {
    match unit {
        "nV" => 1e-9,
        "uV" => 1e-6,
        "mV" => 1e-3,
        _ => 1.0,
    }
}

fn close(a: f64, b: f64, scale: f64) -> bool {
    if a.is_nan() && b.is_nan() {
        return true;
    }
    (a - b).abs() <= 1e-6 * a.abs().max(b.abs()).max(scale) + f64::MIN_POSITIVE
}

/// Compares one probe channel with one MNE channel (`first10`, `stats` in SI units).
fn compare_channel(file: &str, got: &Value, want: &Value, n_first: usize) {
    let name = want["name"].as_str().unwrap();
    assert_eq!(got["name"].as_str().unwrap(), name, "{file}: channel name");
    let f = si_factor(got["unit"].as_str().unwrap());
    let ws = &want["stats"];
    let scale = num(&ws["max"]).abs().max(num(&ws["min"]).abs());
    let gs = &got["stats"];
    assert_eq!(gs["n"], ws["n"], "{file} {name}: n");
    assert_eq!(got["n_samples"], ws["n"], "{file} {name}: n_samples");
    assert_eq!(
        gs["n_nonfinite"], ws["n_nonfinite"],
        "{file} {name}: n_nonfinite"
    );
    for k in ["min", "max", "mean"] {
        let (g, w) = (num(&gs[k]) * f, num(&ws[k]));
        assert!(close(g, w, scale), "{file} {name}: {k} {g} vs {w}");
    }
    let (g, w) = (num(&gs["std"]) * f, num(&ws["std"]));
    assert!(
        close(g, w, 0.0) || (g - w).abs() < 1e-9 * scale,
        "{file} {name}: std {g} vs {w}"
    );
    let (g, w) = (num(&gs["sum"]) * f, num(&ws["sum"]));
    let n = num(&ws["n"]);
    assert!(close(g, w, scale * n), "{file} {name}: sum {g} vs {w}");
    let gf = got["first"].as_array().unwrap();
    let wf = want["first10"].as_array().unwrap();
    assert_eq!(
        gf.len(),
        wf.len().min(n_first),
        "{file} {name}: first count"
    );
    for (i, (g, w)) in gf.iter().zip(wf).enumerate() {
        let (g, w) = (num(g) * f, num(w));
        assert!(close(g, w, scale), "{file} {name}: first[{i}] {g} vs {w}");
    }
}

/// Compares the MNE part (`mne` / `mne_raw`) of an expected file with a probe object.
fn compare_mne(file: &str, got: &Value, mne: &Value) {
    let chans = got["channels"].as_array().unwrap();
    let want = mne["channels"].as_array().unwrap();
    assert_eq!(chans.len(), want.len(), "{file}: channel count");
    let sfreq = num(&mne["sfreq"]);
    for (g, w) in chans.iter().zip(want) {
        assert!(close(num(&g["sampling_rate"]), sfreq, 0.0), "{file}: rate");
        assert_eq!(
            g["n_samples"].as_u64().unwrap(),
            mne["n_times"].as_u64().unwrap()
        );
        compare_channel(file, g, w, 10);
    }
    let dur = num(&got["duration_s"]);
    assert!(
        close(dur, num(&mne["n_times"]) / sfreq, 0.0),
        "{file}: duration"
    );
}

/// MNE's `meas_date` (UTC, `+00:00`) against the probe's local `start`.
fn compare_start(file: &str, got: &Value, meas_date: &Value, shift_s: f64) {
    match meas_date {
        Value::Null => assert!(got["start"].is_null(), "{file}: start should be null"),
        Value::String(s) => {
            let want = bomdata_ephys::DateTime::parse_iso(s)
                .unwrap()
                .add_seconds(shift_s);
            assert_eq!(
                got["start"].as_str().unwrap(),
                want.to_iso_local(),
                "{file}: start"
            );
        }
        _ => panic!("{file}: meas_date"),
    }
}

#[test]
fn brainvision_fixtures() {
    let files: Vec<_> = fixtures("brainvision")
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "vhdr"))
        .collect();
    assert_eq!(files.len(), 2);
    for path in files {
        let file = path.display().to_string();
        assert_eq!(bomdata_ephys::detect(&path), Some("brainvision"));
        let got = probe(&path, &ProbeOptions::default()).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(got["format"], "brainvision");
        let exp = expected(&path);
        let mne = &exp["mne"];
        compare_mne(&file, &got, mne);
        compare_start(&file, &got, &mne["meas_date"], 0.0);
        // Annotations. By the spec, onset = (position - 1) / rate and duration = size / rate.
        // MNE crops annotations to the data span: a marker at position 0 (onset -1 sample,
        // duration 1 sample) becomes onset 0, duration 0 there. We keep the spec's value and
        // compare after applying the same crop.
        let anns = got["annotations"].as_array().unwrap();
        let want = mne["annotations_first_200"].as_array().unwrap();
        assert_eq!(anns.len(), want.len(), "{file}: annotation count");
        for (g, w) in anns.iter().zip(want) {
            let (mut on, mut du) = (num(&g["onset"]), num(&g["duration"]));
            if on < 0.0 {
                du = (du + on).max(0.0);
                on = 0.0;
            }
            assert!(
                close(on, num(&w["onset"]), 1e-3),
                "{file}: onset {on} vs {}",
                w["onset"]
            );
            assert!(close(du, num(&w["duration"]), 1e-3), "{file}: duration");
            assert_eq!(g["text"], w["text"], "{file}: text");
        }
    }
}

#[test]
fn eeglab_fixtures() {
    let files: Vec<_> = fixtures("eeglab")
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "set"))
        .collect();
    assert_eq!(files.len(), 3);
    for path in files {
        let file = path.display().to_string();
        assert_eq!(bomdata_ephys::detect(&path), Some("eeglab"));
        let got = probe(&path, &ProbeOptions::default()).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(got["format"], "eeglab");
        let exp = expected(&path);
        let mne = &exp["mne_raw"];
        compare_mne(&file, &got, mne);
        compare_start(&file, &got, &mne["meas_date"], 0.0);
        for c in got["channels"].as_array().unwrap() {
            assert_eq!(c["unit"], "uV", "{file}: eeglab data are uV");
        }
        assert!(got.get("epochs").is_none(), "{file}: continuous");
        let anns = got["annotations"].as_array().unwrap();
        let want = mne["annotations_first_200"].as_array().unwrap();
        assert_eq!(anns.len(), want.len(), "{file}: annotation count");
        for (g, w) in anns.iter().zip(want) {
            assert!(
                close(num(&g["onset"]), num(&w["onset"]), 1e-3),
                "{file}: onset"
            );
            // EEGLAB stores NaN for "no duration" (boundary events): we report null, MNE 0.
            let d = if g["duration"].is_null() {
                0.0
            } else {
                num(&g["duration"])
            };
            assert!(close(d, num(&w["duration"]), 1e-3), "{file}: duration");
            assert_eq!(g["text"], w["text"], "{file}: text");
        }
    }
}

#[test]
fn fif_fixtures() {
    let files: Vec<_> = fixtures("fif")
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "fif"))
        .collect();
    assert_eq!(files.len(), 2);
    for path in files {
        let file = path.display().to_string();
        assert_eq!(bomdata_ephys::detect(&path), Some("fif"));
        let got = probe(&path, &ProbeOptions::default()).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(got["format"], "fif");
        let exp = expected(&path);
        if let Some(ev) = exp.get("mne_events") {
            assert_eq!(got["events"], ev["events"], "{file}: events");
            assert_eq!(
                got["events"].as_array().unwrap().len() as u64,
                ev["n_events"].as_u64().unwrap()
            );
            continue;
        }
        let mne = &exp["mne"];
        compare_mne(&file, &got, mne);
        let first_samp = num(&mne["first_samp"]);
        compare_start(
            &file,
            &got,
            &mne["meas_date"],
            first_samp / num(&mne["sfreq"]),
        );
        for (c, w) in got["channels"]
            .as_array()
            .unwrap()
            .iter()
            .zip(mne["channels"].as_array().unwrap())
        {
            assert_eq!(c["type"], w["type"], "{file}: type of {}", w["name"]);
            let unit = c["unit"].as_str().unwrap();
            let want_unit = match w["type"].as_str().unwrap() {
                "grad" => "T/m",
                "mag" => "T",
                "eeg" | "eog" | "ecg" | "emg" => "V",
                _ => unit,
            };
            assert_eq!(unit, want_unit, "{file}: unit of {}", w["name"]);
        }
        assert_eq!(
            got["annotations"].as_array().unwrap().len() as u64,
            mne["n_annotations"].as_u64().unwrap()
        );
    }
}

#[cfg(feature = "hdf5")]
#[test]
fn nwb_fixtures() {
    let files: Vec<_> = fixtures("nwb")
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "nwb"))
        .collect();
    assert_eq!(files.len(), 2);
    for path in files {
        let file = path.display().to_string();
        assert_eq!(bomdata_ephys::detect(&path), Some("nwb"));
        let got = probe(&path, &ProbeOptions::default()).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(got["format"], "nwb");
        let exp = expected(&path);
        let py = &exp["pynwb"];
        // start keeps the UTC offset session_start_time states.
        let want =
            bomdata_ephys::DateTime::parse_iso(py["session_start_time"].as_str().unwrap()).unwrap();
        assert_eq!(
            got["start"].as_str().unwrap(),
            want.to_iso(),
            "{file}: start"
        );
        let acq = py["acquisition"].as_object().unwrap();
        let chans = got["channels"].as_array().unwrap();
        assert_eq!(chans.len(), acq.len(), "{file}: one channel per 1-D series");
        for (name, ts) in acq {
            let c = chans.iter().find(|c| c["name"] == name.as_str()).unwrap();
            assert!(close(num(&c["sampling_rate"]), num(&ts["rate"]), 0.0));
            assert_eq!(c["n_samples"], ts["data_shape"][0]);
            let conv = num(&ts["conversion"]);
            let (gs, ws) = (&c["stats"], &ts["data_stats"]);
            assert_eq!(gs["n"], ws["n"]);
            for k in ["sum", "mean", "min", "max", "std"] {
                assert!(
                    close(num(&gs[k]), num(&ws[k]) * conv, 0.0),
                    "{file} {name}: {k}"
                );
            }
            assert_eq!(c["unit"], ts["unit"]);
        }
    }
}

/// An NWB-shaped file with an ElectricalSeries (int16 data, conversion, offset), an electrodes
/// table with x, y, z and labels, written with the HDF5 library, read back through `probe`.
#[cfg(feature = "hdf5")]
#[test]
fn nwb_electrical_series_synthetic() {
    use bomdata_ephys::nwb::hdf5;
    use hdf5::types::VarLenUnicode;
    let dir = std::env::temp_dir().join(format!("bomdata-ephys-nwb-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("es.nwb");
    {
        let vl = |s: &str| s.parse::<VarLenUnicode>().unwrap();
        let f = hdf5::File::create(&path).unwrap();
        f.new_dataset::<VarLenUnicode>()
            .shape(())
            .create("session_start_time")
            .unwrap()
            .write_scalar(&vl("2020-01-02T03:04:05.250000-05:00"))
            .unwrap();
        let t = f
            .create_group("general/extracellular_ephys/electrodes")
            .unwrap();
        t.new_dataset_builder()
            .with_data(&[0i64, 1, 2])
            .create("id")
            .unwrap();
        t.new_dataset_builder()
            .with_data(&[1.0f64, 2.0, 3.0])
            .create("x")
            .unwrap();
        t.new_dataset_builder()
            .with_data(&[4.0f64, 5.0, 6.0])
            .create("y")
            .unwrap();
        t.new_dataset_builder()
            .with_data(&[7.0f64, 8.0, 9.0])
            .create("z")
            .unwrap();
        t.new_dataset_builder()
            .with_data(&[vl("G1"), vl("G2"), vl("G3")])
            .create("label")
            .unwrap();
        let g = f.create_group("acquisition/ecog").unwrap();
        g.new_attr::<VarLenUnicode>()
            .shape(())
            .create("neurodata_type")
            .unwrap()
            .write_scalar(&vl("ElectricalSeries"))
            .unwrap();
        // 4 samples x 2 channels, channels are electrodes rows 2 and 0.
        let data: Vec<i16> = vec![1, -1, 2, -2, 3, -3, 4, -4];
        let d = g.new_dataset::<i16>().shape((4, 2)).create("data").unwrap();
        d.write_raw(&data).unwrap();
        d.new_attr::<f64>()
            .shape(())
            .create("conversion")
            .unwrap()
            .write_scalar(&1e-6)
            .unwrap();
        d.new_attr::<f64>()
            .shape(())
            .create("offset")
            .unwrap()
            .write_scalar(&0.5)
            .unwrap();
        d.new_attr::<VarLenUnicode>()
            .shape(())
            .create("unit")
            .unwrap()
            .write_scalar(&vl("volts"))
            .unwrap();
        let st = g
            .new_dataset::<f64>()
            .shape(())
            .create("starting_time")
            .unwrap();
        st.write_scalar(&1.5).unwrap();
        st.new_attr::<f64>()
            .shape(())
            .create("rate")
            .unwrap()
            .write_scalar(&500.0)
            .unwrap();
        g.new_dataset_builder()
            .with_data(&[2i64, 0])
            .create("electrodes")
            .unwrap();
        g.new_dataset_builder()
            .with_data(&[1.0f32, 2.0])
            .create("channel_conversion")
            .unwrap();
        // A second series with timestamps (rate from their span) and float data.
        let t = f.create_group("processing/behavior/pos").unwrap();
        t.new_dataset_builder()
            .with_data(&[0.25f64, 0.5, 0.75])
            .create("data")
            .unwrap();
        t.new_dataset_builder()
            .with_data(&[10.0f64, 10.1, 10.2])
            .create("timestamps")
            .unwrap();
    }
    let got = probe(&path, &ProbeOptions::default()).unwrap();
    assert_eq!(got["start"], "2020-01-02T03:04:05.250000-05:00");
    let ch = got["channels"].as_array().unwrap();
    assert_eq!(ch.len(), 3);
    assert_eq!(ch[2]["name"], "pos");
    assert!((num(&ch[2]["sampling_rate"]) - 10.0).abs() < 1e-9);
    assert_eq!(ch[2]["offset_s"], 10.0);
    assert_eq!(ch[2]["stats"]["sum"], 1.5);
    assert_eq!(ch[0]["name"], "G3");
    assert_eq!(ch[1]["name"], "G1");
    assert_eq!(ch[0]["unit"], "V");
    assert_eq!(ch[0]["sampling_rate"], 500.0);
    assert_eq!(ch[0]["n_samples"], 4);
    assert_eq!(ch[0]["position"], serde_json::json!([3.0, 6.0, 9.0]));
    assert_eq!(ch[1]["position"], serde_json::json!([1.0, 4.0, 7.0]));
    let first: Vec<f64> = ch[1]["first"].as_array().unwrap().iter().map(num).collect();
    // channel 1 is electrode row 0, channel_conversion 2
    let want = [-2e-6 + 0.5, -4e-6 + 0.5, -6e-6 + 0.5, -8e-6 + 0.5];
    for (g, w) in first.iter().zip(want) {
        assert!((g - w).abs() < 1e-15, "{g} vs {w}");
    }
    let (rec, _) = bomdata_ephys::open(&path).unwrap();
    assert_eq!(rec.channels[0].position, Some([3.0, 6.0, 9.0]));
    assert_eq!(rec.channels[0].offset_s, 1.5);
    assert_eq!(ch[0]["offset_s"], 1.5);
    std::fs::remove_dir_all(&dir).unwrap();
}
