//! The run's identity in its output folder: the fingerprint of everything that changes output
//! bytes (`OUT/.ingest/run.json`), and the check that a folder holds nothing but this run's own
//! state and outputs.

use std::path::{Path, PathBuf};

use bomdata_shard::dataset;
use bomdata_shard::lock::STATE_DIR;
use serde::{Deserialize, Serialize};

use crate::run::RunOptions;
use crate::{Error, Result};

/// Name of the fingerprint file in the state folder.
pub const FINGERPRINT: &str = "run.json";

/// The entries an ingest output folder may hold.
pub const OWN_ENTRIES: &[&str] = &[
    STATE_DIR,
    dataset::SHARDS,
    "tables",
    dataset::MANIFEST,
    dataset::REPORT,
    dataset::SUBJECTS,
];

/// Everything that changes the output bytes of an ingest run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Fingerprint {
    /// Registry entry ID.
    pub source: String,
    /// Adapter name.
    pub adapter: String,
    /// `bomdata <version>`.
    pub tool: String,
    /// HMAC of a fixed string under the pseudonymisation key (never the key).
    pub key_check: String,
    /// `--keep-identity`.
    pub keep_identity: bool,
    /// `--chunk-seconds`.
    pub chunk_seconds: f64,
    /// `--float16`.
    pub float16: bool,
    /// `--compress` and `--zstd-level`.
    pub compression: bomdata_shard::writer::Compression,
    /// `--max-shard-bytes`.
    pub max_shard_bytes: u64,
    /// `--max-shard-samples`.
    pub max_shard_samples: u64,
}

impl Fingerprint {
    /// The fingerprint of a run.
    pub fn of(opts: &RunOptions, adapter: &str) -> Fingerprint {
        Fingerprint {
            source: opts.entry.id.clone(),
            adapter: adapter.to_string(),
            tool: format!("bomdata {}", env!("CARGO_PKG_VERSION")),
            key_check: opts.pseudonymizer.key_check(),
            keep_identity: opts.keep_identity,
            chunk_seconds: opts.chunk_seconds,
            float16: opts.float16,
            compression: opts.writer.compression,
            max_shard_bytes: opts.writer.max_bytes,
            max_shard_samples: opts.writer.max_samples,
        }
    }

    /// The names of the fields that differ from `other` (`key` for the key check value).
    pub fn differences(&self, other: &Fingerprint) -> Vec<&'static str> {
        let mut d = Vec::new();
        let mut check = |same: bool, name: &'static str| {
            if !same {
                d.push(name);
            }
        };
        check(self.source == other.source, "source");
        check(self.adapter == other.adapter, "adapter");
        check(self.tool == other.tool, "tool version");
        check(self.key_check == other.key_check, "key");
        check(self.keep_identity == other.keep_identity, "keep-identity");
        check(
            self.chunk_seconds.to_bits() == other.chunk_seconds.to_bits(),
            "chunk-seconds",
        );
        check(self.float16 == other.float16, "float16");
        check(self.compression == other.compression, "compress");
        check(
            self.max_shard_bytes == other.max_shard_bytes,
            "max-shard-bytes",
        );
        check(
            self.max_shard_samples == other.max_shard_samples,
            "max-shard-samples",
        );
        d
    }
}

/// Entries of `out` that are not an ingest run's own (sorted names).
fn foreign_entries(out: &Path) -> Result<Vec<String>> {
    let rd = match std::fs::read_dir(out) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(vec![]),
        Err(e) => return Err(Error::io(out, e)),
    };
    let mut foreign = Vec::new();
    for e in rd {
        let e = e.map_err(|e| Error::io(out, e))?;
        let name = e.file_name().to_string_lossy().to_string();
        if !OWN_ENTRIES.contains(&name.as_str()) {
            foreign.push(name);
        }
    }
    foreign.sort();
    Ok(foreign)
}

/// Whether `out` holds any dataset output or state besides the lock files.
fn has_outputs(out: &Path) -> bool {
    OWN_ENTRIES.iter().any(|n| {
        let p = out.join(n);
        if *n == STATE_DIR {
            std::fs::read_dir(&p).is_ok_and(|rd| {
                rd.flatten().any(|e| {
                    // Lock files, and temporaries of the fingerprint being written by a rank
                    // starting beside this one, are not outputs.
                    !e.file_name().to_str().is_some_and(|n| {
                        n == "lock" || n.starts_with("lock.rank-") || n.ends_with(".tmp")
                    })
                })
            })
        } else {
            p.exists()
        }
    })
}

/// Removes an earlier dataset from `out` (its own entries only, keeping the lock files); refuses
/// when the folder holds anything else.
pub fn overwrite(out: &Path) -> Result<()> {
    let foreign = foreign_entries(out)?;
    if !foreign.is_empty() {
        return Err(Error::ForeignOutput {
            out: out.to_path_buf(),
            entries: foreign,
        });
    }
    for n in OWN_ENTRIES {
        let p = out.join(n);
        if *n == STATE_DIR {
            let Ok(rd) = std::fs::read_dir(&p) else {
                continue;
            };
            for e in rd.flatten() {
                let keep = e
                    .file_name()
                    .to_str()
                    .is_some_and(|n| n == "lock" || n.starts_with("lock.rank-"));
                if !keep {
                    remove(&e.path())?;
                }
            }
        } else if p.exists() {
            remove(&p)?;
        }
    }
    Ok(())
}

fn remove(p: &Path) -> Result<()> {
    let r = if p.is_dir() {
        std::fs::remove_dir_all(p)
    } else {
        std::fs::remove_file(p)
    };
    r.map_err(|e| Error::io(p, e))
}

fn fingerprint_path(out: &Path) -> PathBuf {
    out.join(STATE_DIR).join(FINGERPRINT)
}

/// Checks that `out` is empty or holds this very run (same fingerprint), then records the
/// fingerprint. Call it while holding the run lock.
pub fn check_and_record(out: &Path, mine: &Fingerprint) -> Result<()> {
    let foreign = foreign_entries(out)?;
    if !foreign.is_empty() {
        return Err(Error::ForeignOutput {
            out: out.to_path_buf(),
            entries: foreign,
        });
    }
    // Looked at before the fingerprint: every writer records the fingerprint before any other
    // state, so outputs seen here with no fingerprint after are not this run's.
    let outputs = has_outputs(out);
    let path = fingerprint_path(out);
    if path.exists() {
        let saved: Fingerprint = dataset::read_json(&path)?;
        let fields = saved.differences(mine);
        if !fields.is_empty() {
            return Err(Error::FingerprintMismatch {
                out: out.to_path_buf(),
                fields: fields.iter().map(|s| s.to_string()).collect(),
            });
        }
        return Ok(());
    }
    if outputs {
        return Err(Error::ForeignOutput {
            out: out.to_path_buf(),
            entries: vec!["(a dataset without this run's state)".into()],
        });
    }
    dataset::write_json_atomic(&path, mine)?;
    Ok(())
}
