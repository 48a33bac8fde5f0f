//! [`Writer`]: writes a header, then data records.

use std::io::{self, Write};

use crate::Header;
use crate::error::DecodeError;
use crate::header::Variant;
use crate::record::{Annotation, encode_tals};

/// An EDF/BDF/EDF+ writer. [`Writer::finish`] checks that as many records were written as the
/// header announced.
#[derive(Debug)]
pub struct Writer<W> {
    inner: W,
    records: u64,
    expected: Option<u64>,
    buf: Vec<u8>,
}

impl<W: Write> Writer<W> {
    /// A writer over `inner`.
    pub fn new(inner: W) -> Self {
        Writer {
            inner,
            records: 0,
            expected: None,
            buf: Vec::new(),
        }
    }

    /// The inner writer.
    pub fn get_ref(&self) -> &W {
        &self.inner
    }

    /// Writes the header.
    pub fn write_header(&mut self, header: &Header) -> io::Result<()> {
        self.inner.write_all(&header.to_bytes()?)?;
        self.expected = header.n_records;
        self.records = 0;
        Ok(())
    }

    /// Writes one data record from digital samples, one slice per data signal (annotation
    /// signals skipped), each of exactly that signal's samples per record. For EDF+/BDF+ the
    /// time-keeping TAL (record onset = index × duration) and `annotations` fill the first
    /// annotation signal.
    pub fn write_digital_record(
        &mut self,
        header: &Header,
        digital: &[&[i32]],
        annotations: &[Annotation],
    ) -> io::Result<()> {
        let onset = self.records as f64 * header.record_duration;
        self.write_digital_record_at(header, onset, digital, annotations)
    }

    /// As [`Writer::write_digital_record`] with an explicit record onset (EDF+D).
    pub fn write_digital_record_at(
        &mut self,
        header: &Header,
        onset: f64,
        digital: &[&[i32]],
        annotations: &[Annotation],
    ) -> io::Result<()> {
        self.buf.clear();
        let bps = header.variant.bytes_per_sample();
        let mut data = digital.iter();
        let mut first_ann = true;
        for s in &header.signals {
            if s.is_annotation() {
                let len = s.samples_per_record * bps;
                let tal = if first_ann {
                    encode_tals(onset, annotations, len)?
                } else {
                    vec![0; len]
                };
                first_ann = false;
                self.buf.extend_from_slice(&tal);
                continue;
            }
            let Some(samples) = data.next() else {
                return Err(DecodeError::Unwritable {
                    field: "data record",
                    reason: "fewer sample slices than data signals".into(),
                }
                .into());
            };
            if samples.len() != s.samples_per_record {
                return Err(DecodeError::Unwritable {
                    field: "data record",
                    reason: format!(
                        "signal {:?} needs {} samples, got {}",
                        s.label,
                        s.samples_per_record,
                        samples.len()
                    ),
                }
                .into());
            }
            match header.variant {
                Variant::Edf => {
                    for &v in *samples {
                        let v = v.clamp(-32768, 32767) as i16;
                        self.buf.extend_from_slice(&v.to_le_bytes());
                    }
                }
                Variant::Bdf => {
                    for &v in *samples {
                        let v = v.clamp(-8_388_608, 8_388_607);
                        self.buf.extend_from_slice(&v.to_le_bytes()[..3]);
                    }
                }
            }
        }
        self.inner.write_all(&self.buf)?;
        self.records += 1;
        Ok(())
    }

    /// Writes raw record bytes (must be `header.record_len()` long).
    pub fn write_raw_record(&mut self, header: &Header, bytes: &[u8]) -> io::Result<()> {
        if bytes.len() != header.record_len() {
            return Err(DecodeError::Unwritable {
                field: "data record",
                reason: format!(
                    "{} bytes, the header needs {}",
                    bytes.len(),
                    header.record_len()
                ),
            }
            .into());
        }
        self.inner.write_all(bytes)?;
        self.records += 1;
        Ok(())
    }

    /// Flushes and checks the record count; returns the inner writer.
    pub fn finish(mut self) -> io::Result<W> {
        self.inner.flush()?;
        if let Some(n) = self.expected
            && n != self.records
        {
            return Err(DecodeError::Unwritable {
                field: "number of data records",
                reason: format!("header announces {n}, {} written", self.records),
            }
            .into());
        }
        Ok(self.inner)
    }
}
