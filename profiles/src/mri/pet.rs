//! The `pet` profile: a dynamic (4-D) PET volume to one static image over a time window from
//! injection, in activity concentration or SUV.
//!
//! - **Window** (`window`): a named convention — `amyloid` 50–70 min (3000–4200 s), `tau`
//!   80–100 min (4800–6000 s), `fdg` 30–60 min (1800–3600 s) — or `start_s`/`end_s` (both, in
//!   seconds from injection; they override the preset). Frame times from injection are
//!   `FrameTimesStart − InjectionStart` (see `bomdata_ingest::canonical::pet` for where they
//!   come from); a volume without frame timing or without an injection time is rejected.
//! - **Frames** (`overlap`): `weight` (default) weights each frame by the seconds it overlaps
//!   the window, so a frame half inside counts half — its mean concentration is taken as
//!   uniform over the frame; `inside` takes only frames wholly inside the window, each weighted
//!   by its duration. The static image is `Σ wₖ·Cₖ / Σ wₖ` (a duration-weighted mean, in the
//!   input's units). A window that no frame covers is rejected, and so is one whose covered
//!   part (`Σ wₖ` over the window's length) is below `min_coverage` (default 0.9).
//! - **SUV** (`suv=true`): `SUV = C[Bq/mL] / (dose[Bq] / weight[g])` (body-weight SUV, g/mL).
//!   Units: `Bq/mL`, `kBq/mL`, `MBq/mL` (also `/cc`) and DICOM `BQML` for the image; `Bq`,
//!   `kBq`, `MBq`, `GBq`, `uCi`/`µCi`, `mCi`, `Ci` for the dose. Decay (λ = ln 2 / T½, T½ from
//!   `half_life_s`, else the source's, else the radionuclide's: F18, C11, O15, N13, Ga68, Cu64,
//!   Zr89, Rb82, I124):
//!   - values decay corrected to time `r` (from injection; DICOM `START`: the series time,
//!     `ADMIN`: the injection): the dose is decayed to the same time, `D·e^(−λr)`;
//!   - values not decay corrected (DICOM `NONE`, BIDS `ImageDecayCorrected: false`): each frame
//!     is corrected to the injection over its own duration,
//!     `Cₖ · λdₖ·e^(λaₖ) / (1 − e^(−λdₖ))`, and the dose is taken at injection.
//!
//!   A sample without units, dose, weight, decay-correction state (or a half-life when one is
//!   needed) is rejected with the missing item named; non-PET samples are rejected too.
//! - **Output**: `volume.npy` `(x, y, z)` float32 (or `dtype=float16`), the affine unchanged;
//!   `meta.json` carries the input's with `shape`/`dtype` updated, `frames` removed, and a
//!   `profile` object recording the window, every frame's time and weight, the coverage, the
//!   SUV inputs (dose in Bq, weight in kg, half-life, reference time, dose at reference) and the
//!   output unit. All arithmetic is float64; `python/pet/pet_reference.py` is its NumPy
//!   reference.

use serde_json::{Value, json};

use super::{CanonicalVolume, Elems, F16s, F32s, F64s, OutDtype, canonical, param, rejected};
use crate::Result;
use crate::profile::{Applied, Params, Profile, check_params};
use bomdata_schemas::mri::PetInfo;
use bomdata_shard::Sample;
use bomdata_shard::npy::Dtype;

const NAME: &str = "pet";
const KNOWN: &[&str] = &[
    "window",
    "start_s",
    "end_s",
    "overlap",
    "min_coverage",
    "suv",
    "half_life_s",
    "dtype",
];

/// Named windows: (name, start s, end s) from injection.
pub const PRESETS: &[(&str, f64, f64)] = &[
    ("amyloid", 3000.0, 4200.0),
    ("tau", 4800.0, 6000.0),
    ("fdg", 1800.0, 3600.0),
];

/// Half-lives in seconds by radionuclide (BIDS `TracerRadionuclide` spellings).
const HALF_LIVES: &[(&str, f64)] = &[
    ("F18", 6586.2),
    ("C11", 1223.4),
    ("O15", 122.24),
    ("N13", 597.9),
    ("GA68", 4062.6),
    ("CU64", 45_721.1),
    ("ZR89", 282_276.0),
    ("RB82", 76.38),
    ("I124", 360_806.4),
];

/// How frames that straddle the window's edges count.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Overlap {
    /// Weighted by the seconds inside the window.
    Weight,
    /// Only frames wholly inside, weighted by their duration.
    Inside,
}

/// The pet profile (see the module docs).
#[derive(Clone, Debug)]
pub struct PetProfile {
    /// Window start and end, seconds from injection.
    pub window: (f64, f64),
    /// The preset name, when the window is one.
    pub preset: Option<&'static str>,
    /// Frame overlap rule.
    pub overlap: Overlap,
    /// The least covered fraction of the window accepted.
    pub min_coverage: f64,
    /// Output SUV instead of activity concentration.
    pub suv: bool,
    /// Half-life override in seconds.
    pub half_life_s: Option<f64>,
    /// Output dtype.
    pub dtype: OutDtype,
}

impl Default for PetProfile {
    fn default() -> Self {
        PetProfile {
            window: (PRESETS[0].1, PRESETS[0].2),
            preset: Some(PRESETS[0].0),
            overlap: Overlap::Weight,
            min_coverage: 0.9,
            suv: false,
            half_life_s: None,
            dtype: OutDtype::F32,
        }
    }
}

impl PetProfile {
    /// The profile with parameters (unknown keys are refused; missing ones take the defaults).
    pub fn new(params: &Params) -> Result<Self> {
        check_params(NAME, params, KNOWN)?;
        let mut p = PetProfile::default();
        let (mut start, mut end) = (None, None);
        for (k, v) in params {
            match k.as_str() {
                "window" => {
                    let name = param::string(NAME, k, v)?;
                    let &(n, a, b) = PRESETS
                        .iter()
                        .find(|(n, ..)| *n == name)
                        .ok_or_else(|| param::bad(NAME, k, v, "amyloid, tau or fdg"))?;
                    p.window = (a, b);
                    p.preset = Some(n);
                }
                "start_s" => start = Some(param::f64(NAME, k, v)?),
                "end_s" => end = Some(param::f64(NAME, k, v)?),
                "overlap" => {
                    p.overlap = match param::string(NAME, k, v)?.as_str() {
                        "weight" => Overlap::Weight,
                        "inside" => Overlap::Inside,
                        _ => return Err(param::bad(NAME, k, v, "weight or inside")),
                    }
                }
                "min_coverage" => {
                    p.min_coverage = param::f64(NAME, k, v)?;
                    if !(0.0..=1.0).contains(&p.min_coverage) {
                        return Err(param::bad(NAME, k, v, "a fraction in [0, 1]"));
                    }
                }
                "suv" => p.suv = param::bool(NAME, k, v)?,
                "half_life_s" => {
                    let h = param::f64(NAME, k, v)?;
                    if h <= 0.0 {
                        return Err(param::bad(NAME, k, v, "a positive number of seconds"));
                    }
                    p.half_life_s = Some(h);
                }
                "dtype" => {
                    p.dtype = OutDtype::parse(&param::string(NAME, k, v)?)
                        .ok_or_else(|| param::bad(NAME, k, v, "float16 or float32"))?
                }
                _ => {}
            }
        }
        match (start, end) {
            (None, None) => {}
            (Some(a), Some(b)) if a >= 0.0 && b > a => {
                p.window = (a, b);
                p.preset = None;
            }
            _ => {
                let v = json!({"start_s": start, "end_s": end});
                return Err(param::bad(
                    NAME,
                    "start_s/end_s",
                    &v,
                    "both, with 0 <= start_s < end_s",
                ));
            }
        }
        Ok(p)
    }
}

impl Profile for PetProfile {
    fn name(&self) -> &'static str {
        NAME
    }

    fn description(&self) -> &'static str {
        "PET: frames summed (duration-weighted mean) over a window from injection (amyloid \
         50-70 min, tau 80-100 min, fdg 30-60 min, or start_s/end_s), optionally SUV with the \
         dose decay corrected as the data says; window and SUV inputs in meta.json"
    }

    fn params(&self) -> Value {
        json!({
            "window": self.preset,
            "start_s": self.window.0,
            "end_s": self.window.1,
            "overlap": match self.overlap { Overlap::Weight => "weight", Overlap::Inside => "inside" },
            "min_coverage": self.min_coverage,
            "suv": self.suv,
            "half_life_s": self.half_life_s,
            "dtype": self.dtype.name(),
        })
    }

    fn apply(&self, sample: Sample) -> Result<Applied> {
        let vol = match canonical(&sample)? {
            Ok(v) => v,
            Err(reason) => return Ok(rejected(reason)),
        };
        let plan = match self.plan(&vol) {
            Ok(p) => p,
            Err(reason) => return Ok(rejected(format!("{}: {reason}", sample.key))),
        };
        let data = vol.view.data;
        match vol.view.dtype {
            Dtype::F32 => self.run(&sample, &vol, &plan, &F32s(data)),
            Dtype::F16 => self.run(&sample, &vol, &plan, &F16s(data)),
            _ => self.run(&sample, &vol, &plan, &F64s(data)),
        }
    }
}

/// The per-frame coefficients of one sample (voxel = `Σ coef[k]·C[k]`) and what to record.
struct Plan {
    coef: Vec<f64>,
    record: Value,
}

fn image_scale(units: &str) -> Option<f64> {
    let u = units.trim().to_ascii_lowercase().replace("cc", "ml");
    match u.as_str() {
        "bqml" | "bq/ml" => Some(1.0),
        "kbq/ml" => Some(1e3),
        "mbq/ml" => Some(1e6),
        _ => None,
    }
}

fn dose_scale(units: &str) -> Option<f64> {
    match units.trim().replace('µ', "u").to_ascii_lowercase().as_str() {
        "bq" => Some(1.0),
        "kbq" => Some(1e3),
        "mbq" => Some(1e6),
        "gbq" => Some(1e9),
        "uci" => Some(3.7e4),
        "mci" => Some(3.7e7),
        "ci" => Some(3.7e10),
        _ => None,
    }
}

fn nuclide_half_life(name: &str) -> Option<f64> {
    let n: String = name
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect::<String>()
        .to_ascii_uppercase();
    HALF_LIVES.iter().find(|(k, _)| *k == n).map(|&(_, h)| h)
}

fn list(meta: &Value, key: &str) -> Option<Vec<f64>> {
    meta.get("frames")?
        .get(key)?
        .as_array()?
        .iter()
        .map(Value::as_f64)
        .collect()
}

impl PetProfile {
    /// Frame weights (seconds) and frame times from injection, or why the sample is refused.
    fn weights(
        &self,
        vol: &CanonicalVolume<'_>,
        pet: &PetInfo,
    ) -> Result2<(Vec<f64>, Vec<f64>, Vec<f64>)> {
        if vol.meta.get("modality").and_then(Value::as_str) != Some("pet") {
            return Err("not a PET volume (modality is not pet)".into());
        }
        let (Some(starts), Some(durs)) =
            (list(&vol.meta, "starts_s"), list(&vol.meta, "durations_s"))
        else {
            return Err(
                "no frame timing (FrameTimesStart/FrameDuration, or DICOM frame times)".into(),
            );
        };
        if starts.len() != vol.frames || durs.len() != vol.frames {
            return Err(format!(
                "{} frame times for {} frames",
                starts.len(),
                vol.frames
            ));
        }
        let Some(inj) = pet.injection_s else {
            return Err("no injection time (BIDS InjectionStart, DICOM RadiopharmaceuticalStartTime): the window is from injection".into());
        };
        let (w0, w1) = self.window;
        let from_inj: Vec<f64> = starts.iter().map(|s| s - inj).collect();
        let w: Vec<f64> = from_inj
            .iter()
            .zip(&durs)
            .map(|(&a, &d)| match self.overlap {
                Overlap::Weight => ((a + d).min(w1) - a.max(w0)).max(0.0),
                Overlap::Inside if a >= w0 && a + d <= w1 => d,
                Overlap::Inside => 0.0,
            })
            .collect();
        let covered: f64 = w.iter().sum();
        if covered <= 0.0 {
            let lo = from_inj.iter().copied().fold(f64::INFINITY, f64::min);
            let hi = from_inj
                .iter()
                .zip(&durs)
                .map(|(a, d)| a + d)
                .fold(f64::NEG_INFINITY, f64::max);
            return Err(format!(
                "no frame covers the window {w0}-{w1} s from injection (frames span {lo}-{hi} s)"
            ));
        }
        let coverage = covered / (w1 - w0);
        if coverage < self.min_coverage {
            return Err(format!(
                "frames cover {covered} s of the window {w0}-{w1} s ({:.3} < min_coverage {})",
                coverage, self.min_coverage
            ));
        }
        Ok((w, from_inj, durs))
    }

    fn plan(&self, vol: &CanonicalVolume<'_>) -> Result2<Plan> {
        let pet: PetInfo = vol
            .meta
            .get("pet")
            .and_then(|p| serde_json::from_value(p.clone()).ok())
            .unwrap_or_default();
        let (w, from_inj, durs) = self.weights(vol, &pet)?;
        let covered: f64 = w.iter().sum();
        let mut factor = vec![1.0; w.len()];
        let mut suv = Value::Null;
        let mut unit = pet.units.clone().unwrap_or_else(|| "unknown".into());
        if self.suv {
            let (s, f) = suv_inputs(&pet, self.half_life_s, &from_inj, &durs)?;
            factor = f;
            suv = s;
            unit = "g/mL (SUVbw)".into();
        }
        let coef: Vec<f64> = (0..w.len()).map(|k| w[k] * factor[k] / covered).collect();
        let record = json!({
            "name": NAME,
            "window": self.preset,
            "window_s": [self.window.0, self.window.1],
            "overlap": match self.overlap { Overlap::Weight => "weight", Overlap::Inside => "inside" },
            "frames": (0..w.len()).map(|k| json!({
                "start_s": from_inj[k], "duration_s": durs[k], "weight_s": w[k]
            })).collect::<Vec<_>>(),
            "covered_s": covered,
            "coverage": covered / (self.window.1 - self.window.0),
            "suv": suv,
            "unit": unit,
            "input_shape": vol.view.shape,
        });
        Ok(Plan { coef, record })
    }

    fn run<E: Elems>(
        &self,
        sample: &Sample,
        vol: &CanonicalVolume<'_>,
        plan: &Plan,
        src: &E,
    ) -> Result<Applied> {
        let [nx, ny, nz] = vol.grid;
        let nf = vol.frames;
        let shape = vec![nx, ny, nz];
        let mut out = self.dtype.start(&shape);
        let mut buf = vec![0f32; nf];
        let row = nz.max(1);
        let mut vals = vec![0f32; row];
        let mut scratch = Vec::with_capacity(row);
        for xy in 0..nx * ny {
            for (z, v) in vals.iter_mut().enumerate() {
                src.load((xy * nz + z) * nf, &mut buf);
                let acc: f64 = buf
                    .iter()
                    .zip(&plan.coef)
                    .map(|(&c, &k)| f64::from(c) * k)
                    .sum();
                *v = acc as f32;
            }
            self.dtype.extend(&mut out, &vals[..nz], &mut scratch);
        }
        let mut meta = match &vol.meta {
            Value::Object(m) => m.clone(),
            _ => Default::default(),
        };
        meta.insert("shape".into(), json!(shape));
        meta.insert("dtype".into(), json!(self.dtype.name()));
        meta.remove("frames");
        meta.insert("profile".into(), plan.record.clone());
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

/// A rejection reason.
type Result2<T> = std::result::Result<T, String>;

/// The SUV record and the per-frame factors (image units → SUV), or what is missing.
fn suv_inputs(
    pet: &PetInfo,
    half_life_override: Option<f64>,
    from_inj: &[f64],
    durs: &[f64],
) -> Result2<(Value, Vec<f64>)> {
    let missing = |what: &str| format!("SUV asked but {what}");
    let units = pet
        .units
        .as_deref()
        .ok_or_else(|| missing("the image units are missing (BIDS Units, DICOM Units)"))?;
    let u = image_scale(units).ok_or_else(|| missing(&format!("the image units {units:?} are not an activity concentration (Bq/mL, kBq/mL, MBq/mL, BQML)")))?;
    let dose = pet.injected.filter(|d| *d > 0.0).ok_or_else(|| missing("the injected dose is missing (BIDS InjectedRadioactivity, DICOM RadionuclideTotalDose)"))?;
    let dunits = pet.injected_units.as_deref().ok_or_else(|| {
        missing("the injected dose has no units (BIDS InjectedRadioactivityUnits)")
    })?;
    let dose_bq = dose
        * dose_scale(dunits)
            .ok_or_else(|| missing(&format!("the dose units {dunits:?} are unknown")))?;
    let weight = pet.body_weight_kg.filter(|w| *w > 0.0).ok_or_else(|| {
        missing("the body weight is missing (BIDS BodyWeight, DICOM PatientWeight)")
    })?;
    let corrected = pet.decay_corrected.ok_or_else(|| {
        missing("the decay correction is unknown (BIDS ImageDecayCorrected, DICOM DecayCorrection)")
    })?;
    let inj = pet.injection_s.unwrap_or(0.0);
    let reference = if corrected {
        Some(
            pet.decay_reference_s.ok_or_else(|| {
                missing("the decay correction time is missing (BIDS ImageDecayCorrectionTime)")
            })? - inj,
        )
    } else {
        None
    };
    let half = half_life_override
        .or(pet.half_life_s.filter(|h| *h > 0.0))
        .or_else(|| pet.radionuclide.as_deref().and_then(nuclide_half_life));
    let needs_half = reference != Some(0.0);
    let lambda = match half {
        Some(h) => std::f64::consts::LN_2 / h,
        None if needs_half => {
            return Err(missing(
                "no half-life is known (half_life_s, RadionuclideHalfLife, TracerRadionuclide)",
            ));
        }
        None => 0.0,
    };
    let grams = weight * 1000.0;
    let (dose_ref, factors) = match reference {
        Some(r) => (dose_bq * (-lambda * r).exp(), vec![1.0; durs.len()]),
        None => {
            let f = from_inj
                .iter()
                .zip(durs)
                .map(|(&a, &d)| lambda * d * (lambda * a).exp() / (1.0 - (-lambda * d).exp()))
                .collect();
            (dose_bq, f)
        }
    };
    let scale = u * grams / dose_ref;
    let factors = factors.into_iter().map(|f| f * scale).collect();
    let record = json!({
        "dose_bq": dose_bq,
        "body_weight_kg": weight,
        "half_life_s": half,
        "decay_corrected": corrected,
        "reference_s": reference,
        "dose_at_reference_bq": dose_ref,
        "image_unit_to_bq_per_ml": u,
        "formula": if corrected {
            "C * u * weight_g / (dose * exp(-lambda * reference_s))"
        } else {
            "C * u * lambda*d*exp(lambda*a)/(1-exp(-lambda*d)) * weight_g / dose (per frame)"
        },
    });
    Ok((record, factors))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_parse() {
        let mut p = Params::new();
        p.insert("window".into(), json!("tau"));
        let v = PetProfile::new(&p).unwrap();
        assert_eq!(v.window, (4800.0, 6000.0));
        p.insert("start_s".into(), json!(10));
        assert!(PetProfile::new(&p).is_err());
        p.insert("end_s".into(), json!("20"));
        let v = PetProfile::new(&p).unwrap();
        assert_eq!((v.window, v.preset), ((10.0, 20.0), None));
        p.insert("window".into(), json!("fdg2"));
        assert!(PetProfile::new(&p).is_err());
    }

    #[test]
    fn units_and_nuclides() {
        assert_eq!(image_scale("kBq/cc"), Some(1e3));
        assert_eq!(image_scale("BQML"), Some(1.0));
        assert_eq!(image_scale("SUV"), None);
        assert_eq!(dose_scale("µCi"), Some(3.7e4));
        assert_eq!(nuclide_half_life("F-18"), Some(6586.2));
        assert_eq!(nuclide_half_life("^18^Fluorine"), None);
    }
}
