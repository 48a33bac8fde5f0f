//! The typed error inside every `io::ErrorKind::InvalidData` this crate returns.

use std::io;

/// What is wrong with a genomic input, and where.
///
/// Every message is one lowercase line naming the file part, record or byte offset.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A FASTA file is malformed.
    #[error("fasta: {0}")]
    Fasta(String),
    /// A FASTA index (`.fai`) or BGZF index (`.gzi`) does not match its data file.
    #[error("index: {0}")]
    Index(String),
    /// A BGZF stream is malformed or truncated.
    #[error("bgzf: {0}")]
    Bgzf(String),
    /// A 2bit file is malformed.
    #[error("2bit: {0}")]
    TwoBit(String),
    /// A BED file is malformed.
    #[error("bed: {0}")]
    Bed(String),
    /// A GTF/GFF3 file is malformed.
    #[error("gff: {0}")]
    Gff(String),
    /// A bigWig/bigBed file is malformed.
    #[error("bbi: {0}")]
    Bbi(String),
    /// A BAM file is malformed.
    #[error("bam: {0}")]
    Bam(String),
    /// A CRAM file is malformed, or its reference is missing or wrong.
    #[error("cram: {0}")]
    Cram(String),
    /// A region string or coordinate is invalid.
    #[error("region: {0}")]
    Region(String),
}

impl Error {
    /// Wraps the error as `io::ErrorKind::InvalidData`.
    pub fn into_io(self) -> io::Error {
        io::Error::new(io::ErrorKind::InvalidData, self)
    }
}

impl From<Error> for io::Error {
    fn from(e: Error) -> Self {
        e.into_io()
    }
}

/// Shorthand: an `InvalidData` error built from a variant constructor and a message.
pub(crate) fn invalid(make: fn(String) -> Error, msg: impl Into<String>) -> io::Error {
    make(msg.into()).into_io()
}

/// A parsed region `NAME:START-END` (0-based, half-open).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Region {
    /// Sequence name.
    pub name: String,
    /// First base, 0-based.
    pub start: u64,
    /// One past the last base.
    pub end: u64,
}

impl Region {
    /// Parses `NAME:START-END` (0-based half-open; commas in numbers allowed). The name may
    /// itself contain `:`; the last `:` separates the coordinates.
    pub fn parse(s: &str) -> io::Result<Region> {
        let (name, range) = s
            .rsplit_once(':')
            .ok_or_else(|| invalid(Error::Region, format!("{s:?} is not NAME:START-END")))?;
        let (a, b) = range
            .split_once('-')
            .ok_or_else(|| invalid(Error::Region, format!("{s:?} is not NAME:START-END")))?;
        let num = |t: &str| {
            t.replace(',', "")
                .parse::<u64>()
                .map_err(|_| invalid(Error::Region, format!("{t:?} in {s:?} is not a coordinate")))
        };
        let (start, end) = (num(a)?, num(b)?);
        if end < start || name.is_empty() {
            return Err(invalid(
                Error::Region,
                format!("{s:?}: empty name or end before start"),
            ));
        }
        Ok(Region {
            name: name.to_string(),
            start,
            end,
        })
    }
}
