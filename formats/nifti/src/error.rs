//! The decode error: one lowercase line naming the header field or position that is wrong.

use std::io;

/// Why a NIfTI file was refused.
///
/// Every variant is wrapped in an [`io::Error`] of kind [`io::ErrorKind::InvalidData`] by the
/// reader; [`io::Error::get_ref`] gives this value back for callers that branch on it.
#[derive(Debug, thiserror::Error, Clone, PartialEq)]
pub enum DecodeError {
    /// The stream ends before the fixed header does.
    #[error("header ends early: {got} of {need} bytes")]
    ShortHeader {
        /// Bytes read.
        got: usize,
        /// Bytes the header needs.
        need: usize,
    },
    /// `sizeof_hdr` is neither 348 nor 540 in either byte order.
    #[error("sizeof_hdr is {0}, expected 348 (nifti-1) or 540 (nifti-2) in either byte order")]
    SizeofHdr(i32),
    /// The magic string is not one of `n+1`, `ni1`, `n+2`, `ni2`.
    #[error("magic is {0:?}, expected \"n+1\"/\"ni1\" (nifti-1) or \"n+2\"/\"ni2\" (nifti-2)")]
    Magic(String),
    /// `dim[0]` is outside 1..=7.
    #[error("dim[0] is {0}, expected 1 to 7")]
    Rank(i64),
    /// A used `dim[i]` is negative.
    #[error("dim[{index}] is {value}, must not be negative")]
    NegativeDim {
        /// Index into `dim`.
        index: usize,
        /// Stored value.
        value: i64,
    },
    /// The data size overflows 64 bits.
    #[error("dim {0:?} makes the data size overflow 64 bits")]
    SizeOverflow(Vec<i64>),
    /// The datatype code is not one this reader decodes.
    #[error("datatype {0} is not a supported nifti datatype")]
    Datatype(i32),
    /// A 16-byte `long double` datatype, whose layout depends on the writing platform.
    #[error(
        "datatype {0} ({1}) is not decoded: its 16-byte long double is x87 extended or ieee binary128 depending on the writing platform"
    )]
    LongDouble(i32, &'static str),
    /// `vox_offset` is negative, not finite or not a whole number.
    #[error("vox_offset {0} is not a whole non-negative number")]
    VoxOffset(f64),
    /// `vox_offset` of a single-file image points inside the header.
    #[error("vox_offset {vox_offset} is inside the header (it must be at least {min})")]
    VoxOffsetInHeader {
        /// Stored value.
        vox_offset: u64,
        /// Smallest legal value.
        min: u64,
    },
    /// `vox_offset` points past the end of the file.
    #[error("vox_offset {vox_offset} is past the end of the file ({len} bytes)")]
    VoxOffsetPastEnd {
        /// Stored value.
        vox_offset: u64,
        /// File length (or the most a compressed file can expand to).
        len: u64,
    },
    /// The header declares more data than the file holds.
    #[error(
        "dim declares {need} data bytes from vox_offset {vox_offset} but the file holds at most {have}"
    )]
    DataTooLarge {
        /// Declared data bytes.
        need: u64,
        /// Start of the data.
        vox_offset: u64,
        /// What the file can hold after `vox_offset`.
        have: u64,
    },
    /// An extension header is malformed.
    #[error("extension {index} at byte {offset}: esize {esize} {reason}")]
    Extension {
        /// Index of the extension.
        index: usize,
        /// Byte offset of its `esize` field.
        offset: u64,
        /// Stored `esize`.
        esize: i64,
        /// What is wrong.
        reason: &'static str,
    },
    /// The stream ends early or fails to decompress before the data start.
    #[error("header or extensions cannot be read: {0}")]
    Corrupt(String),
    /// The data stream ends (or fails to decompress) before the declared data does.
    #[error("data ends early in volume {volume} of {n_volumes}: {cause}")]
    Truncated {
        /// The volume being read (0-based).
        volume: u64,
        /// Volumes the header declares.
        n_volumes: u64,
        /// The underlying error text.
        cause: String,
    },
}

impl From<DecodeError> for io::Error {
    fn from(e: DecodeError) -> Self {
        io::Error::new(io::ErrorKind::InvalidData, e)
    }
}
