//! The resumable loader state.

/// What a checkpoint stores to resume reading: the epoch and the global progress in it (units
/// read by all ranks together), plus a fingerprint of the plan's configuration. It does not
/// depend on rank, world size or worker count, so a job may resume with others.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct LoaderState {
    /// The epoch being read.
    pub epoch: u64,
    /// Global position in the epoch's plan: units `0..position` have been read.
    pub position: u64,
    /// [`crate::Planner::fingerprint`] of the plan it was taken from.
    pub fingerprint: u64,
}

impl LoaderState {
    /// Serialises to JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Parses JSON written by [`LoaderState::to_json`].
    pub fn from_json(s: &str) -> crate::Result<LoaderState> {
        serde_json::from_str(s).map_err(|e| crate::Error::State(format!("bad state json: {e}")))
    }
}
