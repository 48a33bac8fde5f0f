//! Progress of a shard build: the build calls a [`BuildObserver`] once with its plan and once
//! per canonical sample it has processed, in output order (see
//! [`build_observed`](crate::build::build_observed)).

/// Receives the progress of a shard build. Calls come from the thread that writes the shards.
pub trait BuildObserver: Sync {
    /// The build has planned `samples` canonical samples of `bytes` bytes in all.
    fn planned(&self, samples: u64, bytes: u64);
    /// One canonical sample of `bytes` bytes is done: `written` training samples came out of
    /// it and `rejected` parts were skipped by the profile.
    fn sample_done(&self, bytes: u64, written: u64, rejected: u64);
}

/// An observer that ignores everything (the build without progress).
pub struct Silent;

impl BuildObserver for Silent {
    fn planned(&self, _samples: u64, _bytes: u64) {}
    fn sample_done(&self, _bytes: u64, _written: u64, _rejected: u64) {}
}
