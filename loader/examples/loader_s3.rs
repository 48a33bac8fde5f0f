//! Reads one epoch of a dataset, local or in S3, and prints one line per batch (its positions,
//! ids and a hash of every field's bytes), then a summary: the S3 test
//! (`scripts/test-s3.sh`) compares the batch lines of a local and a remote run, and the loader
//! bench uses the summary (throughput, bytes fetched by this rank).
//!
//! `loader_s3 DATASET [key=value...]`: DATASET is a dataset folder or `s3://bucket/prefix`
//! (credentials and endpoint from the AWS variables, as `bomdata`). Keys: `rank`, `world`,
//! `batch_size` (64), `threads` (2), `seed` (0), `shuffle_buffer` (4096; 0: none), `cache` (the
//! local folder for a remote dataset's manifest, indexes and touched shards; default: a new
//! temporary folder), `mode` (`ranged`, the default: each sample's byte range fetched by a
//! read-ahead window, no shard copied, see `remote::open_ranged`; `whole`: each touched shard
//! fetched whole into `cache`, see `remote::open`), `window_mb` (ranged: most bytes the
//! read-ahead holds, default 1024), `prefetch_bytes` (whole: shards fetched ahead of the
//! readers, default 4 GiB), `shapes` (`field:policy,...`, e.g. `volume.npy:list`), `quiet=1`
//! (summary only).
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use bomdata_loader::{
    BufferSize, Dataset, Loader, LoaderOptions, Mixture, OrderOptions, Partition, Planner,
    Remainder, ShapePolicy, Shuffle, Units,
};

type Res<T> = Result<T, Box<dyn std::error::Error>>;

/// FNV-1a 64 over `bytes`, continuing from `h`.
fn fnv(mut h: u64, bytes: &[u8]) -> u64 {
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

fn num<T: std::str::FromStr>(kv: &BTreeMap<String, String>, k: &str, default: T) -> Res<T> {
    match kv.get(k) {
        None => Ok(default),
        Some(v) => v
            .parse()
            .map_err(|_| format!("{k}={v:?}: not a number").into()),
    }
}

/// CPU seconds (user + system) of this process so far.
fn cpu_seconds() -> f64 {
    // SAFETY: getrusage fills the struct we own.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: as above; RUSAGE_SELF is always valid.
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut u) };
    let t = |v: libc::timeval| v.tv_sec as f64 + v.tv_usec as f64 / 1e6;
    t(u.ru_utime) + t(u.ru_stime)
}

struct Opened {
    ds: Dataset,
    remote: Option<Arc<bomdata_loader::remote::RemoteShards>>,
    ranged: Option<Arc<bomdata_loader::remote::RangedShards>>,
    _rt: Option<tokio::runtime::Runtime>,
    _tmp: Option<tempfile::TempDir>,
}

fn open(path: &str, kv: &BTreeMap<String, String>) -> Res<Opened> {
    let Some(rest) = path.strip_prefix("s3://") else {
        return Ok(Opened {
            ds: Dataset::open(path)?,
            remote: None,
            ranged: None,
            _rt: None,
            _tmp: None,
        });
    };
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let store = object_store::aws::AmazonS3Builder::from_env()
        .with_bucket_name(bucket)
        .build()?;
    let (tmp, dir) = match kv.get("cache") {
        Some(d) => (None, std::path::PathBuf::from(d)),
        None => {
            let t = tempfile::tempdir()?;
            let p = t.path().to_path_buf();
            (Some(t), p)
        }
    };
    let handle = Some(rt.handle().clone());
    if kv.get("mode").is_none_or(|m| m == "ranged") {
        let (ds, ranged) =
            bomdata_loader::remote::open_ranged(Arc::new(store), prefix, &dir, handle)?;
        return Ok(Opened {
            ds,
            remote: None,
            ranged: Some(ranged),
            _rt: Some(rt),
            _tmp: tmp,
        });
    }
    let (ds, remote) = bomdata_loader::remote::open(Arc::new(store), prefix, &dir, handle)?;
    Ok(Opened {
        ds,
        remote: Some(remote),
        ranged: None,
        _rt: Some(rt),
        _tmp: tmp,
    })
}

fn main() -> Res<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(path) = args.first() else {
        return Err("usage: loader_s3 DATASET [key=value...]".into());
    };
    let kv: BTreeMap<String, String> = args[1..]
        .iter()
        .filter_map(|a| a.split_once('=').map(|(k, v)| (k.into(), v.into())))
        .collect();
    let t0 = Instant::now();
    let c0 = cpu_seconds();
    let opened = open(path, &kv)?;
    let buffer: usize = num(&kv, "shuffle_buffer", 4096)?;
    let order = OrderOptions {
        seed: num(&kv, "seed", 0)?,
        shuffle: if buffer == 0 {
            Shuffle::None
        } else {
            Shuffle::Buffer(BufferSize::Samples(buffer))
        },
        shuffle_shards: buffer != 0,
    };
    let dataset_bytes: u64 = opened
        .ds
        .manifest()
        .map_or(0, |m| m.shards.iter().map(|s| s.size).sum());
    let planner = Planner::new(Mixture::single(opened.ds), order, Units::Samples)?;
    let part = Partition::new(
        num(&kv, "rank", 0)?,
        num(&kv, "world", 1)?,
        Remainder::Uneven,
    )?;
    let mut shapes = BTreeMap::new();
    for item in kv
        .get("shapes")
        .map_or("", String::as_str)
        .split(',')
        .filter(|s| !s.is_empty())
    {
        let (field, policy) = item
            .split_once(':')
            .ok_or_else(|| format!("shapes: {item:?} is not field:policy"))?;
        let p: ShapePolicy = serde_json::from_value(serde_json::Value::String(policy.into()))?;
        shapes.insert(field.to_string(), p);
    }
    let opts = LoaderOptions {
        batch_size: num(&kv, "batch_size", 64)?,
        shapes,
        threads: num(&kv, "threads", 2)?,
        ..LoaderOptions::default()
    };
    let mut loader = Loader::new(Arc::new(planner), part, opts)?;
    let prefetch = opened.remote.as_ref().map(|_| {
        bomdata_loader::remote::prefetch(
            &loader,
            num(&kv, "prefetch_bytes", 4u64 << 30).unwrap_or(4 << 30),
        )
    });
    let window: u64 = num(&kv, "window_mb", 1024u64)? << 20;
    let read_ahead = opened.ranged.as_ref().map(|r| {
        let o = bomdata_loader::remote::ReadAheadOptions::for_loader(&loader, window);
        bomdata_loader::remote::read_ahead(&loader, r, o)
    });
    let quiet = kv.get("quiet").is_some_and(|v| v == "1");
    let (mut batches, mut rows, mut bytes) = (0u64, 0u64, 0u64);
    // the bytes of the samples this rank reads (their spans in the shards): its share
    let mut share = 0u64;
    let mut epoch = loader.epoch();
    while let Some(b) = epoch.next() {
        let b = b?;
        let datasets = epoch.planner().mixture().datasets();
        for id in b.ids().iter().filter(|i| !i.is_missing()) {
            let ds = &datasets[id.dataset()];
            share += ds.index_sample(ds.selection()[id.index()]).size;
        }
        let mut h = 0xcbf2_9ce4_8422_2325u64;
        for f in b.fields() {
            h = fnv(h, f.name().as_bytes());
            h = fnv(h, f.data());
            bytes += f.data().len() as u64;
        }
        if !quiet {
            let ids: Vec<u64> = b.ids().iter().map(|i| i.0).collect();
            println!(
                "batch {batches} rows {} ids {ids:?} hash {h:016x}",
                b.rows()
            );
        }
        batches += 1;
        rows += b.rows() as u64;
    }
    if let Some(p) = prefetch {
        p.join().map_err(|_| "prefetch thread panicked")??;
    }
    if let Some(r) = read_ahead {
        r.finish()?;
    }
    let wall = t0.elapsed().as_secs_f64();
    let cpu = cpu_seconds() - c0;
    let (fetched, objects) = match (&opened.remote, &opened.ranged) {
        (Some(r), _) => (r.bytes_fetched(), r.objects_fetched()),
        (_, Some(r)) => (r.bytes_fetched(), r.requests()),
        _ => (0, 0),
    };
    let (direct, peak) = opened
        .ranged
        .as_ref()
        .map_or((0, 0), |r| (r.direct_reads(), r.peak_window_bytes()));
    println!(
        "summary batches {batches} rows {rows} field_bytes {bytes} wall_s {wall:.3} cpu_s {cpu:.3} \
         mb_per_s {:.1} fetched_bytes {fetched} fetched_objects {objects} dataset_shard_bytes {dataset_bytes} \
         direct_reads {direct} peak_window_bytes {peak} share_bytes {share}",
        bytes as f64 / 1e6 / wall.max(1e-9)
    );
    Ok(())
}
