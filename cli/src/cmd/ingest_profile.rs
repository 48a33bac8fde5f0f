//! `bomdata ingest --profile NAME`: a shard profile run inside each ingest unit (see
//! `bomdata_ingest::transform`), so model-ready samples are written straight from the source
//! files, with the member bytes `bomdata shard --profile NAME` writes for the same samples.

use std::sync::Arc;

use bomdata_ingest::transform::{SampleTransform, Transform, Transformed};
use bomdata_profiles::eeg::{self, EegProfile};
use bomdata_profiles::{Params, Profile, registry};
use bomdata_schemas::eeg::Channel;
use bomdata_schemas::manifest::ProfileRecord;
use bomdata_shard::Sample;

/// A profile as an ingest transform; for an EEG profile also its channel reader, so the EEG
/// writer decodes only the channels the profile reads (`EegProfile::input_channels`).
struct ProfileTransform(Box<dyn Profile>, Option<EegProfile>);

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

    fn eeg_input_channels(&self, channels: &[Channel]) -> Option<Vec<usize>> {
        self.1.as_ref()?.input_channels(channels)
    }
}

/// The transform for `--profile NAME --param k=v ...` (unknown names and parameters refused).
pub fn transform(name: &str, params: &Params) -> anyhow::Result<Transform> {
    let profile = registry::create(name, params)?;
    let eeg = if eeg::NAMES.contains(&name) {
        Some(EegProfile::new(name, params)?)
    } else {
        None
    };
    Ok(Transform(Arc::new(ProfileTransform(profile, eeg))))
}
