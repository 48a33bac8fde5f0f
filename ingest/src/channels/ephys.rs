//! Any electrophysiology recording → canonical `eeg/1` samples (shared by the `bids_ephys` and
//! `ajile12` adapters).
//!
//! Inputs are read through one view: BrainVision, EEGLAB, FIF and NWB (with the `hdf5` feature)
//! through [`bomdata_ephys::open`], EDF/BDF through a streaming wrapper around `bomdata-edf`
//! ([`open`] picks by extension). The recording rate is the most common rate among the EEG
//! channels (else among all, the higher on a tie); channels at another rate or length, and
//! channels marked bad, are left out and reported through [`SampleSink::skipped`].
//!
//! One sample per chunk of `ctx.chunk_seconds` (the whole recording when 0): `signal.npy`,
//! float32 `[channels, samples]` (EEG/EOG/ECG/EMG in µV when their unit is a voltage, other
//! channels in their physical unit, e.g. `T` for MEG magnetometers), and `meta.json`, an
//! [`eeg::Recording`]. Values are streamed: only one chunk is held. The recording start is
//! written only with `ctx.keep_identity`; no header text is ever copied. EDF+D files with gaps
//! are refused (use the `tueg`/`nsrr` EDF path, which splits at gaps).

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufReader};
use std::path::Path;

use bomdata_edf as edf;
use bomdata_ephys::{ChannelInfo, DateTime, SignalReader};
use bomdata_schemas::eeg::{self, Channel, ChannelType, Reference};
use bomdata_schemas::key::{self, KeyParts};
use bomdata_schemas::subjects::SubjectRow;
use bomdata_schemas::{Modality, Provenance};
use bomdata_shard::{Sample, npy};

use super::{detect_reference, infer_type, normalize, position_mm, positions, uv_factor};
use crate::source::{SampleSink, UnitContext};
use crate::{Error, Result};

/// Name of the signal member of a canonical sample.
pub const SIGNAL_FIELD: &str = "signal.npy";

/// Samples per channel asked from a reader at once (bounds the read buffers).
const BLOCK: usize = 1 << 16;

/// An opened recording: its format-independent view and a streaming reader.
pub struct Opened {
    /// Channels, start, annotations (onsets from the first sample).
    pub recording: bomdata_ephys::Recording,
    /// Physical values per channel, chunk by chunk, in `recording.channels` order.
    pub reader: Box<dyn SignalReader>,
    /// Reader and version for provenance (`bomdata-ephys 0.1.0 (brainvision)`).
    pub reader_name: String,
    /// Signals of the file that the view leaves out, with the reason (EDF signals at a rate
    /// other than the recording's).
    pub left_out: Vec<String>,
}

impl std::fmt::Debug for Opened {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Opened")
            .field("recording", &self.recording)
            .field("reader_name", &self.reader_name)
            .finish_non_exhaustive()
    }
}

fn is_edf(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("edf") || e.eq_ignore_ascii_case("bdf"))
}

/// Opens an EDF/BDF (by extension) or any file `bomdata_ephys::open` reads.
pub fn open(path: &Path) -> Result<Opened> {
    let bad = |e: io::Error| Error::input(path, e);
    if is_edf(path) {
        return open_edf(path).map_err(bad);
    }
    let (recording, reader) = bomdata_ephys::open(path).map_err(bad)?;
    let reader_name = format!(
        "bomdata-ephys {} ({})",
        env!("CARGO_PKG_VERSION"),
        recording.format
    );
    Ok(Opened {
        recording,
        reader,
        reader_name,
        left_out: Vec::new(),
    })
}

/// EDF/BDF data signals of one rate, streamed record by record.
struct EdfSignals {
    reader: edf::io::Reader<BufReader<File>>,
    header: edf::Header,
    kept: Vec<usize>,
    pending: Vec<Vec<f64>>,
    pos: usize,
    record: edf::Record,
}

impl SignalReader for EdfSignals {
    fn read_chunk(&mut self, max_samples: usize, out: &mut Vec<Vec<f64>>) -> io::Result<usize> {
        let n = self.kept.len();
        out.resize_with(n, Vec::new);
        out.iter_mut().for_each(Vec::clear);
        if n == 0 {
            return Ok(0);
        }
        let mut have = 0;
        while have < max_samples {
            let avail = self.pending[0].len();
            if self.pos >= avail {
                if self.reader.read_record(&self.header, &mut self.record)? == 0 {
                    break;
                }
                for (c, &i) in self.kept.iter().enumerate() {
                    self.pending[c].clear();
                    self.record
                        .read_physical(&self.header, i, &mut self.pending[c]);
                }
                self.pos = 0;
                continue;
            }
            let take = (max_samples - have).min(avail - self.pos);
            for (o, p) in out.iter_mut().zip(&self.pending) {
                o.extend_from_slice(&p[self.pos..self.pos + take]);
            }
            self.pos += take;
            have += take;
        }
        Ok(have)
    }
}

fn open_edf(path: &Path) -> io::Result<Opened> {
    let anns = edf::fs::read_annotations(path)?;
    let (reader, header) = edf::fs::open(path)?;
    let len = std::fs::metadata(path)?.len();
    let n_records = header.records_in_file(len)?;
    let dur = header.record_duration;
    let t0 = anns.first_onset();
    for (r, w) in anns.record_onsets.windows(2).enumerate() {
        if (w[1] - w[0] - dur).abs() > 1e-6 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "edf+d record {} starts at {} s, not right after record {r}: recordings with gaps are not supported here",
                    r + 1,
                    w[1] - t0
                ),
            ));
        }
    }
    let data: Vec<usize> = (0..header.signals.len())
        .filter(|&i| !header.signals[i].is_annotation() && header.signals[i].samples_per_record > 0)
        .collect();
    if data.is_empty() || dur <= 0.0 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "no data signals (annotation-only file)",
        ));
    }
    let mut votes: BTreeMap<usize, (usize, usize)> = BTreeMap::new();
    for &i in &data {
        let s = &header.signals[i];
        let e = votes.entry(s.samples_per_record).or_default();
        e.1 += 1;
        if infer_type(&s.label) == ChannelType::Eeg {
            e.0 += 1;
        }
    }
    let spr = votes
        .iter()
        .max_by_key(|(spr, v)| (v.0, v.1, **spr))
        .map(|(spr, _)| *spr)
        .unwrap_or(0);
    let rate = spr as f64 / dur;
    let (kept, other): (Vec<usize>, Vec<usize>) = data
        .into_iter()
        .partition(|&i| header.signals[i].samples_per_record == spr);
    let left_out = other
        .iter()
        .map(|&i| {
            let s = &header.signals[i];
            format!(
                "signal {:?} at {} Hz left out: the recording's rate is {rate} Hz",
                s.label,
                s.samples_per_record as f64 / dur
            )
        })
        .collect();
    let channels = kept
        .iter()
        .map(|&i| {
            let s = &header.signals[i];
            ChannelInfo {
                name: s.label.clone(),
                unit: s.physical_dimension.clone(),
                sampling_rate: rate,
                n_samples: n_records.saturating_mul(spr as u64),
                kind: None,
                position: None,
                offset_s: 0.0,
            }
        })
        .collect();
    let s = header.start;
    let start = DateTime {
        year: s.year,
        month: u32::from(s.month),
        day: u32::from(s.day),
        hour: u32::from(s.hour),
        minute: u32::from(s.minute),
        second: u32::from(s.second),
        microsecond: 0,
        utc_offset_s: None,
    }
    .add_seconds(t0);
    let annotations = anns
        .annotations
        .iter()
        .map(|a| bomdata_ephys::Annotation {
            onset: a.onset - t0,
            duration: a.duration,
            text: a.text.clone(),
        })
        .collect();
    let format = match header.variant {
        edf::header::Variant::Edf => "edf",
        edf::header::Variant::Bdf => "bdf",
    };
    let n = kept.len();
    Ok(Opened {
        recording: bomdata_ephys::Recording {
            format,
            channels,
            start: Some(start),
            annotations,
            epochs: None,
        },
        reader: Box::new(EdfSignals {
            reader,
            header,
            kept,
            pending: vec![Vec::new(); n],
            pos: 0,
            record: edf::Record::default(),
        }),
        reader_name: format!("bomdata-edf {}", env!("CARGO_PKG_VERSION")),
        left_out,
    })
}

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
    /// (frame [`positions::FRAME`]).
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
        "misc" | "mag" | "grad" | "ref_meg" | "resp" | "bio" | "syst" | "gsr" | "temp" | "ppg"
        | "audio" | "pupil" | "eyegaze" => Some(ChannelType::Misc),
        _ => None,
    }
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
    let none = ChannelHint::default();
    let hint = |i: usize| hints.get(i).unwrap_or(&none);
    let type_of = |i: usize| -> ChannelType {
        let c = &rec.channels[i];
        if let Some(t) = hint(i).channel_type {
            return t;
        }
        if let Some(t) = c.kind.as_deref().and_then(kind_type) {
            return t;
        }
        let t = infer_type(&c.name);
        // In an intracranial recording, a voltage channel the label says nothing about is a contact.
        if modality == Modality::Ieeg && t == ChannelType::Misc && uv_factor(&c.unit).is_some() {
            return ChannelType::Eeg;
        }
        t
    };
    let mut candidates = Vec::new();
    for (i, c) in rec.channels.iter().enumerate() {
        if hint(i).bad {
            sink.skipped(path, &format!("channel {:?} left out: marked bad", c.name));
        } else if let Some(why) = &hint(i).leave_out {
            sink.skipped(path, &format!("channel {:?} left out: {why}", c.name));
        } else if !(c.sampling_rate.is_finite() && c.sampling_rate > 0.0) {
            sink.skipped(
                path,
                &format!("channel {:?} left out: no sampling rate", c.name),
            );
        } else {
            candidates.push(i);
        }
    }
    // The rate: most EEG channels, then most channels, then the higher rate.
    let mut votes: BTreeMap<u64, (usize, usize)> = BTreeMap::new();
    for &i in &candidates {
        let e = votes
            .entry(rec.channels[i].sampling_rate.to_bits())
            .or_default();
        e.1 += 1;
        if type_of(i) == ChannelType::Eeg {
            e.0 += 1;
        }
    }
    let rate = votes
        .iter()
        .max_by(|a, b| {
            (a.1.0, a.1.1)
                .cmp(&(b.1.0, b.1.1))
                .then(f64::from_bits(*a.0).total_cmp(&f64::from_bits(*b.0)))
        })
        .map(|(r, _)| f64::from_bits(*r))
        .ok_or_else(|| Error::input(path, "no signal channels"))?;
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
        let t = type_of(i);
        let unit_in = if c.unit.trim().is_empty() {
            hint(i).unit.clone().unwrap_or_default()
        } else {
            c.unit.clone()
        };
        let (unit, factor) = match uv_factor(&unit_in) {
            Some(f) if t.is_biopotential() => ("uV".to_string(), f),
            _ => (unit_in, 1.0),
        };
        let scalp = modality == Modality::Eeg;
        let name = if scalp {
            normalize(&c.name).name
        } else {
            c.name.trim().to_string()
        };
        let xyz_mm = match positions_from {
            Positions::Standard if scalp && t == ChannelType::Eeg => {
                position_mm(&normalize(&c.name))
            }
            Positions::Given(_) => hint(i).xyz_mm.unwrap_or([f64::NAN; 3]),
            _ => [f64::NAN; 3],
        };
        meta.channels.push(Channel {
            name,
            original_name: c.name.clone(),
            channel_type: t,
            unit,
            xyz_mm,
        });
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
            Positions::Standard => Some(positions::FRAME.to_string()),
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
    })
}

/// Who a recording belongs to and how its samples are keyed.
#[derive(Clone, Debug)]
pub struct EphysTarget<'a> {
    /// Path relative to the source root (provenance).
    pub rel: &'a Path,
    /// Original subject ID (pseudonymised before use).
    pub subject: &'a str,
    /// Session label.
    pub session: Option<&'a str>,
    /// Run label that separates recordings of one session in the key (task, acquisition, run).
    pub run: Option<&'a str>,
}

/// Writes a laid-out recording as canonical chunks; returns the number of samples written.
pub fn write_chunks(
    path: &Path,
    opened: Opened,
    layout: Layout,
    target: &EphysTarget<'_>,
    ctx: &UnitContext<'_>,
    sink: &mut dyn SampleSink,
) -> Result<u64> {
    let Opened {
        recording,
        mut reader,
        reader_name,
        ..
    } = opened;
    let Layout {
        mut meta,
        select,
        factors,
        n_samples,
        mut annotations,
    } = layout;
    let rate = meta.sampling_rate;
    let n_ch = select.len();
    if n_ch == 0 || factors.len() != n_ch || rate.is_nan() || rate <= 0.0 {
        return Err(Error::input(path, "empty channel layout"));
    }
    let cap = if ctx.chunk_seconds > 0.0 {
        ((ctx.chunk_seconds * rate).round() as u64).max(1)
    } else {
        n_samples.max(1)
    };
    let cap = usize::try_from(cap)
        .ok()
        .filter(|c| c.checked_mul(n_ch).is_some())
        .ok_or_else(|| Error::input(path, format!("chunk of {cap} samples is too large")))?;
    let count = n_samples.div_ceil(cap as u64);
    meta.chunk.count = u32::try_from(count).unwrap_or(u32::MAX);
    if ctx.keep_identity {
        meta.start = recording.start.map(|d| d.to_iso());
    }
    let pseudo = ctx.pseudonym(target.subject);
    let file = ctx.scrub_path(
        &target.rel.to_string_lossy().replace('\\', "/"),
        target.subject,
    );
    meta.provenance = Some(Provenance {
        source: ctx.source.to_string(),
        file,
        part: None,
        reader: reader_name,
    });
    annotations.sort_by(|a, b| a.onset_s.total_cmp(&b.onset_s));

    let mut buf = vec![
        0f32;
        n_ch * cap
            .min(usize::try_from(n_samples).unwrap_or(usize::MAX))
            .max(1)
    ];
    let row = buf.len() / n_ch;
    let mut raw: Vec<Vec<f64>> = Vec::new();
    let mut total = 0u64;
    let mut index = 0u32;
    let mut filled = 0usize;
    while total < n_samples {
        let want = (row - filled)
            .min(BLOCK)
            .min(usize::try_from(n_samples - total).unwrap_or(usize::MAX));
        reader
            .read_chunk(want, &mut raw)
            .map_err(|e| Error::input(path, e))?;
        let k = select
            .iter()
            .map(|&i| raw.get(i).map_or(0, Vec::len))
            .max()
            .unwrap_or(0)
            .min(want);
        if k == 0 {
            return Err(Error::input(
                path,
                format!("recording ended after {total} of {n_samples} samples"),
            ));
        }
        for (r, (&i, &f)) in select.iter().zip(&factors).enumerate() {
            let dst = &mut buf[r * row + filled..r * row + filled + k];
            let src = raw.get(i).map_or(&[][..], |v| &v[..v.len().min(k)]);
            for (d, s) in dst
                .iter_mut()
                .zip(src.iter().chain(std::iter::repeat(&f64::NAN)))
            {
                *d = (s * f) as f32;
            }
        }
        filled += k;
        total += k as u64;
        if filled == row || total == n_samples {
            let start = total - filled as u64;
            let data: Vec<f32> = if filled == row {
                std::mem::replace(&mut buf, vec![0f32; n_ch * row])
            } else {
                (0..n_ch)
                    .flat_map(|r| buf[r * row..r * row + filled].iter().copied())
                    .collect()
            };
            let mut m = meta.clone();
            let (t0, dur) = (start as f64 / rate, filled as f64 / rate);
            m.n_samples = filled as u64;
            m.chunk.index = index;
            m.chunk.offset_s = t0;
            m.chunk.duration_s = dur;
            m.annotations = annotations
                .iter()
                .filter(|a| {
                    let d = a.duration_s.unwrap_or(0.0);
                    a.onset_s < t0 + dur && (a.onset_s >= t0 || a.onset_s + d > t0)
                })
                .map(|a| eeg::Annotation {
                    onset_s: a.onset_s - t0,
                    duration_s: a.duration_s,
                    text: a.text.clone(),
                })
                .collect();
            if let Some(p) = m.provenance.as_mut() {
                p.part = Some(format!("samples {start}-{}", total - 1));
            }
            let sample_key = key::make(&KeyParts {
                source: ctx.source,
                subject: &pseudo,
                session: target.session,
                run: target.run,
                modality: Some(m.modality),
                index: Some(u64::from(index)),
            });
            let mut sample = Sample::new(sample_key).with_subject(pseudo.clone());
            sample.push(SIGNAL_FIELD, npy::encode_f32(&[n_ch, filled], &data));
            sample.push_json("meta", &m)?;
            sink.write_sample(sample)?;
            index += 1;
            filled = 0;
        }
    }
    let written = u64::from(index);
    sink.subject(SubjectRow {
        subject: pseudo,
        source: ctx.source.to_string(),
        session: target.session.unwrap_or_default().to_string(),
        modalities: vec![meta.modality],
        n_samples: written,
        split: String::new(),
    })?;
    Ok(written)
}

/// Opens, lays out (no hints) and writes a recording: EEG channels get standard positions for
/// `Modality::Eeg`, none otherwise. Returns the number of samples written.
pub fn convert_ephys(
    path: &Path,
    modality: Modality,
    target: &EphysTarget<'_>,
    ctx: &UnitContext<'_>,
    sink: &mut dyn SampleSink,
) -> Result<u64> {
    let opened = open(path)?;
    for note in &opened.left_out {
        sink.skipped(path, note);
    }
    let pos = if modality == Modality::Eeg {
        Positions::Standard
    } else {
        Positions::Unknown
    };
    let l = layout(path, &opened.recording, modality, &[], &pos, sink)?;
    write_chunks(path, opened, l, target, ctx, sink)
}

/// The reference named by a BIDS `EEGReference` / `iEEGReference` text: `average`/`CAR` →
/// average, linked ears or mastoids → linked ears, `bipolar` → bipolar, one electrode name →
/// that electrode, else unknown.
///
/// ```
/// use bomdata_ingest::channels::ephys::parse_reference;
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
        && (positions::position(&n.name).is_some()
            || matches!(n.name.as_str(), "A1" | "A2" | "M1" | "M2"))
    {
        return Reference::Common(n.name);
    }
    Reference::Unknown
}
