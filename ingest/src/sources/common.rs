//! Helpers the file-tree adapters share: walking a source tree, unit IDs and sizes, and the
//! parts of a unit every `convert` reads first.

use std::path::{Path, PathBuf};

use bomdata_schemas::Modality;

use crate::source::Unit;
use crate::{Error, Result};

/// Every file below `root` (following links), as (absolute path, path relative to `root`), in
/// walk order. A folder that cannot be read fails the plan with its path.
pub(crate) fn files(root: &Path) -> impl Iterator<Item = Result<(PathBuf, PathBuf)>> + '_ {
    walkdir::WalkDir::new(root)
        .follow_links(true)
        .into_iter()
        .filter_map(move |entry| match entry {
            Err(e) => Some(Err(Error::Other(format!(
                "walking {}: {e}",
                root.display()
            )))),
            Ok(e) if e.file_type().is_file() => {
                let rel = e
                    .path()
                    .strip_prefix(root)
                    .unwrap_or(e.path())
                    .to_path_buf();
                Some(Ok((e.into_path(), rel)))
            }
            Ok(_) => None,
        })
}

/// The relative path as a unit ID: `prefix` + the path with every character outside
/// `[A-Za-z0-9_.-]` replaced by `_`.
pub(crate) fn unit_id(prefix: &str, rel: &Path) -> String {
    let s: String = rel
        .to_string_lossy()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("{prefix}{s}")
}

/// The size of a file, 0 when it cannot be read (the plan's byte count is an estimate).
pub(crate) fn file_size(path: &Path) -> u64 {
    std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}

/// The sum of the sizes of `inputs` (relative to `root`).
pub(crate) fn inputs_size(root: &Path, inputs: &[PathBuf]) -> u64 {
    inputs.iter().map(|p| file_size(&root.join(p))).sum()
}

/// A unit's first input (its main file).
pub(crate) fn main_input(unit: &Unit) -> Result<&PathBuf> {
    unit.inputs
        .first()
        .ok_or_else(|| Error::Other(format!("unit {} has no input", unit.id)))
}

/// The modality the plan recorded in a unit's `detail.modality`.
pub(crate) fn unit_modality(unit: &Unit) -> Result<Modality> {
    serde_json::from_value(unit.detail["modality"].clone())
        .map_err(|e| Error::Other(format!("unit {}: {e}", unit.id)))
}
