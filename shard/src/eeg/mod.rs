//! EEG model profiles: `cbramod`, `labram`, `eegpt`, `biot`, `diver` and `generic`.
//!
//! All six are one configurable pipeline ([`EegProfile`]) with different defaults; every
//! parameter can be overridden with `--param key=value` and is listed by `bomdata profiles`.
//! Input: a canonical `eeg/1` sample (`signal.npy` float32 µV `[C, T]` + `meta.json`), which is
//! gap-free (EDF+D gaps end a chunk), so windows never cross a gap or a recording boundary.
//!
//! Pipeline, in this order:
//! 1. **Channel mapping** (`channels`): `all` keeps every biopotential channel; a named set
//!    (`cbramod19`, `labram23`, `eegpt58`, `tcp16`) or a list maps onto a fixed order; a
//!    `A-B` entry is a bipolar derivation computed from unipolar channels. Missing channels
//!    (`missing`): `skip` rejects the recording, `zero` fills zeros and sets the mask,
//!    `interpolate` uses inverse-distance weights of the 4 nearest present electrodes on the
//!    10-05 template (not MNE's spherical splines); the mask and policy are in `meta.json`.
//! 2. **Steps** (`steps`, comma-separated, applied to the whole chunk in float64 µV):
//!    `car` (common average), `resample` (`resample_hz`, `resample_method` = `mne_fft` like
//!    `Raw.resample`, `poly` like `scipy.signal.resample_poly`, `nearest` like PyTorch
//!    `interpolate`), `bandpass` (`l_freq`/`h_freq`, MNE `Raw.filter` defaults), `notch`
//!    (`notch`, MNE `Raw.notch_filter` defaults).
//! 3. **Length rules**: chunks shorter than `min_duration_s` are rejected; `trim_start_s` and
//!    `trim_end_s` are cut after the steps.
//! 4. **Windows** of `window_s` every `stride_s`; the incomplete tail is dropped; a window with
//!    max |x| ≥ `reject_abs_uv` (µV, before unit scaling) is rejected with a reason.
//! 5. **Unit** (`unit`: `uV/100`, `uV`, `mV`, `V`), then optional per-channel scaling by the
//!    `percentile` quantile of |x| + `percentile_eps` (BIOT, in the output unit).
//! 6. **Shape**: `[C, T]`, or `[C, T/patch_len, patch_len]` when `patch_len` > 0;
//!    `eeg.npy` as `dtype` (float32 or float16).
//!
//! Defaults per profile (DOMAIN.md §3.2; parameters marked *unverified* follow the model's
//! public code as far as it was read, see each constructor):
//!
//! | profile | channels | steps | fs | band / notch | unit | window / patch | rules |
//! |---|---|---|---|---|---|---|---|
//! | cbramod | cbramod19, skip | resample, bandpass, notch | 200 (MNE FFT) | 0.3–75 / 60 | µV/100 | 30 s / 200 | <300 s dropped, 60 s trimmed each end, max\|x\| ≥ 100 µV rejected |
//! | labram | labram23, zero | bandpass, notch, resample | 200 | 0.1–75 / 50 | µV/100 | 10 s / 200 | TUAB variant |
//! | eegpt | eegpt58, zero | car, resample | 256 (nearest) | none | mV | 4 s / 64 | |
//! | biot | tcp16, skip | resample | 200 | none | V, ÷ p95 | 10 s / none | |
//! | diver | all | bandpass, notch, resample | 500 | 0.5 high-pass / 60 | µV/100 | 10 s / 500 | *unverified* |
//! | generic | all | (none) | native | none | µV | 10 s / none | |
//!
//! Numerical agreement (shard/tests/eeg_profiles.rs against `python/eeg/reference.py`, which
//! runs MNE 1.13 `Raw.resample`/`Raw.filter`/`Raw.notch_filter` with default arguments, SciPy
//! `resample_poly` and NumPy): every window within 1e-4 of its peak (measured ≤ 6e-8).
//!
//! **Verified vs unverified.** Channel sets, filter edges, notch, rates, units, CBraMod's
//! rules (300 s, 60 s trims, 30 s, 100 µV) and BIOT's scaling are DOMAIN.md §3.2 (read in
//! the models' code). Not verified, chosen here, and to be checked against the public code:
//! * `labram` is the TUAB variant (23 channels, 10 s windows, no tail drop). LaBraM
//!   *pretraining* (dataset's own montage, stride 800 samples, last 10 s dropped, window so
//!   that C × seconds ≈ 256) is `channels=all, stride_s=4, trim_end_s=10, window_s=256/C`.
//!   Missing channels default to `zero` (LaBraM's `get_input_chans` raises instead).
//! * `eegpt`: the output length of the nearest-neighbour resampling is `round(n · 256 / fs)`;
//!   windows tile the chunk every 4 s (EEGPT takes random 4 s crops at training time); the
//!   common average is taken before resampling (it commutes exactly with nearest).
//! * `biot`: bipolar derivation before resampling (both linear; equal up to rounding); the
//!   percentile scaling is per 10 s window, in volts, as BIOT's loader does per sample.
//! * `diver`: every default (step order, 0.5 Hz high-pass, 60 Hz notch, 500 Hz, 10 s, patch
//!   500) follows DIVER-1's Brain Treebank/PhysioNet scripts as summarised in DOMAIN.md, not a
//!   pretraining config; DIVER-0's own parameters are unknown.
//! * CBraMod's notch is applied after the band-pass (DOMAIN: "resample first, then 0.3–75 /
//!   60 Hz").
//! * `interpolate` uses inverse-distance weights (4 nearest, fsaverage 10-05 template), not
//!   MNE's spherical splines.

pub mod channels;
pub mod dsp;

use serde_json::{Value, json};

use crate::npy::{self, Dtype};
use crate::profile::{Applied, Params, Profile, check_params};
use crate::{Error, Result, Sample};
use bomdata_schemas::eeg::{ChannelType, Recording};

/// How a missing channel of a fixed set is handled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Missing {
    /// Reject the whole recording chunk.
    Skip,
    /// Fill zeros; the mask marks the row.
    Zero,
    /// Inverse-distance interpolation from the 4 nearest present template electrodes.
    Interpolate,
}

/// Resampling method.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResampleMethod {
    /// MNE `Raw.resample` (FFT, npad auto, reflect_limited).
    MneFft,
    /// SciPy `resample_poly`.
    Poly,
    /// PyTorch nearest-neighbour interpolation.
    Nearest,
}

/// Every parameter of an EEG profile.
#[derive(Clone, Debug)]
pub struct EegConfig {
    /// Channel set (`all`, a named set or a list).
    pub channels: String,
    /// Missing-channel policy.
    pub missing: Missing,
    /// Ordered steps (`car`, `resample`, `bandpass`, `notch`).
    pub steps: Vec<String>,
    /// Target rate of the `resample` step.
    pub resample_hz: f64,
    /// Resampling method.
    pub resample_method: ResampleMethod,
    /// High-pass edge of `bandpass` (None = low-pass only).
    pub l_freq: Option<f64>,
    /// Low-pass edge of `bandpass` (None = high-pass only).
    pub h_freq: Option<f64>,
    /// Notch frequencies.
    pub notch: Vec<f64>,
    /// Output unit.
    pub unit: String,
    /// Per-channel quantile scaling (BIOT).
    pub percentile: Option<f64>,
    /// Epsilon added to the quantile.
    pub percentile_eps: f64,
    /// Chunks shorter than this are rejected.
    pub min_duration_s: f64,
    /// Seconds cut at the start after processing.
    pub trim_start_s: f64,
    /// Seconds cut at the end after processing.
    pub trim_end_s: f64,
    /// Window length.
    pub window_s: f64,
    /// Window stride.
    pub stride_s: f64,
    /// Patch length in samples (0 = no patch axis).
    pub patch_len: usize,
    /// Reject windows with max |x| ≥ this many µV.
    pub reject_abs_uv: Option<f64>,
    /// Output dtype (`float32` or `float16`).
    pub dtype: Dtype,
}

impl EegConfig {
    /// The defaults of a named profile.
    pub fn preset(name: &str) -> Option<Self> {
        let base = EegConfig {
            channels: "all".into(),
            missing: Missing::Zero,
            steps: vec![],
            resample_hz: 0.0,
            resample_method: ResampleMethod::MneFft,
            l_freq: None,
            h_freq: None,
            notch: vec![],
            unit: "uV".into(),
            percentile: None,
            percentile_eps: 1e-8,
            min_duration_s: 0.0,
            trim_start_s: 0.0,
            trim_end_s: 0.0,
            window_s: 10.0,
            stride_s: 10.0,
            patch_len: 0,
            reject_abs_uv: None,
            dtype: Dtype::F32,
        };
        let steps = |s: &str| s.split(',').map(String::from).collect::<Vec<_>>();
        Some(match name {
            "generic" => base,
            "cbramod" => EegConfig {
                channels: "cbramod19".into(),
                missing: Missing::Skip,
                steps: steps("resample,bandpass,notch"),
                resample_hz: 200.0,
                l_freq: Some(0.3),
                h_freq: Some(75.0),
                notch: vec![60.0],
                unit: "uV/100".into(),
                min_duration_s: 300.0,
                trim_start_s: 60.0,
                trim_end_s: 60.0,
                window_s: 30.0,
                stride_s: 30.0,
                patch_len: 200,
                reject_abs_uv: Some(100.0),
                ..base
            },
            "labram" => EegConfig {
                channels: "labram23".into(),
                missing: Missing::Zero,
                steps: steps("bandpass,notch,resample"),
                resample_hz: 200.0,
                l_freq: Some(0.1),
                h_freq: Some(75.0),
                notch: vec![50.0],
                unit: "uV/100".into(),
                window_s: 10.0,
                stride_s: 10.0,
                patch_len: 200,
                ..base
            },
            "eegpt" => EegConfig {
                channels: "eegpt58".into(),
                missing: Missing::Zero,
                steps: steps("car,resample"),
                resample_hz: 256.0,
                resample_method: ResampleMethod::Nearest,
                unit: "mV".into(),
                window_s: 4.0,
                stride_s: 4.0,
                patch_len: 64,
                ..base
            },
            "biot" => EegConfig {
                channels: "tcp16".into(),
                missing: Missing::Skip,
                steps: steps("resample"),
                resample_hz: 200.0,
                unit: "V".into(),
                percentile: Some(0.95),
                window_s: 10.0,
                stride_s: 10.0,
                ..base
            },
            "diver" => EegConfig {
                steps: steps("bandpass,notch,resample"),
                resample_hz: 500.0,
                l_freq: Some(0.5),
                h_freq: None,
                notch: vec![60.0],
                unit: "uV/100".into(),
                window_s: 10.0,
                stride_s: 10.0,
                patch_len: 500,
                ..base
            },
            _ => return None,
        })
    }

    /// Every parameter as JSON.
    pub fn to_json(&self) -> Value {
        json!({
            "channels": self.channels,
            "missing": match self.missing { Missing::Skip => "skip", Missing::Zero => "zero", Missing::Interpolate => "interpolate" },
            "steps": self.steps.join(","),
            "resample_hz": self.resample_hz,
            "resample_method": match self.resample_method { ResampleMethod::MneFft => "mne_fft", ResampleMethod::Poly => "poly", ResampleMethod::Nearest => "nearest" },
            "l_freq": self.l_freq,
            "h_freq": self.h_freq,
            "notch": self.notch.iter().map(|f| f.to_string()).collect::<Vec<_>>().join(","),
            "unit": self.unit,
            "percentile": self.percentile,
            "percentile_eps": self.percentile_eps,
            "min_duration_s": self.min_duration_s,
            "trim_start_s": self.trim_start_s,
            "trim_end_s": self.trim_end_s,
            "window_s": self.window_s,
            "stride_s": self.stride_s,
            "patch_len": self.patch_len,
            "reject_abs_uv": self.reject_abs_uv,
            "dtype": self.dtype.name(),
        })
    }

    /// Applies `--param` overrides.
    pub fn override_with(&mut self, profile: &str, params: &Params) -> Result<()> {
        let known: Vec<String> = match self.to_json() {
            Value::Object(m) => m.keys().cloned().collect(),
            _ => vec![],
        };
        let known_ref: Vec<&str> = known.iter().map(String::as_str).collect();
        check_params(profile, params, &known_ref)?;
        let bad =
            |k: &str, v: &Value| Error::Encode(format!("profile {profile}: bad value {v} for {k}"));
        let num = |k: &str, v: &Value| -> Result<f64> {
            match v {
                Value::Number(n) => n.as_f64().ok_or_else(|| bad(k, v)),
                Value::String(s) => s.trim().parse().map_err(|_| bad(k, v)),
                _ => Err(bad(k, v)),
            }
        };
        let opt = |k: &str, v: &Value| -> Result<Option<f64>> {
            match v {
                Value::Null => Ok(None),
                Value::String(s) if s.is_empty() || s == "none" || s == "null" => Ok(None),
                _ => num(k, v).map(Some),
            }
        };
        let text = |v: &Value| match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        for (k, v) in params {
            match k.as_str() {
                "channels" => self.channels = text(v),
                "missing" => {
                    self.missing = match text(v).as_str() {
                        "skip" => Missing::Skip,
                        "zero" => Missing::Zero,
                        "interpolate" => Missing::Interpolate,
                        _ => return Err(bad(k, v)),
                    }
                }
                "steps" => {
                    self.steps = text(v)
                        .split(',')
                        .map(|s| s.trim().to_string())
                        .filter(|s| !s.is_empty())
                        .collect();
                    for s in &self.steps {
                        if !["car", "resample", "bandpass", "notch"].contains(&s.as_str()) {
                            return Err(bad(k, v));
                        }
                    }
                }
                "resample_hz" => self.resample_hz = num(k, v)?,
                "resample_method" => {
                    self.resample_method = match text(v).as_str() {
                        "mne_fft" => ResampleMethod::MneFft,
                        "poly" => ResampleMethod::Poly,
                        "nearest" => ResampleMethod::Nearest,
                        _ => return Err(bad(k, v)),
                    }
                }
                "l_freq" => self.l_freq = opt(k, v)?,
                "h_freq" => self.h_freq = opt(k, v)?,
                "notch" => {
                    self.notch = match v {
                        Value::Number(_) => vec![num(k, v)?],
                        _ => text(v)
                            .split(',')
                            .map(str::trim)
                            .filter(|s| !s.is_empty() && *s != "none")
                            .map(|s| s.parse::<f64>().map_err(|_| bad(k, v)))
                            .collect::<Result<_>>()?,
                    }
                }
                "unit" => {
                    let u = text(v);
                    if unit_factor(&u).is_none() {
                        return Err(bad(k, v));
                    }
                    self.unit = u;
                }
                "percentile" => self.percentile = opt(k, v)?,
                "percentile_eps" => self.percentile_eps = num(k, v)?,
                "min_duration_s" => self.min_duration_s = num(k, v)?,
                "trim_start_s" => self.trim_start_s = num(k, v)?,
                "trim_end_s" => self.trim_end_s = num(k, v)?,
                "window_s" => self.window_s = num(k, v)?,
                "stride_s" => self.stride_s = num(k, v)?,
                "patch_len" => self.patch_len = num(k, v)? as usize,
                "reject_abs_uv" => self.reject_abs_uv = opt(k, v)?,
                "dtype" => {
                    self.dtype = match text(v).as_str() {
                        "float32" => Dtype::F32,
                        "float16" => Dtype::F16,
                        _ => return Err(bad(k, v)),
                    }
                }
                _ => return Err(bad(k, v)),
            }
        }
        if self.window_s <= 0.0 || self.stride_s <= 0.0 {
            return Err(Error::Encode(format!(
                "profile {profile}: window_s and stride_s must be positive"
            )));
        }
        Ok(())
    }
}

/// µV → unit factor.
fn unit_factor(unit: &str) -> Option<f64> {
    match unit {
        "uV/100" => Some(0.01),
        "uV" => Some(1.0),
        "mV" => Some(1e-3),
        "V" => Some(1e-6),
        _ => None,
    }
}

/// An EEG profile (one of the presets, possibly with overrides).
#[derive(Clone, Debug)]
pub struct EegProfile {
    name: &'static str,
    config: EegConfig,
}

/// Names of the EEG profiles.
pub const NAMES: &[&str] = &["cbramod", "labram", "eegpt", "biot", "diver", "generic"];

impl EegProfile {
    /// Creates the profile `name` (one of [`NAMES`]) with overrides.
    pub fn new(name: &str, params: &Params) -> Result<Self> {
        let Some(&static_name) = NAMES.iter().find(|n| **n == name) else {
            return Err(Error::Encode(format!("unknown eeg profile {name:?}")));
        };
        let Some(mut config) = EegConfig::preset(name) else {
            return Err(Error::Encode(format!("unknown eeg profile {name:?}")));
        };
        config.override_with(name, params)?;
        Ok(EegProfile {
            name: static_name,
            config,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &EegConfig {
        &self.config
    }
}

/// A channel row after mapping.
struct Row {
    name: String,
    xyz: [f64; 3],
    present: bool,
    source: String,
}

fn reject(applied: &mut Applied, key: &str, why: String) {
    applied.rejected.push(format!("{key}: {why}"));
}

impl Profile for EegProfile {
    fn name(&self) -> &'static str {
        self.name
    }

    fn description(&self) -> &'static str {
        match self.name {
            "cbramod" => {
                "CBraMod pretraining (TUEG): 19 ch, resample 200 Hz then 0.3-75 Hz + 60 Hz notch, 30 s (19,30,200) in uV/100, |x|>=100 uV rejected"
            }
            "labram" => {
                "LaBraM (TUAB): 23 ch, 0.1-75 Hz + 50 Hz notch then resample 200 Hz, 10 s (23,10,200) in uV/100"
            }
            "eegpt" => {
                "EEGPT pretraining: 58 ch, common average, nearest-neighbour 256 Hz, 4 s (58,16,64) in mV"
            }
            "biot" => {
                "BIOT (TUAB): 16 TCP bipolar ch, resample 200 Hz, 10 s (16,2000) in V scaled per channel by the 95th percentile"
            }
            "diver" => {
                "DIVER-1 style: all channels with xyz, 0.5 Hz high-pass + 60 Hz notch, 500 Hz, 10 s (C,10,500) in uV/100 (unverified defaults)"
            }
            _ => {
                "generic EEG windows: every step (channels, car, resample, filters, unit, window, patch) a parameter"
            }
        }
    }

    fn params(&self) -> Value {
        self.config.to_json()
    }

    fn apply(&self, sample: Sample) -> Result<Applied> {
        let mut applied = Applied::default();
        let key = sample.key.clone();
        let Some(meta) = sample.member("meta.json") else {
            reject(
                &mut applied,
                &key,
                "no meta.json (not an eeg sample)".into(),
            );
            return Ok(applied);
        };
        let rec: Recording = match serde_json::from_slice(&meta.data) {
            Ok(r) => r,
            Err(e) => {
                reject(&mut applied, &key, format!("meta.json is not eeg/1: {e}"));
                return Ok(applied);
            }
        };
        let Some(sig) = sample.member("signal.npy") else {
            reject(&mut applied, &key, "no signal.npy".into());
            return Ok(applied);
        };
        let view = npy::decode(&sig.data)?;
        if view.dtype != Dtype::F32 || view.shape.len() != 2 || view.shape[0] != rec.channels.len()
        {
            reject(
                &mut applied,
                &key,
                format!(
                    "signal.npy must be float32 [{} channels, T], got {:?} {:?}",
                    rec.channels.len(),
                    view.dtype,
                    view.shape
                ),
            );
            return Ok(applied);
        }
        let (c_in, t_in) = (view.shape[0], view.shape[1]);
        let raw = view.data;
        if raw.len() != c_in * t_in * 4 {
            return Err(Error::Npy(format!(
                "{key}: signal.npy data length {} != {c_in}x{t_in} float32",
                raw.len()
            )));
        }
        let fs = rec.sampling_rate;
        let duration = t_in as f64 / fs;
        if duration < self.config.min_duration_s {
            reject(
                &mut applied,
                &key,
                format!(
                    "duration {duration:.3} s < min_duration_s {}",
                    self.config.min_duration_s
                ),
            );
            return Ok(applied);
        }
        let Some((rows, mut data)) = self.map_channels(&rec, raw, t_in, &key, &mut applied) else {
            return Ok(applied);
        };
        let mut chain: Vec<Value> = vec![
            json!({"op": "channels", "set": self.config.channels, "missing": self.to_missing_str()}),
        ];
        let mut rate = fs;
        for step in &self.config.steps {
            match step.as_str() {
                "car" => {
                    let mut present: Vec<Vec<f64>> = Vec::new();
                    let idx: Vec<usize> = (0..rows.len()).filter(|&i| rows[i].present).collect();
                    for &i in &idx {
                        present.push(std::mem::take(&mut data[i]));
                    }
                    dsp::common_average(&mut present);
                    for (&i, ch) in idx.iter().zip(present) {
                        data[i] = ch;
                    }
                    chain.push(json!({"op": "car", "over": "present channels"}));
                }
                "resample" => {
                    let to = self.config.resample_hz;
                    if to > 0.0 && (to - rate).abs() > 1e-9 * rate {
                        match self.config.resample_method {
                            ResampleMethod::MneFft => {
                                let r = dsp::MneResampler::new(data[0].len(), rate, to);
                                for ch in data.iter_mut() {
                                    *ch = r.apply(ch);
                                }
                            }
                            ResampleMethod::Nearest => {
                                let n_out = dsp::resampled_len(data[0].len(), rate, to);
                                for ch in data.iter_mut() {
                                    *ch = dsp::nearest(ch, n_out);
                                }
                            }
                            ResampleMethod::Poly => {
                                let (up, down) = rational(to, rate);
                                for ch in data.iter_mut() {
                                    *ch = dsp::resample_poly(ch, up, down);
                                }
                            }
                        }
                        chain.push(json!({"op": "resample", "from_hz": rate, "to_hz": to, "method": self.to_json_method()}));
                        rate = to;
                    }
                }
                "bandpass" => {
                    if self.config.l_freq.is_some() || self.config.h_freq.is_some() {
                        let f = match dsp::FirFilter::mne_filter(
                            rate,
                            self.config.l_freq,
                            self.config.h_freq,
                        ) {
                            Ok(f) => f,
                            Err(e) => {
                                reject(&mut applied, &key, format!("bandpass: {e}"));
                                return Ok(applied);
                            }
                        };
                        let mut conv = dsp::FftConvolver::default();
                        for ch in data.iter_mut() {
                            *ch = f.apply(ch, &mut conv);
                        }
                        chain.push(f.description);
                    }
                }
                "notch" => {
                    let freqs: Vec<f64> = self.config.notch.clone();
                    if !freqs.is_empty() {
                        let f = match dsp::FirFilter::mne_notch(rate, &freqs) {
                            Ok(f) => f,
                            Err(e) => {
                                reject(&mut applied, &key, format!("notch: {e}"));
                                return Ok(applied);
                            }
                        };
                        let mut conv = dsp::FftConvolver::default();
                        for ch in data.iter_mut() {
                            *ch = f.apply(ch, &mut conv);
                        }
                        chain.push(f.description);
                    }
                }
                other => return Err(Error::Encode(format!("unknown eeg step {other:?}"))),
            }
        }
        // Zero-filled rows stay zero through every linear step.
        for (r, ch) in rows.iter().zip(data.iter_mut()) {
            if !r.present && self.config.missing == Missing::Zero {
                ch.iter_mut().for_each(|v| *v = 0.0);
            }
        }
        self.windows(&sample, &rec, &rows, &data, rate, chain, &mut applied)?;
        Ok(applied)
    }
}

fn rational(to: f64, from: f64) -> (usize, usize) {
    // Rates are integral or have few decimals: scale by 1000 and reduce.
    let a = (to * 1000.0).round() as usize;
    let b = (from * 1000.0).round() as usize;
    fn gcd(a: usize, b: usize) -> usize {
        if b == 0 { a } else { gcd(b, a % b) }
    }
    let g = gcd(a, b).max(1);
    (a / g, b / g)
}

impl EegProfile {
    fn to_missing_str(&self) -> &'static str {
        match self.config.missing {
            Missing::Skip => "skip",
            Missing::Zero => "zero",
            Missing::Interpolate => "interpolate",
        }
    }

    fn to_json_method(&self) -> &'static str {
        match self.config.resample_method {
            ResampleMethod::MneFft => "mne_fft",
            ResampleMethod::Poly => "scipy_resample_poly",
            ResampleMethod::Nearest => "torch_nearest",
        }
    }

    /// Maps the recording's channels onto the configured set. `None` when rejected.
    fn map_channels(
        &self,
        rec: &Recording,
        raw: &[u8],
        t: usize,
        key: &str,
        applied: &mut Applied,
    ) -> Option<(Vec<Row>, Vec<Vec<f64>>)> {
        // Only the mapped rows are converted to float64.
        let row_of = |i: usize| -> Vec<f64> {
            raw[i * t * 4..(i + 1) * t * 4]
                .chunks_exact(4)
                .map(|b| f64::from(f32::from_le_bytes([b[0], b[1], b[2], b[3]])))
                .collect()
        };
        let mut index = std::collections::HashMap::new();
        for (i, ch) in rec.channels.iter().enumerate() {
            if ch.channel_type == ChannelType::Eeg {
                index.entry(channels::key(&ch.name)).or_insert(i);
            }
        }
        let Some(list) = channels::resolve(&self.config.channels) else {
            let mut rows = Vec::new();
            let mut data = Vec::new();
            for (i, ch) in rec.channels.iter().enumerate() {
                if ch.channel_type == ChannelType::Eeg {
                    rows.push(Row {
                        name: ch.name.clone(),
                        xyz: ch.xyz_mm,
                        present: true,
                        source: ch.name.clone(),
                    });
                    data.push(row_of(i));
                }
            }
            if rows.is_empty() {
                reject(applied, key, "no eeg channels".into());
                return None;
            }
            return Some((rows, data));
        };
        let mut rows = Vec::new();
        let mut data = Vec::new();
        let mut missing = Vec::new();
        let pos = |i: usize, name: &str| {
            let p = rec.channels[i].xyz_mm;
            if p.iter().all(|v| v.is_finite()) {
                p
            } else {
                channels::template_xyz(name)
            }
        };
        for name in &list {
            if let Some((a, b)) = name.split_once('-') {
                match (index.get(&channels::key(a)), index.get(&channels::key(b))) {
                    (Some(&ia), Some(&ib)) => {
                        let (pa, pb) = (pos(ia, a), pos(ib, b));
                        rows.push(Row {
                            name: name.to_uppercase(),
                            xyz: [0, 1, 2].map(|k| (pa[k] + pb[k]) / 2.0),
                            present: true,
                            source: format!("{}-{}", rec.channels[ia].name, rec.channels[ib].name),
                        });
                        data.push(
                            row_of(ia)
                                .iter()
                                .zip(&row_of(ib))
                                .map(|(x, y)| x - y)
                                .collect(),
                        );
                    }
                    _ => {
                        missing.push(name.clone());
                        rows.push(Row {
                            name: name.to_uppercase(),
                            xyz: channels::template_xyz(name),
                            present: false,
                            source: String::new(),
                        });
                        data.push(vec![0.0; t]);
                    }
                }
            } else if let Some(&i) = index.get(&channels::key(name)) {
                rows.push(Row {
                    name: name.to_uppercase(),
                    xyz: pos(i, name),
                    present: true,
                    source: rec.channels[i].name.clone(),
                });
                data.push(row_of(i));
            } else {
                missing.push(name.clone());
                rows.push(Row {
                    name: name.to_uppercase(),
                    xyz: channels::template_xyz(name),
                    present: false,
                    source: String::new(),
                });
                data.push(vec![0.0; t]);
            }
        }
        if !missing.is_empty() {
            match self.config.missing {
                Missing::Skip => {
                    reject(
                        applied,
                        key,
                        format!("missing channels {}", missing.join(",")),
                    );
                    return None;
                }
                Missing::Zero => {}
                Missing::Interpolate => {
                    for m in 0..rows.len() {
                        if rows[m].present {
                            continue;
                        }
                        let target = rows[m].xyz;
                        let mut cands: Vec<(f64, usize)> = (0..rows.len())
                            .filter(|&j| {
                                rows[j].present && rows[j].xyz.iter().all(|v| v.is_finite())
                            })
                            .map(|j| {
                                let d = (0..3)
                                    .map(|k| (rows[j].xyz[k] - target[k]).powi(2))
                                    .sum::<f64>()
                                    .sqrt();
                                (d, j)
                            })
                            .collect();
                        if !target.iter().all(|v| v.is_finite()) || cands.is_empty() {
                            reject(
                                applied,
                                key,
                                format!("cannot interpolate {} (no position)", rows[m].name),
                            );
                            return None;
                        }
                        cands.sort_by(|a, b| a.0.total_cmp(&b.0));
                        cands.truncate(4);
                        let w: Vec<f64> = cands.iter().map(|(d, _)| 1.0 / d.max(1e-6)).collect();
                        let ws: f64 = w.iter().sum();
                        let mut out = vec![0.0; t];
                        for ((_, j), wj) in cands.iter().zip(&w) {
                            for (o, v) in out.iter_mut().zip(&data[*j]) {
                                *o += v * wj / ws;
                            }
                        }
                        data[m] = out;
                        rows[m].source = format!(
                            "interpolated from {}",
                            cands
                                .iter()
                                .map(|(_, j)| rows[*j].name.clone())
                                .collect::<Vec<_>>()
                                .join(",")
                        );
                    }
                }
            }
        }
        Some((rows, data))
    }

    #[allow(clippy::too_many_arguments)]
    fn windows(
        &self,
        sample: &Sample,
        rec: &Recording,
        rows: &[Row],
        data: &[Vec<f64>],
        rate: f64,
        chain: Vec<Value>,
        applied: &mut Applied,
    ) -> Result<()> {
        let cfg = &self.config;
        let key = &sample.key;
        let n = data.first().map_or(0, Vec::len);
        let start = (cfg.trim_start_s * rate).round() as usize;
        let end = n.saturating_sub((cfg.trim_end_s * rate).round() as usize);
        let win = (cfg.window_s * rate).round() as usize;
        let stride = (cfg.stride_s * rate).round() as usize;
        if win == 0 || stride == 0 {
            return Err(Error::Encode("window or stride rounds to 0 samples".into()));
        }
        if cfg.patch_len > 0 && !win.is_multiple_of(cfg.patch_len) {
            return Err(Error::Encode(format!(
                "window of {win} samples is not a multiple of patch_len {}",
                cfg.patch_len
            )));
        }
        if end <= start || end - start < win {
            reject(
                applied,
                key,
                format!(
                    "too short for one {} s window after trimming ({} samples at {rate} Hz)",
                    cfg.window_s, n
                ),
            );
            return Ok(());
        }
        let factor = unit_factor(&cfg.unit).unwrap_or(1.0);
        let c = rows.len();
        let reference = if cfg.steps.iter().any(|s| s == "car") {
            json!({"kind": "average_computed"})
        } else if rows.iter().any(|r| r.name.contains('-')) {
            json!({"kind": "bipolar"})
        } else {
            serde_json::to_value(&rec.reference).unwrap_or(Value::Null)
        };
        let shape: Vec<usize> = match win.checked_div(cfg.patch_len) {
            Some(n_patches) if cfg.patch_len > 0 => vec![c, n_patches, cfg.patch_len],
            _ => vec![c, win],
        };
        let mut w = 0usize;
        let mut s0 = start;
        while s0 + win <= end {
            let index = w;
            w += 1;
            let s = s0;
            s0 += stride;
            if let Some(th) = cfg.reject_abs_uv {
                let m = data
                    .iter()
                    .flat_map(|ch| ch[s..s + win].iter())
                    .fold(0.0f64, |a, v| a.max(v.abs()));
                if m >= th {
                    reject(
                        applied,
                        key,
                        format!("window {index}: max |x| {m:.1} uV >= {th} uV"),
                    );
                    continue;
                }
            }
            let mut out = Vec::with_capacity(c * win);
            let mut scales = Vec::new();
            for ch in data {
                let mut x: Vec<f64> = ch[s..s + win].iter().map(|v| v * factor).collect();
                if let Some(q) = cfg.percentile {
                    scales.push(dsp::percentile_scale(&mut x, q, cfg.percentile_eps));
                }
                out.extend(x);
            }
            let eeg = match cfg.dtype {
                Dtype::F16 => {
                    let bits: Vec<u16> = out
                        .iter()
                        .map(|&v| half::f16::from_f64(v).to_bits())
                        .collect();
                    npy::encode_f16_bits(&shape, &bits)
                }
                _ => {
                    let v: Vec<f32> = out.iter().map(|&v| v as f32).collect();
                    npy::encode_f32(&shape, &v)
                }
            };
            let offset = rec.chunk.offset_s + s as f64 / rate;
            let meta = json!({
                "schema": "eeg-window/1",
                "profile": self.name,
                "source_key": key,
                "modality": rec.modality,
                "channel_names": rows.iter().map(|r| r.name.clone()).collect::<Vec<_>>(),
                "channel_sources": rows.iter().map(|r| r.source.clone()).collect::<Vec<_>>(),
                "channel_mask": rows.iter().map(|r| r.present).collect::<Vec<_>>(),
                "missing_policy": self.to_missing_str(),
                "xyz_mm": rows.iter().map(|r| r.xyz.map(|v| if v.is_finite() { Some(v) } else { None })).collect::<Vec<_>>(),
                "coord_frame": rec.coord_frame.clone().unwrap_or_else(|| channels::TEMPLATE_FRAME.into()),
                "reference": reference,
                "montage": rec.montage,
                "power_line_hz": rec.power_line_hz,
                "sampling_rate": rate,
                "original_sampling_rate": rec.sampling_rate,
                "unit": cfg.unit,
                "percentile_scales": if scales.is_empty() { Value::Null } else { json!(scales) },
                "chain": chain,
                "params": cfg.to_json(),
                "window_index": index,
                "start_sample": s,
                "start_s": offset,
                "chunk_index": rec.chunk.index,
                "shape": shape,
                "dtype": cfg.dtype.name(),
            });
            let mut o = Sample::new(format!("{key}_{index:06}"));
            o.subject = sample.subject.clone();
            o.push("eeg.npy", eeg);
            o.push_json("meta", &meta)?;
            applied.samples.push(o);
        }
        Ok(())
    }
}
