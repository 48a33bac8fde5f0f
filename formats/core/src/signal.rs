//! The signal view every electrophysiology reader gives (EDF/BDF in `bomdata-edf`; BrainVision,
//! EEGLAB, FIF and NWB in `bomdata-ephys`), so one conversion pipeline reads them all.
//!
//! - [`Recording`]: channels (name, unit, sampling rate, sample count, kind, position), start
//!   time, annotations;
//! - [`SignalReader`]: streams the samples, reports the runs of samples recorded back to back
//!   ([`Segment`]; EDF+D files have gaps between runs) and reads a block of samples of chosen
//!   channels, scaled, into the caller's float32 buffer ([`ScaledBlock`]).

use std::io;

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
    /// Format name: `"edf"`, `"bdf"`, `"brainvision"`, `"eeglab"`, `"fif"` or `"nwb"`.
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

/// A run of samples recorded back to back (an EDF+D file has several, separated by gaps).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Segment {
    /// Index of the run's first sample in the stream the reader gives.
    pub first_sample: u64,
    /// Samples per channel in the run.
    pub n_samples: u64,
    /// Seconds from the recording start to the run's first sample.
    pub onset_s: f64,
}

/// Where [`SignalReader::read_scaled`] writes: rows of `row_len` float32 values, one per
/// selected channel, filled from column `at`.
#[derive(Debug)]
pub struct ScaledBlock<'a> {
    /// Reader channel index of each output row.
    pub select: &'a [usize],
    /// Multiplier of each output row (applied in float64 before rounding to float32).
    pub factors: &'a [f64],
    /// The rows, `select.len() × row_len` values.
    pub out: &'a mut [f32],
    /// Values per row.
    pub row_len: usize,
    /// First column to write.
    pub at: usize,
    /// Working storage of the default [`SignalReader::read_scaled`] (kept by the caller between
    /// calls so it is allocated once).
    pub scratch: &'a mut Vec<Vec<f64>>,
}

/// Samples per channel the default [`SignalReader::read_scaled`] asks
/// [`SignalReader::read_chunk`] for at once (bounds its working storage).
pub const READ_BLOCK: usize = 1 << 16;

/// Streams the samples of a recording, in [`Recording::channels`] order.
pub trait SignalReader {
    /// Reads up to `max_samples` next values of every channel into `out[c]` (resized to the
    /// channel count; each vector cleared first). Returns the largest number of values given to
    /// any channel; 0 at the end of every channel.
    fn read_chunk(&mut self, max_samples: usize, out: &mut Vec<Vec<f64>>) -> io::Result<usize>;

    /// The runs of samples recorded back to back, in order, when the recording has gaps; empty
    /// when it is one run from its start (the default).
    fn segments(&self) -> Vec<Segment> {
        Vec::new()
    }

    /// Samples per channel of one stored block (an EDF data record), when the file stores the
    /// signal in fixed blocks; `None` (the default) otherwise.
    fn block_len(&self) -> Option<u64> {
        None
    }

    /// Reads up to `want` next samples of the channels `block.select`, each multiplied by its
    /// factor and rounded to float32, into `block.out[r * row_len + at ..]`. Returns how many
    /// samples were written per row (0 at the end); rows of channels that ended early are
    /// padded with NaN. The default reads through [`SignalReader::read_chunk`] at most
    /// [`READ_BLOCK`] samples at a time.
    fn read_scaled(&mut self, block: &mut ScaledBlock<'_>, want: usize) -> io::Result<usize> {
        let want = want.min(READ_BLOCK);
        self.read_chunk(want, block.scratch)?;
        let raw = &*block.scratch;
        let k = block
            .select
            .iter()
            .map(|&i| raw.get(i).map_or(0, Vec::len))
            .max()
            .unwrap_or(0)
            .min(want);
        for (r, (&i, &f)) in block.select.iter().zip(block.factors).enumerate() {
            let start = r * block.row_len + block.at;
            let Some(dst) = block.out.get_mut(start..start + k) else {
                continue;
            };
            let src = raw.get(i).map_or(&[][..], |v| &v[..v.len().min(k)]);
            for (d, s) in dst
                .iter_mut()
                .zip(src.iter().chain(std::iter::repeat(&f64::NAN)))
            {
                *d = (s * f) as f32;
            }
        }
        Ok(k)
    }
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
