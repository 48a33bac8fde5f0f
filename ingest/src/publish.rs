//! Publishing each finished unit as soon as it is finished (e.g. into an object store), so that
//! a long run commits its work unit by unit instead of at its end.
//!
//! The runtime knows nothing of where units go: the caller gives a [`UnitPublisher`] to
//! [`crate::run::run_with`]. For every unit converted without error the runtime calls
//! [`UnitPublisher::publish`] once the unit's files are complete under the dataset folder, and
//! only then writes the unit's record into the state folder: a unit with a record is published.
//! On a later run, a unit whose record is there but whose files are not (the publisher removed
//! them) counts as done when [`UnitPublisher::published`] says its files are there with the same
//! checksums; otherwise it is converted again (the same bytes).

use std::path::Path;

use bomdata_schemas::manifest::{ShardEntry, TableEntry};
use bomdata_shard::DatasetDir;

/// One file of a finished unit, relative to the dataset folder (`shards/<name>`, ...).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct UnitFile {
    /// Path relative to the dataset folder, `/`-separated.
    pub name: String,
    /// XXH3-128 of the file, lowercase hex.
    pub checksum: String,
}

/// What a finished unit wrote: its files in the dataset folder. Names no source path and no
/// subject ID (only the unit's hash), so it may be stored beside the shareable dataset.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct UnitFiles {
    /// `u<hash>`: the unit as the dataset's file names show it.
    pub unit: String,
    /// Its shards, their indexes and its table parts.
    pub files: Vec<UnitFile>,
}

impl UnitFiles {
    /// The files of a unit recorded with these shards and table parts.
    pub fn of(hash: &str, shards: &[ShardEntry], tables: &[TableEntry]) -> UnitFiles {
        let rel = |p: std::path::PathBuf| {
            p.components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join("/")
        };
        let dir = DatasetDir::new(Path::new(""));
        let mut files = Vec::new();
        for s in shards {
            files.push(UnitFile {
                name: rel(dir.shard_path(s)),
                checksum: s.checksum.clone(),
            });
            if let Some(c) = &s.index_checksum {
                files.push(UnitFile {
                    name: rel(dir.index_path(s)),
                    checksum: c.clone(),
                });
            }
        }
        for t in tables {
            files.push(UnitFile {
                name: t.name.clone(),
                checksum: t.checksum.clone(),
            });
        }
        UnitFiles {
            unit: format!("u{hash}"),
            files,
        }
    }
}

/// The error of a publisher (shown in the unit's failure).
pub type PublishError = Box<dyn std::error::Error + Send + Sync>;

/// Where finished units go besides the local dataset folder (see the module docs).
pub trait UnitPublisher: Sync {
    /// Publishes the finished unit `unit`, whose files are complete under `out`; it may remove
    /// them from `out` afterwards. An error fails the unit for this run (no record is written,
    /// so the next run converts it again).
    fn publish(&self, out: &Path, unit: &UnitFiles) -> Result<(), PublishError>;

    /// Whether `unit` (recorded as finished by an earlier run, its files no longer under the
    /// dataset folder) is published with exactly these files.
    fn published(&self, unit: &UnitFiles) -> bool;
}
