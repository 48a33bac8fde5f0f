//! What the sample and token loaders share on the Python side: a loader state kept next to a
//! loader that is either idle or lent to a running epoch. [`Stateful`] names the few parts
//! that differ; [`state_json`], [`load_state_json`] and [`set_epoch`] are the bodies of the
//! `#[pymethods]` of the same name of both classes.

use std::sync::{Mutex, MutexGuard};

use bomdata_loader::LoaderState;
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;

use crate::err;

/// A native loader whose state lives in a mutex-guarded `Inner` beside the loader.
pub(crate) trait Stateful {
    /// The guarded part: the loader slot and the state after the batches handed out.
    type Inner;
    /// The loader's name in error messages (`"bomdata loader"`).
    const WHAT: &'static str;

    /// The guarded part.
    fn mutex(&self) -> &Mutex<Self::Inner>;
    /// Stops a running epoch (the loader is idle afterwards unless it was lost).
    fn stop(&self, py: Python<'_>) -> PyResult<()>;
    /// The state in `inner`.
    fn state(inner: &mut Self::Inner) -> &mut LoaderState;
    /// Sets `state` on the idle loader of `inner`; `None` when the loader is not idle.
    fn set_idle_state(
        inner: &mut Self::Inner,
        state: LoaderState,
    ) -> Option<bomdata_loader::Result<()>>;

    /// Locks the guarded part.
    fn lock(&self) -> PyResult<MutexGuard<'_, Self::Inner>> {
        self.mutex()
            .lock()
            .map_err(|_| PyRuntimeError::new_err(format!("{}: poisoned lock", Self::WHAT)))
    }
}

/// Implements [`Stateful`] for a native loader type `$ty` (error messages name it `$what`)
/// whose `inner: Mutex<Inner>` holds `state` and `slot` (a `Slot`, whose `Idle` variant boxes
/// the idle loader), and whose own `stop_running` stops a running epoch.
macro_rules! stateful {
    ($ty:ty, $what:literal) => {
        impl $crate::state::Stateful for $ty {
            type Inner = Inner;
            const WHAT: &'static str = $what;

            fn mutex(&self) -> &::std::sync::Mutex<Inner> {
                &self.inner
            }

            fn stop(&self, py: Python<'_>) -> PyResult<()> {
                self.stop_running(py)
            }

            fn state(inner: &mut Inner) -> &mut LoaderState {
                &mut inner.state
            }

            fn set_idle_state(
                inner: &mut Inner,
                state: LoaderState,
            ) -> Option<bomdata_loader::Result<()>> {
                match &mut inner.slot {
                    Slot::Idle(l) => Some(l.set_state(state)),
                    _ => None,
                }
            }
        }
    };
}
pub(crate) use stateful;

/// The state after the batches handed out so far, as JSON.
pub(crate) fn state_json<L: Stateful>(l: &L) -> PyResult<String> {
    Ok(L::state(&mut *l.lock()?).to_json())
}

/// Restores a state saved by [`state_json`] (any world size or worker count).
pub(crate) fn load_state_json<L: Stateful>(l: &L, py: Python<'_>, state: &str) -> PyResult<()> {
    l.stop(py)?;
    let st = LoaderState::from_json(state).map_err(err)?;
    let mut g = l.lock()?;
    match L::set_idle_state(&mut g, st.clone()) {
        Some(r) => r.map_err(err)?,
        None => {
            return Err(PyRuntimeError::new_err(format!("{} is not idle", L::WHAT)));
        }
    }
    *L::state(&mut g) = st;
    Ok(())
}

/// Jumps to the start of `epoch`.
pub(crate) fn set_epoch<L: Stateful>(l: &L, py: Python<'_>, epoch: u64) -> PyResult<()> {
    l.stop(py)?;
    L::state(&mut *l.lock()?).start_of(epoch);
    Ok(())
}
