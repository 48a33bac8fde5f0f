//! One epoch iteration driven from Python. `Loader::epoch` borrows the loader mutably, which a
//! Python object cannot hold across calls, so the binding uses `Loader::into_epoch`: the
//! iterator owns the loader for the epoch and gives it back when stopped. Python's thread
//! receives each batch straight from the loader's reader threads (no hand-off thread between
//! them, as in a Rust program), together with the loader state after it, so the consumer's
//! state is exactly "after the batches received" while the readers keep reading ahead.

use bomdata_loader::{Batch, EpochIter, EpochStats, Loader, LoaderState};

/// What `recv` gives per batch.
pub type Item = (bomdata_loader::Result<Batch>, LoaderState);

/// A running epoch.
pub struct Running {
    it: Box<EpochIter<'static>>,
}

/// The loader, idle or lent to a running epoch.
pub enum Slot {
    /// Not iterating.
    Idle(Box<Loader>),
    /// An epoch is running (its reader threads read ahead).
    Running(Running),
    /// Another thread is waiting for a batch (the slot is taken out while the GIL is released).
    Busy,
    /// A stop failed to give the loader back: it is lost.
    Lost,
}

impl Running {
    /// Starts the remaining batches of `loader`'s current epoch, from `state`.
    pub fn start(mut loader: Loader, state: LoaderState) -> Result<Running, bomdata_loader::Error> {
        loader.set_state(state)?;
        Ok(Running {
            it: Box::new(loader.into_epoch()),
        })
    }

    /// The next batch, or `None` when the epoch is over (blocks; call without the GIL).
    pub fn recv(&mut self) -> Option<Item> {
        let item = self.it.next()?;
        Some((item, self.it.state()))
    }

    /// Stops reading (what the readers hold is dropped) and returns the loader and the stats
    /// of the epoch.
    pub fn stop(self) -> Option<(Loader, Option<EpochStats>)> {
        let loader = self.it.into_loader()?;
        let stats = loader.last_stats().cloned();
        Some((loader, stats))
    }
}
