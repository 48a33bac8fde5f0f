//! `bomdata merge`: finishes a distributed `ingest` or `shard` run.

use std::path::PathBuf;

use bomdata_ingest::run;

/// Arguments of `bomdata merge`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The dataset directory every rank wrote into (of `bomdata ingest` or `bomdata shard`).
    pub dataset: PathBuf,
    /// The run's private state folder (default: DATASET.private beside it, as ingest's
    /// --state-dir).
    #[arg(long)]
    pub state_dir: Option<PathBuf>,
}

/// Runs `bomdata merge`.
pub fn run(a: &Args) -> anyhow::Result<i32> {
    super::check_local_path(&a.dataset)?;
    if bomdata_profiles::distributed::is_run(&a.dataset) {
        return super::shard_rank::merge(&a.dataset);
    }
    let state = a
        .state_dir
        .clone()
        .unwrap_or_else(|| run::private_dir(&a.dataset));
    if !state.join("plan.json").is_file()
        && a.dataset.join(bomdata_shard::dataset::MANIFEST).is_file()
    {
        anyhow::bail!(
            "{}: a finished dataset, not a distributed run in progress: nothing to merge",
            a.dataset.display()
        );
    }
    match run::finalize(&a.dataset, &state)? {
        Some(m) => {
            eprintln!(
                "bomdata: merged {} units: {} samples in {} shards ({} failed units)",
                m.counts.units, m.counts.samples, m.counts.shards, m.counts.failed_units
            );
            Ok(if m.counts.failed_units > 0 { 1 } else { 0 })
        }
        None => {
            eprintln!(
                "bomdata: not every planned unit has finished yet; run the missing ranks first"
            );
            Ok(1)
        }
    }
}
