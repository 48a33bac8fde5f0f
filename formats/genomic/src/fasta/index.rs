//! `.fai` indexes: building one from the data, reading one, and checking one against the data.

use std::io;

use crate::error::{Error, invalid};

/// One `.fai` row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IndexRecord {
    /// Sequence name (header text up to the first whitespace).
    pub name: String,
    /// Number of bases.
    pub length: u64,
    /// Byte offset of the first base in the (decompressed) file.
    pub offset: u64,
    /// Bases per full line.
    pub line_bases: u64,
    /// Bytes per full line, including the line terminator (`\n` or `\r\n`).
    pub line_width: u64,
}

impl IndexRecord {
    /// Byte offset (in the decompressed file) of base `pos`.
    pub fn byte_of(&self, pos: u64) -> u64 {
        if self.line_bases == 0 {
            return self.offset;
        }
        self.offset + (pos / self.line_bases) * self.line_width + pos % self.line_bases
    }
}

/// A record that an index cannot address because its name is empty (a `>` header with no
/// name, or only whitespace after it).
///
/// samtools (htslib) indexes such a record under the name `""` and pyfaidx refuses the whole
/// file; here the strict builders refuse the file and the lenient ones set the record aside
/// (see [`Index::build_setting_aside_unnamed`]) so that a caller can fail that record alone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Unnamed {
    /// 0-based number of the record in the file (every record counts, named or not).
    pub record: usize,
    /// Byte offset of its `>` header in the (decompressed) file.
    pub byte: u64,
}

impl std::fmt::Display for Unnamed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "record {} at byte {}: empty sequence name",
            self.record, self.byte
        )
    }
}

/// The sequence name in a header line (without its `>` and line terminator): the text after
/// any leading whitespace up to the next whitespace, as samtools faidx and pyfaidx read it
/// (`>  foo bar` names `foo`). Empty when the header holds no name.
pub fn header_name(header: &[u8]) -> &[u8] {
    let start = header
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(header.len());
    let rest = &header[start..];
    let end = rest
        .iter()
        .position(u8::is_ascii_whitespace)
        .unwrap_or(rest.len());
    &rest[..end]
}

/// A FASTA index: one row per sequence, in file order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Index(pub Vec<IndexRecord>);

impl Index {
    /// Builds the index by scanning the decompressed FASTA bytes (as `samtools faidx` does).
    ///
    /// Errors: data before the first `>`, an empty name, a duplicate name, or lines of unequal
    /// length inside a sequence (a short line that is not the last one).
    pub fn build(data: &[u8]) -> io::Result<Index> {
        Self::scan(data, true).map(|(index, _)| index)
    }

    /// Builds the index like [`Index::build`], but sets records with an empty name aside
    /// instead of refusing the file: they are left out of the index and returned, in file
    /// order, so that the other sequences stay addressable.
    pub fn build_setting_aside_unnamed(data: &[u8]) -> io::Result<(Index, Vec<Unnamed>)> {
        Self::scan(data, false)
    }

    fn scan(data: &[u8], strict: bool) -> io::Result<(Index, Vec<Unnamed>)> {
        let mut rows: Vec<IndexRecord> = Vec::new();
        let mut unnamed = Vec::new();
        let mut rec_index = 0usize;
        let mut seen = std::collections::HashSet::new();
        let mut pos = 0usize;
        let n = data.len();
        // skip leading blank lines
        while pos < n && (data[pos] == b'\n' || data[pos] == b'\r') {
            pos += 1;
        }
        if pos < n && data[pos] != b'>' {
            return Err(invalid(
                Error::Fasta,
                format!("byte {pos}: expected '>' at the start of a record"),
            ));
        }
        while pos < n {
            // header line
            let hend = memchr::memchr(b'\n', &data[pos..])
                .map(|i| pos + i)
                .unwrap_or(n);
            let mut header = &data[pos + 1..hend];
            if header.last() == Some(&b'\r') {
                header = &header[..header.len() - 1];
            }
            let name = String::from_utf8_lossy(header_name(header)).into_owned();
            let this = Unnamed {
                record: rec_index,
                byte: pos as u64,
            };
            rec_index += 1;
            if name.is_empty() && strict {
                return Err(invalid(Error::Fasta, this.to_string()));
            }
            if !name.is_empty() && !seen.insert(name.clone()) {
                return Err(invalid(
                    Error::Fasta,
                    format!(
                        "record {} at byte {pos}: duplicate sequence name {name:?}",
                        this.record
                    ),
                ));
            }
            let offset = (hend + 1).min(n);
            let mut p = offset;
            let (mut lb, mut lw, mut length) = (0u64, 0u64, 0u64);
            let mut ended = false; // a short or blank line was seen
            while p < n && data[p] != b'>' {
                let lend = memchr::memchr(b'\n', &data[p..])
                    .map(|i| p + i)
                    .unwrap_or(n);
                let has_nl = lend < n;
                let mut bases = (lend - p) as u64;
                if bases > 0 && data[lend - 1] == b'\r' {
                    bases -= 1;
                }
                let width = (lend - p) as u64 + u64::from(has_nl);
                if bases > 0 {
                    if ended {
                        return Err(invalid(
                            Error::Fasta,
                            format!(
                                "record {} ({name}) line at byte {p}: different line length inside a sequence",
                                this.record
                            ),
                        ));
                    }
                    if lb == 0 {
                        lb = bases;
                        lw = width;
                    } else if bases > lb || (bases == lb && width != lw && has_nl) {
                        return Err(invalid(
                            Error::Fasta,
                            format!(
                                "record {} ({name}) line at byte {p}: {bases} bases, first line has {lb}",
                                this.record
                            ),
                        ));
                    } else if bases < lb {
                        ended = true;
                    }
                    length += bases;
                } else {
                    ended = true;
                }
                p = lend + 1;
            }
            if lb > 0 && lw == lb {
                // single line without terminator at EOF
                lw = lb + 1;
            }
            if name.is_empty() {
                unnamed.push(this);
            } else {
                rows.push(IndexRecord {
                    name,
                    length,
                    offset: offset as u64,
                    line_bases: lb,
                    line_width: lw,
                });
            }
            pos = p.min(n);
        }
        Ok((Index(rows), unnamed))
    }

    /// Parses `.fai` text (5 tab-separated columns; a 6th `qualoffset` column is ignored).
    pub fn parse(text: &str) -> io::Result<Index> {
        let mut rows = Vec::new();
        for (i, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let f: Vec<&str> = line.split('\t').collect();
            if f.len() < 5 {
                return Err(invalid(
                    Error::Index,
                    format!("fai line {}: {} columns, need 5", i + 1, f.len()),
                ));
            }
            let num = |k: usize, what: &str| {
                f[k].trim().parse::<u64>().map_err(|_| {
                    invalid(
                        Error::Index,
                        format!("fai line {}: {what} {:?} is not a number", i + 1, f[k]),
                    )
                })
            };
            rows.push(IndexRecord {
                name: f[0].to_string(),
                length: num(1, "length")?,
                offset: num(2, "offset")?,
                line_bases: num(3, "linebases")?,
                line_width: num(4, "linewidth")?,
            });
        }
        Ok(Index(rows))
    }

    /// Writes the index as `.fai` text.
    pub fn to_fai(&self) -> String {
        let mut s = String::new();
        for r in &self.0 {
            s.push_str(&format!(
                "{}\t{}\t{}\t{}\t{}\n",
                r.name, r.length, r.offset, r.line_bases, r.line_width
            ));
        }
        s
    }

    /// The row of sequence `name`.
    pub fn get(&self, name: &str) -> Option<&IndexRecord> {
        self.0.iter().find(|r| r.name == name)
    }

    /// Compares this (shipped) index with one built from the data: `None` when they agree,
    /// else a one-line description of the first difference.
    pub fn disagreement(&self, built: &Index) -> Option<String> {
        if self.0.len() != built.0.len() {
            return Some(format!(
                "fai lists {} sequences, the data has {}",
                self.0.len(),
                built.0.len()
            ));
        }
        for (i, (a, b)) in self.0.iter().zip(&built.0).enumerate() {
            if a != b {
                return Some(format!(
                    "fai row {i} ({}: length {}, offset {}, linebases {}, linewidth {}) differs from the data ({}: length {}, offset {}, linebases {}, linewidth {})",
                    a.name,
                    a.length,
                    a.offset,
                    a.line_bases,
                    a.line_width,
                    b.name,
                    b.length,
                    b.offset,
                    b.line_bases,
                    b.line_width
                ));
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_like_samtools() {
        let fa = b">a desc\nACGT\nAC\n>b\nAAAA\nCCCC\n";
        let idx = Index::build(fa).unwrap();
        assert_eq!(idx.to_fai(), "a\t6\t8\t4\t5\nb\t8\t19\t4\t5\n");
    }

    #[test]
    fn crlf_lines() {
        let fa = b">a\r\nACGT\r\nAC\r\n";
        let idx = Index::build(fa).unwrap();
        assert_eq!(
            idx.0[0],
            IndexRecord {
                name: "a".into(),
                length: 6,
                offset: 4,
                line_bases: 4,
                line_width: 6
            }
        );
    }

    #[test]
    fn ragged_lines_refused() {
        let e = Index::build(b">a\nAC\nACGT\n").unwrap_err();
        assert!(e.to_string().contains("bases"), "{e}");
        let e = Index::build(b">a\nACGT\nAC\nACGT\n").unwrap_err();
        assert!(e.to_string().contains("different line length"), "{e}");
    }

    #[test]
    fn empty_name_refused() {
        let e = Index::build(b">\nACGT\n").unwrap_err();
        assert!(e.to_string().contains("empty sequence name"), "{e}");
    }
}
