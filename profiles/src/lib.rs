//! bomdata-profiles: what `bomdata shard` makes of a canonical dataset.
//!
//! - [`profile`]: the [`Profile`] trait (canonical sample in, model-ready samples out), alone;
//! - [`registry`]: every profile by name ([`registry::create`], [`registry::names`],
//!   [`registry::all`]);
//! - [`mri`]: `swift` and `volume` over canonical MRI volumes;
//! - [`eeg`]: the EEG profiles (`cbramod`, `labram`, `eegpt`, `biot`, `diver`, `generic`), their
//!   DSP, channel sets and spherical-spline interpolation;
//! - [`build`]: the `shard` build (subject split, seeded shuffle, profile, training shards);
//! - [`tables`]: omics and clinical tables carried into the training output by split, and the
//!   `tables` profile (their transforms);
//! - [`tokens`]: token shards (`shard --tokens`);
//! - [`distributed`]: a `shard` build shared by ranks (Slurm array tasks) and its merge.
//! - [`progress`]: the progress callback of a shard build.
//!
//! The container itself (tar shards, indexes, manifests, `.npy`) is `bomdata-shard`; this crate
//! reads and writes datasets only through it.

pub mod build;
pub mod distributed;
pub mod eeg;
pub mod error;
pub mod meg;
pub mod mri;
pub mod profile;
pub mod progress;
pub mod registry;
pub mod tables;
pub mod tokens;

pub use error::{Error, Result};
pub use profile::{Applied, Params, Profile, RejectKind, Rejection};
