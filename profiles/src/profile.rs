//! The profile trait: turn canonical samples into what one model consumes.
//!
//! A profile is pure: the same canonical sample and parameters give the same output samples,
//! so `bomdata shard` is byte-reproducible. Every parameter is reported by
//! [`Profile::params`] and recorded in the training manifest. The profiles of this crate are
//! listed and built by name in [`crate::registry`].

use bomdata_shard::Sample;

use crate::{Error, Result};

/// The outcome of applying a profile to one canonical sample.
#[derive(Debug, Default)]
pub struct Applied {
    /// Model-ready samples (zero or more: windows, patches, ...).
    pub samples: Vec<Sample>,
    /// Why parts were rejected (one entry per rejection, counted in the report).
    pub rejected: Vec<Rejection>,
}

/// Why a profile made no sample from (part of) a canonical sample: the report's line
/// (`KEY: what (detail)`, read as a `str`) and its typed kind.
#[derive(Clone, Debug, PartialEq)]
pub struct Rejection {
    text: String,
    /// The rule that rejected it.
    pub kind: RejectKind,
}

/// The rule behind a [`Rejection`].
#[derive(Clone, Debug, PartialEq)]
pub enum RejectKind {
    /// The recording is shorter than the profile's minimum duration.
    TooShort {
        /// The profile's name.
        profile: &'static str,
        /// The recording's duration in seconds.
        seconds: f64,
        /// The profile's minimum in seconds.
        min_seconds: f64,
    },
    /// Any other rule of the profile (the text says which).
    Rule,
}

impl Rejection {
    /// A rejection by a rule the text names.
    pub fn rule(text: String) -> Rejection {
        Rejection {
            text,
            kind: RejectKind::Rule,
        }
    }

    /// `key` rejected because the recording is shorter than `profile`'s minimum.
    pub fn too_short(key: &str, profile: &'static str, seconds: f64, min_seconds: f64) -> Self {
        Rejection {
            text: format!(
                "{key}: shorter than {profile}'s {min_seconds} s minimum ({seconds:.3} s)"
            ),
            kind: RejectKind::TooShort {
                profile,
                seconds,
                min_seconds,
            },
        }
    }

    /// The report's line.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl std::ops::Deref for Rejection {
    type Target = str;
    fn deref(&self) -> &str {
        &self.text
    }
}

impl std::borrow::Borrow<str> for Rejection {
    fn borrow(&self) -> &str {
        &self.text
    }
}

impl std::fmt::Display for Rejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

impl From<Rejection> for String {
    fn from(r: Rejection) -> String {
        r.text
    }
}

/// A model profile.
pub trait Profile: Send + Sync {
    /// Name used with `--profile`.
    fn name(&self) -> &'static str;
    /// One-line description for `bomdata profiles`.
    fn description(&self) -> &'static str;
    /// Every parameter with its value, defaults included.
    fn params(&self) -> serde_json::Value;
    /// Applies the profile to one canonical sample.
    fn apply(&self, sample: Sample) -> Result<Applied>;
}

/// Parameters given on the command line (`--param key=value`), as JSON values.
pub type Params = serde_json::Map<String, serde_json::Value>;

/// Rejects parameters a profile does not know.
pub fn check_params(profile: &str, params: &Params, known: &[&str]) -> Result<()> {
    for k in params.keys() {
        if !known.contains(&k.as_str()) {
            return Err(Error::UnknownParam {
                profile: profile.to_string(),
                param: k.clone(),
                known: known.iter().map(|s| s.to_string()).collect(),
            });
        }
    }
    Ok(())
}
