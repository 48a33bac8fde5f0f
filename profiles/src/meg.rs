//! The `meg` profile: MEG windows with their sensor geometry.
//!
//! Runs on canonical `eeg/1` samples that have MEG channels (`mag`, `grad`, `ref_meg`; see the
//! FIF reader) and reuses the EEG profile's steps, which match MNE (profiles/tests/eeg_profiles.rs):
//!
//! 1. **Pick** the channels whose type is in `picks` (`mag,grad` by default, like MNE's
//!    `raw.pick("meg")` on a recording without compensation; add `ref_meg` for reference
//!    sensors), in recording order. A chunk without any is rejected.
//! 2. **Steps** in `steps` order (default `bandpass,resample`): `bandpass` = MNE `Raw.filter(l_freq,
//!    h_freq)` with default arguments, `notch` = `Raw.notch_filter(notch)`, `resample` = MNE
//!    `Raw.resample(resample_hz)` (FFT, `npad="auto"`, `window="auto"`).
//! 3. **Windows** of `window_s` every `stride_s` (tail dropped), `trim_start_s`/`trim_end_s`
//!    cut first, chunks shorter than `min_duration_s` rejected.
//! 4. **Output** `meg.npy`, `[C, T]` in the channels' own SI units (T for magnetometers, T/m for
//!    gradiometers), optionally multiplied by `scale` (e.g. `1e12` for pT and pT/m), as `dtype`;
//!    `meta.json` (`meg-window/1`) lists per channel its name, type, unit, position (`xyz_mm`)
//!    and sensor (coil type, frame, the coil's x/y/z axes) — head coordinates when the recording
//!    had a device → head transformation.
//!
//! Defaults (chosen here, not taken from a published MEG model's code): `mag,grad`, 1–45 Hz band-pass,
//! 200 Hz, 10 s windows, float32, no scaling.
//!
//! Agreement with MNE: profiles/tests/meg_profile.rs runs `python/meg/reference.py` (MNE
//! `RawArray.pick`/`filter`/`resample` on the same canonical input) and requires every window
//! channel within 1e-4 of that channel's peak.

use serde_json::{Value, json};

use crate::eeg::EegProfile;
use crate::profile::{Applied, Params, Profile, check_params};
use crate::{Error, Result};
use bomdata_schemas::eeg::{ChannelType, Recording};
use bomdata_shard::Sample;
use bomdata_shard::npy::{self, Dtype};

/// Parameters of the `meg` profile that are its own (the others pass to the EEG steps).
const OWN: &[&str] = &["picks", "scale", "dtype"];
/// Parameters passed on to the EEG steps.
const STEP_PARAMS: &[&str] = &[
    "steps",
    "resample_hz",
    "l_freq",
    "h_freq",
    "notch",
    "min_duration_s",
    "trim_start_s",
    "trim_end_s",
    "window_s",
    "stride_s",
];

/// The `meg` profile.
#[derive(Clone, Debug)]
pub struct MegProfile {
    picks: Vec<ChannelType>,
    scale: f64,
    dtype: Dtype,
    inner: EegProfile,
}

fn type_name(t: ChannelType) -> String {
    serde_json::to_value(t)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

impl MegProfile {
    /// The profile with `--param` overrides.
    pub fn new(params: &Params) -> Result<Self> {
        let mut known: Vec<&str> = OWN.to_vec();
        known.extend_from_slice(STEP_PARAMS);
        check_params("meg", params, &known)?;
        let bad = |k: &str, v: &Value| Error::BadParam {
            profile: "meg".into(),
            param: k.into(),
            value: v.clone(),
            expected: "a valid value for it",
        };
        let mut picks = vec![ChannelType::Mag, ChannelType::Grad];
        let mut scale = 1.0;
        let mut dtype = Dtype::F32;
        let mut inner = Params::new();
        for (k, v) in [
            ("steps", json!("bandpass,resample")),
            ("resample_hz", json!(200.0)),
            ("l_freq", json!(1.0)),
            ("h_freq", json!(45.0)),
            ("window_s", json!(10.0)),
            ("stride_s", json!(10.0)),
        ] {
            inner.insert(k.into(), v);
        }
        for (k, v) in params {
            match k.as_str() {
                "picks" => {
                    let text = v.as_str().ok_or_else(|| bad(k, v))?;
                    picks = Vec::new();
                    for p in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
                        let t = match p {
                            "meg" => {
                                picks.extend([ChannelType::Mag, ChannelType::Grad]);
                                continue;
                            }
                            "mag" => ChannelType::Mag,
                            "grad" => ChannelType::Grad,
                            "ref_meg" => ChannelType::RefMeg,
                            _ => return Err(bad(k, v)),
                        };
                        picks.push(t);
                    }
                    if picks.is_empty() {
                        return Err(bad(k, v));
                    }
                }
                "scale" => {
                    scale = match v {
                        Value::Number(n) => n.as_f64(),
                        Value::String(s) => s.trim().parse().ok(),
                        _ => None,
                    }
                    .filter(|s: &f64| s.is_finite() && *s > 0.0)
                    .ok_or_else(|| bad(k, v))?;
                }
                "dtype" => {
                    dtype = match v.as_str() {
                        Some("float32") => Dtype::F32,
                        Some("float16") => Dtype::F16,
                        _ => return Err(bad(k, v)),
                    }
                }
                _ => {
                    inner.insert(k.clone(), v.clone());
                }
            }
        }
        picks.dedup();
        Ok(MegProfile {
            picks,
            scale,
            dtype,
            inner: EegProfile::new("generic", &inner)?,
        })
    }

    /// The picked channel indices of a recording.
    fn picked(&self, rec: &Recording) -> Vec<usize> {
        (0..rec.channels.len())
            .filter(|&i| self.picks.contains(&rec.channels[i].channel_type))
            .collect()
    }
}

impl Profile for MegProfile {
    fn name(&self) -> &'static str {
        "meg"
    }

    fn description(&self) -> &'static str {
        "MEG windows: mag+grad picked, 1-45 Hz band-pass then 200 Hz (MNE filter/resample), 10 s [C,T] in T and T/m, sensor geometry (head frame) in meta.json"
    }

    fn params(&self) -> Value {
        let mut p = self.inner.params();
        let keep: Vec<&str> = STEP_PARAMS.to_vec();
        if let Value::Object(m) = &mut p {
            m.retain(|k, _| keep.contains(&k.as_str()));
            m.insert(
                "picks".into(),
                json!(
                    self.picks
                        .iter()
                        .map(|t| type_name(*t))
                        .collect::<Vec<_>>()
                        .join(",")
                ),
            );
            m.insert("scale".into(), json!(self.scale));
            m.insert("dtype".into(), json!(self.dtype.name()));
        }
        p
    }

    fn apply(&self, sample: Sample) -> Result<Applied> {
        let mut applied = Applied::default();
        let key = sample.key.clone();
        let reject = |applied: &mut Applied, why: String| {
            applied
                .rejected
                .push(crate::Rejection::rule(format!("{key}: {why}")));
        };
        let Some(meta) = sample.member("meta.json") else {
            reject(&mut applied, "no meta.json (not an eeg/1 sample)".into());
            return Ok(applied);
        };
        let rec: Recording = match serde_json::from_slice(&meta.data) {
            Ok(r) => r,
            Err(e) => {
                reject(&mut applied, format!("meta.json is not eeg/1: {e}"));
                return Ok(applied);
            }
        };
        let picked = self.picked(&rec);
        if picked.is_empty() {
            reject(&mut applied, "no MEG channels of the picked types".into());
            return Ok(applied);
        }
        let Some(sig) = sample.member("signal.npy") else {
            reject(&mut applied, "no signal.npy".into());
            return Ok(applied);
        };
        let view = npy::decode(&sig.data)?;
        let c = rec.channels.len();
        if view.dtype != Dtype::F32 || view.shape.len() != 2 || view.shape[0] != c {
            reject(
                &mut applied,
                format!(
                    "signal.npy must be float32 [{c} channels, T], got {:?} {:?}",
                    view.dtype, view.shape
                ),
            );
            return Ok(applied);
        }
        let t = view.shape[1];
        if view.data.len() != c * t * 4 {
            return Err(Error::SignalLength {
                key: key.clone(),
                len: view.data.len(),
                channels: c,
                times: t,
            });
        }
        // The picked rows as an eeg/1 recording of "eeg" channels, for the EEG steps.
        let mut sub = rec.clone();
        sub.channels = picked.iter().map(|&i| rec.channels[i].clone()).collect();
        for ch in &mut sub.channels {
            ch.channel_type = ChannelType::Eeg;
        }
        let mut bytes = Vec::with_capacity(picked.len() * t * 4);
        for &i in &picked {
            bytes.extend_from_slice(&view.data[i * t * 4..(i + 1) * t * 4]);
        }
        let signal = npy::encode_raw(Dtype::F32, &[picked.len(), t], &bytes)?;
        let mut input = Sample::new(key.clone()).with("signal.npy", signal);
        input.subject = sample.subject.clone();
        input.push_json("meta", &sub)?;
        drop(sample);
        let inner = self.inner.apply(input)?;
        applied.rejected.extend(inner.rejected);
        for s in inner.samples {
            applied.samples.push(self.finish(s, &rec, &picked)?);
        }
        Ok(applied)
    }
}

impl MegProfile {
    /// Turns one EEG-step window into an MEG window: `meg.npy` (scaled), `meta.json`
    /// (`meg-window/1`, channel types, units and sensors).
    fn finish(&self, s: Sample, rec: &Recording, picked: &[usize]) -> Result<Sample> {
        let mut out = Sample::new(s.key.clone());
        out.subject = s.subject.clone();
        let mut meta = Value::Null;
        let mut data = None;
        for m in s.members {
            match m.name.as_str() {
                "eeg.npy" => data = Some(m.data),
                "meta.json" => meta = serde_json::from_slice(&m.data).unwrap_or(Value::Null),
                _ => {}
            }
        }
        let Some(data) = data else {
            return Ok(out);
        };
        let data = convert_npy(&data, self.scale, self.dtype)?;
        let chans: Vec<_> = picked.iter().map(|&i| &rec.channels[i]).collect();
        if let Value::Object(m) = &mut meta {
            for k in [
                "channel_mask",
                "missing_policy",
                "reference",
                "montage",
                "percentile_scales",
                "unit",
            ] {
                m.remove(k);
            }
            m.insert("schema".into(), json!("meg-window/1"));
            m.insert("profile".into(), json!("meg"));
            m.insert(
                "channel_types".into(),
                json!(
                    chans
                        .iter()
                        .map(|c| type_name(c.channel_type))
                        .collect::<Vec<_>>()
                ),
            );
            m.insert(
                "units".into(),
                json!(chans.iter().map(|c| c.unit.clone()).collect::<Vec<_>>()),
            );
            m.insert("scale".into(), json!(self.scale));
            m.insert("dtype".into(), json!(self.dtype.name()));
            m.insert(
                "sensors".into(),
                json!(chans.iter().map(|c| c.sensor.clone()).collect::<Vec<_>>()),
            );
            m.insert("params".into(), self.params());
            if let Some(Value::Array(chain)) = m.get_mut("chain")
                && let Some(first) = chain.first_mut()
            {
                *first = json!({"op": "pick", "types": self.params()["picks"]});
            }
        }
        out.push("meg.npy", data);
        out.push_json("meta", &meta)?;
        Ok(out)
    }
}

/// A float32 `.npy` multiplied by `k` and stored as `dtype`.
fn convert_npy(bytes: &[u8], k: f64, dtype: Dtype) -> Result<Vec<u8>> {
    if k == 1.0 && dtype == Dtype::F32 {
        return Ok(bytes.to_vec());
    }
    let v = npy::decode(bytes)?;
    let vals = v
        .data
        .chunks_exact(4)
        .map(|b| f64::from(f32::from_le_bytes([b[0], b[1], b[2], b[3]])) * k);
    Ok(match dtype {
        Dtype::F16 => {
            let bits: Vec<u16> = vals.map(|x| half::f16::from_f64(x).to_bits()).collect();
            npy::encode_f16_bits(&v.shape, &bits)
        }
        _ => npy::encode_f32(&v.shape, &vals.map(|x| x as f32).collect::<Vec<_>>()),
    })
}
