//! `bomdata verify`.

use std::path::PathBuf;

use bomdata_shard::{dataset, verify};

/// Arguments of `bomdata verify`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The dataset directory.
    pub dataset: PathBuf,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Runs `bomdata verify`.
pub fn run(a: &Args) -> anyhow::Result<i32> {
    super::check_local_path(&a.dataset)?;
    if !a.dataset.join(dataset::MANIFEST).is_file() {
        anyhow::bail!(
            "{}: not a bomdata dataset: no manifest.json",
            a.dataset.display()
        );
    }
    let manifest = dataset::read_manifest(&a.dataset)?;
    let report = verify::verify(&a.dataset, &manifest)?;
    if a.json {
        super::print_json(&serde_json::to_value(&report)?, true)?;
    } else {
        for p in &report.problems {
            outln!(
                "DAMAGED {}{}{}: {}",
                super::escape(&p.file),
                p.key
                    .as_deref()
                    .map(|k| format!(" key {k}"))
                    .unwrap_or_default(),
                p.member
                    .as_deref()
                    .map(|m| format!(" member {m}"))
                    .unwrap_or_default(),
                p.message
            );
        }
        outln!(
            "{} shards, {:.1} MB checked, {} problems",
            report.shards,
            report.bytes as f64 / 1e6,
            report.problems.len()
        );
    }
    Ok(if report.problems.is_empty() { 0 } else { 1 })
}
