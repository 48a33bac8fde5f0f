//! Write → read round trips over every datatype, version, byte order and container
//! (`.nii`, `.nii.gz`, multi-member `.nii.gz`, `.hdr`/`.img`).

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use std::io::Write;

use bomdata_format_core::ProbeOptions;
use bomdata_nifti::{
    ByteOrder, DataType, Extension, Header, Reader, Version, WriteOptions, Writer,
};

fn values_for(dt: DataType, n: usize) -> Vec<f64> {
    (0..n)
        .map(|i| match dt {
            DataType::Int8 => (i % 200) as f64 - 100.0,
            DataType::Uint8 | DataType::Rgb24 | DataType::Rgba32 => (i % 250) as f64,
            DataType::Int16 | DataType::Int32 | DataType::Int64 => i as f64 * 3.0 - 500.0,
            DataType::Float32 | DataType::Complex64 => i as f64 * 0.25 - 7.5,
            DataType::Float64 | DataType::Complex128 => i as f64 * 0.1 - 3.3,
            _ => i as f64 * 7.0,
        })
        .collect()
}

#[test]
fn every_datatype_version_order_and_container() {
    let dir = tempfile::tempdir().unwrap();
    let shape = [3u64, 4, 2, 3];
    let nvox: u64 = shape.iter().product();
    for dt in DataType::ALL.into_iter().filter(|d| d.is_decodable()) {
        for version in [Version::One, Version::Two] {
            for order in [ByteOrder::Little, ByteOrder::Big] {
                for ext in ["nii", "nii.gz"] {
                    let n = nvox as usize * dt.components();
                    let vals = values_for(dt, n);
                    let opts = WriteOptions::new(dt, &shape)
                        .with_format(version, order)
                        .with_scaling(if dt.is_scalable() { 2.0 } else { 1.0 }, 1.0)
                        .with_zooms(&[2.0, 2.0, 2.5, 0.8])
                        .with_mm_sec()
                        .with_descrip("round trip");
                    let p = dir.path().join(format!(
                        "{}_{}_{:?}.{ext}",
                        dt.name(),
                        version.number(),
                        order
                    ));
                    let mut w = Writer::create(&p, &opts).unwrap();
                    w.write_values(&vals).unwrap();
                    w.close().unwrap();

                    let mut r = Reader::open(&p).unwrap();
                    assert_eq!(r.header().version, version);
                    assert_eq!(r.header().byte_order, order);
                    assert_eq!(r.datatype(), dt);
                    assert_eq!(r.gzipped(), ext == "nii.gz");
                    assert_eq!(
                        r.header().repetition_time_s(),
                        Some(0.8f32 as f64).map(|t| if version == Version::One { t } else { 0.8 })
                    );
                    let mut got = Vec::new();
                    let mut v = Vec::new();
                    while r.read_volume_f64(&mut v).unwrap() {
                        got.extend_from_slice(&v);
                    }
                    let want: Vec<f64> = vals
                        .iter()
                        .map(|&x| if dt.is_scalable() { x * 2.0 + 1.0 } else { x })
                        .collect();
                    assert_eq!(got, want, "{p:?}");
                    let probe = bomdata_nifti::probe::probe(
                        &p,
                        &ProbeOptions {
                            at: vec![vec![2, 3, 1, 2]],
                            ..Default::default()
                        },
                    )
                    .unwrap();
                    assert_eq!(probe["shape"], serde_json::json!(shape));
                    assert_eq!(probe["dtype"], dt.name());
                    assert_eq!(probe["descrip"], "round trip");
                    assert_eq!(probe["stats"]["n"], n as u64);
                    let last = &want[n - dt.components()..];
                    if dt.components() == 1 {
                        assert_eq!(probe["values"][0]["value"], serde_json::json!(last[0]));
                    } else {
                        assert_eq!(probe["values"][0]["value"], serde_json::json!(last));
                    }
                }
            }
        }
    }
}

#[test]
fn multi_member_gzip_and_extensions() {
    let dir = tempfile::tempdir().unwrap();
    let mut opts = WriteOptions::new(DataType::Float32, &[5, 5, 5, 4]);
    opts.extensions.push(Extension {
        code: 6,
        size: 0,
        content: b"a comment".to_vec(),
    });
    opts.extensions.push(Extension {
        code: 4,
        size: 0,
        content: vec![1u8; 40],
    });
    let vals: Vec<f64> = (0..500).map(|i| i as f64).collect();
    let mut w = Writer::new(Vec::new(), &opts).unwrap();
    w.write_values(&vals).unwrap();
    let plain = w.finish().unwrap();
    // Three gzip members, split at arbitrary points (as pigz/bgzip write).
    let mut gz = Vec::new();
    for part in [&plain[..100], &plain[100..1000], &plain[1000..]] {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(part).unwrap();
        gz.extend(e.finish().unwrap());
    }
    let p = dir.path().join("multi.nii.gz");
    std::fs::write(&p, &gz).unwrap();
    let mut r = Reader::open(&p).unwrap();
    let exts: Vec<(i32, i64)> = r.extensions().iter().map(|e| (e.code, e.size)).collect();
    assert_eq!(exts, vec![(6, 32), (4, 48)]);
    assert_eq!(&r.extensions()[0].content[..9], b"a comment");
    assert_eq!(r.header().vox_offset, (348 + 4 + 32 + 48) as f64);
    let all = r.read_all_f32().unwrap();
    assert_eq!(all.len(), 500);
    assert_eq!(all[499], 499.0);
}

#[test]
fn hdr_img_pairs() {
    let dir = tempfile::tempdir().unwrap();
    for (version, order, gz) in [
        (Version::One, ByteOrder::Little, false),
        (Version::One, ByteOrder::Big, true),
        (Version::Two, ByteOrder::Big, false),
    ] {
        let mut h = Header::new(DataType::Int16, &[2, 3, 4]);
        h.version = version;
        h.byte_order = order;
        h.single_file = false;
        h.vox_offset = 0.0;
        h.scl_slope = 0.5;
        let mut hdr = h.encode();
        hdr.extend_from_slice(&[0; 4]);
        let img: Vec<u8> = (0..24i16)
            .flat_map(|v| {
                if order == ByteOrder::Big {
                    v.to_be_bytes()
                } else {
                    v.to_le_bytes()
                }
            })
            .collect();
        let stem = format!("pair{}_{order:?}", version.number());
        let img_name = if gz {
            format!("{stem}.img.gz")
        } else {
            format!("{stem}.img")
        };
        std::fs::write(dir.path().join(format!("{stem}.hdr")), &hdr).unwrap();
        let img_bytes = if gz {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            e.write_all(&img).unwrap();
            e.finish().unwrap()
        } else {
            img
        };
        std::fs::write(dir.path().join(&img_name), img_bytes).unwrap();
        for open in [format!("{stem}.hdr"), img_name.clone()] {
            let p = dir.path().join(&open);
            assert_eq!(bomdata_nifti::probe::detect(&p), Some("nifti"), "{open}");
            let mut r = Reader::open(&p).unwrap();
            assert!(!r.header().single_file);
            let all = r.read_all_f32().unwrap();
            assert_eq!(
                all,
                (0..24).map(|v| v as f32 * 0.5).collect::<Vec<_>>(),
                "{open}"
            );
        }
    }
    // A lone .hdr is a clear error.
    let lone = dir.path().join("lone.hdr");
    std::fs::write(&lone, Header::new(DataType::Uint8, &[1]).encode()).unwrap();
    assert!(Reader::open(&lone).is_err());
}

#[test]
fn qform_rotation_and_best_affine_rule() {
    // 90 degrees about z: quaternion (a, b, c, d) = (cos 45, 0, 0, sin 45).
    let mut h = Header::new(DataType::Uint8, &[10, 10, 10]);
    let s = std::f64::consts::FRAC_1_SQRT_2;
    h.quatern = [0.0, 0.0, s];
    h.qoffset = [1.0, 2.0, 3.0];
    h.pixdim[1..4].copy_from_slice(&[2.0, 3.0, 4.0]);
    h.pixdim[0] = -1.0;
    h.qform_code = 1;
    let q = h.qform();
    let want = [
        [0.0, -3.0, 0.0, 1.0],
        [2.0, 0.0, 0.0, 2.0],
        [0.0, 0.0, -4.0, 3.0],
        [0.0, 0.0, 0.0, 1.0],
    ];
    for r in 0..4 {
        for c in 0..4 {
            assert!((q[r][c] - want[r][c]).abs() < 1e-12, "{q:?}");
        }
    }
    assert_eq!(h.best_affine(), q);
    h.sform_code = 2;
    h.srow[0][3] = 9.0;
    assert_eq!(h.best_affine(), h.sform());
    h.sform_code = 0;
    h.qform_code = 0;
    let b = h.base_affine();
    assert_eq!(b[0], [-2.0, 0.0, 0.0, 9.0]);
    assert_eq!(b[2], [0.0, 0.0, 4.0, -18.0]);
}

#[test]
fn writer_counts_values() {
    let opts = WriteOptions::new(DataType::Uint8, &[2, 2]);
    let mut w = Writer::new(Vec::new(), &opts).unwrap();
    w.write_values(&[1.0, 2.0, 3.0]).unwrap();
    assert!(w.write_values(&[1.0, 2.0]).is_err());
    assert!(w.finish().is_err());
}

#[test]
fn c_order_output_matches_numpy_layout() {
    let shape = [2u64, 3, 2, 2, 3];
    let n: u64 = shape.iter().product();
    let mut w = Writer::new(Vec::new(), &WriteOptions::new(DataType::Int32, &shape)).unwrap();
    w.write_values(&(0..n).map(|i| i as f64).collect::<Vec<_>>())
        .unwrap();
    let bytes = w.finish().unwrap();
    let mut r = Reader::from_single(&bytes[..], bytes.len() as u64, false).unwrap();
    let mut out = vec![0u8; n as usize * 4];
    r.read_c_order_f32_le(&mut out).unwrap();
    let got: Vec<f32> = out
        .chunks(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    let mut want = Vec::new();
    for x in 0..2 {
        for y in 0..3 {
            for z in 0..2 {
                for t in 0..2 {
                    for u in 0..3 {
                        want.push((x + 2 * (y + 3 * (z + 2 * (t + 2 * u)))) as f32);
                    }
                }
            }
        }
    }
    assert_eq!(got, want);
}
