//! The shard error type.

use std::path::PathBuf;

/// Errors of the shard container.
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
    /// A sample or member name is not allowed.
    #[error("invalid name {name:?}: {reason}")]
    InvalidName {
        /// The name.
        name: String,
        /// Why.
        reason: &'static str,
    },
    /// A value could not be encoded.
    #[error("encoding: {0}")]
    Encode(String),
    /// A `.npy` member could not be decoded.
    #[error("npy: {0}")]
    Npy(String),
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
}

/// Result with the shard [`Error`].
pub type Result<T> = std::result::Result<T, Error>;
