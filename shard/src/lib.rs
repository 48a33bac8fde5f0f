//! bomdata-shard: the on-disk container of bomdata datasets.
//!
//! A dataset directory is `manifest.json` + `shards/*.tar` (each with a `.idx.json` index) +
//! `subjects.parquet` + `report.jsonl` (types in `bomdata-schemas`). Shards are
//! WebDataset-compatible tar files: the members of one sample are adjacent and named
//! `<key>.<field>.<ext>`; tensors are `.npy`, metadata `.json`, text `.txt`. Member headers are
//! deterministic (mtime 0, uid/gid 0, mode 0644, ustar), so the same samples give byte-identical
//! shards.
//!
//! ```
//! use bomdata_shard::{npy, Sample};
//! let x = npy::encode_f32(&[2, 2], &[1.0, 2.0, 3.0, 4.0]);
//! let s = Sample::new("hcp_ab12_smri_000000").with("volume.npy", x).with("meta.json", b"{}".to_vec());
//! assert_eq!(s.members.len(), 2);
//! ```

pub mod error;
pub mod npy;
mod sample;

pub use error::{Error, Result};
pub use sample::{Member, Sample};
