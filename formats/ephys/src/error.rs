//! The typed error inside every `io::ErrorKind::InvalidData` this crate returns.

use std::io;
use std::path::PathBuf;

/// What is wrong with an electrophysiology input, and where.
///
/// The per-format variants hold one lowercase line that already names the file part,
/// field, tag or byte offset (it is the whole message, as written to ingest reports).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A BrainVision header (`.vhdr`), marker file (`.vmrk`) or data file is malformed.
    #[error("{0}")]
    BrainVision(String),
    /// An EEGLAB `.set` (v5 MAT-file or v7.3 HDF5) or its `.fdt` is malformed.
    #[error("{0}")]
    Eeglab(String),
    /// A MATLAB 5.0 MAT-file container is malformed.
    #[error("{0}")]
    Mat(String),
    /// A FIF file is malformed or uses a feature this reader does not support.
    #[error("{0}")]
    Fif(String),
    /// An NWB (HDF5) file is malformed or lacks a required group or attribute.
    #[error("{0}")]
    Nwb(String),
    /// The file is none of the formats this build can open.
    #[error("{}: not a brainvision, eeglab, fif or nwb file this build can read", path.display())]
    NotRecognized {
        /// The file.
        path: PathBuf,
    },
    /// The file is none of the formats this build can probe.
    #[error(
        "{}: not a brainvision (.vhdr), eeglab (.set), fif (.fif) or nwb (.nwb) file this build reads",
        path.display()
    )]
    NotProbeable {
        /// The file.
        path: PathBuf,
    },
    /// A text or MAT file that is read whole is larger than accepted.
    #[error("{what} {} is {len} bytes, more than the {limit} accepted", path.display())]
    TooLarge {
        /// What the file is (`vhdr file`, `eeglab set file`, ...).
        what: String,
        /// The file.
        path: PathBuf,
        /// Its size in bytes.
        len: u64,
        /// The accepted maximum in bytes.
        limit: u64,
    },
}

impl Error {
    /// Wraps the error as `io::ErrorKind::InvalidData`.
    pub fn into_io(self) -> io::Error {
        io::Error::new(io::ErrorKind::InvalidData, self)
    }
}

impl From<Error> for io::Error {
    fn from(e: Error) -> Self {
        e.into_io()
    }
}

/// Shorthand: an `InvalidData` error built from a variant constructor and a message.
pub(crate) fn invalid(make: fn(String) -> Error, msg: impl Into<String>) -> io::Error {
    make(msg.into()).into_io()
}
