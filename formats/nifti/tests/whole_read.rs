//! The whole-file path of `Reader::read_c_order_f32_le` (a file opened by path: mapped `.nii`,
//! or a single-member `.nii.gz` inflated by libdeflate in one call) gives exactly the values of
//! the streaming path, for every scalar datatype, both byte orders, scaling and 3-D to 5-D
//! images; multi-member gzip and oversized headers fall back to (or fail like) streaming.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use std::io::Write;

use bomdata_nifti::{ByteOrder, DataType, Reader, Version, WriteOptions, Writer};

fn streamed(bytes: &[u8], n: usize) -> Vec<u8> {
    let mut r = Reader::from_single(bytes, bytes.len() as u64, false).unwrap();
    let mut out = vec![0u8; 4 * n];
    r.read_c_order_f32_le(&mut out).unwrap();
    out
}

fn by_path(path: &std::path::Path, n: usize) -> Vec<u8> {
    let mut r = Reader::open(path).unwrap();
    let mut out = vec![0u8; 4 * n];
    r.read_c_order_f32_le(&mut out).unwrap();
    assert!(
        !r.read_volume_raw(&mut Vec::new()).unwrap(),
        "all volumes consumed"
    );
    out
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

#[test]
fn whole_file_read_equals_streaming() {
    let dir = tempfile::tempdir().unwrap();
    let shapes: [&[u64]; 4] = [&[7, 5, 3], &[7, 5, 3, 4], &[3, 2, 2, 5], &[2, 3, 2, 2, 3]];
    let types = [
        DataType::Uint8,
        DataType::Int16,
        DataType::Uint16,
        DataType::Int32,
        DataType::Float32,
        DataType::Float64,
        DataType::Int64,
    ];
    for (k, shape) in shapes.iter().enumerate() {
        let n: u64 = shape.iter().product();
        for (j, dt) in types.iter().enumerate() {
            for order in [ByteOrder::Little, ByteOrder::Big] {
                let version = if j % 3 == 2 {
                    Version::Two
                } else {
                    Version::One
                };
                let mut opts = WriteOptions::new(*dt, shape).with_format(version, order);
                if j % 2 == 1 {
                    opts = opts.with_scaling(0.5, -3.0);
                }
                let vals: Vec<f64> = (0..n).map(|i| ((i * 37) % 101) as f64).collect();
                let mut w = Writer::new(Vec::new(), &opts).unwrap();
                w.write_values(&vals).unwrap();
                let plain = w.finish().unwrap();
                let want = streamed(&plain, n as usize);
                let name = format!("i{k}_{j}_{order:?}");
                let p = dir.path().join(format!("{name}.nii"));
                std::fs::write(&p, &plain).unwrap();
                assert_eq!(by_path(&p, n as usize), want, "{name}.nii");
                let g = dir.path().join(format!("{name}.nii.gz"));
                std::fs::write(&g, gzip(&plain)).unwrap();
                assert_eq!(by_path(&g, n as usize), want, "{name}.nii.gz");
                // Two members: streamed (the first member alone is not the image).
                let mut two = gzip(&plain[..400]);
                two.extend(gzip(&plain[400..]));
                let m = dir.path().join(format!("{name}.multi.nii.gz"));
                std::fs::write(&m, two).unwrap();
                assert_eq!(by_path(&m, n as usize), want, "{name}.multi.nii.gz");
            }
        }
    }
}

#[test]
fn truncated_gzip_fails_as_streaming_does() {
    let dir = tempfile::tempdir().unwrap();
    let shape = [6u64, 5, 4, 3];
    let n: u64 = shape.iter().product();
    let mut w = Writer::new(Vec::new(), &WriteOptions::new(DataType::Float32, &shape)).unwrap();
    w.write_values(&(0..n).map(|i| i as f64).collect::<Vec<_>>())
        .unwrap();
    let plain = w.finish().unwrap();
    // The data cut short by one volume, gzipped whole: ISIZE no longer matches the header.
    let cut = &plain[..plain.len() - 6 * 5 * 4 * 4];
    let p = dir.path().join("cut.nii.gz");
    std::fs::write(&p, gzip(cut)).unwrap();
    let mut r = Reader::open(&p).unwrap();
    let mut out = vec![0u8; 4 * n as usize];
    let e = r.read_c_order_f32_le(&mut out).unwrap_err();
    assert!(e.to_string().contains("volume"), "{e}");
}
