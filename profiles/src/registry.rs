//! Every profile of this crate, by name: [`create`], [`names`], [`all`].
//!
//! The registry imports the profiles and the profiles import only the trait
//! ([`crate::profile`]), so no module imports another in a circle.

use bomdata_shard::Sample;

use crate::eeg::{self, EegProfile};
use crate::meg::MegProfile;
use crate::mri::pet::PetProfile;
use crate::mri::swift::Swift;
use crate::mri::volume::VolumeProfile;
use crate::profile::{Applied, Params, Profile, check_params};
use crate::tables::transform::TablesProfile;
use crate::{Error, Result};

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

/// Every profile with its default parameters, for `bomdata profiles`.
pub fn all() -> Vec<Box<dyn Profile>> {
    let empty = Params::new();
    names()
        .into_iter()
        .filter_map(|n| create(n, &empty).ok())
        .collect()
}

/// Names of every profile.
pub fn names() -> Vec<&'static str> {
    let mut v = vec!["canonical", "swift", "volume", "pet", "tables"];
    v.extend_from_slice(eeg::NAMES);
    v.push("meg");
    v
}

/// Creates a profile by name with parameters.
pub fn create(name: &str, params: &Params) -> Result<Box<dyn Profile>> {
    match name {
        "canonical" => {
            check_params(name, params, &[])?;
            Ok(Box::new(Canonical))
        }
        "swift" => Ok(Box::new(Swift::new(params)?)),
        "volume" => Ok(Box::new(VolumeProfile::new(params)?)),
        "pet" => Ok(Box::new(PetProfile::new(params)?)),
        "tables" => Ok(Box::new(TablesProfile::new(params)?)),
        "meg" => Ok(Box::new(MegProfile::new(params)?)),
        n if eeg::NAMES.contains(&n) => Ok(Box::new(EegProfile::new(n, params)?)),
        other => Err(Error::UnknownProfile {
            name: other.to_string(),
            known: names(),
        }),
    }
}
