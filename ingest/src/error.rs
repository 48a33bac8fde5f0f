//! The ingest error type.

use std::path::PathBuf;

/// Errors of the ingest crate. Each names the file it is about.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An input file could not be read or is malformed.
    #[error("{}: {message}", path.display())]
    Input {
        /// The file.
        path: PathBuf,
        /// What is wrong, one line.
        message: String,
    },
    /// An I/O error on a path.
    #[error("{}", path.display())]
    Io {
        /// The path.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The registry (`datasets.toml`) is invalid or names something unknown.
    #[error("registry: {0}")]
    Registry(String),
    /// No pseudonymisation key was given.
    #[error(
        "no pseudonymisation key: give --key-file or BOMDATA_KEY, or --allow-unkeyed for public data"
    )]
    NoKey,
    /// Writing the dataset failed.
    #[error("writing dataset")]
    Shard(#[from] bomdata_shard::Error),
    /// A table part could not be built from what an adapter gave.
    #[error("table part")]
    TablePart(#[from] crate::tables::PartError),
    /// The output folder holds a run with other byte-changing options (key, source, ...).
    #[error(
        "{} holds a run made with other options ({}); resume with the same options, or start fresh with --overwrite (removes that dataset) or another --out",
        out.display(),
        fields.join(", ")
    )]
    FingerprintMismatch {
        /// The output folder.
        out: PathBuf,
        /// The fields that differ.
        fields: Vec<String>,
    },
    /// The output folder holds something that is not this run's own state or output.
    #[error(
        "{} is not an output folder of this run: it holds {}; give an empty or new --out (or --overwrite to replace an earlier bomdata dataset)",
        out.display(),
        entries.join(", ")
    )]
    ForeignOutput {
        /// The output folder.
        out: PathBuf,
        /// The entries that do not belong.
        entries: Vec<String>,
    },
    /// A DICOM instance says its pixels show burned-in text (BurnedInAnnotation `YES`).
    #[error(
        "{}: BurnedInAnnotation is YES (the pixels may show patient text); the series is refused; after checking the images, --allow-burned-in accepts it",
        path.display()
    )]
    BurnedInAnnotation {
        /// The instance.
        path: PathBuf,
    },
    /// The `--profile` run at ingest time failed on a sample (see [`crate::transform`]).
    #[error("profile {profile} on {key}: {source}")]
    Transform {
        /// The profile.
        profile: String,
        /// The sample's key.
        key: String,
        /// The profile's error.
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// Anything else, with a one-line message.
    #[error("{0}")]
    Other(String),
}

impl Error {
    /// An [`Error::Input`] for `path`.
    pub fn input(path: impl Into<PathBuf>, message: impl std::fmt::Display) -> Self {
        Error::Input {
            path: path.into(),
            message: message.to_string(),
        }
    }

    /// An [`Error::Io`] for `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}

/// Result with the ingest [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

/// The error and all its sources on one line, `outer: inner: innermost`.
pub fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let t = c.to_string();
        if !s.ends_with(&t) {
            s.push_str(": ");
            s.push_str(&t);
        }
        cur = c.source();
    }
    s
}
