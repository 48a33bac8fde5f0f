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
    pub rejected: Vec<String>,
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
