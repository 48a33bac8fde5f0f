//! Delimited text (CSV, TSV, semicolon-separated): separator sniffing and a streaming record
//! reader.
//!
//! Fields follow RFC 4180 quoting (`"a ""quoted"" field"`, quoted fields may hold the separator
//! and newlines). Lines end in `\n` or `\r\n`; a UTF-8 byte-order mark is skipped; blank lines are
//! skipped (as pandas does). Text must be UTF-8.

use std::io::{self, BufRead};

use crate::TableError;

/// The separators [`sniff_delimiter`] chooses between.
pub const CANDIDATES: [u8; 3] = [b'\t', b';', b','];

/// Guesses the field separator from the first lines of a file (`,`, `;` or tab).
///
/// A candidate that occurs the same non-zero number of times (outside quotes) on every complete
/// line of `head` wins; among several, the one with most occurrences on the first line (ties: tab, then `;`, then `,`). When no
/// candidate is consistent, the one most frequent on the first line wins; a file with none of
/// them is one column wide and gets `,`.
pub fn sniff_delimiter(head: &[u8]) -> u8 {
    let head = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(head);
    // Split into complete lines (outside quotes), at most 50.
    let mut lines: Vec<&[u8]> = Vec::new();
    let mut in_quotes = false;
    let mut start = 0;
    for (i, &b) in head.iter().enumerate() {
        match b {
            b'"' => in_quotes = !in_quotes,
            b'\n' if !in_quotes => {
                let line = &head[start..i];
                if !line.iter().all(|c| c.is_ascii_whitespace()) {
                    lines.push(line);
                }
                start = i + 1;
                if lines.len() == 50 {
                    break;
                }
            }
            _ => {}
        }
    }
    if lines.is_empty() && start < head.len() {
        lines.push(&head[start..]);
    }
    let count = |line: &[u8], d: u8| {
        let mut q = false;
        line.iter()
            .filter(|&&b| {
                if b == b'"' {
                    q = !q;
                }
                !q && b == d
            })
            .count()
    };
    let Some(first) = lines.first() else {
        return b',';
    };
    let mut best: Option<(bool, usize, u8)> = None;
    for d in CANDIDATES {
        let n0 = count(first, d);
        if n0 == 0 {
            continue;
        }
        let consistent = lines.iter().all(|l| count(l, d) == n0);
        let key = (consistent, n0, d);
        if best.is_none_or(|b| (key.0, key.1) > (b.0, b.1)) {
            best = Some(key);
        }
    }
    best.map(|b| b.2).unwrap_or(b',')
}

/// One record: its fields as text.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Record {
    buf: String,
    ends: Vec<usize>,
}

impl Record {
    /// Number of fields.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// Whether the record has no fields.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// Field `i`, unquoted.
    pub fn get(&self, i: usize) -> Option<&str> {
        let end = *self.ends.get(i)?;
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        self.buf.get(start..end)
    }

    /// The fields in order.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        (0..self.len()).filter_map(|i| self.get(i))
    }

    fn clear(&mut self) {
        self.buf.clear();
        self.ends.clear();
    }
}

/// A streaming reader of delimited records.
pub struct Reader<R> {
    inner: R,
    delimiter: u8,
    line: u64,
    record_line: u64,
    raw: Vec<u8>,
    field: Vec<u8>,
    name: String,
}

impl<R: BufRead> Reader<R> {
    /// A reader with a known separator; `name` labels errors (usually the path).
    pub fn new(inner: R, delimiter: u8, name: impl Into<String>) -> Self {
        Reader {
            inner,
            delimiter,
            line: 0,
            record_line: 0,
            raw: Vec::new(),
            field: Vec::new(),
            name: name.into(),
        }
    }

    /// The separator.
    pub fn delimiter(&self) -> u8 {
        self.delimiter
    }

    /// The 1-based line on which the last record read starts.
    pub fn record_line(&self) -> u64 {
        self.record_line
    }

    /// The underlying reader.
    pub fn get_ref(&self) -> &R {
        &self.inner
    }

    /// Unwraps the underlying reader.
    pub fn into_inner(self) -> R {
        self.inner
    }

    /// Reads the next record into `record`; returns the bytes consumed, 0 at end of input.
    pub fn read_record(&mut self, record: &mut Record) -> io::Result<usize> {
        record.clear();
        loop {
            self.raw.clear();
            let n = self.inner.read_until(b'\n', &mut self.raw)?;
            if n == 0 {
                return Ok(0);
            }
            self.line += 1;
            self.record_line = self.line;
            if self.line == 1 && self.raw.starts_with(b"\xEF\xBB\xBF") {
                self.raw.drain(..3);
            }
            // A quoted field may span lines: read on while the quote count is odd.
            let mut consumed = n;
            while self.raw.iter().filter(|&&b| b == b'"').count() % 2 == 1 {
                let m = self.inner.read_until(b'\n', &mut self.raw)?;
                if m == 0 {
                    return Err(TableError::new(
                        &self.name,
                        "unterminated quoted field at end of file",
                    )
                    .at_row(self.record_line)
                    .into_io());
                }
                self.line += 1;
                consumed += m;
            }
            let mut end = self.raw.len();
            if end > 0 && self.raw[end - 1] == b'\n' {
                end -= 1;
            }
            if end > 0 && self.raw[end - 1] == b'\r' {
                end -= 1;
            }
            self.raw.truncate(end);
            if self.raw.iter().all(|b| b.is_ascii_whitespace()) {
                continue;
            }
            self.split(record)?;
            return Ok(consumed);
        }
    }

    fn split(&mut self, record: &mut Record) -> io::Result<()> {
        let d = self.delimiter;
        let mut out: Vec<u8> = std::mem::take(&mut self.field);
        out.clear();
        let mut ends = Vec::new();
        let raw = &self.raw;
        let mut i = 0;
        loop {
            // Start of a field.
            if raw.get(i) == Some(&b'"') {
                i += 1;
                loop {
                    match raw.get(i) {
                        Some(b'"') if raw.get(i + 1) == Some(&b'"') => {
                            out.push(b'"');
                            i += 2;
                        }
                        Some(b'"') => {
                            i += 1;
                            break;
                        }
                        Some(&b) => {
                            out.push(b);
                            i += 1;
                        }
                        None => break,
                    }
                }
                // Text after the closing quote up to the separator is kept as written.
                while let Some(&b) = raw.get(i) {
                    if b == d {
                        break;
                    }
                    out.push(b);
                    i += 1;
                }
            } else {
                while let Some(&b) = raw.get(i) {
                    if b == d {
                        break;
                    }
                    out.push(b);
                    i += 1;
                }
            }
            ends.push(out.len());
            if raw.get(i) == Some(&d) {
                i += 1;
                continue;
            }
            break;
        }
        match String::from_utf8(out) {
            Ok(s) => {
                record.buf = s;
                record.ends = ends;
                Ok(())
            }
            Err(e) => Err(TableError::new(
                &self.name,
                format!(
                    "text is not utf-8 (byte {} of the record)",
                    e.utf8_error().valid_up_to()
                ),
            )
            .at_row(self.record_line)
            .into_io()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffs() {
        assert_eq!(sniff_delimiter(b"a;b;c\n1;2;3\n"), b';');
        assert_eq!(sniff_delimiter(b"a\tb,c\n1\t2,3\n"), b'\t');
        assert_eq!(sniff_delimiter(b"a,b\n1,2\n"), b',');
        assert_eq!(sniff_delimiter(b"\"x;y\",b\n1,2\n"), b',');
        assert_eq!(sniff_delimiter(b"a\n1\n"), b',');
    }

    #[test]
    fn quotes_and_crlf() {
        let text = "a,\"b,\"\"c\"\"\"\r\n\"multi\nline\",2\r\n\n3,\n";
        let mut r = Reader::new(text.as_bytes(), b',', "t");
        let mut rec = Record::default();
        assert!(r.read_record(&mut rec).unwrap() > 0);
        assert_eq!(rec.iter().collect::<Vec<_>>(), ["a", "b,\"c\""]);
        r.read_record(&mut rec).unwrap();
        assert_eq!(rec.iter().collect::<Vec<_>>(), ["multi\nline", "2"]);
        assert_eq!(r.record_line(), 2);
        r.read_record(&mut rec).unwrap();
        assert_eq!(rec.iter().collect::<Vec<_>>(), ["3", ""]);
        assert_eq!(r.record_line(), 5);
        assert_eq!(r.read_record(&mut rec).unwrap(), 0);
    }
}
