//! EDF/BDF file → canonical `eeg/1` samples (shared by the `tueg` and `nsrr` adapters).
//!
//! One sample per chunk of `ctx.chunk_seconds` (the whole recording when 0): `signal.npy`,
//! float32 `[channels, samples]` (biopotentials in µV, other channels in their physical unit),
//! and `meta.json`, an [`eeg::Recording`]. The file is streamed record by record; only one
//! chunk is held. Channels at a rate other than the recording's (the most common rate among the
//! EEG channels) are left out and reported through [`SampleSink::skipped`]. EDF+D gaps end a
//! chunk, so a chunk never spans a gap and its `offset_s` is exact. Identity header fields
//! (patient, recording, start date) are written only with `ctx.keep_identity`.

use std::collections::BTreeMap;
use std::path::Path;

use bomdata_edf as edf;
use bomdata_schemas::eeg::{self, ChannelType};
use bomdata_schemas::key::{self, KeyParts};
use bomdata_schemas::subjects::SubjectRow;
use bomdata_schemas::{Modality, Provenance};
use bomdata_shard::{Sample, npy};

use super::{channel, detect_reference, positions, uv_factor};
use crate::source::{SampleSink, UnitContext};
use crate::{Error, Result};

/// Name of the signal member of a canonical EEG sample.
pub const SIGNAL_FIELD: &str = "signal.npy";

/// What an adapter knows about an EDF file besides its bytes.
#[derive(Clone, Debug)]
pub struct EdfTarget<'a> {
    /// Path relative to the source root (provenance).
    pub rel: &'a Path,
    /// Original subject ID (pseudonymised before use).
    pub subject: &'a str,
    /// Session label.
    pub session: Option<&'a str>,
    /// Run / token label.
    pub run: Option<&'a str>,
    /// Montage folder name (TUH `01_tcp_ar`), used for the reference.
    pub montage: Option<&'a str>,
    /// Power-line frequency when the source knows it.
    pub power_line_hz: Option<f64>,
    /// Annotations from a sidecar (NSRR XML): seconds from the recording start.
    pub extra_annotations: Vec<eeg::Annotation>,
}

struct Chunker<'a> {
    ctx: &'a UnitContext<'a>,
    target: &'a EdfTarget<'a>,
    meta: eeg::Recording,
    n_ch: usize,
    cap: usize,
    buf: Vec<f32>,
    filled: usize,
    offset_s: f64,
    index: u32,
    first_record: u64,
    annotations: Vec<eeg::Annotation>,
    pseudo: String,
}

impl Chunker<'_> {
    fn flush(&mut self, sink: &mut dyn SampleSink, last_record: u64) -> Result<()> {
        if self.filled == 0 {
            return Ok(());
        }
        let n = self.filled;
        let data: Vec<f32> = if n == self.cap {
            std::mem::take(&mut self.buf)
        } else {
            let mut v = Vec::with_capacity(self.n_ch * n);
            for c in 0..self.n_ch {
                v.extend_from_slice(&self.buf[c * self.cap..c * self.cap + n]);
            }
            v
        };
        let rate = self.meta.sampling_rate;
        let dur = n as f64 / rate;
        let (start, end) = (self.offset_s, self.offset_s + dur);
        let mut meta = self.meta.clone();
        meta.n_samples = n as u64;
        meta.chunk.index = self.index;
        meta.chunk.offset_s = start;
        meta.chunk.duration_s = dur;
        meta.annotations = self
            .annotations
            .iter()
            .filter(|a| {
                let d = a.duration_s.unwrap_or(0.0);
                a.onset_s < end && (a.onset_s >= start || a.onset_s + d > start)
            })
            .map(|a| eeg::Annotation {
                onset_s: a.onset_s - start,
                duration_s: a.duration_s,
                text: a.text.clone(),
            })
            .collect();
        if let Some(p) = meta.provenance.as_mut() {
            p.part = Some(format!("records {}-{}", self.first_record, last_record));
        }
        let k = key::make(&KeyParts {
            source: self.ctx.source,
            subject: &self.pseudo,
            session: self.target.session,
            run: self.target.run,
            modality: Some(meta.modality),
            index: Some(u64::from(self.index)),
        });
        let mut sample = Sample::new(k).with_subject(self.pseudo.clone());
        sample.push(SIGNAL_FIELD, npy::encode_f32(&[self.n_ch, n], &data));
        sample.push_json("meta", &meta)?;
        sink.write_sample(sample)?;
        self.index += 1;
        self.offset_s = end;
        self.filled = 0;
        self.first_record = last_record + 1;
        if self.buf.len() != self.n_ch * self.cap {
            self.buf = vec![0.0; self.n_ch * self.cap];
        }
        Ok(())
    }
}

/// Converts one EDF/BDF file into canonical chunks; returns the number of samples written.
pub fn convert_edf(
    path: &Path,
    target: &EdfTarget<'_>,
    ctx: &UnitContext<'_>,
    sink: &mut dyn SampleSink,
) -> Result<u64> {
    let bad = |e: std::io::Error| Error::input(path, e);
    let anns = edf::fs::read_annotations(path).map_err(bad)?;
    let (mut reader, header) = edf::fs::open(path).map_err(bad)?;
    let t0 = anns.first_onset();
    let dur = header.record_duration;

    let data: Vec<usize> = (0..header.signals.len())
        .filter(|&i| !header.signals[i].is_annotation() && header.signals[i].samples_per_record > 0)
        .collect();
    if data.is_empty() || dur <= 0.0 {
        return Err(Error::input(path, "no data signals (annotation-only file)"));
    }
    // The recording rate: the most common samples-per-record among EEG channels (else among
    // all), the higher one on a tie.
    let mut votes: BTreeMap<usize, (usize, usize)> = BTreeMap::new();
    for &i in &data {
        let s = &header.signals[i];
        let e = votes.entry(s.samples_per_record).or_default();
        e.1 += 1;
        if super::infer_type(&s.label) == ChannelType::Eeg {
            e.0 += 1;
        }
    }
    let spr = votes
        .iter()
        .max_by_key(|(spr, v)| (v.0, v.1, **spr))
        .map(|(spr, _)| *spr)
        .unwrap_or(0);
    let rate = spr as f64 / dur;
    let mut kept = Vec::new();
    for &i in &data {
        let s = &header.signals[i];
        if s.samples_per_record == spr {
            kept.push(i);
        } else {
            sink.skipped(
                path,
                &format!(
                    "signal {:?} at {} Hz left out: the recording's rate is {rate} Hz",
                    s.label,
                    s.samples_per_record as f64 / dur
                ),
            );
        }
    }
    let labels: Vec<&str> = kept
        .iter()
        .map(|&i| header.signals[i].label.as_str())
        .collect();
    let mut meta = eeg::Recording::new(rate);
    meta.channels = kept
        .iter()
        .map(|&i| {
            channel(
                &header.signals[i].label,
                &header.signals[i].physical_dimension,
            )
        })
        .collect();
    let factors: Vec<f64> = kept
        .iter()
        .zip(&meta.channels)
        .map(|(&i, c)| {
            if c.channel_type.is_biopotential() {
                uv_factor(&header.signals[i].physical_dimension).unwrap_or(1.0)
            } else {
                1.0
            }
        })
        .collect();
    meta.reference = detect_reference(&labels, target.montage);
    meta.montage = target.montage.map(str::to_string);
    meta.power_line_hz = target.power_line_hz;
    if meta.channels.iter().any(|c| c.xyz_mm[0].is_finite()) {
        meta.coord_frame = Some(positions::FRAME.to_string());
    }
    if ctx.keep_identity {
        meta.start = Some(header.start.iso_with_offset(t0));
    }
    let pseudo = ctx.pseudonym(target.subject);
    meta.provenance = Some(Provenance {
        source: ctx.source.to_string(),
        // File names often carry the subject ID (TUH `aaaaamye_s001_t000.edf`).
        file: ctx.scrub_path(
            &target.rel.to_string_lossy().replace('\\', "/"),
            target.subject,
        ),
        part: None,
        reader: format!("bomdata-edf {}", env!("CARGO_PKG_VERSION")),
    });
    let mut all_ann: Vec<eeg::Annotation> = anns
        .annotations
        .iter()
        .map(|a| eeg::Annotation {
            onset_s: a.onset - t0,
            duration_s: a.duration,
            text: a.text.clone(),
        })
        .collect();
    all_ann.extend(target.extra_annotations.iter().cloned());
    all_ann.sort_by(|a, b| a.onset_s.total_cmp(&b.onset_s));

    // Chunk plan: records back to back (or per the EDF+D onsets); a gap starts a new chunk.
    let n_records = reader_records(&header, path)?;
    let cap = if ctx.chunk_seconds > 0.0 {
        ((ctx.chunk_seconds * rate).round() as usize).max(1)
    } else {
        (n_records as usize).saturating_mul(spr).max(1)
    };
    let onset_of = |r: u64| -> f64 {
        anns.record_onsets
            .get(r as usize)
            .map_or(r as f64 * dur, |o| o - t0)
    };
    let mut count = 0u64;
    let mut seg_samples = 0u64;
    for r in 0..n_records {
        if r > 0 && (onset_of(r) - (onset_of(r - 1) + dur)).abs() > 0.5 / rate {
            count += seg_samples.div_ceil(cap as u64);
            seg_samples = 0;
        }
        seg_samples += spr as u64;
    }
    count += seg_samples.div_ceil(cap as u64);
    meta.chunk.count = u32::try_from(count).unwrap_or(u32::MAX);

    let n_ch = kept.len();
    let mut ch = Chunker {
        ctx,
        target,
        meta,
        n_ch,
        cap,
        buf: vec![0.0; n_ch * cap],
        filled: 0,
        offset_s: 0.0,
        index: 0,
        first_record: 0,
        annotations: all_ann,
        pseudo: pseudo.clone(),
    };
    let mut rec = edf::Record::default();
    let mut tmp = vec![0f32; n_ch * spr];
    let mut r = 0u64;
    while reader.read_record(&header, &mut rec).map_err(bad)? != 0 {
        let onset = onset_of(r);
        if r > 0 && (onset - (onset_of(r - 1) + dur)).abs() > 0.5 / rate {
            ch.flush(sink, r - 1)?;
            ch.offset_s = onset;
            ch.first_record = r;
        }
        if r == 0 {
            ch.offset_s = onset;
        }
        if ch.cap - ch.filled >= spr {
            // The whole record fits the chunk: decoded straight into it.
            for (c, (&i, &f)) in kept.iter().zip(&factors).enumerate() {
                let at = c * ch.cap + ch.filled;
                rec.decode_f32(&header, i, f, &mut ch.buf[at..at + spr]);
            }
            ch.filled += spr;
            if ch.filled == ch.cap {
                ch.flush(sink, r)?;
            }
            r += 1;
            continue;
        }
        for (c, (&i, &f)) in kept.iter().zip(&factors).enumerate() {
            rec.decode_f32(&header, i, f, &mut tmp[c * spr..(c + 1) * spr]);
        }
        let mut done = 0;
        while done < spr {
            let take = (spr - done).min(cap - ch.filled);
            for c in 0..n_ch {
                let dst = c * cap + ch.filled;
                let src = c * spr + done;
                ch.buf[dst..dst + take].copy_from_slice(&tmp[src..src + take]);
            }
            ch.filled += take;
            done += take;
            if ch.filled == cap {
                ch.flush(sink, r)?;
                if done < spr {
                    // The rest of this record starts the next chunk.
                    ch.first_record = r;
                }
            }
        }
        r += 1;
    }
    ch.flush(sink, r.saturating_sub(1))?;
    let written = u64::from(ch.index);
    sink.subject(SubjectRow {
        subject: pseudo,
        source: ctx.source.to_string(),
        session: target.session.unwrap_or_default().to_string(),
        modalities: vec![Modality::Eeg],
        n_samples: written,
        split: String::new(),
    })?;
    Ok(written)
}

fn reader_records(header: &edf::Header, path: &Path) -> Result<u64> {
    let len = std::fs::metadata(path)
        .map_err(|e| Error::io(path, e))?
        .len();
    header
        .records_in_file(len)
        .map_err(|e| Error::input(path, e))
}
