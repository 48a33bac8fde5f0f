//! How a recording is written: which channels, in which order, named, typed, scaled and
//! placed how ([`layout`]), from the file's channels and what the source knows about them
//! ([`ChannelHint`], [`Positions`]).
//!
//! The recording rate is the most common rate among the EEG channels (else among all, the
//! higher on a tie); channels at another rate or length, and channels marked bad, are left out
//! and reported through [`SampleSink::skipped`].

use std::collections::BTreeMap;
use std::path::Path;

use bomdata_schemas::eeg::{self, Channel, ChannelType, Reference};
use bomdata_schemas::{Modality, electrodes};

use super::{detect_reference, infer_type, normalize, position_mm, uv_factor};
use crate::source::SampleSink;
use crate::{Error, Result};

/// What a source knows about one channel beyond the file (BIDS `channels.tsv` and
/// `electrodes.tsv`); every field optional.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ChannelHint {
    /// Channel kind (overrides the file and the label).
    pub channel_type: Option<ChannelType>,
    /// Unit, used when the file states none.
    pub unit: Option<String>,
    /// Position in mm in the caller's frame (NaN components when unknown).
    pub xyz_mm: Option<[f64; 3]>,
    /// Marked bad: left out.
    pub bad: bool,
    /// Left out for another reason (stated in the report).
    pub leave_out: Option<String>,
}

/// Where channel positions come from.
#[derive(Clone, Debug, PartialEq)]
pub enum Positions {
    /// Standard 10-05 template positions looked up by name, for EEG channels
    /// (frame [`electrodes::FRAME`]).
    Standard,
    /// The hints' `xyz_mm` (NaN where a channel has none), in the named frame.
    Given(String),
    /// None: every position NaN.
    Unknown,
}

/// The channel kind a file states (`"eeg"`, `"ecog"`, `"mag"`, ...), when it maps to one.
pub fn kind_type(kind: &str) -> Option<ChannelType> {
    match kind.to_ascii_lowercase().as_str() {
        "eeg" | "ecog" | "seeg" | "dbs" | "ieeg" | "electricalseries" => Some(ChannelType::Eeg),
        "eog" | "heog" | "veog" => Some(ChannelType::Eog),
        "ecg" | "ekg" => Some(ChannelType::Ecg),
        "emg" => Some(ChannelType::Emg),
        "stim" | "trig" | "trigger" => Some(ChannelType::Stim),
        "mag" => Some(ChannelType::Mag),
        "grad" => Some(ChannelType::Grad),
        "ref_meg" => Some(ChannelType::RefMeg),
        "misc" | "resp" | "bio" | "syst" | "gsr" | "temp" | "ppg" | "audio" | "pupil"
        | "eyegaze" => Some(ChannelType::Misc),
        _ => None,
    }
}

/// How a chunk's span is named in provenance and timed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Parts {
    /// `samples FIRST-LAST` (0-based, inclusive); `offset_s` = segment onset + first sample of
    /// the chunk in the segment / rate.
    #[default]
    Samples,
    /// `records FIRST-LAST`: the EDF data records the chunk draws from (samples when the reader
    /// has no records); `offset_s` = the previous chunk's offset + its duration. This is how
    /// the `tueg` and `nsrr` adapters have always written their chunks (the accumulated offset
    /// can differ from the `Samples` one in the last bit); kept so their outputs stay the same.
    Records,
}

/// The channels, rows and factors a recording is written with.
#[derive(Clone, Debug)]
pub struct Layout {
    /// Metadata template (channels, rate, modality, reference, frame); chunk fields are set
    /// when writing.
    pub meta: eeg::Recording,
    /// Reader channel index of each output row.
    pub select: Vec<usize>,
    /// Multiplier of each output row (to µV for biopotentials).
    pub factors: Vec<f64>,
    /// Samples per channel.
    pub n_samples: u64,
    /// Annotations of the whole recording, onsets from its first sample.
    pub annotations: Vec<eeg::Annotation>,
    /// How chunk spans are named in provenance.
    pub parts: Parts,
}

impl Layout {
    /// Records a TUH montage folder name (`01_tcp_ar`) and takes the reference from it (see
    /// [`detect_reference`]).
    pub fn set_montage(&mut self, montage: Option<&str>) {
        let labels: Vec<&str> = self
            .meta
            .channels
            .iter()
            .map(|c| c.original_name.as_str())
            .collect();
        self.meta.reference = detect_reference(&labels, montage);
        self.meta.montage = montage.map(str::to_string);
    }
}

/// What a layout is built from: the file's view, what the source adds, and the modality.
struct Inputs<'a> {
    path: &'a Path,
    rec: &'a bomdata_ephys::Recording,
    modality: Modality,
    hints: &'a [ChannelHint],
    positions_from: &'a Positions,
}

impl Inputs<'_> {
    fn hint(&self, i: usize) -> &ChannelHint {
        static NONE: ChannelHint = ChannelHint {
            channel_type: None,
            unit: None,
            xyz_mm: None,
            bad: false,
            leave_out: None,
        };
        self.hints.get(i).unwrap_or(&NONE)
    }

    /// The type of channel `i`: the source's hint, else the file's kind, else the label's.
    fn type_of(&self, i: usize) -> ChannelType {
        let c = &self.rec.channels[i];
        if let Some(t) = self.hint(i).channel_type {
            return t;
        }
        if let Some(t) = c.kind.as_deref().and_then(kind_type) {
            return t;
        }
        let t = infer_type(&c.name);
        // In an intracranial recording, a voltage channel the label says nothing about is a contact.
        if self.modality == Modality::Ieeg && t == ChannelType::Misc && uv_factor(&c.unit).is_some()
        {
            return ChannelType::Eeg;
        }
        t
    }

    /// The channels not marked bad or left out by the source and with a rate; the others are
    /// reported.
    fn candidates(&self, sink: &mut dyn SampleSink) -> Vec<usize> {
        let mut out = Vec::new();
        for (i, c) in self.rec.channels.iter().enumerate() {
            let why = if self.hint(i).bad {
                "marked bad".to_string()
            } else if let Some(why) = &self.hint(i).leave_out {
                why.clone()
            } else if !(c.sampling_rate.is_finite() && c.sampling_rate > 0.0) {
                "no sampling rate".to_string()
            } else {
                out.push(i);
                continue;
            };
            sink.skipped(self.path, &format!("channel {:?} left out: {why}", c.name));
        }
        out
    }

    /// The rate: most EEG channels, then most channels, then the higher rate.
    fn rate(&self, candidates: &[usize]) -> Result<f64> {
        let mut votes: BTreeMap<u64, (usize, usize)> = BTreeMap::new();
        for &i in candidates {
            let e = votes
                .entry(self.rec.channels[i].sampling_rate.to_bits())
                .or_default();
            e.1 += 1;
            if self.type_of(i) == ChannelType::Eeg {
                e.0 += 1;
            }
        }
        votes
            .iter()
            .max_by(|a, b| {
                (a.1.0, a.1.1)
                    .cmp(&(b.1.0, b.1.1))
                    .then(f64::from_bits(*a.0).total_cmp(&f64::from_bits(*b.0)))
            })
            .map(|(r, _)| f64::from_bits(*r))
            .ok_or_else(|| Error::input(self.path, "no signal channels"))
    }

    /// The canonical channel of file channel `i` and its multiplier.
    fn channel(&self, i: usize) -> (Channel, f64) {
        let c = &self.rec.channels[i];
        let t = self.type_of(i);
        let unit_in = if c.unit.trim().is_empty() {
            self.hint(i).unit.clone().unwrap_or_default()
        } else {
            c.unit.clone()
        };
        let (unit, factor) = match uv_factor(&unit_in) {
            Some(f) if t.is_biopotential() => ("uV".to_string(), f),
            _ => (unit_in, 1.0),
        };
        let scalp = self.modality == Modality::Eeg;
        let name = if scalp {
            normalize(&c.name).name
        } else {
            c.name.trim().to_string()
        };
        let xyz_mm = match self.positions_from {
            Positions::Standard if scalp && t == ChannelType::Eeg => {
                position_mm(&normalize(&c.name))
            }
            Positions::Given(_) => self.hint(i).xyz_mm.unwrap_or([f64::NAN; 3]),
            _ => [f64::NAN; 3],
        };
        let channel = Channel {
            name,
            original_name: c.name.clone(),
            channel_type: t,
            unit,
            xyz_mm,
            sensor: None,
        };
        (channel, factor)
    }
}

/// Builds the layout of a recording: picks the rate, selects channels (reporting those left
/// out to `sink`), names, types, units, factors and positions them. `hints` is empty or one per
/// channel of `rec`.
pub fn layout(
    path: &Path,
    rec: &bomdata_ephys::Recording,
    modality: Modality,
    hints: &[ChannelHint],
    positions_from: &Positions,
    sink: &mut dyn SampleSink,
) -> Result<Layout> {
    let inputs = Inputs {
        path,
        rec,
        modality,
        hints,
        positions_from,
    };
    let candidates = inputs.candidates(sink);
    let rate = inputs.rate(&candidates)?;
    let n_samples = candidates
        .iter()
        .filter(|&&i| rec.channels[i].sampling_rate == rate)
        .map(|&i| rec.channels[i].n_samples)
        .max()
        .unwrap_or(0);
    let mut meta = eeg::Recording::new(rate);
    meta.modality = modality;
    let mut select = Vec::new();
    let mut factors = Vec::new();
    for &i in &candidates {
        let c = &rec.channels[i];
        if c.sampling_rate != rate || c.n_samples != n_samples {
            sink.skipped(
                path,
                &format!(
                    "channel {:?} ({} Hz, {} samples) left out: the recording is {rate} Hz, {n_samples} samples",
                    c.name, c.sampling_rate, c.n_samples
                ),
            );
            continue;
        }
        let (channel, factor) = inputs.channel(i);
        meta.channels.push(channel);
        select.push(i);
        factors.push(factor);
    }
    if select.is_empty() {
        return Err(Error::input(path, "no signal channels left"));
    }
    if meta
        .channels
        .iter()
        .any(|c| c.xyz_mm.iter().any(|v| v.is_finite()))
    {
        meta.coord_frame = match positions_from {
            Positions::Standard => Some(electrodes::FRAME.to_string()),
            Positions::Given(f) => Some(f.clone()),
            Positions::Unknown => None,
        };
    }
    if modality == Modality::Eeg {
        let labels: Vec<&str> = select
            .iter()
            .map(|&i| rec.channels[i].name.as_str())
            .collect();
        meta.reference = detect_reference(&labels, None);
    }
    let annotations = rec
        .annotations
        .iter()
        .map(|a| eeg::Annotation {
            onset_s: a.onset,
            duration_s: a.duration,
            text: a.text.clone(),
        })
        .collect();
    Ok(Layout {
        meta,
        select,
        factors,
        n_samples,
        annotations,
        parts: Parts::Samples,
    })
}

/// The reference named by a BIDS `EEGReference` / `iEEGReference` text: `average`/`CAR` →
/// average, linked ears or mastoids → linked ears, `bipolar` → bipolar, one electrode name →
/// that electrode, else unknown.
///
/// ```
/// use bomdata_ingest::canonical::eeg::parse_reference;
/// use bomdata_schemas::eeg::Reference;
/// assert_eq!(parse_reference("Cz"), Reference::Common("CZ".into()));
/// assert_eq!(parse_reference("average"), Reference::Average);
/// assert_eq!(parse_reference("linked mastoids"), Reference::LinkedEars);
/// assert_eq!(parse_reference("n/a"), Reference::Unknown);
/// assert_eq!(parse_reference("CMS/DRL"), Reference::Unknown);
/// ```
pub fn parse_reference(text: &str) -> Reference {
    let t = text.trim();
    let l = t.to_ascii_lowercase();
    if l.contains("average") || l == "avg" || l == "car" || l.contains("common average") {
        return Reference::Average;
    }
    if l.contains("linked") || l.contains("both ears") || l.contains("both mastoids") {
        return Reference::LinkedEars;
    }
    if l.contains("bipolar") {
        return Reference::Bipolar;
    }
    let n = normalize(t);
    if !t.contains(' ')
        && n.bipolar.is_none()
        && (electrodes::position(&n.name).is_some()
            || matches!(n.name.as_str(), "A1" | "A2" | "M1" | "M2"))
    {
        return Reference::Common(n.name);
    }
    Reference::Unknown
}
