//! The canonical read the ingest performs: every sample of every data signal to float32 µV,
//! streamed one data record at a time. `bench_edf FILE` prints one JSON line with the
//! number of samples, a checksum, the seconds spent and the peak RSS (VmHWM) in KiB.
#![allow(clippy::print_stdout, reason = "an example binary prints its result")]

use std::io;
use std::path::Path;
use std::time::Instant;

use bomdata_edf::{Record, fs};
use bomdata_testdata::bench::peak_rss_kib;

fn uv_factor(unit: &str) -> f64 {
    match unit {
        "mV" => 1e3,
        "V" => 1e6,
        "nV" => 1e-3,
        _ => 1.0,
    }
}

fn main() -> io::Result<()> {
    let path = std::env::args().nth(1).unwrap_or_default();
    let t = Instant::now();
    let (mut reader, header) = fs::open(Path::new(&path))?;
    let signals: Vec<(usize, f64, usize)> = header
        .signals
        .iter()
        .enumerate()
        .filter(|(_, s)| !s.is_annotation())
        .map(|(i, s)| (i, uv_factor(&s.physical_dimension), s.samples_per_record))
        .collect();
    let per_record: usize = signals.iter().map(|s| s.2).sum();
    // One record of float32 µV, channel-major: what a chunk writer copies into its [C, T] array.
    let mut out = vec![0f32; per_record];
    let mut n = 0u64;
    let mut checksum = 0f64;
    let mut rec = Record::default();
    while reader.read_record(&header, &mut rec)? != 0 {
        let mut at = 0;
        for &(i, f, spr) in &signals {
            rec.decode_f32(&header, i, f, &mut out[at..at + spr]);
            at += spr;
        }
        n += per_record as u64;
        if let (Some(a), Some(b)) = (out.first(), out.last()) {
            checksum += f64::from(*a) + f64::from(*b);
        }
    }
    let secs = t.elapsed().as_secs_f64();
    println!(
        "{{\"samples\": {n}, \"checksum\": {checksum}, \"seconds\": {secs}, \"peak_rss_kib\": {}}}",
        peak_rss_kib()
    );
    Ok(())
}
