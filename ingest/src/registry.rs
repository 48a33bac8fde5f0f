//! `datasets.toml`: the registry of consortium sources, and layout detection.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use bomdata_schemas::Modality;
use globset::{Glob, GlobMatcher};
use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// Access level of a source.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Access {
    /// Anyone may download it.
    Open,
    /// Free after registration or a click-through agreement.
    Registered,
    /// Approved application and data use agreement required.
    Controlled,
}

/// One source entry of `datasets.toml`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    /// The table name (`ukb`), filled in after parsing.
    #[serde(skip_deserializing, default)]
    pub id: String,
    /// Full name.
    pub name: String,
    /// Adapter that reads this layout.
    pub adapter: String,
    /// The adapter does not read this source yet.
    #[serde(default)]
    pub planned: bool,
    /// Modalities provided.
    pub modality: Vec<Modality>,
    /// Canonical schema version written.
    pub schema: String,
    /// Detection globs, relative to the source root; all must match.
    pub layout: Vec<String>,
    /// Access level.
    pub access: Access,
    /// Licence or data use agreement.
    pub license: String,
    /// What to cite.
    pub citation: String,
    /// Where the original subject ID comes from.
    pub subject_id: String,
    /// Namespace of pseudonyms; defaults to the entry ID. Sources that share subject IDs on
    /// purpose (e.g. two releases of one cohort) may share a namespace.
    #[serde(default)]
    pub subject_namespace: Option<String>,
}

impl Entry {
    /// The namespace pseudonyms of this source are computed in.
    pub fn namespace(&self) -> &str {
        self.subject_namespace.as_deref().unwrap_or(&self.id)
    }
}

/// The parsed registry, entries in file order.
#[derive(Clone, Debug, Default)]
pub struct Registry {
    /// Entries in the order of the file.
    pub entries: Vec<Entry>,
}

/// The registry shipped with bomdata (the repository's `datasets.toml`).
pub const BUILTIN: &str = include_str!("../../datasets.toml");

impl Registry {
    /// Parses a registry from TOML text.
    pub fn parse(text: &str) -> Result<Registry> {
        // toml keeps table order only with the preserve_order feature; recover it from the text.
        let map: BTreeMap<String, Entry> =
            toml::from_str(text).map_err(|e| Error::Registry(e.to_string()))?;
        let mut order: Vec<(usize, String)> = map
            .keys()
            .map(|k| {
                (
                    text.find(&format!("\n[{k}]")).unwrap_or(usize::MAX),
                    k.clone(),
                )
            })
            .collect();
        order.sort();
        let mut map = map;
        let mut entries = Vec::with_capacity(order.len());
        for (_, k) in order {
            if let Some(mut e) = map.remove(&k) {
                e.id = k;
                for g in &e.layout {
                    Glob::new(g).map_err(|err| {
                        Error::Registry(format!("[{}] layout glob {g:?}: {err}", e.id))
                    })?;
                }
                entries.push(e);
            }
        }
        Ok(Registry { entries })
    }

    /// The built-in registry.
    pub fn builtin() -> Result<Registry> {
        Registry::parse(BUILTIN)
    }

    /// Loads a registry file.
    pub fn load(path: &Path) -> Result<Registry> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        Registry::parse(&text)
    }

    /// The entry with this ID.
    pub fn get(&self, id: &str) -> Option<&Entry> {
        self.entries.iter().find(|e| e.id == id)
    }

    /// Detects which source a folder holds: every entry whose layout globs all match some
    /// path in the tree, best first (most globs, then file order).
    pub fn detect(&self, root: &Path) -> Result<Vec<Detection>> {
        let paths = sample_paths(root, 200_000)?;
        let mut found = Vec::new();
        for (order, e) in self.entries.iter().enumerate() {
            let matchers: Vec<(String, GlobMatcher)> = e
                .layout
                .iter()
                .filter_map(|g| {
                    Glob::new(g)
                        .ok()
                        .map(|gl| (g.clone(), gl.compile_matcher()))
                })
                .collect();
            let mut evidence = Vec::new();
            for (g, m) in &matchers {
                if let Some(p) = paths.iter().find(|p| m.is_match(p)) {
                    evidence.push((g.clone(), p.clone()));
                }
            }
            if !matchers.is_empty() && evidence.len() == matchers.len() {
                found.push((
                    order,
                    Detection {
                        source: e.id.clone(),
                        evidence,
                    },
                ));
            }
        }
        found.sort_by_key(|(order, d)| (std::cmp::Reverse(d.evidence.len()), *order));
        Ok(found.into_iter().map(|(_, d)| d).collect())
    }
}

/// A source whose layout matched, with the glob and a matching path for each rule.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Detection {
    /// Entry ID.
    pub source: String,
    /// (glob, first matching path) per layout rule.
    pub evidence: Vec<(String, PathBuf)>,
}

/// Relative paths of files and folders under `root`, sorted, at most `limit`.
fn sample_paths(root: &Path, limit: usize) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for e in walkdir::WalkDir::new(root)
        .min_depth(1)
        .max_depth(12)
        .sort_by_file_name()
    {
        let e = match e {
            Ok(e) => e,
            Err(err) => {
                if err.depth() == 0 {
                    return Err(Error::input(root, err));
                }
                continue;
            }
        };
        if let Ok(rel) = e.path().strip_prefix(root) {
            out.push(rel.to_path_buf());
        }
        if out.len() >= limit {
            break;
        }
    }
    Ok(out)
}
