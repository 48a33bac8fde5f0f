//! Converts a table to Parquet.
//!
//! `table_to_parquet IN OUT [--matrix] [--rows-per-batch N]`: with `--matrix`, IN is a probes ×
//! samples numeric matrix (e.g. an EPIC beta CSV) streamed and parsed in parallel; otherwise IN is
//! read whole (CSV/TSV/xlsx/parquet) and written as one batch.

#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::fs::File;
use std::io::{BufReader, BufWriter};
use std::path::PathBuf;
use std::time::Instant;

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let pos: Vec<&String> = args.iter().filter(|a| !a.starts_with("--")).collect();
    if pos.len() < 2 {
        eprintln!("usage: table_to_parquet IN OUT [--matrix] [--rows-per-batch N]");
        std::process::exit(2);
    }
    let (input, output) = (PathBuf::from(pos[0]), PathBuf::from(pos[1]));
    let rows = args
        .iter()
        .position(|a| a == "--rows-per-batch")
        .and_then(|i| args.get(i + 1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(16384);
    let t0 = Instant::now();
    let out = BufWriter::with_capacity(1 << 20, File::create(&output)?);
    if args.iter().any(|a| a == "--matrix") {
        let inp = BufReader::with_capacity(1 << 20, File::open(&input)?);
        let s = bomdata_table::methylation::convert_to_parquet(
            inp,
            &input.display().to_string(),
            out,
            rows,
        )?;
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
