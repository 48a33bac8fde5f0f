//! A laid-out recording → canonical `eeg/1` chunks.
//!
//! One sample per chunk of `ctx.chunk_seconds` (the whole recording when 0): `signal.npy`,
//! float32 `[channels, samples]`, and `meta.json`, an [`eeg::Recording`]. Values are streamed
//! through [`SignalReader::read_scaled`] straight into the data of the chunk's `signal.npy`
//! bytes (a buffer from `bomdata_shard::buffers`, given back when the sample is written or a
//! profile is done with it); only one chunk is held. A gap between the reader's segments
//! (EDF+D) ends a chunk, so a chunk never spans a gap and its `offset_s` is exact.
//!
//! When the sink's consumer reads a fixed subset of the channels (an `ingest --profile` EEG
//! profile: [`SampleSink::eeg_input_channels`]), only those are decoded and listed: the
//! profile's input is then exactly what it reads, and its output the same bytes.

use std::path::Path;

use bomdata_ephys::{ScaledBlock, Segment};
use bomdata_schemas::Provenance;
use bomdata_schemas::eeg;
use bomdata_schemas::key::{self, KeyParts};
use bomdata_schemas::subjects::SubjectRow;
use bomdata_shard::{Sample, npy};

use super::{Layout, Opened, Parts, SIGNAL_FIELD};
use crate::canonical::Target;
use crate::source::{SampleSink, UnitContext};
use crate::{Error, Result};

/// The chunk being filled and what every chunk of the recording shares.
struct Chunker<'a> {
    ctx: &'a UnitContext<'a>,
    target: &'a Target<'a>,
    /// Metadata template: channels, rate, chunk count, provenance without `part`.
    meta: eeg::Recording,
    annotations: Vec<eeg::Annotation>,
    pseudo: String,
    parts: Parts,
    /// Samples per stored block, for [`Parts::Records`].
    block_len: Option<u64>,
    n_ch: usize,
    /// Values per row of the chunk (the most samples one chunk holds).
    row: usize,
    /// The chunk's `signal.npy` bytes: the header of a full `[n_ch, row]` chunk, then its
    /// rows; empty between a flush and the next read.
    buf: Vec<u8>,
    /// Where the rows start in `buf`.
    data_at: usize,
    /// The rows, when `buf`'s data cannot be written as `f32`s in place (unaligned or
    /// big-endian); copied into `buf` at the flush. Empty otherwise.
    fallback: Vec<f32>,
    filled: usize,
    index: u32,
    /// The previous chunk's offset plus its duration (see [`Parts::Records`]).
    next_offset_s: f64,
}

impl Chunker<'_> {
    /// The provenance `part` of samples `start..end` of the stream.
    fn part(&self, start: u64, end: u64) -> String {
        match (self.parts, self.block_len) {
            (Parts::Records, Some(n)) if n > 0 => {
                format!("records {}-{}", start / n, (end - 1) / n)
            }
            _ => format!("samples {start}-{}", end - 1),
        }
    }

    /// The annotations that overlap `[t0, t0 + dur)`, timed from `t0`.
    fn annotations_in(&self, t0: f64, dur: f64) -> Vec<eeg::Annotation> {
        self.annotations
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
            .collect()
    }

    /// The rows the reader fills (`n_ch × row` values): the data of the chunk's `.npy`
    /// buffer, taken from the buffer pool on the first read of a chunk.
    fn rows(&mut self) -> &mut [f32] {
        let (n_ch, row) = (self.n_ch, self.row);
        if self.buf.is_empty() {
            let head = npy::header(npy::Dtype::F32, &[n_ch, row]);
            self.data_at = head.len();
            // Every byte is overwritten: the header here, the rows by the reads (a partial
            // chunk is cut to its filled columns at the flush).
            self.buf = bomdata_shard::buffers::take(head.len() + n_ch * row * 4);
            self.buf[..head.len()].copy_from_slice(&head);
            if npy::f32_data_mut(&mut self.buf[self.data_at..]).is_none()
                && self.fallback.is_empty()
            {
                self.fallback = vec![0f32; n_ch * row];
            }
        }
        if !self.fallback.is_empty() {
            return &mut self.fallback;
        }
        npy::f32_data_mut(&mut self.buf[self.data_at..]).unwrap_or_default()
    }

    /// The `signal.npy` of the filled part of the chunk (`[n_ch, filled]`), made in place in
    /// the chunk's buffer: a partial chunk's rows are moved down to their final places (the
    /// header of the shorter shape is never longer than the full one's).
    fn take_signal(&mut self) -> Vec<u8> {
        let (n_ch, row, filled) = (self.n_ch, self.row, self.filled);
        let mut b = std::mem::take(&mut self.buf);
        let old_at = self.data_at;
        let head = (filled != row).then(|| npy::header(npy::Dtype::F32, &[n_ch, filled]));
        let new_at = head.as_ref().map_or(old_at, Vec::len);
        if self.fallback.is_empty() {
            for r in 0..n_ch {
                let (src, dst) = (old_at + r * row * 4, new_at + r * filled * 4);
                if src != dst {
                    b.copy_within(src..src + filled * 4, dst);
                }
            }
        } else {
            for r in 0..n_ch {
                let dst = &mut b[new_at + r * filled * 4..new_at + (r + 1) * filled * 4];
                for (o, v) in dst
                    .chunks_exact_mut(4)
                    .zip(&self.fallback[r * row..r * row + filled])
                {
                    o.copy_from_slice(&v.to_le_bytes());
                }
            }
        }
        b.truncate(new_at + n_ch * filled * 4);
        if let Some(h) = head {
            b[..new_at].copy_from_slice(&h);
        }
        b
    }

    /// Writes the filled part of the chunk: its first sample is sample `start` of the stream,
    /// `offset_s` seconds from the recording start.
    fn flush(&mut self, sink: &mut dyn SampleSink, start: u64, offset_s: f64) -> Result<()> {
        let filled = self.filled;
        if filled == 0 {
            return Ok(());
        }
        let signal = self.take_signal();
        let mut m = self.meta.clone();
        let dur = filled as f64 / m.sampling_rate;
        m.n_samples = filled as u64;
        m.chunk.index = self.index;
        m.chunk.offset_s = offset_s;
        m.chunk.duration_s = dur;
        m.annotations = self.annotations_in(offset_s, dur);
        if !self.ctx.keep_free_text {
            m.free_text_dropped =
                crate::privacy::scrub_annotations(&mut m.annotations, self.ctx.allow_terms);
        }
        let part = self.part(start, start + filled as u64);
        if let Some(p) = m.provenance.as_mut() {
            p.part = Some(part);
        }
        let sample_key = key::make(&KeyParts {
            source: self.ctx.source,
            subject: &self.pseudo,
            session: self.target.session,
            run: self.target.run,
            modality: Some(m.modality),
            index: Some(u64::from(self.index)),
        });
        let mut sample = Sample::new(sample_key).with_subject(self.pseudo.clone());
        sample.push(SIGNAL_FIELD, signal);
        sample.push_json("meta", &m)?;
        sink.write_sample(sample)?;
        self.index += 1;
        self.filled = 0;
        self.next_offset_s = offset_s + dur;
        Ok(())
    }
}

/// The reader's segments, or one segment of the whole recording when it reports none.
fn segments_of(reported: Vec<Segment>, n_samples: u64) -> Vec<Segment> {
    if reported.is_empty() {
        vec![Segment {
            first_sample: 0,
            n_samples,
            onset_s: 0.0,
        }]
    } else {
        reported
    }
}

/// Samples per chunk: `ctx.chunk_seconds` worth, or the whole recording when 0.
fn chunk_len(
    path: &Path,
    ctx: &UnitContext<'_>,
    rate: f64,
    n_samples: u64,
    n_ch: usize,
) -> Result<usize> {
    let cap = if ctx.chunk_seconds > 0.0 {
        ((ctx.chunk_seconds * rate).round() as u64).max(1)
    } else {
        n_samples.max(1)
    };
    usize::try_from(cap)
        .ok()
        .filter(|c| c.checked_mul(n_ch).is_some())
        .ok_or_else(|| Error::input(path, format!("chunk of {cap} samples is too large")))
}

/// The metadata template of every chunk: chunk count, start (with `ctx.keep_identity`) and
/// provenance.
fn meta_template(
    opened: &Opened,
    mut meta: eeg::Recording,
    count: u64,
    target: &Target<'_>,
    ctx: &UnitContext<'_>,
) -> eeg::Recording {
    meta.chunk.count = u32::try_from(count).unwrap_or(u32::MAX);
    if ctx.keep_identity {
        meta.start = opened.recording.start.map(|d| d.to_iso());
    }
    meta.provenance = Some(Provenance {
        source: ctx.source.to_string(),
        // File names often carry the subject ID (TUH `aaaaamye_s001_t000.edf`).
        file: ctx.scrub_path(&target.file, target.subject),
        part: None,
        reader: opened.reader_name.clone(),
    });
    meta
}

/// Reduces the layout to channels `keep` (ascending indexes into `meta.channels`); left as
/// is when `keep` does not fit the layout (empty, out of range, not ascending).
fn keep_channels(
    meta: &mut eeg::Recording,
    select: &mut Vec<usize>,
    factors: &mut Vec<f64>,
    keep: &[usize],
) {
    let n = meta.channels.len();
    let fits = !keep.is_empty()
        && select.len() == n
        && factors.len() == n
        && keep.windows(2).all(|w| w[0] < w[1])
        && keep.last().is_some_and(|&k| k < n);
    if !fits {
        return;
    }
    meta.channels = keep.iter().map(|&k| meta.channels[k].clone()).collect();
    *select = keep.iter().map(|&k| select[k]).collect();
    *factors = keep.iter().map(|&k| factors[k]).collect();
}

/// Writes a laid-out recording as canonical chunks; returns the number of samples written.
pub fn write_chunks(
    path: &Path,
    mut opened: Opened,
    mut layout: Layout,
    target: &Target<'_>,
    ctx: &UnitContext<'_>,
    sink: &mut dyn SampleSink,
) -> Result<u64> {
    if !opened.sensors.is_empty() {
        super::attach_sensors(&mut layout, &opened.sensors);
    }
    let Layout {
        mut meta,
        mut select,
        mut factors,
        n_samples,
        mut annotations,
        parts,
    } = layout;
    if let Some(keep) = sink.eeg_input_channels(&meta.channels) {
        keep_channels(&mut meta, &mut select, &mut factors, &keep);
    }
    let rate = meta.sampling_rate;
    let n_ch = select.len();
    if n_ch == 0 || factors.len() != n_ch || rate.is_nan() || rate <= 0.0 {
        return Err(Error::input(path, "empty channel layout"));
    }
    let cap = chunk_len(path, ctx, rate, n_samples, n_ch)?;
    let segments = segments_of(opened.reader.segments(), n_samples);
    let count = segments
        .iter()
        .map(|s| s.n_samples.div_ceil(cap as u64))
        .sum();
    let meta = meta_template(&opened, meta, count, target, ctx);
    annotations.sort_by(|a, b| a.onset_s.total_cmp(&b.onset_s));
    let row = cap
        .min(usize::try_from(n_samples).unwrap_or(usize::MAX))
        .max(1);
    // The chunk buffer and the sample encoded from it.
    let need = (n_ch as u64).saturating_mul(row as u64).saturating_mul(8);
    bomdata_format_core::budget::check(
        need,
        &format!("a chunk of {n_ch} channels × {row} samples"),
    )
    .map_err(|e| Error::input(path, e))?;
    let mut ch = Chunker {
        ctx,
        target,
        meta,
        annotations,
        pseudo: ctx.pseudonym(target.subject),
        parts,
        block_len: opened.reader.block_len(),
        n_ch,
        row,
        buf: Vec::new(),
        data_at: 0,
        fallback: Vec::new(),
        filled: 0,
        index: 0,
        next_offset_s: 0.0,
    };
    let mut scratch = Vec::new();
    let mut total = 0u64;
    for seg in &segments {
        let mut done = 0u64;
        ch.next_offset_s = seg.onset_s;
        while done < seg.n_samples {
            let want =
                (row - ch.filled).min(usize::try_from(seg.n_samples - done).unwrap_or(usize::MAX));
            let at = ch.filled;
            let mut block = ScaledBlock {
                select: &select,
                factors: &factors,
                out: ch.rows(),
                row_len: row,
                at,
                scratch: &mut scratch,
            };
            let k = opened
                .reader
                .read_scaled(&mut block, want)
                .map_err(|e| Error::input(path, e))?;
            if k == 0 {
                return Err(Error::input(
                    path,
                    format!("recording ended after {total} of {n_samples} samples"),
                ));
            }
            ch.filled += k;
            done += k as u64;
            total += k as u64;
            if ch.filled == row || done == seg.n_samples {
                let offset_s = match parts {
                    Parts::Records => ch.next_offset_s,
                    Parts::Samples => seg.onset_s + (done - ch.filled as u64) as f64 / rate,
                };
                ch.flush(sink, total - ch.filled as u64, offset_s)?;
            }
        }
    }
    let written = u64::from(ch.index);
    sink.subject(SubjectRow {
        subject: ch.pseudo,
        source: ctx.source.to_string(),
        session: target.session.unwrap_or_default().to_string(),
        modalities: vec![ch.meta.modality],
        n_samples: written,
        split: String::new(),
    })?;
    Ok(written)
}
