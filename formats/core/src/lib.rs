//! Shared pieces of the bomdata format readers.
//!
//! Every format crate (`bomdata-nifti`, `bomdata-edf`, ...) depends on this crate and on nothing
//! else of bomdata. It holds what all of them need the same way:
//!
//! - [`Stats`]: streaming value statistics (n, non-finite count, sum, mean, population std, min,
//!   max) computed in float64 exactly as `bomdata probe` reports them;
//! - [`ProbeOptions`]: the options of `bomdata probe` (`--at`, `--region`, `--first`,
//!   `--show-identity`) so each format crate can build its own probe report;
//! - [`signal`]: the signal view and the [`signal::SignalReader`] trait every EEG/MEG reader
//!   implements;
//! - [`budget`]: the per-unit memory budget readers check declared sizes against;
//! - [`compression`]: sniffing gzip / BGZF / zstd magic bytes and opening a reader that undoes it.
//!
//! ```
//! use bomdata_format_core::Stats;
//! let mut s = Stats::default();
//! for v in [1.0, 2.0, f64::NAN, 3.0] {
//!     s.push(v);
//! }
//! assert_eq!(s.n(), 3);
//! assert_eq!(s.n_nonfinite(), 1);
//! assert_eq!(s.mean(), Some(2.0));
//! ```

pub mod budget;
pub mod compression;
pub mod signal;
mod stats;

pub use stats::Stats;

/// Options of `bomdata probe` that a format crate's probe report may honour.
#[derive(Clone, Debug, Default)]
pub struct ProbeOptions {
    /// Voxel indices to report values at (`--at i,j,k[,t..]`), in order.
    pub at: Vec<Vec<u64>>,
    /// A region `NAME:START-END`, 0-based half-open (`--region`).
    pub region: Option<String>,
    /// How many first values to report per signal channel (`--first`, default 10).
    pub first: Option<usize>,
    /// Report identity header text (EDF patient/recording and similar) (`--show-identity`).
    pub show_identity: bool,
    /// A reference sequence file, for CRAM (`--reference`).
    pub reference: Option<std::path::PathBuf>,
}

impl ProbeOptions {
    /// The number of first values per channel, defaulting to 10.
    pub fn first_or_default(&self) -> usize {
        self.first.unwrap_or(10)
    }
}

/// Encodes a float for JSON the way the fixture files do: finite values as numbers, non-finite
/// values as the strings `"NaN"`, `"Infinity"` and `"-Infinity"`.
pub fn json_f64(v: f64) -> serde_json::Value {
    if v.is_finite() {
        serde_json::Number::from_f64(v)
            .map(serde_json::Value::Number)
            .unwrap_or(serde_json::Value::Null)
    } else if v.is_nan() {
        serde_json::Value::String("NaN".into())
    } else if v > 0.0 {
        serde_json::Value::String("Infinity".into())
    } else {
        serde_json::Value::String("-Infinity".into())
    }
}
