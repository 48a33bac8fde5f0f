//! The threaded reader: plans an epoch, reads this rank's units on reader threads with bounded
//! read-ahead, and collates each batch into one contiguous buffer per field.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use bomdata_shard::member::{self, MemberDecoder};
use bomdata_shard::npy::{self, Dtype};

use crate::dataset::SampleLoc;
use crate::hostmem::{AlignedBuf, PageLocker};
use crate::ranged::SampleData;

mod direct;
use crate::partition::{Partition, Remaining};
use crate::plan::{EpochPlan, Planner, SampleId};
use crate::shapes::{self, ShapePolicy};
use crate::state::LoaderState;
use crate::{Error, Result};

/// How uncompressed member bytes are copied into batch buffers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReadMode {
    /// Copy from the memory-mapped shard (page faults on first touch of every page); rows from
    /// 16 KiB up are copied with non-temporal stores.
    Mmap,
    /// Positioned reads straight into the batch buffers, never touching the shard's map: one
    /// `preadv` per run of adjacent members (array data into its row, headers and small
    /// members into a scratch buffer), so a sequential batch of small samples is one call.
    /// One kernel copy and no page-table work: the fastest mode on a local file system
    /// (bench/loader, 2026-12-08: about 0.7x the CPU of `Mmap` per process) and the safer choice on network
    /// file systems, where a page fault is a round trip. Compressed members are read through
    /// the map.
    #[default]
    Pread,
}

/// Loader options. Plain data apart from `page_lock`: (de)serialisable with serde (missing
/// fields take their defaults; `page_lock` is skipped), so bindings and configuration files can
/// pass them through as JSON without naming each option.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct LoaderOptions {
    /// Units per batch (a unit is a sample, a group batch or a pairing; see [`crate::Units`]).
    pub batch_size: usize,
    /// Drop this rank's last short batch.
    pub drop_last: bool,
    /// Reader threads.
    pub threads: usize,
    /// Batches read ahead of the consumer, rounded up to a multiple of `threads` (bounds memory:
    /// at most that many finished batches plus one in progress per thread exist at once).
    pub prefetch: usize,
    /// Member names (`<field>.<ext>`, without `.zst`) to collate; `None` collates every member.
    pub fields: Option<Vec<String>>,
    /// How uncompressed members are copied.
    pub read: ReadMode,
    /// Locks the pages of batch buffers (see [`crate::hostmem`]): [`crate::hostmem::OsLock`]
    /// for `mlock`, or with `tch` the CUDA host registration. `None`: pageable memory.
    #[serde(skip)]
    pub page_lock: Option<Arc<dyn PageLocker>>,
    /// Per member name (`fmri.npy`): how arrays whose shape varies between samples are
    /// collated ([`ShapePolicy`]); a field not listed is stacked and must have one shape per
    /// batch. [`ShapePolicy::Bucket`] needs a planner from [`crate::Planner::with_buckets`]
    /// over the same field.
    pub shapes: BTreeMap<String, ShapePolicy>,
}

impl Default for LoaderOptions {
    fn default() -> Self {
        LoaderOptions {
            batch_size: 1,
            drop_last: false,
            threads: 2,
            prefetch: 4,
            fields: None,
            read: ReadMode::Pread,
            page_lock: None,
            shapes: BTreeMap::new(),
        }
    }
}

/// What a field holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FieldKind {
    /// A `.npy` member: `rows` arrays of one dtype and shape, stacked C-order.
    Tensor {
        /// Element type.
        dtype: Dtype,
        /// Shape of one sample's array.
        sample_shape: Vec<usize>,
    },
    /// Any other member: concatenated bytes with `rows + 1` offsets.
    Bytes,
    /// `.npy` members of one dtype and any shapes, not stacked ([`ShapePolicy::List`]): each
    /// row's array data, concatenated with `rows + 1` offsets; see [`Field::row_shape`].
    List {
        /// Element type.
        dtype: Dtype,
    },
}

/// One collated field of a batch: member `name` of unit slot `slot`, every row in one buffer.
#[derive(Debug)]
pub struct Field {
    slot: usize,
    name: String,
    kind: FieldKind,
    data: AlignedBuf,
    offsets: Vec<usize>,
    filled: Vec<bool>,
    row_bytes: usize,
    policy: ShapePolicy,
    /// Each row's own shape (padded and list fields).
    row_shapes: Vec<Vec<usize>>,
    /// Padded fields: the rows as read, concatenated (`offsets`), before padding.
    stage: Vec<u8>,
}

impl Field {
    fn new(slot: usize, name: &str, locker: Option<Arc<dyn PageLocker>>) -> Field {
        Field {
            slot,
            name: name.to_string(),
            kind: FieldKind::Bytes,
            data: AlignedBuf::new(locker),
            offsets: Vec::new(),
            filled: Vec::new(),
            row_bytes: 0,
            policy: ShapePolicy::Stack,
            row_shapes: Vec::new(),
            stage: Vec::new(),
        }
    }

    /// The shape of row `r`'s own array: for list and padded fields (before padding), and for
    /// stacked tensors (the sample shape); `None` for a missing row or a bytes field.
    pub fn row_shape(&self, r: usize) -> Option<&[usize]> {
        if !self.present(r) {
            return None;
        }
        match &self.kind {
            FieldKind::Tensor { sample_shape, .. } if self.row_shapes.is_empty() => {
                Some(sample_shape)
            }
            FieldKind::Tensor { .. } | FieldKind::List { .. } => {
                self.row_shapes.get(r).map(Vec::as_slice)
            }
            FieldKind::Bytes => None,
        }
    }

    /// The shape policy the field was collated with.
    pub fn policy(&self) -> ShapePolicy {
        self.policy
    }

    /// Unit slot (0 unless pairing or group batches).
    pub fn slot(&self) -> usize {
        self.slot
    }

    /// Member name without `.zst` (`x.npy`, `meta.json`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Tensor or bytes.
    pub fn kind(&self) -> &FieldKind {
        &self.kind
    }

    /// The buffer (page-locked or pinned when the loader was asked to).
    pub fn buffer(&self) -> &AlignedBuf {
        &self.data
    }

    /// The whole buffer.
    pub fn data(&self) -> &[u8] {
        self.data.as_slice()
    }

    /// For tensors: `[rows, ...sample_shape]`.
    pub fn shape(&self) -> Vec<usize> {
        let rows = self.filled.len();
        match &self.kind {
            FieldKind::Tensor { sample_shape, .. } => {
                let mut s = vec![rows];
                s.extend_from_slice(sample_shape);
                s
            }
            FieldKind::Bytes | FieldKind::List { .. } => vec![self.data.len()],
        }
    }

    /// The bytes of row `r` (one array's data, or one member's bytes).
    pub fn row(&self, r: usize) -> &[u8] {
        match &self.kind {
            FieldKind::Tensor { .. } => {
                &self.data.as_slice()[r * self.row_bytes..(r + 1) * self.row_bytes]
            }
            FieldKind::Bytes | FieldKind::List { .. } => {
                &self.data.as_slice()[self.offsets[r]..self.offsets[r + 1]]
            }
        }
    }

    /// Whether row `r` holds data (false for missing slots: zeros / empty).
    pub fn present(&self, r: usize) -> bool {
        self.filled.get(r).copied().unwrap_or(false)
    }

    fn reset(&mut self, rows: usize) {
        self.kind = FieldKind::Bytes;
        self.data.set_len(0);
        self.offsets.clear();
        self.filled.clear();
        self.filled.resize(rows, false);
        self.row_bytes = 0;
        self.row_shapes.clear();
        self.stage.clear();
    }

    /// Prepares row `r` for a tensor of `dtype`/`shape`; returns the row's destination bytes.
    fn tensor_row(
        &mut self,
        r: usize,
        dtype: Dtype,
        shape: &[usize],
    ) -> std::result::Result<&mut [u8], String> {
        match &self.kind {
            FieldKind::Tensor {
                dtype: d,
                sample_shape,
            } => {
                if *d != dtype || sample_shape != shape {
                    return Err(mismatch(&self.name, *d, sample_shape, dtype, shape));
                }
            }
            FieldKind::List { .. } => {
                return Err(format!("field {} mixes shape policies", self.name));
            }
            FieldKind::Bytes => {
                if !self.data.is_empty() {
                    return Err(format!(
                        "field {} mixes arrays and non-array members",
                        self.name
                    ));
                }
                let n: usize = shape.iter().product::<usize>() * dtype.size();
                self.kind = FieldKind::Tensor {
                    dtype,
                    sample_shape: shape.to_vec(),
                };
                self.row_bytes = n;
                self.data.set_len(n * self.filled.len());
            }
        }
        self.filled[r] = true;
        let rb = self.row_bytes;
        Ok(&mut self.data.as_mut_slice()[r * rb..(r + 1) * rb])
    }

    /// Decompresses a `.npy.zst` member straight into row `r` when the field's layout is known
    /// and the row has room before it for the `.npy` header (rows after the first): the header
    /// lands on the previous row's tail, which is saved and restored. Saves the copy out of a
    /// scratch buffer. Returns false when not applicable (the caller takes the scratch path).
    fn zstd_row_in_place(
        &mut self,
        r: usize,
        src: &[u8],
        scratch: &mut Scratch,
    ) -> std::result::Result<bool, String> {
        let FieldKind::Tensor {
            dtype,
            sample_shape,
        } = &self.kind
        else {
            return Ok(false);
        };
        let rb = self.row_bytes;
        let Some(total) = member::frame_size(src) else {
            return Ok(false);
        };
        let total = total as usize;
        let off = r * rb;
        if rb == 0 || total <= rb || total - rb > off || total - rb > 4096 {
            return Ok(false);
        }
        let hlen = total - rb;
        let buf = self.data.as_mut_slice();
        let mut save = [0u8; 4096];
        save[..hlen].copy_from_slice(&buf[off - hlen..off]);
        let got = scratch
            .dec
            .decode_to_slice(src, &mut buf[off - hlen..off + rb]);
        let check = match got {
            Err(e) => Err(format!("zstd: {e}")),
            Ok(n) if n != total => Err(format!("zstd: {n} bytes, frame says {total}")),
            Ok(_) => match npy::decode(&buf[off - hlen..off + rb]) {
                Err(e) => Err(e.to_string()),
                Ok(v) if v.dtype != *dtype || v.shape != *sample_shape || v.data_offset != hlen => {
                    Err(mismatch(
                        &self.name,
                        *dtype,
                        sample_shape,
                        v.dtype,
                        &v.shape,
                    ))
                }
                Ok(_) => Ok(()),
            },
        };
        buf[off - hlen..off].copy_from_slice(&save[..hlen]);
        check?;
        self.filled[r] = true;
        Ok(true)
    }

    /// Prepares row `r` of a list or padded field for an array of `dtype`/`shape`; returns the
    /// row's destination bytes (appended to the list data or to the padding stage).
    fn ragged_row(
        &mut self,
        r: usize,
        dtype: Dtype,
        shape: &[usize],
    ) -> std::result::Result<&mut [u8], String> {
        match &self.kind {
            FieldKind::List { dtype: d } if *d != dtype => {
                return Err(format!(
                    "field {} has {} in this batch but this sample has {} (a {:?} field needs one dtype)",
                    self.name,
                    d.name(),
                    dtype.name(),
                    self.policy
                ));
            }
            FieldKind::Bytes if !self.offsets.is_empty() => {
                return Err(format!(
                    "field {} mixes arrays and non-array members",
                    self.name
                ));
            }
            _ => {}
        }
        self.kind = FieldKind::List { dtype };
        let n: usize = shape.iter().product::<usize>() * dtype.size();
        if self.offsets.is_empty() {
            self.offsets.push(0);
        }
        while self.offsets.len() <= r {
            let last = *self.offsets.last().unwrap_or(&0);
            self.offsets.push(last);
        }
        if self.row_shapes.len() < self.filled.len() {
            self.row_shapes.resize(self.filled.len(), Vec::new());
        }
        self.row_shapes[r] = shape.to_vec();
        self.filled[r] = true;
        let padded = self.policy.pads();
        let start = if padded {
            self.stage.len()
        } else {
            self.data.len()
        };
        self.offsets.push(start + n);
        if padded {
            self.stage.resize(start + n, 0);
            Ok(&mut self.stage[start..])
        } else {
            self.data.set_len(start + n);
            Ok(&mut self.data.as_mut_slice()[start..])
        }
    }

    /// Pads the staged rows of a padded field into one `[rows, ...max_shape]` tensor; returns
    /// the companion fields (`<stem>.shape`, and `<stem>.mask` when masked).
    fn pad(&mut self) -> Result<Vec<Field>> {
        let FieldKind::List { dtype } = self.kind else {
            return Ok(Vec::new());
        };
        let rows = self.filled.len();
        self.row_shapes.resize(rows, Vec::new());
        let present = || (0..rows).filter(|&r| self.filled[r]);
        let ndim = present()
            .map(|r| self.row_shapes[r].len())
            .max()
            .unwrap_or(0);
        let mut max = vec![0usize; ndim];
        for r in present() {
            for (m, d) in max
                .iter_mut()
                .zip(shapes::extend(&self.row_shapes[r], ndim))
            {
                *m = (*m).max(d);
            }
        }
        let es = dtype.size();
        let largest = present()
            .map(|r| self.offsets[r + 1] - self.offsets[r])
            .max()
            .unwrap_or(0);
        let elems = max
            .iter()
            .try_fold(1usize, |a, &d| a.checked_mul(d))
            .filter(|&e| {
                e.saturating_mul(es) <= largest.saturating_mul(shapes::MAX_PAD_FACTOR).max(1 << 20)
            })
            .ok_or_else(|| Error::PadTooLarge {
                field: self.name.clone(),
                shape: max.clone(),
                factor: shapes::MAX_PAD_FACTOR,
            })?;
        let rb = elems * es;
        self.data.set_len(rb * rows);
        let out = self.data.as_mut_slice();
        out.fill(0);
        let mut shape_rows = vec![0i64; rows * ndim];
        for r in present() {
            let s = shapes::extend(&self.row_shapes[r], ndim);
            let src = &self.stage[self.offsets[r]..self.offsets[r + 1]];
            let dst = &mut out[r * rb..(r + 1) * rb];
            shapes::for_each_run(&s, &max, |a, b, n| {
                dst[b * es..(b + n) * es].copy_from_slice(&src[a * es..(a + n) * es]);
            });
            for (o, &d) in shape_rows[r * ndim..(r + 1) * ndim].iter_mut().zip(&s) {
                *o = d as i64;
            }
        }
        self.kind = FieldKind::Tensor {
            dtype,
            sample_shape: max.clone(),
        };
        self.row_bytes = rb;
        self.offsets.clear();
        let locker = self.data.locker();
        let mut extra = vec![Field::tensor(
            self.slot,
            &shapes::companion(&self.name, "shape"),
            Dtype::I64,
            &[ndim],
            &self.filled,
            locker.clone(),
            |buf| {
                for (c, v) in buf.chunks_exact_mut(8).zip(&shape_rows) {
                    c.copy_from_slice(&v.to_le_bytes());
                }
            },
        )];
        if self.policy == ShapePolicy::PadMasked {
            let (filled, row_shapes) = (&self.filled, &self.row_shapes);
            extra.push(Field::tensor(
                self.slot,
                &shapes::companion(&self.name, "mask"),
                Dtype::Bool,
                &max,
                filled,
                locker,
                |buf| {
                    for r in (0..rows).filter(|&r| filled[r]) {
                        let s = shapes::extend(&row_shapes[r], ndim);
                        let dst = &mut buf[r * elems..(r + 1) * elems];
                        shapes::for_each_run(&s, &max, |_, b, n| dst[b..b + n].fill(1));
                    }
                },
            ));
        }
        Ok(extra)
    }

    /// A tensor field of `rows = filled.len()` rows of `dtype`/`shape`, zeroed, then written by
    /// `fill` (the whole buffer).
    fn tensor(
        slot: usize,
        name: &str,
        dtype: Dtype,
        shape: &[usize],
        filled: &[bool],
        locker: Option<Arc<dyn PageLocker>>,
        fill: impl FnOnce(&mut [u8]),
    ) -> Field {
        let mut f = Field::new(slot, name, locker);
        f.reset(filled.len());
        f.filled.copy_from_slice(filled);
        f.row_bytes = shape.iter().product::<usize>() * dtype.size();
        f.kind = FieldKind::Tensor {
            dtype,
            sample_shape: shape.to_vec(),
        };
        f.data.set_len(f.row_bytes * filled.len());
        let buf = f.data.as_mut_slice();
        buf.fill(0);
        fill(buf);
        f
    }

    fn bytes_row(&mut self, r: usize, bytes: &[u8]) -> std::result::Result<(), String> {
        self.bytes_row_reserve(r, bytes.len())?
            .copy_from_slice(bytes);
        Ok(())
    }

    /// Appends row `r` of `n` bytes to a bytes field; returns the row's destination.
    fn bytes_row_reserve(&mut self, r: usize, n: usize) -> std::result::Result<&mut [u8], String> {
        if matches!(self.kind, FieldKind::Tensor { .. } | FieldKind::List { .. }) {
            return Err(format!(
                "field {} mixes arrays and non-array members",
                self.name
            ));
        }
        if self.offsets.is_empty() {
            self.offsets.push(0);
        }
        while self.offsets.len() <= r {
            let last = *self.offsets.last().unwrap_or(&0);
            self.offsets.push(last);
        }
        let start = self.data.len();
        self.data.set_len(start + n);
        self.offsets.push(start + n);
        self.filled[r] = true;
        Ok(&mut self.data.as_mut_slice()[start..])
    }

    fn finish(&mut self) -> Result<Vec<Field>> {
        if self.policy.pads() {
            return self.pad();
        }
        let rows = self.filled.len();
        match self.kind {
            FieldKind::Tensor { .. } => {
                let rb = self.row_bytes;
                for r in 0..rows {
                    if !self.filled[r] {
                        self.data.as_mut_slice()[r * rb..(r + 1) * rb].fill(0);
                    }
                }
            }
            FieldKind::Bytes | FieldKind::List { .. } => {
                if self.offsets.is_empty() {
                    self.offsets.push(0);
                }
                while self.offsets.len() <= rows {
                    let last = *self.offsets.last().unwrap_or(&0);
                    self.offsets.push(last);
                }
            }
        }
        Ok(Vec::new())
    }
}

/// The error for a stacked field whose shapes differ within a batch; it names the option.
fn mismatch(name: &str, d: Dtype, shape: &[usize], dtype: Dtype, got: &[usize]) -> String {
    format!(
        "field {name} has {} {shape:?} in this batch but this sample has {} {got:?}: to batch \
         variable shapes set LoaderOptions::shapes[\"{name}\"] to pad, pad_masked, bucket or list",
        d.name(),
        dtype.name()
    )
}

#[derive(Debug, Default)]
struct Pool {
    free: Mutex<Vec<Vec<Field>>>,
    max: usize,
}

impl Pool {
    fn take(&self) -> Vec<Field> {
        self.free
            .lock()
            .map(|mut f| f.pop().unwrap_or_default())
            .unwrap_or_default()
    }

    fn put(&self, fields: Vec<Field>) {
        if let Ok(mut f) = self.free.lock()
            && f.len() < self.max
        {
            f.push(fields);
        }
    }
}

/// One batch: `rows` units of `width` slots, each field collated into one buffer. Dropping it
/// returns its buffers to the loader for reuse.
#[derive(Debug)]
pub struct Batch {
    epoch: u64,
    index: usize,
    rows: usize,
    width: usize,
    units: usize,
    ids: Vec<SampleId>,
    positions: Vec<u64>,
    fields: Vec<Field>,
    pool: Option<Arc<Pool>>,
}

impl Drop for Batch {
    fn drop(&mut self) {
        if let Some(p) = self.pool.take() {
            p.put(std::mem::take(&mut self.fields));
        }
    }
}

impl Batch {
    /// The epoch.
    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    /// The batch number within this rank's epoch (from the resume point).
    pub fn index(&self) -> usize {
        self.index
    }

    /// Rows of the batch: units, or with bucket batches the samples of its units.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Units (plan positions) in the batch.
    pub fn units(&self) -> usize {
        self.units
    }

    /// Slots per unit.
    pub fn width(&self) -> usize {
        self.width
    }

    /// `rows * width` sample ids ([`SampleId::MISSING`] for absent slots).
    pub fn ids(&self) -> &[SampleId] {
        &self.ids
    }

    /// The presence mask, `rows * width`, row-major.
    pub fn mask(&self) -> Vec<bool> {
        self.ids.iter().map(|i| !i.is_missing()).collect()
    }

    /// Global plan positions of the units (of the rows, but for bucket batches).
    pub fn positions(&self) -> &[u64] {
        &self.positions
    }

    /// Every field.
    pub fn fields(&self) -> &[Field] {
        &self.fields
    }

    /// Field `name` of slot 0.
    pub fn field(&self, name: &str) -> Option<&Field> {
        self.field_in(0, name)
    }

    /// Field `name` of slot `slot`.
    pub fn field_in(&self, slot: usize, name: &str) -> Option<&Field> {
        self.fields
            .iter()
            .find(|f| f.slot == slot && f.name == name)
    }
}

/// Statistics of one epoch on this rank.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct EpochStats {
    /// The epoch.
    pub epoch: u64,
    /// Batches yielded.
    pub batches: u64,
    /// Units yielded.
    pub units: u64,
    /// Samples (present slots) yielded.
    pub samples: u64,
    /// Member bytes read from shards (as stored).
    pub bytes_read: u64,
    /// Bytes collated into batch buffers (decoded).
    pub bytes_out: u64,
    /// Time the consumer waited for a batch (I/O or decoding not keeping up).
    pub stall: Duration,
    /// Reader-thread time spent building batches (summed over threads).
    pub read_time: Duration,
    /// Wall time from the first request to the end of the epoch.
    pub wall: Duration,
    /// Batch buffer allocations the page locker refused (they were used pageable), e.g. past
    /// `RLIMIT_MEMLOCK`.
    pub lock_failures: u64,
}

#[derive(Debug, Default)]
struct SharedStats {
    bytes_read: AtomicU64,
    bytes_out: AtomicU64,
    samples: AtomicU64,
    lock_failures: AtomicU64,
    read_nanos: AtomicU64,
}

/// Streams batches of this rank's share of each epoch.
#[derive(Debug)]
pub struct Loader {
    planner: Arc<Planner>,
    part: Partition,
    opts: LoaderOptions,
    state: LoaderState,
    pool: Arc<Pool>,
    last_stats: Option<EpochStats>,
}

struct Ctx {
    planner: Arc<Planner>,
    plan: Arc<EpochPlan>,
    part: Partition,
    rest: Remaining,
    count: u64,
    batch: usize,
    fields: Option<Vec<String>>,
    read: ReadMode,
    page_lock: Option<Arc<dyn PageLocker>>,
    shapes: BTreeMap<String, ShapePolicy>,
    rows_from_slots: bool,
    pool: Arc<Pool>,
    cancel: AtomicBool,
    stats: SharedStats,
}

impl Loader {
    /// A loader for rank `part.rank` of `part.world`, at the start of epoch 0.
    ///
    /// Refuses a selection that reads nothing ([`Error::EmptySelection`]: a dataset's filters
    /// leave none of its samples) and a `fields` entry no selected sample has
    /// ([`Error::NoSuchField`]); see [`crate::selection`].
    pub fn new(planner: Arc<Planner>, part: Partition, opts: LoaderOptions) -> Result<Loader> {
        Partition::new(part.rank, part.world, part.remainder)?;
        if opts.batch_size == 0 {
            return Err(Error::config("batch size must be at least 1"));
        }
        crate::shapes::check_buckets(&planner, &opts)?;
        crate::selection::check_mixture(planner.mixture())?;
        if let Some(fields) = &opts.fields {
            crate::selection::check_fields(planner.mixture(), fields)?;
        }
        let state = LoaderState {
            fingerprint: planner.fingerprint(),
            ..LoaderState::default()
        };
        let pool = Arc::new(Pool {
            free: Mutex::new(Vec::new()),
            max: opts.prefetch + opts.threads.max(1) + 2,
        });
        Ok(Loader {
            planner,
            part,
            opts,
            state,
            pool,
            last_stats: None,
        })
    }

    /// The planner.
    pub fn planner(&self) -> &Arc<Planner> {
        &self.planner
    }

    /// The options.
    pub fn options(&self) -> &LoaderOptions {
        &self.opts
    }

    /// The partition.
    pub fn partition(&self) -> Partition {
        self.part
    }

    /// The state to save with a checkpoint: the epoch and the global progress once every rank
    /// has consumed as many batches as this one.
    pub fn state(&self) -> LoaderState {
        self.state.clone()
    }

    /// Restores a saved state (possibly from a run with another world size or thread count).
    pub fn set_state(&mut self, state: LoaderState) -> Result<()> {
        if state.fingerprint != self.planner.fingerprint() {
            return Err(Error::State(format!(
                "state fingerprint {:016x} does not match this plan ({:016x}): different seed, selection or units",
                state.fingerprint,
                self.planner.fingerprint()
            )));
        }
        self.state = state;
        Ok(())
    }

    /// Jumps to the start of `epoch`.
    pub fn set_epoch(&mut self, epoch: u64) {
        self.state.start_of(epoch);
    }

    /// Statistics of the last finished (or dropped) epoch iterator.
    pub fn last_stats(&self) -> Option<&EpochStats> {
        self.last_stats.as_ref()
    }

    /// Iterates over this rank's remaining batches of the current epoch; afterwards the state
    /// points at the start of the next epoch.
    pub fn epoch(&mut self) -> EpochIter<'_> {
        Held::Borrowed(self).start()
    }

    /// As [`Loader::epoch`], the iterator owning the loader (for a caller that cannot hold a
    /// borrow across calls, such as a binding): [`EpochIter::into_loader`] gives it back.
    pub fn into_epoch(self) -> EpochIter<'static> {
        Held::Owned(Box::new(self)).start()
    }
}

/// The loader an epoch iterator drives: borrowed, or owned ([`Loader::into_epoch`]).
enum Held<'a> {
    Borrowed(&'a mut Loader),
    Owned(Box<Loader>),
    /// Given back by [`EpochIter::into_loader`] (the iterator is finished and dropped next).
    Released,
}

impl std::ops::Deref for Held<'_> {
    type Target = Loader;
    fn deref(&self) -> &Loader {
        match self {
            Held::Borrowed(l) => l,
            Held::Owned(l) => l,
            // only `into_loader` releases it, consuming the finished iterator
            Held::Released => unreachable!("epoch iterator used after into_loader"),
        }
    }
}

impl std::ops::DerefMut for Held<'_> {
    fn deref_mut(&mut self) -> &mut Loader {
        match self {
            Held::Borrowed(l) => l,
            Held::Owned(l) => l,
            // only `into_loader` releases it, consuming the finished iterator
            Held::Released => unreachable!("epoch iterator used after into_loader"),
        }
    }
}

impl<'a> Held<'a> {
    /// Starts the reader threads of the loader's current epoch.
    fn start(self) -> EpochIter<'a> {
        let plan = Arc::new(self.planner.epoch(self.state.epoch));
        let n = plan.len() as u64;
        let rest = self.rest(n);
        let count = self.part.count(rest.len());
        let b = self.opts.batch_size as u64;
        let nbatches = if self.opts.drop_last {
            count / b
        } else {
            count.div_ceil(b)
        } as usize;
        let threads = self.opts.threads.max(1);
        let depth = self.opts.prefetch.max(1).div_ceil(threads);
        let ctx = Arc::new(Ctx {
            planner: self.planner.clone(),
            plan,
            part: self.part,
            rest,
            count,
            batch: self.opts.batch_size,
            fields: self.opts.fields.clone(),
            read: self.opts.read,
            page_lock: self.opts.page_lock.clone(),
            shapes: self.opts.shapes.clone(),
            rows_from_slots: self.planner.bucket_fields().is_some(),
            pool: self.pool.clone(),
            cancel: AtomicBool::new(false),
            stats: SharedStats::default(),
        });
        let mut rx = Vec::with_capacity(threads);
        let mut handles = Vec::with_capacity(threads);
        for t in 0..threads.min(nbatches.max(1)) {
            let (tx, r) = sync_channel(depth);
            rx.push(r);
            let c = ctx.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("bomdata-loader-{t}"))
                .spawn(move || reader_thread(c, t, threads.min(nbatches.max(1)), nbatches, tx));
            match spawned {
                Ok(h) => handles.push(h),
                Err(_) => {
                    // Fall back: fewer threads (the channel of a failed spawn has no sender).
                    rx.pop();
                    break;
                }
            }
        }
        let epoch = self.state.epoch;
        EpochIter {
            loader: self,
            ctx,
            n,
            nbatches,
            next: 0,
            rx,
            handles,
            stats: EpochStats {
                epoch,
                ..EpochStats::default()
            },
            t0: Instant::now(),
            done: false,
        }
    }
}

impl Loader {
    /// What remains of the current epoch of `n` units (positions past the plan are padding; a
    /// saved state may hold some, never absurdly many).
    fn rest(&self, n: u64) -> Remaining {
        let cap = n.saturating_mul(2).saturating_add(1 << 20);
        Remaining::from_ranges(
            self.state
                .remaining(n)
                .ranges()
                .iter()
                .map(|r| [r[0].min(cap), r[1].min(cap)])
                .collect(),
        )
    }

    /// The samples this rank's share of the rest of the current epoch reads, batch by batch in
    /// the order the reader threads read them (each read listed, empty slots left out): what a
    /// dataset read by byte range fetches ahead (see `remote::read_ahead`).
    pub fn samples_ahead(&self) -> Vec<Vec<(usize, SampleLoc)>> {
        let plan = self.planner.epoch(self.state.epoch);
        let n = plan.len() as u64;
        let rest = self.rest(n);
        let count = self.part.count(rest.len());
        let b = self.opts.batch_size.max(1) as u64;
        let used = if self.opts.drop_last {
            count / b * b
        } else {
            count
        };
        let datasets = self.planner.mixture().datasets();
        let mut out = Vec::with_capacity(used.div_ceil(b) as usize);
        for k0 in (0..used).step_by(b as usize) {
            let mut batch = Vec::new();
            for k in k0..(k0 + b).min(used) {
                let pos = self.part.position(n, &rest, k);
                for id in plan.unit(Partition::unit_at(pos, n)) {
                    if id.is_missing() {
                        continue;
                    }
                    if let Some(loc) = datasets
                        .get(id.dataset())
                        .and_then(|ds| ds.selection().get(id.index()))
                    {
                        batch.push((id.dataset(), *loc));
                    }
                }
            }
            out.push(batch);
        }
        out
    }

    /// The shards this rank's share of the rest of the current epoch reads, as
    /// `(dataset, shard)` in the order it first touches them (each once): what a remote
    /// dataset must fetch for this rank, and in which order to prefetch it.
    pub fn shards_touched(&self) -> Vec<(usize, usize)> {
        let plan = self.planner.epoch(self.state.epoch);
        let n = plan.len() as u64;
        let rest = self.rest(n);
        let datasets = self.planner.mixture().datasets();
        let mut seen = std::collections::HashSet::new();
        let mut out = Vec::new();
        for pos in self.part.positions(n, &rest) {
            if n == 0 {
                break;
            }
            for id in plan.unit(Partition::unit_at(pos, n)) {
                if id.is_missing() {
                    continue;
                }
                let Some(ds) = datasets.get(id.dataset()) else {
                    continue;
                };
                let Some(loc) = ds.selection().get(id.index()) else {
                    continue;
                };
                let key = (id.dataset(), loc.shard as usize);
                if seen.insert(key) {
                    out.push(key);
                }
            }
        }
        out
    }
}

fn reader_thread(
    ctx: Arc<Ctx>,
    t: usize,
    threads: usize,
    nbatches: usize,
    tx: SyncSender<Result<Batch>>,
) {
    let mut scratch = Scratch::default();
    let mut b = t;
    while b < nbatches {
        if ctx.cancel.load(Ordering::Relaxed) {
            return;
        }
        let t0 = Instant::now();
        let batch = build_batch(&ctx, b, &mut scratch);
        ctx.stats
            .read_nanos
            .fetch_add(t0.elapsed().as_nanos() as u64, Ordering::Relaxed);
        if tx.send(batch).is_err() {
            return;
        }
        b += threads;
    }
}

/// Per-thread decode state, reused across batches.
#[derive(Default)]
struct Scratch {
    buf: Vec<u8>,
    dec: MemberDecoder,
    /// Members waiting to be read in runs ([`ReadMode::Pread`]).
    pending: direct::Pending,
}

/// Reads the members deferred so far (before any member is read otherwise, and at the end of
/// a batch).
fn flush(scratch: &mut Scratch, fields: &mut [Field]) -> Result<()> {
    if scratch.pending.is_empty() {
        return Ok(());
    }
    scratch.pending.flush(fields).map_err(|f| match f.fail {
        direct::Fail::Io(e) => Error::io(f.file.path(), e),
        direct::Fail::Bad(msg) => Error::corrupt(
            f.file.path(),
            format!("member at byte {}: {msg}", f.member.offset),
        ),
    })
}

/// Index in `fields` of the batch field for (`slot`, `logical`), adding one (reused from
/// `recycled` when possible, reset for `rows` rows) on its first member in this batch.
#[inline]
fn field_slot(
    ctx: &Ctx,
    fields: &mut Vec<Field>,
    recycled: &mut Vec<Field>,
    slot: usize,
    logical: &str,
    rows: usize,
) -> usize {
    match fields
        .iter()
        .position(|f| f.slot == slot && f.name == logical)
    {
        Some(i) => i,
        None => {
            let mut f = match recycled
                .iter()
                .position(|f| f.slot == slot && f.name == logical)
            {
                Some(i) => recycled.swap_remove(i),
                None => recycled
                    .pop()
                    .unwrap_or_else(|| Field::new(slot, logical, ctx.page_lock.clone())),
            };
            f.slot = slot;
            if f.name != logical {
                f.name.clear();
                f.name.push_str(logical);
            }
            f.reset(rows);
            f.policy = ctx.shapes.get(logical).copied().unwrap_or_default();
            fields.push(f);
            fields.len() - 1
        }
    }
}

/// Finishes every field of `batch` (padding adds companion fields) and adds the batch's counts
/// to the loader's stats.
fn finish_batch(ctx: &Ctx, batch: &mut Batch, bytes_read: u64, samples: u64) -> Result<()> {
    let mut extra = Vec::new();
    for f in &mut batch.fields {
        extra.extend(f.finish()?);
    }
    batch.fields.extend(extra);
    let (mut out, mut refused) = (0u64, 0u64);
    for f in &mut batch.fields {
        out += f.data.len() as u64;
        refused += u64::from(f.data.take_refused());
    }
    ctx.stats
        .bytes_read
        .fetch_add(bytes_read, Ordering::Relaxed);
    ctx.stats.bytes_out.fetch_add(out, Ordering::Relaxed);
    ctx.stats.samples.fetch_add(samples, Ordering::Relaxed);
    if refused > 0 {
        ctx.stats
            .lock_failures
            .fetch_add(refused, Ordering::Relaxed);
    }
    Ok(())
}

fn build_batch(ctx: &Ctx, b: usize, scratch: &mut Scratch) -> Result<Batch> {
    let plan = &ctx.plan;
    let n = plan.len() as u64;
    let k0 = (b * ctx.batch) as u64;
    let k1 = (k0 + ctx.batch as u64).min(ctx.count);
    let positions: Vec<u64> = (k0..k1)
        .map(|k| ctx.part.position(n, &ctx.rest, k))
        .collect();
    let unit_of = |pos: u64| plan.unit(Partition::unit_at(pos, n));
    // bucket batches: a unit's present slots are the rows of one batch
    let (rows, width) = if ctx.rows_from_slots {
        let present = |pos: &u64| unit_of(*pos).iter().filter(|i| !i.is_missing()).count();
        (positions.iter().map(present).sum(), 1)
    } else {
        (positions.len(), plan.width)
    };
    let mut recycled = ctx.pool.take();
    let mut batch = Batch {
        epoch: plan.epoch,
        index: b,
        rows,
        width,
        units: positions.len(),
        ids: Vec::with_capacity(rows * width),
        positions: Vec::new(),
        fields: Vec::new(),
        pool: Some(ctx.pool.clone()),
    };
    let (mut bytes_read, mut samples) = (0u64, 0u64);
    for &pos in &positions {
        for (slot, &id) in unit_of(pos).iter().enumerate() {
            if ctx.rows_from_slots && id.is_missing() {
                continue;
            }
            batch.ids.push(id);
            if id.is_missing() {
                continue;
            }
            samples += 1;
            let (slot, row) = if ctx.rows_from_slots {
                (0, batch.ids.len() - 1)
            } else {
                (slot, (batch.ids.len() - 1) / width)
            };
            let at = Target { slot, row, rows };
            bytes_read += read_sample(ctx, &mut batch.fields, &mut recycled, at, id, scratch)?;
        }
    }
    flush(scratch, &mut batch.fields)?;
    batch.positions = positions;
    finish_batch(ctx, &mut batch, bytes_read, samples)?;
    Ok(batch)
}

/// Where a sample goes in a batch: unit slot, row, and the batch's row count.
#[derive(Clone, Copy)]
struct Target {
    slot: usize,
    row: usize,
    rows: usize,
}

/// Reads the selected members of sample `id` into row `at.row` of the batch's fields; returns
/// the member bytes read.
fn read_sample(
    ctx: &Ctx,
    fields: &mut Vec<Field>,
    recycled: &mut Vec<Field>,
    at: Target,
    id: SampleId,
    scratch: &mut Scratch,
) -> Result<u64> {
    let row = at.row;
    let ds = &ctx.planner.mixture().datasets()[id.dataset()];
    let loc = ds.selection()[id.index()];
    let sample = ds.index_sample(loc);
    if sample.members.is_empty() {
        return Ok(0);
    }
    // the mapped shard, or a fetched byte range (a dataset read by range, see `ranged`)
    let file = ds.sample_data(loc)?;
    let mut bytes_read = 0;
    for m in &sample.members {
        let (logical, zst) = member::logical_name(&m.name);
        if let Some(f) = &ctx.fields
            && !f.iter().any(|x| x == logical)
        {
            continue;
        }
        let corrupt = |msg: String| {
            Error::corrupt(
                file.path(),
                format!(
                    "sample {:?} member {} at byte {}: {msg}",
                    sample.key, m.name, m.offset
                ),
            )
        };
        bytes_read += m.size;
        let fi = field_slot(ctx, fields, recycled, at.slot, logical, at.rows);
        if !zst
            && ctx.read == ReadMode::Pread
            && let SampleData::Mapped(shard) = &file
        {
            let npy = logical.ends_with(".npy");
            if scratch.pending.defer(fields, fi, row, shard, m, npy) {
                continue;
            }
            flush(scratch, fields)?;
            direct::read_member(&mut fields[fi], row, shard.file(), m.into(), npy).map_err(
                |e| match e {
                    direct::Fail::Io(e) => Error::io(file.path(), e),
                    direct::Fail::Bad(msg) => corrupt(msg),
                },
            )?;
            continue;
        }
        flush(scratch, fields)?;
        let field = &mut fields[fi];
        let raw = file
            .get(m.offset, m.size)
            .ok_or_else(|| corrupt("member outside the shard or the fetched range".into()))?;
        // large rows: decompress in place (no copy); small ones: into the thread's
        // scratch buffer, which stays in cache, then one streaming copy
        if zst
            && logical.ends_with(".npy")
            && field.row_bytes >= ZSTD_IN_PLACE_MIN
            && field
                .zstd_row_in_place(row, raw, scratch)
                .map_err(corrupt)?
        {
            continue;
        }
        let data: &[u8] = if zst {
            decompress(raw, scratch).map_err(|e| corrupt(format!("zstd: {e}")))?;
            &scratch.buf
        } else {
            raw
        };
        if logical.ends_with(".npy") {
            let view = npy::decode(data).map_err(|e| corrupt(e.to_string()))?;
            let dst = match field.policy {
                ShapePolicy::Stack | ShapePolicy::Bucket => {
                    field.tensor_row(row, view.dtype, &view.shape)
                }
                _ => field.ragged_row(row, view.dtype, &view.shape),
            }
            .map_err(corrupt)?;
            crate::hostmem::copy_large(dst, view.data);
        } else {
            field.bytes_row(row, data).map_err(corrupt)?;
        }
    }
    Ok(bytes_read)
}

#[cfg(unix)]
fn read_at(f: &std::fs::File, dst: &mut [u8], off: u64) -> std::io::Result<()> {
    use std::os::unix::fs::FileExt;
    f.read_exact_at(dst, off)
}

#[cfg(not(unix))]
fn read_at(f: &std::fs::File, dst: &mut [u8], off: u64) -> std::io::Result<()> {
    use std::io::{Read, Seek, SeekFrom};
    let mut f = f;
    f.seek(SeekFrom::Start(off))?;
    f.read_exact(dst)
}

/// Rows from this size are decompressed straight into the batch buffer; smaller ones go
/// through the (cache-resident) scratch buffer and a non-temporal copy, which measured cheaper.
const ZSTD_IN_PLACE_MIN: usize = 256 << 10;

/// Decompresses a zstd member into the scratch buffer (the container's member decoder, with the
/// thread's reused context).
fn decompress(src: &[u8], scratch: &mut Scratch) -> std::io::Result<()> {
    scratch.dec.decode_into(src, &mut scratch.buf)
}

/// The batches of one epoch on this rank, in order.
pub struct EpochIter<'a> {
    loader: Held<'a>,
    ctx: Arc<Ctx>,
    n: u64,
    nbatches: usize,
    next: usize,
    rx: Vec<Receiver<Result<Batch>>>,
    handles: Vec<JoinHandle<()>>,
    stats: EpochStats,
    t0: Instant,
    done: bool,
}

impl std::fmt::Debug for EpochIter<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EpochIter")
            .field("epoch", &self.stats.epoch)
            .field("next", &self.next)
            .field("batches", &self.nbatches)
            .finish()
    }
}

impl EpochIter<'_> {
    /// Batches this iterator yields in all.
    pub fn len(&self) -> usize {
        self.nbatches
    }

    /// True when it yields none.
    pub fn is_empty(&self) -> bool {
        self.nbatches == 0
    }

    /// The loader state after the batches yielded so far.
    pub fn state(&self) -> LoaderState {
        self.loader.state.clone()
    }

    /// The planner.
    pub fn planner(&self) -> &Arc<Planner> {
        &self.loader.planner
    }

    /// Stops the reader threads (what they hold is dropped) and returns the loader of
    /// [`Loader::into_epoch`], its state after the batches yielded so far (`None` for a
    /// borrowing iterator).
    pub fn into_loader(mut self) -> Option<Loader> {
        self.finish();
        match std::mem::replace(&mut self.loader, Held::Released) {
            Held::Owned(l) => Some(*l),
            _ => None,
        }
    }

    /// Statistics so far.
    pub fn stats(&self) -> EpochStats {
        let mut s = self.stats.clone();
        let st = &self.ctx.stats;
        s.bytes_read = st.bytes_read.load(Ordering::Relaxed);
        s.bytes_out = st.bytes_out.load(Ordering::Relaxed);
        s.read_time = Duration::from_nanos(st.read_nanos.load(Ordering::Relaxed));
        s.lock_failures = st.lock_failures.load(Ordering::Relaxed);
        s.wall = self.t0.elapsed();
        s
    }

    fn finish(&mut self) {
        if self.done {
            return;
        }
        self.done = true;
        self.ctx.cancel.store(true, Ordering::Relaxed);
        // Dropping the receivers unblocks senders; then join.
        self.rx.clear();
        for h in self.handles.drain(..) {
            let _ = h.join();
        }
        let s = self.stats();
        self.loader.last_stats = Some(s);
    }
}

impl Iterator for EpochIter<'_> {
    type Item = Result<Batch>;

    fn next(&mut self) -> Option<Result<Batch>> {
        if self.next >= self.nbatches {
            if !self.done {
                self.loader.state.start_of(self.stats.epoch + 1);
                self.finish();
            }
            return None;
        }
        let t = self.next % self.rx.len().max(1);
        let t0 = Instant::now();
        let got = self.rx.get(t).and_then(|r| r.recv().ok());
        self.stats.stall += t0.elapsed();
        let Some(item) = got else {
            self.finish();
            return Some(Err(Error::config("reader thread stopped")));
        };
        self.next += 1;
        if let Ok(b) = &item {
            self.stats.batches += 1;
            self.stats.units += b.units as u64;
            self.stats.samples += b.ids.iter().filter(|i| !i.is_missing()).count() as u64;
            let k = ((self.next * self.ctx.batch) as u64).min(self.ctx.count);
            let done = self.next == self.nbatches;
            let st = &mut self.loader.state;
            st.advance(self.ctx.part, self.n, &self.ctx.rest, k, done);
        }
        Some(item)
    }
}

impl Drop for EpochIter<'_> {
    fn drop(&mut self) {
        self.finish();
    }
}
