//! Token batches (`bomdata shard --tokens` output) for Python: `bomdata.TokenLoader` wraps
//! [`NativeTokenLoader`], which drives a `bomdata_loader::TokenLoader` on a thread of its own
//! (its reader threads, `threads`, build batches ahead) and hands out each `TokenBatch` as a
//! dict of NumPy arrays viewing the batch's vectors without a copy.

use std::sync::mpsc::{Receiver, sync_channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use bomdata_loader::{LoaderState, TokenBatch, TokenLoader, TokenMode, TokenOptions, TokenPlanner};
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};
use serde_json::{Map, Value};

use crate::err;
use crate::spec::{Spec, SpecError};
use crate::state::{self, Stateful};
use crate::workers::{Batching, merged};

/// What the Python side sends: the dataset part of a `Loader` specification (paths, filters,
/// mixture, rank, world size, worker) and the `TokenOptions`.
#[derive(Clone, Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenSpec {
    /// Datasets, filters, partition (its `LoaderOptions` part must be empty).
    pub loader: Spec,
    /// `TokenOptions` fields (mode, seed, shuffle, seq_len, batch_size, max_tokens, ...).
    #[serde(default)]
    pub tokens: Map<String, Value>,
    /// Reader threads building batches ahead (0: on the loader's own driver thread).
    #[serde(default)]
    pub threads: usize,
    /// Batches read ahead in all (default: two per reader thread).
    #[serde(default)]
    pub prefetch: Option<usize>,
}

impl TokenSpec {
    /// Parses the JSON and checks every key.
    pub fn parse(json: &str) -> Result<(TokenSpec, TokenOptions), SpecError> {
        let spec: TokenSpec = serde_json::from_str(json).map_err(SpecError::Json)?;
        let opts: TokenOptions =
            serde_json::from_value(Value::Object(spec.tokens.clone())).map_err(SpecError::Json)?;
        let known = match serde_json::to_value(&opts) {
            Ok(Value::Object(m)) => m,
            _ => Map::new(),
        };
        let unknown = spec
            .tokens
            .keys()
            .chain(spec.loader.options.keys())
            .find(|k| !known.contains_key(*k));
        if let Some(key) = unknown {
            return Err(SpecError::UnknownOption {
                key: key.clone(),
                known: known.keys().cloned().collect(),
            });
        }
        Ok((spec, opts))
    }

    /// The token loader of this rank (and worker).
    pub fn build(&self, opts: TokenOptions) -> Result<(TokenLoader, usize, usize), SpecError> {
        let planner = TokenPlanner::new(self.loader.mixture()?, opts)?;
        let (rank, world) = self.loader.rank_world()?;
        let part = self.loader.partition(rank, world)?;
        let prefetch = self.prefetch.unwrap_or(2 * self.threads);
        let loader =
            TokenLoader::new(Arc::new(planner), part)?.with_threads(self.threads, prefetch);
        Ok((loader, rank, world))
    }
}

type Item = (bomdata_loader::Result<TokenBatch>, LoaderState);

/// An epoch running on a driver thread that owns the loader.
struct Running {
    rx: Receiver<Item>,
    handle: JoinHandle<TokenLoader>,
}

impl Running {
    fn start(mut loader: TokenLoader, state: LoaderState) -> bomdata_loader::Result<Running> {
        loader.set_state(state)?;
        let (tx, rx) = sync_channel::<Item>(1);
        let handle = std::thread::Builder::new()
            .name("bomdata-py-tokens".into())
            .spawn(move || {
                let failed = match loader.epoch() {
                    Ok(mut it) => {
                        while let Some(item) = it.next() {
                            let st = it.state();
                            if tx.send((item, st)).is_err() {
                                break;
                            }
                        }
                        None
                    }
                    Err(e) => Some(e),
                };
                if let Some(e) = failed {
                    let st = loader.state();
                    let _ = tx.send((Err(e), st));
                }
                loader
            })
            .map_err(|e| bomdata_loader::Error::io("<driver thread>", e))?;
        Ok(Running { rx, handle })
    }

    fn stop(self) -> Option<TokenLoader> {
        drop(self.rx);
        self.handle.join().ok()
    }
}

enum Slot {
    Idle(Box<TokenLoader>),
    Running(Running),
    Busy,
    Lost,
}

pub(crate) struct Inner {
    slot: Slot,
    state: LoaderState,
}

/// A token batch owned by Python (the arrays view its vectors).
#[pyclass(frozen, module = "bomdata._native")]
struct TokenBuffer {
    batch: TokenBatch,
}

/// One array of a token batch: 0 input_ids, 1 position_ids, 2 cu_seqlens, 3 spans.
#[pyclass(frozen, module = "bomdata._native")]
struct TokenArray {
    owner: Py<TokenBuffer>,
    which: u8,
    spans: Vec<u64>,
}

#[pymethods]
impl TokenArray {
    #[getter(__array_interface__)]
    fn array_interface<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let b = &self.owner.get().batch;
        let (shape, typestr, ptr): (Vec<usize>, &str, usize) = match self.which {
            0 => (
                vec![b.rows, b.seq_len],
                "<i8",
                b.input_ids.as_ptr() as usize,
            ),
            1 => (
                vec![b.rows, b.seq_len],
                "<i8",
                b.position_ids.as_ptr() as usize,
            ),
            2 => (
                vec![b.cu_seqlens.len()],
                "<i4",
                b.cu_seqlens.as_ptr() as usize,
            ),
            _ => (
                vec![self.spans.len() / 3, 3],
                "<u8",
                self.spans.as_ptr() as usize,
            ),
        };
        let d = PyDict::new(py);
        d.set_item("shape", PyTuple::new(py, shape)?)?;
        d.set_item("typestr", typestr)?;
        d.set_item("data", (ptr, false))?;
        d.set_item("version", 3)?;
        Ok(d)
    }
}

/// The token loader: one rank's (and worker's) share of each epoch's token batches.
#[pyclass(module = "bomdata._native")]
pub struct NativeTokenLoader {
    spec: TokenSpec,
    planner: Arc<TokenPlanner>,
    rank: usize,
    world: usize,
    inner: Mutex<Inner>,
    asarray: Py<PyAny>,
    array: Py<PyAny>,
}

crate::state::stateful!(NativeTokenLoader, "bomdata token loader");

impl NativeTokenLoader {
    fn stop_running(&self, py: Python<'_>) -> PyResult<()> {
        let slot = std::mem::replace(&mut self.lock()?.slot, Slot::Busy);
        let slot = match slot {
            Slot::Running(r) => match py.detach(move || r.stop()) {
                Some(l) => Slot::Idle(Box::new(l)),
                None => Slot::Lost,
            },
            Slot::Busy => return Err(PyRuntimeError::new_err("bomdata token loader is busy")),
            other => other,
        };
        self.lock()?.slot = slot;
        Ok(())
    }

    fn to_dict<'py>(&self, py: Python<'py>, batch: TokenBatch) -> PyResult<Bound<'py, PyDict>> {
        let spans: Vec<u64> = batch
            .spans
            .iter()
            .flat_map(|s| [u64::from(s.doc), s.from, s.to])
            .collect();
        let positions = batch.positions.clone();
        let max_seqlen = batch.max_seqlen;
        let owner = Py::new(py, TokenBuffer { batch })?;
        let d = PyDict::new(py);
        let asarray = self.asarray.bind(py);
        let names = ["input_ids", "position_ids", "cu_seqlens", "__spans__"];
        for (which, name) in names.iter().enumerate() {
            let a = TokenArray {
                owner: owner.clone_ref(py),
                which: which as u8,
                spans: if which == 3 {
                    spans.clone()
                } else {
                    Vec::new()
                },
            };
            d.set_item(*name, asarray.call1((Py::new(py, a)?,))?)?;
        }
        d.set_item("max_seqlen", max_seqlen)?;
        let p = self.array.bind(py).call1((positions, "<u8"))?;
        d.set_item("__positions__", p)?;
        Ok(d)
    }
}

#[pymethods]
impl NativeTokenLoader {
    /// Builds a token loader from a JSON specification (see `bomdata.TokenLoader`).
    #[new]
    fn new(py: Python<'_>, spec: &str) -> PyResult<Self> {
        let (spec, opts) = TokenSpec::parse(spec).map_err(err)?;
        let (loader, rank, world) = py.detach(|| spec.build(opts)).map_err(err)?;
        let numpy = py.import("numpy")?;
        let asarray = numpy.getattr("asarray")?.unbind();
        let array = numpy.getattr("array")?.unbind();
        Ok(NativeTokenLoader {
            spec,
            planner: loader.planner().clone(),
            rank,
            world,
            inner: Mutex::new(Inner {
                state: loader.state(),
                slot: Slot::Idle(Box::new(loader)),
            }),
            asarray,
            array,
        })
    }

    /// The next batch as a dict, or `None` at the end of the epoch.
    fn next_batch<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyDict>>> {
        let (slot, state) = {
            let mut g = self.lock()?;
            let st = g.state.clone();
            (std::mem::replace(&mut g.slot, Slot::Busy), st)
        };
        let running = match slot {
            Slot::Running(r) => r,
            Slot::Idle(l) => match Running::start(*l, state) {
                Ok(r) => r,
                Err(e) => {
                    self.lock()?.slot = Slot::Lost;
                    return Err(err(e));
                }
            },
            Slot::Busy => return Err(PyRuntimeError::new_err("bomdata token loader is busy")),
            Slot::Lost => return Err(PyRuntimeError::new_err("bomdata token loader failed")),
        };
        let (running, got) = py.detach(move || {
            let got = running.rx.recv().ok();
            (running, got)
        });
        match got {
            Some((item, state)) => {
                {
                    let mut g = self.lock()?;
                    g.slot = Slot::Running(running);
                    g.state = state;
                }
                self.to_dict(py, item.map_err(err)?).map(Some)
            }
            None => {
                let done = py.detach(move || running.stop());
                let mut g = self.lock()?;
                match done {
                    Some(l) => {
                        g.state = l.state();
                        g.slot = Slot::Idle(Box::new(l));
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

    /// The state a rank reaches when its data-loading workers (one per entry) delivered
    /// `counts` batches each, starting from the state `base` (JSON in, JSON out): as the
    /// sample loader's, over this loader's units (documents or packed sequences).
    fn merged_state_json(&self, py: Python<'_>, base: &str, counts: Vec<u64>) -> PyResult<String> {
        let base = LoaderState::from_json(base).map_err(err)?;
        let opts = self.planner.options();
        let batch = Batching {
            units: match opts.mode {
                TokenMode::Packed => opts.batch_size as u64,
                TokenMode::Budget => 1,
            },
            drop_last: opts.drop_last,
        };
        let st = py.detach(|| {
            let n = self
                .planner
                .epoch(base.epoch)
                .map_err(SpecError::from)?
                .len() as u64;
            merged(&self.spec.loader, n, self.world, batch, &base, &counts)
        });
        Ok(st.map_err(err)?.to_json())
    }

    /// The state after the batches handed out so far, as JSON.
    fn state_json(&self) -> PyResult<String> {
        state::state_json(self)
    }

    /// Restores a saved state (any world size).
    fn load_state_json(&self, py: Python<'_>, state: &str) -> PyResult<()> {
        state::load_state_json(self, py, state)
    }

    /// Jumps to the start of `epoch`.
    fn set_epoch(&self, py: Python<'_>, epoch: u64) -> PyResult<()> {
        state::set_epoch(self, py, epoch)
    }

    /// Rank, world size, plan fingerprint, documents, the token options (JSON).
    fn info<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        d.set_item("rank", self.rank)?;
        d.set_item("world_size", self.world)?;
        d.set_item("fingerprint", self.planner.fingerprint())?;
        d.set_item("documents", self.planner.documents())?;
        d.set_item(
            "options",
            serde_json::to_string(self.planner.options()).unwrap_or_default(),
        )?;
        Ok(d)
    }

    /// `(key, tokens)` of every document, in document-number order (the `doc` of `__spans__`).
    fn documents(&self) -> Vec<(String, u64)> {
        (0..self.planner.documents() as u32)
            .map(|d| {
                (
                    self.planner.document_key(d).to_string(),
                    self.planner.document_len(d),
                )
            })
            .collect()
    }
}

/// Adds the token classes to the module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<NativeTokenLoader>()?;
    m.add_class::<TokenBuffer>()?;
    m.add_class::<TokenArray>()?;
    Ok(())
}
