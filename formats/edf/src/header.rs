//! The EDF/BDF header: the 256-byte fixed part and one 256-byte block per signal.
//!
//! Field layout (EDF spec, "the header record"; BDF uses the same layout):
//!
//! | offset | bytes | field |
//! |---|---|---|
//! | 0 | 8 | version (`0` EDF, `\xffBIOSEMI` BDF) |
//! | 8 | 80 | local patient identification |
//! | 88 | 80 | local recording identification |
//! | 168 | 8 | start date `dd.mm.yy` |
//! | 176 | 8 | start time `hh.mm.ss` |
//! | 184 | 8 | number of header bytes, 256 × (ns + 1) |
//! | 192 | 44 | reserved (`EDF+C` / `EDF+D` / `BDF+C` / `BDF+D` for the plus variants) |
//! | 236 | 8 | number of data records (−1 if unknown) |
//! | 244 | 8 | duration of a data record, seconds |
//! | 252 | 4 | number of signals ns |
//!
//! then for each field, ns values in a row: label 16, transducer 80, physical dimension 8,
//! physical min 8, physical max 8, digital min 8, digital max 8, prefiltering 80,
//! samples per record 8, reserved 32.

use std::io;

use crate::error::DecodeError;

/// Largest number of signals accepted (the field has 4 digits).
pub const MAX_SIGNALS: usize = 9999;

/// Largest data record accepted, in bytes. The spec recommends at most 61,440; real files
/// exceed that, but a record over 1 GiB is a corrupt header, not data.
pub const MAX_RECORD_BYTES: u64 = 1 << 30;

/// Sample encoding: EDF (16-bit) or BDF (24-bit), both two's complement little-endian.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Variant {
    /// European Data Format, 16-bit samples.
    Edf,
    /// BioSemi Data Format, 24-bit samples.
    Bdf,
}

impl Variant {
    /// Bytes per sample: 2 (EDF) or 3 (BDF).
    pub fn bytes_per_sample(self) -> usize {
        match self {
            Variant::Edf => 2,
            Variant::Bdf => 3,
        }
    }

    /// The lowercase name, `"edf"` or `"bdf"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Variant::Edf => "edf",
            Variant::Bdf => "bdf",
        }
    }
}

/// The EDF+ / BDF+ flavour named in the reserved field.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Plus {
    /// Plain EDF/BDF (no `EDF+`/`BDF+` in the reserved field).
    None,
    /// `EDF+C` / `BDF+C`: continuous, records back to back.
    Continuous,
    /// `EDF+D` / `BDF+D`: discontinuous, each record's onset comes from its time-keeping TAL.
    Discontinuous,
}

/// Start date and time as written in the header (whole seconds; the sub-second part of an EDF+
/// start is the onset of the first record's time-keeping annotation).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct StartDateTime {
    /// Four-digit year.
    pub year: i32,
    /// Month 1..=12.
    pub month: u8,
    /// Day 1..=31.
    pub day: u8,
    /// Hour 0..=23.
    pub hour: u8,
    /// Minute 0..=59.
    pub minute: u8,
    /// Second 0..=59.
    pub second: u8,
}

impl StartDateTime {
    /// Seconds since 1970-01-01T00:00:00 of this (local) date-time.
    pub fn to_unix_seconds(&self) -> i64 {
        days_from_civil(self.year, self.month, self.day) * 86_400
            + i64::from(self.hour) * 3600
            + i64::from(self.minute) * 60
            + i64::from(self.second)
    }

    /// ISO 8601 local date-time of this start plus `offset_s` seconds, with a six-digit
    /// fraction when the result has a sub-second part (rounded to the microsecond).
    ///
    /// ```
    /// use bomdata_edf::header::StartDateTime;
    /// let s = StartDateTime { year: 2020, month: 1, day: 24, hour: 4, minute: 5, second: 56 };
    /// assert_eq!(s.iso_with_offset(0.0), "2020-01-24T04:05:56");
    /// assert_eq!(s.iso_with_offset(0.3945312), "2020-01-24T04:05:56.394531");
    /// assert_eq!(s.iso_with_offset(3.5), "2020-01-24T04:05:59.500000");
    /// ```
    pub fn iso_with_offset(&self, offset_s: f64) -> String {
        let total_us = (offset_s * 1e6).round() as i64 + self.to_unix_seconds() * 1_000_000;
        let secs = total_us.div_euclid(1_000_000);
        let us = total_us.rem_euclid(1_000_000);
        let days = secs.div_euclid(86_400);
        let rem = secs.rem_euclid(86_400);
        let (y, m, d) = civil_from_days(days);
        let base = format!(
            "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}",
            rem / 3600,
            (rem / 60) % 60,
            rem % 60
        );
        if us == 0 {
            base
        } else {
            format!("{base}.{us:06}")
        }
    }
}

// Howard Hinnant's days-from-civil algorithm (proleptic Gregorian).
fn days_from_civil(y: i32, m: u8, d: u8) -> i64 {
    let y = i64::from(y) - i64::from(m <= 2);
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// One signal's header block.
#[derive(Clone, Debug, PartialEq)]
pub struct Signal {
    /// Label (16 bytes), spaces trimmed, e.g. `EEG Fpz-Cz` or `EDF Annotations`.
    pub label: String,
    /// Transducer type (80 bytes), trimmed.
    pub transducer: String,
    /// Physical dimension (8 bytes), trimmed, e.g. `uV`.
    pub physical_dimension: String,
    /// Physical minimum (8 bytes).
    pub physical_min: f64,
    /// Physical maximum (8 bytes).
    pub physical_max: f64,
    /// Digital minimum (8 bytes).
    pub digital_min: i32,
    /// Digital maximum (8 bytes).
    pub digital_max: i32,
    /// Prefiltering (80 bytes), trimmed.
    pub prefilter: String,
    /// Number of samples in each data record (8 bytes).
    pub samples_per_record: usize,
    /// Reserved (32 bytes), trimmed.
    pub reserved: String,
}

impl Signal {
    /// A data signal with the given label, unit, ranges and samples per record.
    pub fn new(
        label: impl Into<String>,
        physical_dimension: impl Into<String>,
        physical: (f64, f64),
        digital: (i32, i32),
        samples_per_record: usize,
    ) -> Self {
        Signal {
            label: label.into(),
            transducer: String::new(),
            physical_dimension: physical_dimension.into(),
            physical_min: physical.0,
            physical_max: physical.1,
            digital_min: digital.0,
            digital_max: digital.1,
            prefilter: String::new(),
            samples_per_record,
            reserved: String::new(),
        }
    }

    /// An annotation signal (`EDF Annotations` / `BDF Annotations`) with room for `bytes` bytes of
    /// TALs per record.
    pub fn annotations(variant: Variant, bytes: usize) -> Self {
        let bps = variant.bytes_per_sample();
        let (label, dmin, dmax) = match variant {
            Variant::Edf => ("EDF Annotations", -32768, 32767),
            Variant::Bdf => ("BDF Annotations", -8_388_608, 8_388_607),
        };
        Signal::new(label, "", (-1.0, 1.0), (dmin, dmax), bytes.div_ceil(bps))
    }

    /// Whether this signal carries annotations rather than samples: its label is
    /// `EDF Annotations` or `BDF Annotations` (decoded as such whatever the reserved field says).
    pub fn is_annotation(&self) -> bool {
        self.label == "EDF Annotations" || self.label == "BDF Annotations"
    }

    /// Physical units per digital unit: (physical max − physical min) / (digital max − digital min).
    pub fn gain(&self) -> f64 {
        (self.physical_max - self.physical_min)
            / (f64::from(self.digital_max) - f64::from(self.digital_min))
    }

    /// Physical value of digital 0: physical = gain × digital + offset.
    pub fn offset(&self) -> f64 {
        self.physical_min - self.gain() * f64::from(self.digital_min)
    }

    /// Samples per second given the record duration; `None` when the duration is 0.
    pub fn sampling_rate(&self, record_duration: f64) -> Option<f64> {
        (record_duration > 0.0).then(|| self.samples_per_record as f64 / record_duration)
    }
}

/// A parsed and validated EDF/BDF header.
#[derive(Clone, Debug, PartialEq)]
pub struct Header {
    /// EDF or BDF.
    pub variant: Variant,
    /// Plain, EDF+C or EDF+D.
    pub plus: Plus,
    /// Local patient identification (80 bytes), trailing spaces removed. Identity text.
    pub patient: String,
    /// Local recording identification (80 bytes), trailing spaces removed. Identity text.
    pub recording: String,
    /// Start date and time (`dd.mm.yy`, `hh.mm.ss`; year per the EDF+ rule, see
    /// [`Header::start`]).
    pub start: StartDateTime,
    /// Reserved field (44 bytes), trimmed.
    pub reserved: String,
    /// Number of data records; `None` when the header says −1 (unknown).
    pub n_records: Option<u64>,
    /// Duration of a data record in seconds (0 only for annotation-only files).
    pub record_duration: f64,
    /// Signal blocks, in file order (annotation signals included).
    pub signals: Vec<Signal>,
    offsets: Vec<usize>,
    record_len: usize,
}

/// Bytes of the fixed header part.
pub const FIXED_LEN: usize = 256;

fn field_text(bytes: &[u8]) -> String {
    let s = String::from_utf8_lossy(bytes);
    s.trim_matches(|c: char| c == ' ' || c == '\0').to_string()
}

fn trailing_trimmed(bytes: &[u8]) -> String {
    let s = String::from_utf8_lossy(bytes);
    s.trim_end_matches([' ', '\0']).to_string()
}

fn parse_int(
    bytes: &[u8],
    field: &'static str,
    signal: Option<usize>,
    offset: u64,
) -> Result<i64, DecodeError> {
    let t = field_text(bytes);
    let digits = t.strip_prefix('+').unwrap_or(&t);
    let ok = !digits.is_empty()
        && digits
            .strip_prefix('-')
            .unwrap_or(digits)
            .bytes()
            .all(|b| b.is_ascii_digit())
        && digits != "-";
    match ok.then(|| digits.parse::<i64>().ok()).flatten() {
        Some(v) => Ok(v),
        None => Err(DecodeError::InvalidNumber {
            field,
            signal,
            offset,
            value: t,
        }),
    }
}

fn parse_float(
    bytes: &[u8],
    field: &'static str,
    signal: Option<usize>,
    offset: u64,
) -> Result<f64, DecodeError> {
    let t = field_text(bytes);
    // Rust also parses "inf"/"nan"; an EDF number is digits, sign, point and exponent only.
    let chars_ok = !t.is_empty()
        && t.bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'+' | b'-' | b'.' | b'e' | b'E'))
        && t.bytes().any(|b| b.is_ascii_digit());
    match chars_ok.then(|| t.parse::<f64>().ok()).flatten() {
        Some(v) if v.is_finite() => Ok(v),
        _ => Err(DecodeError::InvalidNumber {
            field,
            signal,
            offset,
            value: t,
        }),
    }
}

fn two_digits(s: &[u8]) -> Option<u8> {
    match s {
        [a, b] if a.is_ascii_digit() && b.is_ascii_digit() => Some((a - b'0') * 10 + (b - b'0')),
        _ => None,
    }
}

/// Year from the EDF+ recording field `Startdate dd-MMM-yyyy ...`, when present and numeric.
fn recording_year(recording: &str) -> Option<i32> {
    let rest = recording.strip_prefix("Startdate ")?;
    let date = rest.split(' ').next()?;
    let mut parts = date.split('-');
    let (_, _, y) = (parts.next()?, parts.next()?, parts.next()?);
    (y.len() == 4 && y.bytes().all(|b| b.is_ascii_digit()))
        .then(|| y.parse().ok())
        .flatten()
}

impl Header {
    /// Parses the fixed 256-byte part; returns the number of signals it announces.
    ///
    /// Used by [`Header::parse`] and by readers to know how many more bytes to read.
    pub fn parse_signal_count(fixed: &[u8]) -> io::Result<usize> {
        if fixed.len() < FIXED_LEN {
            return Err(DecodeError::TruncatedHeader {
                expected: FIXED_LEN as u64,
                actual: fixed.len() as u64,
            }
            .into());
        }
        let ns = parse_int(&fixed[252..256], "number of signals", None, 252)?;
        if !(1..=MAX_SIGNALS as i64).contains(&ns) {
            return Err(DecodeError::OutOfRange {
                field: "number of signals",
                signal: None,
                offset: 252,
                value: ns.to_string(),
                reason: "must be 1 to 9999",
            }
            .into());
        }
        let header_bytes = parse_int(&fixed[184..192], "number of header bytes", None, 184)?;
        // ns ≤ 9999 so this cannot overflow.
        let expected = 256 * (ns + 1);
        if header_bytes != expected {
            return Err(DecodeError::OutOfRange {
                field: "number of header bytes",
                signal: None,
                offset: 184,
                value: header_bytes.to_string(),
                reason: "must equal 256 × (number of signals + 1)",
            }
            .into());
        }
        Ok(ns as usize)
    }

    /// Parses a complete header (256 × (ns + 1) bytes) and validates every numeric field.
    ///
    /// ```
    /// use bomdata_edf::{Header, header::{Signal, Variant}};
    /// let h = Header::builder(Variant::Edf)
    ///     .with_record_duration(1.0)
    ///     .with_n_records(2)
    ///     .with_signal(Signal::new("Fp1", "uV", (-100.0, 100.0), (-32768, 32767), 256))
    ///     .build()?;
    /// let bytes = h.to_bytes()?;
    /// let back = Header::parse(&bytes)?;
    /// assert_eq!(back.signals[0].label, "Fp1");
    /// assert_eq!(back.record_len(), 512);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn parse(bytes: &[u8]) -> io::Result<Header> {
        let ns = Self::parse_signal_count(bytes)?;
        let total = FIXED_LEN * (ns + 1);
        if bytes.len() < total {
            return Err(DecodeError::TruncatedHeader {
                expected: total as u64,
                actual: bytes.len() as u64,
            }
            .into());
        }
        let variant = parse_variant(bytes)?;
        let patient = trailing_trimmed(&bytes[8..88]);
        let recording = trailing_trimmed(&bytes[88..168]);
        let start = parse_start(bytes, &recording)?;
        let reserved = field_text(&bytes[192..236]);
        let plus = if reserved.starts_with("EDF+D") || reserved.starts_with("BDF+D") {
            Plus::Discontinuous
        } else if reserved.starts_with("EDF+C") || reserved.starts_with("BDF+C") {
            Plus::Continuous
        } else {
            Plus::None
        };
        let (n_records, record_duration) = parse_record_counts(bytes)?;
        let signals = SignalColumns::new(&bytes[FIXED_LEN..total], ns).parse(variant)?;
        let mut header = Header {
            variant,
            plus,
            patient,
            recording,
            start,
            reserved,
            n_records,
            record_duration,
            signals,
            offsets: Vec::new(),
            record_len: 0,
        };
        header.layout()?;
        Ok(header)
    }

    fn layout(&mut self) -> io::Result<()> {
        let bps = self.variant.bytes_per_sample() as u64;
        let mut offsets = Vec::with_capacity(self.signals.len());
        let mut len = 0u64;
        for s in &self.signals {
            offsets.push(len as usize);
            len += s.samples_per_record as u64 * bps;
            if len > MAX_RECORD_BYTES {
                return Err(DecodeError::OutOfRange {
                    field: "samples per record",
                    signal: Some(offsets.len() - 1),
                    offset: 0,
                    value: s.samples_per_record.to_string(),
                    reason: "a data record would exceed 1 GiB",
                }
                .into());
            }
        }
        self.offsets = offsets;
        self.record_len = len as usize;
        Ok(())
    }

    /// Header length in bytes: 256 × (ns + 1).
    pub fn header_len(&self) -> u64 {
        (FIXED_LEN * (self.signals.len() + 1)) as u64
    }

    /// Bytes in one data record.
    pub fn record_len(&self) -> usize {
        self.record_len
    }

    /// Byte offset of signal `i`'s samples inside a data record.
    pub fn signal_offset(&self, i: usize) -> usize {
        self.offsets.get(i).copied().unwrap_or(self.record_len)
    }

    /// Byte range of signal `i` inside a data record.
    pub fn signal_range(&self, i: usize) -> std::ops::Range<usize> {
        let start = self.signal_offset(i);
        let n = self.signals.get(i).map_or(0, |s| s.samples_per_record);
        start..start + n * self.variant.bytes_per_sample()
    }

    /// Whether any signal is an annotation signal.
    pub fn has_annotations(&self) -> bool {
        self.signals.iter().any(Signal::is_annotation)
    }

    /// The probe format name: `edf`, `edf+c`, `edf+d`, `bdf`, `bdf+c`, `bdf+d`.
    pub fn format_name(&self) -> &'static str {
        match (self.variant, self.plus) {
            (Variant::Edf, Plus::None) => "edf",
            (Variant::Edf, Plus::Continuous) => "edf+c",
            (Variant::Edf, Plus::Discontinuous) => "edf+d",
            (Variant::Bdf, Plus::None) => "bdf",
            (Variant::Bdf, Plus::Continuous) => "bdf+c",
            (Variant::Bdf, Plus::Discontinuous) => "bdf+d",
        }
    }

    /// Number of complete records a file of `file_len` bytes holds, checked against the header.
    ///
    /// The file must hold exactly the announced records, or all but the last plus a partial
    /// last record (dropped, as PROBE.md says). A header of −1 records takes every complete
    /// record present.
    pub fn records_in_file(&self, file_len: u64) -> io::Result<u64> {
        let hl = self.header_len();
        if file_len < hl {
            return Err(DecodeError::TruncatedHeader {
                expected: hl,
                actual: file_len,
            }
            .into());
        }
        let data = file_len - hl;
        let rl = self.record_len as u64;
        if rl == 0 {
            return Ok(self.n_records.unwrap_or(0));
        }
        let complete = data / rl;
        let partial = data % rl;
        match self.n_records {
            None => Ok(complete),
            Some(n) if complete == n && partial == 0 => Ok(n),
            Some(n) if n > 0 && complete == n - 1 && partial > 0 => Ok(n - 1),
            Some(n) => Err(DecodeError::SizeMismatch {
                file_len,
                header_len: hl,
                n_records: n,
                record_len: rl,
                expected: n.saturating_mul(rl).saturating_add(hl),
            }
            .into()),
        }
    }

    /// A builder for writing a new file.
    pub fn builder(variant: Variant) -> Builder {
        Builder {
            variant,
            plus: Plus::None,
            patient: "X X X X".into(),
            recording: String::new(),
            start: StartDateTime {
                year: 2000,
                month: 1,
                day: 1,
                hour: 0,
                minute: 0,
                second: 0,
            },
            n_records: Some(0),
            record_duration: 1.0,
            signals: Vec::new(),
        }
    }

    /// Serialises the header into its 256 × (ns + 1) bytes.
    pub fn to_bytes(&self) -> io::Result<Vec<u8>> {
        let ns = self.signals.len();
        let mut out = Vec::with_capacity(FIXED_LEN * (ns + 1));
        match self.variant {
            Variant::Edf => out.extend_from_slice(b"0       "),
            Variant::Bdf => {
                out.push(0xff);
                out.extend_from_slice(b"BIOSEMI");
            }
        }
        put_text(&mut out, &self.patient, 80, "patient")?;
        put_text(&mut out, &self.recording, 80, "recording")?;
        let s = &self.start;
        put_text(
            &mut out,
            &format!("{:02}.{:02}.{:02}", s.day, s.month, s.year.rem_euclid(100)),
            8,
            "start date",
        )?;
        put_text(
            &mut out,
            &format!("{:02}.{:02}.{:02}", s.hour, s.minute, s.second),
            8,
            "start time",
        )?;
        put_text(
            &mut out,
            &(256 * (ns + 1)).to_string(),
            8,
            "number of header bytes",
        )?;
        put_text(&mut out, &self.reserved, 44, "reserved")?;
        let nr = self.n_records.map_or("-1".to_string(), |n| n.to_string());
        put_text(&mut out, &nr, 8, "number of data records")?;
        put_text(
            &mut out,
            &format_number(self.record_duration, "duration")?,
            8,
            "duration",
        )?;
        put_text(&mut out, &ns.to_string(), 4, "number of signals")?;
        for s in &self.signals {
            put_text(&mut out, &s.label, 16, "label")?;
        }
        for s in &self.signals {
            put_text(&mut out, &s.transducer, 80, "transducer")?;
        }
        for s in &self.signals {
            put_text(&mut out, &s.physical_dimension, 8, "physical dimension")?;
        }
        for s in &self.signals {
            put_text(
                &mut out,
                &format_number(s.physical_min, "physical minimum")?,
                8,
                "physical minimum",
            )?;
        }
        for s in &self.signals {
            put_text(
                &mut out,
                &format_number(s.physical_max, "physical maximum")?,
                8,
                "physical maximum",
            )?;
        }
        for s in &self.signals {
            put_text(&mut out, &s.digital_min.to_string(), 8, "digital minimum")?;
        }
        for s in &self.signals {
            put_text(&mut out, &s.digital_max.to_string(), 8, "digital maximum")?;
        }
        for s in &self.signals {
            put_text(&mut out, &s.prefilter, 80, "prefilter")?;
        }
        for s in &self.signals {
            put_text(
                &mut out,
                &s.samples_per_record.to_string(),
                8,
                "samples per record",
            )?;
        }
        for s in &self.signals {
            put_text(&mut out, &s.reserved, 32, "signal reserved")?;
        }
        Ok(out)
    }
}

fn put_text(out: &mut Vec<u8>, s: &str, width: usize, field: &'static str) -> io::Result<()> {
    let b = s.as_bytes();
    if b.len() > width {
        return Err(DecodeError::Unwritable {
            field,
            reason: format!("{} bytes do not fit in {width}", b.len()),
        }
        .into());
    }
    out.extend_from_slice(b);
    out.resize(out.len() + width - b.len(), b' ');
    Ok(())
}

/// Formats a number in at most 8 characters, with as many decimals as fit.
fn format_number(v: f64, field: &'static str) -> io::Result<String> {
    if !v.is_finite() {
        return Err(DecodeError::Unwritable {
            field,
            reason: "not finite".into(),
        }
        .into());
    }
    let plain = format!("{v}");
    if plain.len() <= 8 {
        return Ok(plain);
    }
    for decimals in (0..=7).rev() {
        let s = format!("{v:.decimals$}");
        if s.len() <= 8 {
            return Ok(s);
        }
    }
    Err(DecodeError::Unwritable {
        field,
        reason: format!("{v} does not fit in 8 characters"),
    }
    .into())
}

/// Builds a [`Header`] for the [`Writer`](crate::io::Writer).
#[derive(Clone, Debug)]
pub struct Builder {
    variant: Variant,
    plus: Plus,
    patient: String,
    recording: String,
    start: StartDateTime,
    n_records: Option<u64>,
    record_duration: f64,
    signals: Vec<Signal>,
}

impl Builder {
    /// Sets EDF+C/EDF+D (adds an annotation signal at build time when there is none).
    pub fn with_plus(mut self, plus: Plus) -> Self {
        self.plus = plus;
        self
    }
    /// Sets the patient identification field.
    pub fn with_patient(mut self, s: impl Into<String>) -> Self {
        self.patient = s.into();
        self
    }
    /// Sets the recording identification field.
    pub fn with_recording(mut self, s: impl Into<String>) -> Self {
        self.recording = s.into();
        self
    }
    /// Sets the start date and time.
    pub fn with_start(mut self, start: StartDateTime) -> Self {
        self.start = start;
        self
    }
    /// Sets the number of data records (`None` writes −1).
    pub fn with_n_records(mut self, n: impl Into<Option<u64>>) -> Self {
        self.n_records = n.into();
        self
    }
    /// Sets the data record duration in seconds.
    pub fn with_record_duration(mut self, d: f64) -> Self {
        self.record_duration = d;
        self
    }
    /// Appends a signal.
    pub fn with_signal(mut self, s: Signal) -> Self {
        self.signals.push(s);
        self
    }
    /// Builds the header. For EDF+/BDF+ without an annotation signal, one with room for 60
    /// bytes of TALs per record is appended; the recording field gets the EDF+ `Startdate`
    /// prefix when it lacks one.
    pub fn build(mut self) -> io::Result<Header> {
        let reserved = match (self.variant, self.plus) {
            (_, Plus::None) => String::new(),
            (Variant::Edf, Plus::Continuous) => "EDF+C".into(),
            (Variant::Edf, Plus::Discontinuous) => "EDF+D".into(),
            (Variant::Bdf, Plus::Continuous) => "BDF+C".into(),
            (Variant::Bdf, Plus::Discontinuous) => "BDF+D".into(),
        };
        if self.plus != Plus::None {
            if !self.signals.iter().any(Signal::is_annotation) {
                self.signals.push(Signal::annotations(self.variant, 60));
            }
            if !self.recording.starts_with("Startdate ") {
                const MONTHS: [&str; 12] = [
                    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV",
                    "DEC",
                ];
                let s = &self.start;
                let mon = MONTHS[usize::from(s.month.clamp(1, 12) - 1)];
                let rest = if self.recording.is_empty() {
                    "X X X"
                } else {
                    &self.recording
                };
                self.recording = format!("Startdate {:02}-{mon}-{:04} {rest}", s.day, s.year);
            }
        }
        if self.signals.is_empty() || self.signals.len() > MAX_SIGNALS {
            return Err(DecodeError::Unwritable {
                field: "number of signals",
                reason: "must be 1 to 9999".into(),
            }
            .into());
        }
        let mut h = Header {
            variant: self.variant,
            plus: self.plus,
            patient: self.patient,
            recording: self.recording,
            start: self.start,
            reserved,
            n_records: self.n_records,
            record_duration: self.record_duration,
            signals: self.signals,
            offsets: Vec::new(),
            record_len: 0,
        };
        h.layout()?;
        Ok(h)
    }
}

/// EDF (`0` and spaces) or BDF (`0xff BIOSEMI`) from the version field.
fn parse_variant(bytes: &[u8]) -> io::Result<Variant> {
    if &bytes[0..8] == b"0       " {
        Ok(Variant::Edf)
    } else if bytes[0] == 0xff && &bytes[1..8] == b"BIOSEMI" {
        Ok(Variant::Bdf)
    } else {
        Err(DecodeError::InvalidVersion(String::from_utf8_lossy(&bytes[0..8]).into()).into())
    }
}

/// The start date (`dd.mm.yy`, bytes 168..176) and time (`hh.mm.ss`, bytes 176..184); the
/// year from the EDF+ recording field when it has a 4-digit one.
fn parse_start(bytes: &[u8], recording: &str) -> io::Result<StartDateTime> {
    let date = &bytes[168..176];
    let time = &bytes[176..184];
    let (dd, mm, yy) = match (
        two_digits(&date[0..2]),
        two_digits(&date[3..5]),
        two_digits(&date[6..8]),
    ) {
        (Some(d), Some(m), Some(y)) if (1..=31).contains(&d) && (1..=12).contains(&m) => (d, m, y),
        _ => {
            return Err(DecodeError::InvalidNumber {
                field: "start date",
                signal: None,
                offset: 168,
                value: String::from_utf8_lossy(date).into(),
            }
            .into());
        }
    };
    let (hh, mi, ss) = match (
        two_digits(&time[0..2]),
        two_digits(&time[3..5]),
        two_digits(&time[6..8]),
    ) {
        (Some(h), Some(m), Some(s)) if h < 24 && m < 60 && s < 60 => (h, m, s),
        _ => {
            return Err(DecodeError::InvalidNumber {
                field: "start time",
                signal: None,
                offset: 176,
                value: String::from_utf8_lossy(time).into(),
            }
            .into());
        }
    };
    // EDF+ spec: yy ≥ 85 is 19yy, else 20yy; the recording field's 4-digit year wins.
    let year = recording_year(recording).unwrap_or(if yy >= 85 {
        1900 + i32::from(yy)
    } else {
        2000 + i32::from(yy)
    });
    Ok(StartDateTime {
        year,
        month: mm,
        day: dd,
        hour: hh,
        minute: mi,
        second: ss,
    })
}

/// The number of data records (`None` for −1, unknown) and the record duration.
fn parse_record_counts(bytes: &[u8]) -> io::Result<(Option<u64>, f64)> {
    let n_records = match parse_int(&bytes[236..244], "number of data records", None, 236)? {
        -1 => None,
        n if n >= 0 => Some(n as u64),
        n => {
            return Err(DecodeError::OutOfRange {
                field: "number of data records",
                signal: None,
                offset: 236,
                value: n.to_string(),
                reason: "must be ≥ 0 or −1",
            }
            .into());
        }
    };
    let record_duration = parse_float(&bytes[244..252], "duration of a data record", None, 244)?;
    if record_duration < 0.0 {
        return Err(DecodeError::OutOfRange {
            field: "duration of a data record",
            signal: None,
            offset: 244,
            value: record_duration.to_string(),
            reason: "must not be negative",
        }
        .into());
    }
    Ok((n_records, record_duration))
}

/// The per-signal part of a header: one column of `ns` fixed-width fields per attribute.
struct SignalColumns<'a> {
    sig: &'a [u8],
    ns: usize,
    label: usize,
    transducer: usize,
    dimension: usize,
    pmin: usize,
    pmax: usize,
    dmin: usize,
    dmax: usize,
    prefilter: usize,
    spr: usize,
    reserved: usize,
}

impl<'a> SignalColumns<'a> {
    fn new(sig: &'a [u8], ns: usize) -> Self {
        let mut pos = 0usize;
        let mut next = |width: usize| {
            let start = pos;
            pos += width * ns;
            start
        };
        SignalColumns {
            sig,
            ns,
            label: next(16),
            transducer: next(80),
            dimension: next(8),
            pmin: next(8),
            pmax: next(8),
            dmin: next(8),
            dmax: next(8),
            prefilter: next(80),
            spr: next(8),
            reserved: next(32),
        }
    }

    /// Field `i` of the column at `base` (fields `width` bytes wide) and its file offset.
    fn at(&self, base: usize, width: usize, i: usize) -> (&'a [u8], u64) {
        let s = base + i * width;
        (&self.sig[s..s + width], (FIXED_LEN + s) as u64)
    }

    fn float(&self, base: usize, field: &'static str, i: usize) -> io::Result<f64> {
        let (b, off) = self.at(base, 8, i);
        Ok(parse_float(b, field, Some(i), off)?)
    }

    fn int(&self, base: usize, field: &'static str, i: usize) -> io::Result<i64> {
        let (b, off) = self.at(base, 8, i);
        Ok(parse_int(b, field, Some(i), off)?)
    }

    fn out_of_range(
        &self,
        base: usize,
        field: &'static str,
        i: usize,
        value: String,
        reason: &'static str,
    ) -> io::Error {
        DecodeError::OutOfRange {
            field,
            signal: Some(i),
            offset: self.at(base, 8, i).1,
            value,
            reason,
        }
        .into()
    }

    fn parse(&self, variant: Variant) -> io::Result<Vec<Signal>> {
        (0..self.ns).map(|i| self.signal(variant, i)).collect()
    }

    /// Signal `i`, its numeric fields checked.
    fn signal(&self, variant: Variant, i: usize) -> io::Result<Signal> {
        let label = field_text(self.at(self.label, 16, i).0);
        let annotation = label == "EDF Annotations" || label == "BDF Annotations";
        let spr = self.int(self.spr, "samples per record", i)?;
        if !(0..=i64::from(i32::MAX)).contains(&spr) {
            let reason = "must be 0 to 2^31 − 1";
            return Err(self.out_of_range(
                self.spr,
                "samples per record",
                i,
                spr.to_string(),
                reason,
            ));
        }
        // Annotation signals carry no samples: their ranges are not used, so a writer's
        // odd values there are tolerated.
        let (pmin, pmax, dmin, dmax) = if annotation {
            (
                self.float(self.pmin, "physical minimum", i).unwrap_or(-1.0),
                self.float(self.pmax, "physical maximum", i).unwrap_or(1.0),
                self.int(self.dmin, "digital minimum", i).unwrap_or(-32768),
                self.int(self.dmax, "digital maximum", i).unwrap_or(32767),
            )
        } else {
            let ranges = (
                self.float(self.pmin, "physical minimum", i)?,
                self.float(self.pmax, "physical maximum", i)?,
                self.int(self.dmin, "digital minimum", i)?,
                self.int(self.dmax, "digital maximum", i)?,
            );
            self.check_ranges(variant, i, ranges)?;
            ranges
        };
        Ok(Signal {
            label,
            transducer: field_text(self.at(self.transducer, 80, i).0),
            physical_dimension: field_text(self.at(self.dimension, 8, i).0),
            physical_min: pmin,
            physical_max: pmax,
            digital_min: dmin.clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32,
            digital_max: dmax.clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32,
            prefilter: field_text(self.at(self.prefilter, 80, i).0),
            samples_per_record: spr as usize,
            reserved: field_text(self.at(self.reserved, 32, i).0),
        })
    }

    /// A data signal's digital range must fit the sample type and neither range be empty.
    fn check_ranges(
        &self,
        variant: Variant,
        i: usize,
        (pmin, pmax, dmin, dmax): (f64, f64, i64, i64),
    ) -> io::Result<()> {
        let dlim = match variant {
            Variant::Edf => -32768..=32767,
            Variant::Bdf => -8_388_608..=8_388_607,
        };
        for (v, base, field) in [
            (dmin, self.dmin, "digital minimum"),
            (dmax, self.dmax, "digital maximum"),
        ] {
            if !dlim.contains(&v) {
                let reason = "outside the sample type's range";
                return Err(self.out_of_range(base, field, i, v.to_string(), reason));
            }
        }
        if dmin == dmax {
            let reason = "equals the digital minimum, so values cannot be scaled";
            return Err(self.out_of_range(
                self.dmax,
                "digital maximum",
                i,
                dmax.to_string(),
                reason,
            ));
        }
        if pmin == pmax {
            let reason = "equals the physical minimum, so values cannot be scaled";
            return Err(self.out_of_range(
                self.pmax,
                "physical maximum",
                i,
                pmax.to_string(),
                reason,
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn minimal() -> Vec<u8> {
        Header::builder(Variant::Edf)
            .with_n_records(3)
            .with_signal(Signal::new(
                "Fp1",
                "uV",
                (-100.0, 100.0),
                (-32768, 32767),
                4,
            ))
            .build()
            .unwrap()
            .to_bytes()
            .unwrap()
    }

    fn is_invalid<T: std::fmt::Debug>(r: io::Result<T>) -> String {
        let e = r.unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidData);
        e.to_string()
    }

    #[test]
    fn roundtrip() {
        let h = Header::parse(&minimal()).unwrap();
        assert_eq!(h.n_records, Some(3));
        assert_eq!(h.record_len(), 8);
        assert_eq!(h.start.year, 2000);
        assert_eq!(h.format_name(), "edf");
    }

    #[test]
    fn non_numeric_fields_are_refused() {
        let mut b = minimal();
        b[236..244].copy_from_slice(b"abc     ");
        assert!(is_invalid(Header::parse(&b)).contains("number of data records"));
        let mut b = minimal();
        b[244..252].copy_from_slice(b"1.0x    ");
        assert!(is_invalid(Header::parse(&b)).contains("duration"));
        let mut b = minimal();
        b[244..252].copy_from_slice(b"nan     ");
        assert!(is_invalid(Header::parse(&b)).contains("duration"));
        // physical minimum of signal 0 sits at 256 + 16 + 80 + 8.
        let mut b = minimal();
        b[360..368].copy_from_slice(b"-1OO    ");
        let m = is_invalid(Header::parse(&b));
        assert!(m.contains("physical minimum of signal 0"), "{m}");
        assert!(m.contains("byte 360"), "{m}");
    }

    #[test]
    fn absurd_counts_are_refused() {
        let mut b = minimal();
        b[252..256].copy_from_slice(b"0   ");
        assert!(is_invalid(Header::parse(&b)).contains("number of signals"));
        let mut b = minimal();
        b[252..256].copy_from_slice(b"-5  ");
        assert!(is_invalid(Header::parse(&b)).contains("number of signals"));
        let mut b = minimal();
        b[236..244].copy_from_slice(b"-7      ");
        assert!(is_invalid(Header::parse(&b)).contains("number of data records"));
        // 9999 signals announced in a 512-byte header.
        let mut b = minimal();
        b[252..256].copy_from_slice(b"9999");
        assert!(is_invalid(Header::parse(&b)).contains("number of header bytes"));
        // samples per record huge: offset 256 + 16+80+8*5+80 = 472.
        let mut b = minimal();
        b[472..480].copy_from_slice(b"99999999");
        let h = Header::parse(&b).unwrap();
        assert!(is_invalid(h.records_in_file(512 + 600)).contains("does not match"));
    }

    #[test]
    fn size_checks() {
        let h = Header::parse(&minimal()).unwrap();
        let hl = h.header_len();
        assert_eq!(h.records_in_file(hl + 24).unwrap(), 3);
        assert_eq!(h.records_in_file(hl + 20).unwrap(), 2);
        assert!(is_invalid(h.records_in_file(hl + 16)).contains("does not match"));
        assert!(is_invalid(h.records_in_file(hl + 32)).contains("does not match"));
        assert!(is_invalid(h.records_in_file(100)).contains("header truncated"));
    }

    #[test]
    fn two_digit_years() {
        let mut b = minimal();
        b[174..176].copy_from_slice(b"85");
        assert_eq!(Header::parse(&b).unwrap().start.year, 1985);
        b[174..176].copy_from_slice(b"84");
        assert_eq!(Header::parse(&b).unwrap().start.year, 2084);
        b[88..120].copy_from_slice(b"Startdate 02-MAR-1984 X X X     ");
        assert_eq!(Header::parse(&b).unwrap().start.year, 1984);
        b[168..176].copy_from_slice(b"yy.mm.dd");
        assert!(is_invalid(Header::parse(&b)).contains("start date"));
    }

    #[test]
    fn unknown_version() {
        let mut b = minimal();
        b[0..8].copy_from_slice(b"1       ");
        assert!(is_invalid(Header::parse(&b)).contains("version"));
    }
}
