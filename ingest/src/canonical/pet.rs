//! PET facts for a canonical volume's `meta.json` ([`PetInfo`], [`FrameTiming`]): from a BIDS
//! PET sidecar ([`from_sidecar`]) or the headers of a DICOM PET series ([`from_dicom`]).
//!
//! Times are kept as seconds on the frame time axis only, never as dates or clock times:
//!
//! - BIDS: `FrameTimesStart`, `InjectionStart` and `ImageDecayCorrectionTime` are all relative to
//!   `TimeZero` and are copied as they are.
//! - DICOM: the axis origin is the series reference time (SeriesDate/SeriesTime, PS3.3 C.8.9.4:
//!   "the reference time for all PET Image attributes that are temporally related"). A frame
//!   starts at its AcquisitionDate/AcquisitionTime (or, without one, at FrameReferenceTime − half
//!   its ActualFrameDuration) and lasts ActualFrameDuration; the injection is
//!   RadiopharmaceuticalStartDateTime (or RadiopharmaceuticalStartTime, within ±12 h of the
//!   series time when no date is given). DecayCorrection `START` means corrected to the series
//!   reference time (0), `ADMIN` to the injection, `NONE` not corrected.
//!
//! PatientWeight is a patient characteristic the PS3.15 Basic Profile removes; it is kept (a
//! number in kg, nothing else) under the Retain Patient Characteristics Option because SUV needs
//! it.

use std::path::Path;

use bomdata_dicom as dicom;
use bomdata_schemas::mri::{FrameTiming, PetInfo};
use serde_json::{Map, Value};

use crate::{Error, Result};

const SERIES_DATE: u32 = 0x0008_0021;
const SERIES_TIME: u32 = 0x0008_0031;
const ACQ_DATE: u32 = 0x0008_0022;
const ACQ_TIME: u32 = 0x0008_0032;
const FRAME_DURATION: u32 = 0x0018_1242;
const FRAME_REFERENCE_TIME: u32 = 0x0054_1300;
const RADIOPHARMACEUTICAL: u32 = 0x0054_0016;
const TOTAL_DOSE: u32 = 0x0018_1074;
const HALF_LIFE: u32 = 0x0018_1075;
const START_TIME: u32 = 0x0018_1072;
const START_DATETIME: u32 = 0x0018_1078;
const WEIGHT: u32 = 0x0010_1030;
const UNITS: u32 = 0x0054_1001;
const DECAY_CORRECTION: u32 = 0x0054_1102;

/// The PET facts of a BIDS sidecar (merged by inheritance), or `None` when it has none.
pub fn from_sidecar(side: &Map<String, Value>) -> Option<PetInfo> {
    let num = |k: &str| side.get(k).and_then(Value::as_f64);
    let text = |k: &str| side.get(k).and_then(Value::as_str).map(String::from);
    let info = PetInfo {
        units: text("Units"),
        injected: num("InjectedRadioactivity"),
        injected_units: text("InjectedRadioactivityUnits"),
        body_weight_kg: num("BodyWeight"),
        injection_s: num("InjectionStart"),
        decay_corrected: side.get("ImageDecayCorrected").and_then(Value::as_bool),
        decay_reference_s: num("ImageDecayCorrectionTime"),
        radionuclide: text("TracerRadionuclide"),
        half_life_s: num("RadionuclideHalfLife"),
    };
    (info != PetInfo::default()).then_some(info)
}

/// Seconds of a DICOM TM value (`HHMMSS.FFFFFF`, or the old `HH:MM:SS`).
fn time_of_day(tm: &str) -> Option<f64> {
    let t: String = tm.trim().chars().filter(|c| *c != ':').collect();
    let (hms, frac) = t.split_once('.').unwrap_or((&t, ""));
    if hms.len() < 2 || !hms.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let part = |r: std::ops::Range<usize>| hms.get(r).map_or(Ok(0.0), str::parse::<f64>);
    let (h, m, s) = (part(0..2).ok()?, part(2..4).ok()?, part(4..6).ok()?);
    let f = if frac.is_empty() {
        0.0
    } else {
        format!("0.{frac}").parse::<f64>().ok()?
    };
    Some(h * 3600.0 + m * 60.0 + s + f)
}

/// Days since 1970-01-01 of a DICOM DA value (`YYYYMMDD`).
fn day_number(da: &str) -> Option<i64> {
    let d = da.trim();
    if d.len() < 8 || !d[..8].bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (y, m, dd): (i64, i64, i64) = (
        d[0..4].parse().ok()?,
        d[4..6].parse().ok()?,
        d[6..8].parse().ok()?,
    );
    if !(1..=12).contains(&m) || !(1..=31).contains(&dd) {
        return None;
    }
    // Days from civil (proleptic Gregorian).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + dd - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    Some(era * 146_097 + doe - 719_468)
}

/// A moment: the day (when a date was given) and the seconds into it.
#[derive(Clone, Copy, Debug)]
struct Moment {
    day: Option<i64>,
    tod: f64,
}

impl Moment {
    fn of(date: Option<&str>, time: Option<&str>) -> Option<Moment> {
        Some(Moment {
            day: date.and_then(day_number),
            tod: time_of_day(time?)?,
        })
    }

    /// A DT value (`YYYYMMDDHHMMSS.FFFFFF[&ZZXX]`, the offset ignored).
    fn of_datetime(dt: &str) -> Option<Moment> {
        let dt = dt.trim().split(['+', '-']).next()?;
        Some(Moment {
            day: day_number(dt.get(..8)?),
            tod: time_of_day(dt.get(8..).filter(|t| !t.is_empty()).unwrap_or("000000"))?,
        })
    }

    /// `self − origin` in seconds; without both dates, the time-of-day difference taken
    /// within ±12 h.
    fn since(self, origin: Moment) -> f64 {
        match (self.day, origin.day) {
            (Some(a), Some(b)) => (a - b) as f64 * 86_400.0 + self.tod - origin.tod,
            _ => {
                let d = self.tod - origin.tod;
                if d > 43_200.0 {
                    d - 86_400.0
                } else if d <= -43_200.0 {
                    d + 86_400.0
                } else {
                    d
                }
            }
        }
    }
}

/// One instance's start and duration (seconds on the series axis), when it has a duration.
fn frame(f: &dicom::File, origin: Option<Moment>) -> Option<(f64, f64)> {
    let dur = f.number(FRAME_DURATION)? / 1000.0;
    let acq = Moment::of(f.text(ACQ_DATE).as_deref(), f.text(ACQ_TIME).as_deref());
    let start = match (acq, origin) {
        (Some(a), Some(o)) => a.since(o),
        _ => f.number(FRAME_REFERENCE_TIME)? / 1000.0 - dur / 2.0,
    };
    (start.is_finite() && dur.is_finite() && dur > 0.0).then_some((start, dur))
}

/// Frame timing and PET facts of a DICOM PET series: `firsts` holds the first instance of each
/// volume (in volume order). Frame timing is `None` unless every volume has one.
pub fn from_dicom(firsts: &[&Path]) -> Result<(Option<FrameTiming>, Option<PetInfo>)> {
    let Some(first_path) = firsts.first() else {
        return Ok((None, None));
    };
    let first = dicom::open_header(first_path).map_err(|e| Error::input(first_path, e))?;
    let origin = Moment::of(
        first.text(SERIES_DATE).as_deref(),
        first.text(SERIES_TIME).as_deref(),
    );
    let mut frames = Some(FrameTiming {
        starts_s: Vec::with_capacity(firsts.len()),
        durations_s: Vec::with_capacity(firsts.len()),
    });
    for (i, p) in firsts.iter().enumerate() {
        let Some(ft) = frames.as_mut() else { break };
        let timing = if i == 0 {
            frame(&first, origin)
        } else {
            let f = dicom::open_header(p).map_err(|e| Error::input(p, e))?;
            frame(&f, origin)
        };
        match timing {
            Some((s, d)) => {
                ft.starts_s.push(s);
                ft.durations_s.push(d);
            }
            None => frames = None,
        }
    }
    let rp = first.item(RADIOPHARMACEUTICAL);
    let injection = rp.as_ref().and_then(|it| {
        it.text(START_DATETIME)
            .and_then(|dt| Moment::of_datetime(&dt))
            .or_else(|| {
                Moment::of(
                    first.text(SERIES_DATE).as_deref(),
                    it.text(START_TIME).as_deref(),
                )
            })
    });
    let injection_s = match (injection, origin) {
        (Some(i), Some(o)) => Some(i.since(o)),
        _ => None,
    };
    let (decay_corrected, decay_reference_s) = match first.text(DECAY_CORRECTION).as_deref() {
        Some("START") => (Some(true), Some(0.0)),
        Some("ADMIN") => (Some(true), injection_s),
        Some("NONE") => (Some(false), None),
        _ => (None, None),
    };
    let dose = rp.as_ref().and_then(|it| it.number(TOTAL_DOSE));
    let info = PetInfo {
        units: first.text(UNITS),
        injected: dose,
        injected_units: dose.map(|_| "Bq".to_string()),
        body_weight_kg: first.number(WEIGHT).filter(|w| *w > 0.0),
        injection_s,
        decay_corrected,
        decay_reference_s,
        radionuclide: None,
        half_life_s: rp.as_ref().and_then(|it| it.number(HALF_LIFE)),
    };
    let info = (info != PetInfo::default()).then_some(info);
    Ok((frames, info))
}

/// Frame timing and PET facts of an enhanced (multi-frame) PET object: the facts as
/// [`from_dicom`] reads them from its header, the timing from each volume's first frame
/// (FrameAcquisitionDateTime and FrameAcquisitionDuration in its functional groups, `times`),
/// on the same series-time axis. Frame timing is `None` unless every volume has both.
pub fn from_enhanced(
    path: &Path,
    times: &[(Option<String>, Option<f64>)],
) -> Result<(Option<FrameTiming>, Option<PetInfo>)> {
    let (_, info) = from_dicom(&[path])?;
    let first = dicom::open_header(path).map_err(|e| Error::input(path, e))?;
    let origin = Moment::of(
        first.text(SERIES_DATE).as_deref(),
        first.text(SERIES_TIME).as_deref(),
    );
    let timing = |(dt, ms): &(Option<String>, Option<f64>)| {
        let start = Moment::of_datetime(dt.as_deref()?)?.since(origin?);
        let dur = ms.filter(|d| d.is_finite() && *d > 0.0)? / 1000.0;
        start.is_finite().then_some((start, dur))
    };
    let frames = times
        .iter()
        .map(timing)
        .collect::<Option<Vec<_>>>()
        .filter(|v| !v.is_empty())
        .map(|v| FrameTiming {
            starts_s: v.iter().map(|x| x.0).collect(),
            durations_s: v.iter().map(|x| x.1).collect(),
        });
    Ok((frames, info))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clock_values() {
        assert_eq!(time_of_day("101530.5"), Some(36_930.5));
        assert_eq!(time_of_day("10:15:30"), Some(36_930.0));
        assert_eq!(time_of_day("10"), Some(36_000.0));
        assert_eq!(time_of_day("ab"), None);
        assert_eq!(day_number("19700102"), Some(1));
        assert_eq!(day_number("20000301"), Some(11_017));
        let a = Moment::of(None, Some("000500")).unwrap();
        let b = Moment::of(None, Some("235500")).unwrap();
        assert_eq!(a.since(b), 600.0);
        let c = Moment::of_datetime("20200102000500.000000+0100").unwrap();
        let d = Moment::of(Some("20200101"), Some("235500")).unwrap();
        assert_eq!(c.since(d), 600.0);
    }
}
