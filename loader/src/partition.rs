//! Splitting an epoch's units between ranks (and, for process-based workers, workers).
//!
//! Global *positions* `0, 1, 2, ...` index the epoch plan. A job that has consumed positions
//! `0..g` (all ranks in lockstep) resumes from `g` with any world size: rank `r` of `W` takes
//! positions `g + r, g + r + W, g + r + 2W, ...` up to the epoch's end, so every unit is read
//! exactly once per epoch across ranks whatever the world size was when each part was read.
//! Within a rank, worker `w` of `K` takes every `K`-th of the rank's positions (starting at `w`),
//! so the rank's sequence does not depend on the worker count either.

use crate::{Error, Result};

/// What to do with the units left over when they do not divide evenly among ranks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Remainder {
    /// Drop the last `remaining % world` units (every rank reads the same count; they are read
    /// in a later epoch's order instead).
    Drop,
    /// Repeat units from the start of the epoch so every rank reads the same count.
    Pad,
    /// Ranks read `floor` or `ceil` of `remaining / world`: every unit exactly once.
    #[default]
    Uneven,
}

/// This process's share: rank, world size and remainder policy, passed explicitly.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Partition {
    /// This rank, `0..world`.
    pub rank: usize,
    /// Number of ranks.
    pub world: usize,
    /// Remainder policy.
    pub remainder: Remainder,
}

impl Partition {
    /// A checked partition.
    pub fn new(rank: usize, world: usize, remainder: Remainder) -> Result<Partition> {
        if world == 0 || rank >= world {
            return Err(Error::config(format!(
                "rank {rank} is not in a world of {world}"
            )));
        }
        Ok(Partition {
            rank,
            world,
            remainder,
        })
    }

    /// The single-process partition.
    pub fn single() -> Partition {
        Partition {
            rank: 0,
            world: 1,
            remainder: Remainder::Uneven,
        }
    }

    /// The end (exclusive) of the global positions of an epoch of `n` units resumed at `start`.
    /// Positions at or past `n` (padding) map to unit `pos % n`.
    pub fn end(&self, n: u64, start: u64) -> u64 {
        let w = self.world as u64;
        let left = n.saturating_sub(start);
        match self.remainder {
            Remainder::Uneven => start.max(n),
            Remainder::Drop => start + left / w * w,
            Remainder::Pad => start + left.div_ceil(w) * w,
        }
    }

    /// Number of positions this rank reads in an epoch of `n` units resumed at `start`.
    pub fn count(&self, n: u64, start: u64) -> u64 {
        let end = self.end(n, start);
        let first = start + self.rank as u64;
        if first >= end {
            0
        } else {
            (end - first).div_ceil(self.world as u64)
        }
    }

    /// The global position of this rank's `k`-th unit from `start`.
    pub fn position(&self, start: u64, k: u64) -> u64 {
        start + self.rank as u64 + k * self.world as u64
    }

    /// This rank's global positions.
    pub fn positions(&self, n: u64, start: u64) -> impl Iterator<Item = u64> + use<> {
        let p = *self;
        (0..self.count(n, start)).map(move |k| p.position(start, k))
    }

    /// The positions of worker `worker` of `workers` in this rank (every `workers`-th).
    pub fn worker_positions(
        &self,
        n: u64,
        start: u64,
        worker: usize,
        workers: usize,
    ) -> impl Iterator<Item = u64> + use<> {
        let p = *self;
        let workers = workers.max(1) as u64;
        let count = self.count(n, start);
        (worker as u64..count)
            .step_by(workers as usize)
            .map(move |k| p.position(start, k))
    }

    /// The unit at a global position of an epoch of `n` units.
    pub fn unit_at(pos: u64, n: u64) -> usize {
        if n == 0 { 0 } else { (pos % n) as usize }
    }

    /// The global progress after this rank has read `k` units from `start` (all ranks in
    /// lockstep), capped at the epoch end.
    pub fn progress(&self, n: u64, start: u64, k: u64) -> u64 {
        (start + k * self.world as u64).min(self.end(n, start))
    }
}

/// Rank and world read from a launcher's environment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DistEnv {
    /// Global rank.
    pub rank: usize,
    /// World size.
    pub world: usize,
    /// Rank within the node.
    pub local_rank: usize,
    /// Processes on the node.
    pub local_world: usize,
}

impl DistEnv {
    /// Reads torchrun (`RANK`, `WORLD_SIZE`, `LOCAL_RANK`, `LOCAL_WORLD_SIZE`) or Slurm
    /// (`SLURM_PROCID`, `SLURM_NTASKS`, `SLURM_LOCALID`, `SLURM_NTASKS_PER_NODE`) variables from
    /// the process environment; `None` when neither is set.
    pub fn from_env() -> Result<Option<DistEnv>> {
        Self::from_vars(|k| std::env::var(k).ok())
    }

    /// As [`DistEnv::from_env`] with a custom lookup (testable; torchrun wins over Slurm).
    pub fn from_vars(get: impl Fn(&str) -> Option<String>) -> Result<Option<DistEnv>> {
        let num = |k: &str| -> Result<Option<usize>> {
            match get(k) {
                None => Ok(None),
                Some(v) => v.trim().parse::<usize>().map(Some).map_err(|_| {
                    Error::config(format!("environment variable {k}={v:?} is not a count"))
                }),
            }
        };
        // SLURM_NTASKS_PER_NODE may read "4(x2)"; take the leading number.
        let lead = |k: &str| -> Option<usize> {
            get(k).and_then(|v| {
                let d: String = v.chars().take_while(|c| c.is_ascii_digit()).collect();
                d.parse().ok()
            })
        };
        let env = if let (Some(rank), Some(world)) = (num("RANK")?, num("WORLD_SIZE")?) {
            DistEnv {
                rank,
                world,
                local_rank: num("LOCAL_RANK")?.unwrap_or(0),
                local_world: num("LOCAL_WORLD_SIZE")?.unwrap_or(1),
            }
        } else if let (Some(rank), Some(world)) = (num("SLURM_PROCID")?, num("SLURM_NTASKS")?) {
            DistEnv {
                rank,
                world,
                local_rank: num("SLURM_LOCALID")?.unwrap_or(0),
                local_world: lead("SLURM_NTASKS_PER_NODE").unwrap_or(1),
            }
        } else {
            return Ok(None);
        };
        if env.world == 0 || env.rank >= env.world {
            return Err(Error::config(format!(
                "environment rank {} is not in a world of {}",
                env.rank, env.world
            )));
        }
        Ok(Some(env))
    }

    /// The partition for this environment.
    pub fn partition(&self, remainder: Remainder) -> Result<Partition> {
        Partition::new(self.rank, self.world, remainder)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_torchrun_and_slurm() {
        let t = |k: &str| match k {
            "RANK" => Some("3".to_string()),
            "WORLD_SIZE" => Some("8".to_string()),
            "LOCAL_RANK" => Some("1".to_string()),
            _ => None,
        };
        let e = DistEnv::from_vars(t).unwrap().unwrap();
        assert_eq!((e.rank, e.world, e.local_rank), (3, 8, 1));
        let s = |k: &str| match k {
            "SLURM_PROCID" => Some("5".to_string()),
            "SLURM_NTASKS" => Some("6".to_string()),
            "SLURM_LOCALID" => Some("2".to_string()),
            "SLURM_NTASKS_PER_NODE" => Some("3(x2)".to_string()),
            _ => None,
        };
        let e = DistEnv::from_vars(s).unwrap().unwrap();
        assert_eq!((e.rank, e.world, e.local_rank, e.local_world), (5, 6, 2, 3));
        assert_eq!(DistEnv::from_vars(|_| None).unwrap(), None);
        let bad = |k: &str| match k {
            "RANK" => Some("9".to_string()),
            "WORLD_SIZE" => Some("8".to_string()),
            _ => None,
        };
        assert!(DistEnv::from_vars(bad).is_err());
    }

    #[test]
    fn remainder_counts() {
        let n = 10;
        for (rem, want) in [
            (Remainder::Drop, vec![3, 3, 3]),
            (Remainder::Pad, vec![4, 4, 4]),
            (Remainder::Uneven, vec![4, 3, 3]),
        ] {
            let got: Vec<u64> = (0..3)
                .map(|r| Partition::new(r, 3, rem).unwrap().count(n, 0))
                .collect();
            assert_eq!(got, want, "{rem:?}");
        }
    }
}
