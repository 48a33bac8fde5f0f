//! `bomdata ingest --profile NAME`: a shard profile run inside each ingest unit (see
//! `bomdata_ingest::transform`), so model-ready samples are written straight from the source
//! files, with the member bytes `bomdata shard --profile NAME` writes for the same samples.

use std::sync::Arc;

use bomdata_ingest::transform::{SampleTransform, Transform, Transformed};
use bomdata_profiles::{Params, Profile, registry};
use bomdata_schemas::manifest::ProfileRecord;
use bomdata_shard::Sample;

/// A profile as an ingest transform.
struct ProfileTransform(Box<dyn Profile>);

impl SampleTransform for ProfileTransform {
    fn record(&self) -> ProfileRecord {
        ProfileRecord {
            name: self.0.name().to_string(),
            params: self.0.params(),
        }
    }

    fn apply(&self, sample: Sample) -> bomdata_ingest::Result<Transformed> {
        let key = sample.key.clone();
        let applied = self
            .0
            .apply(sample)
            .map_err(|e| bomdata_ingest::Error::Transform {
                profile: self.0.name().to_string(),
                key,
                source: Box::new(e),
            })?;
        Ok(Transformed {
            samples: applied.samples,
            rejected: applied.rejected.into_iter().map(String::from).collect(),
            split: None,
        })
    }
}

/// The transform for `--profile NAME --param k=v ...` (unknown names and parameters refused).
pub fn transform(name: &str, params: &Params) -> anyhow::Result<Transform> {
    let profile = registry::create(name, params)?;
    Ok(Transform(Arc::new(ProfileTransform(profile))))
}
