//! The resumable loader state.

use crate::partition::{Partition, Remainder, Remaining, Split};

/// What a checkpoint stores to resume reading: the epoch, what is left of it (units read by all
/// ranks together are gone), and a fingerprint of the plan's configuration. It does not depend
/// on rank, world size or worker count, so a job may resume with others.
///
/// While the units read form a prefix of the epoch order (a single rank, or the start of an
/// epoch) the state is just `position`. Otherwise it is the set read from (`position`, or
/// `rest` after a resume with another world size) less what every rank of the last run has
/// read (`read`): a few numbers, whatever the world size, until the next resume materialises it.
#[derive(Clone, Debug, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct LoaderState {
    /// The epoch being read.
    pub epoch: u64,
    /// Global position in the epoch's plan: units `0..position` have been read (ignored when
    /// `rest` is set).
    pub position: u64,
    /// [`crate::Planner::fingerprint`] of the plan it was taken from.
    pub fingerprint: u64,
    /// The positions still to read when they are not one run to the end of the epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rest: Option<Remaining>,
    /// What each rank of the last run read from that set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read: Option<RanksRead>,
}

/// Every rank of a run of `world` ranks read `units` of its share (ranks in lockstep).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RanksRead {
    /// World size of that run.
    pub world: usize,
    /// Its remainder policy.
    pub remainder: Remainder,
    /// Its split.
    pub split: Split,
    /// Units each rank read (a rank with fewer read all of its own).
    pub units: u64,
}

impl LoaderState {
    /// What remains of an epoch of `n` units.
    pub fn remaining(&self, n: u64) -> Remaining {
        let base = match &self.rest {
            Some(r) => r.clone(),
            None => Remaining::from_position(n, self.position),
        };
        match self.read {
            Some(read) if read.world > 0 => Partition {
                rank: 0,
                world: read.world,
                remainder: read.remainder,
                split: read.split,
            }
            .progress(n, &base, read.units),
            _ => base,
        }
    }

    /// Records what remains of an epoch of `n` units, as a position when it is one run to the
    /// end of the epoch.
    pub fn set_remaining(&mut self, n: u64, rest: Remaining) {
        self.read = None;
        match rest.as_position(n) {
            Some(p) => {
                self.position = p;
                self.rest = None;
            }
            None => {
                self.position = n - rest.len().min(n);
                self.rest = Some(rest);
            }
        }
    }

    /// Records that every rank of `part` has read its first `k` units of `rest` (what was left
    /// of an epoch of `n` units when the run started); `done`: this rank read all of its share
    /// (the state moves to the next epoch).
    pub fn advance(&mut self, part: Partition, n: u64, rest: &Remaining, k: u64, done: bool) {
        if done {
            self.start_of(self.epoch + 1);
        } else if part.world == 1 || part.split == Split::Interleave {
            // what was read is a prefix of the set: keep the state to a position
            self.set_remaining(n, part.progress(n, rest, k));
        } else {
            self.set_remaining(n, rest.clone());
            self.read = Some(RanksRead {
                world: part.world,
                remainder: part.remainder,
                split: part.split,
                units: k,
            });
        }
    }

    /// The state at the start of `epoch`.
    pub fn start_of(&mut self, epoch: u64) {
        self.epoch = epoch;
        self.position = 0;
        self.rest = None;
        self.read = None;
    }

    /// Serialises to JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Parses JSON written by [`LoaderState::to_json`].
    pub fn from_json(s: &str) -> crate::Result<LoaderState> {
        serde_json::from_str(s).map_err(|e| crate::Error::State(format!("bad state json: {e}")))
    }
}
