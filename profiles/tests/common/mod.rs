//! Helpers shared by the profile tests that compare against Python references.

use bomdata_shard::npy::{self, Dtype};

/// Shape and values (as f64) of an `.npy` holding float32 or float64 data.
#[allow(clippy::unwrap_used)] // test code: a panic is the failure report
pub fn f64s(bytes: &[u8]) -> (Vec<usize>, Vec<f64>) {
    let v = npy::decode(bytes).unwrap();
    let vals = match v.dtype {
        Dtype::F64 => v
            .data
            .chunks_exact(8)
            .map(|b| f64::from_le_bytes(b.try_into().unwrap()))
            .collect(),
        Dtype::F32 => v
            .data
            .chunks_exact(4)
            .map(|b| f64::from(f32::from_le_bytes(b.try_into().unwrap())))
            .collect(),
        d => panic!("unexpected dtype {d:?}"),
    };
    (v.shape.clone(), vals)
}
