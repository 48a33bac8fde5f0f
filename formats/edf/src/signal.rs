//! EDF/BDF through the signal view shared with the other electrophysiology readers
//! ([`bomdata_format_core::signal`]): [`recording`] describes the chosen data signals and
//! [`Signals`] streams them, EDF+D gaps reported as [`Segment`]s.
//!
//! Records are decoded straight into the caller's buffer whenever a whole record fits it; a
//! record split between two reads is decoded once into a record-sized buffer.

use std::io::{self, Read};

use bomdata_format_core::signal::{
    Annotation, ChannelInfo, DateTime, Recording, ScaledBlock, Segment, SignalReader,
};

use crate::fs::FileAnnotations;
use crate::header::Variant;
use crate::io::Reader;
use crate::{Header, Record};

/// The view of data signals `kept` (all of one samples-per-record) of a file of `n_records`
/// records: names and units as stored, the rate `samples_per_record / record_duration`, the
/// start moved by the first record's onset, annotations timed from that onset.
pub fn recording(
    header: &Header,
    kept: &[usize],
    n_records: u64,
    anns: &FileAnnotations,
) -> Recording {
    let dur = header.record_duration;
    let t0 = anns.first_onset();
    let channels = kept
        .iter()
        .filter_map(|&i| header.signals.get(i))
        .map(|s| ChannelInfo {
            name: s.label.clone(),
            unit: s.physical_dimension.clone(),
            sampling_rate: s.samples_per_record as f64 / dur,
            n_samples: n_records.saturating_mul(s.samples_per_record as u64),
            kind: None,
            position: None,
            offset_s: 0.0,
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
        .map(|a| Annotation {
            onset: a.onset - t0,
            duration: a.duration,
            text: a.text.clone(),
        })
        .collect();
    Recording {
        format: match header.variant {
            Variant::Edf => "edf",
            Variant::Bdf => "bdf",
        },
        channels,
        start: Some(start),
        annotations,
        epochs: None,
    }
}

/// The runs of records that follow each other without a gap: a record whose onset is more
/// than half a sample away from the end of the one before starts a new run. Onsets are the
/// file's record onsets (seconds from the header start; a record without one is placed at
/// `r × record_duration`), timed here from the first record's.
pub fn segments(
    header: &Header,
    spr: usize,
    n_records: u64,
    anns: &FileAnnotations,
) -> Vec<Segment> {
    let dur = header.record_duration;
    let t0 = anns.first_onset();
    let tolerance = 0.5 * dur / spr.max(1) as f64;
    let onset_of = |r: u64| -> f64 {
        usize::try_from(r)
            .ok()
            .and_then(|r| anns.record_onsets.get(r))
            .map_or(r as f64 * dur, |o| o - t0)
    };
    let spr = spr as u64;
    let segment = |from: u64, to: u64| Segment {
        first_sample: from * spr,
        n_samples: (to - from) * spr,
        onset_s: onset_of(from),
    };
    let mut out = Vec::new();
    let mut from = 0;
    for r in 1..n_records {
        if (onset_of(r) - (onset_of(r - 1) + dur)).abs() > tolerance {
            out.push(segment(from, r));
            from = r;
        }
    }
    if n_records > 0 {
        out.push(segment(from, n_records));
    }
    out
}

/// Data signals of one samples-per-record, streamed record by record.
#[derive(Debug)]
pub struct Signals<R> {
    reader: Reader<R>,
    header: Header,
    kept: Vec<usize>,
    spr: usize,
    segments: Vec<Segment>,
    record: Record,
    /// Samples of the current record already given (`spr` when none is loaded).
    pos: usize,
    /// The current record's selected rows, scaled, when it is split between reads.
    scaled: Vec<f32>,
    scaled_ok: bool,
    /// The current record's kept signals in physical units, for [`SignalReader::read_chunk`].
    physical: Vec<Vec<f64>>,
    physical_ok: bool,
}

impl<R: Read> Signals<R> {
    /// Streams signals `kept` of `header` (they must share one samples-per-record) from
    /// `reader`, positioned at the first record; `segments` as from [`segments`].
    pub fn new(
        reader: Reader<R>,
        header: Header,
        kept: Vec<usize>,
        segments: Vec<Segment>,
    ) -> Self {
        let spr = kept
            .first()
            .and_then(|&i| header.signals.get(i))
            .map_or(0, |s| s.samples_per_record);
        Signals {
            reader,
            header,
            kept,
            spr,
            segments,
            record: Record::default(),
            pos: spr,
            scaled: Vec::new(),
            scaled_ok: false,
            physical: Vec::new(),
            physical_ok: false,
        }
    }

    /// Loads the next record when the current one is used up; false at the end.
    fn next_record(&mut self) -> io::Result<bool> {
        if self.pos < self.spr {
            return Ok(true);
        }
        if self.spr == 0 || self.reader.read_record(&self.header, &mut self.record)? == 0 {
            return Ok(false);
        }
        self.pos = 0;
        self.scaled_ok = false;
        self.physical_ok = false;
        Ok(true)
    }

    /// Decodes the selected rows of the current record, scaled, into `self.scaled`.
    fn scale_record(&mut self, select: &[usize], factors: &[f64]) {
        let spr = self.spr;
        self.scaled.resize(select.len() * spr, 0.0);
        for (r, (&c, &f)) in select.iter().zip(factors).enumerate() {
            if let Some(&i) = self.kept.get(c) {
                let dst = &mut self.scaled[r * spr..(r + 1) * spr];
                self.record.decode_f32(&self.header, i, f, dst);
            }
        }
        self.scaled_ok = true;
    }
}

impl<R: Read> SignalReader for Signals<R> {
    fn read_chunk(&mut self, max_samples: usize, out: &mut Vec<Vec<f64>>) -> io::Result<usize> {
        let n = self.kept.len();
        out.resize_with(n, Vec::new);
        out.iter_mut().for_each(Vec::clear);
        let mut have = 0;
        while have < max_samples && n > 0 && self.next_record()? {
            if !self.physical_ok {
                self.physical.resize_with(n, Vec::new);
                for (p, &i) in self.physical.iter_mut().zip(&self.kept) {
                    p.clear();
                    self.record.read_physical(&self.header, i, p);
                }
                self.physical_ok = true;
            }
            let take = (max_samples - have).min(self.spr - self.pos);
            for (o, p) in out.iter_mut().zip(&self.physical) {
                o.extend_from_slice(p.get(self.pos..self.pos + take).unwrap_or(&[]));
            }
            self.pos += take;
            have += take;
        }
        Ok(have)
    }

    fn segments(&self) -> Vec<Segment> {
        self.segments.clone()
    }

    fn block_len(&self) -> Option<u64> {
        Some(self.spr as u64)
    }

    fn read_scaled(&mut self, block: &mut ScaledBlock<'_>, want: usize) -> io::Result<usize> {
        let spr = self.spr;
        let mut done = 0;
        while done < want && self.next_record()? {
            let take = (want - done).min(spr - self.pos);
            let at = block.at + done;
            if self.pos == 0 && take == spr {
                // The whole record fits: decoded straight into the caller's rows.
                for (r, (&c, &f)) in block.select.iter().zip(block.factors).enumerate() {
                    let start = r * block.row_len + at;
                    if let (Some(&i), Some(dst)) =
                        (self.kept.get(c), block.out.get_mut(start..start + spr))
                    {
                        self.record.decode_f32(&self.header, i, f, dst);
                    }
                }
            } else {
                if !self.scaled_ok {
                    self.scale_record(block.select, block.factors);
                }
                for r in 0..block.select.len() {
                    let start = r * block.row_len + at;
                    let src = r * spr + self.pos;
                    if let (Some(dst), Some(src)) = (
                        block.out.get_mut(start..start + take),
                        self.scaled.get(src..src + take),
                    ) {
                        dst.copy_from_slice(src);
                    }
                }
            }
            self.pos += take;
            done += take;
        }
        Ok(done)
    }
}
