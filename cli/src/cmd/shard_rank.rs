//! `bomdata shard --rank R --world-size N` (N > 1): one rank of a distributed shard build
//! (see `bomdata_profiles::distributed`); `bomdata merge OUT` finishes it.

use anyhow::{Context, bail};
use bomdata_profiles::build::BuildOptions;
use bomdata_profiles::{Params, distributed, registry};

use super::shard::Args;

/// Runs one rank: locks `--out` as this rank, applies the profile to the rank's block of the
/// plan and commits its part. The summary line goes to stderr.
#[allow(clippy::print_stderr)]
pub fn run(
    a: &Args,
    (rank, world): (usize, usize),
    params: &Params,
    opts: &BuildOptions,
    tokens: bool,
) -> anyhow::Result<i32> {
    if tokens {
        bail!("--tokens builds run in one process: drop --rank/--world-size");
    }
    if a.overwrite {
        bail!("--overwrite cannot be used with several ranks: clear --out before starting them");
    }
    let profile = registry::create(&a.profile, params)?;
    std::fs::create_dir_all(&a.out).with_context(|| format!("creating {}", a.out.display()))?;
    let _lock = bomdata_shard::lock::RunLock::rank(&a.out, "shard", rank, world)?;
    let fail = super::ranks::fault_injected(rank);
    let s = distributed::run_rank(
        &a.dataset,
        &a.out,
        profile.as_ref(),
        params,
        opts,
        (rank, world),
        &|done| {
            if fail && done > 0 {
                super::ranks::die(rank);
            }
        },
    )?;
    eprintln!(
        "bomdata: shard rank {rank} of {world}: {} of {} planned samples -> {} samples ({} rejected); run `bomdata merge {}` when every rank is done",
        s.inputs,
        s.planned,
        s.samples,
        s.rejected,
        a.out.display()
    );
    Ok(0)
}

/// `bomdata merge OUT` of a distributed shard build: writes the shards and manifest.
#[allow(clippy::print_stderr)]
pub fn merge(out: &std::path::Path) -> anyhow::Result<i32> {
    let _lock = bomdata_shard::lock::RunLock::exclusive(out, "merge")?;
    let m = distributed::merge(out)
        .with_context(|| format!("merging the distributed shard build in {}", out.display()))?;
    eprintln!(
        "bomdata: merged shard build: {} samples in {} shards ({} subjects) -> {}",
        m.counts.samples,
        m.counts.shards,
        m.counts.subjects,
        out.join(bomdata_shard::dataset::MANIFEST).display()
    );
    Ok(0)
}
