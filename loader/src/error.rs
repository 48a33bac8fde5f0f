//! The loader error type.

use std::path::PathBuf;

/// Errors of the loader.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An I/O error on a path.
    #[error("{}: {source}", path.display())]
    Io {
        /// The path.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A manifest, index, shard or member is malformed.
    #[error("{}: {message}", path.display())]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The caller asked for something inconsistent (rank >= world, zero batch size, ...).
    #[error("invalid configuration: {0}")]
    Config(String),
    /// A saved state does not belong to this loader (different seed or plan).
    #[error("state mismatch: {0}")]
    State(String),
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

    /// An [`Error::Config`].
    pub fn config(message: impl std::fmt::Display) -> Self {
        Error::Config(message.to_string())
    }
}

impl From<Error> for std::io::Error {
    fn from(e: Error) -> Self {
        match e {
            Error::Io { source, .. } => source,
            other => std::io::Error::new(std::io::ErrorKind::InvalidData, other),
        }
    }
}

/// Result with the loader [`Error`].
pub type Result<T> = std::result::Result<T, Error>;
