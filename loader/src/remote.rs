//! Datasets in object stores (feature `object-store`), three ways:
//!
//! - [`open_ranged`] (the one to prefer): the manifest and the shard indexes are fetched into a
//!   local folder, and no shard file ever is: the reader threads take each sample's bytes (the
//!   span its index record gives) from a [`read_ahead`] window that fetches, in the order the
//!   rank reads them, the samples of the next few batches (adjacent samples of a shard in one
//!   ranged GET, several GETs at once), bounded in batches and in bytes; a sample's bytes are
//!   dropped after its last read. A rank fetches its samples, about its share of the dataset,
//!   whatever the shard size or shuffle buffer. See [`RangedShards`].
//! - [`open`]: the manifest and the shard indexes are fetched into a local folder, and each
//!   shard is fetched whole the first time a reader touches it, so a rank fetches only the
//!   shards its share of the epoch reads (with the default block split, its own shards and at
//!   most two shared with a neighbour), never the dataset. [`prefetch`] fetches them on a
//!   background thread in the order the rank's plan touches them, ahead of the reader threads;
//!   order and exactly-once are the loader's own (the files are read with the normal mmap/pread
//!   path once local). [`RemoteShards`] counts the bytes fetched.
//! - [`open_cached`]: the manifest, the indexes and the shards a job selects are copied into a
//!   bounded local cache first and read from there.
//!
//! The cache is a directory holding one sub-directory per remote dataset. A shard already in
//! the cache with the manifest's size is not fetched again. Before fetching, the least recently
//! used *other* datasets are deleted until everything fits in `max_bytes`; a dataset larger
//! than the whole budget is an error. Do not share one cache directory between concurrently
//! running jobs that open different datasets (eviction would remove files in use).
//!
//! Calls are blocking (`futures::executor::block_on`). Stores built on `reqwest` (S3, GCS,
//! Azure, HTTP) need a tokio runtime context on the calling thread
//! (`let _guard = runtime.enter();`).

use std::io::Write;
use std::path::{Path, PathBuf};

use bomdata_schemas::manifest::{Manifest, ShardEntry};
use bomdata_shard::DatasetDir;
use bomdata_shard::dataset::{self, MANIFEST, SHARDS};
use futures::StreamExt;
use object_store::path::Path as StorePath;
use object_store::{ObjectStore, ObjectStoreExt};

use crate::{Dataset, Error, Result};

mod ranged;
pub use ranged::{RangedShards, ReadAhead, ReadAheadOptions};

/// The local cache.
#[derive(Clone, Debug)]
pub struct Cache {
    /// Cache directory.
    pub dir: PathBuf,
    /// Upper bound on the bytes of cached files.
    pub max_bytes: u64,
}

pub(crate) fn store_err(what: &str, e: impl std::fmt::Display) -> Error {
    Error::io(
        PathBuf::from(what),
        std::io::Error::other(format!("object store: {e}")),
    )
}

fn fetch(store: &dyn ObjectStore, loc: &StorePath, dst: &Path) -> Result<u64> {
    futures::executor::block_on(async {
        let got = store
            .get(loc)
            .await
            .map_err(|e| store_err(loc.as_ref(), e))?;
        let tmp = dst.with_extension("part");
        let mut f = std::fs::File::create(&tmp).map_err(|e| Error::io(&tmp, e))?;
        let mut stream = got.into_stream();
        let mut n = 0u64;
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| store_err(loc.as_ref(), e))?;
            f.write_all(&chunk).map_err(|e| Error::io(&tmp, e))?;
            n += chunk.len() as u64;
        }
        f.sync_all().map_err(|e| Error::io(&tmp, e))?;
        std::fs::rename(&tmp, dst).map_err(|e| Error::io(dst, e))?;
        Ok(n)
    })
}

fn dir_bytes(dir: &Path) -> u64 {
    let mut total = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            match e.metadata() {
                Ok(m) if m.is_dir() => stack.push(e.path()),
                Ok(m) => total += m.len(),
                Err(_) => {}
            }
        }
    }
    total
}

fn cache_name(prefix: &str) -> String {
    let s: String = prefix
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if s.is_empty() { "_root".into() } else { s }
}

/// Copies the dataset under `prefix` in `store` (its manifest, and the shards for which
/// `want` is true, with their indexes) into `cache`, then opens the local copy. The local
/// manifest lists only the wanted shards.
pub fn open_cached(
    store: &dyn ObjectStore,
    prefix: &str,
    cache: &Cache,
    mut want: impl FnMut(&ShardEntry) -> bool,
) -> Result<Dataset> {
    let prefix = prefix.trim_matches('/');
    let key = |name: &str| -> StorePath {
        if prefix.is_empty() {
            StorePath::from(name)
        } else {
            StorePath::from(format!("{prefix}/{name}"))
        }
    };
    std::fs::create_dir_all(&cache.dir).map_err(|e| Error::io(&cache.dir, e))?;
    let local = cache.dir.join(cache_name(prefix));
    let dir = DatasetDir::new(&local);
    let shards_dir = dir.shards_dir();
    std::fs::create_dir_all(&shards_dir).map_err(|e| Error::io(&shards_dir, e))?;
    // The remote manifest is fetched beside the local one and only becomes the local manifest,
    // narrowed to the wanted shards, once they are all in place.
    let remote_manifest = local.join("manifest.remote.json");
    fetch(store, &key(MANIFEST), &remote_manifest)?;
    let mut manifest: Manifest = dataset::read_json(&remote_manifest)?;
    manifest.shards.retain(|s| want(s));
    let need: u64 = manifest.shards.iter().map(|s| s.size).sum();
    if need > cache.max_bytes {
        return Err(Error::config(format!(
            "dataset {prefix:?} needs {need} bytes of shards, the cache allows {}",
            cache.max_bytes
        )));
    }
    // Evict least recently used other datasets until the new one fits.
    let mut others: Vec<(std::time::SystemTime, PathBuf, u64)> = std::fs::read_dir(&cache.dir)
        .map_err(|e| Error::io(&cache.dir, e))?
        .flatten()
        .filter(|e| e.path() != local && e.path().is_dir())
        .map(|e| {
            let t = e
                .metadata()
                .and_then(|m| m.modified())
                .unwrap_or(std::time::UNIX_EPOCH);
            let p = e.path();
            let b = dir_bytes(&p);
            (t, p, b)
        })
        .collect();
    others.sort();
    let mut used: u64 = others.iter().map(|o| o.2).sum::<u64>() + need;
    for (_, p, b) in &others {
        if used <= cache.max_bytes {
            break;
        }
        std::fs::remove_dir_all(p).map_err(|e| Error::io(p, e))?;
        used -= b;
    }
    for s in &manifest.shards {
        let tar = dir.shard_path(s);
        let have = std::fs::metadata(&tar).map(|m| m.len()).ok();
        if have != Some(s.size) {
            let n = fetch(store, &key(&format!("{SHARDS}/{}", s.name)), &tar)?;
            if n != s.size {
                return Err(Error::corrupt(
                    &tar,
                    format!("fetched {n} bytes, manifest says {}", s.size),
                ));
            }
        }
        let idx = dir.index_path(s);
        if !idx.exists() {
            fetch(store, &key(&format!("{SHARDS}/{}", s.index)), &idx)?;
        }
    }
    dir.write_manifest(&manifest)?;
    // touch: most recently used
    let _ = std::fs::File::open(&local).and_then(|f| f.set_modified(std::time::SystemTime::now()));
    Dataset::open(&local)
}

/// Shards of a dataset in an object store, fetched whole into a local folder on first access
/// (see [`open`]). Counts what it fetched.
pub struct RemoteShards {
    store: std::sync::Arc<dyn ObjectStore>,
    prefix: String,
    handle: Option<tokio::runtime::Handle>,
    /// One fetch at a time per dataset: a reader thread asking for a shard the prefetcher is
    /// fetching waits for it instead of fetching it again.
    lock: std::sync::Mutex<()>,
    bytes: std::sync::atomic::AtomicU64,
    objects: std::sync::atomic::AtomicU64,
}

impl std::fmt::Debug for RemoteShards {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteShards")
            .field("store", &self.store.to_string())
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl RemoteShards {
    fn key(&self, name: &str) -> StorePath {
        if self.prefix.is_empty() {
            StorePath::from(name)
        } else {
            StorePath::from(format!("{}/{name}", self.prefix))
        }
    }

    fn get(&self, name: &str, dst: &Path) -> Result<u64> {
        let loc = self.key(name);
        let n = match &self.handle {
            Some(h) => {
                let _guard = h.enter();
                fetch(self.store.as_ref(), &loc, dst)?
            }
            None => fetch(self.store.as_ref(), &loc, dst)?,
        };
        self.bytes
            .fetch_add(n, std::sync::atomic::Ordering::Relaxed);
        self.objects
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Ok(n)
    }

    /// Bytes fetched so far (manifest, indexes and shards).
    pub fn bytes_fetched(&self) -> u64 {
        self.bytes.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Objects fetched so far.
    pub fn objects_fetched(&self) -> u64 {
        self.objects.load(std::sync::atomic::Ordering::Relaxed)
    }
}

impl crate::dataset::ShardSource for RemoteShards {
    fn fetch(&self, entry: &ShardEntry, dst: &Path) -> Result<()> {
        let _one = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        if std::fs::metadata(dst).is_ok_and(|m| m.len() == entry.size) {
            return Ok(());
        }
        let n = self.get(&format!("{SHARDS}/{}", entry.name), dst)?;
        if n != entry.size {
            let _ = std::fs::remove_file(dst);
            return Err(Error::corrupt(
                dst,
                format!("fetched {n} bytes, manifest says {}", entry.size),
            ));
        }
        Ok(())
    }
}

/// Opens the dataset under `prefix` in `store` without copying it: the manifest and the shard
/// indexes (small) are fetched into `dir`, and each shard is fetched whole into `dir` the first
/// time a reader touches it, so a rank fetches only the shards its share of the epoch reads
/// (use [`prefetch`] to fetch them ahead of the readers). Shards already in `dir` with the
/// manifest's size are not fetched again. `handle`: the tokio runtime of stores built on
/// reqwest (S3, GCS, Azure, HTTP); `None` for others (e.g. in-memory).
pub fn open(
    store: std::sync::Arc<dyn ObjectStore>,
    prefix: &str,
    dir: &Path,
    handle: Option<tokio::runtime::Handle>,
) -> Result<(Dataset, std::sync::Arc<RemoteShards>)> {
    let remote = std::sync::Arc::new(RemoteShards {
        store,
        prefix: prefix.trim_matches('/').to_string(),
        handle,
        lock: std::sync::Mutex::new(()),
        bytes: std::sync::atomic::AtomicU64::new(0),
        objects: std::sync::atomic::AtomicU64::new(0),
    });
    let local = DatasetDir::new(dir);
    let shards_dir = local.shards_dir();
    std::fs::create_dir_all(&shards_dir).map_err(|e| Error::io(&shards_dir, e))?;
    let remote_manifest = dir.join("manifest.remote.json");
    remote.get(MANIFEST, &remote_manifest)?;
    let manifest: Manifest = dataset::read_json(&remote_manifest)?;
    for s in &manifest.shards {
        let idx = local.index_path(s);
        if !idx.is_file() {
            remote.get(&format!("{SHARDS}/{}", s.index), &idx)?;
        }
    }
    local.write_manifest(&manifest)?;
    let mut ds = Dataset::open(dir)?;
    ds.set_shard_source(remote.clone());
    Ok((ds, remote))
}

/// Fetches (and maps) the shards `loader`'s rank reads in the rest of its current epoch, in
/// the order it first touches them, on a background thread, up to `max_bytes` of shards (the
/// rest are fetched by the reader threads when they reach them). Join the handle to learn
/// whether a fetch failed (the readers fail on the same shard anyway).
pub fn prefetch(loader: &crate::Loader, max_bytes: u64) -> std::thread::JoinHandle<Result<u64>> {
    let datasets: Vec<_> = loader.planner().mixture().datasets().to_vec();
    let touched = loader.shards_touched();
    std::thread::spawn(move || {
        let mut total = 0u64;
        for (d, s) in touched {
            let Some(ds) = datasets.get(d) else {
                continue;
            };
            let size = ds.shard_entry(s).map_or(0, |e| e.size);
            if total.saturating_add(size) > max_bytes {
                break;
            }
            ds.shard_file(s)?;
            total += size;
        }
        Ok(total)
    })
}

impl crate::dataset::ShardSource for RangedShards {
    /// A whole shard, for the callers of `Dataset::shard_file` (e.g. bucket planning, which
    /// reads `.npy` headers); the reader threads never ask for one.
    fn fetch(&self, entry: &ShardEntry, dst: &Path) -> Result<()> {
        RangedShards::fetch_whole(self, entry, dst)
    }
}

impl RangedShards {
    fn fetch_whole(&self, entry: &ShardEntry, dst: &Path) -> Result<()> {
        let loc = self.store_key(&format!("{SHARDS}/{}", entry.name));
        let n = self.in_runtime(|| fetch(self.store().as_ref(), &loc, dst))?;
        self.add_fetched(n);
        if n != entry.size {
            let _ = std::fs::remove_file(dst);
            return Err(Error::corrupt(
                dst,
                format!("fetched {n} bytes, manifest says {}", entry.size),
            ));
        }
        Ok(())
    }
}

/// Opens the dataset under `prefix` in `store` to be read by byte range: the manifest and the
/// shard indexes (small) are fetched into `dir`, and no shard file is: the reader threads take
/// each sample's bytes (the span the index gives, from its first member's header to its last
/// member's end) from a [`read_ahead`] window, or fetch them themselves when none runs. Start
/// one read-ahead per epoch. Member reads outside an epoch (`SampleInfo::member`, metadata
/// filters) fetch that member's range; only `Dataset::shard_file` (bucket planning of
/// compressed-size-varying fields) fetches a whole shard. `handle`: as for [`open`].
pub fn open_ranged(
    store: std::sync::Arc<dyn ObjectStore>,
    prefix: &str,
    dir: &Path,
    handle: Option<tokio::runtime::Handle>,
) -> Result<(Dataset, std::sync::Arc<RangedShards>)> {
    let remote = std::sync::Arc::new(RangedShards::new(store, prefix, handle));
    let local = DatasetDir::new(dir);
    let shards_dir = local.shards_dir();
    std::fs::create_dir_all(&shards_dir).map_err(|e| Error::io(&shards_dir, e))?;
    let remote_manifest = dir.join("manifest.remote.json");
    let get = |name: &str, dst: &Path| -> Result<()> {
        let loc = remote.store_key(name);
        let n = remote.in_runtime(|| fetch(remote.store().as_ref(), &loc, dst))?;
        remote.add_fetched(n);
        Ok(())
    };
    get(MANIFEST, &remote_manifest)?;
    let manifest: Manifest = dataset::read_json(&remote_manifest)?;
    for s in &manifest.shards {
        let idx = local.index_path(s);
        if !idx.is_file() {
            get(&format!("{SHARDS}/{}", s.index), &idx)?;
        }
    }
    local.write_manifest(&manifest)?;
    let mut ds = Dataset::open(dir)?;
    ds.set_shard_source(remote.clone());
    ds.set_range_source(remote.clone());
    Ok((ds, remote))
}

/// Starts fetching, on a background thread, the byte ranges of the samples `loader`'s rank
/// reads from `source`'s dataset in the rest of its current epoch, in the order its reader
/// threads read them: the samples of the next `opts.batches` batches at most (fetched in
/// groups of half that, adjacent samples of a shard in one request, several requests at
/// once), and at most `opts.max_bytes` held. A sample leaves the window after its last read.
/// The order and exactly-once guarantees are the loader's own: the window only decides when
/// bytes arrive. [`ReadAheadOptions::for_loader`] sizes it to keep the batch queue full.
pub fn read_ahead(
    loader: &crate::Loader,
    source: &std::sync::Arc<RangedShards>,
    opts: ReadAheadOptions,
) -> ReadAhead {
    let datasets = loader.planner().mixture().datasets();
    let same = |d: &Dataset| {
        d.range_source().is_some_and(|r| {
            std::ptr::addr_eq(std::sync::Arc::as_ptr(r), std::sync::Arc::as_ptr(source))
        })
    };
    let mine = datasets.iter().position(|d| same(d));
    let mut shards = Vec::new();
    let mut reads = Vec::new();
    let mut per_batch = 1;
    if let Some(d) = mine {
        let ds = &datasets[d];
        for si in 0..ds.num_shards() {
            let Some(entry) = ds.shard_entry(si) else {
                continue;
            };
            let spans = ds
                .shard_samples(si)
                .iter()
                .map(|s| {
                    if s.members.is_empty() {
                        (0, 0)
                    } else {
                        (s.offset, s.offset.saturating_add(s.size))
                    }
                })
                .collect();
            shards.push((entry.clone(), spans));
        }
        for batch in loader.samples_ahead() {
            let before = reads.len();
            for (dd, loc) in batch {
                let empty = ds.index_sample(loc).members.is_empty();
                if dd == d && !empty {
                    reads.push((loc.shard, loc.sample));
                }
            }
            per_batch = per_batch.max(reads.len() - before);
        }
    }
    ranged::start(
        source.clone(),
        std::sync::Arc::new(shards),
        reads,
        per_batch,
        opts,
    )
}
