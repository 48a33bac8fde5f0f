//! Model profiles over canonical MRI volume samples (`mri/1`: `volume.npy` + `meta.json`).
//!
//! - [`swift::Swift`] (`swift`): SwiFT's fMRI contract — one global z-normalisation over the
//!   non-zero voxels of the whole run, background filled with the minimum normalised value,
//!   crop/pad to 96³ by SwiFT's per-dataset rule, fixed-length windows, float16
//!   `(1, 96, 96, 96, 20)`.
//! - [`volume::VolumeProfile`] (`volume`): sMRI/dMRI/PET volumes for ViT encoders — crop/pad to a
//!   target grid, a choice of intensity normalisation, float16/float32, with gradient tables and
//!   PET frame timing carried in `meta.json`.
//! - [`pet::PetProfile`] (`pet`): dynamic PET frames to one static image over a window from
//!   injection (amyloid/tau/fdg conventions or seconds), optionally SUV.
//!
//! Both read the canonical array as C-order `(x, y, z[, t, ...])` (nibabel's `get_fdata()`
//! order) in float32 (float16 and float64 inputs are widened/narrowed to float32 first).
//! `python/mri/` holds NumPy reference implementations of both, compared value by value in
//! `profiles/tests/mri_profiles.rs`.

pub mod pet;
pub mod swift;
pub mod volume;

use crate::{Error, Result};
use bomdata_shard::Sample;
use bomdata_shard::npy::{self, Dtype};

/// Reads element `i` of a little-endian array as float32.
pub(crate) trait Elems: Sync {
    /// Element `i` (callers keep `i` in range).
    fn at(&self, i: usize) -> f32;
    /// Elements `start..start + out.len()` into `out` (the hot path: one bounds check).
    fn load(&self, start: usize, out: &mut [f32]);
}

/// float32 little-endian bytes.
pub(crate) struct F32s<'a>(pub &'a [u8]);
/// float16 little-endian bytes.
pub(crate) struct F16s<'a>(pub &'a [u8]);
/// float64 little-endian bytes.
pub(crate) struct F64s<'a>(pub &'a [u8]);

impl Elems for F32s<'_> {
    #[inline(always)]
    fn load(&self, start: usize, out: &mut [f32]) {
        let bytes = &self.0[4 * start..4 * (start + out.len())];
        for (o, c) in out.iter_mut().zip(bytes.chunks_exact(4)) {
            *o = f32::from_le_bytes([c[0], c[1], c[2], c[3]]);
        }
    }
    #[inline(always)]
    fn at(&self, i: usize) -> f32 {
        let b = &self.0[4 * i..4 * i + 4];
        f32::from_le_bytes([b[0], b[1], b[2], b[3]])
    }
}

impl Elems for F16s<'_> {
    #[inline(always)]
    fn load(&self, start: usize, out: &mut [f32]) {
        let bytes = &self.0[2 * start..2 * (start + out.len())];
        for (o, c) in out.iter_mut().zip(bytes.chunks_exact(2)) {
            *o = half::f16::from_bits(u16::from_le_bytes([c[0], c[1]])).to_f32();
        }
    }
    #[inline(always)]
    fn at(&self, i: usize) -> f32 {
        half::f16::from_bits(u16::from_le_bytes([self.0[2 * i], self.0[2 * i + 1]])).to_f32()
    }
}

impl Elems for F64s<'_> {
    #[inline(always)]
    fn load(&self, start: usize, out: &mut [f32]) {
        let bytes = &self.0[8 * start..8 * (start + out.len())];
        for (o, c) in out.iter_mut().zip(bytes.chunks_exact(8)) {
            *o = f64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]) as f32;
        }
    }
    #[inline(always)]
    fn at(&self, i: usize) -> f32 {
        let b = &self.0[8 * i..8 * i + 8];
        f64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]) as f32
    }
}

/// Output element type of a profile.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutDtype {
    /// IEEE half precision (round to nearest even).
    F16,
    /// IEEE single precision.
    F32,
}

impl OutDtype {
    /// The NumPy name.
    pub fn name(self) -> &'static str {
        match self {
            OutDtype::F16 => "float16",
            OutDtype::F32 => "float32",
        }
    }

    fn npy(self) -> Dtype {
        match self {
            OutDtype::F16 => Dtype::F16,
            OutDtype::F32 => Dtype::F32,
        }
    }

    /// Parses `"float16"`/`"f16"`/`"float32"`/`"f32"`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "float16" | "f16" | "half" => Some(OutDtype::F16),
            "float32" | "f32" | "float" => Some(OutDtype::F32),
            _ => None,
        }
    }

    /// Starts a `.npy` member of this dtype and shape, with room for the data.
    pub(crate) fn start(self, shape: &[usize]) -> Vec<u8> {
        let mut out = npy::header(self.npy(), shape);
        let n: usize = shape.iter().product();
        out.reserve_exact(n * self.npy().size());
        out
    }

    /// Appends values (converted to this dtype, little-endian).
    #[inline]
    pub(crate) fn extend(self, out: &mut Vec<u8>, vals: &[f32], scratch: &mut Vec<half::f16>) {
        match self {
            OutDtype::F32 => {
                for v in vals {
                    out.extend_from_slice(&v.to_le_bytes());
                }
            }
            OutDtype::F16 => {
                use half::slice::HalfFloatSliceExt;
                scratch.clear();
                scratch.resize(vals.len(), half::f16::ZERO);
                scratch.as_mut_slice().convert_from_f32_slice(vals);
                let at = out.len();
                out.resize(at + 2 * vals.len(), 0);
                for (d, h) in out[at..].chunks_exact_mut(2).zip(scratch.iter()) {
                    d.copy_from_slice(&h.to_bits().to_le_bytes());
                }
            }
        }
    }

    /// Appends `n` copies of `v` (already representable in this dtype).
    pub(crate) fn fill(self, out: &mut Vec<u8>, v: f32, n: usize) {
        match self {
            OutDtype::F32 => {
                let b = v.to_le_bytes();
                for _ in 0..n {
                    out.extend_from_slice(&b);
                }
            }
            OutDtype::F16 => {
                let b = half::f16::from_f32(v).to_bits().to_le_bytes();
                for _ in 0..n {
                    out.extend_from_slice(&b);
                }
            }
        }
    }

    /// `v` rounded to this dtype and back.
    pub(crate) fn round(self, v: f32) -> f32 {
        match self {
            OutDtype::F32 => v,
            OutDtype::F16 => half::f16::from_f32(v).to_f32(),
        }
    }
}

/// Pad (positive) or crop (negative) amounts before and after one axis.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AxisFit {
    /// Voxels added (> 0) or removed (< 0) at the start of the axis.
    pub before: i64,
    /// Voxels added (> 0) or removed (< 0) at the end of the axis.
    pub after: i64,
}

impl AxisFit {
    /// The centre rule: the difference `target - n` split in two, the larger half (for an odd
    /// difference) at the start, for padding and cropping alike. For SwiFT's UKB (91×109×91) and
    /// HCP (75×93×81) grids it gives exactly their published pad tuples.
    ///
    /// ```
    /// use bomdata_profiles::mri::AxisFit;
    /// assert_eq!(AxisFit::center(91, 96), AxisFit { before: 3, after: 2 });
    /// assert_eq!(AxisFit::center(109, 96), AxisFit { before: -7, after: -6 });
    /// ```
    pub fn center(n: usize, target: usize) -> Self {
        let d = target as i64 - n as i64;
        let big = (d.abs() + 1) / 2;
        let small = d.abs() / 2;
        if d >= 0 {
            AxisFit {
                before: big,
                after: small,
            }
        } else {
            AxisFit {
                before: -big,
                after: -small,
            }
        }
    }

    /// The size after applying this fit to `n` voxels.
    pub fn out_len(self, n: usize) -> i64 {
        n as i64 + self.before + self.after
    }

    /// The input index of output index `o`, or `None` for a padded position.
    #[inline]
    pub fn source(self, o: usize, n: usize) -> Option<usize> {
        let i = o as i64 - self.before;
        (i >= 0 && (i as usize) < n).then_some(i as usize)
    }
}

/// A decoded canonical volume: the npy view, its spatial grid and frame count, and the parsed
/// `meta.json` (empty object when absent).
pub(crate) struct CanonicalVolume<'a> {
    pub view: npy::NpyView<'a>,
    /// `(x, y, z)`.
    pub grid: [usize; 3],
    /// Product of the axes after the third (1 for a 3-D volume).
    pub frames: usize,
    pub meta: serde_json::Value,
}

/// Finds and decodes `volume.npy` (and `meta.json`) of a canonical sample. `Ok(Err(reason))`
/// when the sample is not a usable volume (a rejection, not an error).
pub(crate) fn canonical(
    sample: &Sample,
) -> Result<std::result::Result<CanonicalVolume<'_>, String>> {
    let Some(m) = sample.member("volume.npy") else {
        return Ok(Err(format!("{}: no volume.npy member", sample.key)));
    };
    let view = npy::decode(&m.data).map_err(|source| Error::Member {
        key: sample.key.clone(),
        member: "volume.npy".into(),
        source,
    })?;
    if !matches!(view.dtype, Dtype::F32 | Dtype::F16 | Dtype::F64) {
        return Ok(Err(format!(
            "{}: volume.npy is {}, expected float32",
            sample.key,
            view.dtype.name()
        )));
    }
    if view.shape.len() < 3 {
        return Ok(Err(format!(
            "{}: volume.npy has shape {:?}, expected (x, y, z[, t])",
            sample.key, view.shape
        )));
    }
    let grid = [view.shape[0], view.shape[1], view.shape[2]];
    let frames = view.shape[3..].iter().product();
    let meta = match sample.member("meta.json") {
        Some(m) => serde_json::from_slice(&m.data).map_err(|source| Error::Json {
            key: sample.key.clone(),
            member: "meta.json".into(),
            source,
        })?,
        None => serde_json::Value::Object(Default::default()),
    };
    Ok(Ok(CanonicalVolume {
        view,
        grid,
        frames,
        meta,
    }))
}

/// The result of a volume profile that rejects the whole sample, with the reason.
pub(crate) fn rejected(reason: String) -> crate::Applied {
    crate::Applied {
        samples: vec![],
        rejected: vec![crate::Rejection::rule(reason)],
    }
}

/// The affine after cropping/padding: voxel `o` of the output is voxel `o - before` of the
/// input, so the new affine is `A · T(-before)`.
pub(crate) fn shifted_affine(
    meta: &serde_json::Value,
    fits: &[AxisFit; 3],
) -> Option<serde_json::Value> {
    let a = meta.get("affine")?.as_array()?;
    let mut m = [[0f64; 4]; 4];
    for (r, row) in a.iter().enumerate().take(4) {
        for (c, v) in row.as_array()?.iter().enumerate().take(4) {
            m[r][c] = v.as_f64()?;
        }
    }
    let sh = [
        -fits[0].before as f64,
        -fits[1].before as f64,
        -fits[2].before as f64,
    ];
    for row in m.iter_mut() {
        row[3] += row[0] * sh[0] + row[1] * sh[1] + row[2] * sh[2];
    }
    Some(serde_json::json!(m))
}

/// Parameter readers: accept JSON numbers, booleans and their string forms (`--param k=v`).
pub(crate) mod param {
    use crate::{Error, Result};
    use serde_json::Value;

    /// The error for a parameter value that is not `want`.
    pub fn bad(profile: &str, key: &str, v: &Value, want: &'static str) -> Error {
        Error::BadParam {
            profile: profile.to_string(),
            param: key.to_string(),
            value: v.clone(),
            expected: want,
        }
    }

    /// A positive integer.
    pub fn usize(profile: &str, key: &str, v: &Value) -> Result<usize> {
        let n = match v {
            Value::Number(n) => n.as_u64(),
            Value::String(s) => s.trim().parse::<u64>().ok(),
            _ => None,
        };
        n.filter(|&n| n > 0 && n <= 1 << 20)
            .map(|n| n as usize)
            .ok_or_else(|| bad(profile, key, v, "a positive integer"))
    }

    /// A finite number.
    pub fn f64(profile: &str, key: &str, v: &Value) -> Result<f64> {
        let n = match v {
            Value::Number(n) => n.as_f64(),
            Value::String(s) => s.trim().parse::<f64>().ok(),
            _ => None,
        };
        n.filter(|n| n.is_finite())
            .ok_or_else(|| bad(profile, key, v, "a number"))
    }

    /// A boolean.
    pub fn bool(profile: &str, key: &str, v: &Value) -> Result<bool> {
        match v {
            Value::Bool(b) => Ok(*b),
            Value::String(s) if s == "true" || s == "1" => Ok(true),
            Value::String(s) if s == "false" || s == "0" => Ok(false),
            Value::Number(n) if n.as_u64() == Some(1) => Ok(true),
            Value::Number(n) if n.as_u64() == Some(0) => Ok(false),
            _ => Err(bad(profile, key, v, "true or false")),
        }
    }

    /// A string.
    pub fn string(profile: &str, key: &str, v: &Value) -> Result<String> {
        match v {
            Value::String(s) => Ok(s.clone()),
            _ => Err(bad(profile, key, v, "a string")),
        }
    }

    /// A grid: one integer (cube) or three (`[x, y, z]`, or `"x,y,z"`).
    pub fn grid(profile: &str, key: &str, v: &Value) -> Result<[usize; 3]> {
        let parts: Vec<Value> = match v {
            Value::Array(a) => a.clone(),
            Value::String(s) if s.contains(',') || s.contains('x') => s
                .split([',', 'x'])
                .map(|p| Value::String(p.trim().to_string()))
                .collect(),
            other => vec![other.clone()],
        };
        let n: Vec<usize> = parts
            .iter()
            .map(|p| usize(profile, key, p))
            .collect::<Result<_>>()
            .map_err(|_| bad(profile, key, v, "an integer or three integers [x, y, z]"))?;
        match n.as_slice() {
            [c] => Ok([*c; 3]),
            [x, y, z] => Ok([*x, *y, *z]),
            _ => Err(bad(
                profile,
                key,
                v,
                "an integer or three integers [x, y, z]",
            )),
        }
    }
}
