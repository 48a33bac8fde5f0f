//! Sequential FASTA reading over any `BufRead` (plain, or already decompressed).

use std::io::{self, BufRead};

use crate::error::{Error, invalid};

/// One FASTA entry.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Record {
    /// Name: header text after `>` and any leading whitespace, up to the next whitespace (may
    /// be empty; see [`Reader`]).
    pub name: String,
    /// The rest of the header line after the name, trimmed (empty when none).
    pub description: String,
    /// Bases as stored, line terminators (`\n`, `\r\n`) removed.
    pub sequence: Vec<u8>,
}

/// A sequential FASTA reader.
///
/// Records with an empty name are read (the name is `""`); the indexed reader refuses them, or
/// sets them aside, because such a sequence cannot be addressed.
pub struct Reader<R> {
    inner: R,
    line: Vec<u8>,
    pending_header: Option<Vec<u8>>,
    offset: u64,
    n_records: usize,
}

impl<R: BufRead> Reader<R> {
    /// Wraps a buffered reader.
    pub fn new(inner: R) -> Self {
        Self {
            inner,
            line: Vec::new(),
            pending_header: None,
            offset: 0,
            n_records: 0,
        }
    }

    /// The inner reader.
    pub fn get_ref(&self) -> &R {
        &self.inner
    }

    /// The inner reader, mutably.
    pub fn get_mut(&mut self) -> &mut R {
        &mut self.inner
    }

    /// Unwraps the inner reader.
    pub fn into_inner(self) -> R {
        self.inner
    }

    fn next_line(&mut self) -> io::Result<bool> {
        self.line.clear();
        let n = self.inner.read_until(b'\n', &mut self.line)?;
        self.offset += n as u64;
        while matches!(self.line.last(), Some(b'\n' | b'\r')) {
            self.line.pop();
        }
        Ok(n > 0)
    }

    /// Reads the next record into `record`; returns its number of bases, or `None` at EOF.
    pub fn read_record(&mut self, record: &mut Record) -> io::Result<Option<usize>> {
        record.sequence.clear();
        let header = match self.pending_header.take() {
            Some(h) => h,
            None => loop {
                if !self.next_line()? {
                    return Ok(None);
                }
                if self.line.is_empty() {
                    continue;
                }
                if self.line[0] != b'>' {
                    return Err(invalid(
                        Error::Fasta,
                        format!(
                            "byte {}: sequence data before the first '>' header",
                            self.offset - self.line.len() as u64
                        ),
                    ));
                }
                break self.line.clone();
            },
        };
        let full = String::from_utf8_lossy(&header[1..]);
        // `>  foo bar` names `foo`, as samtools faidx and pyfaidx read it
        let text = full.trim_start_matches(|c: char| c.is_ascii_whitespace());
        let (name, desc) = match text.find(|c: char| c.is_ascii_whitespace()) {
            Some(i) => (&text[..i], text[i..].trim()),
            None => (text, ""),
        };
        record.name = name.to_string();
        record.description = desc.to_string();
        while self.next_line()? {
            if self.line.first() == Some(&b'>') {
                self.pending_header = Some(self.line.clone());
                break;
            }
            record.sequence.extend_from_slice(&self.line);
        }
        self.n_records += 1;
        Ok(Some(record.sequence.len()))
    }

    /// An iterator over the records.
    pub fn records(&mut self) -> impl Iterator<Item = io::Result<Record>> + '_ {
        std::iter::from_fn(move || {
            let mut r = Record::default();
            match self.read_record(&mut r) {
                Ok(Some(_)) => Some(Ok(r)),
                Ok(None) => None,
                Err(e) => Some(Err(e)),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_crlf_and_empty_name() {
        let data = b">\r\nAC\r\nGT\r\n>b x y\nnnAA\n";
        let mut r = Reader::new(&data[..]);
        let recs: Vec<Record> = r.records().collect::<io::Result<_>>().unwrap();
        assert_eq!(recs.len(), 2);
        assert_eq!(recs[0].name, "");
        assert_eq!(recs[0].sequence, b"ACGT");
        assert_eq!(recs[1].name, "b");
        assert_eq!(recs[1].description, "x y");
        assert_eq!(recs[1].sequence, b"nnAA");
    }

    #[test]
    fn data_before_header_is_an_error() {
        let mut r = Reader::new(&b"ACGT\n>a\nAC\n"[..]);
        assert!(r.records().next().unwrap().is_err());
    }
}
