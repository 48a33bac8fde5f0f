//! bomdata-shard: the on-disk container of bomdata datasets.
//!
//! A dataset directory is `manifest.json` + `shards/*.tar` (each with a `.idx.json` index) +
//! `subjects.parquet` + `report.jsonl` (types in `bomdata-schemas`). Shards are
//! WebDataset-compatible tar files: the members of one sample are adjacent and named
//! `<key>.<field>.<ext>`; tensors are `.npy`, metadata `.json`, text `.txt`. Member headers are
//! deterministic (mtime 0, uid/gid 0, mode 0644, ustar), so the same samples give byte-identical
//! shards.
//!
//! This crate is the container only: the read side ([`reader`], [`npy`], [`dataset`] with the
//! on-disk [`dataset::DatasetDir`], [`verify`]) and the write side ([`writer`], atomic commits)
//! are always built; the subjects table ([`subjects`], Parquet) sits behind the default
//! `subjects` feature, so a training job linking the loader compiles no Parquet. Profiles, the
//! `shard` build and token shards live in `bomdata-profiles`.
//!
//! ```
//! use bomdata_shard::{npy, Sample};
//! let x = npy::encode_f32(&[2, 2], &[1.0, 2.0, 3.0, 4.0]);
//! let s = Sample::new("hcp_ab12_smri_000000").with("volume.npy", x).with("meta.json", b"{}".to_vec());
//! assert_eq!(s.members.len(), 2);
//! ```

pub mod buffers;
pub mod dataset;
pub mod error;
pub mod lock;
pub mod member;
pub mod npy;
pub mod reader;
mod sample;
#[cfg(feature = "subjects")]
pub mod subjects;
pub mod tar;
pub mod verify;
pub mod writer;

pub use dataset::DatasetDir;
pub use error::{Error, NpyError, Result};
pub use sample::{Member, Sample};
