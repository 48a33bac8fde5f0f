//! The loader error type.

use std::path::PathBuf;

/// Errors of the loader.
///
/// A wrapped error is the `source` and stays out of the variant's own message, so a chain printed
/// with `{:#}` (anyhow) names each cause once.
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
    /// The dataset container failed in another way (see `bomdata_shard::Error`).
    #[error("dataset container")]
    Container(#[source] bomdata_shard::Error),
    /// Padding a field to its batch's largest shape would take more than `factor` times the
    /// memory of the batch's largest row ([`crate::ShapePolicy::Pad`]).
    #[error(
        "field {field}: padding to {shape:?} needs more than {factor}x the largest row of the batch; use the bucket or list shape policy"
    )]
    PadTooLarge {
        /// The field.
        field: String,
        /// The padded shape asked for.
        shape: Vec<usize>,
        /// [`crate::shapes::MAX_PAD_FACTOR`].
        factor: usize,
    },
    /// A field's shape policy needs a planner it was not given (bucket batches).
    #[error(
        "field {field} has the bucket shape policy but the planner {problem}: build it with Planner::with_buckets over that field and use loader batch size 1 (the bucket batch is the unit)"
    )]
    Buckets {
        /// The field.
        field: String,
        /// What is wrong.
        problem: &'static str,
    },
    /// A dataset's filters leave none of its samples (or the dataset itself has none): a loader
    /// over it would read nothing.
    #[error(
        "{}: {} select none of its {total} samples; check the filter values against the dataset's manifest (splits, sources, modalities)",
        dataset.display(),
        if filters.is_empty() { "the dataset has no samples: its shards".to_string() } else { format!("the filters [{}]", filters.join("; ")) }
    )]
    EmptySelection {
        /// The dataset directory.
        dataset: PathBuf,
        /// The filters applied, in order ([`crate::Dataset::filters`]).
        filters: Vec<String>,
        /// Samples in the dataset before filtering.
        total: usize,
    },
    /// A field asked for (`LoaderOptions::fields`) is a member of no selected sample.
    #[error(
        "field {field:?} (the fields option) is not a member of any selected sample of {}; members there: {}",
        datasets.iter().map(|d| d.display().to_string()).collect::<Vec<_>>().join(", "),
        if present.is_empty() { "none".to_string() } else { present.join(", ") }
    )]
    NoSuchField {
        /// The field asked for.
        field: String,
        /// The datasets searched.
        datasets: Vec<PathBuf>,
        /// The member names (without `.zst`) the selected samples have.
        present: Vec<String>,
    },
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

impl From<bomdata_shard::Error> for Error {
    /// Container I/O and corruption errors keep their kind ([`Error::Io`], [`Error::Corrupt`]).
    fn from(e: bomdata_shard::Error) -> Self {
        match e {
            bomdata_shard::Error::Io { path, source } => Error::Io { path, source },
            bomdata_shard::Error::Corrupt { path, message } => Error::Corrupt { path, message },
            other => Error::Container(other),
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::error::Error as _;

    /// `{:#}` chains (anyhow) print the message, then each source: the I/O cause appears once.
    #[test]
    fn io_source_is_printed_once_in_a_chain() {
        let e = Error::io("/d/shards/x.tar", std::io::Error::other("boom"));
        let mut chain = e.to_string();
        let mut src = e.source();
        while let Some(s) = src {
            chain.push_str(": ");
            chain.push_str(&s.to_string());
            src = s.source();
        }
        assert_eq!(chain, "/d/shards/x.tar: boom");
    }

    #[test]
    fn container_errors_keep_their_kind() {
        let io = bomdata_shard::Error::io("/d/manifest", std::io::Error::other("gone"));
        assert!(matches!(Error::from(io), Error::Io { .. }));
        let c = bomdata_shard::Error::corrupt("/d/i.idx.json", "bad");
        assert!(matches!(Error::from(c), Error::Corrupt { .. }));
    }
}
