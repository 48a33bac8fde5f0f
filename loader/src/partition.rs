//! Splitting an epoch's units between ranks (and, for process-based workers, workers).
//!
//! Global *positions* `0, 1, 2, ...` index the epoch plan. What is left of an epoch is a
//! [`Remaining`] set of position ranges (all of `0..n` at the start of an epoch). Its units are
//! numbered `0..m` in position order (*virtual* indices), and the partition gives rank `r` of
//! `W` a share of them by [`Split`]:
//!
//! - [`Split::Blocks`] (default): one contiguous run of virtual indices per rank. The epoch order
//!   walks a few shards at a time (shard permutation + bounded shuffle buffer), so a rank reads
//!   whole shards of its own and at most two shards are shared with a neighbour: the split is by
//!   shard, not by sample, while still giving every unit to exactly one rank when shard sizes
//!   differ (a split of whole shards cannot).
//! - [`Split::Interleave`]: rank `r` takes virtual indices `r, r + W, r + 2W, ...` (every rank
//!   touches every shard of the order; useful with a global shuffle, where locality is moot).
//!
//! After every rank has read `k` units (ranks in lockstep), [`Partition::progress`] removes what
//! was read from the remaining set; every rank computes the same set. A job that resumes with
//! another world size partitions that set anew, so nothing is lost or read twice. Within a rank,
//! worker `w` of `K` takes every `K`-th of the rank's units (starting at `w`), so the rank's
//! sequence does not depend on the worker count either.

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

/// How the remaining units are dealt to ranks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Split {
    /// One contiguous run of the epoch order per rank: each rank reads its own shards.
    #[default]
    Blocks,
    /// Round robin over the epoch order: every rank reads from every shard.
    Interleave,
}

/// The positions of an epoch still to be read: sorted, disjoint, non-empty `[start, end)`
/// ranges. Positions at or past the epoch length `n` are padding (see [`Remainder::Pad`]): they
/// read unit `position % n`, so padding repeats the epoch from its start.
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
#[serde(from = "RangesOnly", into = "RangesOnly")]
pub struct Remaining {
    ranges: Vec<[u64; 2]>,
    /// Virtual index of each range's first unit (derived; for the binary search in `global`,
    /// which runs once per sample read and may face one range per rank of an earlier run).
    starts: Vec<u64>,
}

/// The serialised form of [`Remaining`]: the ranges only.
#[derive(Clone, serde::Serialize, serde::Deserialize)]
struct RangesOnly {
    ranges: Vec<[u64; 2]>,
}

impl From<RangesOnly> for Remaining {
    fn from(r: RangesOnly) -> Remaining {
        Remaining::from_ranges(r.ranges)
    }
}

impl From<Remaining> for RangesOnly {
    fn from(r: Remaining) -> RangesOnly {
        RangesOnly { ranges: r.ranges }
    }
}

impl PartialEq for Remaining {
    fn eq(&self, other: &Remaining) -> bool {
        self.ranges == other.ranges
    }
}

impl Eq for Remaining {}

impl Remaining {
    /// Everything from `start` to the end of an epoch of `n` units.
    pub fn from_position(n: u64, start: u64) -> Remaining {
        Remaining::from_ranges(vec![[start, n]])
    }

    /// A set from ranges (empty ones dropped, the rest sorted and merged).
    pub fn from_ranges(mut ranges: Vec<[u64; 2]>) -> Remaining {
        ranges.retain(|r| r[0] < r[1]);
        ranges.sort_unstable();
        let mut out: Vec<[u64; 2]> = Vec::with_capacity(ranges.len());
        for r in ranges {
            match out.last_mut() {
                Some(last) if r[0] <= last[1] => last[1] = last[1].max(r[1]),
                _ => out.push(r),
            }
        }
        let mut starts = Vec::with_capacity(out.len());
        let mut v = 0;
        for r in &out {
            starts.push(v);
            v += r[1] - r[0];
        }
        Remaining {
            ranges: out,
            starts,
        }
    }

    /// The ranges.
    pub fn ranges(&self) -> &[[u64; 2]] {
        &self.ranges
    }

    /// Number of units left.
    pub fn len(&self) -> u64 {
        match (self.starts.last(), self.ranges.last()) {
            (Some(s), Some(r)) => s + (r[1] - r[0]),
            _ => 0,
        }
    }

    /// True when nothing is left.
    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    /// `Some(start)` when the set is one range `[start, n)` to the end of an epoch of `n`
    /// (or empty: `Some(n)`).
    pub fn as_position(&self, n: u64) -> Option<u64> {
        match self.ranges.as_slice() {
            [] => Some(n),
            [[a, b]] if *b == n => Some(*a),
            _ => None,
        }
    }

    /// The first position after the set and the epoch: where new padding starts.
    fn pad_start(&self, n: u64) -> u64 {
        n.max(self.ranges.last().map_or(0, |r| r[1]))
    }

    /// The set with `pad` padding positions appended.
    fn padded(&self, n: u64, pad: u64) -> Remaining {
        if pad == 0 {
            return self.clone();
        }
        let p = self.pad_start(n);
        let mut ranges = self.ranges.clone();
        ranges.push([p, p + pad]);
        Remaining::from_ranges(ranges)
    }

    /// The global position of virtual index `v`; indices past the set (`v >= len`) are new
    /// padding and map to positions after the set and the epoch, which
    /// [`Partition::unit_at`] wraps to the epoch start.
    pub fn global(&self, n: u64, v: u64) -> u64 {
        let len = self.len();
        if v >= len {
            return self.pad_start(n) + (v - len);
        }
        // the last range starting at or before v
        let i = self.starts.partition_point(|&s| s <= v) - 1;
        self.ranges[i][0] + (v - self.starts[i])
    }

    /// The set without the units at the given virtual index ranges (padding indices ignored).
    fn without(&self, taken: &[[u64; 2]]) -> Remaining {
        let mut taken: Vec<[u64; 2]> = taken.iter().copied().filter(|t| t[0] < t[1]).collect();
        taken.sort_unstable();
        let mut out = Vec::with_capacity(self.ranges.len() + taken.len());
        let mut base = 0u64; // virtual index of the current range's start
        let mut ti = 0;
        for r in &self.ranges {
            let len = r[1] - r[0];
            let (vs, ve) = (base, base + len);
            let mut cur = vs;
            while ti < taken.len() && taken[ti][0] < ve {
                let [ts, te] = taken[ti];
                if te <= cur {
                    ti += 1;
                    continue;
                }
                if ts > cur {
                    out.push([r[0] + (cur - vs), r[0] + (ts - vs)]);
                }
                cur = cur.max(te.min(ve));
                if te <= ve {
                    ti += 1;
                } else {
                    break;
                }
            }
            if cur < ve {
                out.push([r[0] + (cur - vs), r[1]]);
            }
            base = ve;
        }
        Remaining::from_ranges(out)
    }
}

/// This process's share: rank, world size, remainder policy and split, passed explicitly.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Partition {
    /// This rank, `0..world`.
    pub rank: usize,
    /// Number of ranks.
    pub world: usize,
    /// Remainder policy.
    pub remainder: Remainder,
    /// How units are dealt to ranks.
    pub split: Split,
}

impl Partition {
    /// A checked partition with the default [`Split::Blocks`].
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
            split: Split::default(),
        })
    }

    /// The same partition with another split.
    pub fn with_split(mut self, split: Split) -> Partition {
        self.split = split;
        self
    }

    /// The single-process partition.
    pub fn single() -> Partition {
        Partition {
            rank: 0,
            world: 1,
            remainder: Remainder::Uneven,
            split: Split::default(),
        }
    }

    /// Virtual indices dealt out when `m` units remain: `m`, less the dropped remainder or
    /// plus the padding.
    pub fn total(&self, m: u64) -> u64 {
        let w = self.world as u64;
        match self.remainder {
            Remainder::Uneven => m,
            Remainder::Drop => m / w * w,
            Remainder::Pad => m.div_ceil(w) * w,
        }
    }

    /// The first virtual index and unit count of `rank` in a block split of `total` units
    /// (the first `total % world` ranks take one more).
    fn block(&self, rank: usize, total: u64) -> (u64, u64) {
        let w = self.world as u64;
        let (q, extra) = (total / w, total % w);
        let r = rank as u64;
        (r * q + r.min(extra), q + u64::from(r < extra))
    }

    fn count_of(&self, rank: usize, m: u64) -> u64 {
        let total = self.total(m);
        match self.split {
            Split::Blocks => self.block(rank, total).1,
            Split::Interleave => {
                let r = rank as u64;
                if r >= total {
                    0
                } else {
                    (total - r).div_ceil(self.world as u64)
                }
            }
        }
    }

    /// Number of units this rank reads when `m` remain.
    pub fn count(&self, m: u64) -> u64 {
        self.count_of(self.rank, m)
    }

    /// The virtual index of this rank's `k`-th unit when `m` remain.
    pub fn virtual_index(&self, m: u64, k: u64) -> u64 {
        match self.split {
            Split::Blocks => self.block(self.rank, self.total(m)).0 + k,
            Split::Interleave => self.rank as u64 + k * self.world as u64,
        }
    }

    /// The global position of this rank's `k`-th unit of `rest` (epoch of `n` units).
    pub fn position(&self, n: u64, rest: &Remaining, k: u64) -> u64 {
        rest.global(n, self.virtual_index(rest.len(), k))
    }

    /// This rank's global positions.
    pub fn positions(&self, n: u64, rest: &Remaining) -> impl Iterator<Item = u64> + use<> {
        let p = *self;
        let rest = rest.clone();
        (0..self.count(rest.len())).map(move |k| p.position(n, &rest, k))
    }

    /// The positions of worker `worker` of `workers` in this rank (every `workers`-th).
    pub fn worker_positions(
        &self,
        n: u64,
        rest: &Remaining,
        worker: usize,
        workers: usize,
    ) -> impl Iterator<Item = u64> + use<> {
        let p = *self;
        let rest = rest.clone();
        let workers = workers.max(1);
        (worker as u64..self.count(rest.len()))
            .step_by(workers)
            .map(move |k| p.position(n, &rest, k))
    }

    /// The unit at a global position of an epoch of `n` units.
    pub fn unit_at(pos: u64, n: u64) -> usize {
        if n == 0 { 0 } else { (pos % n) as usize }
    }

    /// What remains of `rest` (epoch of `n` units) after every rank has read `k` of its units
    /// (ranks in lockstep; a rank with fewer units has read all of them). The same on every
    /// rank. Padding not yet read stays in the set, so a resume reads the same padding.
    pub fn progress(&self, n: u64, rest: &Remaining, k: u64) -> Remaining {
        let m = rest.len();
        let total = self.total(m);
        let w = self.world as u64;
        let taken: Vec<[u64; 2]> = match self.split {
            Split::Blocks => (0..self.world)
                .map(|r| {
                    let (lo, len) = self.block(r, total);
                    [lo, lo + k.min(len)]
                })
                .collect(),
            // ranks hold counts c or c + 1: after k each, virtual 0..min(k*w, total) are read
            Split::Interleave => vec![[0, k.saturating_mul(w).min(total)]],
        };
        rest.padded(n, total.saturating_sub(m)).without(&taken)
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
                .map(|r| Partition::new(r, 3, rem).unwrap().count(n))
                .collect();
            assert_eq!(got, want, "{rem:?}");
        }
    }

    #[test]
    fn remaining_without_and_global() {
        let r = Remaining::from_ranges(vec![[10, 14], [2, 5], [5, 6], [20, 20]]);
        assert_eq!(r.ranges(), &[[2, 6], [10, 14]]);
        assert_eq!(r.len(), 8);
        let g: Vec<u64> = (0..10).map(|v| r.global(30, v)).collect();
        assert_eq!(g, vec![2, 3, 4, 5, 10, 11, 12, 13, 30, 31]);
        // virtual 1..2 and 3..5 (spanning both ranges) and padding 9..12 are read
        let w = r.without(&[[3, 5], [1, 2], [9, 12]]);
        assert_eq!(w.ranges(), &[[2, 3], [4, 5], [11, 14]]);
        assert_eq!(r.without(&[[0, 8]]).len(), 0);
        assert_eq!(Remaining::from_position(9, 3).as_position(9), Some(3));
        assert_eq!(w.as_position(14), None);
    }

    #[test]
    fn blocks_are_contiguous_and_progress_is_shared() {
        let rest = Remaining::from_position(14, 0);
        let parts: Vec<Partition> = (0..4)
            .map(|r| Partition::new(r, 4, Remainder::Uneven).unwrap())
            .collect();
        let got: Vec<Vec<u64>> = parts
            .iter()
            .map(|p| p.positions(14, &rest).collect())
            .collect();
        assert_eq!(
            got,
            vec![
                vec![0, 1, 2, 3],
                vec![4, 5, 6, 7],
                vec![8, 9, 10],
                vec![11, 12, 13]
            ]
        );
        // after 2 units each: 2..4, 6..8, 10..11, 13..14 remain; 3 ranks take them as blocks
        let left = parts[0].progress(14, &rest, 2);
        assert_eq!(left.ranges(), &[[2, 4], [6, 8], [10, 11], [13, 14]]);
        let three: Vec<Vec<u64>> = (0..3)
            .map(|r| {
                Partition::new(r, 3, Remainder::Uneven)
                    .unwrap()
                    .positions(14, &left)
                    .collect()
            })
            .collect();
        assert_eq!(three, vec![vec![2, 3], vec![6, 7], vec![10, 13]]);
        // pad: 14 units on 4 ranks of 4; the last two positions wrap to the epoch start
        let pad = Partition::new(3, 4, Remainder::Pad).unwrap();
        let last: Vec<usize> = pad
            .positions(14, &rest)
            .map(|p| Partition::unit_at(p, 14))
            .collect();
        assert_eq!(last, vec![12, 13, 0, 1]);
    }
}
