//! A probes × samples matrix parsed into a raw float32 scratch file and read back a few samples
//! at a time: the transposition of a matrix larger than memory, without a Parquet round trip.
//!
//! The text is parsed as by [`super::convert_file_to_parquet`] (same values, same errors); each
//! parsed block of text (about 32 MiB) becomes one block of the scratch file: its probes' values
//! sample after sample (native-endian `f32`, sample `j`'s values of the block's probes at
//! `offset + j × rows × 4`). Reading some samples for every probe is then one positioned read per
//! (block, sample) straight into the caller's buffer: no decoding, no copy in this process.
//! Memory: one block of text, its parsed values and their sample-major copy being written, plus
//! the probe IDs; the scratch file's pages are the kernel's page cache, not this process's.

use std::fs::File;
use std::io::{self, Write};
use std::path::Path;

use super::{ConvertSummary, Header, Piece, Rows, block_bytes, drive_file};
use crate::TableError;

/// A block of consecutive probes in the scratch file.
#[derive(Clone, Copy, Debug)]
struct Block {
    /// Byte offset of the block in the file.
    offset: u64,
    /// Index of the block's first probe.
    first: usize,
    /// Probes in the block.
    rows: usize,
}

/// A matrix parsed into a scratch file (see the module docs).
#[derive(Debug)]
pub struct Scratch {
    file: File,
    blocks: Vec<Block>,
    probe_ids: Vec<String>,
    summary: ConvertSummary,
}

/// Parses the probes × samples matrix at `path` (delimited text, gzip/BGZF/zstd undone; the
/// layout [`super::convert_file_to_parquet`] takes) into `file`, an empty file opened for
/// reading and writing (e.g. an unnamed temporary file), and keeps the probe IDs in memory.
pub fn convert_file_to_scratch(path: &Path, file: File) -> io::Result<Scratch> {
    convert_with(path, file, block_bytes(&super::MatrixOptions::default()))
}

/// [`convert_file_to_scratch`] in blocks of about `block` bytes of text.
fn convert_with(path: &Path, file: File, block: usize) -> io::Result<Scratch> {
    let (head, w) = drive_file(path, block, |h: &Header| {
        Ok(Writer {
            file,
            at: 0,
            ns: h.sample_names().count(),
            probes: 0,
            buf: Vec::new(),
            blocks: Vec::new(),
            probe_ids: Vec::new(),
            name: path.display().to_string(),
        })
    })?;
    let mut file = w.file;
    file.flush()?;
    Ok(Scratch {
        file,
        blocks: w.blocks,
        probe_ids: w.probe_ids,
        summary: head.summary(w.probes as u64),
    })
}

/// The [`Rows`] sink writing the scratch file.
struct Writer {
    file: File,
    at: u64,
    ns: usize,
    probes: usize,
    /// The block's values, sample-major, before they are written.
    buf: Vec<f32>,
    blocks: Vec<Block>,
    probe_ids: Vec<String>,
    name: String,
}

impl Rows for Writer {
    fn push(&mut self, pieces: &mut [Piece]) -> io::Result<()> {
        let rows: usize = pieces.iter().map(|p| p.rows).sum();
        if rows == 0 {
            return Ok(());
        }
        self.buf.clear();
        self.buf.reserve(rows * self.ns);
        for j in 0..self.ns {
            for p in pieces.iter() {
                let at = j * p.cap;
                self.buf.extend_from_slice(&p.values[at..at + p.rows]);
            }
        }
        self.file.write_all(as_bytes(&self.buf))?;
        self.blocks.push(Block {
            offset: self.at,
            first: self.probes,
            rows,
        });
        self.at += std::mem::size_of_val(self.buf.as_slice()) as u64;
        self.probes += rows;
        for p in pieces.iter() {
            let mut from = 0;
            for &to in &p.id_ends[..p.rows] {
                let id = std::str::from_utf8(&p.ids[from..to]).map_err(|_| {
                    TableError::new(&self.name, "probe id is not UTF-8")
                        .at_row(self.probes as u64 + 1)
                        .into_io()
                })?;
                self.probe_ids.push(id.to_string());
                from = to;
            }
        }
        Ok(())
    }
}

impl Scratch {
    /// The sample IDs, the probe-ID column and the number of probes.
    pub fn summary(&self) -> &ConvertSummary {
        &self.summary
    }

    /// The probe IDs, in file order.
    pub fn probe_ids(&self) -> &[String] {
        &self.probe_ids
    }

    /// Reads the sample columns `samples` (0-based among the sample columns, in any order) into
    /// `out`, sample after sample: on return `out` holds `samples.len() × n_probes` values,
    /// `samples[k]`'s probe `i` at `k * n_probes + i` (the layout of a list column of one row
    /// per sample). `out` is cleared first; its allocation is kept.
    pub fn read_samples_into(&self, samples: &[usize], out: &mut Vec<f32>) -> io::Result<()> {
        let ns = self.summary.sample_ids.len();
        if let Some(&j) = samples.iter().find(|&&j| j >= ns) {
            return Err(io::Error::other(format!(
                "scratch matrix: sample {j} of {ns} asked for"
            )));
        }
        let np = self.probe_ids.len();
        out.clear();
        out.resize(samples.len() * np, 0.0);
        for b in &self.blocks {
            for (k, &j) in samples.iter().enumerate() {
                let at = k * np + b.first;
                let dst = &mut out[at..at + b.rows];
                let offset = b.offset + (j * b.rows * 4) as u64;
                read_exact_at(&self.file, as_bytes_mut(dst), offset)?;
            }
        }
        Ok(())
    }
}

fn as_bytes(v: &[f32]) -> &[u8] {
    // SAFETY: any f32 is 4 initialised bytes; the slice covers exactly `v`.
    unsafe { std::slice::from_raw_parts(v.as_ptr().cast::<u8>(), std::mem::size_of_val(v)) }
}

fn as_bytes_mut(v: &mut [f32]) -> &mut [u8] {
    // SAFETY: every bit pattern is a valid f32; the slice covers exactly `v`.
    unsafe { std::slice::from_raw_parts_mut(v.as_mut_ptr().cast::<u8>(), std::mem::size_of_val(v)) }
}

#[cfg(unix)]
fn read_exact_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<()> {
    std::os::unix::fs::FileExt::read_exact_at(file, buf, offset)
}

#[cfg(not(unix))]
fn read_exact_at(mut file: &File, buf: &mut [u8], offset: u64) -> io::Result<()> {
    use std::io::{Read, Seek, SeekFrom};
    file.seek(SeekFrom::Start(offset))?;
    file.read_exact(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scratch_equals_parquet_copy() {
        let dir = tempfile::tempdir().unwrap();
        let csv = dir.path().join("m.csv");
        let mut text = String::from("ID_REF,A,B,C\n");
        for i in 0..70_000u32 {
            let c = if i % 977 == 0 {
                "NA".to_string()
            } else {
                format!("{}", f64::from(i) / 3.0)
            };
            text.push_str(&format!("cg{i:08},0.{i},{c},-{i}.5\n"));
        }
        std::fs::write(&csv, &text).unwrap();
        let pq = tempfile::tempfile().unwrap();
        let opts = super::super::MatrixOptions::scratch();
        let want =
            super::super::convert_file_to_parquet(&csv, pq.try_clone().unwrap(), &opts).unwrap();
        let s = convert_with(&csv, tempfile::tempfile().unwrap(), 1 << 16).unwrap();
        assert!(s.blocks.len() > 10, "{} blocks", s.blocks.len());
        assert_eq!(s.summary(), &want);
        assert_eq!(s.probe_ids(), super::super::read_probe_ids(&pq).unwrap());
        let np = s.probe_ids().len();
        for samples in [vec![2, 0], vec![1], vec![0, 1, 2]] {
            let (mut a, mut b) = (Vec::new(), Vec::new());
            s.read_samples_into(&samples, &mut a).unwrap();
            super::super::read_sample_columns_into(&pq, &samples, np, &mut b).unwrap();
            assert_eq!(a.len(), samples.len() * np);
            let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&a), bits(&b));
        }
        assert!(s.read_samples_into(&[3], &mut Vec::new()).is_err());
    }
}
