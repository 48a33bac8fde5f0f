//! Streams every value of a recording through `bomdata_ephys::open` and prints one JSON line
//! with the channel count, sample count, a checksum and the seconds taken (for bench/ephys).

use std::io::Write;
use std::time::Instant;

fn main() -> std::io::Result<()> {
    let Some(path) = std::env::args_os().nth(1) else {
        return Err(std::io::Error::other("usage: bench_ephys FILE"));
    };
    let t = Instant::now();
    let (rec, mut r) = bomdata_ephys::open(std::path::Path::new(&path))?;
    let mut chunk = Vec::new();
    let (mut n, mut sum) = (0u64, 0f64);
    loop {
        let k = r.read_chunk(8192, &mut chunk)?;
        if k == 0 {
            break;
        }
        n += k as u64;
        for c in &chunk {
            // float32 output in µV, as the canonical recording stores it
            sum += c.iter().map(|&v| v as f32 as f64).sum::<f64>();
        }
    }
    let secs = t.elapsed().as_secs_f64();
    writeln!(
        std::io::stdout().lock(),
        "{{\"channels\": {}, \"samples\": {n}, \"sum\": {sum}, \"seconds\": {secs}}}",
        rec.channels.len()
    )
}
