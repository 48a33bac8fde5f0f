//! Rows of `subjects.parquet`: one per (pseudonymous subject, session).

use serde::{Deserialize, Serialize};

use crate::Modality;

/// Column names of `subjects.parquet`, in order.
pub const COLUMNS: [&str; 6] = [
    "subject",
    "source",
    "session",
    "modalities",
    "n_samples",
    "split",
];

/// One row of the subjects table.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct SubjectRow {
    /// Pseudonymous subject ID (keyed hash, hex).
    pub subject: String,
    /// Source entry of `datasets.toml`.
    pub source: String,
    /// Session or visit label; empty when the source has none.
    pub session: String,
    /// Modalities present for this subject and session.
    pub modalities: Vec<Modality>,
    /// Samples written for this subject and session.
    pub n_samples: u64,
    /// Split (`train`/`valid`/`test`), empty in canonical datasets.
    pub split: String,
}

impl SubjectRow {
    /// Merges rows of the same (subject, source, session): union of modalities, summed counts.
    pub fn merge_rows(mut rows: Vec<SubjectRow>) -> Vec<SubjectRow> {
        rows.sort();
        let mut out: Vec<SubjectRow> = Vec::with_capacity(rows.len());
        for r in rows {
            match out.last_mut() {
                Some(last)
                    if last.subject == r.subject
                        && last.source == r.source
                        && last.session == r.session =>
                {
                    last.modalities.extend(r.modalities);
                    last.modalities.sort();
                    last.modalities.dedup();
                    last.n_samples += r.n_samples;
                }
                _ => out.push(r),
            }
        }
        out
    }
}
