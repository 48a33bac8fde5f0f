//! A per-sample transform run inside each unit before its samples are written:
//! `bomdata ingest --profile NAME` goes straight from the source files to model-ready samples
//! (a SwiFT run's windows) without writing the canonical copy and reading it back.
//!
//! The ingest crate knows no profiles (profiles sit downstream of ingest, ARCHITECTURE.md): the
//! CLI implements [`SampleTransform`] with a profile and hands it in through
//! [`crate::run::RunOptions::transform`]. Each canonical sample the adapter makes is passed to it
//! while still in memory and only its outputs are written, with the same member bytes as
//! `bomdata shard --profile NAME` writes for that sample. The dataset stays an ingest dataset
//! (per-unit shards, resumable, the subjects table and report), recorded as a training dataset
//! with the profile and its parameters in `manifest.json` and in the run fingerprint, so a resume
//! with another profile is refused. Subject splits and shuffling are `bomdata shard`'s business.

use bomdata_schemas::manifest::ProfileRecord;
use bomdata_shard::Sample;

use crate::Result;

/// What a transform made of one canonical sample.
#[derive(Debug, Default)]
pub struct Transformed {
    /// The samples to write in its place, in order.
    pub samples: Vec<Sample>,
    /// Why the sample (or part of it) was left out; each becomes a `skipped` report entry.
    pub rejected: Vec<String>,
    /// The split all of `samples` belong to, when the transform assigns one: the unit then
    /// writes them into its shards of that split (`u<hash>-<split>-NNNNNN.tar`, the split in the
    /// manifest's shard entries), never into a shard mixing splits.
    pub split: Option<String>,
}

/// A model profile applied at ingest time (see the module docs).
pub trait SampleTransform: Send + Sync {
    /// The profile and every parameter, for the fingerprint and the manifest.
    fn record(&self) -> ProfileRecord;
    /// Turns one canonical sample into the samples to write.
    fn apply(&self, sample: Sample) -> Result<Transformed>;
    /// The manifest's `tokenizer` record of the output, when the transform makes token
    /// samples (the files it lists are written by [`Self::write_files`]).
    fn tokenizer(&self) -> Option<serde_json::Value> {
        None
    }
    /// Writes the files the output needs beside its shards (a tokenizer) into the dataset
    /// folder `out`, before any unit runs; each rank of a run writes the same bytes.
    fn write_files(&self, out: &std::path::Path) -> Result<()> {
        let _ = out;
        Ok(())
    }
    /// A check of the whole input to run before any unit writes (see [`crate::precheck`]);
    /// `None` (the default): none.
    fn input_check(&self) -> Option<Box<dyn InputCheck>> {
        None
    }
    /// The channels of an EEG recording (indexes into its canonical `channels`, ascending)
    /// that [`Self::apply`] reads, when it reads a fixed subset: the EEG writer then decodes
    /// only those into the canonical sample it hands over (same output, less decode work and
    /// fresh memory). `None` (the default): every channel.
    fn eeg_input_channels(&self, channels: &[bomdata_schemas::eeg::Channel]) -> Option<Vec<usize>> {
        let _ = channels;
        None
    }
}

/// A whole-input check ([`SampleTransform::input_check`]): shown every sample of the input,
/// then asked for its verdict.
pub trait InputCheck {
    /// Looks at one sample; an error refuses the run at once.
    fn sample(&mut self, sample: &Sample) -> Result<()>;
    /// The verdict over every sample seen.
    fn finish(self: Box<Self>) -> Result<()>;
}

/// A shared [`SampleTransform`] as [`crate::run::RunOptions`] holds it.
#[derive(Clone)]
pub struct Transform(pub std::sync::Arc<dyn SampleTransform>);

impl std::fmt::Debug for Transform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Transform({})", self.0.record().name)
    }
}

/// Runs `t` on `sample` and writes what it made through `sink` (rejections become `skipped`
/// report entries naming the sample's key).
pub(crate) fn write_through(
    sink: &mut crate::run::UnitSink<'_>,
    t: &dyn SampleTransform,
    sample: Sample,
) -> Result<()> {
    use crate::SampleSink;
    let key = sample.key.clone();
    let subject = sample.subject.clone();
    let out = t.apply(sample)?;
    for reason in &out.rejected {
        sink.skipped(std::path::Path::new(&key), reason);
    }
    for mut s in out.samples {
        if s.subject.is_none() {
            s.subject = subject.clone();
        }
        match &out.split {
            Some(split) => sink.write_split(split, s)?,
            None => sink.write_one(s)?,
        }
    }
    Ok(())
}
