//! Indexed random access to a FASTA file (plain, gzip or BGZF).

use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use bomdata_format_core::compression::{Compression, MaybeCompressed, sniff};

use super::index::{Index, IndexRecord, Unnamed, header_name};
use crate::bgzf::{self, BlockCache, Gzi, RandomAccess};
use crate::error::{Error, invalid};

/// How a shipped `.fai` is checked against the data before it is used.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum IndexCheck {
    /// Build the index from the data and compare row by row (one pass over the file).
    #[default]
    Full,
    /// Check each row's structure where it points (header line before the offset, line
    /// terminators, end of sequence). Reads a few bytes per row; for very large files.
    Quick,
}

/// What happened to the `.fai` index.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FaiStatus {
    /// No `.fai` was shipped; the index was built from the data.
    Built,
    /// A `.fai` was shipped and agrees with the data; it was used.
    ShippedAgrees,
    /// A `.fai` was shipped but disagrees with the data; it was ignored and the index built
    /// from the data is used. The string says what differs.
    ShippedIgnored(String),
}

/// Same for the `.gzi` of a BGZF file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GziStatus {
    /// Not BGZF, or no `.gzi` shipped (block offsets come from a scan of block headers).
    None,
    /// The shipped `.gzi` equals the block scan.
    ShippedAgrees,
    /// The shipped `.gzi` differs from the block scan and was ignored.
    ShippedIgnored(String),
}

enum Storage {
    Mmap(memmap2::Mmap),
    Owned(Vec<u8>),
    Bgzf {
        raw: memmap2::Mmap,
        ra: RandomAccess,
    },
}

/// A FASTA file opened for random access by name and 0-based half-open coordinates.
pub struct IndexedFasta {
    path: PathBuf,
    storage: Storage,
    index: Index,
    unnamed: Vec<Unnamed>,
    strict: bool,
    compression: Compression,
    fai_status: FaiStatus,
    gzi_status: GziStatus,
    cache: BlockCache,
    last_rec: usize,
}

fn companion(path: &Path, ext: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(ext);
    PathBuf::from(s)
}

fn map(file: &File) -> io::Result<memmap2::Mmap> {
    // SAFETY: the file is opened read-only; like every mmap reader we assume nobody truncates
    // it while it is mapped.
    unsafe { memmap2::Mmap::map(file) }
}

impl IndexedFasta {
    /// Opens `path`, using `path.fai` (and `path.gzi` for BGZF) when present and correct.
    pub fn open(path: &Path) -> io::Result<Self> {
        Self::open_with(path, IndexCheck::Full)
    }

    /// Opens `path`, checking a shipped index with `check`. A record with an empty name makes
    /// the whole file an error (such a sequence cannot be addressed).
    pub fn open_with(path: &Path, check: IndexCheck) -> io::Result<Self> {
        Self::open_impl(path, check, true)
    }

    /// Opens `path` like [`IndexedFasta::open_with`], but sets records with an empty name
    /// aside (listed by [`IndexedFasta::unnamed`]) instead of refusing the file, so that a
    /// caller can fail those records alone and read the others.
    ///
    /// A shipped `.fai` that passes the check is used as it is; under [`IndexCheck::Quick`]
    /// the records it does not list (an index without the unnamed rows) are not found. A
    /// `.fai` row with an empty name (as samtools writes one) fails the check.
    pub fn open_setting_aside_unnamed(path: &Path, check: IndexCheck) -> io::Result<Self> {
        Self::open_impl(path, check, false)
    }

    fn open_impl(path: &Path, check: IndexCheck, strict: bool) -> io::Result<Self> {
        let file = File::open(path)?;
        let len = file.metadata()?.len();
        let mut head = [0u8; 18];
        let nhead = {
            let mut f = &file;
            let mut got = 0;
            while got < head.len() {
                let k = f.read(&mut head[got..])?;
                if k == 0 {
                    break;
                }
                got += k;
            }
            got
        };
        let compression = sniff(&head[..nhead]);
        let mut gzi_status = GziStatus::None;
        let storage = match compression {
            Compression::None => {
                if len == 0 {
                    Storage::Owned(Vec::new())
                } else {
                    Storage::Mmap(map(&file)?)
                }
            }
            Compression::Bgzf => {
                let raw = map(&file)?;
                let blocks = bgzf::scan_blocks(&raw)?;
                let gzi_path = companion(path, ".gzi");
                if gzi_path.exists() {
                    let shipped = Gzi::parse(&std::fs::read(&gzi_path)?);
                    let scanned = Gzi::from_blocks(&blocks);
                    gzi_status = match shipped {
                        Ok(g) if g == scanned => GziStatus::ShippedAgrees,
                        Ok(g) => GziStatus::ShippedIgnored(format!(
                            "gzi lists {} blocks after the first, the file has {}",
                            g.0.len(),
                            scanned.0.len()
                        )),
                        Err(e) => GziStatus::ShippedIgnored(e.to_string()),
                    };
                }
                Storage::Bgzf {
                    raw,
                    ra: RandomAccess::from_blocks(blocks),
                }
            }
            Compression::Gzip => {
                // reopen: `file` was read past the magic bytes
                let (mut r, _) = MaybeCompressed::new(File::open(path)?)?;
                let mut v = Vec::new();
                r.read_to_end(&mut v)?;
                Storage::Owned(v)
            }
            Compression::Zstd => {
                return Err(invalid(
                    Error::Fasta,
                    "zstd-compressed fasta is not supported",
                ));
            }
        };
        let mut me = IndexedFasta {
            path: path.to_path_buf(),
            storage,
            index: Index::default(),
            unnamed: Vec::new(),
            strict,
            compression,
            fai_status: FaiStatus::Built,
            gzi_status,
            cache: BlockCache::default(),
            last_rec: 0,
        };
        let fai_path = companion(path, ".fai");
        let shipped = if fai_path.exists() {
            Some(Index::parse(&std::fs::read_to_string(&fai_path)?))
        } else {
            None
        };
        match shipped {
            None => {
                me.index = me.build_index()?;
            }
            Some(Err(e)) => {
                me.index = me.build_index()?;
                me.fai_status = FaiStatus::ShippedIgnored(e.to_string());
            }
            Some(Ok(fai)) => {
                let problem = match check {
                    IndexCheck::Full => {
                        let built = me.build_index()?;
                        let d = fai.disagreement(&built);
                        me.index = built;
                        d
                    }
                    IndexCheck::Quick => me.quick_check(&fai)?,
                };
                match problem {
                    None => {
                        me.index = fai;
                        me.fai_status = FaiStatus::ShippedAgrees;
                    }
                    Some(msg) => {
                        if check == IndexCheck::Quick {
                            me.index = me.build_index()?;
                        }
                        me.fai_status = FaiStatus::ShippedIgnored(msg);
                    }
                }
            }
        }
        Ok(me)
    }

    /// Builds the index from the data; the records set aside (lenient open) go to `unnamed`.
    fn build_index(&mut self) -> io::Result<Index> {
        let build = |data: &[u8]| {
            if self.strict {
                Index::build(data).map(|index| (index, Vec::new()))
            } else {
                Index::build_setting_aside_unnamed(data)
            }
        };
        let (index, unnamed) = match &self.storage {
            Storage::Mmap(m) => build(m),
            Storage::Owned(v) => build(v),
            Storage::Bgzf { raw, .. } => build(&bgzf::decompress_all(raw)?),
        }?;
        self.unnamed = unnamed;
        Ok(index)
    }

    fn data_len(&self) -> u64 {
        match &self.storage {
            Storage::Mmap(m) => m.len() as u64,
            Storage::Owned(v) => v.len() as u64,
            Storage::Bgzf { ra, .. } => ra.uncompressed_len(),
        }
    }

    /// Decompressed bytes `[start, end)` of the file (clamped to its end).
    fn bytes(&mut self, start: u64, end: u64) -> io::Result<&[u8]> {
        let end = end.min(self.data_len());
        let start = start.min(end);
        match &mut self.storage {
            Storage::Mmap(m) => Ok(&m[start as usize..end as usize]),
            Storage::Owned(v) => Ok(&v[start as usize..end as usize]),
            Storage::Bgzf { raw, ra } => ra.read_cached(raw, start, end, &mut self.cache),
        }
    }

    /// Structural check of a shipped index: `None` when every row fits the data.
    fn quick_check(&mut self, fai: &Index) -> io::Result<Option<String>> {
        let len = self.data_len();
        for (i, r) in fai.0.iter().enumerate() {
            let bad = |what: &str| Some(format!("fai row {i} ({}): {what}", r.name));
            if r.offset == 0
                || r.offset > len
                || (r.length > 0 && (r.line_bases == 0 || r.line_width <= r.line_bases))
            {
                return Ok(bad("offset or line lengths impossible for this file"));
            }
            let from = r.offset.saturating_sub(65536);
            let before = self.bytes(from, r.offset)?.to_vec();
            if before.last() != Some(&b'\n') {
                return Ok(bad("offset does not follow a line end"));
            }
            let body = &before[..before.len() - 1];
            let hstart = body
                .iter()
                .rposition(|&b| b == b'\n')
                .map(|p| p + 1)
                .unwrap_or(0);
            let header = &body[hstart..];
            let header = header.strip_suffix(b"\r").unwrap_or(header);
            let name_ok = !r.name.is_empty()
                && header.first() == Some(&b'>')
                && header_name(&header[1..]) == r.name.as_bytes();
            if !name_ok {
                return Ok(bad("the line before its offset is not its '>' header"));
            }
            if r.length == 0 {
                continue;
            }
            let term = (r.line_width - r.line_bases) as usize;
            if r.length > r.line_bases {
                let t = self.bytes(r.offset + r.line_bases, r.offset + r.line_width)?;
                let ok = (term == 1 && t == b"\n") || (term == 2 && t == b"\r\n");
                if !ok {
                    return Ok(bad("first line does not end where linebases/linewidth say"));
                }
            }
            let last = r.byte_of(r.length - 1);
            if last >= len {
                return Ok(bad("sequence runs past the end of the file"));
            }
            let t = self.bytes(last, last + 3)?.to_vec();
            if matches!(t[0], b'\n' | b'\r' | b'>') {
                return Ok(bad("its last base is a line end or header"));
            }
            let after = &t[1..];
            let at_end = after.is_empty()
                || after[0] == b'\n'
                || (after[0] == b'\r' && after.get(1).is_none_or(|&b| b == b'\n'));
            if !at_end {
                return Ok(bad("the sequence continues past its length"));
            }
        }
        Ok(None)
    }

    /// Inflates BGZF blocks on `threads` threads (default 1; no effect on other files).
    pub fn set_decode_threads(&mut self, threads: usize) {
        if let Storage::Bgzf { ra, .. } = &mut self.storage {
            ra.set_threads(threads);
        }
    }

    /// The file path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The index in use (checked or built).
    pub fn index(&self) -> &Index {
        &self.index
    }

    /// The sequences, in file order.
    pub fn sequences(&self) -> &[IndexRecord] {
        &self.index.0
    }

    /// The records set aside because their name is empty (only a file opened with
    /// [`IndexedFasta::open_setting_aside_unnamed`] has any), in file order.
    pub fn unnamed(&self) -> &[Unnamed] {
        &self.unnamed
    }

    /// The file's compression (None, Gzip or Bgzf).
    pub fn compression(&self) -> Compression {
        self.compression
    }

    /// What happened to a shipped `.fai`.
    pub fn fai_status(&self) -> &FaiStatus {
        &self.fai_status
    }

    /// What happened to a shipped `.gzi`.
    pub fn gzi_status(&self) -> &GziStatus {
        &self.gzi_status
    }

    /// The `.gzi` index of a BGZF file (from the block scan).
    pub fn gzi(&self) -> Option<Gzi> {
        match &self.storage {
            Storage::Bgzf { ra, .. } => Some(Gzi::from_blocks(ra.blocks())),
            _ => None,
        }
    }

    /// Length of sequence `name`.
    pub fn length(&self, name: &str) -> Option<u64> {
        self.index.get(name).map(|r| r.length)
    }

    /// Reads bases `[start, end)` of `name` (as stored) into `out` (cleared first).
    pub fn fetch(&mut self, name: &str, start: u64, end: u64, out: &mut Vec<u8>) -> io::Result<()> {
        out.clear();
        // windows ask for the same sequence many times in a row: try the last one first
        let hit = match self.index.0.get(self.last_rec) {
            Some(r) if r.name == name => Some(self.last_rec),
            _ => self.index.0.iter().position(|r| r.name == name),
        };
        let rec = hit.map(|i| &self.index.0[i]).ok_or_else(|| {
            invalid(
                Error::Region,
                format!("no sequence named {name:?} in {}", self.path.display()),
            )
        })?;
        self.last_rec = hit.unwrap_or(0);
        let rec = IndexRecord {
            name: String::new(),
            ..*rec
        };
        if start > end || end > rec.length {
            return Err(invalid(
                Error::Region,
                format!(
                    "{name}:{start}-{end} is outside the sequence (length {})",
                    rec.length
                ),
            ));
        }
        if start == end {
            return Ok(());
        }
        let b0 = rec.byte_of(start);
        let b1 = rec.byte_of(end - 1) + 1;
        let raw = self.bytes(b0, b1)?;
        if (raw.len() as u64) < b1 - b0 {
            return Err(invalid(
                Error::Index,
                format!("{name}: index points past the end of the data"),
            ));
        }
        let (lb, lw) = (rec.line_bases, rec.line_width);
        if lb == 0 || lw <= lb {
            return Err(invalid(
                Error::Index,
                format!("{name}: linebases {lb} / linewidth {lw} are impossible"),
            ));
        }
        let first = ((lb - start % lb).min(end - start)) as usize;
        out.reserve((end - start) as usize);
        out.extend_from_slice(&raw[..first]);
        let rest = raw.get(first + (lw - lb) as usize..).unwrap_or(&[]);
        let remaining = (end - start) as usize - first;
        // whole lines: fixed-width copies for common widths
        match lb {
            50 => copy_lines::<50>(rest, lw as usize, remaining, out),
            60 => copy_lines::<60>(rest, lw as usize, remaining, out),
            70 => copy_lines::<70>(rest, lw as usize, remaining, out),
            80 => copy_lines::<80>(rest, lw as usize, remaining, out),
            _ => copy_lines_any(rest, lb as usize, lw as usize, remaining, out),
        }
        if out.len() as u64 != end - start {
            return Err(invalid(
                Error::Index,
                format!("{name}: the index does not fit the data"),
            ));
        }
        Ok(())
    }

    /// Reads the whole sequence `name`.
    pub fn fetch_all(&mut self, name: &str, out: &mut Vec<u8>) -> io::Result<()> {
        let len = self
            .length(name)
            .ok_or_else(|| invalid(Error::Region, format!("no sequence named {name:?}")))?;
        self.fetch(name, 0, len, out)
    }
}

/// Appends `remaining` bases from `raw`, whose lines hold `LB` bases in `lw` bytes.
fn copy_lines<const LB: usize>(raw: &[u8], lw: usize, remaining: usize, out: &mut Vec<u8>) {
    let full = remaining / LB;
    for k in 0..full {
        let line: &[u8; LB] = match raw.get(k * lw..k * lw + LB).and_then(|s| s.try_into().ok()) {
            Some(l) => l,
            None => return,
        };
        out.extend_from_slice(line);
    }
    let tail = remaining - full * LB;
    if tail > 0 {
        out.extend_from_slice(raw.get(full * lw..full * lw + tail).unwrap_or(&[]));
    }
}

fn copy_lines_any(raw: &[u8], lb: usize, lw: usize, remaining: usize, out: &mut Vec<u8>) {
    let mut left = remaining;
    let mut off = 0;
    while left > 0 {
        let take = lb.min(left);
        match raw.get(off..off + take) {
            Some(line) => out.extend_from_slice(line),
            None => return,
        }
        left -= take;
        off += lw;
    }
}
