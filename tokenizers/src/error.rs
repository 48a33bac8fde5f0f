//! The crate's error type.

use std::path::PathBuf;

use crate::config::SpecialToken;

/// Errors from building or applying a tokenizer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A byte of the input has no token under the configured policy.
    #[error("byte {byte:#04x} at offset {offset} is not in the vocabulary")]
    UnknownSymbol {
        /// Byte offset in the input.
        offset: usize,
        /// The offending byte.
        byte: u8,
    },
    /// A text tokenizer got bytes that are not UTF-8.
    #[error("input is not valid utf-8 at byte offset {offset}")]
    InvalidUtf8 {
        /// Byte offset of the first invalid byte.
        offset: usize,
    },
    /// A special token was requested that the model's vocabulary lacks.
    #[error("special token {token} is not in the {model} vocabulary")]
    MissingSpecial {
        /// The special token asked for.
        token: SpecialToken,
        /// The model kind (`char`, `kmer`, `byte`, `hf`).
        model: &'static str,
    },
    /// A configuration value is out of range or inconsistent.
    #[error("invalid tokenizer config: {0}")]
    InvalidConfig(String),
    /// A token id does not fit the storage dtype.
    #[error("token id {id} at index {index} does not fit {dtype}")]
    IdOutOfRange {
        /// The id.
        id: u32,
        /// Its index in the sequence.
        index: usize,
        /// The dtype name (`u8`, `u16`).
        dtype: &'static str,
    },
    /// Bytes of a stored id array are not a whole number of elements.
    #[error("{len} bytes is not a multiple of the {dtype} element size")]
    RaggedBytes {
        /// Byte length.
        len: usize,
        /// The dtype name.
        dtype: &'static str,
    },
    /// A retired built-in name that now stands for several variants; the message lists them.
    #[error("tokenizer {name:?} is ambiguous: name the variant, one of {}", variants.join(", "))]
    AmbiguousName {
        /// The name given.
        name: String,
        /// The variants, each `name (what it is for)`.
        variants: &'static [&'static str],
    },
    /// The name is neither a built-in tokenizer nor an existing file.
    #[error("unknown tokenizer {0:?}: not a built-in name nor a tokenizer.json path")]
    UnknownName(String),
    /// The config needs the `hf` cargo feature, which is off.
    #[error("hf tokenizers support is not compiled in (cargo feature `hf`)")]
    HfDisabled,
    /// The HF `tokenizers` library reported an error.
    #[error("hf tokenizers failed")]
    Hf(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// Reading or writing a file failed.
    #[error("i/o error on {path}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A JSON document could not be parsed or written.
    #[error("invalid json")]
    Json(#[from] serde_json::Error),
}

/// `Result` with this crate's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;
