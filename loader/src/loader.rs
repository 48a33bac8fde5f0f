//! The threaded reader: plans an epoch, reads this rank's units on reader threads with bounded
//! read-ahead, and collates each batch into one contiguous buffer per field.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use bomdata_shard::member::{self, MemberDecoder};
use bomdata_shard::npy::{self, Dtype};

use crate::hostmem::{AlignedBuf, PageLocker};
use crate::partition::{Partition, Remaining, Split};
use crate::plan::{EpochPlan, Planner, SampleId};
use crate::state::{LoaderState, RanksRead};
use crate::{Error, Result};

/// How uncompressed member bytes are copied into batch buffers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReadMode {
    /// Copy from the memory-mapped shard (page faults on first touch of every page); rows from
    /// 1 MiB up are copied with non-temporal stores, which makes this the fastest mode for large
    /// samples on a local file system (bench/loader: 0.12–0.13 CPU s/GB against 0.13–0.17).
    Mmap,
    /// Positioned reads (`pread`) straight into the batch buffer (the `.npy` header is parsed
    /// from the map): one kernel copy, no page-table work; the safer choice on network file
    /// systems, where a page fault is a round trip.
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
        }
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
            FieldKind::Bytes => vec![self.data.len()],
        }
    }

    /// The bytes of row `r` (one array's data, or one member's bytes).
    pub fn row(&self, r: usize) -> &[u8] {
        match &self.kind {
            FieldKind::Tensor { .. } => {
                &self.data.as_slice()[r * self.row_bytes..(r + 1) * self.row_bytes]
            }
            FieldKind::Bytes => &self.data.as_slice()[self.offsets[r]..self.offsets[r + 1]],
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
                    return Err(format!(
                        "field {} has {} {:?} in this batch but this sample has {} {:?}",
                        self.name,
                        d.name(),
                        sample_shape,
                        dtype.name(),
                        shape
                    ));
                }
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
                    Err(format!(
                        "field {} has {} {:?} in this batch but this sample has {} {:?}",
                        self.name,
                        dtype.name(),
                        sample_shape,
                        v.dtype.name(),
                        v.shape
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

    fn bytes_row(&mut self, r: usize, bytes: &[u8]) -> std::result::Result<(), String> {
        if matches!(self.kind, FieldKind::Tensor { .. }) {
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
        self.data.set_len(start + bytes.len());
        self.data.as_mut_slice()[start..].copy_from_slice(bytes);
        self.offsets.push(start + bytes.len());
        self.filled[r] = true;
        Ok(())
    }

    fn finish(&mut self) {
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
            FieldKind::Bytes => {
                if self.offsets.is_empty() {
                    self.offsets.push(0);
                }
                while self.offsets.len() <= rows {
                    let last = *self.offsets.last().unwrap_or(&0);
                    self.offsets.push(last);
                }
            }
        }
    }
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

    /// Units in the batch.
    pub fn rows(&self) -> usize {
        self.rows
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

    /// Global plan positions of the rows.
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
    pool: Arc<Pool>,
    cancel: AtomicBool,
    stats: SharedStats,
}

impl Loader {
    /// A loader for rank `part.rank` of `part.world`, at the start of epoch 0.
    pub fn new(planner: Arc<Planner>, part: Partition, opts: LoaderOptions) -> Result<Loader> {
        Partition::new(part.rank, part.world, part.remainder)?;
        if opts.batch_size == 0 {
            return Err(Error::config("batch size must be at least 1"));
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
        let plan = Arc::new(self.planner.epoch(self.state.epoch));
        let n = plan.len() as u64;
        // positions past the plan are padding; a saved state may hold some, never absurdly many
        let cap = n.saturating_mul(2).saturating_add(1 << 20);
        let rest = Remaining::from_ranges(
            self.state
                .remaining(n)
                .ranges()
                .iter()
                .map(|r| [r[0].min(cap), r[1].min(cap)])
                .collect(),
        );
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
            fields.push(f);
            fields.len() - 1
        }
    }
}

/// Finishes every field of `batch` and adds the batch's counts to the loader's stats.
fn finish_batch(ctx: &Ctx, batch: &mut Batch, bytes_read: u64, samples: u64) {
    let (mut out, mut refused) = (0u64, 0u64);
    for f in &mut batch.fields {
        f.finish();
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
}

fn build_batch(ctx: &Ctx, b: usize, scratch: &mut Scratch) -> Result<Batch> {
    let plan = &ctx.plan;
    let n = plan.len() as u64;
    let width = plan.width;
    let k0 = (b * ctx.batch) as u64;
    let k1 = (k0 + ctx.batch as u64).min(ctx.count);
    let rows = (k1 - k0) as usize;
    let mut recycled = ctx.pool.take();
    let mut batch = Batch {
        epoch: plan.epoch,
        index: b,
        rows,
        width,
        ids: Vec::with_capacity(rows * width),
        positions: Vec::with_capacity(rows),
        fields: Vec::new(),
        pool: Some(ctx.pool.clone()),
    };
    let mixture = ctx.planner.mixture();
    let (mut bytes_read, mut samples) = (0u64, 0u64);
    for k in k0..k1 {
        let pos = ctx.part.position(n, &ctx.rest, k);
        batch.positions.push(pos);
        let unit = plan.unit(Partition::unit_at(pos, n));
        for (slot, &id) in unit.iter().enumerate() {
            batch.ids.push(id);
            if id.is_missing() {
                continue;
            }
            samples += 1;
            let row = batch.ids.len() - 1;
            let row = row / width;
            let ds = &mixture.datasets()[id.dataset()];
            let loc = ds.selection()[id.index()];
            let sample = ds.index_sample(loc);
            if sample.members.is_empty() {
                continue;
            }
            let file = ds.shard_file(loc.shard as usize)?;
            let bytes = file.bytes();
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
                let raw = &bytes[m.offset as usize..(m.offset + m.size) as usize];
                bytes_read += m.size;
                let fi = field_slot(ctx, &mut batch.fields, &mut recycled, slot, logical, rows);
                let field = &mut batch.fields[fi];
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
                    let dst = field
                        .tensor_row(row, view.dtype, &view.shape)
                        .map_err(corrupt)?;
                    if !zst && ctx.read == ReadMode::Pread {
                        read_at(file.file(), dst, m.offset + view.data_offset as u64)
                            .map_err(|e| Error::io(file.path(), e))?;
                    } else {
                        crate::hostmem::copy_large(dst, view.data);
                    }
                } else {
                    field.bytes_row(row, data).map_err(corrupt)?;
                }
            }
        }
    }
    finish_batch(ctx, &mut batch, bytes_read, samples);
    Ok(batch)
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
    loader: &'a mut Loader,
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
            self.stats.units += b.rows as u64;
            self.stats.samples += b.ids.iter().filter(|i| !i.is_missing()).count() as u64;
            let k = ((self.next * self.ctx.batch) as u64).min(self.ctx.count);
            let st = &mut self.loader.state;
            let part = self.ctx.part;
            if self.next == self.nbatches {
                st.start_of(self.stats.epoch + 1);
            } else if part.world == 1 || part.split == Split::Interleave {
                // what was read is a prefix of the set: keep the state to a position
                st.set_remaining(self.n, part.progress(self.n, &self.ctx.rest, k));
            } else {
                st.set_remaining(self.n, self.ctx.rest.clone());
                st.read = Some(RanksRead {
                    world: part.world,
                    remainder: part.remainder,
                    split: part.split,
                    units: k,
                });
            }
        }
        Some(item)
    }
}

impl Drop for EpochIter<'_> {
    fn drop(&mut self) {
        self.finish();
    }
}
