//! Readers for electrophysiology recordings other than EDF/BDF: BrainVision, EEGLAB, FIF and NWB.
//!
//! Every format gives the same small signal view ([`Recording`]: channels with name, unit,
//! sampling rate, sample count and type; start time; annotations) and a streaming chunk reader
//! ([`SignalReader`]) that returns physical values (float64, in each channel's declared unit)
//! per channel, so a long recording is never loaded whole.
//!
//! Supported:
//! - [`brainvision`]: `.vhdr`/`.vmrk`/`.eeg`, binary `INT_16`, `INT_32`, `IEEE_FLOAT_32`, little
//!   or big endian, multiplexed and vectorized, per-channel resolution and unit (nV, µV, mV, V),
//!   markers (`New Segment` gives the start time).
//! - [`eeglab`]: `.set` MATLAB v5 MAT-files (own parser, compressed elements included) with
//!   inline data or a `.fdt` file, continuous and epoched (epochs concatenated), chanlocs,
//!   events; `.set` v7.3 (HDF5) with the `hdf5` cargo feature. Values are µV.
//! - [`fif`]: Neuromag/MNE FIF raw files (tag directory, measurement info, raw data buffers with
//!   skips, int16/int32/float32/float64 buffers), calibration `cal × range` applied, and MNE
//!   events files (`-eve.fif`).
//! - [`nwb`] (cargo feature `hdf5`): every `TimeSeries` (incl. `ElectricalSeries`) of an NWB
//!   2.x file, values × `conversion` (+ `offset`), electrode positions x, y, z.
//!
//! Not supported: BrainVision ASCII data and the `UINT_16` binary format, EEGLAB ICA
//! activations, FIF split files (`raw-1.fif` continuation) and compressed DAU packs, NWB 1.x.
//!
//! ```no_run
//! let (rec, mut reader) = bomdata_ephys::open(std::path::Path::new("rec.vhdr"))?;
//! let mut chunk = Vec::new();
//! while reader.read_chunk(4096, &mut chunk)? > 0 {
//!     // chunk[c] holds the next values of channel c, in rec.channels[c].unit
//! }
//! # Ok::<(), std::io::Error>(())
//! ```

use std::io;
use std::path::Path;

pub mod brainvision;
pub mod eeglab;
pub mod fif;
mod mat;
#[cfg(feature = "hdf5")]
pub mod nwb;
pub mod probe;

pub use probe::{detect, probe};

/// A malformed or unsupported input, with a one-line lowercase message saying what and where.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct FormatError(pub String);

/// Builds the `io::Error` (kind `InvalidData`) every reader of this crate returns for bad input.
pub(crate) fn invalid(msg: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, FormatError(msg.into()))
}

/// One signal channel of a recording.
#[derive(Clone, Debug, PartialEq)]
pub struct ChannelInfo {
    /// Channel label as stored.
    pub name: String,
    /// Physical unit the values are in (`"uV"`, `"mV"`, `"V"`, `"nV"`, `"T"`, `"T/m"`, ...; `""` when
    /// dimensionless or unknown).
    pub unit: String,
    /// Samples per second.
    pub sampling_rate: f64,
    /// Number of recorded samples.
    pub n_samples: u64,
    /// Channel type when the file says (`"eeg"`, `"eog"`, `"mag"`, `"grad"`, `"stim"`, ...).
    pub kind: Option<String>,
    /// Position (x, y, z) in the file's own frame and unit, when the file stores one.
    pub position: Option<[f64; 3]>,
    /// Seconds from the recording start to this channel's first sample (NWB `starting_time`
    /// or first timestamp; 0 for the other formats).
    pub offset_s: f64,
}

impl ChannelInfo {
    /// The factor that turns this channel's values into µV, when its unit is a voltage
    /// (`V`, `mV`, `uV`/`µV`, `nV`); `None` otherwise.
    pub fn factor_to_uv(&self) -> Option<f64> {
        match self.unit.as_str() {
            "V" => Some(1e6),
            "mV" => Some(1e3),
            "uV" | "µV" | "μV" => Some(1.0),
            "nV" => Some(1e-3),
            _ => None,
        }
    }
}

/// An event or marker, timed from the recording start.
#[derive(Clone, Debug, PartialEq)]
pub struct Annotation {
    /// Seconds from the first sample.
    pub onset: f64,
    /// Seconds, or `None` when the file gives none.
    pub duration: Option<f64>,
    /// Label text.
    pub text: String,
}

/// A wall-clock time without time zone plus an optional UTC offset in seconds.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DateTime {
    /// Year.
    pub year: i32,
    /// Month 1-12.
    pub month: u32,
    /// Day 1-31.
    pub day: u32,
    /// Hour 0-23.
    pub hour: u32,
    /// Minute 0-59.
    pub minute: u32,
    /// Second 0-59.
    pub second: u32,
    /// Microseconds 0-999999.
    pub microsecond: u32,
    /// UTC offset in seconds, when the file states one.
    pub utc_offset_s: Option<i32>,
}

impl DateTime {
    /// Builds a UTC time from seconds and microseconds since 1970-01-01.
    pub fn from_unix(secs: i64, micros: i64) -> DateTime {
        let total = secs as i128 * 1_000_000 + micros as i128;
        let secs = total.div_euclid(1_000_000) as i64;
        let micro = total.rem_euclid(1_000_000) as u32;
        let days = secs.div_euclid(86_400);
        let sod = secs.rem_euclid(86_400) as u32;
        let (year, month, day) = civil_from_days(days);
        DateTime {
            year,
            month,
            day,
            hour: sod / 3600,
            minute: (sod / 60) % 60,
            second: sod % 60,
            microsecond: micro,
            utc_offset_s: Some(0),
        }
    }

    /// Seconds since 1970-01-01 of the wall-clock time (the offset is ignored) and microseconds.
    pub fn to_unix_local(&self) -> (i64, i64) {
        let days = days_from_civil(self.year, self.month, self.day);
        let secs =
            days * 86_400 + self.hour as i64 * 3600 + self.minute as i64 * 60 + self.second as i64;
        (secs, self.microsecond as i64)
    }

    /// The same clock reading moved by `seconds` (may be fractional; kept to the microsecond).
    pub fn add_seconds(&self, seconds: f64) -> DateTime {
        let (s, us) = self.to_unix_local();
        let add_us = (seconds * 1e6).round() as i64;
        let mut out = DateTime::from_unix(s, us + add_us);
        out.utc_offset_s = self.utc_offset_s;
        out
    }

    /// ISO 8601 local date-time; the fraction is written (6 digits) when non-zero; no offset.
    pub fn to_iso_local(&self) -> String {
        let mut s = format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
            self.year, self.month, self.day, self.hour, self.minute, self.second
        );
        if self.microsecond != 0 {
            s.push_str(&format!(".{:06}", self.microsecond));
        }
        s
    }

    /// ISO 8601 with the UTC offset (`+hh:mm`) appended when known.
    pub fn to_iso(&self) -> String {
        let mut s = self.to_iso_local();
        if let Some(off) = self.utc_offset_s {
            let sign = if off < 0 { '-' } else { '+' };
            let a = off.unsigned_abs();
            s.push_str(&format!("{sign}{:02}:{:02}", a / 3600, (a / 60) % 60));
        }
        s
    }

    /// Parses `YYYY-MM-DDTHH:MM:SS[.ffffff][Z|±HH:MM]` (also with a space for `T`).
    pub fn parse_iso(text: &str) -> Option<DateTime> {
        let t = text.trim();
        let b = t.as_bytes();
        if b.len() < 19 {
            return None;
        }
        let num = |r: std::ops::Range<usize>| t.get(r)?.parse::<u32>().ok();
        let year = t.get(0..4)?.parse::<i32>().ok()?;
        let month = num(5..7)?;
        let day = num(8..10)?;
        let hour = num(11..13)?;
        let minute = num(14..16)?;
        let second = num(17..19)?;
        let mut rest = &t[19..];
        let mut microsecond = 0;
        if let Some(frac) = rest.strip_prefix('.') {
            let end = frac
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(frac.len());
            let digits = &frac[..end];
            let mut us = String::from(digits);
            us.truncate(6);
            while us.len() < 6 {
                us.push('0');
            }
            microsecond = us.parse().ok()?;
            rest = &frac[end..];
        }
        let utc_offset_s = if rest.is_empty() {
            None
        } else if rest == "Z" || rest == "z" {
            Some(0)
        } else {
            let sign = match rest.as_bytes()[0] {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let hh: i32 = rest.get(1..3)?.parse().ok()?;
            let mm: i32 = rest.get(rest.len() - 2..)?.parse().ok()?;
            Some(sign * (hh * 3600 + mm * 60))
        };
        if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || minute > 59 {
            return None;
        }
        Some(DateTime {
            year,
            month,
            day,
            hour,
            minute,
            second,
            microsecond,
            utc_offset_s,
        })
    }
}

fn civil_from_days(z: i64) -> (i32, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    ((if m <= 2 { y + 1 } else { y }) as i32, m, d)
}

fn days_from_civil(y: i32, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y as i64 - 1 } else { y as i64 };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = m as i64;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The format-independent view of a recording.
#[derive(Clone, Debug, PartialEq)]
pub struct Recording {
    /// Probe format name: `"brainvision"`, `"eeglab"`, `"fif"` or `"nwb"`.
    pub format: &'static str,
    /// Signal channels, in file order.
    pub channels: Vec<ChannelInfo>,
    /// Time of the first sample, when the file records a date.
    pub start: Option<DateTime>,
    /// Every annotation, sorted by onset (ties in file order).
    pub annotations: Vec<Annotation>,
    /// Number of epochs for epoched data (EEGLAB trials > 1), concatenated in the channels.
    pub epochs: Option<u64>,
}

impl Recording {
    /// Recorded duration: the longest channel's n_samples / sampling_rate.
    pub fn duration_s(&self) -> f64 {
        self.channels
            .iter()
            .filter(|c| c.sampling_rate > 0.0)
            .map(|c| c.n_samples as f64 / c.sampling_rate)
            .fold(0.0, f64::max)
    }
}

/// Streams physical values of all channels of a recording, chunk by chunk.
pub trait SignalReader {
    /// Reads up to `max_samples` next values of every channel into `out[c]` (resized to the
    /// channel count; each vector cleared first). Returns the largest number of values given to
    /// any channel; 0 at the end of every channel.
    fn read_chunk(&mut self, max_samples: usize, out: &mut Vec<Vec<f64>>) -> io::Result<usize>;
}

/// Opens any supported file (by [`detect`]) and returns its recording view and a chunk reader.
pub fn open(path: &Path) -> io::Result<(Recording, Box<dyn SignalReader>)> {
    match detect(path) {
        Some("brainvision") => {
            let (r, s) = brainvision::open(path)?;
            Ok((r, Box::new(s)))
        }
        Some("eeglab") => {
            let (r, s) = eeglab::open(path)?;
            Ok((r, Box::new(s)))
        }
        Some("fif") => {
            let (r, s) = fif::open(path)?;
            Ok((r, Box::new(s)))
        }
        #[cfg(feature = "hdf5")]
        Some("nwb") => {
            let (r, s) = nwb::open(path)?;
            Ok((r, Box::new(s)))
        }
        _ => Err(invalid(format!(
            "{}: not a brainvision, eeglab, fif or nwb file this build can read",
            path.display()
        ))),
    }
}

/// Sorts annotations by onset, ties kept in file order.
pub(crate) fn sort_annotations(a: &mut [Annotation]) {
    a.sort_by(|x, y| x.onset.total_cmp(&y.onset));
}

/// Reads the whole file only when it is at most `limit` bytes.
pub(crate) fn read_small(path: &Path, limit: u64, what: &str) -> io::Result<Vec<u8>> {
    let len = std::fs::metadata(path)?.len();
    if len > limit {
        return Err(invalid(format!(
            "{what} {} is {len} bytes, more than the {limit} accepted",
            path.display()
        )));
    }
    std::fs::read(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_round_trip() {
        let d = DateTime::from_unix(0, -1);
        assert_eq!(d.to_iso(), "1969-12-31T23:59:59.999999+00:00");
        let d = DateTime::parse_iso("2019-11-27T17:28:27.610392-08:00").unwrap();
        assert_eq!(d.utc_offset_s, Some(-8 * 3600));
        assert_eq!(d.to_iso(), "2019-11-27T17:28:27.610392-08:00");
        assert_eq!(
            d.add_seconds(3.5).to_iso_local(),
            "2019-11-27T17:28:31.110392"
        );
        let leap = DateTime::parse_iso("2024-02-28T23:59:59Z").unwrap();
        assert_eq!(leap.add_seconds(1.0).to_iso(), "2024-02-29T00:00:00+00:00");
        assert_eq!(DateTime::parse_iso("2024-13-01T00:00:00"), None);
        assert_eq!(DateTime::parse_iso("garbage"), None);
        let (s, us) = DateTime::from_unix(1_600_000_000, 250_000).to_unix_local();
        assert_eq!((s, us), (1_600_000_000, 250_000));
    }
}
