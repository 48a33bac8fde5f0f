//! The `swift` and `volume` profiles against their NumPy references (`python/mri/`), on
//! synthetic runs on every SwiFT dataset grid and on the real NIfTI fixtures.
//!
//! Values must agree within float16 rounding: at most one float16 ulp apart (a different
//! float64 summation order may move a value across a rounding boundary), and almost all
//! bit-identical.

#![allow(clippy::unwrap_used, clippy::print_stderr)] // test code: a panic is the failure report

use std::path::{Path, PathBuf};
use std::process::Command;

use bomdata_profiles::{Params, registry};
use bomdata_shard::Sample;
use bomdata_shard::npy::{self, Dtype};
use bomdata_testdata::Rng;
use serde_json::{Value, json};

fn python(args: &[&str]) {
    let py = bomdata_testdata::require_python();
    let out = Command::new(&py).args(args).output().expect("run python");
    assert!(
        out.status.success(),
        "python {args:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn script(name: &str) -> String {
    bomdata_testdata::workspace_root()
        .join("python/mri")
        .join(name)
        .to_string_lossy()
        .into_owned()
}

fn values(bytes: &[u8]) -> (Vec<usize>, Vec<f32>) {
    let v = npy::decode(bytes).unwrap();
    let vals = match v.dtype {
        Dtype::F16 => v
            .data
            .chunks_exact(2)
            .map(|c| half::f16::from_bits(u16::from_le_bytes([c[0], c[1]])).to_f32())
            .collect(),
        Dtype::F32 => v
            .data
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect(),
        d => panic!("unexpected dtype {d:?}"),
    };
    (v.shape, vals)
}

fn f16_ulp(v: f32) -> f32 {
    let a = v.abs();
    if a < 2f32.powi(-14) {
        2f32.powi(-24)
    } else {
        2f32.powi(a.log2().floor() as i32 - 10)
    }
}

/// Asserts equality within one float16 ulp; returns the number of values not bit-identical.
fn compare(what: &str, ours: &[u8], reference: &Path) -> usize {
    let (s1, a) = values(ours);
    let (s2, b) = values(&std::fs::read(reference).unwrap());
    assert_eq!(s1, s2, "{what}: shape");
    let mut differ = 0;
    for (i, (x, y)) in a.iter().zip(&b).enumerate() {
        if x.to_bits() != y.to_bits() {
            differ += 1;
            let tol = f16_ulp(x.abs().max(y.abs()));
            assert!(
                (x - y).abs() <= tol,
                "{what}: value {i}: ours {x}, reference {y}"
            );
        }
    }
    assert!(
        differ * 10_000 <= a.len().max(10_000),
        "{what}: {differ} of {} values differ by one float16 ulp",
        a.len()
    );
    differ
}

fn sample(key: &str, shape: &[usize], vals: &[f32], meta: Value) -> Sample {
    Sample::new(key)
        .with_subject("s1")
        .with("volume.npy", npy::encode_f32(shape, vals))
        .with("meta.json", serde_json::to_vec(&meta).unwrap())
}

/// A run with an ellipsoid "brain" (values around 5000, some exact zeros inside, varying in
/// time) and zero background; `corner_brain` puts a non-zero value in voxel (0,0,0).
fn run(grid: [usize; 3], t: usize, seed: u64, corner_brain: bool) -> Vec<f32> {
    let mut rng = Rng::new(seed);
    let [nx, ny, nz] = grid;
    let mut v = vec![0f32; nx * ny * nz * t];
    let c = |i: usize, n: usize| (i as f64 + 0.5) / n as f64 * 2.0 - 1.0;
    for x in 0..nx {
        for y in 0..ny {
            for z in 0..nz {
                let r = c(x, nx).powi(2) + c(y, ny).powi(2) + c(z, nz).powi(2);
                let base = 3000.0 + 4000.0 * rng.next_f64();
                for f in 0..t {
                    let i = ((x * ny + y) * nz + z) * t + f;
                    if r < 0.8 && rng.below(50) != 0 {
                        v[i] = (base + 300.0 * (rng.next_f64() - 0.5) + 10.0 * f as f64) as f32;
                    }
                }
            }
        }
    }
    if corner_brain {
        for (f, x) in v.iter_mut().take(t).enumerate() {
            *x = 1234.5 + f as f32;
        }
    }
    v
}

fn params(p: Value) -> Params {
    p.as_object().cloned().unwrap_or_default()
}

struct Case {
    name: &'static str,
    grid: [usize; 3],
    t: usize,
    corner: bool,
    source: &'static str,
    profile: Value,
    /// Arguments for swift_reference.py besides --npy/--out.
    py: Vec<&'static str>,
    rule: &'static str,
    windows: usize,
}

fn check_swift(case: &Case, dir: &Path) {
    let vals = run(
        case.grid,
        case.t,
        case.grid.iter().sum::<usize>() as u64,
        case.corner,
    );
    let mut shape = case.grid.to_vec();
    shape.push(case.t);
    let meta = json!({"schema": "mri/1", "modality": "fmri", "repetition_time_s": 0.735,
        "affine": [[-2.0, 0.0, 0.0, 90.0], [0.0, 2.0, 0.0, -126.0], [0.0, 0.0, 2.0, -72.0], [0.0, 0.0, 0.0, 1.0]],
        "provenance": {"source": case.source, "file": "x.nii.gz", "reader": "test"}});
    let key = format!("{}_ab12_fmri", case.source);
    let s = sample(&key, &shape, &vals, meta);
    let npy_path = dir.join(format!("{}.npy", case.name));
    std::fs::write(&npy_path, &s.member("volume.npy").unwrap().data).unwrap();
    let p = registry::create("swift", &params(case.profile.clone())).unwrap();
    let applied = p.apply(s).unwrap();
    assert!(
        applied.rejected.is_empty(),
        "{}: {:?}",
        case.name,
        applied.rejected
    );
    assert_eq!(
        applied.samples.len(),
        case.windows,
        "{}: windows",
        case.name
    );

    let out = dir.join(case.name);
    let mut args = vec![
        script("swift_reference.py"),
        "--npy".into(),
        npy_path.to_string_lossy().into_owned(),
        "--out".into(),
        out.to_string_lossy().into_owned(),
    ];
    args.extend(case.py.iter().map(|a| a.to_string()));
    python(&args.iter().map(String::as_str).collect::<Vec<_>>());
    let stats: Value =
        serde_json::from_slice(&std::fs::read(out.join("stats.json")).unwrap()).unwrap();
    assert_eq!(
        stats["starts"].as_array().unwrap().len(),
        case.windows,
        "{}",
        case.name
    );
    assert_eq!(stats["rule"], case.rule, "{}", case.name);
    let mut differ = 0;
    for (i, w) in applied.samples.iter().enumerate() {
        assert_eq!(w.key, format!("{key}_{i:06}"));
        assert_eq!(w.subject.as_deref(), Some("s1"));
        let meta: Value = serde_json::from_slice(&w.member("meta.json").unwrap().data).unwrap();
        assert_eq!(meta["window"], i);
        assert_eq!(meta["start_frame"], stats["starts"][i]);
        assert_eq!(meta["dataset_rule"], case.rule);
        assert_eq!(meta["repetition_time_s"], 0.735);
        let m = meta["normalisation"]["mean"].as_f64().unwrap();
        let sd = meta["normalisation"]["std"].as_f64().unwrap();
        assert_eq!(
            m as f32,
            stats["mean"].as_f64().unwrap() as f32,
            "{}: mean",
            case.name
        );
        assert_eq!(
            sd as f32,
            stats["std"].as_f64().unwrap() as f32,
            "{}: std",
            case.name
        );
        differ += compare(
            &format!("{} window {i}", case.name),
            &w.member("fmri.npy").unwrap().data,
            &out.join(format!("{i:06}.npy")),
        );
    }
    eprintln!(
        "{}: {} windows, {differ} values one float16 ulp apart",
        case.name, case.windows
    );
}

#[test]
fn swift_matches_numpy_reference_on_every_dataset_grid() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        // UKB MNI 2 mm: H cropped by (7, 6) after the statistics; overlapping windows.
        Case {
            name: "ukb",
            grid: [91, 109, 91],
            t: 11,
            corner: false,
            source: "ukb",
            profile: json!({"window": 4, "stride": 3}),
            py: vec!["--source", "ukb", "--window", "4", "--stride", "3"],
            rule: "ukb",
            windows: 3,
        },
        Case {
            name: "hcp",
            grid: [75, 93, 81],
            t: 9,
            corner: false,
            source: "hcp",
            profile: json!({"window": 4, "stride": 4}),
            py: vec!["--source", "hcp", "--window", "4", "--stride", "4"],
            rule: "hcp",
            windows: 2,
        },
        // ABCD rest before SwiFT's [:, 14:-7] pre-crop: the crop happens before the statistics.
        Case {
            name: "abcd_precrop",
            grid: [79, 118, 85],
            t: 5,
            corner: false,
            source: "abcd",
            profile: json!({"window": 5}),
            py: vec!["--source", "abcd", "--window", "5"],
            rule: "abcd_rest",
            windows: 1,
        },
        Case {
            name: "abcd_task",
            grid: [96, 96, 95],
            t: 4,
            corner: false,
            source: "x",
            profile: json!({"window": 2, "stride": 2, "dataset_rule": "abcd"}),
            py: vec!["--rule", "abcd", "--window", "2", "--stride", "2"],
            rule: "abcd_task",
            windows: 2,
        },
        // Any other grid: centre rule; the corner voxel is brain so the pad value is not the fill.
        Case {
            name: "center_f32",
            grid: [30, 101, 20],
            t: 9,
            corner: true,
            source: "bids",
            profile: json!({"window": 3, "stride": 2, "dtype": "float32"}),
            py: vec![
                "--source", "bids", "--window", "3", "--stride", "2", "--dtype", "float32",
            ],
            rule: "center",
            windows: 4,
        },
        Case {
            name: "compat",
            grid: [20, 24, 18],
            t: 22,
            corner: true,
            source: "ukb",
            profile: json!({"compat_t_minus_2": true, "target": 32}),
            py: vec!["--source", "ukb", "--compat-t-minus-2", "--target", "32"],
            rule: "center",
            windows: 1,
        },
    ];
    for c in &cases {
        check_swift(c, dir.path());
    }
}

#[test]
fn swift_default_sample_shape_and_rejections() {
    let p = registry::create("swift", &Params::new()).unwrap();
    assert_eq!(p.params()["window"], 20);
    assert_eq!(p.params()["dtype"], "float16");
    let vals = run([40, 50, 30], 41, 7, false);
    let s = sample(
        "ukb_x_fmri",
        &[40, 50, 30, 41],
        &vals,
        json!({"modality": "fmri"}),
    );
    let a = p.apply(s).unwrap();
    assert_eq!(
        a.samples.len(),
        2,
        "41 frames: two windows, tail of one dropped"
    );
    let v = npy::decode(&a.samples[1].member("fmri.npy").unwrap().data).unwrap();
    assert_eq!(
        (v.dtype, v.shape.clone()),
        (Dtype::F16, vec![1, 96, 96, 96, 20])
    );
    let meta: Value =
        serde_json::from_slice(&a.samples[1].member("meta.json").unwrap().data).unwrap();
    assert_eq!(
        (meta["start_frame"].as_u64(), meta["end_frame"].as_u64()),
        (Some(20), Some(40))
    );
    assert_eq!(meta["dataset_rule"], "center", "a ukb run off the UKB grid");
    assert_eq!(meta["fit"], json!([[28, 28], [23, 23], [33, 33]]));

    let reject = |shape: &[usize], vals: &[f32], meta: Value| {
        let a = p.apply(sample("bids_x_fmri", shape, vals, meta)).unwrap();
        assert!(a.samples.is_empty());
        a.rejected.join("; ")
    };
    assert!(reject(&[4, 4, 4], &[1.0; 64], json!({})).contains("4-D"));
    assert!(reject(&[2, 2, 2, 19], &[1.0; 152], json!({})).contains("fewer than one window"));
    assert!(reject(&[2, 2, 2, 20], &[0.0; 160], json!({})).contains("non-zero"));
    let mut nan = vec![1.0f32; 160];
    nan[7] = f32::NAN;
    assert!(reject(&[2, 2, 2, 20], &nan, json!({})).contains("non-finite"));
    assert!(reject(&[2, 2, 2, 20], &[3.0; 160], json!({})).contains("standard deviation"));
    assert!(reject(&[2, 2, 2, 20], &[3.0; 160], json!({"modality": "smri"})).contains("not fmri"));
    let a = p
        .apply(Sample::new("k").with("meta.json", b"{}".to_vec()))
        .unwrap();
    assert!(a.rejected[0].contains("no volume.npy"));
}

fn check_volume(name: &str, npy_in: &Path, s: Sample, prof: Value, py: &[&str], dir: &Path) {
    let p = registry::create("volume", &params(prof)).unwrap();
    let a = p.apply(s).unwrap();
    assert!(a.rejected.is_empty(), "{name}: {:?}", a.rejected);
    let out = dir.join(format!("{name}.ref.npy"));
    let mut args = vec![
        script("volume_reference.py"),
        "--npy".into(),
        npy_in.to_string_lossy().into_owned(),
        "--out".into(),
        out.to_string_lossy().into_owned(),
    ];
    args.extend(py.iter().map(|a| a.to_string()));
    python(&args.iter().map(String::as_str).collect::<Vec<_>>());
    let differ = compare(name, &a.samples[0].member("volume.npy").unwrap().data, &out);
    eprintln!("{name}: {differ} values one float16 ulp apart");
}

#[test]
fn volume_matches_numpy_reference_and_keeps_gradients() {
    let dir = tempfile::tempdir().unwrap();
    let grid = [33, 40, 27];
    let t = 3;
    let vals = run(grid, t, 99, false);
    let shape = [33, 40, 27, 3];
    let meta = json!({"schema": "mri/1", "modality": "dmri",
        "affine": [[1.0, 0.0, 0.0, -10.0], [0.0, 1.0, 0.0, -20.0], [0.0, 0.0, 1.0, -30.0], [0.0, 0.0, 0.0, 1.0]],
        "gradients": {"bvals": [0.0, 1000.0, 1000.0], "bvecs": [[0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]}});
    let input = dir.path().join("dwi.npy");
    std::fs::write(&input, npy::encode_f32(&shape, &vals)).unwrap();
    let mk = || sample("bids_x_dmri", &shape, &vals, meta.clone());
    let cases: Vec<(&str, Value, Vec<&str>)> = vec![
        (
            "zscore",
            json!({"target": [32, 48, 26]}),
            vec!["--target", "32,48,26"],
        ),
        (
            "zscore_frame_f32",
            json!({"target": 30, "per_frame": true, "dtype": "float32"}),
            vec!["--target", "30", "--per-frame", "--dtype", "float32"],
        ),
        (
            "percentile",
            json!({"target": [40, 40, 40], "norm": "percentile", "p_low": 1, "p_high": 99}),
            vec![
                "--target",
                "40,40,40",
                "--norm",
                "percentile",
                "--p-low",
                "1",
                "--p-high",
                "99",
            ],
        ),
        (
            "minmax_native",
            json!({"target": "native", "norm": "minmax"}),
            vec!["--target", "native", "--norm", "minmax"],
        ),
    ];
    for (name, prof, py) in &cases {
        check_volume(name, &input, mk(), prof.clone(), py, dir.path());
    }
    // Metadata carried over: gradients kept, shape/dtype/affine updated.
    let p = registry::create("volume", &params(json!({"target": [32, 48, 26]}))).unwrap();
    let a = p.apply(mk()).unwrap();
    let m: Value = serde_json::from_slice(&a.samples[0].member("meta.json").unwrap().data).unwrap();
    assert_eq!(m["gradients"], meta["gradients"]);
    assert_eq!(m["shape"], json!([32, 48, 26, 3]));
    assert_eq!(m["dtype"], "float16");
    assert_eq!(m["profile"]["fit"], json!([[-1, 0], [4, 4], [-1, 0]]));
    // x cropped by one at the start: the origin moves one voxel along x; y padded by 4.
    assert_eq!(m["affine"][0][3], -9.0);
    assert_eq!(m["affine"][1][3], -24.0);
    assert_eq!(a.samples[0].key, "bids_x_dmri");
}

/// Real NIfTI fixtures: canonical arrays made by nibabel (`get_fdata()` as float32), the
/// reference reading the NIfTI file itself the way SwiFT's monai loader does.
#[test]
fn profiles_match_reference_on_nifti_fixtures() {
    let fixtures = bomdata_testdata::require_fixtures().join("nifti");
    let dir = tempfile::tempdir().unwrap();
    let files = [
        "functional.nii",
        "example4d.nii.gz",
        "example_nifti2.nii.gz",
        "avg152T1_LR_nifti.nii",
        "reoriented_anat_moved.nii",
        "S0_10slices.nii.gz",
        "standard.nii.gz",
    ];
    let conv = "import sys, numpy as np, nibabel as nib\n\
        for src, dst in zip(sys.argv[1::2], sys.argv[2::2]):\n    \
        np.save(dst, np.ascontiguousarray(nib.load(src).get_fdata(), dtype=np.float32))\n";
    let mut args: Vec<String> = vec!["-c".into(), conv.into()];
    let mut pairs: Vec<(PathBuf, PathBuf)> = Vec::new();
    for f in files {
        let src = fixtures.join(f);
        assert!(src.is_file(), "fixture {} missing", src.display());
        let dst = dir.path().join(format!("{f}.npy"));
        args.push(src.to_string_lossy().into_owned());
        args.push(dst.to_string_lossy().into_owned());
        pairs.push((src, dst));
    }
    python(&args.iter().map(String::as_str).collect::<Vec<_>>());
    for (src, npy_path) in &pairs {
        let name = src.file_name().unwrap().to_string_lossy().into_owned();
        let bytes = std::fs::read(npy_path).unwrap();
        let shape = npy::decode(&bytes).unwrap().shape;
        let s = Sample::new("openneuro_x_mri").with("volume.npy", bytes.clone());
        if shape.len() == 4 && shape[3] >= 2 {
            let w = shape[3].min(20);
            let p = registry::create("swift", &params(json!({"window": w}))).unwrap();
            let a = p.apply(s.clone()).unwrap();
            assert!(a.rejected.is_empty(), "{name}: {:?}", a.rejected);
            let out = dir.path().join(format!("{name}.swift"));
            let ws = w.to_string();
            python(&[
                &script("swift_reference.py"),
                "--nifti",
                &src.to_string_lossy(),
                "--out",
                &out.to_string_lossy(),
                "--window",
                &ws,
            ]);
            for (i, smp) in a.samples.iter().enumerate() {
                let d = compare(
                    &format!("{name} swift {i}"),
                    &smp.member("fmri.npy").unwrap().data,
                    &out.join(format!("{i:06}.npy")),
                );
                eprintln!("{name} swift window {i}: {d} values one float16 ulp apart");
            }
        }
        let (prof, py): (Value, Vec<&str>) = match shape.len() {
            3 => (
                json!({"target": 64, "norm": "percentile"}),
                vec!["--target", "64", "--norm", "percentile"],
            ),
            _ => (
                json!({"target": [64, 64, 16], "per_frame": true}),
                vec!["--target", "64,64,16", "--per-frame"],
            ),
        };
        if name == "standard.nii.gz" {
            // A 4x5x7 test image: min-max on its own grid.
            check_volume(
                &name,
                npy_path,
                s,
                json!({"target": "native", "norm": "minmax"}),
                &["--target", "native", "--norm", "minmax"],
                dir.path(),
            );
        } else {
            check_volume(&name, npy_path, s, prof, &py, dir.path());
        }
    }
}

#[test]
fn profiles_are_listed() {
    let names = registry::names();
    assert!(names.contains(&"swift") && names.contains(&"volume"));
    assert!(registry::create("volume", &params(json!({"norm": "robust"}))).is_err());
}
