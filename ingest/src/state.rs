//! The run's identity: the fingerprint of everything that changes output bytes
//! (`STATE/run.json`, in the private state folder beside the dataset, see
//! [`crate::run::private_dir`]), and the check that the dataset folder holds nothing but this
//! run's own outputs.

use std::path::Path;

use bomdata_shard::dataset;
use serde::{Deserialize, Serialize};

use crate::run::RunOptions;
use crate::{Error, Result};

/// Name of the fingerprint file in the state folder.
pub const FINGERPRINT: &str = "run.json";

/// The entries an ingest output (dataset) folder may hold. The run's state is not among them
/// (it lives in the private state folder); `.ingest` is, as the lock folder of a `bomdata
/// shard` output (or of an older ingest) that `--overwrite` replaces.
pub const OWN_ENTRIES: &[&str] = &[
    bomdata_shard::lock::STATE_DIR,
    dataset::SHARDS,
    "tables",
    dataset::MANIFEST,
    dataset::REPORT,
    dataset::SUBJECTS,
    // The tokenizer files of `ingest --tokens` (see crate::transform).
    "tokenizer",
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
    /// `--keep-free-text`.
    #[serde(default)]
    pub keep_free_text: bool,
    /// The terms of `--allow-terms` (lower-case, sorted).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allow_terms: Vec<String>,
    /// `--allow-burned-in` (absent when not given).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub allow_burned_in: bool,
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
    /// `--profile` and its parameters (absent for a canonical run).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<bomdata_schemas::manifest::ProfileRecord>,
    /// The manifest's `tokenizer` record of `ingest --tokens` (set by the token options, which
    /// `profile` holds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokenizer: Option<serde_json::Value>,
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
            keep_free_text: opts.keep_free_text,
            allow_terms: opts.allow_terms.clone(),
            allow_burned_in: opts.allow_burned_in,
            chunk_seconds: opts.chunk_seconds,
            float16: opts.float16,
            compression: opts.writer.compression,
            max_shard_bytes: opts.writer.max_bytes,
            max_shard_samples: opts.writer.max_samples,
            profile: opts.transform.as_ref().map(|t| t.0.record()),
            tokenizer: opts.transform.as_ref().and_then(|t| t.0.tokenizer()),
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
            self.keep_free_text == other.keep_free_text,
            "keep-free-text",
        );
        check(self.allow_terms == other.allow_terms, "allow-terms");
        check(
            self.allow_burned_in == other.allow_burned_in,
            "allow-burned-in",
        );
        check(
            self.chunk_seconds.to_bits() == other.chunk_seconds.to_bits(),
            "chunk-seconds",
        );
        check(self.float16 == other.float16, "float16");
        check(self.profile == other.profile, "profile");
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

/// The entries of the private state folder a run writes (removed by `--overwrite`, with their
/// temporaries); lock files are kept, anything else there is left alone.
const STATE_ENTRIES: &[&str] = &[FINGERPRINT, "plan.json", "units", dataset::REPORT];

/// Whether `name` is one of [`STATE_ENTRIES`] or a temporary of one.
fn state_entry(name: &str) -> bool {
    STATE_ENTRIES
        .iter()
        .any(|e| name == *e || name.strip_prefix(e).is_some_and(|r| r.starts_with('.')))
}

/// Whether the dataset folder `out` or the state folder `state` holds any output or state
/// besides lock files (and temporaries of a fingerprint being written by a rank starting beside
/// this one).
fn has_outputs(out: &Path, state: &Path) -> bool {
    let in_state = std::fs::read_dir(state).is_ok_and(|rd| {
        rd.flatten().any(|e| {
            e.file_name()
                .to_str()
                .is_some_and(|n| state_entry(n) && !n.starts_with(&format!("{FINGERPRINT}.")))
        })
    });
    in_state || OWN_ENTRIES.iter().any(|n| out.join(n).exists())
}

/// Removes an earlier dataset from `out` (its own entries only) and the run state from `state`
/// (its own entries only, keeping the lock files); refuses when the dataset folder holds
/// anything else.
pub fn overwrite(out: &Path, state: &Path) -> Result<()> {
    let foreign = foreign_entries(out)?;
    if !foreign.is_empty() {
        return Err(Error::ForeignOutput {
            out: out.to_path_buf(),
            entries: foreign,
        });
    }
    for n in OWN_ENTRIES {
        let p = out.join(n);
        if p.exists() {
            remove(&p)?;
        }
    }
    if let Ok(rd) = std::fs::read_dir(state) {
        for e in rd.flatten() {
            if e.file_name().to_str().is_some_and(state_entry) {
                remove(&e.path())?;
            }
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

/// Checks that the dataset folder `out` is empty or holds this very run (same fingerprint in
/// the state folder `state`), then records the fingerprint there. Call it while holding the run
/// lock; `alone`: no other rank shares the run, so the state of a dataset folder that was
/// deleted (no output left in `out`) is stale and cleared instead of refused.
pub fn check_and_record(out: &Path, state: &Path, mine: &Fingerprint, alone: bool) -> Result<()> {
    let foreign = foreign_entries(out)?;
    if !foreign.is_empty() {
        return Err(Error::ForeignOutput {
            out: out.to_path_buf(),
            entries: foreign,
        });
    }
    // Looked at before the fingerprint: every writer records the fingerprint before any other
    // state, so outputs seen here with no fingerprint after are not this run's.
    let outputs = has_outputs(out, state);
    let path = state.join(FINGERPRINT);
    if path.exists() {
        let saved: Fingerprint = dataset::read_json(&path)?;
        let fields = saved.differences(mine);
        let dataset_gone = !OWN_ENTRIES.iter().any(|n| out.join(n).exists());
        if !fields.is_empty() && alone && dataset_gone {
            tracing::warn!(
                state = %state.display(),
                "the dataset folder holds no output: the earlier run's state there is cleared"
            );
            overwrite(out, state)?;
            dataset::write_json_atomic(&path, mine)?;
            return Ok(());
        }
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
