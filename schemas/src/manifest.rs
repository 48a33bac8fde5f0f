//! `manifest.json` (the dataset's table of contents) and the per-shard index.
//!
//! A dataset directory holds `manifest.json`, `shards/<name>.tar` with `shards/<name>.idx.json`
//! beside each, `subjects.parquet` and `report.jsonl`. A shard is listed in the manifest only
//! once it is complete on disk (written under a temporary name, fsynced, renamed).

use serde::{Deserialize, Serialize};

/// Name of the checksum algorithm used for shards and members: XXH3, 128-bit for whole shards and
/// 64-bit for members, lowercase hex. Fast enough to hash at write speed; it detects corruption,
/// it is not a defence against tampering.
pub const CHECKSUM_ALGORITHM: &str = "xxh3";

/// What produced a dataset.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DatasetKind {
    /// Written by `bomdata ingest`: canonical samples (physical units, native grid and rate).
    Canonical,
    /// Written by `bomdata shard`: model-ready samples of one profile.
    Training,
}

/// The top-level `manifest.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// Always [`crate::LAYOUT_VERSION`].
    pub layout_version: String,
    /// Canonical or training.
    pub kind: DatasetKind,
    /// The tool that wrote it (`bomdata 0.1.0`).
    pub tool: String,
    /// Source entries of `datasets.toml` the data came from.
    pub sources: Vec<String>,
    /// The profile and every parameter it ran with (training datasets).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<ProfileRecord>,
    /// Tokenizer configuration reference (token shards).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokenizer: Option<serde_json::Value>,
    /// Totals.
    pub counts: Counts,
    /// Every shard, in order.
    pub shards: Vec<ShardEntry>,
    /// Tables written beside the shards (`subjects.parquet`, Arrow/Parquet outputs).
    #[serde(default)]
    pub tables: Vec<TableEntry>,
}

/// A profile and its parameters.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProfileRecord {
    /// Profile name (`swift`, `volume`, `cbramod`, ...).
    pub name: String,
    /// Every parameter, defaults included.
    pub params: serde_json::Value,
}

/// Totals over a dataset.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    /// Samples in all shards.
    pub samples: u64,
    /// Number of shards.
    pub shards: u64,
    /// Total bytes of all shards.
    pub bytes: u64,
    /// Work units planned.
    pub units: u64,
    /// Work units that failed (listed in `report.jsonl`).
    pub failed_units: u64,
    /// Distinct pseudonymous subjects.
    pub subjects: u64,
}

/// One shard in the manifest.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardEntry {
    /// File name under `shards/`, e.g. `hcp-train-000000.tar`.
    pub name: String,
    /// Index file name under `shards/`.
    pub index: String,
    /// Size in bytes.
    pub size: u64,
    /// Number of samples.
    pub samples: u64,
    /// XXH3-128 of the whole file, lowercase hex.
    pub checksum: String,
    /// Split of every sample in it, when split.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub split: Option<String>,
    /// Whole-shard compression (`"zstd"`), absent for plain tar.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compression: Option<String>,
    /// XXH3-128 of the index file, lowercase hex (absent in manifests written before it was
    /// recorded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index_checksum: Option<String>,
}

/// A table file listed in the manifest.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableEntry {
    /// Path relative to the dataset directory.
    pub name: String,
    /// Number of rows.
    pub rows: u64,
    /// XXH3-128 of the file, lowercase hex.
    pub checksum: String,
}

/// The index of one shard (`shards/<name>.idx.json`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardIndex {
    /// The shard file name.
    pub shard: String,
    /// Samples in tar order.
    pub samples: Vec<IndexSample>,
}

/// One sample in a shard index.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexSample {
    /// The sample key.
    pub key: String,
    /// Pseudonymous subject of the sample, when known (used for subject-level splits).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// Byte offset of the first member's tar header in the (uncompressed) tar.
    pub offset: u64,
    /// Bytes from `offset` to the end of the last member's padded data.
    pub size: u64,
    /// Members in tar order.
    pub members: Vec<IndexMember>,
}

/// One tar member of a sample.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexMember {
    /// `<field>.<ext>` (the member name without the key and its dot).
    pub name: String,
    /// Byte offset of the member's data (after its header).
    pub offset: u64,
    /// Size of the data in bytes (as stored: compressed when `.zst`).
    pub size: u64,
    /// XXH3-64 of the stored data, lowercase hex.
    pub checksum: String,
}
