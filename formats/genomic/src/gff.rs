//! GTF and GFF3 features. Coordinates in the file are 1-based closed; [`Record`] holds them
//! 0-based half-open. Reading stops at `##FASTA` or the first line starting with `>`; lines
//! starting with `#` and blank lines are skipped.

use std::io::{self, BufRead};

use crate::error::{Error, invalid};

/// Attribute syntax.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    /// GTF (GFF2): `key "value"; key "value";`.
    Gtf,
    /// GFF3: `key=value;key=value`.
    Gff3,
}

/// One feature line.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Record {
    /// Column 1.
    pub seqid: String,
    /// Column 2.
    pub source: String,
    /// Column 3 (feature type: gene, exon, CDS, ...).
    pub feature_type: String,
    /// 0-based start (column 4 minus 1).
    pub start: u64,
    /// Exclusive end (column 5).
    pub end: u64,
    /// Column 6 as written (`.` when none).
    pub score: String,
    /// Column 7 (`+`, `-`, `.`, `?`).
    pub strand: String,
    /// Column 8 as written.
    pub phase: String,
    /// Attributes in file order.
    pub attributes: Vec<(String, String)>,
}

impl Record {
    /// The first attribute named `key`.
    pub fn attribute(&self, key: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// Parses the attribute column.
pub fn parse_attributes(s: &str, dialect: Dialect) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for part in s.split(';') {
        let part = part.trim();
        if part.is_empty() || part == "." {
            continue;
        }
        match dialect {
            Dialect::Gff3 => {
                let (k, v) = part.split_once('=').unwrap_or((part, ""));
                out.push((k.trim().to_string(), v.trim().to_string()));
            }
            Dialect::Gtf => {
                let (k, v) = part.split_once(char::is_whitespace).unwrap_or((part, ""));
                let v = v.trim();
                let v = v
                    .strip_prefix('"')
                    .and_then(|x| x.strip_suffix('"'))
                    .unwrap_or(v);
                out.push((k.to_string(), v.to_string()));
            }
        }
    }
    out
}

/// Reads features line by line.
pub struct Reader<R> {
    inner: R,
    dialect: Dialect,
    line: String,
    line_no: u64,
    done: bool,
    skipped: u64,
}

impl<R: BufRead> Reader<R> {
    /// Wraps a buffered reader.
    pub fn new(inner: R, dialect: Dialect) -> Self {
        Self {
            inner,
            dialect,
            line: String::new(),
            line_no: 0,
            done: false,
            skipped: 0,
        }
    }

    /// Comment and blank lines skipped so far.
    pub fn n_skipped(&self) -> u64 {
        self.skipped
    }

    /// Reads the next feature; `Ok(false)` at the end of the features.
    pub fn read_record(&mut self, rec: &mut Record) -> io::Result<bool> {
        while !self.done {
            self.line.clear();
            if self.inner.read_line(&mut self.line)? == 0 {
                self.done = true;
                break;
            }
            self.line_no += 1;
            let l = self.line.trim_end_matches(['\n', '\r']);
            if l.starts_with("##FASTA") || l.starts_with('>') {
                self.done = true;
                break;
            }
            if l.trim().is_empty() || l.starts_with('#') {
                self.skipped += 1;
                continue;
            }
            let f: Vec<&str> = l.split('\t').collect();
            if f.len() < 8 {
                return Err(invalid(
                    Error::Gff,
                    format!(
                        "line {}: {} tab-separated columns, need 8 or 9",
                        self.line_no,
                        f.len()
                    ),
                ));
            }
            let num = |s: &str, what: &str| {
                s.trim().parse::<u64>().map_err(|_| {
                    invalid(
                        Error::Gff,
                        format!("line {}: {what} {s:?} is not a number", self.line_no),
                    )
                })
            };
            let (start1, end1) = (num(f[3], "start")?, num(f[4], "end")?);
            if start1 == 0 || end1 + 1 < start1 {
                return Err(invalid(
                    Error::Gff,
                    format!(
                        "line {}: start {start1} / end {end1} are not 1-based closed",
                        self.line_no
                    ),
                ));
            }
            *rec = Record {
                seqid: f[0].to_string(),
                source: f[1].to_string(),
                feature_type: f[2].to_string(),
                start: start1 - 1,
                end: end1,
                score: f[5].to_string(),
                strand: f[6].to_string(),
                phase: f[7].to_string(),
                attributes: f
                    .get(8)
                    .map(|a| parse_attributes(a, self.dialect))
                    .unwrap_or_default(),
            };
            return Ok(true);
        }
        Ok(false)
    }

    /// An iterator over the features.
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

/// The dialect a path implies: `.gtf` (optionally compressed) is GTF, anything else GFF3.
pub fn dialect_of(path: &std::path::Path) -> Dialect {
    let s = path.to_string_lossy().to_ascii_lowercase();
    let s = s.trim_end_matches(".gz").trim_end_matches(".bgz");
    if s.ends_with(".gtf") {
        Dialect::Gtf
    } else {
        Dialect::Gff3
    }
}

/// Reads every feature of a GTF/GFF3 file (gzip/BGZF undone).
pub fn read_all(path: &std::path::Path) -> io::Result<Vec<Record>> {
    let (r, _) = bomdata_format_core::compression::open(path)?;
    Reader::new(r, dialect_of(path)).records().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gtf_and_gff3_attributes() {
        let a = parse_attributes(r#"gene_id "g1"; transcript_id "t1";"#, Dialect::Gtf);
        assert_eq!(
            a,
            vec![
                ("gene_id".into(), "g1".into()),
                ("transcript_id".into(), "t1".into())
            ]
        );
        let a = parse_attributes("ID=x;Parent=y", Dialect::Gff3);
        assert_eq!(a[1], ("Parent".into(), "y".into()));
        let t = "##gff-version 3\nc\ts\tgene\t1\t10\t.\t+\t.\tID=g\n##FASTA\n>c\nACGT\n";
        let recs: Vec<Record> = Reader::new(t.as_bytes(), Dialect::Gff3)
            .records()
            .collect::<io::Result<_>>()
            .unwrap();
        assert_eq!(recs.len(), 1);
        assert_eq!((recs[0].start, recs[0].end), (0, 10));
    }
}
