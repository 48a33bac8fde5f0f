//! Raw voxel bytes to scaled floats.

use crate::header::{ByteOrder, DataType};

/// An output element type of the scaled decoders: `f32` or `f64`.
pub trait Element: Copy + Default + sealed::Sealed {
    /// Rounds a float64 value to this type.
    fn from_f64(v: f64) -> Self;
}

impl Element for f32 {
    #[inline(always)]
    fn from_f64(v: f64) -> Self {
        v as f32
    }
}

impl Element for f64 {
    #[inline(always)]
    fn from_f64(v: f64) -> Self {
        v
    }
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for f32 {}
    impl Sealed for f64 {}
}

#[inline(always)]
fn run<T: Element, const N: usize>(
    bytes: &[u8],
    out: &mut [T],
    scale: Option<(f64, f64)>,
    conv: impl Fn([u8; N]) -> f64,
) {
    let chunks = bytes.chunks_exact(N);
    match scale {
        None => {
            for (o, c) in out.iter_mut().zip(chunks) {
                let mut a = [0u8; N];
                a.copy_from_slice(c);
                *o = T::from_f64(conv(a));
            }
        }
        Some((s, i)) => {
            for (o, c) in out.iter_mut().zip(chunks) {
                let mut a = [0u8; N];
                a.copy_from_slice(c);
                *o = T::from_f64(conv(a) * s + i);
            }
        }
    }
}

/// Decodes `bytes` (whole voxels of `dtype` in `order`) into `out`, one value per component
/// (complex: real then imaginary; RGB(A): channels in order), applying `scale` as
/// `value * slope + inter` in float64 before rounding to `T`.
///
/// `out` must hold `bytes.len() / dtype.size() * dtype.components()` values; extra output is left
/// untouched and extra input ignored. `Float128`/`Complex256` decode to NaN: their layout is
/// platform-dependent and the reader refuses them.
///
/// ```
/// use bomdata_nifti::{decode::decode, header::ByteOrder, DataType};
/// let bytes = [1i16, -2].iter().flat_map(|v| v.to_le_bytes()).collect::<Vec<_>>();
/// let mut out = [0f32; 2];
/// decode(DataType::Int16, ByteOrder::Little, &bytes, Some((0.5, 10.0)), &mut out);
/// assert_eq!(out, [10.5, 9.0]);
/// ```
pub fn decode<T: Element>(
    dtype: DataType,
    order: ByteOrder,
    bytes: &[u8],
    scale: Option<(f64, f64)>,
    out: &mut [T],
) {
    let be = order == ByteOrder::Big;
    macro_rules! num {
        ($t:ty, $n:expr) => {
            if be {
                run::<T, $n>(bytes, out, scale, |a| <$t>::from_be_bytes(a) as f64)
            } else {
                run::<T, $n>(bytes, out, scale, |a| <$t>::from_le_bytes(a) as f64)
            }
        };
    }
    match dtype {
        DataType::Uint8 => run::<T, 1>(bytes, out, scale, |a| a[0] as f64),
        DataType::Int8 => run::<T, 1>(bytes, out, scale, |a| a[0] as i8 as f64),
        DataType::Rgb24 | DataType::Rgba32 => run::<T, 1>(bytes, out, None, |a| a[0] as f64),
        DataType::Int16 => num!(i16, 2),
        DataType::Uint16 => num!(u16, 2),
        DataType::Int32 => num!(i32, 4),
        DataType::Uint32 => num!(u32, 4),
        DataType::Int64 => num!(i64, 8),
        DataType::Uint64 => num!(u64, 8),
        DataType::Float32 | DataType::Complex64 => num!(f32, 4),
        DataType::Float64 | DataType::Complex128 => num!(f64, 8),
        // Never produced by the reader, which refuses these (see `DecodeError::LongDouble`).
        DataType::Float128 | DataType::Complex256 => run::<T, 16>(bytes, out, None, |_| f64::NAN),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_datatype_decodes_both_orders() {
        for dt in DataType::ALL.into_iter().filter(|d| d.is_decodable()) {
            for order in [ByteOrder::Little, ByteOrder::Big] {
                let n = dt.components();
                let mut bytes = vec![0u8; dt.size()];
                // Set the value 3 in the first component.
                let comp = dt.size() / n;
                let enc: Vec<u8> = match dt {
                    DataType::Float32 | DataType::Complex64 => 3f32.to_le_bytes().to_vec(),
                    DataType::Float64 | DataType::Complex128 => 3f64.to_le_bytes().to_vec(),
                    _ => {
                        let mut b = vec![0u8; comp];
                        b[0] = 3;
                        b
                    }
                };
                let mut enc = enc;
                if order == ByteOrder::Big {
                    enc.reverse();
                }
                bytes[..comp].copy_from_slice(&enc);
                let mut out = vec![0f64; n];
                decode(dt, order, &bytes, None, &mut out);
                assert_eq!(out[0], 3.0, "{dt:?} {order:?}");
            }
        }
    }

    #[test]
    fn rgb_is_never_scaled() {
        let mut out = [0f64; 3];
        decode(
            DataType::Rgb24,
            ByteOrder::Little,
            &[1, 2, 3],
            Some((2.0, 1.0)),
            &mut out,
        );
        assert_eq!(out, [1.0, 2.0, 3.0]);
    }
}
