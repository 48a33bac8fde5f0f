//! bomdata-loader: streams bomdata shards into training jobs.
//!
//! A training job opens one or more dataset directories ([`Dataset::open`]), narrows the
//! selection by split, source, modality, index or metadata predicates, mixes datasets with
//! weights ([`Mixture`]), and plans a deterministic order per `(seed, epoch)` ([`Planner`]):
//! shard permutation plus a bounded shuffle buffer (in samples or bytes), or a global shuffle
//! through the index; optionally group-aware batches ([`Planner::with_groups`]) or same-subject
//! pairing across modalities with a presence mask ([`Units::Pairs`]).
//!
//! Each rank takes its share of the global order ([`Partition`]: rank and world passed
//! explicitly, [`DistEnv`] reads torchrun/Slurm variables) with an explicit remainder policy;
//! [`Loader`] reads it on reader threads with bounded read-ahead, copying each `.npy` member
//! once from the memory-mapped shard (or decoding `.zst` members on the reader threads) into one
//! contiguous, reusable buffer per field. The small [`LoaderState`] (epoch, global position)
//! resumes the exact sequence, also with another world size or thread count.
//!
//! ```
//! use std::sync::Arc;
//! use bomdata_loader::{Dataset, Mixture, OrderOptions, Partition, Planner, Remainder, Units};
//! // plan-only dataset: 3 shards of 5, 7 and 2 samples
//! let ds = Dataset::synthetic(&[5, 7, 2], 1024);
//! let planner = Planner::new(Mixture::single(ds), OrderOptions::default(), Units::Samples).unwrap();
//! let plan = planner.epoch(0);
//! let part = Partition::new(1, 4, Remainder::Uneven).unwrap();
//! assert_eq!(part.count(plan.len() as u64), 4); // 14 units: ranks read 4, 4, 3, 3
//! ```
//!
//! Design notes: ranks split the epoch order into contiguous blocks ([`Split::Blocks`], the
//! default). The order walks a few shards at a time (shard permutation + bounded buffer), so each
//! rank reads shards of its own (at most two are shared with a neighbouring rank) while every
//! unit still goes to exactly one rank when shard sizes differ, which a split of whole shards
//! cannot give. What is left of an epoch is kept as position ranges ([`Remaining`]), so a job can
//! resume with another world size and deal out exactly the units not yet read.
//! [`Split::Interleave`] (round robin) is there for global shuffles. Thread count never changes
//! the order: threads build whole batches and the consumer takes them in sequence. Orders use a
//! built-in SplitMix64 generator so a saved state means the same samples across versions.
//!
//! Variable shapes: [`LoaderOptions::shapes`] picks a [`ShapePolicy`] per field (pad with a
//! shape field and mask, bucket batches of one shape through [`Planner::with_buckets`], or
//! per-sample lists). Token datasets (`bomdata shard --tokens`): [`TokenPlanner`] and
//! [`TokenLoader`] give packed sequences or token-budget batches with `cu_seqlens` and
//! `position_ids`, partitioned and resumed like samples. The crate's `README.md` describes the
//! model with one example per case.
//!
//! Not supported: whole-shard compressed (`.tar.zst`) datasets (no random access). Object
//! stores (feature `object-store`, see `remote`) are read through local copies of the shards a
//! rank touches (whole shards, fetched on first touch or prefetched in plan order).
//!
//! Features: `tch` turns batches into `tch::Tensor`s (see `tensor` module); `object-store`
//! opens datasets in object stores (see `remote` module).

/// The crate's README, compiled and run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

pub mod dataset;
pub mod error;
pub mod hostmem;
pub mod loader;
pub mod partition;
pub mod plan;
pub mod ranged;
#[cfg(feature = "object-store")]
pub mod remote;
pub mod rng;
pub mod selection;
pub mod shapes;
pub mod state;
#[cfg(feature = "tch")]
pub mod tensor;
pub mod tokens;

pub use dataset::{Dataset, SampleInfo, SampleLoc};
pub use error::{Error, Result};
pub use hostmem::{AlignedBuf, OsLock, PageLocker};
pub use loader::{Batch, EpochIter, EpochStats, Field, FieldKind, Loader, LoaderOptions, ReadMode};
pub use partition::{DistEnv, Partition, Remainder, Remaining, Split};
pub use plan::{
    BufferSize, EpochPlan, Mixture, OrderOptions, PairRow, Planner, SampleId, Shuffle, Units,
};
pub use shapes::ShapePolicy;
pub use state::{LoaderState, RanksRead};
pub use tokens::{
    Span, TokenBatch, TokenEpochIter, TokenLoader, TokenMode, TokenOptions, TokenPlan, TokenPlanner,
};
