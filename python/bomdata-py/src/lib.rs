//! `bomdata._native`: the Python extension module over `bomdata-loader` (pyo3, stable ABI).
//!
//! The Python package (`python/bomdata-py/python/bomdata`) wraps [`NativeLoader`]: options go
//! in as one JSON object (see [`spec`]), batches come out as dicts of NumPy arrays that view
//! the loader's batch buffers without a copy. A view keeps its batch alive (the array's `base`
//! holds the batch object), and a batch's buffers return to the loader's pool only when the
//! batch is freed, so the loader never writes into memory a live array shows.

use std::sync::{Arc, Mutex};

use bomdata_loader::{Batch, EpochStats, FieldKind, LoaderOptions, LoaderState, Planner};
use pyo3::exceptions::{PyException, PyRuntimeError};
use pyo3::prelude::*;
use pyo3::types::{PyByteArray, PyBytes, PyDict, PyList, PyTuple};

pub mod run;
pub mod spec;
mod state;
pub mod tokens;
pub mod workers;

use run::{Running, Slot};
use spec::{Spec, SpecError};
use state::Stateful;

pyo3::create_exception!(
    _native,
    BomdataError,
    PyException,
    "A bomdata loader error (bad options, unreadable dataset, foreign state)."
);

fn err(e: impl std::fmt::Display) -> PyErr {
    BomdataError::new_err(e.to_string())
}

/// A batch owned by Python: its field buffers stay out of the loader's pool while it lives.
#[pyclass(frozen, module = "bomdata._native")]
struct BatchBuffer {
    batch: Batch,
}

/// One tensor field of a batch, or one row of a list field, exported to NumPy through
/// `__array_interface__` (NumPy keeps this object, and through it the batch, as the array's
/// base).
#[pyclass(frozen, module = "bomdata._native")]
struct FieldArray {
    owner: Py<BatchBuffer>,
    field: usize,
    /// A list field's row (its own shape, a view of its bytes in the field buffer).
    row: Option<usize>,
}

#[pymethods]
impl FieldArray {
    #[getter(__array_interface__)]
    fn array_interface<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let f = &self.owner.get().batch.fields()[self.field];
        let typestr = match f.kind() {
            FieldKind::Tensor { dtype, .. } | FieldKind::List { dtype } => dtype.descr(),
            FieldKind::Bytes => "|u1",
        };
        match self.row {
            Some(r) => {
                let shape = f.row_shape(r).unwrap_or(&[]);
                interface(py, shape, typestr, f.row(r).as_ptr())
            }
            None => interface(py, &f.shape(), typestr, f.data().as_ptr()),
        }
    }
}

fn interface<'py>(
    py: Python<'py>,
    shape: &[usize],
    typestr: &str,
    ptr: *const u8,
) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("shape", PyTuple::new(py, shape)?)?;
    d.set_item("typestr", typestr)?;
    d.set_item("data", (ptr as usize, false))?;
    d.set_item("version", 3)?;
    Ok(d)
}

struct Inner {
    slot: Slot,
    /// The state after the batches handed to Python so far.
    state: LoaderState,
    stats: Option<EpochStats>,
}

/// The loader: one rank's (and worker's) share of a planned order, batch after batch.
#[pyclass(module = "bomdata._native")]
struct NativeLoader {
    spec: Spec,
    opts: LoaderOptions,
    planner: Arc<Planner>,
    rank: usize,
    world: usize,
    slots: Vec<String>,
    inner: Mutex<Inner>,
    asarray: Py<PyAny>,
    frombuffer: Py<PyAny>,
}

crate::state::stateful!(NativeLoader, "bomdata loader");

impl NativeLoader {
    /// Stops a running epoch (without the GIL: the reader threads finish their batch).
    fn stop_running(&self, py: Python<'_>) -> PyResult<()> {
        let slot = std::mem::replace(&mut self.lock()?.slot, Slot::Busy);
        let (slot, stats) = match slot {
            Slot::Running(r) => match py.detach(move || r.stop()) {
                Some((l, s)) => (Slot::Idle(Box::new(l)), s),
                None => (Slot::Lost, None),
            },
            other => (other, None),
        };
        let mut g = self.lock()?;
        if matches!(slot, Slot::Busy) {
            g.slot = slot;
            return Err(PyRuntimeError::new_err(
                "bomdata loader is being iterated by another thread",
            ));
        }
        g.slot = slot;
        if stats.is_some() {
            g.stats = stats;
        }
        Ok(())
    }

    fn key(&self, slot: usize, name: &str) -> String {
        if self.spec.pairs.is_some() {
            format!("{}/{name}", self.slots.get(slot).map_or("", String::as_str))
        } else if slot == 0 {
            name.to_string()
        } else {
            format!("{name}#{slot}")
        }
    }

    fn to_dict<'py>(&self, py: Python<'py>, batch: Batch) -> PyResult<Bound<'py, PyDict>> {
        let (rows, width) = (batch.rows(), batch.width());
        let mask: Vec<u8> = if width > 1 {
            batch
                .ids()
                .iter()
                .map(|i| u8::from(!i.is_missing()))
                .collect()
        } else {
            Vec::new()
        };
        let positions: Vec<u8> = batch
            .positions()
            .iter()
            .flat_map(|p| p.to_le_bytes())
            .collect();
        let owner = Py::new(py, BatchBuffer { batch })?;
        let d = PyDict::new(py);
        let asarray = self.asarray.bind(py);
        for (i, f) in owner.get().batch.fields().iter().enumerate() {
            let key = self.key(f.slot(), f.name());
            if let FieldKind::Tensor { .. } = f.kind() {
                let view = FieldArray {
                    owner: owner.clone_ref(py),
                    field: i,
                    row: None,
                };
                d.set_item(key, asarray.call1((Py::new(py, view)?,))?)?;
            } else if let FieldKind::List { .. } = f.kind() {
                // one array per row (a view of its bytes; `None` for a missing row)
                let items = PyList::empty(py);
                for r in 0..rows {
                    if f.row_shape(r).is_none() {
                        items.append(py.None())?;
                        continue;
                    }
                    let view = FieldArray {
                        owner: owner.clone_ref(py),
                        field: i,
                        row: Some(r),
                    };
                    items.append(asarray.call1((Py::new(py, view)?,))?)?;
                }
                d.set_item(key, items)?;
            } else {
                // member bytes (and any field kind the loader adds before the binding maps
                // it): one `bytes` per row
                let items = (0..rows).map(|r| PyBytes::new(py, f.row(r)));
                d.set_item(key, PyList::new(py, items)?)?;
            }
        }
        // small arrays: NumPy views a `bytearray` (writable; cheaper than an interface object)
        let frombuffer = self.frombuffer.bind(py);
        if width > 1 {
            let m = frombuffer.call1((PyByteArray::new(py, &mask), "|b1"))?;
            d.set_item("__mask__", m.call_method1("reshape", (rows, width))?)?;
        }
        let p = frombuffer.call1((PyByteArray::new(py, &positions), "<u8"))?;
        d.set_item("__positions__", p)?;
        Ok(d)
    }
}

#[pymethods]
impl NativeLoader {
    /// Builds a loader from a JSON specification (see `bomdata.Loader`).
    #[new]
    fn new(py: Python<'_>, spec: &str) -> PyResult<Self> {
        let spec = Spec::parse(spec).map_err(err)?;
        let opts = spec.loader_options().map_err(err)?;
        let built = py.detach(|| spec.build()).map_err(err)?;
        let numpy = py.import("numpy")?;
        let asarray = numpy.getattr("asarray")?.unbind();
        let frombuffer = numpy.getattr("frombuffer")?.unbind();
        let state = built.loader.state();
        Ok(NativeLoader {
            planner: built.loader.planner().clone(),
            spec,
            opts,
            rank: built.rank,
            world: built.world,
            slots: built.slots,
            inner: Mutex::new(Inner {
                slot: Slot::Idle(Box::new(built.loader)),
                state,
                stats: None,
            }),
            asarray,
            frombuffer,
        })
    }

    /// The next batch as a dict, or `None` at the end of the epoch (then the state points at
    /// the next epoch). Starts reading on the first call.
    fn next_batch<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyDict>>> {
        let (slot, state) = {
            let mut g = self.lock()?;
            let slot = std::mem::replace(&mut g.slot, Slot::Busy);
            // the state is needed only to start an epoch
            let state = matches!(slot, Slot::Idle(_)).then(|| g.state.clone());
            (slot, state)
        };
        let running = match slot {
            Slot::Running(r) => r,
            Slot::Idle(l) => match Running::start(*l, state.unwrap_or_default()) {
                Ok(r) => r,
                Err(e) => {
                    self.lock()?.slot = Slot::Lost;
                    return Err(err(e));
                }
            },
            Slot::Busy => {
                return Err(PyRuntimeError::new_err(
                    "bomdata loader is being iterated by another thread",
                ));
            }
            Slot::Lost => return Err(PyRuntimeError::new_err("bomdata loader thread failed")),
        };
        let mut running = running;
        let (running, got) = py.detach(move || {
            let got = running.recv();
            (running, got)
        });
        match got {
            Some((item, state)) => {
                {
                    let mut g = self.lock()?;
                    g.slot = Slot::Running(running);
                    g.state = state;
                }
                let batch = item.map_err(err)?;
                self.to_dict(py, batch).map(Some)
            }
            None => {
                let done = py.detach(move || running.stop());
                let mut g = self.lock()?;
                match done {
                    Some((l, stats)) => {
                        g.state = l.state();
                        g.slot = Slot::Idle(Box::new(l));
                        g.stats = stats;
                    }
                    None => g.slot = Slot::Lost,
                }
                Ok(None)
            }
        }
    }

    /// Stops reading ahead; the next `next_batch` resumes from the current state.
    fn reset(&self, py: Python<'_>) -> PyResult<()> {
        self.stop(py)
    }

    /// The state after the batches handed out so far, as JSON.
    fn state_json(&self) -> PyResult<String> {
        state::state_json(self)
    }

    /// Restores a state saved by `state_json` (any world size or worker count).
    fn load_state_json(&self, py: Python<'_>, state: &str) -> PyResult<()> {
        state::load_state_json(self, py, state)
    }

    /// Jumps to the start of `epoch`.
    fn set_epoch(&self, py: Python<'_>, epoch: u64) -> PyResult<()> {
        state::set_epoch(self, py, epoch)
    }

    /// Batches this rank (and worker) yields from the current state to the end of the epoch.
    fn num_batches(&self, py: Python<'_>) -> PyResult<u64> {
        let st = self.lock()?.state.clone();
        let part = self.spec.partition(self.rank, self.world).map_err(err)?;
        let (b, drop_last) = (self.opts.batch_size.max(1) as u64, self.opts.drop_last);
        let count = py.detach(|| {
            let n = self.planner.epoch(st.epoch).len() as u64;
            part.count(st.remaining(n).len())
        });
        Ok(if drop_last {
            count / b
        } else {
            count.div_ceil(b)
        })
    }

    /// The state a rank reaches when its workers (one per entry) delivered `counts` batches
    /// each, starting from the state `base` (JSON in, JSON out).
    fn merged_state_json(&self, py: Python<'_>, base: &str, counts: Vec<u64>) -> PyResult<String> {
        let base = LoaderState::from_json(base).map_err(err)?;
        let st = py
            .detach(|| {
                workers::merged_state(
                    &self.spec,
                    &self.planner,
                    self.world,
                    &self.opts,
                    &base,
                    &counts,
                )
            })
            .map_err(|e: SpecError| err(e))?;
        Ok(st.to_json())
    }

    /// Statistics of the last finished epoch iteration (JSON), if any.
    fn stats_json(&self) -> PyResult<Option<String>> {
        Ok(self
            .lock()?
            .stats
            .as_ref()
            .and_then(|s| serde_json::to_string(s).ok()))
    }

    /// `(key, subject, session, modality)` of every selected sample of every dataset, read
    /// from the key (`source_subject[_session][_run][_modality][_index]`): the session is the
    /// segment after the subject when one comes before the modality.
    fn pair_rows(&self) -> Vec<(String, String, String, String)> {
        let mut out = Vec::new();
        for d in self.planner.mixture().datasets() {
            for i in d.infos() {
                let parts: Vec<&str> = i.key().split('_').collect();
                let modality = i.modality().map(|m| m.as_str().to_string());
                let m_at = parts
                    .iter()
                    .skip(2)
                    .position(|p| Some(*p) == modality.as_deref())
                    .map(|p| p + 2);
                let session = match m_at {
                    Some(at) if at > 2 => parts[2],
                    _ => "",
                };
                out.push((
                    i.key().to_string(),
                    parts.get(1).copied().unwrap_or("").to_string(),
                    session.to_string(),
                    modality.unwrap_or_default(),
                ));
            }
        }
        out
    }

    /// Rank, world size (before worker folding), slot names, plan fingerprint, the effective
    /// loader options (JSON) and the selected samples per dataset.
    fn info<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        d.set_item("rank", self.rank)?;
        d.set_item("world_size", self.world)?;
        d.set_item("slots", self.slots.clone())?;
        d.set_item("fingerprint", self.planner.fingerprint())?;
        d.set_item(
            "options",
            serde_json::to_string(&self.opts).unwrap_or_default(),
        )?;
        let sizes: Vec<usize> = self
            .planner
            .mixture()
            .datasets()
            .iter()
            .map(|d| d.len())
            .collect();
        d.set_item("samples", sizes)?;
        Ok(d)
    }
}

/// The extension module.
#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<NativeLoader>()?;
    m.add_class::<BatchBuffer>()?;
    m.add_class::<FieldArray>()?;
    tokens::register(m)?;
    m.add("BomdataError", m.py().get_type::<BomdataError>())?;
    Ok(())
}
