//! The `swift` profile: SwiFT (4-D Swin fMRI transformer) input windows.
//!
//! What SwiFT's released code does (`preprocessing.py` + `datasets.py`, DOMAIN.md §1.2–1.3),
//! reproduced here on one canonical 4-D run `(x, y, z, t)`:
//!
//! 1. **ABCD pre-crop** (ABCD rule only): SwiFT's preprocessing cuts `[:, 14:-7]` on the second
//!    axis *before* the statistics. It is applied when the run has the grid that cut was written
//!    for (79×118×85 → 79×97×85); other grids are not pre-cropped.
//! 2. **Background** = voxels whose value is exactly 0, voxel by voxel and frame by frame.
//! 3. **One global z-normalisation**: mean and unbiased (N−1) standard deviation over every
//!    non-background value of the whole run (space × time), accumulated in float64 and rounded
//!    to float32 (what torch does); each value becomes `(x − mean) / std` in float32.
//! 4. **Background fill** = the minimum normalised brain value (not 0).
//! 5. **Cast** to float16 (round to nearest even), or kept float32 with `dtype=float32`.
//! 6. **Windows**: starts `0, stride, 2·stride, …` while `start + window ≤ T`; the incomplete
//!    tail is dropped. SwiFT's loader counts `T − 2` frames (it expects two extra files per
//!    subject); `compat_t_minus_2=true` reproduces that, the default uses every frame.
//! 7. **Crop/pad** each window to `target³` with SwiFT's per-dataset `F.pad` tuples, padding with
//!    the window's corner value (voxel (0,0,0) of its first frame after steps 1–5), as
//!    `y.flatten()[0]` does in SwiFT. Statistics always cover the uncropped run (UKB's crop of the
//!    second axis happens at load time in SwiFT, after the statistics).
//!
//! Per-dataset fits (before, after per axis; + pads, − crops), used when `target` is 96 and the
//! run has the grid the tuple was written for:
//!
//! | rule | grid | x | y | z |
//! |---|---|---|---|---|
//! | `ukb` | 91×109×91 | (3, 2) | (−7, −6) | (3, 2) |
//! | `hcp` | 75×93×81 | (11, 10) | (2, 1) | (8, 7) |
//! | `abcd` rest | 79×97×85 (or 79×118×85 pre-cropped) | (9, 8) | (0, −1) | (6, 5) |
//! | `abcd` task | 96×96×95 | (0, 0) | (0, 0) | (0, 1) |
//!
//! Any other grid, target or dataset uses the **centre rule** ([`AxisFit::center`]): split the
//! difference, the odd voxel at the start — which is what the UKB and HCP tuples are. With
//! `dataset_rule=auto` the dataset is `meta.json` `provenance.source` (else the first
//! `_`-separated part of the sample key): `ukb`, `hcp`, `abcd`, anything else `center`.
//!
//! Output per window: `<key>_<window:06>` with `fmri.npy` (`(1, target, target, target, window)`,
//! C order, time fastest) and `meta.json` (window index, frame range, TR, the statistics, fill
//! and pad values, the rule and fits, the shifted affine, provenance). Runs that are not 4-D, have
//! non-finite values, fewer than two brain values, a zero std or fewer frames than one window are
//! rejected with a reason.

use serde_json::{Value, json};

use super::{
    AxisFit, CanonicalVolume, Elems, F16s, F32s, F64s, OutDtype, canonical, param, rejected,
    shifted_affine,
};
use crate::Result;
use crate::profile::{Applied, Params, Profile, check_params};
use bomdata_shard::Sample;
use bomdata_shard::npy::Dtype;

/// Which per-dataset crop/pad rule to use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DatasetRule {
    /// From the sample's source (`ukb`, `hcp`, `abcd`, else centre).
    Auto,
    /// UK Biobank (91×109×91 MNI 2 mm).
    Ukb,
    /// HCP S1200 (75×93×81 pre-cropped).
    Hcp,
    /// ABCD rest (79×97×85, pre-crop from 79×118×85) or task (96×96×95).
    Abcd,
    /// Centre crop/pad.
    Center,
}

impl DatasetRule {
    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "auto" => DatasetRule::Auto,
            "ukb" => DatasetRule::Ukb,
            "hcp" => DatasetRule::Hcp,
            "abcd" => DatasetRule::Abcd,
            "center" | "centre" => DatasetRule::Center,
            _ => return None,
        })
    }

    fn name(self) -> &'static str {
        match self {
            DatasetRule::Auto => "auto",
            DatasetRule::Ukb => "ukb",
            DatasetRule::Hcp => "hcp",
            DatasetRule::Abcd => "abcd",
            DatasetRule::Center => "center",
        }
    }
}

/// How one run is cut: the rule that applied, an optional pre-crop of axis 1 (start, length),
/// and the per-axis fits of the (pre-cropped) grid.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plan {
    /// `ukb`, `hcp`, `abcd_rest`, `abcd_task` or `center`.
    pub rule: &'static str,
    /// ABCD pre-crop of the second axis before the statistics: (start, kept length).
    pub precrop_y: Option<(usize, usize)>,
    /// Pad/crop per spatial axis, applied to the pre-cropped grid.
    pub fits: [AxisFit; 3],
}

const fn fit(before: i64, after: i64) -> AxisFit {
    AxisFit { before, after }
}

/// The crop/pad plan for a grid under a (resolved) rule.
///
/// ```
/// use bomdata_profiles::mri::swift::{plan, DatasetRule};
/// let p = plan(DatasetRule::Ukb, [91, 109, 91], 96);
/// assert_eq!(p.rule, "ukb");
/// assert_eq!((p.fits[1].before, p.fits[1].after), (-7, -6));
/// ```
pub fn plan(rule: DatasetRule, grid: [usize; 3], target: usize) -> Plan {
    let center = |g: [usize; 3]| {
        [
            AxisFit::center(g[0], target),
            AxisFit::center(g[1], target),
            AxisFit::center(g[2], target),
        ]
    };
    let swift = target == 96;
    match rule {
        DatasetRule::Ukb if swift && grid == [91, 109, 91] => Plan {
            rule: "ukb",
            precrop_y: None,
            fits: [fit(3, 2), fit(-7, -6), fit(3, 2)],
        },
        DatasetRule::Hcp if swift && grid == [75, 93, 81] => Plan {
            rule: "hcp",
            precrop_y: None,
            fits: [fit(11, 10), fit(2, 1), fit(8, 7)],
        },
        DatasetRule::Abcd if swift && (grid == [79, 118, 85] || grid == [79, 97, 85]) => Plan {
            rule: "abcd_rest",
            precrop_y: (grid[1] == 118).then_some((14, 97)),
            fits: [fit(9, 8), fit(0, -1), fit(6, 5)],
        },
        DatasetRule::Abcd if swift && grid == [96, 96, 95] => Plan {
            rule: "abcd_task",
            precrop_y: None,
            fits: [fit(0, 0), fit(0, 0), fit(0, 1)],
        },
        _ => Plan {
            rule: "center",
            precrop_y: None,
            fits: center(grid),
        },
    }
}

/// The SwiFT profile (see the module docs).
#[derive(Clone, Debug)]
pub struct Swift {
    /// Frames per window (20).
    pub window: usize,
    /// Frames between window starts (20: non-overlapping).
    pub stride: usize,
    /// Output edge length (96).
    pub target: usize,
    /// Output dtype (float16).
    pub dtype: OutDtype,
    /// Crop/pad rule (auto).
    pub rule: DatasetRule,
    /// Count frames as `T − 2` like SwiFT's loader (false).
    pub compat_t_minus_2: bool,
}

impl Default for Swift {
    fn default() -> Self {
        Swift {
            window: 20,
            stride: 20,
            target: 96,
            dtype: OutDtype::F16,
            rule: DatasetRule::Auto,
            compat_t_minus_2: false,
        }
    }
}

const NAME: &str = "swift";
const KNOWN: &[&str] = &[
    "window",
    "stride",
    "target",
    "dtype",
    "dataset_rule",
    "compat_t_minus_2",
];

impl Swift {
    /// The profile with parameters (unknown keys are refused; missing ones take the defaults).
    pub fn new(params: &Params) -> Result<Self> {
        check_params(NAME, params, KNOWN)?;
        let mut s = Swift::default();
        for (k, v) in params {
            match k.as_str() {
                "window" => s.window = param::usize(NAME, k, v)?,
                "stride" => s.stride = param::usize(NAME, k, v)?,
                "target" => s.target = param::usize(NAME, k, v)?.min(4096),
                "dtype" => {
                    s.dtype = OutDtype::parse(&param::string(NAME, k, v)?)
                        .ok_or_else(|| param::bad(NAME, k, v, "float16 or float32"))?
                }
                "dataset_rule" => {
                    s.rule = DatasetRule::parse(&param::string(NAME, k, v)?)
                        .ok_or_else(|| param::bad(NAME, k, v, "auto, ukb, hcp, abcd or center"))?
                }
                "compat_t_minus_2" => s.compat_t_minus_2 = param::bool(NAME, k, v)?,
                _ => {}
            }
        }
        Ok(s)
    }

    /// The rule for one sample: the configured one, or for `auto` the sample's source.
    pub fn resolve(&self, key: &str, meta: &Value) -> DatasetRule {
        if self.rule != DatasetRule::Auto {
            return self.rule;
        }
        let source = meta
            .pointer("/provenance/source")
            .and_then(Value::as_str)
            .or_else(|| meta.get("source").and_then(Value::as_str))
            .map(str::to_string)
            .unwrap_or_else(|| key.split('_').next().unwrap_or_default().to_string());
        match source.to_ascii_lowercase().as_str() {
            "ukb" => DatasetRule::Ukb,
            "hcp" => DatasetRule::Hcp,
            "abcd" => DatasetRule::Abcd,
            _ => DatasetRule::Center,
        }
    }

    /// Window start frames for a run of `t` frames.
    pub fn starts(&self, t: usize) -> Vec<usize> {
        let usable = if self.compat_t_minus_2 {
            t.saturating_sub(2)
        } else {
            t
        };
        (0..usable)
            .step_by(self.stride)
            .take_while(|s| s + self.window <= usable)
            .collect()
    }
}

impl Profile for Swift {
    fn name(&self) -> &'static str {
        NAME
    }

    fn description(&self) -> &'static str {
        "SwiFT fMRI windows: global z-norm over non-zero voxels, min-filled background, \
         per-dataset crop/pad to 96^3, 20-frame windows, float16 (1,96,96,96,20)"
    }

    fn params(&self) -> Value {
        json!({
            "window": self.window,
            "stride": self.stride,
            "target": self.target,
            "dtype": self.dtype.name(),
            "dataset_rule": self.rule.name(),
            "compat_t_minus_2": self.compat_t_minus_2,
            "tail": "incomplete final window dropped",
            "normalisation": "z-norm: one mean and unbiased std over all non-zero values of the run",
            "background": "values equal to 0, filled with the minimum normalised value",
            "pad_value": "voxel (0,0,0) of the window's first frame after normalisation",
        })
    }

    fn apply(&self, sample: Sample) -> Result<Applied> {
        let vol = match canonical(&sample)? {
            Ok(v) => v,
            Err(reason) => return Ok(rejected(reason)),
        };
        if vol.view.shape.len() != 4 {
            return Ok(rejected(format!(
                "{}: swift needs a 4-D run (x, y, z, t), volume.npy has shape {:?}",
                sample.key, vol.view.shape
            )));
        }
        if let Some(m) = vol.meta.get("modality").and_then(Value::as_str)
            && m != "fmri"
        {
            return Ok(rejected(format!(
                "{}: modality {m} is not fmri",
                sample.key
            )));
        }
        let data = vol.view.data;
        let out = match vol.view.dtype {
            Dtype::F32 => self.run(&sample, &vol, &F32s(data)),
            Dtype::F16 => self.run(&sample, &vol, &F16s(data)),
            _ => self.run(&sample, &vol, &F64s(data)),
        };
        drop(vol);
        // Done with the run: its buffer serves the next run read (or decoded at ingest).
        bomdata_shard::buffers::give_sample(sample);
        out
    }
}

/// Global statistics of the non-zero values.
struct Stats {
    n: u64,
    mean: f32,
    std: f32,
    min: f32,
}

/// One pass in float64 over the non-zero values, with sums of `x − k` and `(x − k)²` shifted
/// by `k`, the mean of the first row with brain values, so the variance does not cancel; equal to NumPy/torch's
/// two-pass mean and unbiased std once rounded to float32. `Err` names the problem (a
/// non-finite value, too few brain values).
fn stats<E: Elems>(
    src: &E,
    rows: impl Iterator<Item = (usize, usize)> + Clone,
) -> std::result::Result<Stats, String> {
    let mut buf = Vec::new();
    let mut k = None;
    for (start, len) in rows.clone() {
        buf.resize(len, 0f32);
        src.load(start, &mut buf);
        // The shift: the mean of the first row that has brain values (close to the run's mean).
        let (c, t) = buf
            .iter()
            .filter(|&&x| x != 0.0)
            .fold((0u64, 0f64), |(c, t), &x| (c + 1, t + x as f64));
        if c > 0 {
            k = Some(t / c as f64);
            break;
        }
    }
    let Some(k) = k.filter(|k| k.is_finite()) else {
        return Err(if k.is_some() {
            "the run has non-finite values".into()
        } else {
            "the run has 0 non-zero values; z-normalisation needs two".into()
        });
    };
    let (mut n, mut s1, mut s2) = (0u64, 0f64, 0f64);
    let mut min = f32::INFINITY;
    let mut finite = true;
    for (start, len) in rows {
        buf.resize(len, 0f32);
        src.load(start, &mut buf);
        // The minimum and the finiteness check do not depend on order: a pass of their own
        // (vectorised), so the loop below carries only the float64 sums' dependency chains.
        for &x in &buf {
            finite &= x.is_finite();
            let m = if x != 0.0 { x } else { f32::INFINITY };
            if m < min {
                min = m;
            }
        }
        // Per-row partial sums keep the float64 rounding error small.
        let (mut c, mut a, mut b) = (0u64, 0f64, 0f64);
        for &x in &buf {
            if x != 0.0 {
                let d = x as f64 - k;
                a += d;
                b += d * d;
                c += 1;
            }
        }
        n += c;
        s1 += a;
        s2 += b;
    }
    if !finite {
        return Err("the run has non-finite values".into());
    }
    if n < 2 {
        return Err(format!(
            "the run has {n} non-zero values; z-normalisation needs two"
        ));
    }
    let nf = n as f64;
    let mean = (k + s1 / nf) as f32;
    let var = ((s2 - s1 * s1 / nf) / (nf - 1.0)).max(0.0);
    let std = var.sqrt() as f32;
    if std <= 0.0 || !std.is_finite() || !mean.is_finite() {
        return Err(format!(
            "the run's standard deviation is {std}; cannot z-normalise"
        ));
    }
    Ok(Stats { n, mean, std, min })
}

/// Each window's pad value as the bytes of `w` output elements, made once per run.
fn pad_bytes(dtype: OutDtype, pads: &[f32], w: usize) -> Vec<Vec<u8>> {
    pads.iter()
        .map(|&p| {
            let mut b = Vec::new();
            dtype.fill(&mut b, p, w);
            b
        })
        .collect()
}

impl Swift {
    fn run<E: Elems>(
        &self,
        sample: &Sample,
        vol: &CanonicalVolume<'_>,
        src: &E,
    ) -> Result<Applied> {
        let [nx, ny_raw, nz] = vol.grid;
        let nt = vol.frames;
        let rule = self.resolve(&sample.key, &vol.meta);
        let plan = plan(rule, vol.grid, self.target);
        let (y0, ny) = plan.precrop_y.unwrap_or((0, ny_raw));
        let starts = self.starts(nt);
        if starts.is_empty() {
            return Ok(rejected(format!(
                "{}: the run has {nt} frames{}, fewer than one window of {}",
                sample.key,
                if self.compat_t_minus_2 {
                    " (counted as T-2)"
                } else {
                    ""
                },
                self.window
            )));
        }
        // Contiguous rows (one (x, y) line of z × t values) of the pre-cropped grid.
        let row = nz * nt;
        let rows =
            (0..nx).flat_map(move |x| (y0..y0 + ny).map(move |y| ((x * ny_raw + y) * row, row)));
        let st = match stats(src, rows) {
            Ok(s) => s,
            Err(e) => return Ok(rejected(format!("{}: {e}", sample.key))),
        };
        let (mean, std) = (st.mean, st.std);
        let fill = (st.min - mean) / std;
        let norm = |x: f32| if x == 0.0 { fill } else { (x - mean) / std };
        let idx = |x: usize, y: usize, z: usize, t: usize| ((x * ny_raw + y) * nz + z) * nt + t;
        let pads: Vec<f32> = starts
            .iter()
            .map(|&s| self.dtype.round(norm(src.at(idx(0, y0, 0, s)))))
            .collect();

        let tg = self.target;
        let w = self.window;
        let shape = [1, tg, tg, tg, w];
        let mut outs: Vec<Vec<u8>> = starts.iter().map(|_| self.dtype.start(&shape)).collect();
        let pad_bytes = pad_bytes(self.dtype, &pads, w);
        let elem = self.dtype.npy().size();
        // One voxel's series: normalised and encoded once, then each window's frames copied out.
        let mut series = vec![0f32; nt];
        let mut encoded = Vec::with_capacity(nt * elem);
        let mut scratch = Vec::with_capacity(nt);
        let [fx, fy, fz] = plan.fits;
        for ox in 0..tg {
            let sx = fx.source(ox, nx);
            for oy in 0..tg {
                let sy = fy.source(oy, ny);
                for oz in 0..tg {
                    let sz = fz.source(oz, nz);
                    match (sx, sy, sz) {
                        (Some(x), Some(y), Some(z)) => {
                            src.load(idx(x, y0 + y, z, 0), &mut series);
                            series.iter_mut().for_each(|v| *v = norm(*v));
                            encoded.clear();
                            self.dtype.extend(&mut encoded, &series, &mut scratch);
                            for (out, &s) in outs.iter_mut().zip(&starts) {
                                out.extend_from_slice(&encoded[s * elem..(s + w) * elem]);
                            }
                        }
                        _ => {
                            for (out, p) in outs.iter_mut().zip(&pad_bytes) {
                                out.extend_from_slice(p);
                            }
                        }
                    }
                }
            }
        }

        // Affine of the output grid relative to the raw (un-pre-cropped) input.
        let mut total = plan.fits;
        total[1].before -= y0 as i64;
        let affine = shifted_affine(&vol.meta, &total);
        let tr = vol
            .meta
            .get("repetition_time_s")
            .cloned()
            .unwrap_or(Value::Null);
        let fits: Vec<[i64; 2]> = plan.fits.iter().map(|f| [f.before, f.after]).collect();
        let n_windows = starts.len();
        let mut samples = Vec::with_capacity(n_windows);
        for (i, (out, (&s, &pad))) in outs.into_iter().zip(starts.iter().zip(&pads)).enumerate() {
            let meta = json!({
                "schema": "swift/1",
                "profile": NAME,
                "source_key": sample.key,
                "window": i,
                "n_windows": n_windows,
                "start_frame": s,
                "end_frame": s + w,
                "run_frames": nt,
                "repetition_time_s": tr,
                "shape": shape,
                "dtype": self.dtype.name(),
                "normalisation": {
                    "method": "z-norm",
                    "mean": mean,
                    "std": std,
                    "n_brain": st.n,
                    "fill_value": fill,
                    "pad_value": pad,
                },
                "dataset_rule": plan.rule,
                "input_grid": vol.grid,
                "precrop_y": plan.precrop_y.map(|(a, n)| [a, a + n]),
                "fit": fits,
                "affine": affine.clone().unwrap_or(Value::Null),
                "voxel_size": vol.meta.get("voxel_size").cloned().unwrap_or(Value::Null),
                "spatial_unit": vol.meta.get("spatial_unit").cloned().unwrap_or(Value::Null),
                "task": vol.meta.get("task").cloned().unwrap_or(Value::Null),
                "provenance": vol.meta.get("provenance").cloned().unwrap_or(Value::Null),
            });
            let mut o = Sample::new(format!("{}_{i:06}", sample.key));
            o.subject = sample.subject.clone();
            o.push("fmri.npy", out);
            o.push_json("meta", &meta)?;
            samples.push(o);
        }
        Ok(Applied {
            samples,
            rejected: vec![],
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dataset_tuples_fit_and_ukb_hcp_equal_the_centre_rule() {
        for (rule, grid) in [
            (DatasetRule::Ukb, [91, 109, 91]),
            (DatasetRule::Hcp, [75, 93, 81]),
            (DatasetRule::Abcd, [79, 97, 85]),
            (DatasetRule::Abcd, [96, 96, 95]),
            (DatasetRule::Center, [64, 64, 40]),
            (DatasetRule::Ukb, [100, 120, 90]),
        ] {
            let p = plan(rule, grid, 96);
            for a in 0..3 {
                assert_eq!(p.fits[a].out_len(grid[a]), 96, "{rule:?} {grid:?} axis {a}");
            }
        }
        for g in [[91, 109, 91], [75, 93, 81]] {
            let c = plan(DatasetRule::Center, g, 96).fits;
            assert_eq!(plan(DatasetRule::Ukb, g, 96).fits, c);
            assert_eq!(plan(DatasetRule::Hcp, g, 96).fits, c);
        }
        let p = plan(DatasetRule::Abcd, [79, 118, 85], 96);
        assert_eq!(p.precrop_y, Some((14, 97)));
        assert_eq!(p.rule, "abcd_rest");
    }

    #[test]
    fn starts_drop_the_tail_and_honour_compat() {
        let s = Swift::default();
        assert_eq!(s.starts(59), vec![0, 20]);
        assert_eq!(s.starts(60), vec![0, 20, 40]);
        let c = Swift {
            compat_t_minus_2: true,
            ..Swift::default()
        };
        assert_eq!(c.starts(60), vec![0, 20]);
        assert_eq!(c.starts(62), vec![0, 20, 40]);
    }

    #[test]
    fn unknown_params_and_bad_values_are_errors() {
        let mut p = Params::new();
        p.insert("windw".into(), json!(10));
        assert!(Swift::new(&p).is_err());
        let mut p = Params::new();
        p.insert("dataset_rule".into(), json!("mni"));
        assert!(Swift::new(&p).is_err());
        let mut p = Params::new();
        p.insert("window".into(), json!("10"));
        p.insert("dtype".into(), json!("float32"));
        let s = Swift::new(&p).unwrap();
        assert_eq!((s.window, s.dtype), (10, OutDtype::F32));
    }
}
