//! A BIDS MEG tree (real FIF files, `bomdata_testdata::meg::bids_meg_tree`) through `ingest`
//! (detected as `bids_meg`, MRI of the same tree ingested too) and `shard --profile meg`; the
//! windows equal MNE reading the source FIF (`raw.pick` of mag and grad without the bad channel,
//! `raw.resample`) within 1e-4 of each channel's peak when the reference Python is available.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use bomdata_shard::dataset;
use bomdata_shard::npy;
use bomdata_shard::reader::ShardReader;
use bomdata_testdata::meg;
use bomdata_tests::{cmd, run};
use serde_json::Value;

/// Every sample of a dataset: key → (members by name).
fn samples(dir: &Path) -> BTreeMap<String, BTreeMap<String, Vec<u8>>> {
    let m = dataset::read_manifest(dir).unwrap();
    let mut out = BTreeMap::new();
    for e in &m.shards {
        for s in ShardReader::open(dir, e).unwrap() {
            let s = s.unwrap();
            let members = s.members.into_iter().map(|m| (m.name, m.data)).collect();
            out.insert(s.key, members);
        }
    }
    out
}

fn f32s(bytes: &[u8]) -> (Vec<usize>, Vec<f64>) {
    let v = npy::decode(bytes).unwrap();
    let vals = v
        .data
        .chunks_exact(4)
        .map(|b| f64::from(f32::from_le_bytes(b.try_into().unwrap())))
        .collect();
    (v.shape.clone(), vals)
}

/// The canonical samples: the T1w of the mixed tree, two MEG recordings with typed channels
/// (the channel marked bad in `channels.tsv` left out), sensor geometry, device and head frames.
fn check_canonical(canon: &Path) {
    let can = samples(canon);
    let metas: Vec<Value> = can
        .values()
        .map(|s| serde_json::from_slice(&s["meta.json"]).unwrap())
        .collect();
    assert!(
        metas.iter().any(|m| m["schema"] == "mri/1"),
        "the T1w of the mixed tree is ingested"
    );
    let megs: Vec<&Value> = metas.iter().filter(|m| m["modality"] == "meg").collect();
    assert_eq!(megs.len(), 2, "two MEG recordings");
    let mut frames = Vec::new();
    for r in &megs {
        let chans = r["channels"].as_array().unwrap();
        let count = |t: &str| chans.iter().filter(|c| c["type"] == t).count();
        let bad_left_out = !chans.iter().any(|c| c["name"] == meg::BAD_CHANNEL);
        let expect_grad = if bad_left_out && chans.len() < 392 {
            203
        } else {
            204
        };
        assert_eq!(count("grad"), expect_grad);
        assert_eq!(count("mag"), 102);
        for c in chans
            .iter()
            .filter(|c| c["type"] == "grad" || c["type"] == "mag")
        {
            let s = &c["sensor"];
            assert!(s["coil_type"] == 3012 || s["coil_type"] == 3024, "{c}");
            let ez: Vec<f64> = s["ez"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_f64().unwrap())
                .collect();
            let norm = ez.iter().map(|v| v * v).sum::<f64>().sqrt();
            assert!((norm - 1.0).abs() < 1e-3, "{c}");
            assert!(c["xyz_mm"][0].as_f64().unwrap().abs() < 300.0);
            assert!(c["unit"] == "T" || c["unit"] == "T/m");
        }
        assert!(
            chans
                .iter()
                .all(|c| c["type"] != "misc" || !c["name"].as_str().unwrap().starts_with("MEG"))
        );
        frames.push(r["coord_frame"].as_str().unwrap().to_string());
    }
    frames.sort();
    assert_eq!(frames, ["fif_device", "fif_head"]);
}

/// MNE's windows of the source FIF (`win_<i>.npy`, `names.json` in `refdir`): mag and grad
/// without the bad channel, resampled to 200 Hz, 0.5 s windows. `false` without Python.
fn mne_reference(fif: &Path, refdir: &Path) -> bool {
    let py = bomdata_testdata::python();
    if let Some(py) = &py {
        let script = r#"
import sys, json, numpy as np, mne
mne.set_log_level("ERROR")
raw = mne.io.read_raw_fif(sys.argv[1], allow_maxshield=True, preload=True)
raw.info["bads"] = [sys.argv[3]]
raw.pick(["mag", "grad"], exclude="bads")
raw.resample(200.0)
x = raw.get_data()
for i in range(2):
    np.save(f"{sys.argv[2]}/win_{i}.npy", x[:, i * 100:(i + 1) * 100])
json.dump(raw.ch_names, open(f"{sys.argv[2]}/names.json", "w"))
"#;
        std::fs::create_dir_all(refdir).unwrap();
        let r = Command::new(py)
            .args(["-c", script])
            .arg(fif)
            .arg(refdir)
            .arg(meg::BAD_CHANNEL)
            .output()
            .unwrap();
        assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    } else {
        eprintln!("meg e2e: no reference Python (BOMDATA_PYTHON); MNE comparison skipped");
    }
    py.is_some()
}

#[test]
fn bids_meg_tree_through_ingest_and_shard() {
    let d = tempfile::tempdir().unwrap();
    let src = d.path().join("src");
    meg::bids_meg_tree(&src);
    let det = bomdata_ingest::registry::Registry::builtin()
        .unwrap()
        .detect(&src)
        .unwrap();
    assert_eq!(det[0].source, "bids_meg", "{det:?}");
    assert!(det.iter().any(|x| x.source == "openneuro"));

    let canon = d.path().join("canon");
    let mut c = cmd();
    c.arg("ingest").arg(&src).arg("--out").arg(&canon);
    let o = run(c);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let m = dataset::read_manifest(&canon).unwrap();
    assert_eq!(m.sources, ["bids_meg"]);
    check_canonical(&canon);

    let out = d.path().join("meg");
    let mut c = cmd();
    c.arg("shard").arg(&canon).arg("--out").arg(&out).args([
        "--profile",
        "meg",
        "--param",
        "steps=resample",
        "--param",
        "resample_hz=200",
        "--param",
        "window_s=0.5",
        "--param",
        "stride_s=0.5",
    ]);
    let o = run(c);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let wins = samples(&out);
    assert_eq!(
        wins.len(),
        2,
        "two 0.5 s windows of sub-01: {:?}",
        wins.keys()
    );
    let refdir = d.path().join("ref");
    let py = mne_reference(&src.join(meg::SUB01_MEG), &refdir);
    let mut worst = 0f64;
    for (i, w) in wins.values().enumerate() {
        let meta: Value = serde_json::from_slice(&w["meta.json"]).unwrap();
        assert_eq!(meta["schema"], "meg-window/1");
        assert_eq!(meta["sensors"].as_array().unwrap().len(), 305);
        let (shape, got) = f32s(&w["meg.npy"]);
        assert_eq!(shape, [305, 100]);
        if !py {
            continue;
        }
        let names: Value =
            serde_json::from_slice(&std::fs::read(refdir.join("names.json")).unwrap()).unwrap();
        assert_eq!(meta["channel_names"], names);
        let v = npy::decode(&std::fs::read(refdir.join(format!("win_{i}.npy"))).unwrap())
            .unwrap()
            .data
            .chunks_exact(8)
            .map(|b| f64::from_le_bytes(b.try_into().unwrap()))
            .collect::<Vec<_>>();
        for (g, r) in got.chunks(100).zip(v.chunks(100)) {
            let peak = r.iter().fold(0f64, |a, x| a.max(x.abs()));
            let err = g.iter().zip(r).fold(0f64, |a, (x, y)| a.max((x - y).abs()));
            worst = worst.max(err / peak);
        }
    }
    eprintln!("meg e2e: worst window error vs MNE from the FIF: {worst:e} of the channel peak");
    assert!(worst <= 1e-4, "{worst:e}");
}
