//! Compression sniffing: gzip (including BGZF and multi-member gzip) and zstd.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::Path;

/// The compression a byte stream starts with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compression {
    /// No known compression magic.
    None,
    /// gzip (RFC 1952), not BGZF.
    Gzip,
    /// BGZF: gzip members carrying the `BC` extra field (SAM/BAM spec §4.1).
    Bgzf,
    /// Zstandard frame.
    Zstd,
}

/// Detects the compression from the first bytes of a stream.
///
/// ```
/// use bomdata_format_core::compression::{sniff, Compression};
/// assert_eq!(sniff(&[0x1f, 0x8b, 8, 0]), Compression::Gzip);
/// assert_eq!(sniff(b"ni1\0"), Compression::None);
/// ```
pub fn sniff(head: &[u8]) -> Compression {
    if head.len() >= 2 && head[0] == 0x1f && head[1] == 0x8b {
        // BGZF: FLG.FEXTRA set, XLEN >= 6, subfield 'B','C'.
        if head.len() >= 16 && head[3] & 4 != 0 && head[12] == b'B' && head[13] == b'C' {
            Compression::Bgzf
        } else {
            Compression::Gzip
        }
    } else if head.len() >= 4 && head[..4] == [0x28, 0xb5, 0x2f, 0xfd] {
        Compression::Zstd
    } else {
        Compression::None
    }
}

/// A buffered reader that transparently decompresses gzip/BGZF (all members).
pub enum MaybeCompressed<R: Read> {
    /// Plain bytes.
    Plain(BufReader<R>),
    /// gzip or BGZF, every member decoded in turn.
    Gzip(Box<BufReader<flate2::read::MultiGzDecoder<BufReader<R>>>>),
}

impl<R: Read> Read for MaybeCompressed<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            MaybeCompressed::Plain(r) => r.read(buf),
            MaybeCompressed::Gzip(r) => r.read(buf),
        }
    }
}

impl<R: Read> BufRead for MaybeCompressed<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        match self {
            MaybeCompressed::Plain(r) => r.fill_buf(),
            MaybeCompressed::Gzip(r) => r.fill_buf(),
        }
    }
    fn consume(&mut self, amt: usize) {
        match self {
            MaybeCompressed::Plain(r) => r.consume(amt),
            MaybeCompressed::Gzip(r) => r.consume(amt),
        }
    }
}

impl<R: Read> MaybeCompressed<R> {
    /// Wraps `inner`, sniffing its first bytes. Returns the reader and what was detected.
    pub fn new(inner: R) -> io::Result<(Self, Compression)> {
        let mut br = BufReader::with_capacity(256 * 1024, inner);
        let head = br.fill_buf()?;
        let c = sniff(head);
        Ok(match c {
            Compression::Gzip | Compression::Bgzf => (
                MaybeCompressed::Gzip(Box::new(BufReader::with_capacity(
                    256 * 1024,
                    flate2::read::MultiGzDecoder::new(br),
                ))),
                c,
            ),
            _ => (MaybeCompressed::Plain(br), c),
        })
    }
}

/// Opens a file, undoing gzip/BGZF compression when its magic says so.
pub fn open(path: &Path) -> io::Result<(MaybeCompressed<File>, Compression)> {
    MaybeCompressed::new(File::open(path)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn reads_multi_member_gzip() {
        let mut all = Vec::new();
        for part in [&b"hello "[..], &b"world"[..]] {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            e.write_all(part).unwrap();
            all.extend(e.finish().unwrap());
        }
        let (mut r, c) = MaybeCompressed::new(&all[..]).unwrap();
        assert_eq!(c, Compression::Gzip);
        let mut s = String::new();
        r.read_to_string(&mut s).unwrap();
        assert_eq!(s, "hello world");
    }
}
