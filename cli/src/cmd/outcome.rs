//! The end of a run that writes a dataset: an empty result is a failure with its reasons, a
//! partial one says what it skipped (issue 15: no silent empty successes).

use std::path::Path;

use bomdata_schemas::manifest::Manifest;
use bomdata_schemas::report::{Outcome, ReportEntry, summarize, summary_line};
use bomdata_shard::dataset;

/// The entries of `out`'s `report.jsonl` (none when it has none).
pub fn report(out: &Path) -> Vec<ReportEntry> {
    std::fs::read_to_string(out.join(dataset::REPORT))
        .map(|t| {
            t.lines()
                .filter_map(|l| serde_json::from_str(l).ok())
                .collect()
        })
        .unwrap_or_default()
}

/// The exit code of a `shard` build from `input` that wrote `m` into `out`: 1 with a one-line
/// summary of the skipped inputs by reason when it wrote no sample and no table row (and the
/// input holds no table rows either: table parts are not carried by the profiles yet), else 0
/// (the skips, if any, summarised on stderr).
pub fn shard_exit(input: &Path, out: &Path, m: &Manifest) -> i32 {
    let skipped = summarize(&report(out), Outcome::Skipped);
    let input_rows = dataset::read_manifest(input).map_or(0, |i| table_rows(&i));
    if m.counts.samples == 0 && table_rows(m) == 0 && input_rows == 0 {
        let why = if skipped.is_empty() {
            "the input dataset has no sample this profile takes".to_string()
        } else {
            summary_line(&skipped)
        };
        eprintln!("bomdata: error: 0 samples: {why}");
        return 1;
    }
    if !skipped.is_empty() {
        let n: u64 = skipped.iter().map(|(_, n)| n).sum();
        eprintln!("bomdata: {n} inputs skipped: {}", summary_line(&skipped));
    }
    0
}

/// Rows in the table parts (`tables/…`) a manifest lists.
fn table_rows(m: &Manifest) -> u64 {
    m.tables
        .iter()
        .filter(|t| t.name.starts_with(bomdata_ingest::tables::TABLES))
        .map(|t| t.rows)
        .sum()
}
