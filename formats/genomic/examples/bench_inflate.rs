//! Benchmark helper: `bench_inflate [ROUNDS] FILE...` decodes every BGZF block of each file
//! with `bomdata_genomic::inflate` and with libdeflate, alternating block by block, `ROUNDS`
//! times (default 5), checks that both give the same bytes, and prints one JSON line per file with the best
//! MB/s (output bytes per CPU second of this thread) of each and their ratio. A file that is
//! not gzip is first BGZF-compressed in memory (`bgzf::compress`, level 6). Files under 20 MB
//! decompressed are decoded several times per round.

use std::io::{self, Write};
use std::time::Instant;

use bomdata_genomic::{bgzf, inflate};
use bomdata_testdata::bench::thread_cpu_seconds as cpu_seconds;

/// The raw deflate payload and ISIZE of a plain (not BGZF) single-member gzip file, such as a
/// `.nii.gz` written by nibabel: the whole member decoded at once (image data, bench/swift).
fn single_member(data: &[u8]) -> io::Result<(&[u8], usize)> {
    let bad = || io::Error::new(io::ErrorKind::InvalidData, "not a gzip member");
    let flg = *data.get(3).ok_or_else(bad)?;
    let mut at = 10;
    if flg & 4 != 0 {
        let x = data.get(at..at + 2).ok_or_else(bad)?;
        at += 2 + usize::from(u16::from_le_bytes([x[0], x[1]]));
    }
    for bit in [8u8, 16] {
        if flg & bit != 0 {
            let nul = data.get(at..).and_then(|d| d.iter().position(|&b| b == 0));
            at += nul.ok_or_else(bad)? + 1;
        }
    }
    if flg & 2 != 0 {
        at += 2;
    }
    let end = data
        .len()
        .checked_sub(8)
        .filter(|&e| e >= at)
        .ok_or_else(bad)?;
    let t = &data[end + 4..];
    Ok((
        &data[at..end],
        u32::from_le_bytes([t[0], t[1], t[2], t[3]]) as usize,
    ))
}

/// (raw deflate payload, ISIZE) of each BGZF block (or of the one member of a plain gzip file).
fn blocks(data: &[u8]) -> io::Result<Vec<(&[u8], usize)>> {
    if bomdata_format_core::compression::sniff(data)
        == bomdata_format_core::compression::Compression::Gzip
    {
        return Ok(vec![single_member(data)?]);
    }
    let mut v = Vec::new();
    for b in bgzf::scan_blocks(data)? {
        let off = b.compressed_offset as usize;
        let end = off + b.compressed_size as usize;
        let xlen = usize::from(u16::from_le_bytes([data[off + 10], data[off + 11]]));
        v.push((
            &data[off + 12 + xlen..end - 8],
            b.uncompressed_size as usize,
        ));
    }
    Ok(v)
}

fn main() -> io::Result<()> {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let rounds = match args.first().and_then(|a| a.parse::<usize>().ok()) {
        Some(r) => {
            args.remove(0);
            r
        }
        None => 5,
    };
    for path in &args {
        let raw = std::fs::read(path)?;
        let data = if raw.starts_with(&[0x1f, 0x8b]) {
            raw
        } else {
            bgzf::compress(&raw, 6)
        };
        let bl = blocks(&data)?;
        let total: usize = bl.iter().map(|b| b.1).sum();
        let comp: usize = bl.iter().map(|b| b.0.len()).sum();
        let mut ours = vec![0u8; total];
        let mut theirs = vec![0u8; total];
        let mut dec = inflate::Decoder::new();
        let mut lib = libdeflater::Decompressor::new();
        let (mut best_ours, mut best_lib) = (f64::INFINITY, f64::INFINITY);
        let (mut wall_ours, mut wall_lib) = (f64::INFINITY, f64::INFINITY);
        // each round decodes every block with both, alternating block by block (which one
        // goes first alternates too), so both see the same machine load; per-block wall
        // times are summed, and the round's CPU time is split in that proportion
        // INFLATE_BENCH_ONLY=ours|libdeflate: decode with one of them only (for `perf stat`)
        let only = std::env::var("INFLATE_BENCH_ONLY").ok();
        if let Some(which) = only.as_deref() {
            for _ in 0..rounds {
                let mut at = 0;
                for &(p, n) in &bl {
                    if which == "ours" {
                        dec.inflate(p, &mut ours[at..at + n])
                            .map_err(io::Error::other)?;
                    } else {
                        lib.deflate_decompress(p, &mut theirs[at..at + n])
                            .map_err(io::Error::other)?;
                    }
                    at += n;
                }
            }
            continue;
        }
        // small files are decoded `reps` times per round, for measurable CPU times
        let reps = (20_000_000 / total.max(1)).max(1);
        for r in 0..rounds {
            let (mut t_ours, mut t_lib) = (0f64, 0f64);
            let c0 = cpu_seconds();
            for _ in 0..reps {
                let mut at = 0;
                for (k, &(p, n)) in bl.iter().enumerate() {
                    for side in 0..2 {
                        let t0 = Instant::now();
                        if (side + k + r) % 2 == 0 {
                            let got = dec
                                .inflate(p, &mut ours[at..at + n])
                                .map_err(io::Error::other)?;
                            assert_eq!(got, n);
                            t_ours += t0.elapsed().as_secs_f64();
                        } else {
                            let got = lib
                                .deflate_decompress(p, &mut theirs[at..at + n])
                                .map_err(io::Error::other)?;
                            assert_eq!(got, n);
                            t_lib += t0.elapsed().as_secs_f64();
                        }
                    }
                    at += n;
                }
            }
            let cpu = cpu_seconds() - c0;
            let share = t_ours / (t_ours + t_lib);
            best_ours = best_ours.min(cpu * share);
            best_lib = best_lib.min(cpu * (1.0 - share));
            wall_ours = wall_ours.min(t_ours);
            wall_lib = wall_lib.min(t_lib);
            assert!(ours == theirs, "{path}: outputs differ");
        }
        let mb = (total * reps) as f64 / 1e6;
        writeln!(
            io::stdout().lock(),
            "{{\"file\": \"{path}\", \"blocks\": {}, \"out_bytes\": {total}, \"ratio_compression\": {:.3}, \"identical\": true, \"ours_mb_per_cpu_s\": {:.1}, \"libdeflate_mb_per_cpu_s\": {:.1}, \"ours_mb_per_wall_s\": {:.1}, \"libdeflate_mb_per_wall_s\": {:.1}, \"speedup_cpu\": {:.3}}}",
            bl.len(),
            total as f64 / comp as f64,
            mb / best_ours,
            mb / best_lib,
            mb / wall_ours,
            mb / wall_lib,
            best_lib / best_ours
        )?;
    }
    Ok(())
}
