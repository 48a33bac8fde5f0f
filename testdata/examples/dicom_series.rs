//! Writes one synthetic axial MR series (explicit VR little endian, int16, real geometry
//! headers) for the DICOM bench: `dicom_series OUT_DIR [SLICES] [ROWS] [COLS]`
//! (defaults 200 × 256 × 256).

#![allow(clippy::print_stdout, clippy::print_stderr)] // a generator binary reports on stdout

use std::path::PathBuf;

use bomdata_testdata::dicom::{Series, write_series};

fn main() {
    let mut args = std::env::args().skip(1);
    let Some(dir) = args.next().map(PathBuf::from) else {
        eprintln!("usage: dicom_series OUT_DIR [SLICES] [ROWS] [COLS]");
        std::process::exit(2);
    };
    let mut num = |d: usize| args.next().and_then(|a| a.parse().ok()).unwrap_or(d);
    let (slices, rows, cols) = (num(200), num(256), num(256));
    let mut s = Series::axial("BENCH-PATIENT", 7, "t1_mprage_bench", slices);
    s.rows = rows as u16;
    s.cols = cols as u16;
    s.spacing = [1.0, 1.0];
    s.step = [0.0, 0.0, 1.0];
    s.rescale = Some((1.0, 0.0));
    let files = write_series(&dir, &s, |k, _| format!("IM{k:04}.dcm"));
    println!(
        "{} files of {rows}x{cols} in {}",
        files.len(),
        dir.display()
    );
}
