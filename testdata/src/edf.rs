//! A byte-level EDF/EDF+ writer for synthetic recordings (16-bit samples, 1 s records).
//!
//! It writes the same bytes as `bomdata-edf`'s own writer for the same header, without
//! depending on it, so any crate's tests can make EDF files.

/// The EDF+ flavour in the reserved field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Plus {
    /// Plain EDF.
    None,
    /// `EDF+C`: contiguous records.
    Continuous,
    /// `EDF+D`: records at the onsets given.
    Discontinuous,
}

/// One annotation, written into the first record's annotation signal.
#[derive(Clone, Debug, PartialEq)]
pub struct Annotation {
    /// Seconds from the start of the recording.
    pub onset: f64,
    /// Seconds, when given.
    pub duration: Option<f64>,
    /// The annotation text.
    pub text: String,
}

/// A data signal: label, physical dimension, samples per 1 s record.
pub type SignalSpec<'a> = (&'a str, &'a str, usize);

/// What to write. Every data signal has physical range ±3276.8 (max 3276.7) over digital
/// −32768..32767 (gain 0.1).
#[derive(Clone, Debug)]
pub struct EdfSpec<'a> {
    /// EDF+ flavour.
    pub plus: Plus,
    /// Start (year, month, day, hour, minute, second).
    pub start: (u16, u8, u8, u8, u8, u8),
    /// Local patient identification (80 bytes).
    pub patient: &'a str,
    /// Local recording identification (80 bytes); for EDF+ the `Startdate` prefix is added.
    pub recording: &'a str,
    /// Data signals.
    pub signals: &'a [SignalSpec<'a>],
    /// Number of 1 s records.
    pub n_records: usize,
    /// Record onsets in seconds (EDF+D); `None`: record `r` starts at `r` s.
    pub onsets: Option<&'a [f64]>,
    /// Annotations written in the first record (EDF+ only).
    pub annotations: &'a [Annotation],
    /// Bytes of the annotation signal per record (EDF+ only).
    pub annotation_bytes: usize,
}

impl Default for EdfSpec<'_> {
    fn default() -> Self {
        EdfSpec {
            plus: Plus::None,
            start: (2004, 5, 6, 7, 8, 9),
            patient: "X X X X",
            recording: "",
            signals: &[],
            n_records: 10,
            onsets: None,
            annotations: &[],
            annotation_bytes: 120,
        }
    }
}

/// A ramp per channel: digital value of channel `c` at global sample `k`.
pub fn ramp(c: usize, k: usize) -> i32 {
    (k % 1000) as i32 - 500 + c as i32 * 7
}

fn text(out: &mut Vec<u8>, s: &str, width: usize) {
    let b = s.as_bytes();
    let n = b.len().min(width);
    out.extend_from_slice(&b[..n]);
    out.resize(out.len() + width - n, b' ');
}

/// A number in at most 8 characters, as the EDF writer formats it.
fn number(v: f64) -> String {
    let plain = format!("{v}");
    if plain.len() <= 8 {
        return plain;
    }
    (0..=7usize)
        .rev()
        .map(|d| format!("{v:.d$}"))
        .find(|s| s.len() <= 8)
        .unwrap_or(plain)
}

const MONTHS: [&str; 12] = [
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];

/// One signal's header columns.
struct Column {
    label: String,
    unit: String,
    physical: (f64, f64),
    digital: (i32, i32),
    spr: usize,
}

fn header(spec: &EdfSpec<'_>, cols: &[Column]) -> Vec<u8> {
    let (y, mo, d, h, mi, s) = spec.start;
    let mut out = Vec::with_capacity(256 * (cols.len() + 1));
    out.extend_from_slice(b"0       ");
    text(&mut out, spec.patient, 80);
    let recording = if spec.plus != Plus::None && !spec.recording.starts_with("Startdate ") {
        let mon = MONTHS[usize::from(mo.clamp(1, 12) - 1)];
        let rest = if spec.recording.is_empty() {
            "X X X"
        } else {
            spec.recording
        };
        format!("Startdate {d:02}-{mon}-{y:04} {rest}")
    } else {
        spec.recording.to_string()
    };
    text(&mut out, &recording, 80);
    text(&mut out, &format!("{d:02}.{mo:02}.{:02}", y % 100), 8);
    text(&mut out, &format!("{h:02}.{mi:02}.{s:02}"), 8);
    text(&mut out, &(256 * (cols.len() + 1)).to_string(), 8);
    let reserved = match spec.plus {
        Plus::None => "",
        Plus::Continuous => "EDF+C",
        Plus::Discontinuous => "EDF+D",
    };
    text(&mut out, reserved, 44);
    text(&mut out, &spec.n_records.to_string(), 8);
    text(&mut out, "1", 8);
    text(&mut out, &cols.len().to_string(), 4);
    type Field = fn(&Column) -> (String, usize);
    let fields: [Field; 10] = [
        |c| (c.label.clone(), 16),
        |_| (String::new(), 80),
        |c| (c.unit.clone(), 8),
        |c| (number(c.physical.0), 8),
        |c| (number(c.physical.1), 8),
        |c| (c.digital.0.to_string(), 8),
        |c| (c.digital.1.to_string(), 8),
        |_| (String::new(), 80),
        |c| (c.spr.to_string(), 8),
        |_| (String::new(), 32),
    ];
    for f in fields {
        for c in cols {
            let (v, w) = f(c);
            text(&mut out, &v, w);
        }
    }
    out
}

/// The time-stamped annotation lists of one record, zero-padded to `len` bytes.
fn tals(onset: f64, annotations: &[Annotation], len: usize) -> Vec<u8> {
    let sign = |v: f64| if v < 0.0 { "-" } else { "+" };
    let mut b = format!("{}{}\x14\x14\0", sign(onset), onset.abs()).into_bytes();
    for a in annotations {
        b.extend_from_slice(format!("{}{}", sign(a.onset), a.onset.abs()).as_bytes());
        if let Some(d) = a.duration {
            b.push(0x15);
            b.extend_from_slice(d.to_string().as_bytes());
        }
        b.push(0x14);
        b.extend_from_slice(a.text.as_bytes());
        b.extend_from_slice(b"\x14\0");
    }
    b.resize(len.max(b.len()), 0);
    b
}

/// The bytes of an EDF file; `digital(c, k)` gives data signal `c`'s value at global sample `k`
/// (saturated to 16 bits).
pub fn edf_bytes(spec: &EdfSpec<'_>, digital: impl Fn(usize, usize) -> i32) -> Vec<u8> {
    let mut cols: Vec<Column> = spec
        .signals
        .iter()
        .map(|(label, unit, spr)| Column {
            label: (*label).to_string(),
            unit: (*unit).to_string(),
            physical: (-3276.8, 3276.7),
            digital: (-32768, 32767),
            spr: *spr,
        })
        .collect();
    let n = spec.onsets.map_or(spec.n_records, <[f64]>::len);
    let spec = &EdfSpec {
        n_records: n,
        ..spec.clone()
    };
    if spec.plus != Plus::None {
        cols.push(Column {
            label: "EDF Annotations".into(),
            unit: String::new(),
            physical: (-1.0, 1.0),
            digital: (-32768, 32767),
            spr: spec.annotation_bytes.div_ceil(2),
        });
    }
    let mut out = header(spec, &cols);
    for r in 0..n {
        for (c, (_, _, spr)) in spec.signals.iter().enumerate() {
            for k in 0..*spr {
                let v = digital(c, r * spr + k).clamp(-32768, 32767) as i16;
                out.extend_from_slice(&v.to_le_bytes());
            }
        }
        if spec.plus != Plus::None {
            let onset = spec.onsets.map_or(r as f64, |o| o[r]);
            let here = if r == 0 { spec.annotations } else { &[] };
            out.extend_from_slice(&tals(onset, here, spec.annotation_bytes.div_ceil(2) * 2));
        }
    }
    out
}
