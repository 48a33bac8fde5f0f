//! Path-taking conveniences.

use std::fs::File;
use std::io::{self, BufReader, Read, Seek, SeekFrom};
use std::path::Path;

use crate::io::Reader;
use crate::{Annotation, Header, RecordRef};

/// Opens a file, reads its header and checks the data size against it (see
/// [`Header::records_in_file`]); the reader then stops at the last complete record.
pub fn open(path: &Path) -> io::Result<(Reader<BufReader<File>>, Header)> {
    let f = File::open(path)?;
    let len = f.metadata()?.len();
    // A small buffer: records at least this long are read straight into the record buffer
    // (BufReader bypasses its own buffer when it is empty), saving one copy per record.
    let mut r = Reader::new(BufReader::with_capacity(8 << 10, f));
    let h = r.read_header()?;
    let n = h.records_in_file(len)?;
    r.set_record_limit(n);
    Ok((r, h))
}

/// Reads and checks only the header of a file.
pub fn read_header(path: &Path) -> io::Result<Header> {
    open(path).map(|(_, h)| h)
}

/// The annotations of a whole file, read without its samples.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FileAnnotations {
    /// Onset of every record from its time-keeping TAL, seconds from the header start time
    /// (empty when the file has no annotation signal: records are then back to back).
    pub record_onsets: Vec<f64>,
    /// Every annotation, onsets from the header start time, in file order.
    pub annotations: Vec<Annotation>,
}

impl FileAnnotations {
    /// Onset of the first record (the sub-second part of an EDF+ start), 0 without annotations.
    pub fn first_onset(&self) -> f64 {
        self.record_onsets.first().copied().unwrap_or(0.0)
    }
}

/// Reads every record's time-keeping onset and every annotation, seeking over the samples so
/// only the annotation signals' bytes are read (a few bytes per record).
pub fn read_annotations(path: &Path) -> io::Result<FileAnnotations> {
    let (reader, header) = open(path)?;
    let len = reader.get_ref().get_ref().metadata()?.len();
    let n = header.records_in_file(len)?;
    let ranges: Vec<std::ops::Range<usize>> = (0..header.signals.len())
        .filter(|&i| header.signals[i].is_annotation())
        .map(|i| header.signal_range(i))
        .collect();
    let mut out = FileAnnotations::default();
    if ranges.is_empty() {
        return Ok(out);
    }
    let mut file = reader.into_inner().into_inner();
    // The record length was checked against the file size, so this buffer is bounded by it.
    let mut buf = vec![0u8; header.record_len()];
    let rl = header.record_len() as u64;
    for i in 0..n {
        for r in &ranges {
            file.seek(SeekFrom::Start(
                header.header_len() + i * rl + r.start as u64,
            ))?;
            file.read_exact(&mut buf[r.clone()])?;
        }
        let ra = RecordRef::new(&buf, i).annotations(&header)?;
        if let Some(o) = ra.onset {
            out.record_onsets.push(o);
        }
        out.annotations.extend(ra.annotations);
    }
    Ok(out)
}
