//! Profiles: turn canonical samples into what one model consumes.
//!
//! A profile is pure: the same canonical sample and parameters give the same output samples,
//! so `bomdata shard` is byte-reproducible. Every parameter is reported by
//! [`Profile::params`] and recorded in the training manifest.

use crate::{Result, Sample};

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

/// The identity profile: canonical samples copied as they are (re-split, re-shuffled and
/// re-sharded).
#[derive(Clone, Debug, Default)]
pub struct Canonical;

impl Profile for Canonical {
    fn name(&self) -> &'static str {
        "canonical"
    }
    fn description(&self) -> &'static str {
        "canonical samples unchanged: subject split, shuffle and sharding only"
    }
    fn params(&self) -> serde_json::Value {
        serde_json::json!({})
    }
    fn apply(&self, sample: Sample) -> Result<Applied> {
        Ok(Applied {
            samples: vec![sample],
            rejected: vec![],
        })
    }
}

/// Parameters given on the command line (`--param key=value`), as JSON values.
pub type Params = serde_json::Map<String, serde_json::Value>;

/// Rejects parameters a profile does not know.
pub fn check_params(profile: &str, params: &Params, known: &[&str]) -> Result<()> {
    for k in params.keys() {
        if !known.contains(&k.as_str()) {
            return Err(crate::Error::Encode(format!(
                "profile {profile} has no parameter {k:?} (known: {})",
                known.join(", ")
            )));
        }
    }
    Ok(())
}

/// Every profile with its default parameters, for `bomdata profiles`.
pub fn all() -> Vec<Box<dyn Profile>> {
    let empty = Params::new();
    names()
        .into_iter()
        .filter_map(|n| create(n, &empty).ok())
        .collect()
}

/// Names of every profile of this build.
pub fn names() -> Vec<&'static str> {
    #[cfg(feature = "build")]
    {
        let mut v = vec!["canonical", "swift", "volume"];
        v.extend_from_slice(crate::eeg::NAMES);
        v
    }
    #[cfg(not(feature = "build"))]
    {
        vec!["canonical"]
    }
}

/// Creates a profile by name with parameters.
pub fn create(name: &str, params: &Params) -> Result<Box<dyn Profile>> {
    match name {
        "canonical" => {
            check_params(name, params, &[])?;
            Ok(Box::new(Canonical))
        }
        #[cfg(feature = "build")]
        "swift" => Ok(Box::new(crate::profiles::swift::Swift::new(params)?)),
        #[cfg(feature = "build")]
        "volume" => Ok(Box::new(crate::profiles::volume::VolumeProfile::new(
            params,
        )?)),
        #[cfg(feature = "build")]
        "cbramod" | "labram" | "eegpt" | "biot" | "diver" | "generic" => {
            Ok(Box::new(crate::eeg::EegProfile::new(name, params)?))
        }
        other => Err(crate::Error::Encode(format!(
            "unknown profile {other:?} (known: {})",
            names().join(", ")
        ))),
    }
}
