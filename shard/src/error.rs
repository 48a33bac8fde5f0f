//! The shard error type.

use std::path::PathBuf;

/// Errors of the shard container.
///
/// Variants that wrap another error keep it as their `source` and leave it out of their own
/// message, so an error chain printed with `{:#}` names each cause once.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An I/O error on a path.
    #[error("{}", path.display())]
    Io {
        /// The path.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A shard, index or manifest is malformed.
    #[error("{}: {message}", path.display())]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// Another run holds the lock of the output folder.
    #[error(
        "{} is held by another bomdata run ({holder}); wait for it to end or use another --out",
        path.display()
    )]
    Locked {
        /// The lock file.
        path: PathBuf,
        /// Who holds it: host, process ID and role, as written in the lock file.
        holder: String,
    },
    /// A sample or member name is not allowed.
    #[error("invalid name {name:?}: {reason}")]
    InvalidName {
        /// The name.
        name: String,
        /// Why.
        reason: &'static str,
    },
    /// A value could not be serialised as JSON.
    #[error("encoding {what} as JSON")]
    Json {
        /// What was being encoded (`manifest`, `index`, `member`, ...).
        what: &'static str,
        /// The serde error.
        source: serde_json::Error,
    },
    /// zstd compression failed.
    #[error("zstd compression at level {level}")]
    Compress {
        /// The compression level.
        level: i32,
        /// The zstd error.
        source: std::io::Error,
    },
    /// A sample was written while no shard was open (a writer bug, never input data).
    #[error("shard writer has no open shard")]
    NoOpenShard,
    /// The subjects table could not be laid out as an Arrow batch.
    #[cfg(feature = "subjects")]
    #[error("building the subjects table")]
    Arrow(#[source] arrow_schema::ArrowError),
    /// The subjects table could not be written as Parquet.
    #[cfg(feature = "subjects")]
    #[error("writing the subjects table as Parquet")]
    Parquet(#[source] parquet::errors::ParquetError),
    /// A `.npy` array could not be encoded or decoded.
    #[error("npy: {0}")]
    Npy(NpyError),
}

/// What is wrong with a `.npy` array (see [`crate::npy`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NpyError {
    /// The bytes do not start with the `.npy` magic.
    #[error("not a .npy file (bad magic)")]
    BadMagic,
    /// The header is cut short.
    #[error("truncated header")]
    TruncatedHeader,
    /// A format version this reader does not know.
    #[error("unsupported version {0}")]
    Version(u8),
    /// The header dictionary is not UTF-8.
    #[error("header is not text")]
    HeaderNotText,
    /// The header dictionary lacks a key.
    #[error("header lacks {0}")]
    MissingField(&'static str),
    /// The `descr` entry is not a quoted string.
    #[error("bad descr")]
    BadDescr,
    /// A dtype this crate does not read.
    #[error("unsupported dtype {0}")]
    UnsupportedDtype(String),
    /// Fortran-ordered arrays are not read.
    #[error("fortran order is not supported")]
    FortranOrder,
    /// The `shape` entry is not a tuple.
    #[error("bad shape")]
    BadShape,
    /// A `shape` entry is not a non-negative integer.
    #[error("bad shape entry {0}")]
    BadShapeEntry(String),
    /// The element count times the element size overflows.
    #[error("shape overflows")]
    ShapeOverflow,
    /// Fewer data bytes than the header's shape needs.
    #[error("data truncated: need {need} bytes, have {have}")]
    Truncated {
        /// Bytes the shape needs.
        need: usize,
        /// Bytes present.
        have: usize,
    },
    /// Data given for encoding does not match the shape.
    #[error("shape {shape:?} of {dtype} needs {need} bytes, got {got}")]
    DataLength {
        /// The shape.
        shape: Vec<usize>,
        /// The dtype name.
        dtype: &'static str,
        /// Bytes the shape needs.
        need: usize,
        /// Bytes given.
        got: usize,
    },
}

impl From<NpyError> for Error {
    fn from(e: NpyError) -> Self {
        Error::Npy(e)
    }
}

impl Error {
    /// An [`Error::Io`] for `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    /// An [`Error::Corrupt`] for `path`.
    pub fn corrupt(path: impl Into<PathBuf>, message: impl std::fmt::Display) -> Self {
        Error::Corrupt {
            path: path.into(),
            message: message.to_string(),
        }
    }

    /// An [`Error::Json`] for `what`.
    pub fn json(what: &'static str) -> impl FnOnce(serde_json::Error) -> Self {
        move |source| Error::Json { what, source }
    }
}

/// Result with the shard [`Error`].
pub type Result<T> = std::result::Result<T, Error>;
