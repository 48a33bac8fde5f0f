//! One data record: the unit of streaming.

use std::io;

use crate::Header;
use crate::error::DecodeError;
use crate::header::Variant;

/// One annotation from a time-stamped annotation list (TAL).
#[derive(Clone, Debug, PartialEq)]
pub struct Annotation {
    /// Onset in seconds relative to the header start date/time (as stored in the TAL).
    pub onset: f64,
    /// Duration in seconds; `None` when the TAL has none.
    pub duration: Option<f64>,
    /// Text (UTF-8).
    pub text: String,
}

/// The annotations of one data record.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RecordAnnotations {
    /// Onset of the record (its time-keeping TAL), seconds from the header start; `None` when
    /// the file has no annotation signal.
    pub onset: Option<f64>,
    /// Every annotation with text, in file order.
    pub annotations: Vec<Annotation>,
}

/// One data record's raw bytes, reused between reads.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Record {
    pub(crate) buf: Vec<u8>,
    pub(crate) index: u64,
}

impl Record {
    /// The raw bytes of the record.
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf
    }

    /// Mutable raw bytes (for writers building a record in place).
    pub fn as_bytes_mut(&mut self) -> &mut Vec<u8> {
        &mut self.buf
    }

    /// Index of this record in the file (0-based).
    pub fn index(&self) -> u64 {
        self.index
    }

    /// Sets the record index (used by writers and seeking readers).
    pub fn set_index(&mut self, index: u64) {
        self.index = index;
    }

    /// This record as a borrowed [`RecordRef`].
    pub fn as_record_ref(&self) -> RecordRef<'_> {
        RecordRef {
            bytes: &self.buf,
            index: self.index,
        }
    }

    /// Appends signal `signal`'s digital samples to `out`.
    pub fn read_digital(&self, header: &Header, signal: usize, out: &mut Vec<i32>) {
        self.as_record_ref().read_digital(header, signal, out);
    }

    /// Appends signal `signal`'s physical values (gain × digital + offset, in float64) to `out`.
    pub fn read_physical(&self, header: &Header, signal: usize, out: &mut Vec<f64>) {
        self.as_record_ref().read_physical(header, signal, out);
    }

    /// Writes signal `signal`'s physical values multiplied by `factor` into `out` as float32
    /// (see [`RecordRef::decode_f32`]).
    pub fn decode_f32(&self, header: &Header, signal: usize, factor: f64, out: &mut [f32]) {
        self.as_record_ref().decode_f32(header, signal, factor, out);
    }

    /// Decodes the annotation signals of this record (see [`RecordRef::annotations`]).
    pub fn annotations(&self, header: &Header) -> io::Result<RecordAnnotations> {
        self.as_record_ref().annotations(header)
    }
}

/// A borrowed data record: the bytes of one record, e.g. a slice of a memory-mapped file.
/// Same decoding methods as [`Record`], without a copy.
#[derive(Clone, Copy, Debug)]
pub struct RecordRef<'a> {
    bytes: &'a [u8],
    index: u64,
}

impl<'a> RecordRef<'a> {
    /// A record over `bytes` (one record, `header.record_len()` long) with index `index`.
    pub fn new(bytes: &'a [u8], index: u64) -> Self {
        RecordRef { bytes, index }
    }

    /// Index of this record in the file (0-based).
    pub fn index(&self) -> u64 {
        self.index
    }

    /// The raw bytes.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.bytes
    }

    fn signal_bytes(&self, header: &Header, signal: usize) -> &'a [u8] {
        let r = header.signal_range(signal);
        self.bytes.get(r).unwrap_or(&[])
    }

    /// Appends signal `signal`'s digital samples to `out`.
    pub fn read_digital(&self, header: &Header, signal: usize, out: &mut Vec<i32>) {
        let b = self.signal_bytes(header, signal);
        match header.variant {
            Variant::Edf => out.extend(
                b.chunks_exact(2)
                    .map(|c| i32::from(i16::from_le_bytes([c[0], c[1]]))),
            ),
            Variant::Bdf => out.extend(
                b.chunks_exact(3)
                    .map(|c| i32::from_le_bytes([0, c[0], c[1], c[2]]) >> 8),
            ),
        }
    }

    /// Appends signal `signal`'s physical values (gain × digital + offset, in float64) to `out`.
    pub fn read_physical(&self, header: &Header, signal: usize, out: &mut Vec<f64>) {
        let Some(s) = header.signals.get(signal) else {
            return;
        };
        let (g, o) = (s.gain(), s.offset());
        let b = self.signal_bytes(header, signal);
        match header.variant {
            Variant::Edf => out.extend(
                b.chunks_exact(2)
                    .map(|c| g * f64::from(i16::from_le_bytes([c[0], c[1]])) + o),
            ),
            Variant::Bdf => out.extend(
                b.chunks_exact(3)
                    .map(|c| g * f64::from(i32::from_le_bytes([0, c[0], c[1], c[2]]) >> 8) + o),
            ),
        }
    }

    /// Writes signal `signal`'s physical values multiplied by `factor` into `out` as float32
    /// (scaled in float64, rounded once). `out` must hold exactly the signal's samples per record.
    ///
    /// This is the canonical fast path (e.g. `factor` = 1e6 for a signal in V to store µV).
    pub fn decode_f32(&self, header: &Header, signal: usize, factor: f64, out: &mut [f32]) {
        let Some(s) = header.signals.get(signal) else {
            return;
        };
        let g = s.gain() * factor;
        let o = s.offset() * factor;
        let b = self.signal_bytes(header, signal);
        decode_f32_dispatch(header.variant, b, g, o, out);
    }

    /// Decodes the annotation signals of this record. The first TAL of the first annotation
    /// signal is the time-keeping TAL: its onset is the record's onset and it carries no text.
    pub fn annotations(&self, header: &Header) -> io::Result<RecordAnnotations> {
        let mut out = RecordAnnotations::default();
        let mut first = true;
        for (i, s) in header.signals.iter().enumerate() {
            if !s.is_annotation() {
                continue;
            }
            let bytes = self.signal_bytes(header, i);
            parse_tals(bytes, self.index, i, first, &mut out)?;
            if first && out.onset.is_none() {
                return Err(DecodeError::MissingTimekeeping { record: self.index }.into());
            }
            first = false;
        }
        Ok(out)
    }
}

#[inline(always)]
fn kernel(variant: Variant, b: &[u8], g: f64, o: f64, out: &mut [f32]) {
    match variant {
        Variant::Edf => {
            for (dst, c) in out.iter_mut().zip(b.chunks_exact(2)) {
                *dst = (g * f64::from(i16::from_le_bytes([c[0], c[1]])) + o) as f32;
            }
        }
        Variant::Bdf => {
            for (dst, c) in out.iter_mut().zip(b.chunks_exact(3)) {
                let d = i32::from_le_bytes([0, c[0], c[1], c[2]]) >> 8;
                *dst = (g * f64::from(d) + o) as f32;
            }
        }
    }
}

// The same loop compiled for AVX2 (wider i16 → f64 conversion and multiply). FMA stays off so
// every machine rounds exactly as the scalar loop: results do not depend on the CPU.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn kernel_avx2(variant: Variant, b: &[u8], g: f64, o: f64, out: &mut [f32]) {
    kernel(variant, b, g, o, out);
}

fn decode_f32_dispatch(variant: Variant, b: &[u8], g: f64, o: f64, out: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports AVX2 (checked just above).
            unsafe { kernel_avx2(variant, b, g, o, out) };
            return;
        }
    }
    kernel(variant, b, g, o, out);
}

fn parse_seconds(b: &[u8], signed: bool) -> Option<f64> {
    let s = std::str::from_utf8(b).ok()?;
    let body = if signed {
        match s.as_bytes().first() {
            Some(b'+') | Some(b'-') => &s[1..],
            _ => return None,
        }
    } else {
        s
    };
    if body.is_empty()
        || !body.bytes().all(|c| c.is_ascii_digit() || c == b'.')
        || body.bytes().filter(|&c| c == b'.').count() > 1
        || !body.bytes().any(|c| c.is_ascii_digit())
    {
        return None;
    }
    let v: f64 = body.parse().ok()?;
    Some(if s.starts_with('-') { -v } else { v })
}

/// Parses the TALs in one annotation signal's bytes.
///
/// A TAL is `+onset[\x15duration]\x14text\x14text\x14...\x00`; unused bytes after the last TAL
/// are zero. In the time-keeping TAL (`first_signal`, first TAL) the first text is empty.
pub(crate) fn parse_tals(
    bytes: &[u8],
    record: u64,
    signal: usize,
    first_signal: bool,
    out: &mut RecordAnnotations,
) -> io::Result<()> {
    let mut pos = 0usize;
    let mut first_tal = true;
    let err = |offset: usize, reason: &'static str| -> io::Error {
        DecodeError::InvalidTal {
            record,
            signal,
            offset,
            reason,
        }
        .into()
    };
    while pos < bytes.len() && bytes[pos] != 0 {
        let end = bytes[pos..]
            .iter()
            .position(|&b| b == 0)
            .map_or(bytes.len(), |p| pos + p);
        let tal = &bytes[pos..end];
        // onset[\x15duration] up to the first \x14
        let Some(head_end) = tal.iter().position(|&b| b == 0x14) else {
            return Err(err(pos, "no 0x14 after the onset"));
        };
        let head = &tal[..head_end];
        let (onset_b, dur_b) = match head.iter().position(|&b| b == 0x15) {
            Some(p) => (&head[..p], Some(&head[p + 1..])),
            None => (head, None),
        };
        let onset = parse_seconds(onset_b, true)
            .ok_or_else(|| err(pos, "onset is not +seconds or -seconds"))?;
        let duration = match dur_b {
            // An empty duration field after 0x15 is read as no duration.
            Some([]) => None,
            Some(d) => Some(
                parse_seconds(d, false)
                    .ok_or_else(|| err(pos, "duration is not a number of seconds"))?,
            ),
            None => None,
        };
        let texts = &tal[head_end + 1..];
        let mut parts: Vec<&[u8]> = texts.split(|&b| b == 0x14).collect();
        // The text list ends with 0x14, so the last split part is empty.
        if parts.last().is_some_and(|p| p.is_empty()) {
            parts.pop();
        }
        let timekeeping = first_signal && first_tal;
        if timekeeping {
            out.onset = Some(onset);
        }
        for (k, t) in parts.iter().enumerate() {
            if timekeeping && k == 0 {
                continue;
            }
            if t.is_empty() {
                continue;
            }
            out.annotations.push(Annotation {
                onset,
                duration,
                text: String::from_utf8_lossy(t).into_owned(),
            });
        }
        first_tal = false;
        pos = end + 1;
    }
    Ok(())
}

/// Encodes TALs for one record's annotation signal: the time-keeping TAL at `record_onset`
/// followed by `annotations`, zero-padded to `len` bytes.
pub fn encode_tals(
    record_onset: f64,
    annotations: &[Annotation],
    len: usize,
) -> io::Result<Vec<u8>> {
    let mut b = Vec::with_capacity(len);
    let num = |v: f64| {
        let s = format!("{v}");
        s
    };
    let sign = |v: f64| if v < 0.0 { "-" } else { "+" };
    b.extend_from_slice(
        format!(
            "{}{}\x14\x14\0",
            sign(record_onset),
            num(record_onset.abs())
        )
        .as_bytes(),
    );
    for a in annotations {
        b.extend_from_slice(format!("{}{}", sign(a.onset), num(a.onset.abs())).as_bytes());
        if let Some(d) = a.duration {
            b.push(0x15);
            b.extend_from_slice(num(d).as_bytes());
        }
        b.push(0x14);
        b.extend_from_slice(a.text.as_bytes());
        b.extend_from_slice(b"\x14\0");
    }
    if b.len() > len {
        return Err(DecodeError::Unwritable {
            field: "annotations",
            reason: format!("{} bytes of tals do not fit in {len}", b.len()),
        }
        .into());
    }
    b.resize(len, 0);
    Ok(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tals() {
        let b = b"+0.5\x14\x14\0+1.25\x150.5\x14spike\x14second\x14\0+2\x14\xe4\xb8\xad\x14\0\0\0";
        let mut out = RecordAnnotations::default();
        parse_tals(b, 0, 1, true, &mut out).unwrap();
        assert_eq!(out.onset, Some(0.5));
        assert_eq!(out.annotations.len(), 3);
        assert_eq!(out.annotations[0].duration, Some(0.5));
        assert_eq!(out.annotations[1].text, "second");
        assert_eq!(out.annotations[2].text, "中");
        assert_eq!(out.annotations[2].duration, None);
    }

    #[test]
    fn bad_tals() {
        for b in [
            &b"0.5\x14\x14\0"[..],
            b"+x\x14\x14\0",
            b"+1",
            b"+1\x15abc\x14\x14\0",
        ] {
            let mut out = RecordAnnotations::default();
            let e = parse_tals(b, 3, 1, true, &mut out).unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::InvalidData);
            assert!(e.to_string().contains("record 3"), "{e}");
        }
    }

    #[test]
    fn encode_roundtrip() {
        let a = vec![Annotation {
            onset: -1.5,
            duration: Some(2.0),
            text: "x".into(),
        }];
        let b = encode_tals(3.0, &a, 40).unwrap();
        let mut out = RecordAnnotations::default();
        parse_tals(&b, 0, 0, true, &mut out).unwrap();
        assert_eq!(out.onset, Some(3.0));
        assert_eq!(out.annotations, a);
        assert!(encode_tals(3.0, &a, 10).is_err());
    }
}
