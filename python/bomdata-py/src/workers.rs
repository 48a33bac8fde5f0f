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
    let k = counts.len().max(1);
    let n = planner.epoch(base.epoch).len() as u64;
    let rest = base.remaining(n);
    let b = opts.batch_size.max(1) as u64;
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
    if finished || (opts.drop_last && all_batches) {
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
