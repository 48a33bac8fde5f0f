//! Benchmark binary for `bench/swift/run.sh`: NIfTI read (bomdata-nifti) into a canonical
//! `volume.npy` sample, then the `swift` profile, timed.
//!
//! `bench_swift RUN.nii.gz [--jobs N] [--repeat R]` processes the run `N × R` times, `N` at a
//! time on `N` threads (one run per thread, like `bomdata shard --jobs N` over several runs), and
//! prints one JSON line: wall seconds, runs, windows, and per-stage seconds of the first run.

#![allow(clippy::print_stdout, clippy::unwrap_used)] // a benchmark binary reports on stdout

use std::path::{Path, PathBuf};
use std::time::Instant;

use bomdata_profiles::{Params, registry};
use bomdata_shard::Sample;
use bomdata_shard::npy::{self, Dtype};

/// Reads the run as the ingest does: C-order float32 `(x, y, z, t)` straight into the npy bytes.
fn canonical(path: &Path) -> std::io::Result<Sample> {
    let mut r = bomdata_nifti::Reader::open(path)?;
    let shape: Vec<usize> = r.header().shape().iter().map(|&d| d as usize).collect();
    let n: usize = shape.iter().product();
    let mut bytes = npy::header(Dtype::F32, &shape);
    let h = bytes.len();
    bytes.resize(h + 4 * n, 0);
    r.read_c_order_f32_le(&mut bytes[h..])?;
    Ok(Sample::new("ukb_bench_fmri").with("volume.npy", bytes))
}

/// One run: (read seconds, profile seconds, windows, output bytes).
fn one(path: &Path) -> (f64, f64, usize, u64) {
    let p = registry::create("swift", &Params::new()).unwrap();
    let t0 = Instant::now();
    let s = canonical(path).unwrap();
    let t1 = Instant::now();
    let a = p.apply(s).unwrap();
    let t2 = Instant::now();
    assert!(a.rejected.is_empty(), "{:?}", a.rejected);
    let bytes = a.samples.iter().map(Sample::data_len).sum();
    (
        (t1 - t0).as_secs_f64(),
        (t2 - t1).as_secs_f64(),
        a.samples.len(),
        bytes,
    )
}

fn main() {
    let mut args = std::env::args().skip(1);
    let mut path = None;
    let (mut jobs, mut repeat) = (1usize, 1usize);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--jobs" => jobs = args.next().and_then(|v| v.parse().ok()).unwrap_or(1),
            "--repeat" => repeat = args.next().and_then(|v| v.parse().ok()).unwrap_or(1),
            _ => path = Some(PathBuf::from(a)),
        }
    }
    let path = path.expect("usage: bench_swift RUN.nii.gz [--jobs N] [--repeat R]");
    let start = Instant::now();
    let results: Vec<(f64, f64, usize, u64)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..jobs.max(1))
            .map(|_| s.spawn(|| (0..repeat.max(1)).map(|_| one(&path)).collect::<Vec<_>>()))
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    let wall = start.elapsed().as_secs_f64();
    let (read_s, profile_s, windows, bytes) = results[0];
    println!(
        "{{\"jobs\": {jobs}, \"runs\": {}, \"wall_s\": {wall:.3}, \"read_s\": {read_s:.3}, \"profile_s\": {profile_s:.3}, \"windows\": {windows}, \"out_bytes\": {bytes}}}",
        results.len()
    );
}
