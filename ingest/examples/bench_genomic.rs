//! Benchmark helper: `bench_genomic gen OUT.fa MBP` writes a synthetic genome (plain FASTA,
//! `.fai`, BGZF copy `OUT.fa.gz` with `.fai` and `.gzi`); `bench_genomic run FASTA LEN STRIDE`
//! cuts every window (sequence as stored, soft-mask and N bit masks) and prints one JSON line
//! with counts and throughput. Environment: `GENOMIC_CHUNK` (bases per read for sources read
//! in chunks), `GENOMIC_THREADS` (BGZF inflate threads, default 1; the benchmark's ratio is
//! single-threaded).

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use bomdata_genomic::bgzf;
use bomdata_genomic::fasta::{Index, IndexedFasta, indexed::IndexCheck};
use bomdata_ingest::sources::genome::windows::{Plan, Spec, Windower};
use bomdata_testdata::bench;

fn generate(out: &Path, mbp: u64) -> io::Result<()> {
    let total = mbp * 1_000_000;
    let n_chroms = 8u64;
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut text = Vec::with_capacity((total + total / 60 + 1000) as usize);
    for c in 0..n_chroms {
        let len = total / n_chroms + c * 1000;
        text.extend(format!(">chr{} synthetic\n", c + 1).as_bytes());
        let mut seq = Vec::with_capacity(len as usize);
        let mut lower = false;
        while (seq.len() as u64) < len {
            let r = next();
            if r % 97 == 0 {
                lower = !lower;
            }
            for k in 0..16 {
                let b = b"ACGT"[((r >> (2 * k)) & 3) as usize];
                seq.push(if lower { b.to_ascii_lowercase() } else { b });
            }
        }
        seq.truncate(len as usize);
        // a telomere-like N run and scattered gaps
        let nlen = (len / 100).min(50_000) as usize;
        seq[..nlen].fill(b'N');
        let mut p = 1_000_000usize;
        while p + 3000 < seq.len() {
            seq[p..p + 3000].fill(b'N');
            p += 7_000_000;
        }
        for line in seq.chunks(60) {
            text.extend_from_slice(line);
            text.push(b'\n');
        }
    }
    std::fs::write(out, &text)?;
    let idx = Index::build(&text)?;
    std::fs::write(format!("{}.fai", out.display()), idx.to_fai())?;
    let gz = PathBuf::from(format!("{}.gz", out.display()));
    let z = bgzf::compress(&text, 6);
    std::fs::write(&gz, &z)?;
    std::fs::write(format!("{}.fai", gz.display()), idx.to_fai())?;
    let blocks = bgzf::scan_blocks(&z)?;
    std::fs::write(
        format!("{}.gzi", gz.display()),
        bgzf::Gzi::from_blocks(&blocks).to_bytes(),
    )?;
    Ok(())
}

/// CPU time of this process in seconds (all threads), or of the main thread alone when
/// single-threaded.
fn cpu_seconds() -> f64 {
    if std::env::var("GENOMIC_THREADS").is_ok_and(|t| t != "1") {
        return bench::process_cpu_seconds();
    }
    bench::thread_cpu_seconds()
}

fn run(path: &Path, length: u64, stride: u64) -> io::Result<String> {
    let c0 = cpu_seconds();
    let t0 = Instant::now();
    let mut fa = IndexedFasta::open_with(path, IndexCheck::Quick)?;
    let threads: usize = std::env::var("GENOMIC_THREADS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1);
    fa.set_decode_threads(threads);
    let t_open = t0.elapsed().as_secs_f64();
    let spec = Spec {
        length,
        stride,
        ..Spec::default()
    };
    let mut w = Windower::new(fa, Plan::Fixed(spec));
    if let Some(c) = std::env::var("GENOMIC_CHUNK")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        w = w.with_chunk_bases(c);
    }
    let (mut n, mut bases, mut nn, mut low) = (0u64, 0u64, 0u64, 0u64);
    w.for_each(|x| {
        n += 1;
        bases += x.seq.len() as u64;
        nn += x.n_count;
        low += x.lowercase;
        Ok(())
    })?;
    let secs = t0.elapsed().as_secs_f64();
    let cpu = cpu_seconds() - c0;
    Ok(format!(
        "{{\"tool\": \"bomdata\", \"file\": \"{}\", \"windows\": {n}, \"bases\": {bases}, \"n_count\": {nn}, \"lowercase\": {low}, \"open_s\": {t_open:.4}, \"seconds\": {secs:.4}, \"cpu_s\": {cpu:.4}, \"windows_per_s\": {:.1}, \"mb_per_s\": {:.1}, \"windows_per_cpu_s\": {:.1}, \"mb_per_cpu_s\": {:.1}}}",
        path.display(),
        n as f64 / secs,
        bases as f64 / secs / 1e6,
        n as f64 / cpu,
        bases as f64 / cpu / 1e6
    ))
}

fn main() -> io::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let usage = || io::Error::other("usage: bench_genomic gen OUT.fa MBP | run FASTA LEN STRIDE");
    let line = match args.get(1).map(String::as_str) {
        Some("gen") => {
            let out = PathBuf::from(args.get(2).ok_or_else(usage)?);
            let mbp: u64 = args
                .get(3)
                .ok_or_else(usage)?
                .parse()
                .map_err(|_| usage())?;
            generate(&out, mbp)?;
            format!("{{\"generated\": \"{}\", \"mbp\": {mbp}}}", out.display())
        }
        Some("run") => {
            let p = PathBuf::from(args.get(2).ok_or_else(usage)?);
            let len: u64 = args
                .get(3)
                .ok_or_else(usage)?
                .parse()
                .map_err(|_| usage())?;
            let stride: u64 = args
                .get(4)
                .ok_or_else(usage)?
                .parse()
                .map_err(|_| usage())?;
            run(&p, len, stride)?
        }
        _ => return Err(usage()),
    };
    let mut out = io::stdout().lock();
    writeln!(out, "{line}")
}
