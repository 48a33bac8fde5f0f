//! A dataset in an object store read by byte range (see [`super::open_ranged`] and
//! [`super::read_ahead`]): no shard file is copied; the reader threads take each sample's bytes
//! from a read-ahead window that fetches, in the order the rank reads them, the byte ranges of
//! the next batches' samples (adjacent samples of a shard coalesced into one GET), bounded by a
//! number of batches and by bytes.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};

use bomdata_schemas::manifest::{IndexSample, ShardEntry};
use bomdata_shard::dataset::SHARDS;
use futures::StreamExt;
use object_store::path::Path as StorePath;
use object_store::{ObjectStore, ObjectStoreExt};

use super::store_err;
use crate::dataset::SampleLoc;
use crate::ranged::{RangeSource, SampleBytes};
use crate::{Error, Result};

/// Samples of one shard closer than this are fetched in one request, the gap with them (the
/// spans of consecutive samples touch: a gap is samples this rank does not read).
const COALESCE_GAP: u64 = 4 << 10;
/// Most bytes of later reads fetched between two samples of one request (and at most an eighth
/// of the window's bytes): keeps the samples a shuffle buffer leaves for much later out.
const PULL_GAP: u64 = 4 << 20;
/// Largest coalesced request.
const MAX_REQUEST: u64 = 64 << 20;
/// Requests in flight at once.
const CONCURRENCY: usize = 8;

/// Key of a sample: (shard, sample).
type Key = (u32, u32);

/// Per shard (manifest order): its entry and each sample's byte span (`(0, 0)`: no member).
pub(super) type Spans = Vec<(ShardEntry, Vec<(u64, u64)>)>;

enum Slot {
    /// Being fetched.
    Pending,
    /// Fetched: its own bytes (copied out of a request of several samples, so that each is
    /// freed after its own last read).
    Ready(SampleBytes),
    /// The fetch failed.
    Failed(String),
}

struct Scheduled {
    /// Reads of this sample still to come within the window.
    reads: u32,
    /// Later reads fetched early, with the samples around it (the read-ahead has not reached
    /// them yet).
    pulled: u32,
    slot: Slot,
    /// Bytes of its span (counted in the window's `held`).
    size: u64,
}

#[derive(Default)]
struct Window {
    samples: HashMap<Key, Scheduled>,
    /// Reads done before the read-ahead scheduled them (fetched by the reader itself).
    early: HashMap<Key, u32>,
    /// Bytes of the samples in the window (fetched or in flight).
    held: u64,
    /// Scheduled reads not done yet.
    outstanding: u64,
}

impl Window {
    /// One read of `key` done: drops the sample after its last read.
    fn read_done(&mut self, key: Key) {
        let Some(s) = self.samples.get_mut(&key) else {
            return;
        };
        if s.reads > 0 {
            s.reads -= 1;
            self.outstanding = self.outstanding.saturating_sub(1);
        } else if s.pulled > 0 {
            // a read the read-ahead has not reached: it skips it when it does
            s.pulled -= 1;
            *self.early.entry(key).or_insert(0) += 1;
        }
        if s.reads > 0 || s.pulled > 0 {
            return;
        }
        let size = s.size;
        self.samples.remove(&key);
        self.held = self.held.saturating_sub(size);
    }
}

/// The shards of a dataset in an object store, read by byte range (see the module docs).
pub struct RangedShards {
    store: Arc<dyn ObjectStore>,
    prefix: String,
    handle: Option<tokio::runtime::Handle>,
    window: Mutex<Window>,
    changed: Condvar,
    bytes: AtomicU64,
    requests: AtomicU64,
    direct: AtomicU64,
    peak: AtomicU64,
}

impl std::fmt::Debug for RangedShards {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RangedShards")
            .field("store", &self.store.to_string())
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl RangedShards {
    pub(super) fn new(
        store: Arc<dyn ObjectStore>,
        prefix: &str,
        handle: Option<tokio::runtime::Handle>,
    ) -> RangedShards {
        RangedShards {
            store,
            prefix: prefix.trim_matches('/').to_string(),
            handle,
            window: Mutex::new(Window::default()),
            changed: Condvar::new(),
            bytes: AtomicU64::new(0),
            requests: AtomicU64::new(0),
            direct: AtomicU64::new(0),
            peak: AtomicU64::new(0),
        }
    }

    fn key(&self, shard: &str) -> StorePath {
        self.store_key(&format!("{SHARDS}/{shard}"))
    }

    /// The store path of `name` under the dataset's prefix.
    pub(super) fn store_key(&self, name: &str) -> StorePath {
        if self.prefix.is_empty() {
            StorePath::from(name)
        } else {
            StorePath::from(format!("{}/{name}", self.prefix))
        }
    }

    pub(super) fn store(&self) -> &Arc<dyn ObjectStore> {
        &self.store
    }

    /// Runs `f` inside the store's runtime (when it has one).
    pub(super) fn in_runtime<T>(&self, f: impl FnOnce() -> T) -> T {
        match &self.handle {
            Some(h) => {
                let _guard = h.enter();
                f()
            }
            None => f(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Window> {
        self.window.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Bytes `start .. end` of shard `name`, fetched now.
    fn get(&self, name: &str, start: u64, end: u64) -> Result<SampleBytes> {
        let loc = self.key(name);
        let fut = self.store.get_range(&loc, start..end);
        let got = match &self.handle {
            Some(h) => {
                let _guard = h.enter();
                futures::executor::block_on(fut)
            }
            None => futures::executor::block_on(fut),
        }
        .map_err(|e| store_err(loc.as_ref(), e))?;
        self.count(got.len() as u64);
        if got.len() as u64 != end - start {
            return Err(Error::corrupt(
                PathBuf::from(loc.as_ref()),
                format!("range {start}..{end}: got {} bytes", got.len()),
            ));
        }
        Ok(SampleBytes::new(start, Arc::new(got)))
    }

    fn count(&self, n: u64) {
        self.bytes.fetch_add(n, Ordering::Relaxed);
        self.requests.fetch_add(1, Ordering::Relaxed);
    }

    /// Bytes fetched so far (shard ranges; the manifest and indexes of [`super::open_ranged`]
    /// too).
    pub fn bytes_fetched(&self) -> u64 {
        self.bytes.load(Ordering::Relaxed)
    }

    /// Requests made so far.
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    /// Sample reads the read-ahead had not scheduled (fetched by the reader itself).
    pub fn direct_reads(&self) -> u64 {
        self.direct.load(Ordering::Relaxed)
    }

    /// The most bytes the read-ahead window held at once.
    pub fn peak_window_bytes(&self) -> u64 {
        self.peak.load(Ordering::Relaxed)
    }

    pub(super) fn add_fetched(&self, n: u64) {
        self.count(n);
    }

    /// Drops everything the window holds (the end of a read-ahead).
    fn clear(&self) {
        let mut w = self.lock();
        *w = Window::default();
        self.changed.notify_all();
    }
}

impl RangeSource for RangedShards {
    fn sample(
        &self,
        loc: SampleLoc,
        entry: &ShardEntry,
        sample: &IndexSample,
    ) -> Result<SampleBytes> {
        let key = (loc.shard, loc.sample);
        let mut w = self.lock();
        while let Some(s) = w.samples.get(&key) {
            match &s.slot {
                Slot::Pending => {
                    w = self.changed.wait(w).unwrap_or_else(|p| p.into_inner());
                }
                Slot::Ready(b) => {
                    let b = b.clone();
                    w.read_done(key);
                    self.changed.notify_all();
                    return Ok(b);
                }
                Slot::Failed(e) => {
                    let e = e.clone();
                    w.read_done(key);
                    self.changed.notify_all();
                    return Err(Error::io(
                        PathBuf::from(self.key(&entry.name).as_ref()),
                        std::io::Error::other(e),
                    ));
                }
            }
        }
        // Not scheduled (yet): fetched here, and the read-ahead told to skip it.
        *w.early.entry(key).or_insert(0) += 1;
        drop(w);
        self.direct.fetch_add(1, Ordering::Relaxed);
        self.get(&entry.name, sample.offset, sample.offset + sample.size)
    }

    fn range(&self, entry: &ShardEntry, start: u64, end: u64) -> Result<SampleBytes> {
        self.get(&entry.name, start, end)
    }
}

/// How far a read-ahead runs ahead of the readers.
#[derive(Clone, Copy, Debug)]
pub struct ReadAheadOptions {
    /// Batches whose samples may be fetched and not yet read (the loader's `prefetch` +
    /// `threads` keeps its batch queue full); fetched in groups of half this.
    pub batches: usize,
    /// Most bytes of fetched (or in-flight) ranges held at once; at least one sample is always
    /// fetched, whatever its size.
    pub max_bytes: u64,
}

impl ReadAheadOptions {
    /// Enough batches to keep `loader`'s batch queue full (its `prefetch` plus one per reader
    /// thread, twice over: one group being read while the next arrives), at most `max_bytes`.
    pub fn for_loader(loader: &crate::Loader, max_bytes: u64) -> ReadAheadOptions {
        let o = loader.options();
        ReadAheadOptions {
            batches: 2 * (o.prefetch + o.threads.max(1)),
            max_bytes,
        }
    }
}

/// A running read-ahead ([`super::read_ahead`]): stop it with [`ReadAhead::finish`] (or by
/// dropping it) after the epoch.
pub struct ReadAhead {
    stop: Arc<AtomicBool>,
    source: Arc<RangedShards>,
    thread: Option<std::thread::JoinHandle<Result<()>>>,
}

impl ReadAhead {
    /// Stops the read-ahead, frees what it still holds and says whether a fetch failed (the
    /// readers fail on the same sample anyway).
    pub fn finish(mut self) -> Result<()> {
        self.stop_now()
    }

    fn stop_now(&mut self) -> Result<()> {
        self.stop.store(true, Ordering::Relaxed);
        self.source.changed.notify_all();
        let r = match self.thread.take() {
            Some(t) => t
                .join()
                .unwrap_or_else(|_| Err(Error::config("read-ahead thread panicked"))),
            None => Ok(()),
        };
        self.source.clear();
        r
    }
}

impl Drop for ReadAhead {
    fn drop(&mut self) {
        let _ = self.stop_now();
    }
}

/// One coalesced request: shard, byte range, the samples in it.
struct Request {
    name: String,
    shard: u32,
    start: u64,
    end: u64,
    /// Its samples and their spans.
    keys: Vec<(Key, u64, u64)>,
}

/// Starts fetching `reads` (the samples of one dataset, in the order they are read, and the
/// number of reads per batch) from `source` on a background thread.
pub(super) fn start(
    source: Arc<RangedShards>,
    shards: Arc<Spans>,
    reads: Vec<Key>,
    per_batch: usize,
    opts: ReadAheadOptions,
) -> ReadAhead {
    let stop = Arc::new(AtomicBool::new(false));
    let (s, st) = (source.clone(), stop.clone());
    let thread = std::thread::Builder::new()
        .name("bomdata-read-ahead".into())
        .spawn(move || run(&s, &shards, &reads, per_batch, opts, &st))
        .ok();
    ReadAhead {
        stop,
        source,
        thread,
    }
}

fn run(
    src: &RangedShards,
    shards: &Spans,
    reads: &[Key],
    per_batch: usize,
    opts: ReadAheadOptions,
    stop: &AtomicBool,
) -> Result<()> {
    let window = (opts.batches.max(2) * per_batch.max(1)) as u64;
    let group = (opts.batches.max(2) / 2 * per_batch.max(1)) as u64;
    let mut future: HashMap<Key, u32> = HashMap::new();
    for k in reads {
        *future.entry(*k).or_insert(0) += 1;
    }
    let mut i = 0;
    let mut failed = None;
    while i < reads.len() && !stop.load(Ordering::Relaxed) {
        let requests = {
            let mut w = src.lock();
            while !stop.load(Ordering::Relaxed)
                && w.outstanding > 0
                && (w.outstanding + group > window || w.held >= opts.max_bytes)
            {
                w = src.changed.wait(w).unwrap_or_else(|p| p.into_inner());
            }
            if stop.load(Ordering::Relaxed) {
                break;
            }
            let next = Next {
                reads,
                future: &mut future,
                group,
                max_bytes: opts.max_bytes,
            };
            schedule(&mut w, shards, next, &mut i)
        };
        let peak = src.lock().held;
        src.peak.fetch_max(peak, Ordering::Relaxed);
        if let Err(e) = fetch_all(src, requests) {
            failed = Some(e);
        }
    }
    failed.map_or(Ok(()), Err)
}

/// What [`schedule`] takes from: the rank's reads in order, how many of each are still to be
/// passed, and the bounds.
struct Next<'a> {
    reads: &'a [Key],
    future: &'a mut HashMap<Key, u32>,
    group: u64,
    max_bytes: u64,
}

/// Takes the next reads (up to `group`, and while the window's bytes stay under `max_bytes`)
/// into the window and returns the requests fetching the samples not held yet: the samples of a
/// shard in one request when the samples between them are read later by this rank (those are
/// fetched now, "pulled", and held until read) or are a few bytes only.
fn schedule(w: &mut Window, shards: &Spans, next: Next<'_>, i: &mut usize) -> Vec<Request> {
    let Next {
        reads,
        future,
        group,
        max_bytes,
    } = next;
    let span = |k: Key| {
        shards
            .get(k.0 as usize)
            .and_then(|s| s.1.get(k.1 as usize))
            .copied()
    };
    let mut new: Vec<(Key, u64, u64)> = Vec::new();
    let mut taken = 0u64;
    while *i < reads.len() && taken < group {
        let key = reads[*i];
        let Some((start, end)) = span(key) else {
            *i += 1;
            continue;
        };
        let known = w.samples.contains_key(&key);
        if taken > 0 && !known && w.held + (end - start) > max_bytes {
            break;
        }
        *i += 1;
        if let Some(n) = future.get_mut(&key) {
            *n = n.saturating_sub(1);
        }
        if let Some(n) = w.early.get_mut(&key).filter(|n| **n > 0) {
            *n -= 1;
            continue;
        }
        taken += 1;
        w.outstanding += 1;
        if let Some(s) = w.samples.get_mut(&key) {
            s.pulled = s.pulled.saturating_sub(1);
            s.reads += 1;
            continue;
        }
        w.samples.insert(key, scheduled(1, 0, end - start));
        w.held += end - start;
        new.push((key, start, end));
    }
    new.sort_by_key(|&(k, start, _)| (k.0, start));
    let mut requests: Vec<Request> = Vec::new();
    for (key, start, end) in new {
        if let Some(r) = requests.last_mut()
            && r.shard == key.0
            && start >= r.end
            && end - r.start <= MAX_REQUEST
        {
            // the samples between the request and this one: later reads of this rank not held
            // yet are fetched with them; anything else only when it is a few bytes
            let last = r.keys.last().map_or(key.1, |k| k.0.1);
            let between: Vec<Key> = (last + 1..key.1).map(|s| (key.0, s)).collect();
            let later = between.iter().all(|k| {
                span(*k).is_some_and(|(a, b)| a == b)
                    || (future.get(k).is_some_and(|n| *n > 0) && !w.samples.contains_key(k))
            });
            let gap = start - r.end;
            if later && gap <= PULL_GAP.min(max_bytes / 8) && w.held + gap <= max_bytes {
                for k in &between {
                    let Some((a, b)) = span(*k).filter(|(a, b)| a < b) else {
                        continue;
                    };
                    w.samples.insert(*k, scheduled(0, 1, b - a));
                    w.held += b - a;
                    r.keys.push((*k, a, b));
                }
                r.end = end;
                r.keys.push((key, start, end));
                continue;
            }
            if gap <= COALESCE_GAP {
                r.end = end;
                r.keys.push((key, start, end));
                continue;
            }
        }
        requests.push(Request {
            name: shards[key.0 as usize].0.name.clone(),
            shard: key.0,
            start,
            end,
            keys: vec![(key, start, end)],
        });
    }
    requests
}

/// A sample entering the window, not fetched yet.
fn scheduled(reads: u32, pulled: u32, size: u64) -> Scheduled {
    Scheduled {
        reads,
        pulled,
        slot: Slot::Pending,
        size,
    }
}

/// Makes the samples of request `r` ready with the bytes `got` (each copied out when the request
/// holds several), or failed.
fn arrived(
    src: &RangedShards,
    r: &Request,
    loc: &StorePath,
    got: object_store::Result<impl AsRef<[u8]> + Send + Sync + 'static>,
) -> Result<()> {
    let want = r.end - r.start;
    let (bytes, res) = match got {
        Ok(b) if b.as_ref().len() as u64 == want => {
            src.count(want);
            (Ok(b), Ok(()))
        }
        Ok(b) => {
            let e = format!(
                "range {}..{}: got {} bytes",
                r.start,
                r.end,
                b.as_ref().len()
            );
            (Err(e.clone()), Err(store_err(loc.as_ref(), e)))
        }
        Err(e) => (
            Err(format!("object store: {e}")),
            Err(store_err(loc.as_ref(), e)),
        ),
    };
    let slots: Vec<(Key, Slot)> = match bytes {
        Ok(b) if r.keys.len() == 1 => {
            let sb = SampleBytes::new(r.start, Arc::new(b));
            vec![(r.keys[0].0, Slot::Ready(sb))]
        }
        Ok(b) => r
            .keys
            .iter()
            .map(|&(k, a, e)| {
                let part = b
                    .as_ref()
                    .get((a - r.start) as usize..(e - r.start) as usize)
                    .map(<[u8]>::to_vec)
                    .unwrap_or_default();
                (k, Slot::Ready(SampleBytes::new(a, Arc::new(part))))
            })
            .collect(),
        Err(e) => r
            .keys
            .iter()
            .map(|&(k, _, _)| (k, Slot::Failed(e.clone())))
            .collect(),
    };
    let mut w = src.lock();
    for (k, slot) in slots {
        if let Some(s) = w.samples.get_mut(&k) {
            s.slot = slot;
        }
    }
    drop(w);
    src.changed.notify_all();
    res
}

/// Fetches `requests` (several at once) and makes their samples ready as each arrives.
fn fetch_all(src: &RangedShards, requests: Vec<Request>) -> Result<()> {
    let fut = futures::stream::iter(requests)
        .map(|r| {
            let loc = src.key(&r.name);
            let store = src.store.clone();
            async move {
                let got = store.get_range(&loc, r.start..r.end).await;
                (r, loc, got)
            }
        })
        .buffer_unordered(CONCURRENCY)
        .fold(Ok(()), |acc: Result<()>, (r, loc, got)| async move {
            acc.and(arrived(src, &r, &loc, got))
        });
    src.in_runtime(|| futures::executor::block_on(fut))
}
