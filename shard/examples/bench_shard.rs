//! Shard writer throughput against a plain sequential write of the same bytes.
//!
//! `cargo run --release -p bomdata-shard --example bench_shard -- DIR [TOTAL_MB] [SAMPLE_MB]`
//!
//! Writes TOTAL_MB (default 1024) of SAMPLE_MB (default 4) `.npy` samples three ways, in the same
//! process, alternating order over three rounds, and prints the best MB/s of each:
//! - `cat`: the same sample bytes written with `File::write_all` to one file, then fsync;
//! - `shard`: `ShardWriter` (tar headers, index, XXH3 checksums, fsync, rename);
//! - `shard_nosync`: the same without fsync (page-cache speed).
//!
//! `bench_shard --side cat|shard|shard_nosync|shard_clone DIR [TOTAL_MB] [SAMPLE_MB]` runs one side only, as
//! its own process (`bench/shard/run.py` times these with `bench/common/timing.py`: whole
//! processes, alternating, wall and CPU). Both sides build the same payload once; the shard side
//! builds one sample around it and changes only its key (the writer takes samples by
//! reference), so neither side copies the payload (`shard_clone`: a fresh copy per sample, as
//! the in-process rounds do); it prints one JSON line with the write phase's seconds.

#![allow(clippy::print_stdout)] // a bench binary reports on stdout

use std::io::Write;
use std::time::Instant;

use bomdata_shard::writer::{ShardWriter, WriterOptions};
use bomdata_shard::{Sample, npy};

/// One side, alone in this process: writes `n_samples` samples of `payload` into `dir`.
fn side(
    which: &str,
    dir: &std::path::Path,
    n_samples: usize,
    payload: Vec<u8>,
) -> Result<(), Box<dyn std::error::Error>> {
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir)?;
    let bytes = (payload.len() * n_samples) as f64;
    let t = Instant::now();
    match which {
        "cat" => {
            let mut f = std::fs::File::create(dir.join("cat.bin"))?;
            for _ in 0..n_samples {
                f.write_all(&payload)?;
            }
            f.sync_all()?;
        }
        "shard" | "shard_nosync" | "shard_clone" => {
            let opts = WriterOptions {
                max_bytes: 1 << 30,
                max_samples: 1_000_000,
                durable: which != "shard_nosync",
                ..WriterOptions::default()
            };
            let mut w = ShardWriter::create(dir, "bench", opts)?;
            if which == "shard_clone" {
                // As the in-process bench did: a fresh copy of the payload per sample.
                for i in 0..n_samples {
                    let s = Sample::new(format!("s{i:08}")).with("x.npy", payload.clone());
                    w.write(&s)?;
                }
            } else {
                let mut s = Sample::new("s00000000").with("x.npy", payload);
                for i in 0..n_samples {
                    s.key = format!("s{i:08}");
                    w.write(&s)?;
                }
            }
            w.finish()?;
        }
        other => {
            return Err(
                format!("unknown side {other} (cat, shard, shard_nosync, shard_clone)").into(),
            );
        }
    }
    let secs = t.elapsed().as_secs_f64();
    println!(
        "{{\"side\": \"{which}\", \"bytes\": {bytes:.0}, \"write_s\": {secs:.4}, \"mb_s\": {:.1}}}",
        bytes / secs / 1e6
    );
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args: Vec<String> = std::env::args().collect();
    let mut one_side = None;
    if args.get(1).map(String::as_str) == Some("--side") {
        one_side = Some(
            args.get(2)
                .cloned()
                .ok_or("--side needs cat, shard or shard_nosync")?,
        );
        args.drain(1..3);
    }
    let dir = std::path::PathBuf::from(args.get(1).ok_or("usage: DIR [TOTAL_MB] [SAMPLE_MB]")?);
    let total_mb: usize = args.get(2).map_or(Ok(1024), |s| s.parse())?;
    let sample_mb: usize = args.get(3).map_or(Ok(4), |s| s.parse())?;
    let n_samples = total_mb / sample_mb;
    let floats = sample_mb * (1 << 20) / 4;
    let values: Vec<f32> = (0..floats).map(|i| (i % 1000) as f32 * 0.25).collect();
    let payload = npy::encode_f32(&[floats], &values);
    if let Some(which) = one_side {
        return side(&which, &dir, n_samples, payload);
    }
    let bytes = (payload.len() * n_samples) as f64;
    std::fs::create_dir_all(&dir)?;
    let mut best = [f64::MAX; 3];
    for round in 0..3 {
        for which in 0..3 {
            let which = (which + round) % 3;
            let d = dir.join(format!("r{round}-{which}"));
            let _ = std::fs::remove_dir_all(&d);
            std::fs::create_dir_all(&d)?;
            let t = Instant::now();
            if which == 0 {
                let mut f = std::fs::File::create(d.join("cat.bin"))?;
                for _ in 0..n_samples {
                    f.write_all(&payload)?;
                }
                f.sync_all()?;
            } else {
                let opts = WriterOptions {
                    max_bytes: 1 << 30,
                    max_samples: 1_000_000,
                    durable: which == 1,
                    ..WriterOptions::default()
                };
                let mut w = ShardWriter::create(&d, "bench", opts)?;
                for i in 0..n_samples {
                    let s = Sample::new(format!("s{i:08}")).with("x.npy", payload.clone());
                    w.write(&s)?;
                }
                w.finish()?;
            }
            let secs = t.elapsed().as_secs_f64();
            best[which] = best[which].min(secs);
            std::fs::remove_dir_all(&d)?;
        }
    }
    let mbs = |s: f64| bytes / s / 1e6;
    println!(
        "{{\"total_mb\": {:.0}, \"sample_mb\": {sample_mb}, \"cat_mb_s\": {:.1}, \"shard_mb_s\": {:.1}, \"shard_nosync_mb_s\": {:.1}, \"ratio_shard_vs_cat\": {:.3}}}",
        bytes / 1e6,
        mbs(best[0]),
        mbs(best[1]),
        mbs(best[2]),
        best[0] / best[1]
    );
    Ok(())
}
