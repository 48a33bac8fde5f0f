//! A byte-level NIfTI-1 writer (single file, little-endian) for synthetic volumes.
//!
//! It writes the same bytes as `bomdata-nifti`'s writer for the options used here (an sform
//! with code 2, mm/s units, scaling, a description), without depending on it.

use std::io::Write;

/// Stored voxel type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stored {
    /// `int16` (NIfTI code 4).
    Int16,
    /// `float32` (NIfTI code 16).
    Float32,
}

/// The description every synthetic volume carries (identity text a converter must drop).
pub const DESCRIP: &str = "Patient John Doe 1970-01-01";

/// The affine of every synthetic volume: 2 mm voxels, x flipped.
pub const AFFINE: [[f64; 4]; 3] = [
    [-2.0, 0.0, 0.0, 90.0],
    [0.0, 2.0, 0.0, -126.0],
    [0.0, 0.0, 2.0, -72.0],
];

fn header(stored: Stored, shape: &[u64], slope: f64, inter: f64) -> Vec<u8> {
    let mut b = vec![0u8; 348];
    let mut put = |at: usize, bytes: &[u8]| b[at..at + bytes.len()].copy_from_slice(bytes);
    put(0, &348i32.to_le_bytes());
    put(38, b"r");
    let mut dim = [1i16; 8];
    dim[0] = shape.len().clamp(1, 7) as i16;
    for (d, &s) in dim[1..].iter_mut().zip(shape.iter().take(7)) {
        *d = s as i16;
    }
    let mut pixdim = [1f32; 8];
    pixdim[1..4].copy_from_slice(&[2.0, 2.0, 2.0]);
    if shape.len() > 3 {
        pixdim[4] = 0.735;
    }
    for i in 0..8 {
        put(40 + 2 * i, &dim[i].to_le_bytes());
        put(76 + 4 * i, &pixdim[i].to_le_bytes());
    }
    let (code, bits) = match stored {
        Stored::Int16 => (4i16, 16i16),
        Stored::Float32 => (16, 32),
    };
    put(70, &code.to_le_bytes());
    put(72, &bits.to_le_bytes());
    put(108, &352f32.to_le_bytes());
    put(112, &(slope as f32).to_le_bytes());
    put(116, &(inter as f32).to_le_bytes());
    put(123, &[2 | 8]);
    put(148, DESCRIP.as_bytes());
    put(254, &2i16.to_le_bytes());
    for (i, row) in AFFINE.iter().enumerate() {
        for (c, v) in row.iter().enumerate() {
            put(280 + 16 * i + 4 * c, &(*v as f32).to_le_bytes());
        }
    }
    put(344, b"n+1\0");
    b
}

/// A volume of `shape` whose voxel `i` (file order) stores `i % 100`, with `scl_slope`/`scl_inter`
/// as given; gzip-compressed when `gz`.
pub fn nifti_bytes(stored: Stored, shape: &[u64], slope: f64, inter: f64, gz: bool) -> Vec<u8> {
    let n: u64 = shape.iter().product();
    let mut plain = header(stored, shape, slope, inter);
    plain.extend_from_slice(&[0, 0, 0, 0]);
    for i in 0..n {
        let v = (i % 100) as i16;
        match stored {
            Stored::Int16 => plain.extend_from_slice(&v.to_le_bytes()),
            Stored::Float32 => plain.extend_from_slice(&f32::from(v).to_le_bytes()),
        }
    }
    if !gz {
        return plain;
    }
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    // Writing into a Vec cannot fail.
    let _ = e.write_all(&plain);
    e.finish().unwrap_or_default()
}

/// A float32 volume of `shape` holding `values` (file order: x fastest), no scaling, with the
/// synthetic affine; gzip-compressed when `gz`.
pub fn nifti_f32_bytes(shape: &[u64], values: &[f32], gz: bool) -> Vec<u8> {
    let mut plain = header(Stored::Float32, shape, 1.0, 0.0);
    plain.extend_from_slice(&[0, 0, 0, 0]);
    for v in values {
        plain.extend_from_slice(&v.to_le_bytes());
    }
    if !gz {
        return plain;
    }
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    // Writing into a Vec cannot fail.
    let _ = e.write_all(&plain);
    e.finish().unwrap_or_default()
}
