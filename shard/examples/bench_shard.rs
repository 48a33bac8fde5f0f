//! Shard writer throughput against a plain sequential write of the same bytes.
//!
//! `cargo run --release -p bomdata-shard --example bench_shard -- DIR [TOTAL_MB] [SAMPLE_MB]`
//!
//! Writes TOTAL_MB (default 1024) of SAMPLE_MB (default 4) `.npy` samples three ways, in the same
//! process, alternating order over three rounds, and prints the best MB/s of each:
//! - `cat`: the same sample bytes written with `File::write_all` to one file, then fsync;
//! - `shard`: `ShardWriter` (tar headers, index, XXH3 checksums, fsync, rename);
//! - `shard_nosync`: the same without fsync (page-cache speed).

#![allow(clippy::print_stdout)] // a bench binary reports on stdout

use std::io::Write;
use std::time::Instant;

use bomdata_shard::writer::{ShardWriter, WriterOptions};
use bomdata_shard::{Sample, npy};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let dir = std::path::PathBuf::from(args.get(1).ok_or("usage: DIR [TOTAL_MB] [SAMPLE_MB]")?);
    let total_mb: usize = args.get(2).map_or(Ok(1024), |s| s.parse())?;
    let sample_mb: usize = args.get(3).map_or(Ok(4), |s| s.parse())?;
    let n_samples = total_mb / sample_mb;
    let floats = sample_mb * (1 << 20) / 4;
    let values: Vec<f32> = (0..floats).map(|i| (i % 1000) as f32 * 0.25).collect();
    let payload = npy::encode_f32(&[floats], &values);
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
