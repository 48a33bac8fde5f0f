//! `report.jsonl`: every input that failed or was skipped, one JSON object per line.

use serde::{Deserialize, Serialize};

/// What happened to an input.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The unit failed; nothing of it was written.
    Failed,
    /// The input was deliberately left out (e.g. a rejection rule of a profile).
    Skipped,
}

/// One line of `report.jsonl`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ReportEntry {
    /// Failed or skipped.
    pub outcome: Outcome,
    /// Work unit ID.
    pub unit: String,
    /// Path of the input, relative to the source root.
    pub path: String,
    /// Why, as one line.
    pub reason: String,
}
