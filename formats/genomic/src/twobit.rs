//! UCSC 2bit: both byte orders, version 0 (32-bit offsets) and version 1 (64-bit offsets),
//! N blocks and soft-mask blocks. Sequences are returned as FASTA would store them: bases in
//! mask blocks lowercase, N blocks as `N` (`n` inside a mask block), like Biopython.
//!
//! Layout: header (signature `0x1A412743`, version, count, reserved), an index of
//! (name length, name, offset), then per sequence: dnaSize, nBlockCount, nBlock starts and sizes,
//! maskBlockCount, mask starts and sizes, reserved, packed bases (2 bits each, T C A G = 0 1 2 3,
//! first base in the high bits).

use std::fs::File;
use std::io;
use std::path::Path;

use crate::error::{Error, invalid};

/// The 2bit signature.
pub const SIGNATURE: u32 = 0x1A41_2743;

/// Per-sequence header of a 2bit record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SeqInfo {
    /// Sequence name.
    pub name: String,
    /// Number of bases.
    pub length: u64,
    /// N blocks as (start, length).
    pub n_blocks: Vec<(u64, u64)>,
    /// Soft-mask blocks as (start, length).
    pub mask_blocks: Vec<(u64, u64)>,
    /// Byte offset of the packed bases.
    pub dna_offset: u64,
}

enum Bytes {
    Mmap(memmap2::Mmap),
    Owned(Vec<u8>),
}

/// A 2bit file opened for reading.
pub struct TwoBit {
    data: Bytes,
    big_endian: bool,
    version: u32,
    seqs: Vec<SeqInfo>,
}

fn decode_table() -> [[u8; 4]; 256] {
    let mut t = [[0u8; 4]; 256];
    for (b, row) in t.iter_mut().enumerate() {
        for (k, out) in row.iter_mut().enumerate() {
            *out = b"TCAG"[(b >> (6 - 2 * k)) & 3];
        }
    }
    t
}

/// Bounds-checked 32-bit reads in the file's byte order.
struct Rd<'a> {
    d: &'a [u8],
    big_endian: bool,
}

impl Rd<'_> {
    /// The u32 at byte `off`; `what` names it in the error when it is past the end.
    fn u32(&self, off: usize, what: &str) -> io::Result<u32> {
        let d = self.d;
        let b = d.get(off..off + 4).ok_or_else(|| {
            invalid(
                Error::TwoBit,
                format!(
                    "{what} at byte {off} is past the end of the file ({} bytes)",
                    d.len()
                ),
            )
        })?;
        let a = [b[0], b[1], b[2], b[3]];
        Ok(if self.big_endian {
            u32::from_be_bytes(a)
        } else {
            u32::from_le_bytes(a)
        })
    }
}

/// Reads the `count` index entries (name, record offset) that follow the 16-byte header.
fn read_index(rd: &Rd<'_>, version: u32, count: usize) -> io::Result<Vec<(String, u64)>> {
    let (d, big_endian) = (rd.d, rd.big_endian);
    let rd32 = |off: usize, what: &str| rd.u32(off, what);
    let mut off = 16usize;
    let mut index = Vec::with_capacity(count);
    for i in 0..count {
        let nlen = *d.get(off).ok_or_else(|| {
            invalid(
                Error::TwoBit,
                format!("index entry {i} truncated at byte {off}"),
            )
        })? as usize;
        let name = d.get(off + 1..off + 1 + nlen).ok_or_else(|| {
            invalid(
                Error::TwoBit,
                format!("index entry {i} name truncated at byte {off}"),
            )
        })?;
        let name = String::from_utf8_lossy(name).into_owned();
        off += 1 + nlen;
        let rec_off = if version == 1 {
            let hi = u64::from(rd32(off, "record offset")?);
            let lo = u64::from(rd32(off + 4, "record offset")?);
            off += 8;
            if big_endian {
                (hi << 32) | lo
            } else {
                (lo << 32) | hi
            }
        } else {
            off += 4;
            u64::from(rd32(off - 4, "record offset")?)
        };
        index.push((name, rec_off));
    }
    Ok(index)
}

/// Reads sequence `i`'s record at `rec_off`: length, N and mask blocks, packed-DNA offset.
fn read_record(rd: &Rd<'_>, i: usize, name: String, rec_off: u64) -> io::Result<SeqInfo> {
    let d = rd.d;
    let rd32 = |off: usize, what: &str| rd.u32(off, what);
    if rec_off > d.len() as u64 {
        return Err(invalid(
            Error::TwoBit,
            format!("sequence {i} ({name}): offset {rec_off} past the end of the file"),
        ));
    }
    let mut p = rec_off as usize;
    let length = u64::from(rd32(p, "dnaSize")?);
    p += 4;
    let blocks = |p: &mut usize, what: &str| -> io::Result<Vec<(u64, u64)>> {
        let n = rd32(*p, what)? as usize;
        *p += 4;
        if n.saturating_mul(8) > d.len().saturating_sub(*p) {
            return Err(invalid(
                Error::TwoBit,
                format!("sequence {i} ({name}): {what} {n} does not fit in the file"),
            ));
        }
        let mut v = Vec::with_capacity(n);
        for k in 0..n {
            let s = u64::from(rd32(*p + 4 * k, what)?);
            let l = u64::from(rd32(*p + 4 * (n + k), what)?);
            if s + l > length {
                return Err(invalid(
                    Error::TwoBit,
                    format!(
                        "sequence {i} ({name}): {what} block {k} ({s}+{l}) past length {length}"
                    ),
                ));
            }
            v.push((s, l));
        }
        *p += 8 * n;
        Ok(v)
    };
    let n_blocks = blocks(&mut p, "nBlockCount")?;
    let mask_blocks = blocks(&mut p, "maskBlockCount")?;
    p += 4; // reserved
    let need = length.div_ceil(4);
    if p as u64 + need > d.len() as u64 {
        return Err(invalid(
            Error::TwoBit,
            format!(
                "sequence {i} ({name}): {length} bases need {need} bytes at byte {p}, file has {}",
                d.len()
            ),
        ));
    }
    Ok(SeqInfo {
        name,
        length,
        n_blocks,
        mask_blocks,
        dna_offset: p as u64,
    })
}

impl TwoBit {
    /// Opens a 2bit file (memory-mapped).
    pub fn open(path: &Path) -> io::Result<Self> {
        let f = File::open(path)?;
        if f.metadata()?.len() == 0 {
            return Self::from_bytes(Vec::new());
        }
        // SAFETY: read-only map; the file is assumed not to be truncated while mapped.
        let m = unsafe { memmap2::Mmap::map(&f)? };
        Self::parse(Bytes::Mmap(m))
    }

    /// Reads a 2bit file held in memory.
    pub fn from_bytes(v: Vec<u8>) -> io::Result<Self> {
        Self::parse(Bytes::Owned(v))
    }

    fn bytes(&self) -> &[u8] {
        match &self.data {
            Bytes::Mmap(m) => m,
            Bytes::Owned(v) => v,
        }
    }

    fn parse(data: Bytes) -> io::Result<Self> {
        let d: &[u8] = match &data {
            Bytes::Mmap(m) => m,
            Bytes::Owned(v) => v,
        };
        if d.len() < 16 {
            return Err(invalid(
                Error::TwoBit,
                format!("file is {} bytes, shorter than the 16-byte header", d.len()),
            ));
        }
        let sig_le = u32::from_le_bytes([d[0], d[1], d[2], d[3]]);
        let big_endian = if sig_le == SIGNATURE {
            false
        } else if sig_le.swap_bytes() == SIGNATURE {
            true
        } else {
            return Err(invalid(
                Error::TwoBit,
                format!("bad signature 0x{sig_le:08x} at byte 0 (want 0x1a412743)"),
            ));
        };
        let rd = Rd { d, big_endian };
        let rd32 = |off: usize, what: &str| rd.u32(off, what);
        let version = rd32(4, "version")?;
        if version > 1 {
            return Err(invalid(
                Error::TwoBit,
                format!("version {version} at byte 4 is not 0 or 1"),
            ));
        }
        let count = rd32(8, "sequence count")? as usize;
        // each index entry needs at least 1 + 4 bytes
        if count > d.len() / 5 {
            return Err(invalid(
                Error::TwoBit,
                format!("sequence count {count} does not fit in {} bytes", d.len()),
            ));
        }
        let index = read_index(&rd, version, count)?;
        let mut seqs = Vec::with_capacity(count);
        for (i, (name, rec_off)) in index.into_iter().enumerate() {
            seqs.push(read_record(&rd, i, name, rec_off)?);
        }
        Ok(TwoBit {
            data,
            big_endian,
            version,
            seqs,
        })
    }

    /// True when the file is big-endian.
    pub fn big_endian(&self) -> bool {
        self.big_endian
    }

    /// The format version (0: 32-bit offsets, 1: 64-bit offsets).
    pub fn version(&self) -> u32 {
        self.version
    }

    /// The sequences, in file order.
    pub fn sequences(&self) -> &[SeqInfo] {
        &self.seqs
    }

    /// Reads bases `[start, end)` of `name` into `out` (cleared first).
    pub fn fetch(&self, name: &str, start: u64, end: u64, out: &mut Vec<u8>) -> io::Result<()> {
        out.clear();
        let s = self
            .seqs
            .iter()
            .find(|s| s.name == name)
            .ok_or_else(|| invalid(Error::Region, format!("no sequence named {name:?}")))?;
        if start > end || end > s.length {
            return Err(invalid(
                Error::Region,
                format!(
                    "{name}:{start}-{end} is outside the sequence (length {})",
                    s.length
                ),
            ));
        }
        let d = self.bytes();
        let table = decode_table();
        let first_byte = (s.dna_offset + start / 4) as usize;
        let last_byte = (s.dna_offset + (end.max(1) - 1) / 4) as usize;
        out.reserve((end - start) as usize + 8);
        let skip = (start % 4) as usize;
        if end > start {
            for &b in &d[first_byte..=last_byte] {
                out.extend_from_slice(&table[b as usize]);
            }
            out.drain(..skip);
            out.truncate((end - start) as usize);
        }
        for &(bs, bl) in &s.n_blocks {
            let (a, b) = (bs.max(start), (bs + bl).min(end));
            if a < b {
                out[(a - start) as usize..(b - start) as usize].fill(b'N');
            }
        }
        for &(bs, bl) in &s.mask_blocks {
            let (a, b) = (bs.max(start), (bs + bl).min(end));
            if a < b {
                out[(a - start) as usize..(b - start) as usize].make_ascii_lowercase();
            }
        }
        Ok(())
    }
}

/// Writes a 2bit file from (name, sequence-as-stored) pairs: lowercase runs become mask blocks,
/// N/n runs become N blocks, other letters must be ACGT (any case).
pub fn write(seqs: &[(&str, &[u8])], big_endian: bool, version: u32) -> io::Result<Vec<u8>> {
    let put32 = |v: &mut Vec<u8>, x: u32| {
        if big_endian {
            v.extend(x.to_be_bytes())
        } else {
            v.extend(x.to_le_bytes())
        }
    };
    let runs = |seq: &[u8], f: &dyn Fn(u8) -> bool| {
        let mut v = Vec::new();
        let mut i = 0;
        while i < seq.len() {
            if f(seq[i]) {
                let j = seq[i..]
                    .iter()
                    .position(|&b| !f(b))
                    .map(|k| i + k)
                    .unwrap_or(seq.len());
                v.push((i as u32, (j - i) as u32));
                i = j;
            } else {
                i += 1;
            }
        }
        v
    };
    let mut records = Vec::new();
    for (name, seq) in seqs {
        let mut r = Vec::new();
        let nb = runs(seq, &|b| b == b'N' || b == b'n');
        let mb = runs(seq, &|b| b.is_ascii_lowercase());
        put32(&mut r, seq.len() as u32);
        for blocks in [&nb, &mb] {
            put32(&mut r, blocks.len() as u32);
            for &(s, _) in blocks.iter() {
                put32(&mut r, s);
            }
            for &(_, l) in blocks.iter() {
                put32(&mut r, l);
            }
        }
        put32(&mut r, 0);
        for chunk in seq.chunks(4) {
            let mut byte = 0u8;
            for k in 0..4 {
                let code = match chunk.get(k).map(|b| b.to_ascii_uppercase()) {
                    Some(b'T') | None | Some(b'N') => 0,
                    Some(b'C') => 1,
                    Some(b'A') => 2,
                    Some(b'G') => 3,
                    Some(other) => {
                        return Err(invalid(
                            Error::TwoBit,
                            format!("sequence {name}: base {:?} cannot be stored", other as char),
                        ));
                    }
                };
                byte |= code << (6 - 2 * k);
            }
            r.push(byte);
        }
        records.push(r);
    }
    let mut out = Vec::new();
    put32(&mut out, SIGNATURE);
    put32(&mut out, version);
    put32(&mut out, seqs.len() as u32);
    put32(&mut out, 0);
    let index_len: usize = seqs
        .iter()
        .map(|(n, _)| 1 + n.len() + if version == 1 { 8 } else { 4 })
        .sum();
    let mut off = (16 + index_len) as u64;
    for ((name, _), r) in seqs.iter().zip(&records) {
        out.push(name.len() as u8);
        out.extend(name.as_bytes());
        if version == 1 {
            let (hi, lo) = ((off >> 32) as u32, off as u32);
            if big_endian {
                put32(&mut out, hi);
                put32(&mut out, lo);
            } else {
                put32(&mut out, lo);
                put32(&mut out, hi);
            }
        } else {
            put32(
                &mut out,
                u32::try_from(off)
                    .map_err(|_| invalid(Error::TwoBit, "file too large for version 0"))?,
            );
        }
        off += r.len() as u64;
    }
    for r in records {
        out.extend(r);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip_all_variants() {
        let a: &[u8] = b"ACGTacgtNNNNnnACG";
        let b: &[u8] = b"nnnnTTTTGGGGccccA";
        for be in [false, true] {
            for v in [0, 1] {
                let bytes = write(&[("a", a), ("bb", b)], be, v).unwrap();
                let t = TwoBit::from_bytes(bytes).unwrap();
                assert_eq!(t.big_endian(), be);
                assert_eq!(t.version(), v);
                let mut out = Vec::new();
                t.fetch("a", 0, a.len() as u64, &mut out).unwrap();
                assert_eq!(out, a);
                t.fetch("bb", 3, 14, &mut out).unwrap();
                assert_eq!(out, &b[3..14]);
            }
        }
    }

    #[test]
    fn bad_signature() {
        let e = TwoBit::from_bytes(vec![0u8; 32]).err().unwrap();
        assert_eq!(e.kind(), io::ErrorKind::InvalidData);
        assert!(e.to_string().contains("bad signature"), "{e}");
    }

    #[test]
    fn huge_count_refused() {
        let mut b = write(&[("a", b"ACGT")], false, 0).unwrap();
        b[8..12].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(TwoBit::from_bytes(b).is_err());
    }
}
