//! Typed decode errors, wrapped in `io::Error` with `ErrorKind::InvalidData`.

use std::io;

/// What is wrong with an EDF/BDF file. Each message is one lowercase line naming the field,
/// signal, record or byte offset concerned.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The version field is neither `0` (EDF) nor `\xffBIOSEMI` (BDF).
    #[error(
        "unknown version field {0:?} at byte 0 (expected \"0\" for edf or \"\\xffBIOSEMI\" for bdf)"
    )]
    InvalidVersion(String),
    /// A header field that must be a number is not one.
    #[error("header field {field}{} at byte {offset} is not a valid number: {value:?}", signal_suffix(*.signal))]
    InvalidNumber {
        /// Field name (EDF spec wording).
        field: &'static str,
        /// Signal index for per-signal fields.
        signal: Option<usize>,
        /// Byte offset of the field in the file.
        offset: u64,
        /// The field text.
        value: String,
    },
    /// A header field holds a number outside its allowed range.
    #[error("header field {field}{} at byte {offset} is out of range: {value} ({reason})", signal_suffix(*.signal))]
    OutOfRange {
        /// Field name.
        field: &'static str,
        /// Signal index for per-signal fields.
        signal: Option<usize>,
        /// Byte offset of the field in the file.
        offset: u64,
        /// The value.
        value: String,
        /// Why it is refused.
        reason: &'static str,
    },
    /// The header is shorter than its own size fields say.
    #[error("header truncated: {expected} bytes expected, {actual} present")]
    TruncatedHeader {
        /// Bytes the header should have.
        expected: u64,
        /// Bytes present.
        actual: u64,
    },
    /// The file size does not match the header's record count and record size.
    #[error(
        "file size {file_len} does not match the header: {n_records} records of {record_len} bytes after a {header_len}-byte header need {expected} bytes"
    )]
    SizeMismatch {
        /// File length in bytes.
        file_len: u64,
        /// Header length in bytes.
        header_len: u64,
        /// Number of data records in the header.
        n_records: u64,
        /// Bytes per data record from the samples-per-record fields.
        record_len: u64,
        /// Expected file length.
        expected: u64,
    },
    /// The data ended inside a record that is not the last one.
    #[error(
        "data truncated in record {record} at byte {offset}: the header announces {n_records} records"
    )]
    TruncatedData {
        /// Index of the record.
        record: u64,
        /// Byte offset where the data ended.
        offset: u64,
        /// Records the header announces.
        n_records: u64,
    },
    /// A time-stamped annotation list (TAL) is malformed.
    #[error(
        "invalid annotation (tal) in record {record}, signal {signal}, byte {offset} of the signal: {reason}"
    )]
    InvalidTal {
        /// Record index.
        record: u64,
        /// Annotation signal index.
        signal: usize,
        /// Byte offset inside the signal's part of the record.
        offset: usize,
        /// What is wrong.
        reason: &'static str,
    },
    /// An EDF+/BDF+ record lacks its time-keeping annotation.
    #[error("record {record} has no time-keeping annotation (edf+ requires one in each record)")]
    MissingTimekeeping {
        /// Record index.
        record: u64,
    },
    /// A value cannot be written into an EDF header field.
    #[error("cannot write header field {field}: {reason}")]
    Unwritable {
        /// Field name.
        field: &'static str,
        /// Why.
        reason: String,
    },
}

fn signal_suffix(signal: Option<usize>) -> String {
    signal
        .map(|s| format!(" of signal {s}"))
        .unwrap_or_default()
}

impl From<DecodeError> for io::Error {
    fn from(e: DecodeError) -> Self {
        io::Error::new(io::ErrorKind::InvalidData, e)
    }
}
