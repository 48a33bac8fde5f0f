//! Files written by `bomdata-nifti` in every datatype, version and byte order, read back by
//! nibabel (the reference reader) and by this crate: same shape, affine, scaled values, and the
//! C-order float32 array equals `get_fdata().astype(float32)`.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use std::path::PathBuf;

use bomdata_nifti::{ByteOrder, DataType, Reader, Version, WriteOptions, Writer};

const SCRIPT: &str = r#"
import json, sys
import numpy as np
import nibabel as nib
out = {}
for p in sys.argv[1:]:
    img = nib.load(p)
    a = np.asanyarray(img.dataobj)
    scalar = a.dtype.kind in "iuf" and not a.dtype.names
    if a.dtype.names:
        a = np.stack([a[n] for n in a.dtype.names], -1)
        flat = np.moveaxis(a, -1, 0).ravel(order="F")
    elif a.dtype.kind == "c":
        flat = np.moveaxis(np.stack([a.real, a.imag], -1), -1, 0).ravel(order="F")
    else:
        flat = a.ravel(order="F")
    r = {"shape": list(img.shape), "affine": img.affine.tolist(),
         "zooms": [float(z) for z in img.header.get_zooms()],
         "values": [float(v) for v in flat]}
    if scalar:
        r["c_order_f32"] = [float(v) for v in np.asarray(img.get_fdata(), dtype=np.float32).ravel(order="C")]
    out[p] = r
print(json.dumps(out))
"#;

fn values(dt: DataType, n: usize) -> Vec<f64> {
    (0..n)
        .map(|i| match dt {
            DataType::Int8 => (i % 200) as f64 - 100.0,
            DataType::Uint8 | DataType::Rgb24 | DataType::Rgba32 => (i * 7 % 256) as f64,
            DataType::Uint16 | DataType::Uint32 | DataType::Uint64 => (i * 37) as f64,
            DataType::Float32 | DataType::Complex64 => i as f64 * 0.37 - 5.0,
            DataType::Float64 | DataType::Complex128 => i as f64 * 0.1 - 3.3,
            _ => i as f64 * 13.0 - 200.0,
        })
        .collect()
}

#[test]
fn nibabel_reads_what_we_read() {
    let python = bomdata_testdata::require_python();
    let dir = tempfile::tempdir().unwrap();
    let shape = [3u64, 4, 2, 3];
    let nvox: u64 = shape.iter().product();
    let mut files: Vec<(PathBuf, DataType)> = Vec::new();
    for dt in DataType::ALL.into_iter().filter(|d| d.is_decodable()) {
        for (version, order, ext) in [
            (Version::One, ByteOrder::Little, "nii.gz"),
            (Version::One, ByteOrder::Big, "nii"),
            (Version::Two, ByteOrder::Little, "nii"),
            (Version::Two, ByteOrder::Big, "nii.gz"),
        ] {
            let complex = dt.components() == 2;
            let mut opts = WriteOptions::new(dt, &shape)
                .with_format(version, order)
                .with_zooms(&[1.5, 2.0, 2.5, 0.9])
                .with_mm_sec();
            if dt.is_scalable() {
                // nibabel adds the intercept to the real part only; keep it 0 for complex.
                opts = opts.with_scaling(0.75, if complex { 0.0 } else { -3.0 });
            }
            // qform: 30 degrees about x, qfac -1; sform only for NIfTI-2.
            let h = &mut opts.header;
            h.qform_code = 1;
            h.quatern = [(15f64).to_radians().sin(), 0.0, 0.0];
            h.qoffset = [10.0, -20.0, 30.0];
            h.pixdim[0] = -1.0;
            if version == Version::Two {
                h.sform_code = 4;
                h.srow = [
                    [1.5, 0.1, 0.0, -5.0],
                    [0.0, 2.0, 0.2, 6.0],
                    [0.0, 0.0, 2.5, 7.0],
                ];
            }
            let p = dir.path().join(format!(
                "{}_{}_{:?}.{ext}",
                dt.name(),
                version.number(),
                order
            ));
            let mut w = Writer::create(&p, &opts).unwrap();
            w.write_values(&values(dt, nvox as usize * dt.components()))
                .unwrap();
            w.close().unwrap();
            files.push((p, dt));
        }
    }
    let out = std::process::Command::new(&python)
        .arg("-c")
        .arg(SCRIPT)
        .args(files.iter().map(|(p, _)| p))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "nibabel failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let nib: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut failures = Vec::new();
    for (p, dt) in &files {
        let want = &nib[p.to_string_lossy().as_ref()];
        let mut r = Reader::open(p).unwrap();
        let shape_json: Vec<u64> = want["shape"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap())
            .collect();
        if shape_json != r.header().shape() {
            failures.push(format!("{p:?}: shape {shape_json:?}"));
        }
        let aff = r.header().best_affine();
        for (i, row) in want["affine"].as_array().unwrap().iter().enumerate() {
            for (j, v) in row.as_array().unwrap().iter().enumerate() {
                let w = v.as_f64().unwrap();
                if (aff[i][j] - w).abs() > 1e-9 * w.abs().max(1.0) {
                    failures.push(format!("{p:?}: affine[{i}][{j}] {} vs {w}", aff[i][j]));
                }
            }
        }
        let mut got = Vec::new();
        let mut v = Vec::new();
        while r.read_volume_f64(&mut v).unwrap() {
            got.extend_from_slice(&v);
        }
        let want_vals: Vec<f64> = want["values"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        if got != want_vals {
            failures.push(format!(
                "{p:?}: values differ, first {:?} vs {:?}",
                &got[..4],
                &want_vals[..4]
            ));
        }
        if let Some(c) = want.get("c_order_f32") {
            let mut r = Reader::open(p).unwrap();
            let mut bytes = vec![0u8; nvox as usize * 4];
            r.read_c_order_f32_le(&mut bytes).unwrap();
            let ours: Vec<f32> = bytes
                .chunks(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect();
            let theirs: Vec<f32> = c
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_f64().unwrap() as f32)
                .collect();
            if ours != theirs {
                failures.push(format!("{p:?} ({}): C-order float32 differs", dt.name()));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
