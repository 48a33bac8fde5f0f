//! bomdata-ingest: the source registry (`datasets.toml`), the consortium adapters, and the
//! restartable, parallel ingest runtime that turns a raw source tree into a canonical dataset.
//!
//! The flow is plan → run → finalise:
//! 1. [`registry`] parses `datasets.toml` and detects which source a folder holds;
//! 2. a [`Source`] adapter lists the units of work in the tree ([`Source::plan`]);
//! 3. the runtime converts each unit ([`Source::convert`]) into canonical samples pushed to a
//!    [`SampleSink`], all-or-nothing per unit, in parallel, skipping units finished earlier;
//! 4. the manifest, `subjects.parquet` and `report.jsonl` are written from the unit records.

pub mod canonical;
pub mod error;
pub(crate) mod precheck;
pub mod privacy;
pub mod pseudonym;
pub mod publish;
pub mod registry;
pub mod run;
pub mod sink;
pub mod source;
pub mod sources;
pub mod state;
pub mod tables;
pub mod transform;

pub use error::{Error, Result};
pub use pseudonym::Pseudonymizer;
pub use source::{SampleSink, Source, Unit, UnitContext};
