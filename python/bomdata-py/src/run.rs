//! One epoch iteration on a driver thread. `Loader::epoch` borrows the loader mutably, which a
//! Python object cannot hold across calls; the driver thread owns the loader for the epoch and
//! hands each batch over a one-slot channel together with the loader state after it, so the
//! consumer's state is exactly "after the batches received" while the loader's reader threads
//! keep reading ahead.

use std::sync::mpsc::{Receiver, sync_channel};
use std::thread::JoinHandle;

use bomdata_loader::{Batch, EpochStats, Loader, LoaderState};

/// What the driver sends per batch.
pub type Item = (bomdata_loader::Result<Batch>, LoaderState);

/// A running epoch.
pub struct Running {
    rx: Receiver<Item>,
    handle: JoinHandle<Loader>,
}

/// The loader, idle or lent to a running epoch.
pub enum Slot {
    /// Not iterating.
    Idle(Box<Loader>),
    /// An epoch is running on a driver thread.
    Running(Running),
    /// Another thread is waiting for a batch (the slot is taken out while the GIL is released).
    Busy,
    /// The driver thread panicked: the loader is lost.
    Lost,
}

impl Running {
    /// Starts the remaining batches of `loader`'s current epoch, from `state`.
    pub fn start(mut loader: Loader, state: LoaderState) -> Result<Running, bomdata_loader::Error> {
        loader.set_state(state)?;
        // one batch staged ahead of the consumer: its `recv` rarely waits for this thread to be
        // scheduled (each item carries its own state, so the consumer's state stays exact)
        let (tx, rx) = sync_channel::<Item>(1);
        let handle = std::thread::Builder::new()
            .name("bomdata-py-driver".into())
            .spawn(move || {
                {
                    let mut it = loader.epoch();
                    while let Some(item) = it.next() {
                        let st = it.state();
                        if tx.send((item, st)).is_err() {
                            break;
                        }
                    }
                }
                loader
            })
            .map_err(|e| bomdata_loader::Error::io("<driver thread>", e))?;
        Ok(Running { rx, handle })
    }

    /// The next batch, or `None` when the epoch is over (blocks; call without the GIL).
    pub fn recv(&self) -> Option<Item> {
        self.rx.recv().ok()
    }

    /// Stops reading (what the readers hold is dropped) and returns the loader and the stats
    /// of the epoch; `None` if the driver panicked.
    pub fn stop(self) -> Option<(Loader, Option<EpochStats>)> {
        drop(self.rx);
        let loader = self.handle.join().ok()?;
        let stats = loader.last_stats().cloned();
        Some((loader, stats))
    }
}
