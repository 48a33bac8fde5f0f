//! BED (BED3 to BED12, narrowPeak and other BED3+ files): 0-based half-open intervals.
//!
//! Lines that are blank or start with `#`, `track` or `browser` are skipped. Fields are
//! tab-separated; a line with fewer than 3 tab fields is split on any whitespace.

use std::io::{self, BufRead};

use crate::error::{Error, invalid};

/// One BED interval.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Record {
    /// Chromosome name.
    pub chrom: String,
    /// Start, 0-based.
    pub start: u64,
    /// End, exclusive.
    pub end: u64,
    /// Columns after the third, as written (name, score, strand, ... or a split label).
    pub rest: Vec<String>,
}

impl Record {
    /// Column 4 (name; in Basenji-style interval files the split label).
    pub fn name(&self) -> Option<&str> {
        self.rest.first().map(String::as_str)
    }

    /// Column 6 (strand), when present and `+`/`-`.
    pub fn strand(&self) -> Option<char> {
        match self.rest.get(2).map(String::as_str) {
            Some("+") => Some('+'),
            Some("-") => Some('-'),
            _ => None,
        }
    }

    /// narrowPeak signalValue (column 7).
    pub fn signal_value(&self) -> Option<f64> {
        self.rest.get(3).and_then(|s| s.parse().ok())
    }

    /// narrowPeak summit offset from start (column 10; -1 when not called).
    pub fn peak(&self) -> Option<i64> {
        self.rest.get(6).and_then(|s| s.parse().ok())
    }
}

/// Reads BED records line by line.
pub struct Reader<R> {
    inner: R,
    line: String,
    line_no: u64,
    skipped: u64,
}

impl<R: BufRead> Reader<R> {
    /// Wraps a buffered reader.
    pub fn new(inner: R) -> Self {
        Self {
            inner,
            line: String::new(),
            line_no: 0,
            skipped: 0,
        }
    }

    /// Lines skipped so far (blank, comments, `track`, `browser`).
    pub fn n_skipped(&self) -> u64 {
        self.skipped
    }

    /// Reads the next record; `Ok(false)` at EOF.
    pub fn read_record(&mut self, rec: &mut Record) -> io::Result<bool> {
        loop {
            self.line.clear();
            if self.inner.read_line(&mut self.line)? == 0 {
                return Ok(false);
            }
            self.line_no += 1;
            let l = self.line.trim_end_matches(['\n', '\r']);
            if l.trim().is_empty()
                || l.starts_with('#')
                || l.starts_with("track")
                || l.starts_with("browser")
            {
                self.skipped += 1;
                continue;
            }
            let mut f: Vec<&str> = l.split('\t').collect();
            if f.len() < 3 {
                f = l.split_whitespace().collect();
            }
            if f.len() < 3 {
                return Err(invalid(
                    Error::Bed,
                    format!(
                        "line {}: {} fields, need chrom, start, end",
                        self.line_no,
                        f.len()
                    ),
                ));
            }
            let num = |s: &str, what: &str| {
                s.trim().parse::<u64>().map_err(|_| {
                    invalid(
                        Error::Bed,
                        format!(
                            "line {}: {what} {s:?} is not a non-negative integer",
                            self.line_no
                        ),
                    )
                })
            };
            let (start, end) = (num(f[1], "start")?, num(f[2], "end")?);
            if end < start {
                return Err(invalid(
                    Error::Bed,
                    format!("line {}: end {end} before start {start}", self.line_no),
                ));
            }
            rec.chrom = f[0].to_string();
            rec.start = start;
            rec.end = end;
            rec.rest = f[3..].iter().map(|s| s.to_string()).collect();
            return Ok(true);
        }
    }

    /// An iterator over the records.
    pub fn records(&mut self) -> impl Iterator<Item = io::Result<Record>> + '_ {
        std::iter::from_fn(move || {
            let mut r = Record::default();
            match self.read_record(&mut r) {
                Ok(true) => Some(Ok(r)),
                Ok(false) => None,
                Err(e) => Some(Err(e)),
            }
        })
    }
}

/// Reads every record of a BED file (gzip/BGZF undone).
pub fn read_all(path: &std::path::Path) -> io::Result<Vec<Record>> {
    let (r, _) = bomdata_format_core::compression::open(path)?;
    Reader::new(r).records().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn narrowpeak_and_skips() {
        let t = "track name=x\n#c\nchr1\t10\t20\tp1\t0\t.\t5.5\t-1\t-1\t4\nchr2 1 3\n";
        let mut r = Reader::new(t.as_bytes());
        let recs: Vec<Record> = r.records().collect::<io::Result<_>>().unwrap();
        assert_eq!(recs.len(), 2);
        assert_eq!(recs[0].signal_value(), Some(5.5));
        assert_eq!(recs[0].peak(), Some(4));
        assert_eq!(recs[1].chrom, "chr2");
        assert_eq!(r.n_skipped(), 2);
        assert!(
            Reader::new("c\t5\t2\n".as_bytes())
                .records()
                .next()
                .unwrap()
                .is_err()
        );
    }
}
