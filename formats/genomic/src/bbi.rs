//! bigWig and bigBed (UCSC BBI files): header, chromosome B+ tree, R-tree index, zlib or
//! uncompressed data blocks. Only the full-resolution data is read (zoom levels are not used),
//! so values are exact.
//!
//! Layout (Kent et al. 2010, and the UCSC `bbiFile.h`): a 64-byte header (magic, version,
//! zoom level count, chromosome tree offset, data offset, index offset, field counts, autoSql
//! offset, total summary offset, uncompressed buffer size, extension offset), zoom headers, the
//! total summary, the chromosome B+ tree (magic `0x78CA8C91`), the data, and the R-tree
//! (magic `0x2468ACE0`) whose leaves point at data blocks.

use std::fs::File;
use std::io;
use std::path::Path;

use flate2::{Decompress, FlushDecompress};

use crate::error::{Error, invalid};

/// bigWig magic.
pub const BIGWIG_MAGIC: u32 = 0x888F_FC26;
/// bigBed magic.
pub const BIGBED_MAGIC: u32 = 0x8789_F2EB;
const CHROM_TREE_MAGIC: u32 = 0x78CA_8C91;
const RTREE_MAGIC: u32 = 0x2468_ACE0;

/// Which kind of BBI file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// bigWig: numeric per-base values.
    BigWig,
    /// bigBed: BED entries.
    BigBed,
}

/// The fixed 64-byte header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header {
    /// Format version.
    pub version: u16,
    /// Number of zoom levels.
    pub zoom_levels: u16,
    /// Offset of the chromosome B+ tree.
    pub chrom_tree_offset: u64,
    /// Offset of the data section.
    pub full_data_offset: u64,
    /// Offset of the R-tree index.
    pub full_index_offset: u64,
    /// bigBed: number of fields.
    pub field_count: u16,
    /// bigBed: number of standard BED fields.
    pub defined_field_count: u16,
    /// Offset of the autoSql text (0 when none).
    pub autosql_offset: u64,
    /// Offset of the total summary (0 when none).
    pub total_summary_offset: u64,
    /// Decompressed block buffer size; 0 means blocks are not compressed.
    pub uncompress_buf_size: u32,
}

/// The file-wide summary.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Summary {
    /// Bases with data.
    pub bases_covered: u64,
    /// Smallest value.
    pub min: f64,
    /// Largest value.
    pub max: f64,
    /// Sum of values over covered bases.
    pub sum: f64,
    /// Sum of squared values.
    pub sum_squares: f64,
}

/// A chromosome from the B+ tree.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Chrom {
    /// Name.
    pub name: String,
    /// ID used in the data.
    pub id: u32,
    /// Length in bases.
    pub length: u64,
}

/// A bigWig interval: `[start, end)` with one value.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Interval {
    /// Start, 0-based.
    pub start: u32,
    /// End, exclusive.
    pub end: u32,
    /// Value.
    pub value: f32,
}

/// A bigBed entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// Start, 0-based.
    pub start: u32,
    /// End, exclusive.
    pub end: u32,
    /// The remaining BED columns, tab-separated, as stored.
    pub rest: String,
}

/// Exact statistics of a bigWig region over its covered bases.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct RegionStats {
    /// Covered bases.
    pub covered: u64,
    /// Sum of per-base values.
    pub sum: f64,
    /// Sum of squared per-base values.
    pub sum_squares: f64,
    /// Smallest value (NaN when nothing is covered).
    pub min: f64,
    /// Largest value (NaN when nothing is covered).
    pub max: f64,
}

impl RegionStats {
    /// Mean over covered bases (None when none).
    pub fn mean(&self) -> Option<f64> {
        (self.covered > 0).then(|| self.sum / self.covered as f64)
    }
}

enum Bytes {
    Mmap(memmap2::Mmap),
    Owned(Vec<u8>),
}

/// An open bigWig or bigBed file.
pub struct BbiFile {
    data: Bytes,
    big_endian: bool,
    kind: Kind,
    header: Header,
    chroms: Vec<Chrom>,
    summary: Option<Summary>,
}

struct Cur<'a> {
    d: &'a [u8],
    be: bool,
}

impl Cur<'_> {
    fn take<const N: usize>(&self, off: u64, what: &str) -> io::Result<[u8; N]> {
        let o = usize::try_from(off).unwrap_or(usize::MAX);
        self.d
            .get(o..o.saturating_add(N))
            .and_then(|s| s.try_into().ok())
            .ok_or_else(|| {
                invalid(
                    Error::Bbi,
                    format!(
                        "{what} at byte {off} is past the end of the file ({} bytes)",
                        self.d.len()
                    ),
                )
            })
    }
    fn u8(&self, off: u64, what: &str) -> io::Result<u8> {
        Ok(self.take::<1>(off, what)?[0])
    }
    fn u16(&self, off: u64, what: &str) -> io::Result<u16> {
        let b = self.take::<2>(off, what)?;
        Ok(if self.be {
            u16::from_be_bytes(b)
        } else {
            u16::from_le_bytes(b)
        })
    }
    fn u32(&self, off: u64, what: &str) -> io::Result<u32> {
        let b = self.take::<4>(off, what)?;
        Ok(if self.be {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        })
    }
    fn u64(&self, off: u64, what: &str) -> io::Result<u64> {
        let b = self.take::<8>(off, what)?;
        Ok(if self.be {
            u64::from_be_bytes(b)
        } else {
            u64::from_le_bytes(b)
        })
    }
    fn f32(&self, off: u64, what: &str) -> io::Result<f32> {
        Ok(f32::from_bits(self.u32(off, what)?))
    }
    fn f64(&self, off: u64, what: &str) -> io::Result<f64> {
        Ok(f64::from_bits(self.u64(off, what)?))
    }
}

/// Reads the 64-byte common header at byte 0 and checks its sizes and offsets against the
/// file length `flen`.
fn read_header(c: &Cur<'_>, flen: u64) -> io::Result<Header> {
    let header = Header {
        version: c.u16(4, "version")?,
        zoom_levels: c.u16(6, "zoomLevels")?,
        chrom_tree_offset: c.u64(8, "chromTreeOffset")?,
        full_data_offset: c.u64(16, "fullDataOffset")?,
        full_index_offset: c.u64(24, "fullIndexOffset")?,
        field_count: c.u16(32, "fieldCount")?,
        defined_field_count: c.u16(34, "definedFieldCount")?,
        autosql_offset: c.u64(36, "autoSqlOffset")?,
        total_summary_offset: c.u64(44, "totalSummaryOffset")?,
        uncompress_buf_size: c.u32(52, "uncompressBufSize")?,
    };
    // UCSC tools use 32 KiB to 1 MiB; refuse absurd sizes before anything allocates them
    if header.uncompress_buf_size > 64 << 20 {
        return Err(invalid(
            Error::Bbi,
            format!(
                "uncompressBufSize {} at byte 52 is larger than 64 MiB",
                header.uncompress_buf_size
            ),
        ));
    }
    for (what, off) in [
        ("chromTreeOffset", header.chrom_tree_offset),
        ("fullDataOffset", header.full_data_offset),
        ("fullIndexOffset", header.full_index_offset),
    ] {
        if off >= flen {
            return Err(invalid(
                Error::Bbi,
                format!("{what} {off} is past the end of the file ({flen} bytes)"),
            ));
        }
    }
    Ok(header)
}

/// Reads the total summary block, when the header points at one.
fn read_summary(c: &Cur<'_>, header: &Header) -> io::Result<Option<Summary>> {
    let summary = if header.total_summary_offset > 0 {
        let o = header.total_summary_offset;
        Some(Summary {
            bases_covered: c.u64(o, "totalSummary")?,
            min: c.f64(o + 8, "totalSummary")?,
            max: c.f64(o + 16, "totalSummary")?,
            sum: c.f64(o + 24, "totalSummary")?,
            sum_squares: c.f64(o + 32, "totalSummary")?,
        })
    } else {
        None
    };
    Ok(summary)
}

/// Walks the chromosome B+ tree at byte `t` and returns its leaves in key order.
fn read_chrom_tree(c: &Cur<'_>, t: u64, flen: u64) -> io::Result<Vec<Chrom>> {
    if c.u32(t, "chromosome tree magic")? != CHROM_TREE_MAGIC {
        return Err(invalid(
            Error::Bbi,
            format!("no chromosome tree magic at byte {t}"),
        ));
    }
    let key_size = u64::from(c.u32(t + 8, "keySize")?);
    let val_size = u64::from(c.u32(t + 12, "valSize")?);
    if key_size == 0 || key_size > 255 || val_size != 8 {
        return Err(invalid(
            Error::Bbi,
            format!(
                "chromosome tree at byte {t}: keySize {key_size} / valSize {val_size} unsupported"
            ),
        ));
    }
    let mut chroms = Vec::new();
    let mut stack = vec![(t + 32, 0u32)];
    while let Some((node, depth)) = stack.pop() {
        if depth > 32 {
            return Err(invalid(Error::Bbi, "chromosome tree deeper than 32 levels"));
        }
        let is_leaf = c.u8(node, "chromosome tree node")? != 0;
        let count = u64::from(c.u16(node + 2, "chromosome tree node count")?);
        let item = key_size + 8;
        if node + 4 + count * item > flen {
            return Err(invalid(
                Error::Bbi,
                format!("chromosome tree node at byte {node} runs past the end of the file"),
            ));
        }
        let mut children = Vec::new();
        for i in 0..count {
            let o = node + 4 + i * item;
            if is_leaf {
                let key = &c.d[o as usize..(o + key_size) as usize];
                let end = key.iter().position(|&b| b == 0).unwrap_or(key.len());
                chroms.push(Chrom {
                    name: String::from_utf8_lossy(&key[..end]).into_owned(),
                    id: c.u32(o + key_size, "chromId")?,
                    length: u64::from(c.u32(o + key_size + 4, "chromSize")?),
                });
            } else {
                children.push((c.u64(o + key_size, "child offset")?, depth + 1));
            }
        }
        // keep key order: visit children left to right
        stack.extend(children.into_iter().rev());
    }
    Ok(chroms)
}

impl BbiFile {
    /// Opens a bigWig or bigBed file (memory-mapped).
    pub fn open(path: &Path) -> io::Result<Self> {
        let f = File::open(path)?;
        if f.metadata()?.len() < 64 {
            return Self::from_bytes(std::fs::read(path)?);
        }
        // SAFETY: read-only map; the file is assumed not to be truncated while mapped.
        let m = unsafe { memmap2::Mmap::map(&f)? };
        Self::parse(Bytes::Mmap(m))
    }

    /// Reads a file held in memory.
    pub fn from_bytes(v: Vec<u8>) -> io::Result<Self> {
        Self::parse(Bytes::Owned(v))
    }

    fn bytes(&self) -> &[u8] {
        match &self.data {
            Bytes::Mmap(m) => m,
            Bytes::Owned(v) => v,
        }
    }

    fn cur(&self) -> Cur<'_> {
        Cur {
            d: self.bytes(),
            be: self.big_endian,
        }
    }

    fn parse(data: Bytes) -> io::Result<Self> {
        let d: &[u8] = match &data {
            Bytes::Mmap(m) => m,
            Bytes::Owned(v) => v,
        };
        if d.len() < 64 {
            return Err(invalid(
                Error::Bbi,
                format!("file is {} bytes, shorter than the 64-byte header", d.len()),
            ));
        }
        let le = u32::from_le_bytes([d[0], d[1], d[2], d[3]]);
        let (kind, be) = match (le, le.swap_bytes()) {
            (BIGWIG_MAGIC, _) => (Kind::BigWig, false),
            (BIGBED_MAGIC, _) => (Kind::BigBed, false),
            (_, BIGWIG_MAGIC) => (Kind::BigWig, true),
            (_, BIGBED_MAGIC) => (Kind::BigBed, true),
            _ => {
                return Err(invalid(
                    Error::Bbi,
                    format!("bad magic 0x{le:08x} at byte 0: not bigWig or bigBed"),
                ));
            }
        };
        let c = Cur { d, be };
        let flen = d.len() as u64;
        let header = read_header(&c, flen)?;
        let summary = read_summary(&c, &header)?;
        let mut chroms = read_chrom_tree(&c, header.chrom_tree_offset, flen)?;
        chroms.sort_by_key(|ch| ch.id);
        if c.u32(header.full_index_offset, "R-tree magic")? != RTREE_MAGIC {
            return Err(invalid(
                Error::Bbi,
                format!("no R-tree magic at byte {}", header.full_index_offset),
            ));
        }
        Ok(BbiFile {
            data,
            big_endian: be,
            kind,
            header,
            chroms,
            summary,
        })
    }

    /// bigWig or bigBed.
    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// The header.
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// The total summary, when the file has one.
    pub fn summary(&self) -> Option<Summary> {
        self.summary
    }

    /// True when the file is big-endian.
    pub fn big_endian(&self) -> bool {
        self.big_endian
    }

    /// Chromosomes, by ID.
    pub fn chroms(&self) -> &[Chrom] {
        &self.chroms
    }

    /// The autoSql text of a bigBed (None when absent).
    pub fn autosql(&self) -> Option<String> {
        let o = usize::try_from(self.header.autosql_offset)
            .ok()
            .filter(|&o| o > 0)?;
        let d = self.bytes().get(o..)?;
        let end = d.iter().position(|&b| b == 0).unwrap_or(d.len());
        Some(String::from_utf8_lossy(&d[..end]).into_owned())
    }

    fn chrom(&self, name: &str) -> io::Result<&Chrom> {
        self.chroms
            .iter()
            .find(|c| c.name == name)
            .ok_or_else(|| invalid(Error::Region, format!("no chromosome named {name:?}")))
    }

    /// Data blocks (offset, size) whose R-tree range overlaps `[start, end)` of chromosome `id`.
    fn blocks(&self, id: u32, start: u32, end: u32) -> io::Result<Vec<(u64, u64)>> {
        let c = self.cur();
        let flen = self.bytes().len() as u64;
        let mut out = Vec::new();
        let mut stack = vec![(self.header.full_index_offset + 48, 0u32)];
        let qs = (id, start);
        let qe = (id, end);
        while let Some((node, depth)) = stack.pop() {
            if depth > 32 {
                return Err(invalid(Error::Bbi, "R-tree deeper than 32 levels"));
            }
            let is_leaf = c.u8(node, "R-tree node")? != 0;
            let count = u64::from(c.u16(node + 2, "R-tree node count")?);
            let item = if is_leaf { 32 } else { 24 };
            if node + 4 + count * item > flen {
                return Err(invalid(
                    Error::Bbi,
                    format!("R-tree node at byte {node} runs past the end of the file"),
                ));
            }
            let mut children = Vec::new();
            for i in 0..count {
                let o = node + 4 + i * item;
                let s = (c.u32(o, "R-tree")?, c.u32(o + 4, "R-tree")?);
                let e = (c.u32(o + 8, "R-tree")?, c.u32(o + 12, "R-tree")?);
                if !(s < qe && e > qs) {
                    continue;
                }
                if is_leaf {
                    out.push((c.u64(o + 16, "data offset")?, c.u64(o + 24, "data size")?));
                } else {
                    children.push((c.u64(o + 16, "child offset")?, depth + 1));
                }
            }
            stack.extend(children.into_iter().rev());
        }
        out.sort_unstable();
        out.dedup();
        Ok(out)
    }

    fn block_bytes(
        &self,
        off: u64,
        size: u64,
        dec: &mut Decompress,
        buf: &mut Vec<u8>,
    ) -> io::Result<()> {
        let d = self.bytes();
        let raw = usize::try_from(off)
            .ok()
            .and_then(|o| d.get(o..o.checked_add(usize::try_from(size).ok()?)?))
            .ok_or_else(|| {
                invalid(
                    Error::Bbi,
                    format!("data block at byte {off} (+{size}) runs past the end of the file"),
                )
            })?;
        buf.clear();
        if self.header.uncompress_buf_size == 0 {
            buf.extend_from_slice(raw);
            return Ok(());
        }
        let cap = self.header.uncompress_buf_size as usize;
        buf.reserve(cap);
        dec.reset(true);
        let st = dec
            .decompress_vec(raw, buf, FlushDecompress::Finish)
            .map_err(|e| {
                invalid(
                    Error::Bbi,
                    format!("data block at byte {off}: zlib error: {e}"),
                )
            })?;
        if st != flate2::Status::StreamEnd {
            return Err(invalid(
                Error::Bbi,
                format!(
                    "data block at byte {off}: does not inflate within uncompressBufSize {cap}"
                ),
            ));
        }
        Ok(())
    }

    /// bigWig intervals of `chrom` overlapping `[start, end)`, in position order.
    pub fn intervals(&self, chrom: &str, start: u64, end: u64) -> io::Result<Vec<Interval>> {
        if self.kind != Kind::BigWig {
            return Err(invalid(
                Error::Bbi,
                "intervals() needs a bigWig; this is a bigBed",
            ));
        }
        let ch = self.chrom(chrom)?;
        let (id, s, e) = (ch.id, clamp32(start), clamp32(end));
        let c = self.cur();
        let mut out = Vec::new();
        let mut dec = Decompress::new(true);
        let mut buf = Vec::new();
        for (off, size) in self.blocks(id, s, e)? {
            self.block_bytes(off, size, &mut dec, &mut buf)?;
            let b = Cur { d: &buf, be: c.be };
            let mut p = 0u64;
            while p + 24 <= buf.len() as u64 {
                let sec_chrom = b.u32(p, "section chromId")?;
                let sec_start = b.u32(p + 4, "section start")?;
                let step = b.u32(p + 12, "section itemStep")?;
                let span = b.u32(p + 16, "section itemSpan")?;
                let ty = b.u8(p + 20, "section type")?;
                let n = u64::from(b.u16(p + 22, "section itemCount")?);
                p += 24;
                let item = match ty {
                    1 => 12,
                    2 => 8,
                    3 => 4,
                    _ => {
                        return Err(invalid(
                            Error::Bbi,
                            format!("data block at byte {off}: section type {ty} unknown"),
                        ));
                    }
                };
                if p + n * item > buf.len() as u64 {
                    return Err(invalid(
                        Error::Bbi,
                        format!("data block at byte {off}: {n} items overrun the block"),
                    ));
                }
                for i in 0..n {
                    let o = p + i * item;
                    let iv = match ty {
                        1 => Interval {
                            start: b.u32(o, "start")?,
                            end: b.u32(o + 4, "end")?,
                            value: b.f32(o + 8, "value")?,
                        },
                        2 => {
                            let st = b.u32(o, "start")?;
                            Interval {
                                start: st,
                                end: st.saturating_add(span),
                                value: b.f32(o + 4, "value")?,
                            }
                        }
                        _ => {
                            let st = sec_start.saturating_add((i as u32).saturating_mul(step));
                            Interval {
                                start: st,
                                end: st.saturating_add(span),
                                value: b.f32(o, "value")?,
                            }
                        }
                    };
                    if sec_chrom == id && iv.start < e && iv.end > s {
                        out.push(iv);
                    }
                }
                p += n * item;
            }
        }
        out.sort_by_key(|iv| (iv.start, iv.end));
        Ok(out)
    }

    /// Per-base values of `chrom` over `[start, end)`, NaN where there is no data (as
    /// pyBigWig `values()`).
    pub fn values(&self, chrom: &str, start: u64, end: u64) -> io::Result<Vec<f32>> {
        let mut v = vec![f32::NAN; end.saturating_sub(start) as usize];
        self.fill_values(chrom, start, end, &mut v)?;
        Ok(v)
    }

    /// Like [`values`](Self::values), writing into `out` (length `end - start`).
    pub fn fill_values(
        &self,
        chrom: &str,
        start: u64,
        end: u64,
        out: &mut [f32],
    ) -> io::Result<()> {
        if out.len() as u64 != end.saturating_sub(start) {
            return Err(invalid(
                Error::Region,
                "output length differs from end - start",
            ));
        }
        out.fill(f32::NAN);
        for iv in self.intervals(chrom, start, end)? {
            let a = u64::from(iv.start).max(start);
            let b = u64::from(iv.end).min(end);
            out[(a - start) as usize..(b - start) as usize].fill(iv.value);
        }
        Ok(())
    }

    /// Exact statistics over the covered bases of `[start, end)`.
    pub fn stats(&self, chrom: &str, start: u64, end: u64) -> io::Result<RegionStats> {
        let mut s = RegionStats {
            min: f64::NAN,
            max: f64::NAN,
            ..Default::default()
        };
        for iv in self.intervals(chrom, start, end)? {
            let a = u64::from(iv.start).max(start);
            let b = u64::from(iv.end).min(end);
            let n = b - a;
            let v = f64::from(iv.value);
            s.covered += n;
            s.sum += v * n as f64;
            s.sum_squares += v * v * n as f64;
            s.min = if s.min.is_nan() { v } else { s.min.min(v) };
            s.max = if s.max.is_nan() { v } else { s.max.max(v) };
        }
        Ok(s)
    }

    /// bigBed entries of `chrom` overlapping `[start, end)`, in file order.
    pub fn entries(&self, chrom: &str, start: u64, end: u64) -> io::Result<Vec<Entry>> {
        if self.kind != Kind::BigBed {
            return Err(invalid(
                Error::Bbi,
                "entries() needs a bigBed; this is a bigWig",
            ));
        }
        let ch = self.chrom(chrom)?;
        let (id, s, e) = (ch.id, clamp32(start), clamp32(end));
        let be = self.big_endian;
        let mut out = Vec::new();
        let mut dec = Decompress::new(true);
        let mut buf = Vec::new();
        for (off, size) in self.blocks(id, s, e)? {
            self.block_bytes(off, size, &mut dec, &mut buf)?;
            let b = Cur { d: &buf, be };
            let mut p = 0usize;
            while p + 12 <= buf.len() {
                let cid = b.u32(p as u64, "chromId")?;
                let st = b.u32(p as u64 + 4, "start")?;
                let en = b.u32(p as u64 + 8, "end")?;
                let rest_start = p + 12;
                let nul = buf[rest_start..]
                    .iter()
                    .position(|&x| x == 0)
                    .ok_or_else(|| {
                        invalid(
                            Error::Bbi,
                            format!("data block at byte {off}: entry without NUL terminator"),
                        )
                    })?;
                let rest = String::from_utf8_lossy(&buf[rest_start..rest_start + nul]).into_owned();
                p = rest_start + nul + 1;
                if cid == id && st < e && en > s {
                    out.push(Entry {
                        start: st,
                        end: en,
                        rest,
                    });
                }
            }
        }
        Ok(out)
    }
}

/// Writes a bigWig (little-endian, version 4, no zoom levels) holding bedGraph sections:
/// `intervals` are (chrom index into `chroms`, start, end, value), sorted by chrom then start
/// and not overlapping. Blocks hold up to 512 items, zlib-compressed when `compress`.
/// Used by tests and synthetic trees; real pipelines should use UCSC tools.
pub fn write_bigwig(
    chroms: &[(&str, u32)],
    intervals: &[(u32, u32, u32, f32)],
    compress: bool,
) -> io::Result<Vec<u8>> {
    use flate2::{Compress, Compression, FlushCompress};
    check_bigwig_input(chroms, intervals)?;
    let key_size = chroms.iter().map(|c| c.0.len()).max().unwrap_or(1).max(1);
    let blocks = bigwig_blocks(intervals);
    let max_raw = blocks.iter().map(|b| b.3.len()).max().unwrap_or(0);
    let mut out = vec![0u8; 64];
    // total summary
    let summary_off = out.len() as u64;
    write_total_summary(&mut out, intervals);
    // chromosome tree
    let chrom_tree_off = out.len() as u64;
    write_chrom_tree(&mut out, chroms, key_size);
    // data
    let data_off = out.len() as u64;
    out.extend((blocks.len() as u64).to_le_bytes());
    let mut leaves = Vec::new();
    let mut comp = Compress::new(Compression::default(), true);
    for (c, bs, be, raw) in &blocks {
        let off = out.len() as u64;
        if compress {
            comp.reset();
            let mut z = Vec::with_capacity(raw.len() + 64);
            let _ = comp.compress_vec(raw, &mut z, FlushCompress::Finish);
            out.extend(&z);
        } else {
            out.extend(raw);
        }
        leaves.push((*c, *bs, *be, off, out.len() as u64 - off));
    }
    // R-tree
    let index_off = out.len() as u64;
    write_rtree(&mut out, &leaves, index_off);
    // header
    let mut h = Vec::with_capacity(64);
    h.extend(BIGWIG_MAGIC.to_le_bytes());
    h.extend(4u16.to_le_bytes());
    h.extend(0u16.to_le_bytes());
    h.extend(chrom_tree_off.to_le_bytes());
    h.extend(data_off.to_le_bytes());
    h.extend(index_off.to_le_bytes());
    h.extend(0u16.to_le_bytes());
    h.extend(0u16.to_le_bytes());
    h.extend(0u64.to_le_bytes());
    h.extend(summary_off.to_le_bytes());
    h.extend((if compress { max_raw as u32 } else { 0 }).to_le_bytes());
    h.extend(0u64.to_le_bytes());
    h.resize(64, 0);
    out[..64].copy_from_slice(&h);
    Ok(out)
}

/// Checks `write_bigwig`'s arguments: chromosome count, order, and bounds.
fn check_bigwig_input(
    chroms: &[(&str, u32)],
    intervals: &[(u32, u32, u32, f32)],
) -> io::Result<()> {
    if chroms.is_empty() || chroms.len() > 65535 {
        return Err(invalid(
            Error::Bbi,
            "write_bigwig needs 1 to 65535 chromosomes",
        ));
    }
    for w in intervals.windows(2) {
        if (w[1].0, w[1].1) < (w[0].0, w[0].2) {
            return Err(invalid(
                Error::Bbi,
                "write_bigwig intervals must be sorted and not overlap",
            ));
        }
    }
    if intervals
        .iter()
        .any(|iv| iv.0 as usize >= chroms.len() || iv.2 <= iv.1 || iv.2 > chroms[iv.0 as usize].1)
    {
        return Err(invalid(
            Error::Bbi,
            "write_bigwig interval outside its chromosome",
        ));
    }
    Ok(())
}

/// A bigWig data block before compression: (chrom, start, end, raw bytes).
type RawBlock = (u32, u32, u32, Vec<u8>);

/// Groups `intervals` into bedGraph blocks: runs of at most 512 intervals of one chromosome.
fn bigwig_blocks(intervals: &[(u32, u32, u32, f32)]) -> Vec<RawBlock> {
    // blocks: runs of <= 512 intervals of one chrom
    let mut blocks: Vec<RawBlock> = Vec::new(); // chrom, start, end, raw bytes
    let mut i = 0;
    while i < intervals.len() {
        let c = intervals[i].0;
        let j = i + intervals[i..]
            .iter()
            .take(512)
            .take_while(|iv| iv.0 == c)
            .count();
        let items = &intervals[i..j];
        let mut raw = Vec::new();
        let (bs, be) = (items[0].1, items[items.len() - 1].2);
        for x in [c, bs, be, 0, 0] {
            raw.extend(x.to_le_bytes());
        }
        raw.push(1);
        raw.push(0);
        raw.extend((items.len() as u16).to_le_bytes());
        for iv in items {
            raw.extend(iv.1.to_le_bytes());
            raw.extend(iv.2.to_le_bytes());
            raw.extend(iv.3.to_le_bytes());
        }
        blocks.push((c, bs, be, raw));
        i = j;
    }
    blocks
}

/// Appends the total summary (bases covered, min, max, sum, sum of squares) of `intervals`.
fn write_total_summary(out: &mut Vec<u8>, intervals: &[(u32, u32, u32, f32)]) {
    let (mut cov, mut mn, mut mx, mut sum, mut ss) =
        (0u64, f64::INFINITY, f64::NEG_INFINITY, 0.0f64, 0.0f64);
    for iv in intervals {
        let n = u64::from(iv.2 - iv.1);
        let v = f64::from(iv.3);
        cov += n;
        mn = mn.min(v);
        mx = mx.max(v);
        sum += v * n as f64;
        ss += v * v * n as f64;
    }
    if intervals.is_empty() {
        (mn, mx) = (0.0, 0.0);
    }
    out.extend(cov.to_le_bytes());
    for x in [mn, mx, sum, ss] {
        out.extend(x.to_le_bytes());
    }
}

/// Appends a one-leaf chromosome B+ tree with keys padded to `key_size`.
fn write_chrom_tree(out: &mut Vec<u8>, chroms: &[(&str, u32)], key_size: usize) {
    out.extend(CHROM_TREE_MAGIC.to_le_bytes());
    out.extend((chroms.len() as u32).to_le_bytes());
    out.extend((key_size as u32).to_le_bytes());
    out.extend(8u32.to_le_bytes());
    out.extend((chroms.len() as u64).to_le_bytes());
    out.extend(0u64.to_le_bytes());
    out.push(1);
    out.push(0);
    out.extend((chroms.len() as u16).to_le_bytes());
    let mut order: Vec<usize> = (0..chroms.len()).collect();
    order.sort_by(|&a, &b| chroms[a].0.cmp(chroms[b].0));
    for k in order {
        let mut key = chroms[k].0.as_bytes().to_vec();
        key.resize(key_size, 0);
        out.extend(key);
        out.extend((k as u32).to_le_bytes());
        out.extend(chroms[k].1.to_le_bytes());
    }
}

/// Appends a one-leaf R-tree index at `index_off` over the written blocks
/// (chrom, start, end, offset, size).
fn write_rtree(out: &mut Vec<u8>, leaves: &[(u32, u32, u32, u64, u64)], index_off: u64) {
    let (s0, e0) = match (leaves.first(), leaves.last()) {
        (Some(f), Some(l)) => ((f.0, f.1), (l.0, l.2)),
        _ => ((0, 0), (0, 0)),
    };
    out.extend(RTREE_MAGIC.to_le_bytes());
    out.extend((leaves.len().max(1) as u32).to_le_bytes());
    out.extend((leaves.len() as u64).to_le_bytes());
    for x in [s0.0, s0.1, e0.0, e0.1] {
        out.extend(x.to_le_bytes());
    }
    out.extend(index_off.to_le_bytes());
    out.extend(512u32.to_le_bytes());
    out.extend(0u32.to_le_bytes());
    out.push(1);
    out.push(0);
    out.extend((leaves.len() as u16).to_le_bytes());
    for (c, bs, be, off, size) in leaves {
        for x in [*c, *bs, *c, *be] {
            out.extend(x.to_le_bytes());
        }
        out.extend(off.to_le_bytes());
        out.extend(size.to_le_bytes());
    }
}

fn clamp32(x: u64) -> u32 {
    u32::try_from(x).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writer_roundtrip() {
        let ivs = [(0, 0, 1, 0.5f32), (0, 5, 10, 2.0), (1, 3, 4, -1.0)];
        for compress in [false, true] {
            let b = write_bigwig(&[("chrA", 20), ("c2", 10)], &ivs, compress).unwrap();
            let f = BbiFile::from_bytes(b).unwrap();
            assert_eq!(f.chroms().len(), 2);
            let v = f.values("chrA", 0, 6).unwrap();
            assert_eq!(v[0], 0.5);
            assert!(v[1].is_nan());
            assert_eq!(v[5], 2.0);
            assert_eq!(f.intervals("c2", 0, 10).unwrap().len(), 1);
            assert_eq!(f.summary().unwrap().bases_covered, 7);
        }
    }

    #[test]
    fn bad_magic() {
        let e = BbiFile::from_bytes(vec![0u8; 100]).err().unwrap();
        assert!(e.to_string().contains("bad magic"), "{e}");
        let e = BbiFile::from_bytes(vec![0u8; 10]).err().unwrap();
        assert!(e.to_string().contains("shorter"), "{e}");
    }
}
