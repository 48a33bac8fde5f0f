//! Batches as `tch::Tensor`s (feature `tch`).
//!
//! [`TensorBatch`] wraps a [`Batch`] and exposes each array field as a CPU tensor that *views*
//! the batch's contiguous buffer (no copy). [`TensorBatch::to_device`] moves the fields to a
//! device: for CUDA each field is copied once into page-locked memory and then sent with a
//! non-blocking copy, so the host→device transfer overlaps with compute.
//!
//! The views borrow the batch's memory: they are valid while the `TensorBatch` lives. Do not
//! keep a `shallow_clone` of them past it; use [`TensorBatch::to_device`] (or `copy()`) for
//! tensors that must outlive the batch.

use bomdata_shard::npy::Dtype;
use tch::{Device, Kind, Tensor};

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

/// The first CUDA device when libtorch sees one at run time.
pub fn cuda_device() -> Option<Device> {
    tch::Cuda::is_available().then_some(Device::Cuda(0))
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
    // Declared before `batch`: dropped first, so no view outlives the memory it points to.
    views: Vec<NamedTensor>,
    batch: Batch,
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
        }
        Ok(TensorBatch { views, batch })
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

    /// Owned tensors on `device`. CUDA: page-locked staging copy, then a non-blocking
    /// host→device copy (synchronise the stream before reading on the host). CPU: one copy.
    pub fn to_device(&self, device: Device) -> Vec<NamedTensor> {
        self.views
            .iter()
            .map(|v| {
                let t = match device {
                    Device::Cpu => v.tensor.copy(),
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
            .collect()
    }

    /// Owned tensors on the first CUDA device when one is present, else on the CPU.
    pub fn to_best_device(&self) -> Vec<NamedTensor> {
        self.to_device(cuda_device().unwrap_or(Device::Cpu))
    }
}
