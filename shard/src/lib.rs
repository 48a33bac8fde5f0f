//! bomdata-shard: the on-disk container of bomdata datasets.
//!
//! A dataset directory is `manifest.json` + `shards/*.tar` (each with a `.idx.json` index) +
//! `subjects.parquet` + `report.jsonl` (types in `bomdata-schemas`). Shards are
//! WebDataset-compatible tar files: the members of one sample are adjacent and named
//! `<key>.<field>.<ext>`; tensors are `.npy`, metadata `.json`, text `.txt`. Member headers are
//! deterministic (mtime 0, uid/gid 0, mode 0644, ustar), so the same samples give byte-identical
//! shards.
//!
//! The read side ([`reader`], [`npy`], [`dataset`], [`verify`]) is always built; the write side
//! that needs Parquet ([`subjects`]) and the profiles sit behind the default `build` feature, so a
//! training job linking the loader compiles neither.
//!
//! ```
//! use bomdata_shard::{npy, Sample};
//! let x = npy::encode_f32(&[2, 2], &[1.0, 2.0, 3.0, 4.0]);
//! let s = Sample::new("hcp_ab12_smri_000000").with("volume.npy", x).with("meta.json", b"{}".to_vec());
//! assert_eq!(s.members.len(), 2);
//! ```

pub mod buffers;
#[cfg(feature = "build")]
pub mod build;
pub mod dataset;
#[cfg(feature = "build")]
pub mod eeg;
pub mod error;
pub mod npy;
pub mod profile;
#[cfg(feature = "build")]
pub mod profiles;
pub mod reader;
mod sample;
#[cfg(feature = "build")]
pub mod subjects;
pub mod tar;
#[cfg(feature = "build")]
pub mod tokens;
pub mod verify;
pub mod writer;

pub use error::{Error, Result};
pub use sample::{Member, Sample};
