//! Reads a bomdata dataset with the loader and prints one JSON line of throughput figures, the
//! way `bench/loader` harness `read_bench.py` reports the anchor loaders: decoded payload MB/s,
//! samples/s, CPU seconds per GB (user+sys of the process), time to the first batch, plus
//! loader stats (stall time). Sequential order (as the harness), batches collated into one
//! reusable contiguous buffer per field (the staging buffer: no further copy).
//!
//! `bench_loader_read DATASET_DIR THREADS BATCH [mmap|pread] [RAW_DATA_BIN]`: with RAW_DATA_BIN, the
//! first and last samples are compared with the raw layout.
//! `bench_loader_read --zstd-baseline DATASET_DIR [PASSES]`: single-threaded zstd decompression of every
//! member (no loader), the speed the loader's zstd path is measured against; one pass by default,
//! so that a whole process of it is timed like a whole loader process (`bench/loader/run.sh`).
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::sync::Arc;
use std::time::Instant;

use bomdata_loader::{
    Dataset, Loader, LoaderOptions, Mixture, OrderOptions, Partition, Planner, ReadMode, Shuffle,
    Units,
};
use bomdata_testdata::bench::process_cpu_seconds as cpu_seconds;

fn zstd_baseline(dir: &str, passes: u32) -> Result<(), Box<dyn std::error::Error>> {
    let passes = passes.max(1);
    let ds = Dataset::open(dir)?;
    // gather compressed members first (page cache warm, no I/O in the timed part)
    let mut members: Vec<&[u8]> = Vec::new();
    let mut keep = Vec::new();
    for s in 0..ds.num_shards() {
        keep.push(ds.shard_file(s)?.clone());
    }
    for info in ds.infos() {
        let f = &keep[info.loc.shard as usize];
        for m in &info.sample.members {
            if m.name.ends_with(".zst") {
                members.push(&f.bytes()[m.offset as usize..(m.offset + m.size) as usize]);
            }
        }
    }
    let mut best = f64::MAX;
    let mut total = 0u64;
    let mut out = Vec::new();
    let mut dec = zstd::bulk::Decompressor::new()?;
    let c0 = cpu_seconds();
    for _ in 0..passes {
        let t0 = Instant::now();
        total = 0;
        for m in &members {
            let cap = zstd::zstd_safe::get_frame_content_size(m)
                .ok()
                .flatten()
                .unwrap_or(1 << 26);
            out.clear();
            out.reserve(cap as usize);
            dec.decompress_to_buffer(m, &mut out)?;
            total += out.len() as u64;
        }
        best = best.min(t0.elapsed().as_secs_f64());
    }
    let cpu_per_gb = (cpu_seconds() - c0) / f64::from(passes) / (total as f64 / 1e9);
    println!(
        "{{\"baseline\": \"zstd bulk decompress, 1 thread, all members\", \"bytes\": {total}, \"best_MB_per_s\": {:.1}, \"cpu_s_per_GB\": {:.2}}}",
        total as f64 / best / 1e6,
        cpu_per_gb
    );
    Ok(())
}

/// Whether `want` equals the bytes of `f` at `off` (read in 64 KiB chunks into one buffer).
fn same_as_raw(f: &std::fs::File, off: u64, want: &[u8]) -> std::io::Result<bool> {
    use std::os::unix::fs::FileExt;
    let mut buf = [0u8; 64 << 10];
    for (i, chunk) in want.chunks(buf.len()).enumerate() {
        let got = &mut buf[..chunk.len()];
        if f.read_exact_at(got, off + (i * (64 << 10)) as u64).is_err() || got != chunk {
            return Ok(false);
        }
    }
    Ok(true)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--zstd-baseline") {
        let passes = args.get(3).map_or(Ok(1), |p| p.parse())?;
        return zstd_baseline(args.get(2).ok_or("dataset dir")?, passes);
    }
    if args.len() < 4 {
        eprintln!("usage: bench_loader_read DATASET_DIR THREADS BATCH [mmap|pread] [RAW_DATA_BIN]");
        std::process::exit(2);
    }
    let threads: usize = args[2].parse()?;
    let batch: usize = args[3].parse()?;
    let read = match args.get(4).map(String::as_str) {
        Some("pread") => ReadMode::Pread,
        _ => ReadMode::Mmap,
    };
    let c0 = cpu_seconds();
    let t0 = Instant::now();
    let ds = Dataset::open(&args[1])?;
    let n = ds.len();
    let order = OrderOptions {
        seed: 0,
        shuffle: Shuffle::None,
        shuffle_shards: false,
    };
    let planner = Planner::new(Mixture::single(ds), order, Units::Samples)?;
    let opts = LoaderOptions {
        batch_size: batch,
        threads,
        prefetch: 2 * threads.max(1),
        read,
        ..LoaderOptions::default()
    };
    let mut loader = Loader::new(Arc::new(planner), Partition::single(), opts)?;
    // the epoch alone, without opening the dataset (manifest and index parsing): what the
    // loader adds to decompression, compared with the bare zstd baseline
    let (c1, t1) = (cpu_seconds(), Instant::now());
    let mut first_s = None;
    let mut payload = 0u64;
    let mut count = 0u64;
    // the order check compares the first and last samples with the raw layout in place, in
    // 64 KiB chunks (no copies of whole samples, as py_read.py): the process's CPU stays the
    // loader's
    let raw = match args.get(5) {
        Some(p) => Some(std::fs::File::open(p)?),
        None => None,
    };
    let mut first_ok = None;
    // the last batch is kept (not copied) for the order check: no extra copy per batch
    let mut last_batch = None;
    {
        let it = loader.epoch();
        for b in it {
            let b = b?;
            let x = b.field("x.npy").ok_or("no x.npy field")?;
            // touch the metadata as the harness does
            let meta = b.field("meta.json").ok_or("no meta.json field")?;
            if meta.row(0).is_empty() {
                return Err("empty meta".into());
            }
            if first_s.is_none() {
                first_s = Some(t0.elapsed().as_secs_f64());
                if let Some(f) = &raw {
                    first_ok = Some(same_as_raw(f, 0, x.row(0))?);
                }
            }
            payload += x.data().len() as u64;
            count += b.rows() as u64;
            if raw.is_some() {
                last_batch = Some(b);
            }
        }
    }
    let el = t0.elapsed().as_secs_f64();
    let cpu = cpu_seconds() - c0;
    let (epoch_el, epoch_cpu) = (t1.elapsed().as_secs_f64(), cpu_seconds() - c1);
    let stats = loader.last_stats().cloned().unwrap_or_default();
    let mut order_ok = serde_json::Value::Null;
    if let (Some(f), Some(b), Some(first_ok)) = (&raw, &last_batch, first_ok) {
        let x = b.field("x.npy").ok_or("no x.npy field")?;
        let last = x.row(b.rows() - 1);
        let rec = last.len() as u64;
        let whole = f.metadata()?.len() == rec * n as u64;
        let last_ok = same_as_raw(f, (n.max(1) - 1) as u64 * rec, last)?;
        order_ok = (whole && first_ok && last_ok).into();
    }
    drop(last_batch);
    let res = serde_json::json!({
        "system": "bomdata",
        "dataset": args[1],
        "threads": threads,
        "batch": batch,
        "read": format!("{read:?}"),
        "n": count,
        "payload_bytes": payload,
        "expected_n": n,
        "seconds": (el * 1000.0).round() / 1000.0,
        "MB_per_s": (payload as f64 / el / 1e6 * 10.0).round() / 10.0,
        "samples_per_s": (count as f64 / el).round(),
        "cpu_s_per_GB": (cpu / (payload as f64 / 1e9) * 100.0).round() / 100.0,
        "epoch_MB_per_s": (payload as f64 / epoch_el / 1e6 * 10.0).round() / 10.0,
        "epoch_cpu_s_per_GB": (epoch_cpu / (payload as f64 / 1e9) * 100.0).round() / 100.0,
        "first_batch_s": first_s.map(|s| (s * 1000.0).round() / 1000.0),
        "stall_s": stats.stall.as_secs_f64(),
        "reader_thread_s": stats.read_time.as_secs_f64(),
        "bytes_read": stats.bytes_read,
        "order_ok": order_ok,
    });
    println!("{res}");
    Ok(())
}
