//! Batches as `tch::Tensor`s (feature `tch`).
//!
//! [`TensorBatch`] wraps a [`Batch`] and exposes each array field as a CPU tensor that *views*
//! the batch's contiguous buffer (no copy). [`TensorBatch::to_device`] moves the fields to a
//! device with non-blocking copies, so the host→device transfer overlaps with compute:
//!
//! - when the loader's batch buffers are registered with CUDA ([`CudaHostRegister`] as
//!   [`crate::LoaderOptions::page_lock`]), the copy reads the batch buffer itself; a CUDA event
//!   recorded after the copies is waited on before the buffers go back to the loader for reuse
//!   (when the `TensorBatch` is dropped), so a reader thread never overwrites memory still being
//!   copied;
//! - otherwise each field is first copied once into page-locked memory (`pin_memory`).
//!
//! CUDA is found at run time: without a device (or on a CPU-only libtorch) [`cuda_device`] and
//! [`CudaHostRegister::new`] return `None` and everything stays on the CPU path. The CUDA runtime
//! functions are looked up in the process (libtorch's own `libcudart`), not linked.
//!
//! The views borrow the batch's memory: they are valid while the `TensorBatch` lives. Do not
//! keep a `shallow_clone` of them past it; use [`TensorBatch::to_device`] (or `copy()`) for
//! tensors that must outlive the batch.

use std::sync::{Arc, Mutex};

use bomdata_shard::npy::Dtype;
use tch::{Device, Kind, Tensor};

use crate::hostmem::PageLocker;

use crate::loader::{Batch, FieldKind};
use crate::{Error, Result};

/// The tch element kind of a `.npy` dtype (`None` for uint16/32/64, which tch 0.26 lacks).
pub fn kind_of(dtype: Dtype) -> Option<Kind> {
    Some(match dtype {
        Dtype::Bool => Kind::Bool,
        Dtype::U8 => Kind::Uint8,
        Dtype::I8 => Kind::Int8,
        Dtype::I16 => Kind::Int16,
        Dtype::I32 => Kind::Int,
        Dtype::I64 => Kind::Int64,
        Dtype::F16 => Kind::Half,
        Dtype::F32 => Kind::Float,
        Dtype::F64 => Kind::Double,
        Dtype::U16 | Dtype::U32 | Dtype::U64 => return None,
    })
}

fn device_index(d: Device) -> i64 {
    match d {
        Device::Cuda(i) => i as i64,
        _ => 0,
    }
}

/// The first CUDA device when libtorch sees one at run time.
pub fn cuda_device() -> Option<Device> {
    tch::Cuda::is_available().then_some(Device::Cuda(0))
}

type CudaErr = i32;
type HostRegisterFn = unsafe extern "C" fn(*mut libc::c_void, usize, u32) -> CudaErr;
type HostUnregisterFn = unsafe extern "C" fn(*mut libc::c_void) -> CudaErr;
type EventCreateFn = unsafe extern "C" fn(*mut *mut libc::c_void, u32) -> CudaErr;
type EventRecordFn = unsafe extern "C" fn(*mut libc::c_void, *mut libc::c_void) -> CudaErr;
type EventFn = unsafe extern "C" fn(*mut libc::c_void) -> CudaErr;

/// CUDA runtime entry points, looked up in the already loaded `libcudart`.
#[derive(Clone, Copy, Debug)]
struct Cudart {
    host_register: HostRegisterFn,
    host_unregister: HostUnregisterFn,
    event_create: EventCreateFn,
    event_record: EventRecordFn,
    event_synchronize: EventFn,
    event_destroy: EventFn,
}

impl Cudart {
    /// The entry points, looked up once per process.
    fn find() -> Option<Cudart> {
        static RT: std::sync::OnceLock<Option<Cudart>> = std::sync::OnceLock::new();
        *RT.get_or_init(Cudart::lookup)
    }

    fn lookup() -> Option<Cudart> {
        /// The function `name`, as the function pointer type `F`.
        ///
        /// # Safety
        /// `F` must be the C signature of the function of that name.
        unsafe fn sym<F: Copy>(name: &std::ffi::CStr) -> Option<F> {
            const { assert!(std::mem::size_of::<F>() == std::mem::size_of::<*mut libc::c_void>()) };
            // SAFETY: dlsym with RTLD_DEFAULT and a NUL-terminated name only reads.
            let p = unsafe { libc::dlsym(libc::RTLD_DEFAULT, name.as_ptr()) };
            // SAFETY: a non-null symbol address read as a function pointer of the same size,
            // whose signature the caller vouches for.
            (!p.is_null()).then(|| unsafe { std::mem::transmute_copy::<*mut libc::c_void, F>(&p) })
        }
        // SAFETY: each field's type is the C signature of the CUDA runtime function named.
        unsafe {
            Some(Cudart {
                host_register: sym(c"cudaHostRegister")?,
                host_unregister: sym(c"cudaHostUnregister")?,
                event_create: sym(c"cudaEventCreateWithFlags")?,
                event_record: sym(c"cudaEventRecord")?,
                event_synchronize: sym(c"cudaEventSynchronize")?,
                event_destroy: sym(c"cudaEventDestroy")?,
            })
        }
    }
}

/// Page-locks batch buffers by registering them with CUDA (`cudaHostRegister`): they are then
/// pinned for DMA and [`TensorBatch::to_device`] copies from them directly and asynchronously.
/// Pass it as [`crate::LoaderOptions::page_lock`].
#[derive(Debug)]
pub struct CudaHostRegister {
    rt: Cudart,
}

impl CudaHostRegister {
    /// The registrar when libtorch sees a CUDA device and the CUDA runtime is loaded; `None`
    /// otherwise (CPU-only libtorch, no GPU).
    pub fn new() -> Option<Arc<CudaHostRegister>> {
        if !tch::Cuda::is_available() {
            return None;
        }
        Cudart::find().map(|rt| Arc::new(CudaHostRegister { rt }))
    }
}

impl PageLocker for CudaHostRegister {
    unsafe fn lock(&self, ptr: *mut u8, len: usize) -> bool {
        // SAFETY: the caller guarantees a live allocation; flags 0 = cudaHostRegisterDefault.
        unsafe { (self.rt.host_register)(ptr.cast(), len, 0) == 0 }
    }

    unsafe fn unlock(&self, ptr: *mut u8, _len: usize) {
        // SAFETY: `ptr` was registered by `lock`.
        unsafe {
            (self.rt.host_unregister)(ptr.cast());
        }
    }

    fn pins_for_device(&self) -> bool {
        true
    }
}

/// A CUDA event recorded after a batch's host→device copies; waited on before the batch's
/// buffers are reused.
#[derive(Debug)]
struct Fence {
    rt: Cudart,
    event: *mut libc::c_void,
}

// SAFETY: a CUDA event handle may be used from any host thread.
unsafe impl Send for Fence {}

impl Fence {
    /// Records an event on the legacy default stream, which tch's copies use and which
    /// orders after all work on blocking streams.
    fn record(rt: Cudart) -> Option<Fence> {
        let mut event = std::ptr::null_mut();
        // SAFETY: out-pointer to a local; flags 2 = cudaEventDisableTiming.
        if unsafe { (rt.event_create)(&mut event, 2) } != 0 || event.is_null() {
            return None;
        }
        let fence = Fence { rt, event };
        // SAFETY: a live event; stream 0 is the legacy default stream.
        if unsafe { (rt.event_record)(event, std::ptr::null_mut()) } != 0 {
            fence.wait(); // nothing recorded: make the caller fall back to synchronising
            return None;
        }
        Some(fence)
    }

    fn wait(&self) {
        // SAFETY: a live event created by `record`.
        unsafe {
            (self.rt.event_synchronize)(self.event);
        }
    }
}

impl Drop for Fence {
    fn drop(&mut self) {
        self.wait();
        // SAFETY: the event is not used after this.
        unsafe {
            (self.rt.event_destroy)(self.event);
        }
    }
}

/// A tensor of one field: its unit slot, member name and tensor.
#[derive(Debug)]
pub struct NamedTensor {
    /// Unit slot.
    pub slot: usize,
    /// Member name (`x.npy`).
    pub name: String,
    /// The tensor, `[rows, ...sample_shape]`.
    pub tensor: Tensor,
}

/// A batch with zero-copy CPU tensor views of its array fields.
#[derive(Debug)]
pub struct TensorBatch {
    // Declared before `batch`: dropped first, so no view outlives the memory it points to and
    // every pending copy out of the buffers finishes before they are reused.
    views: Vec<NamedTensor>,
    fences: Mutex<Vec<Fence>>,
    batch: Batch,
    pinned: Vec<bool>,
    rt: Option<Cudart>,
}

fn dims(shape: &[usize]) -> Result<Vec<i64>> {
    shape
        .iter()
        .map(|&d| i64::try_from(d).map_err(|_| Error::config("dimension exceeds i64")))
        .collect()
}

impl TensorBatch {
    /// Wraps `batch`, viewing every array field as a CPU tensor without copying (fields of
    /// unsigned 16/32/64-bit integers have no tch kind and are left out; read them from
    /// [`TensorBatch::batch`]).
    pub fn new(batch: Batch) -> Result<TensorBatch> {
        let mut views = Vec::new();
        let mut pinned = Vec::new();
        for f in batch.fields() {
            let FieldKind::Tensor { dtype, .. } = f.kind() else {
                continue;
            };
            let Some(kind) = kind_of(*dtype) else {
                continue;
            };
            let size = dims(&f.shape())?;
            // SAFETY: the buffer is 16-byte aligned, holds exactly prod(size) elements of
            // `dtype` (checked when collated) and lives in `batch`, which this struct owns and
            // drops after the views.
            let t = unsafe { Tensor::from_blob(f.data().as_ptr(), &size, &[], kind, Device::Cpu) };
            views.push(NamedTensor {
                slot: f.slot(),
                name: f.name().to_string(),
                tensor: t,
            });
            pinned.push(f.buffer().is_pinned());
        }
        let rt = if pinned.iter().any(|&p| p) {
            Cudart::find()
        } else {
            None
        };
        Ok(TensorBatch {
            views,
            fences: Mutex::new(Vec::new()),
            batch,
            pinned,
            rt,
        })
    }

    /// The wrapped batch.
    pub fn batch(&self) -> &Batch {
        &self.batch
    }

    /// The CPU view of field `name` of slot `slot`.
    pub fn get(&self, slot: usize, name: &str) -> Option<&Tensor> {
        self.views
            .iter()
            .find(|v| v.slot == slot && v.name == name)
            .map(|v| &v.tensor)
    }

    /// Every CPU view.
    pub fn views(&self) -> &[NamedTensor] {
        &self.views
    }

    /// The presence mask as a `[rows, width]` bool tensor (owned).
    pub fn mask(&self) -> Tensor {
        let m: Vec<bool> = self.batch.mask();
        Tensor::from_slice(&m).reshape([self.batch.rows() as i64, self.batch.width() as i64])
    }

    /// True when field view `i` reads a buffer pinned for device DMA.
    pub fn is_pinned(&self, i: usize) -> bool {
        self.pinned.get(i).copied().unwrap_or(false)
    }

    /// Owned tensors on `device`. CUDA: a non-blocking host→device copy, straight from the
    /// batch buffer when it is registered with CUDA (then dropping this batch waits for the
    /// copies to finish), else from a page-locked staging copy. CPU: one copy.
    pub fn to_device(&self, device: Device) -> Vec<NamedTensor> {
        let mut direct = false;
        let out = self
            .views
            .iter()
            .enumerate()
            .map(|(i, v)| {
                let t = match device {
                    Device::Cpu => v.tensor.copy(),
                    dev if self.is_pinned(i) && self.rt.is_some() => {
                        direct = true;
                        v.tensor.to_device_(dev, v.tensor.kind(), true, false)
                    }
                    dev => v
                        .tensor
                        .pin_memory(dev)
                        .to_device_(dev, v.tensor.kind(), true, false),
                };
                NamedTensor {
                    slot: v.slot,
                    name: v.name.clone(),
                    tensor: t,
                }
            })
            .collect();
        if direct && let Some(rt) = self.rt {
            match Fence::record(rt) {
                Some(f) => {
                    if let Ok(mut fences) = self.fences.lock() {
                        fences.push(f);
                    }
                }
                // no event: wait for the device here rather than risk reusing the buffers
                None => tch::Cuda::synchronize(device_index(device)),
            }
        }
        out
    }

    /// Owned tensors on the first CUDA device when one is present, else on the CPU.
    pub fn to_best_device(&self) -> Vec<NamedTensor> {
        self.to_device(cuda_device().unwrap_or(Device::Cpu))
    }
}
