//! The `volume` profile: sMRI, dMRI and PET volumes for ViT encoders.
//!
//! No public code of the project's volume encoders was found (DOMAIN.md §2), so this profile is
//! a set of explicit, recorded choices rather than a copy of a model's pipeline:
//!
//! - **Grid**: each spatial axis is centre cropped/padded to `target` (`[x, y, z]`, or one edge
//!   for a cube, or `native` to keep the grid), with [`AxisFit::center`] (the odd voxel at the
//!   start). Padding behaves as raw 0 (background) put through the normalisation, so a padded
//!   voxel equals an outside-the-brain voxel. The affine in `meta.json` is shifted to match.
//! - **Normalisation** (`norm`), computed on the whole input (before the crop), in float64:
//!   - `zscore`: mean and population std (ddof 0) over the non-zero ("brain") values;
//!     brain → `(x − mean)/std`, background (x = 0) → 0;
//!   - `percentile`: `lo`, `hi` = the `p_low`/`p_high` percentiles of the non-zero values
//!     (NumPy's default linear interpolation); every voxel → `(clip(x, lo, hi) − lo)/(hi − lo)`;
//!   - `minmax`: every voxel → `(x − min)/(max − min)` over all voxels;
//!   - `none`: values unchanged.
//!
//!   With `per_frame=true` a 4-D input (dMRI volumes, PET frames) is normalised frame by frame,
//!   else once over all frames.
//! - **Dtype**: the float64 result is rounded to float32, then to float16 when `dtype=float16`.
//! - **Metadata**: the input `meta.json` is carried over (so dMRI `gradients` and PET `frames`
//!   stay with the volume) with `shape`, `dtype` and `affine` updated and a `profile` object
//!   recording the fits and the statistics used.
//!
//! Output: one sample per input, same key, members `volume.npy` (`(x, y, z[, t…])` C order) and
//! `meta.json`. Inputs with non-finite values or nothing to normalise (no brain values, zero
//! spread) are rejected with a reason.

use serde_json::{Value, json};

use super::{
    AxisFit, CanonicalVolume, Elems, F16s, F32s, F64s, OutDtype, canonical, param, rejected,
    shifted_affine,
};
use crate::profile::{Applied, Params, Profile, check_params};
use crate::{Error, Result};
use bomdata_shard::Sample;
use bomdata_shard::npy::Dtype;

/// Intensity normalisation of the `volume` profile.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Norm {
    /// z-score over non-zero voxels, background 0.
    Zscore,
    /// Clip to the (low, high) percentiles of non-zero voxels, then min-max to [0, 1].
    Percentile(f64, f64),
    /// Min-max to [0, 1] over all voxels.
    MinMax,
    /// No normalisation.
    None,
}

impl Norm {
    fn name(self) -> &'static str {
        match self {
            Norm::Zscore => "zscore",
            Norm::Percentile(..) => "percentile",
            Norm::MinMax => "minmax",
            Norm::None => "none",
        }
    }
}

/// The volume profile (see the module docs).
#[derive(Clone, Debug)]
pub struct VolumeProfile {
    /// Output grid, `None` to keep the input grid.
    pub target: Option<[usize; 3]>,
    /// Normalisation.
    pub norm: Norm,
    /// Normalise each 3-D frame on its own.
    pub per_frame: bool,
    /// Output dtype.
    pub dtype: OutDtype,
}

impl Default for VolumeProfile {
    fn default() -> Self {
        VolumeProfile {
            target: Some([160, 192, 160]),
            norm: Norm::Zscore,
            per_frame: false,
            dtype: OutDtype::F16,
        }
    }
}

const NAME: &str = "volume";
const KNOWN: &[&str] = &["target", "norm", "p_low", "p_high", "per_frame", "dtype"];

impl VolumeProfile {
    /// The profile with parameters (unknown keys are refused; missing ones take the defaults).
    pub fn new(params: &Params) -> Result<Self> {
        check_params(NAME, params, KNOWN)?;
        let mut p = VolumeProfile::default();
        let (mut lo, mut hi) = (0.5, 99.5);
        let mut norm = "zscore".to_string();
        for (k, v) in params {
            match k.as_str() {
                "target" => {
                    p.target = if v.as_str() == Some("native") {
                        None
                    } else {
                        Some(param::grid(NAME, k, v)?)
                    }
                }
                "norm" => norm = param::string(NAME, k, v)?,
                "p_low" => lo = param::f64(NAME, k, v)?,
                "p_high" => hi = param::f64(NAME, k, v)?,
                "per_frame" => p.per_frame = param::bool(NAME, k, v)?,
                "dtype" => {
                    p.dtype = OutDtype::parse(&param::string(NAME, k, v)?)
                        .ok_or_else(|| param::bad(NAME, k, v, "float16 or float32"))?
                }
                _ => {}
            }
        }
        p.norm = match norm.as_str() {
            "zscore" => Norm::Zscore,
            "percentile" => {
                if !(0.0..=100.0).contains(&lo) || !(0.0..=100.0).contains(&hi) || lo >= hi {
                    return Err(Error::Percentiles { low: lo, high: hi });
                }
                Norm::Percentile(lo, hi)
            }
            "minmax" => Norm::MinMax,
            "none" => Norm::None,
            _ => {
                return Err(param::bad(
                    NAME,
                    "norm",
                    &Value::String(norm.clone()),
                    "zscore, percentile, minmax or none",
                ));
            }
        };
        Ok(p)
    }
}

impl Profile for VolumeProfile {
    fn name(&self) -> &'static str {
        NAME
    }

    fn description(&self) -> &'static str {
        "sMRI/dMRI/PET volumes for ViT encoders: centre crop/pad to a grid, zscore/percentile/minmax \
         normalisation, float16/float32, gradients and PET frame timing kept in meta.json"
    }

    fn params(&self) -> Value {
        let (lo, hi) = match self.norm {
            Norm::Percentile(l, h) => (Some(l), Some(h)),
            _ => (None, None),
        };
        json!({
            "target": self.target.map(|t| json!(t)).unwrap_or(json!("native")),
            "norm": self.norm.name(),
            "p_low": lo,
            "p_high": hi,
            "per_frame": self.per_frame,
            "dtype": self.dtype.name(),
            "crop_pad": "centre, odd voxel at the start; padding = normalised background (raw 0)",
            "stats_over": "whole input before the crop; brain = non-zero voxels",
        })
    }

    fn apply(&self, sample: Sample) -> Result<Applied> {
        let vol = match canonical(&sample)? {
            Ok(v) => v,
            Err(reason) => return Ok(rejected(reason)),
        };
        let data = vol.view.data;
        match vol.view.dtype {
            Dtype::F32 => self.run(&sample, &vol, &F32s(data)),
            Dtype::F16 => self.run(&sample, &vol, &F16s(data)),
            _ => self.run(&sample, &vol, &F64s(data)),
        }
    }
}

/// An affine map `y = (x − shift) · scale`, with background (x = 0) sent to `zero` when
/// `brain_only`, and clipping to `[lo, hi]` first when `clip`.
#[derive(Clone, Copy, Debug)]
struct Map {
    shift: f64,
    scale: f64,
    clip: Option<(f64, f64)>,
    brain_only: bool,
}

impl Map {
    #[inline]
    fn apply(&self, x: f32) -> f32 {
        if self.brain_only && x == 0.0 {
            return 0.0;
        }
        let mut v = x as f64;
        if let Some((lo, hi)) = self.clip {
            v = v.clamp(lo, hi);
        }
        ((v - self.shift) * self.scale) as f32
    }
}

/// NumPy's `percentile(..., method="linear")` of sorted-on-demand values, `q` in percent.
fn percentile(v: &mut [f32], q: f64) -> f64 {
    let n = v.len();
    // NumPy's virtual index for alpha = beta = 1: n·q + (1 − q) − 1, written the same way.
    let q = q / 100.0;
    let (alpha, beta) = (1.0f64, 1.0f64);
    let h = n as f64 * q + (alpha + q * (1.0 - alpha - beta)) - 1.0;
    let i = (h.floor().max(0.0) as usize).min(n - 1);
    let t = h - i as f64;
    let (_, a, rest) = v.select_nth_unstable_by(i, |a, b| a.total_cmp(b));
    let a = *a as f64;
    let b = rest.iter().copied().fold(f32::INFINITY, f32::min);
    if i + 1 >= n || t == 0.0 {
        return a;
    }
    let b = b as f64;
    let d = b - a;
    if t >= 0.5 {
        b - d * (1.0 - t)
    } else {
        a + d * t
    }
}

impl VolumeProfile {
    /// The map for the values `idx` yields, with its statistics for the metadata.
    fn map_for<E: Elems>(
        &self,
        src: &E,
        idx: impl Iterator<Item = usize> + Clone,
    ) -> std::result::Result<(Map, Value), String> {
        if idx.clone().any(|i| !src.at(i).is_finite()) {
            return Err("the volume has non-finite values".into());
        }
        match self.norm {
            Norm::None => Ok((
                Map {
                    shift: 0.0,
                    scale: 1.0,
                    clip: None,
                    brain_only: false,
                },
                json!({}),
            )),
            Norm::MinMax => {
                let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
                for i in idx {
                    let x = src.at(i) as f64;
                    lo = lo.min(x);
                    hi = hi.max(x);
                }
                if hi <= lo {
                    return Err(format!(
                        "the volume is constant ({lo}); min-max is undefined"
                    ));
                }
                Ok((
                    Map {
                        shift: lo,
                        scale: 1.0 / (hi - lo),
                        clip: None,
                        brain_only: false,
                    },
                    json!({"min": lo, "max": hi}),
                ))
            }
            Norm::Zscore => {
                let (mut n, mut sum) = (0u64, 0f64);
                for i in idx.clone() {
                    let x = src.at(i);
                    if x != 0.0 {
                        n += 1;
                        sum += x as f64;
                    }
                }
                if n == 0 {
                    return Err("the volume has no non-zero values".into());
                }
                let mean = sum / n as f64;
                let mut ss = 0f64;
                for i in idx {
                    let x = src.at(i);
                    if x != 0.0 {
                        ss += (x as f64 - mean) * (x as f64 - mean);
                    }
                }
                let std = (ss / n as f64).sqrt();
                if std <= 0.0 {
                    return Err("the non-zero values are constant; z-score is undefined".into());
                }
                Ok((
                    Map {
                        shift: mean,
                        scale: 1.0 / std,
                        clip: None,
                        brain_only: true,
                    },
                    json!({"mean": mean, "std": std, "n_brain": n}),
                ))
            }
            Norm::Percentile(pl, ph) => {
                let mut brain: Vec<f32> = idx.map(|i| src.at(i)).filter(|&x| x != 0.0).collect();
                if brain.is_empty() {
                    return Err("the volume has no non-zero values".into());
                }
                let lo = percentile(&mut brain, pl);
                let hi = percentile(&mut brain, ph);
                if hi <= lo {
                    return Err(format!(
                        "percentiles {pl} and {ph} are equal ({lo}); scaling is undefined"
                    ));
                }
                Ok((
                    Map {
                        shift: lo,
                        scale: 1.0 / (hi - lo),
                        clip: Some((lo, hi)),
                        brain_only: false,
                    },
                    json!({"lo": lo, "hi": hi, "n_brain": brain.len()}),
                ))
            }
        }
    }

    fn run<E: Elems>(
        &self,
        sample: &Sample,
        vol: &CanonicalVolume<'_>,
        src: &E,
    ) -> Result<Applied> {
        let [nx, ny, nz] = vol.grid;
        let nf = vol.frames;
        let n = nx * ny * nz * nf;
        let groups: Vec<(Map, Value)> = if self.per_frame && nf > 1 {
            let mut g = Vec::with_capacity(nf);
            for f in 0..nf {
                match self.map_for(src, (f..n).step_by(nf)) {
                    Ok(m) => g.push(m),
                    Err(e) => return Ok(rejected(format!("{}: frame {f}: {e}", sample.key))),
                }
            }
            g
        } else {
            match self.map_for(src, 0..n) {
                Ok(m) => vec![m],
                Err(e) => return Ok(rejected(format!("{}: {e}", sample.key))),
            }
        };
        let map_of = |f: usize| &groups[if groups.len() == 1 { 0 } else { f }].0;
        let target = self.target.unwrap_or(vol.grid);
        let fits = [
            AxisFit::center(nx, target[0]),
            AxisFit::center(ny, target[1]),
            AxisFit::center(nz, target[2]),
        ];
        let mut shape = target.to_vec();
        shape.extend_from_slice(&vol.view.shape[3..]);
        let pad: Vec<f32> = (0..nf).map(|f| map_of(f).apply(0.0)).collect();
        let mut out = self.dtype.start(&shape);
        let mut buf = vec![0f32; nf];
        let mut scratch = Vec::with_capacity(nf);
        for ox in 0..target[0] {
            let sx = fits[0].source(ox, nx);
            for oy in 0..target[1] {
                let sy = fits[1].source(oy, ny);
                for oz in 0..target[2] {
                    match (sx, sy, fits[2].source(oz, nz)) {
                        (Some(x), Some(y), Some(z)) => {
                            src.load(((x * ny + y) * nz + z) * nf, &mut buf);
                            for (f, b) in buf.iter_mut().enumerate() {
                                *b = map_of(f).apply(*b);
                            }
                        }
                        _ => buf.copy_from_slice(&pad),
                    }
                    self.dtype.extend(&mut out, &buf, &mut scratch);
                }
            }
        }

        let mut meta = match &vol.meta {
            Value::Object(m) => m.clone(),
            _ => Default::default(),
        };
        meta.insert("shape".into(), json!(shape));
        meta.insert("dtype".into(), json!(self.dtype.name()));
        if let Some(a) = shifted_affine(&vol.meta, &fits) {
            meta.insert("affine".into(), a);
        }
        meta.insert(
            "profile".into(),
            json!({
                "name": NAME,
                "norm": self.norm.name(),
                "per_frame": groups.len() > 1,
                "input_shape": vol.view.shape,
                "fit": fits.iter().map(|f| [f.before, f.after]).collect::<Vec<_>>(),
                "stats": groups.iter().map(|g| g.1.clone()).collect::<Vec<_>>(),
            }),
        );
        let mut o = Sample::new(sample.key.clone());
        o.subject = sample.subject.clone();
        o.push("volume.npy", out);
        o.push_json("meta", &Value::Object(meta))?;
        Ok(Applied {
            samples: vec![o],
            rejected: vec![],
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentile_matches_numpy_linear() {
        // np.percentile([1, 2, 3, 4, 10], [0, 25, 50, 90, 100]) = [1, 2, 3, 7.6, 10]
        let v = [4.0f32, 1.0, 10.0, 3.0, 2.0];
        for (q, want) in [
            (0.0, 1.0),
            (25.0, 2.0),
            (50.0, 3.0),
            (90.0, 7.6),
            (100.0, 10.0),
        ] {
            let mut w = v.to_vec();
            assert!((percentile(&mut w, q) - want).abs() < 1e-12, "{q}");
        }
    }

    #[test]
    fn params_parse() {
        let mut p = Params::new();
        p.insert("target".into(), json!([8, 9, 10]));
        p.insert("norm".into(), json!("percentile"));
        p.insert("p_low".into(), json!(1));
        let v = VolumeProfile::new(&p).unwrap();
        assert_eq!(v.target, Some([8, 9, 10]));
        assert_eq!(v.norm, Norm::Percentile(1.0, 99.5));
        p.insert("p_high".into(), json!(0.5));
        assert!(VolumeProfile::new(&p).is_err());
        let mut p = Params::new();
        p.insert("target".into(), json!("native"));
        assert_eq!(VolumeProfile::new(&p).unwrap().target, None);
    }
}
