//! The rank and world size of a process sharing a run (`ingest`, `shard`): from `--rank` and
//! `--world-size`, else from Slurm's variables, else a single process; and the test-only fault
//! injection of the Slurm test (`BOMDATA_FAIL_RANK`).

use anyhow::bail;
use bomdata_ingest::run::{Observer, UnitOutcome};
use bomdata_ingest::source::Unit;

/// Variables giving the rank, first found wins: a job array's task, else a `srun` task.
const RANK_VARS: [&str; 2] = ["SLURM_ARRAY_TASK_ID", "SLURM_PROCID"];
/// Variables giving the world size, in the same order.
const WORLD_VARS: [&str; 2] = ["SLURM_ARRAY_TASK_COUNT", "SLURM_NTASKS"];

/// Test-only: the rank that exits abruptly (status [`FAULT_STATUS`]) after its first batch of
/// work, as a killed task would; used by `scripts/test-slurm.sh` and the e2e tests.
pub const FAIL_RANK_VAR: &str = "BOMDATA_FAIL_RANK";
/// Exit status of an injected fault.
pub const FAULT_STATUS: i32 = 86;

fn env_usize(names: &[&str]) -> Option<usize> {
    names
        .iter()
        .find_map(|n| std::env::var(n).ok().and_then(|v| v.trim().parse().ok()))
}

/// `(rank, world)` from the flags, else Slurm's variables, else `(0, 1)`.
pub fn resolve(rank: Option<usize>, world: Option<usize>) -> anyhow::Result<(usize, usize)> {
    let r = rank.or_else(|| env_usize(&RANK_VARS)).unwrap_or(0);
    let w = world.or_else(|| env_usize(&WORLD_VARS)).unwrap_or(1);
    if w == 0 || r >= w {
        bail!(
            "rank {r} is not below world size {w}{}",
            if world.is_none() {
                " (a resubmitted array task, e.g. `sbatch --array=2`, sees a task count of 1: \
                 give the run's --world-size)"
            } else {
                ""
            }
        );
    }
    Ok((r, w))
}

/// Whether `BOMDATA_FAIL_RANK` names this rank.
pub fn fault_injected(rank: usize) -> bool {
    env_usize(&[FAIL_RANK_VAR]) == Some(rank)
}

/// Ends the process abruptly, as a killed task would (no cleanup, no commit).
#[allow(clippy::print_stderr)]
pub fn die(rank: usize) -> ! {
    eprintln!("bomdata: {FAIL_RANK_VAR}={rank}: injected failure of rank {rank} (test only)");
    std::process::exit(FAULT_STATUS)
}

/// An ingest observer that ends the process after the first finished unit when
/// `BOMDATA_FAIL_RANK` names this rank; otherwise it only forwards to `inner`.
pub struct Faulty<'a> {
    inner: &'a dyn Observer,
    fail: Option<usize>,
}

impl<'a> Faulty<'a> {
    /// Wraps `inner` for rank `rank`.
    pub fn new(inner: &'a dyn Observer, rank: usize) -> Self {
        Faulty {
            inner,
            fail: fault_injected(rank).then_some(rank),
        }
    }
}

impl Observer for Faulty<'_> {
    fn planned(&self, units: &[Unit]) {
        self.inner.planned(units);
    }
    fn finished(&self, unit: &Unit, outcome: &UnitOutcome) {
        self.inner.finished(unit, outcome);
        if let Some(r) = self.fail {
            die(r);
        }
    }
}
