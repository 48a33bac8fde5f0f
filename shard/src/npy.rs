//! `.npy` (NumPy format version 1.0) encoding and zero-copy decoding.
//!
//! Arrays are written little-endian, C order, with the header padded so the data starts at a
//! multiple of 64 bytes (what `numpy.save` does), which lets readers map the data in place.

use crate::Result;
use crate::error::NpyError;

/// Element types bomdata writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Dtype {
    /// bool (`|b1`)
    Bool,
    /// uint8 (`|u1`)
    U8,
    /// int8 (`|i1`)
    I8,
    /// uint16 (`<u2`)
    U16,
    /// int16 (`<i2`)
    I16,
    /// uint32 (`<u4`)
    U32,
    /// int32 (`<i4`)
    I32,
    /// uint64 (`<u8`)
    U64,
    /// int64 (`<i8`)
    I64,
    /// float16 (`<f2`)
    F16,
    /// float32 (`<f4`)
    F32,
    /// float64 (`<f8`)
    F64,
}

impl Dtype {
    /// The NumPy `descr` string.
    pub fn descr(self) -> &'static str {
        match self {
            Dtype::Bool => "|b1",
            Dtype::U8 => "|u1",
            Dtype::I8 => "|i1",
            Dtype::U16 => "<u2",
            Dtype::I16 => "<i2",
            Dtype::U32 => "<u4",
            Dtype::I32 => "<i4",
            Dtype::U64 => "<u8",
            Dtype::I64 => "<i8",
            Dtype::F16 => "<f2",
            Dtype::F32 => "<f4",
            Dtype::F64 => "<f8",
        }
    }

    /// Bytes per element.
    pub fn size(self) -> usize {
        match self {
            Dtype::Bool | Dtype::U8 | Dtype::I8 => 1,
            Dtype::U16 | Dtype::I16 | Dtype::F16 => 2,
            Dtype::U32 | Dtype::I32 | Dtype::F32 => 4,
            Dtype::U64 | Dtype::I64 | Dtype::F64 => 8,
        }
    }

    /// The NumPy name (`"float32"`).
    pub fn name(self) -> &'static str {
        match self {
            Dtype::Bool => "bool",
            Dtype::U8 => "uint8",
            Dtype::I8 => "int8",
            Dtype::U16 => "uint16",
            Dtype::I16 => "int16",
            Dtype::U32 => "uint32",
            Dtype::I32 => "int32",
            Dtype::U64 => "uint64",
            Dtype::I64 => "int64",
            Dtype::F16 => "float16",
            Dtype::F32 => "float32",
            Dtype::F64 => "float64",
        }
    }

    fn from_descr(d: &str) -> Option<Dtype> {
        let all = [
            Dtype::Bool,
            Dtype::U8,
            Dtype::I8,
            Dtype::U16,
            Dtype::I16,
            Dtype::U32,
            Dtype::I32,
            Dtype::U64,
            Dtype::I64,
            Dtype::F16,
            Dtype::F32,
            Dtype::F64,
        ];
        // Single-byte types may be written with '<' or '=' instead of '|'.
        let norm = if d.len() == 3 && d.ends_with('1') {
            format!("|{}", &d[1..])
        } else {
            d.to_string()
        };
        all.into_iter().find(|t| t.descr() == norm)
    }
}

/// The header bytes (magic, version, length, dict, padding) for an array.
pub fn header(dtype: Dtype, shape: &[usize]) -> Vec<u8> {
    let shape_s = match shape.len() {
        0 => "()".to_string(),
        1 => format!("({},)", shape[0]),
        _ => format!(
            "({})",
            shape
                .iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    let dict = format!(
        "{{'descr': '{}', 'fortran_order': False, 'shape': {}, }}",
        dtype.descr(),
        shape_s
    );
    let unpadded = 10 + dict.len() + 1;
    let total = unpadded.div_ceil(64) * 64;
    let mut h = Vec::with_capacity(total);
    h.extend_from_slice(b"\x93NUMPY\x01\x00");
    h.extend_from_slice(&((total - 10) as u16).to_le_bytes());
    h.extend_from_slice(dict.as_bytes());
    h.resize(total - 1, b' ');
    h.push(b'\n');
    h
}

/// Encodes raw little-endian element bytes as a `.npy` file.
pub fn encode_raw(dtype: Dtype, shape: &[usize], data: &[u8]) -> Result<Vec<u8>> {
    let n: usize = shape.iter().product();
    if n * dtype.size() != data.len() {
        return Err(NpyError::DataLength {
            shape: shape.to_vec(),
            dtype: dtype.name(),
            need: n * dtype.size(),
            got: data.len(),
        }
        .into());
    }
    let mut out = header(dtype, shape);
    out.extend_from_slice(data);
    Ok(out)
}

macro_rules! encoder {
    ($fn:ident, $t:ty, $dt:expr) => {
        #[doc = concat!("Encodes a C-order `", stringify!($t), "` array. Panics never; a length that does not match `shape` is padded or cut to the shape's size.")]
        pub fn $fn(shape: &[usize], values: &[$t]) -> Vec<u8> {
            let n: usize = shape.iter().product();
            let mut out = header($dt, shape);
            out.reserve(n * std::mem::size_of::<$t>());
            let m = n.min(values.len());
            if cfg!(target_endian = "little") {
                // SAFETY: the values are initialised plain numbers without padding, and u8
                // has alignment 1, so their memory read as `m * size` bytes is valid; on a
                // little-endian target those bytes are exactly their `to_le_bytes`.
                let bytes = unsafe {
                    std::slice::from_raw_parts(
                        values.as_ptr().cast::<u8>(),
                        m * std::mem::size_of::<$t>(),
                    )
                };
                out.extend_from_slice(bytes);
            } else {
                for v in &values[..m] {
                    out.extend_from_slice(&v.to_le_bytes());
                }
            }
            for _ in m..n {
                out.extend_from_slice(&<$t>::default().to_le_bytes());
            }
            out
        }
    };
}

encoder!(encode_f32, f32, Dtype::F32);
encoder!(encode_f64, f64, Dtype::F64);
encoder!(encode_u8, u8, Dtype::U8);
encoder!(encode_i16, i16, Dtype::I16);
encoder!(encode_u16, u16, Dtype::U16);
encoder!(encode_i32, i32, Dtype::I32);
encoder!(encode_u32, u32, Dtype::U32);
encoder!(encode_i64, i64, Dtype::I64);

/// The bytes `data` (float32 little-endian values, e.g. the data part of a `.npy` being
/// filled in place) as `f32`s to write into, when that is a plain reinterpretation: a
/// little-endian target and `data` 4-byte aligned with a length a multiple of 4 (a `.npy`
/// header is 64-byte padded, so the data of a buffer from the allocator is). `None` otherwise:
/// the caller then fills an `f32` buffer and copies.
pub fn f32_data_mut(data: &mut [u8]) -> Option<&mut [f32]> {
    if !cfg!(target_endian = "little") || !data.len().is_multiple_of(4) {
        return None;
    }
    // SAFETY: any 4 initialised bytes are a valid f32; `align_to_mut` hands out only aligned,
    // in-bounds f32s, and the whole slice is used only when nothing is left before or after.
    let (pre, mid, post) = unsafe { data.align_to_mut::<f32>() };
    (pre.is_empty() && post.is_empty()).then_some(mid)
}

/// Encodes float16 values given as raw bit patterns (`half::f16::to_bits`).
pub fn encode_f16_bits(shape: &[usize], bits: &[u16]) -> Vec<u8> {
    let n: usize = shape.iter().product();
    let mut out = header(Dtype::F16, shape);
    out.reserve(n * 2);
    for i in 0..n {
        out.extend_from_slice(&bits.get(i).copied().unwrap_or_default().to_le_bytes());
    }
    out
}

/// A decoded `.npy` header with a view of the data bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NpyView<'a> {
    /// Element type.
    pub dtype: Dtype,
    /// Shape (C order).
    pub shape: Vec<usize>,
    /// Offset of the data within the `.npy` bytes.
    pub data_offset: usize,
    /// The element bytes, little-endian.
    pub data: &'a [u8],
}

/// Parses a `.npy` file in memory without copying its data.
///
/// ```
/// use bomdata_shard::npy;
/// let b = npy::encode_f32(&[3], &[1.0, 2.0, 3.0]);
/// let v = npy::decode(&b).unwrap();
/// assert_eq!(v.shape, vec![3]);
/// assert_eq!(v.data.len(), 12);
/// assert_eq!(v.data_offset % 64, 0);
/// ```
pub fn decode(bytes: &[u8]) -> Result<NpyView<'_>> {
    let (dtype, shape, end) = decode_header(bytes)?;
    let n = shape
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .and_then(|n| n.checked_mul(dtype.size()))
        .ok_or(NpyError::ShapeOverflow)?;
    if bytes.len() - end < n {
        return Err(NpyError::Truncated {
            need: n,
            have: bytes.len() - end,
        }
        .into());
    }
    Ok(NpyView {
        dtype,
        shape,
        data_offset: end,
        data: &bytes[end..end + n],
    })
}

/// The dtype, shape and data offset of the `.npy` header at the start of `bytes`; the array
/// data need not follow (to learn a shape from the first bytes of a large or compressed member).
pub fn decode_header(bytes: &[u8]) -> Result<(Dtype, Vec<usize>, usize)> {
    if bytes.len() < 10 || &bytes[..6] != b"\x93NUMPY" {
        return Err(NpyError::BadMagic.into());
    }
    let (hlen, start) = match bytes[6] {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10usize),
        2 | 3 => {
            if bytes.len() < 12 {
                return Err(NpyError::TruncatedHeader.into());
            }
            (
                u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize,
                12,
            )
        }
        v => return Err(NpyError::Version(v).into()),
    };
    let end = start
        .checked_add(hlen)
        .filter(|&e| e <= bytes.len())
        .ok_or(NpyError::TruncatedHeader)?;
    let dict = std::str::from_utf8(&bytes[start..end]).map_err(|_| NpyError::HeaderNotText)?;
    let field = |name: &'static str| -> Result<&str> {
        let pat = format!("'{name}':");
        let i = dict.find(&pat).ok_or(NpyError::MissingField(name))?;
        Ok(dict[i + pat.len()..].trim_start())
    };
    let descr = field("descr")?;
    let descr = descr
        .strip_prefix('\'')
        .and_then(|s| s.split('\'').next())
        .ok_or(NpyError::BadDescr)?;
    let dtype =
        Dtype::from_descr(descr).ok_or_else(|| NpyError::UnsupportedDtype(descr.to_string()))?;
    if field("fortran_order")?.starts_with("True") {
        return Err(NpyError::FortranOrder.into());
    }
    let shape_s = field("shape")?;
    let close = shape_s.find(')').ok_or(NpyError::BadShape)?;
    let mut shape = Vec::new();
    for part in shape_s[1..close].split(',') {
        let p = part.trim();
        if !p.is_empty() {
            shape.push(
                p.parse::<usize>()
                    .map_err(|_| NpyError::BadShapeEntry(p.to_string()))?,
            );
        }
    }
    Ok((dtype, shape, end))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_is_64_aligned_and_roundtrips() {
        for shape in [vec![], vec![5], vec![1, 96, 96, 96, 20]] {
            let n: usize = shape.iter().product();
            let b = encode_f32(&shape, &vec![1.5; n]);
            assert_eq!(header(Dtype::F32, &shape).len() % 64, 0);
            let v = decode(&b).unwrap();
            assert_eq!(v.shape, shape);
            assert_eq!(v.dtype, Dtype::F32);
        }
    }

    #[test]
    fn truncated_is_an_error() {
        let b = encode_f32(&[4], &[1.0; 4]);
        assert!(decode(&b[..b.len() - 1]).is_err());
        assert!(decode(b"nope").is_err());
    }
}
