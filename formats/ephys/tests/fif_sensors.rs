//! MEG channel info of the FIF reader against MNE (`tests/meg/fif_sensors.expected.json`,
//! written by `python/meg/fif_expected.py`): for every raw FIF fixture and `tests/meg/devhead_raw.fif`
//! (the empty-room fixture cropped, with a device → head transformation set by MNE), every
//! channel's name, kind, type, coil type, calibration, range, unit, `loc`, and for MEG and
//! reference MEG channels the position and axes in head coordinates (device coordinates when the
//! file has no transformation) within 1e-9 (metres / unit vectors).

#![allow(clippy::unwrap_used, clippy::panic)]

use std::fs::File;
use std::io::BufReader;

use bomdata_ephys::fif;
use serde_json::Value;

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap_or(f64::NAN)
}

fn close3(file: &str, name: &str, what: &str, got: [f64; 3], want: &Value) {
    for (k, g) in got.iter().enumerate() {
        let w = f(&want[k]);
        assert!(
            (g - w).abs() <= 1e-9,
            "{file} {name}: {what}[{k}] {g} vs MNE {w}"
        );
    }
}

#[test]
fn meg_channels_match_mne() {
    let root = bomdata_testdata::workspace_root();
    let _ = bomdata_testdata::require_fixtures();
    let exp: Value = serde_json::from_slice(
        &std::fs::read(root.join("tests/meg/fif_sensors.expected.json")).unwrap(),
    )
    .unwrap();
    let files = exp["files"].as_object().unwrap();
    assert!(
        files.len() >= 2,
        "expected the fixture and the dev_head_t copy"
    );
    let mut n_meg = 0usize;
    let mut transformed = 0usize;
    for (rel, want) in files {
        let path = root.join(rel);
        let mut r = BufReader::new(File::open(&path).unwrap());
        let len = std::fs::metadata(&path).unwrap().len();
        let h = fif::read_header(&mut r, len).unwrap_or_else(|e| panic!("{rel}: {e}"));
        match (&h.dev_head_t, want["dev_head_t"].as_array()) {
            (None, None) => {}
            (Some(t), Some(m)) => {
                for (i, row) in m.iter().take(3).enumerate() {
                    close3(rel, "dev_head_t", "rot row", t.rot[i], row);
                    assert!((t.translation[i] - f(&row[3])).abs() <= 1e-9, "{rel}: move");
                }
            }
            (g, w) => panic!("{rel}: dev_head_t {g:?} vs MNE {w:?}"),
        }
        let chans = want["channels"].as_array().unwrap();
        assert_eq!(h.channels.len(), chans.len(), "{rel}: channel count");
        let sensors = fif::sensors(&h);
        for ((c, s), w) in h.channels.iter().zip(&sensors).zip(chans) {
            let name = w["name"].as_str().unwrap();
            assert_eq!(c.name, name, "{rel}: name");
            assert_eq!(
                i64::from(c.kind),
                w["kind"].as_i64().unwrap(),
                "{rel} {name}: kind"
            );
            assert_eq!(c.type_text(), w["type"], "{rel} {name}: type");
            assert_eq!(
                i64::from(c.coil_type),
                w["coil_type"].as_i64().unwrap(),
                "{rel} {name}: coil type"
            );
            assert_eq!(f64::from(c.cal), f(&w["cal"]), "{rel} {name}: cal");
            assert_eq!(f64::from(c.range), f(&w["range"]), "{rel} {name}: range");
            assert_eq!(
                i64::from(c.unit),
                w["unit"].as_i64().unwrap(),
                "{rel} {name}: unit"
            );
            assert_eq!(
                i64::from(c.unit_mul),
                w["unit_mul"].as_i64().unwrap(),
                "{rel} {name}: unit_mul"
            );
            for (k, l) in c.loc.iter().enumerate() {
                let wl = &w["loc"][k];
                if wl.is_null() {
                    assert!(l.is_nan(), "{rel} {name}: loc[{k}]");
                } else {
                    assert_eq!(f64::from(*l), f(wl), "{rel} {name}: loc[{k}]");
                }
            }
            match (s, w.get("sensor")) {
                (None, None) => {}
                (Some(s), Some(ws)) => {
                    n_meg += 1;
                    assert_eq!(s.frame.name(), ws["frame"], "{rel} {name}: frame");
                    if s.frame == fif::Frame::Head {
                        transformed += 1;
                    }
                    assert_eq!(s.coil_type, c.coil_type);
                    close3(rel, name, "pos", s.pos, &ws["pos"]);
                    close3(rel, name, "ex", s.ex, &ws["ex"]);
                    close3(rel, name, "ey", s.ey, &ws["ey"]);
                    close3(rel, name, "ez", s.ez, &ws["ez"]);
                }
                (g, w) => panic!("{rel} {name}: sensor {g:?} vs MNE {w:?}"),
            }
        }
    }
    assert!(n_meg >= 612, "MEG channels compared: {n_meg}");
    assert!(
        transformed >= 306,
        "head-frame channels compared: {transformed}"
    );
}
