//! Memory benchmark driver (see `bench/nifti/run.sh`).
//!
//! - `bench_nifti gen PATH [NX NY NZ NT]`: writes a synthetic float32 `.nii.gz` run (default
//!   91×109×91×490, the UK Biobank MNI rfMRI grid): an ellipsoidal "brain" of smooth signal plus
//!   noise inside zero background.
//! - `bench_nifti stream PATH`: reads it one volume at a time as scaled float32.
//! - `bench_nifti corder PATH`: fills one C-order float32 buffer of the whole run (x, y, z, t), as
//!   the ingest adapters do for `volume.npy`.
//! - `bench_nifti read PATH`: `corder` without the checksum (the read stage of bench/swift).
//! - `bench_nifti whole PATH`: reads the whole run into one float32 array (the baseline).
#![allow(clippy::print_stdout, clippy::print_stderr)] // a benchmark binary reports on stdout

use std::path::Path;

use bomdata_nifti::{DataType, Reader, WriteOptions, Writer};

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 3 {
        eprintln!("usage: bench_nifti gen|stream|corder|read|whole PATH [NX NY NZ NT]");
        std::process::exit(2);
    }
    let path = Path::new(&args[2]);
    match args[1].as_str() {
        "gen" => {
            let dims: Vec<u64> = if args.len() >= 7 {
                args[3..7].iter().map(|a| a.parse().unwrap_or(1)).collect()
            } else {
                vec![91, 109, 91, 490]
            };
            let (nx, ny, nz, nt) = (dims[0], dims[1], dims[2], dims[3]);
            let mut opts = WriteOptions::new(DataType::Float32, &dims)
                .with_zooms(&[2.0, 2.0, 2.0, 0.735])
                .with_mm_sec();
            opts.gzip_level = 1;
            let mut w = Writer::create(path, &opts)?;
            let mut vol = vec![0f32; (nx * ny * nz) as usize];
            let mut seed = 0x9E37_79B9_7F4A_7C15u64;
            for t in 0..nt {
                let mut i = 0;
                for z in 0..nz {
                    for y in 0..ny {
                        for x in 0..nx {
                            let dx = (x as f32 - nx as f32 / 2.0) / (nx as f32 * 0.42);
                            let dy = (y as f32 - ny as f32 / 2.0) / (ny as f32 * 0.42);
                            let dz = (z as f32 - nz as f32 / 2.0) / (nz as f32 * 0.42);
                            vol[i] = if dx * dx + dy * dy + dz * dz < 1.0 {
                                seed ^= seed << 13;
                                seed ^= seed >> 7;
                                seed ^= seed << 17;
                                let noise = (seed >> 40) as f32 / (1u64 << 24) as f32;
                                1000.0
                                    + 50.0 * ((t as f32) * 0.1 + x as f32 * 0.05).sin()
                                    + 20.0 * noise
                            } else {
                                0.0
                            };
                            i += 1;
                        }
                    }
                }
                w.write_f32(&vol)?;
            }
            w.close()?;
            println!("wrote {}", path.display());
        }
        "stream" => {
            let mut r = Reader::open(path)?;
            let mut vol = Vec::new();
            let (mut n, mut sum) = (0u64, 0f64);
            while r.read_volume_f32(&mut vol)? {
                n += 1;
                sum += vol.iter().map(|&v| v as f64).sum::<f64>();
            }
            println!("volumes {n} sum {sum}");
        }
        "corder" => {
            // What an ingest adapter does: one C-order float32 `.npy`-sized buffer, filled in
            // blocks of volumes.
            let mut r = Reader::open(path)?;
            let n: u64 = r.header().shape().iter().product();
            let mut out = vec![0u8; n as usize * 4];
            r.read_c_order_f32_le(&mut out)?;
            let sum: f64 = out
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]) as f64)
                .sum();
            println!("values {n} sum {sum}");
        }
        "read" => {
            // The read stage alone (bench/swift): the C-order buffer, nothing computed on it.
            let mut r = Reader::open(path)?;
            let n: u64 = r.header().shape().iter().product();
            let mut out = vec![0u8; n as usize * 4];
            r.read_c_order_f32_le(&mut out)?;
            println!("values {n} first {:?}", &out[..4.min(out.len())]);
        }
        "whole" => {
            let mut r = Reader::open(path)?;
            let all = r.read_all_f32()?;
            let sum: f64 = all.iter().map(|&v| v as f64).sum();
            println!("values {} sum {sum}", all.len());
        }
        other => {
            eprintln!("unknown mode {other}");
            std::process::exit(2);
        }
    }
    Ok(())
}
