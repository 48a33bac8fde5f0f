//! Long-read windows: windows cut from the reads of a BAM or CRAM file (aligned or not),
//! either fixed length and stride along each read's sequence, or whole reads up to a maximum
//! length.
//!
//! Each window keeps the read's mapping (reference name, 0-based position, strand, MAPQ) as
//! metadata and its offset in the read; qualities are optional. Read names are not carried
//! unless asked for ([`ReadSpec::keep_names`]): callers that write samples number reads by
//! their ordinal instead.
//!
//! ```no_run
//! use bomdata_genomic::cram::AlignmentReader;
//! use bomdata_ingest::sources::genome::reads::{ReadSpec, read_windows};
//! let mut r = AlignmentReader::open("reads.bam".as_ref(), None).unwrap();
//! let spec = ReadSpec { length: Some(1000), stride: 1000, ..ReadSpec::default() };
//! read_windows(&mut r, &spec, |w| { assert_eq!(w.seq.len(), 1000); Ok(()) }).unwrap();
//! ```

use std::io;

use bomdata_genomic::cram::{Alignment, AlignmentReader};
use bomdata_genomic::sequence::reverse_complement;

use super::windows::WindowError;

/// How reads are cut into windows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReadSpec {
    /// Window length; `None` emits each whole read (truncated to `max_length`).
    pub length: Option<u64>,
    /// Distance between window starts along the read (fixed-length mode).
    pub stride: u64,
    /// Whole-read mode: reads longer than this are cut to their first `max_length` bases
    /// (`None`: no limit).
    pub max_length: Option<u64>,
    /// Reads shorter than this are skipped.
    pub min_length: u64,
    /// Keep qualities (when the record has them).
    pub quality: bool,
    /// Include secondary (0x100) and supplementary (0x800) records; they repeat bases of a
    /// primary record, so they are skipped by default.
    pub include_secondary: bool,
    /// Include unmapped reads.
    pub include_unmapped: bool,
    /// Restore the sequencer's orientation: reads on the reverse strand (0x10) are
    /// reverse-complemented (qualities reversed). Off: bases as stored (SAM SEQ).
    pub original_orientation: bool,
    /// Carry read names (identity) into the windows.
    pub keep_names: bool,
}

impl Default for ReadSpec {
    fn default() -> Self {
        ReadSpec {
            length: None,
            stride: 1,
            max_length: None,
            min_length: 1,
            quality: false,
            include_secondary: false,
            include_unmapped: true,
            original_orientation: false,
            keep_names: false,
        }
    }
}

/// A window of one read.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReadWindow {
    /// Ordinal of the read's record in the file (0-based, counting every record).
    pub read_index: u64,
    /// Read name, only with [`ReadSpec::keep_names`].
    pub name: Option<String>,
    /// SAM flag of the record.
    pub flag: u16,
    /// Reference name (None for unmapped reads).
    pub rname: Option<String>,
    /// 0-based mapping position of the read (None when unmapped).
    pub pos0: Option<u64>,
    /// Mapping quality (255 when missing).
    pub mapq: u8,
    /// Read length in bases.
    pub read_length: u64,
    /// Offset of the window's first base in the read (in the orientation emitted).
    pub offset: u64,
    /// Whether the bases were reverse-complemented to the sequencer's orientation.
    pub reverse_complemented: bool,
    /// Bases.
    pub seq: Vec<u8>,
    /// Phred qualities (no offset), with [`ReadSpec::quality`] when the read has them.
    pub qual: Option<Vec<u8>>,
}

fn check(spec: &ReadSpec) -> io::Result<()> {
    if spec.length == Some(0) || (spec.length.is_some() && spec.stride == 0) {
        return Err(WindowError::ZeroReadGeometry.into());
    }
    if spec.max_length == Some(0) {
        return Err(WindowError::ZeroMaxLength.into());
    }
    Ok(())
}

/// Cuts the windows of one record; `rname` is its reference name. Returns the number of
/// windows emitted.
pub fn windows_of(
    a: &Alignment,
    index: u64,
    rname: Option<&str>,
    spec: &ReadSpec,
    mut f: impl FnMut(&ReadWindow) -> io::Result<()>,
) -> io::Result<u64> {
    check(spec)?;
    if (!spec.include_secondary && (a.is_secondary() || a.is_supplementary()))
        || (!spec.include_unmapped && a.is_unmapped())
        || (a.seq.len() as u64) < spec.min_length.max(1)
    {
        return Ok(0);
    }
    let flip = spec.original_orientation && a.is_reverse();
    let mut seq = a.seq.clone();
    let mut qual = if spec.quality { a.qual.clone() } else { None };
    if let Some(q) = &qual
        && q.len() != seq.len()
    {
        return Err(WindowError::QualityLength {
            index,
            quals: q.len(),
            bases: seq.len(),
        }
        .into());
    }
    if flip {
        reverse_complement(&mut seq);
        if let Some(q) = &mut qual {
            q.reverse();
        }
    }
    let mut w = ReadWindow {
        read_index: index,
        name: if spec.keep_names {
            a.qname.clone()
        } else {
            None
        },
        flag: a.flag,
        rname: if a.is_unmapped() {
            None
        } else {
            rname.map(str::to_string)
        },
        pos0: if a.is_unmapped() { None } else { a.pos0 },
        mapq: a.mapq,
        read_length: seq.len() as u64,
        offset: 0,
        reverse_complemented: flip,
        seq: Vec::new(),
        qual: None,
    };
    let len = seq.len() as u64;
    let mut n = 0;
    let mut emit = |s: u64, e: u64, w: &mut ReadWindow| -> io::Result<()> {
        w.offset = s;
        w.seq.clear();
        w.seq.extend_from_slice(&seq[s as usize..e as usize]);
        w.qual = qual.as_ref().map(|q| q[s as usize..e as usize].to_vec());
        n += 1;
        f(w)
    };
    match spec.length {
        None => {
            let e = spec.max_length.map_or(len, |m| m.min(len));
            emit(0, e, &mut w)?;
        }
        Some(l) => {
            let mut s = 0;
            while s + l <= len {
                emit(s, s + l, &mut w)?;
                s += spec.stride;
            }
        }
    }
    Ok(n)
}

/// Cuts every record of `reader` into windows, in file order.
pub fn read_windows(
    reader: &mut AlignmentReader,
    spec: &ReadSpec,
    mut f: impl FnMut(&ReadWindow) -> io::Result<()>,
) -> io::Result<u64> {
    check(spec)?;
    let names: Vec<String> = reader.references().iter().map(|r| r.0.clone()).collect();
    let mut i = 0u64;
    let mut n = 0u64;
    reader.for_each(|a| {
        let rname = a.ref_id.and_then(|id| names.get(id)).map(String::as_str);
        n += windows_of(a, i, rname, spec, &mut f)?;
        i += 1;
        Ok(())
    })?;
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(seq: &[u8], flag: u16) -> Alignment {
        Alignment {
            qname: Some("read/1".into()),
            flag,
            ref_id: Some(0),
            pos0: Some(10),
            mapq: 60,
            cigar: Some(format!("{}M", seq.len())),
            seq: seq.to_vec(),
            qual: Some((0..seq.len() as u8).collect()),
        }
    }

    fn collect(a: &Alignment, spec: &ReadSpec) -> Vec<ReadWindow> {
        let mut v = Vec::new();
        windows_of(a, 7, Some("chr1"), spec, |w| {
            v.push(w.clone());
            Ok(())
        })
        .unwrap();
        v
    }

    #[test]
    fn fixed_windows_and_whole_reads() {
        let a = rec(b"ACGTACGTAC", 0);
        let spec = ReadSpec {
            length: Some(4),
            stride: 3,
            quality: true,
            ..ReadSpec::default()
        };
        let v = collect(&a, &spec);
        assert_eq!(v.len(), 3);
        assert_eq!(v[1].seq, b"TACG");
        assert_eq!(v[1].offset, 3);
        assert_eq!(v[1].qual.as_deref(), Some(&[3u8, 4, 5, 6][..]));
        assert_eq!(v[0].name, None);
        assert_eq!(v[0].rname.as_deref(), Some("chr1"));
        assert_eq!(v[0].pos0, Some(10));
        assert_eq!(v[0].read_index, 7);
        let whole = ReadSpec {
            max_length: Some(6),
            keep_names: true,
            ..ReadSpec::default()
        };
        let v = collect(&a, &whole);
        assert_eq!(v.len(), 1);
        assert_eq!(v[0].seq, b"ACGTAC");
        assert_eq!(v[0].qual, None);
        assert_eq!(v[0].name.as_deref(), Some("read/1"));
    }

    #[test]
    fn orientation_secondary_and_unmapped() {
        let a = rec(b"AACG", 0x10);
        let spec = ReadSpec {
            original_orientation: true,
            quality: true,
            ..ReadSpec::default()
        };
        let v = collect(&a, &spec);
        assert_eq!(v[0].seq, b"CGTT");
        assert_eq!(v[0].qual.as_deref(), Some(&[3u8, 2, 1, 0][..]));
        assert!(v[0].reverse_complemented);
        assert!(collect(&rec(b"AACG", 0x100), &spec).is_empty());
        assert!(collect(&rec(b"AACG", 0x800), &spec).is_empty());
        let un = collect(&rec(b"AACG", 0x4), &spec);
        assert_eq!((un[0].rname.clone(), un[0].pos0), (None, None));
        let no_un = ReadSpec {
            include_unmapped: false,
            ..spec
        };
        assert!(collect(&rec(b"AACG", 0x4), &no_un).is_empty());
    }

    #[test]
    fn bad_specs_are_errors() {
        let a = rec(b"ACGT", 0);
        for spec in [
            ReadSpec {
                length: Some(0),
                ..ReadSpec::default()
            },
            ReadSpec {
                length: Some(2),
                stride: 0,
                ..ReadSpec::default()
            },
        ] {
            let e = windows_of(&a, 0, None, &spec, |_| Ok(())).unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::InvalidData);
        }
    }
}
