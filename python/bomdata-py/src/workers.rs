//! The loader state of a rank whose batches came from several data-loading worker processes
//! (PyTorch `DataLoader(num_workers=K)`): worker `w` of rank `r` reads as rank `r*K + w` of
//! `world*K`; the main process counts the batches it received from each worker and asks for
//! the state they add up to, assuming every rank received as many from each of its workers.
//! The result is a plain `LoaderState` (positions still unread), so the job may resume with any
//! world size or worker count.

use bomdata_loader::{LoaderOptions, LoaderState, Partition, Planner, Remaining};

use crate::spec::{Spec, SpecError};

/// The state after each worker `w` delivered `counts[w]` batches (of `opts.batch_size` units),
/// starting from `base` (the state the workers were started from).
pub fn merged_state(
    spec: &Spec,
    planner: &Planner,
    world: usize,
    opts: &LoaderOptions,
    base: &LoaderState,
    counts: &[u64],
) -> Result<LoaderState, SpecError> {
    let n = planner.epoch(base.epoch).len() as u64;
    let batch = Batching {
        units: opts.batch_size as u64,
        drop_last: opts.drop_last,
    };
    merged(spec, n, world, batch, base, counts)
}

/// How a loader cuts its share into batches.
#[derive(Clone, Copy, Debug)]
pub struct Batching {
    /// Units (plan positions) per batch.
    pub units: u64,
    /// Whether the last short batch is dropped.
    pub drop_last: bool,
}

/// As [`merged_state`], for a plan of `n` units per epoch (token loaders too).
pub fn merged(
    spec: &Spec,
    n: u64,
    world: usize,
    batch: Batching,
    base: &LoaderState,
    counts: &[u64],
) -> Result<LoaderState, SpecError> {
    let k = counts.len().max(1);
    let rest = base.remaining(n);
    let b = batch.units.max(1);
    let mut left: Vec<u64> = Vec::new();
    let mut finished = true;
    for r in 0..world {
        for (w, &c) in counts.iter().enumerate() {
            let part =
                Partition::new(r * k + w, world * k, spec.remainder)?.with_split(spec.partition);
            let count = part.count(rest.len());
            let read = c.saturating_mul(b).min(count);
            if read < count {
                finished = false;
            }
            left.extend(part.positions(n, &rest).skip(read as usize));
        }
    }
    let mut st = base.clone();
    let all_batches = counts.iter().enumerate().all(|(w, &c)| {
        // with drop_last a worker's last short batch never comes: it is done at its full batches
        let part = Partition::new(w, world * k, spec.remainder)
            .map(|p| p.with_split(spec.partition).count(rest.len()))
            .unwrap_or(0);
        c >= part / b
    });
    if finished || (batch.drop_last && all_batches) {
        st.start_of(base.epoch + 1);
        return Ok(st);
    }
    left.sort_unstable();
    let mut ranges: Vec<[u64; 2]> = Vec::new();
    for p in left {
        match ranges.last_mut() {
            Some(last) if last[1] == p => last[1] = p + 1,
            _ => ranges.push([p, p + 1]),
        }
    }
    st.set_remaining(n, Remaining::from_ranges(ranges));
    Ok(st)
}
