//! The core of `bomdata ingest` of a DICOM folder, alone, for the bench (bench/dicom): plan
//! with header-only reads ([`bomdata_dicom::open_header`]) and group by SeriesInstanceUID, then
//! read the largest series' headers and pixels straight into a C-order float32 `(x, y, z)`
//! array ([`bomdata_dicom::corder`]) and write it as `.npy`, as the canonical `volume.npy`.
//!
//! usage: series_npy DIR OUT.npy

#![allow(clippy::print_stderr)] // a benchmark binary reports on stderr

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn files(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for e in std::fs::read_dir(dir)? {
        let p = e?.path();
        if p.is_dir() {
            files(&p, out)?;
        } else {
            out.push(p);
        }
    }
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let [_, dir, out] = args.as_slice() else {
        return Err("usage: series_npy DIR OUT.npy".into());
    };
    let mut all = Vec::new();
    files(Path::new(dir), &mut all)?;
    all.sort();
    let mut by: BTreeMap<String, Vec<PathBuf>> = BTreeMap::new();
    for p in all {
        if let Ok(f) = bomdata_dicom::open_header(&p) {
            by.entry(f.text(0x0020_000E).unwrap_or_default())
                .or_default()
                .push(p);
        }
    }
    let series = by
        .into_values()
        .max_by_key(Vec::len)
        .ok_or("no DICOM files")?;
    let h = bomdata_dicom::corder::headers(&series)?;
    let dims: Vec<String> = h.geometry().shape.iter().map(|d| d.to_string()).collect();
    let mut head = format!(
        "{{'descr': '<f4', 'fortran_order': False, 'shape': ({},), }}",
        dims.join(", ")
    );
    while (head.len() + 11) % 64 != 0 {
        head.push(' ');
    }
    head.push('\n');
    let mut data = b"\x93NUMPY\x01\x00".to_vec();
    data.extend_from_slice(&(head.len() as u16).to_le_bytes());
    data.extend_from_slice(head.as_bytes());
    let at = data.len();
    data.resize(at + 4 * h.len(), 0);
    h.fill_c_order_f32(&mut data[at..])?;
    std::fs::write(out, &data)?;
    let g = h.geometry();
    eprintln!("{:?} from {} files", g.shape, g.files.len());
    Ok(())
}
