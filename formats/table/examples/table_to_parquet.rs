//! Converts a table to Parquet.
//!
//! `table_to_parquet IN OUT [--matrix] [--rows-per-group N] [--compression zstd|none]
//! [--byte-stream-split]`: with `--matrix`, IN is a probes × samples numeric matrix (e.g. an EPIC
//! beta CSV), memory-mapped, parsed and encoded in parallel (row groups of N rows, 0 = automatic;
//! float columns PLAIN or BYTE_STREAM_SPLIT); otherwise IN is read whole (CSV/TSV/xlsx/parquet)
//! and written as one batch.

#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::fs::File;
use std::io::BufWriter;
use std::path::PathBuf;
use std::time::Instant;

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let pos: Vec<&String> = args
        .iter()
        .enumerate()
        .filter(|(i, a)| {
            !a.starts_with("--")
                && (*i == 0
                    || !args[i - 1].starts_with("--rows") && !args[i - 1].starts_with("--comp"))
        })
        .map(|(_, a)| a)
        .collect();
    if pos.len() < 2 {
        eprintln!(
            "usage: table_to_parquet IN OUT [--matrix] [--rows-per-group N] [--compression zstd|none]"
        );
        std::process::exit(2);
    }
    let (input, output) = (PathBuf::from(pos[0]), PathBuf::from(pos[1]));
    let opt = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let mut opts = bomdata_table::matrix::MatrixOptions::default();
    if let Some(n) = opt("--rows-per-group").and_then(|s| s.parse().ok()) {
        opts.rows_per_group = n;
    }
    opts.byte_stream_split = args.iter().any(|a| a == "--byte-stream-split");
    if opt("--compression").as_deref() == Some("none") {
        opts.compression = parquet::basic::Compression::UNCOMPRESSED;
    }
    let t0 = Instant::now();
    let out = BufWriter::with_capacity(1 << 20, File::create(&output)?);
    if args.iter().any(|a| a == "--matrix") {
        let s = bomdata_table::matrix::convert_file_to_parquet(&input, out, &opts)?;
        println!(
            "{} probes x {} samples in {:.2}s",
            s.n_probes,
            s.sample_ids.len(),
            t0.elapsed().as_secs_f64()
        );
    } else {
        let t = bomdata_table::table::read_path(&input)?;
        bomdata_table::table::write_parquet(&t.batch, out)?;
        println!(
            "{} rows x {} columns in {:.2}s",
            t.batch.num_rows(),
            t.batch.num_columns(),
            t0.elapsed().as_secs_f64()
        );
    }
    Ok(())
}
