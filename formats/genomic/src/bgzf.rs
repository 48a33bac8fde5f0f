//! BGZF (SAM/BAM spec §4.1): block scanning, block decompression, `.gzi` indexes and
//! random access by uncompressed offset.
//!
//! A BGZF file is a series of gzip members, each at most 64 KiB, whose gzip header carries a
//! `BC` extra subfield with the member's compressed size. A `.gzi` index lists, for every block
//! after the first, its compressed offset and the uncompressed offset of its first byte.

use std::io;

use crate::error::{Error, invalid};

/// One BGZF block as found in the file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Block {
    /// Byte offset of the block in the compressed file.
    pub compressed_offset: u64,
    /// Size of the whole block (header, deflate data and trailer) in bytes.
    pub compressed_size: u32,
    /// Offset of the block's first decompressed byte in the decompressed stream.
    pub uncompressed_offset: u64,
    /// Decompressed size (the trailer's ISIZE).
    pub uncompressed_size: u32,
}

/// Parses the header of the block at `off`: returns (total block size, data start, ISIZE).
fn block_header(data: &[u8], off: usize) -> io::Result<(usize, usize, u32)> {
    let head = data
        .get(off..off + 18)
        .ok_or_else(|| invalid(Error::Bgzf, format!("truncated block header at byte {off}")))?;
    if head[0] != 0x1f || head[1] != 0x8b || head[2] != 8 || head[3] & 4 == 0 {
        return Err(invalid(
            Error::Bgzf,
            format!("no bgzf block header at byte {off}"),
        ));
    }
    let xlen = u16::from_le_bytes([head[10], head[11]]) as usize;
    let extra = data.get(off + 12..off + 12 + xlen).ok_or_else(|| {
        invalid(
            Error::Bgzf,
            format!("truncated extra field of block at byte {off}"),
        )
    })?;
    let mut i = 0;
    let mut bsize = None;
    while i + 4 <= extra.len() {
        let slen = u16::from_le_bytes([extra[i + 2], extra[i + 3]]) as usize;
        if extra[i] == b'B' && extra[i + 1] == b'C' && slen == 2 && i + 6 <= extra.len() {
            bsize = Some(u16::from_le_bytes([extra[i + 4], extra[i + 5]]) as usize + 1);
        }
        i += 4 + slen;
    }
    let bsize = bsize.ok_or_else(|| {
        invalid(
            Error::Bgzf,
            format!("block at byte {off} has no BC subfield"),
        )
    })?;
    if bsize < 12 + xlen + 8 {
        return Err(invalid(
            Error::Bgzf,
            format!("block at byte {off}: size {bsize} too small"),
        ));
    }
    let tail = data.get(off + bsize - 4..off + bsize).ok_or_else(|| {
        invalid(
            Error::Bgzf,
            format!(
                "block at byte {off} truncated: needs {bsize} bytes, file has {}",
                data.len() - off
            ),
        )
    })?;
    let isize = u32::from_le_bytes([tail[0], tail[1], tail[2], tail[3]]);
    if isize > 65536 {
        return Err(invalid(
            Error::Bgzf,
            format!("block at byte {off}: isize {isize} > 65536"),
        ));
    }
    Ok((bsize, off + 12 + xlen, isize))
}

/// Lists every block of a BGZF file by reading block headers only.
pub fn scan_blocks(data: &[u8]) -> io::Result<Vec<Block>> {
    let mut blocks = Vec::new();
    let (mut off, mut uoff) = (0usize, 0u64);
    while off < data.len() {
        let (bsize, _, isize) = block_header(data, off)?;
        blocks.push(Block {
            compressed_offset: off as u64,
            compressed_size: bsize as u32,
            uncompressed_offset: uoff,
            uncompressed_size: isize,
        });
        off += bsize;
        uoff += u64::from(isize);
    }
    Ok(blocks)
}

/// A reusable raw-deflate decoder for BGZF blocks ([`crate::inflate`]: a block's ISIZE is
/// known and at most 64 KiB, so a one-shot decoder fits and avoids streaming state; it is
/// faster than libdeflate on DNA text, see `bench/inflate/run.sh`).
pub struct Inflater(crate::inflate::Decoder);

impl Inflater {
    /// A new decoder.
    pub fn new() -> Self {
        Inflater(crate::inflate::Decoder::new())
    }
}

impl Default for Inflater {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for Inflater {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Inflater")
    }
}

/// Decompresses the block at `off` into `out`, which must be exactly the block's ISIZE long;
/// checks ISIZE and CRC32. Returns the block's compressed size.
fn inflate_into(data: &[u8], off: usize, dec: &mut Inflater, out: &mut [u8]) -> io::Result<usize> {
    let (bsize, start, isize) = block_header(data, off)?;
    if out.len() != isize as usize {
        return Err(invalid(
            Error::Bgzf,
            format!(
                "block at byte {off}: isize {isize} differs from the block scan ({})",
                out.len()
            ),
        ));
    }
    let payload = &data[start..off + bsize - 8];
    let crc = u32::from_le_bytes([
        data[off + bsize - 8],
        data[off + bsize - 7],
        data[off + bsize - 6],
        data[off + bsize - 5],
    ]);
    let got = dec.0.inflate(payload, out).map_err(|e| {
        invalid(
            Error::Bgzf,
            format!("block at byte {off}: deflate error: {e}"),
        )
    })?;
    if got != isize as usize {
        return Err(invalid(
            Error::Bgzf,
            format!("block at byte {off}: inflated {got} bytes, isize says {isize}"),
        ));
    }
    if libdeflater::crc32(out) != crc {
        return Err(invalid(
            Error::Bgzf,
            format!("block at byte {off}: crc32 mismatch"),
        ));
    }
    Ok(bsize)
}

/// Decompresses the block at `off`, appending to `out`; checks ISIZE and CRC32. Returns the
/// block's compressed size.
pub fn decompress_block(
    data: &[u8],
    off: usize,
    dec: &mut Inflater,
    out: &mut Vec<u8>,
) -> io::Result<usize> {
    let (_, _, isize) = block_header(data, off)?;
    let base = out.len();
    out.resize(base + isize as usize, 0);
    let r = inflate_into(data, off, dec, &mut out[base..]);
    if r.is_err() {
        out.truncate(base);
    }
    r
}

/// Decompresses a whole BGZF file.
pub fn decompress_all(data: &[u8]) -> io::Result<Vec<u8>> {
    let blocks = scan_blocks(data)?;
    let total: u64 = blocks.iter().map(|b| u64::from(b.uncompressed_size)).sum();
    let mut out = vec![0u8; total as usize];
    let mut dec = Inflater::new();
    let mut at = 0usize;
    for b in &blocks {
        let n = b.uncompressed_size as usize;
        inflate_into(
            data,
            b.compressed_offset as usize,
            &mut dec,
            &mut out[at..at + n],
        )?;
        at += n;
    }
    Ok(out)
}

/// A `.gzi` index: (compressed offset, uncompressed offset) of every block after the first.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Gzi(pub Vec<(u64, u64)>);

impl Gzi {
    /// Parses the bytes of a `.gzi` file (u64 count, then count pairs, little-endian).
    pub fn parse(bytes: &[u8]) -> io::Result<Gzi> {
        let rd = |i: usize| -> io::Result<u64> {
            bytes
                .get(i..i + 8)
                .map(|b| u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]))
                .ok_or_else(|| invalid(Error::Index, format!("gzi truncated at byte {i}")))
        };
        let n = rd(0)?;
        if n.checked_mul(16).and_then(|x| x.checked_add(8)) != Some(bytes.len() as u64) {
            return Err(invalid(
                Error::Index,
                format!("gzi says {n} entries but has {} bytes", bytes.len()),
            ));
        }
        let mut v = Vec::with_capacity(n as usize);
        for k in 0..n as usize {
            v.push((rd(8 + 16 * k)?, rd(16 + 16 * k)?));
        }
        Ok(Gzi(v))
    }

    /// The index implied by a block list (what `bgzip -r` writes: every block after the first
    /// that holds data; the empty EOF block is not listed).
    pub fn from_blocks(blocks: &[Block]) -> Gzi {
        Gzi(blocks
            .iter()
            .skip(1)
            .filter(|b| b.uncompressed_size > 0)
            .map(|b| (b.compressed_offset, b.uncompressed_offset))
            .collect())
    }

    /// Serialises the index as `.gzi` bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(8 + 16 * self.0.len());
        out.extend((self.0.len() as u64).to_le_bytes());
        for (c, u) in &self.0 {
            out.extend(c.to_le_bytes());
            out.extend(u.to_le_bytes());
        }
        out
    }
}

/// Random access into a BGZF file held in memory, by uncompressed offset.
#[derive(Debug)]
pub struct RandomAccess {
    blocks: Vec<Block>,
    dec: Inflater,
    /// Extra decoders for [`RandomAccess::set_threads`] (one per extra thread).
    extra: Vec<Inflater>,
}

impl RandomAccess {
    /// Scans the blocks of `data`.
    pub fn new(data: &[u8]) -> io::Result<Self> {
        Ok(Self::from_blocks(scan_blocks(data)?))
    }

    /// Builds from a block list already checked against the data.
    pub fn from_blocks(blocks: Vec<Block>) -> Self {
        Self {
            blocks,
            dec: Inflater::new(),
            extra: Vec::new(),
        }
    }

    /// Inflates blocks on `threads` threads (default 1) in [`RandomAccess::read_cached`], which
    /// then also reads ahead (16 blocks per thread) so that each batch has work for every
    /// thread. Results are identical; only throughput changes.
    pub fn set_threads(&mut self, threads: usize) {
        let n = threads.max(1) - 1;
        self.extra.resize_with(n, Inflater::new);
    }

    /// Inflates `blocks` back to back into `out` (exactly their total size), on the extra
    /// decoders' threads too when there are any.
    fn inflate_blocks(
        dec: &mut Inflater,
        extra: &mut [Inflater],
        data: &[u8],
        blocks: &[Block],
        out: &mut [u8],
    ) -> io::Result<()> {
        if extra.is_empty() || blocks.len() < 2 {
            let mut at = 0usize;
            for b in blocks {
                let n = b.uncompressed_size as usize;
                inflate_into(
                    data,
                    b.compressed_offset as usize,
                    dec,
                    &mut out[at..at + n],
                )?;
                at += n;
            }
            return Ok(());
        }
        // contiguous groups of blocks, one per thread, each into its own part of `out`
        let per = blocks.len().div_ceil(extra.len() + 1);
        let mut jobs: Vec<(&mut Inflater, &[Block], &mut [u8])> = Vec::new();
        let mut rest = out;
        let mut decs = std::iter::once(dec).chain(extra.iter_mut());
        for group in blocks.chunks(per) {
            let size: usize = group.iter().map(|b| b.uncompressed_size as usize).sum();
            let (mine, tail) = rest.split_at_mut(size);
            rest = tail;
            if let Some(d) = decs.next() {
                jobs.push((d, group, mine));
            }
        }
        std::thread::scope(|sc| {
            let handles: Vec<_> = jobs
                .into_iter()
                .map(|(d, group, mine)| {
                    sc.spawn(move || Self::inflate_blocks(d, &mut [], data, group, mine))
                })
                .collect();
            handles.into_iter().try_for_each(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(invalid(Error::Bgzf, "inflate thread panicked")))
            })
        })
    }

    /// The blocks.
    pub fn blocks(&self) -> &[Block] {
        &self.blocks
    }

    /// Total decompressed size.
    pub fn uncompressed_len(&self) -> u64 {
        self.blocks
            .last()
            .map(|b| b.uncompressed_offset + u64::from(b.uncompressed_size))
            .unwrap_or(0)
    }

    /// Decompresses the bytes `[start, end)` of the decompressed stream into `out` (its old
    /// content is replaced).
    pub fn read_range(
        &mut self,
        data: &[u8],
        start: u64,
        end: u64,
        out: &mut Vec<u8>,
    ) -> io::Result<()> {
        let skip = self.read_blocks_covering(data, start, end, out)?;
        out.drain(..skip);
        out.truncate((end.saturating_sub(start)) as usize);
        Ok(())
    }

    /// Decompresses the blocks covering `[start, end)` into `out` (its old content is replaced;
    /// its allocation is reused without zeroing) and returns the offset of byte `start` in
    /// `out`. Each block is inflated straight into its place in `out`: no copy beyond the
    /// inflate itself.
    pub fn read_blocks_covering(
        &mut self,
        data: &[u8],
        start: u64,
        end: u64,
        out: &mut Vec<u8>,
    ) -> io::Result<usize> {
        if end <= start {
            out.clear();
            return Ok(0);
        }
        if end > self.uncompressed_len() {
            out.clear();
            return Err(invalid(
                Error::Bgzf,
                format!(
                    "range {start}-{end} past the decompressed end {}",
                    self.uncompressed_len()
                ),
            ));
        }
        let first = self
            .blocks
            .partition_point(|b| b.uncompressed_offset + u64::from(b.uncompressed_size) <= start);
        let base = self.blocks[first].uncompressed_offset;
        let last_needed = self.blocks.partition_point(|b| b.uncompressed_offset < end);
        let need: u64 = self.blocks[first..last_needed]
            .iter()
            .map(|b| u64::from(b.uncompressed_size))
            .sum();
        // shrinking keeps the bytes, growing zeroes only the new tail; all is overwritten below
        out.resize(need as usize, 0);
        let mut at = 0usize;
        for b in &self.blocks[first..last_needed] {
            let n = b.uncompressed_size as usize;
            let r = inflate_into(
                data,
                b.compressed_offset as usize,
                &mut self.dec,
                &mut out[at..at + n],
            );
            if let Err(e) = r {
                out.clear();
                return Err(e);
            }
            at += n;
        }
        Ok((start - base) as usize)
    }
}

/// Decompressed blocks kept between reads, so that sequential reads through
/// [`RandomAccess::read_cached`] never inflate a block twice (the block holding the boundary
/// between two reads is reused, not decoded again).
#[derive(Debug, Default)]
pub struct BlockCache {
    buf: Vec<u8>,
    len: usize,
    /// Blocks `first..last` are in `buf`, back to back.
    first: usize,
    last: usize,
}

/// Cached bytes before the block a read needs are moved out once they reach this size.
const COMPACT_AT: usize = 1 << 20;

impl RandomAccess {
    /// The bytes `[start, end)` of the decompressed stream, through `cache`: blocks already in
    /// the cache are reused; the others are inflated straight into it.
    pub fn read_cached<'c>(
        &mut self,
        data: &[u8],
        start: u64,
        end: u64,
        cache: &'c mut BlockCache,
    ) -> io::Result<&'c [u8]> {
        if end <= start {
            return Ok(&[]);
        }
        if end > self.uncompressed_len() {
            return Err(invalid(
                Error::Bgzf,
                format!(
                    "range {start}-{end} past the decompressed end {}",
                    self.uncompressed_len()
                ),
            ));
        }
        if cache.first < cache.last {
            let base = self.blocks[cache.first].uncompressed_offset;
            if start >= base && end <= base + cache.len as u64 {
                // every byte is cached already (no block search)
                let a = (start - base) as usize;
                return Ok(&cache.buf[a..a + (end - start) as usize]);
            }
        }
        let first = self
            .blocks
            .partition_point(|b| b.uncompressed_offset + u64::from(b.uncompressed_size) <= start);
        let last = self.blocks.partition_point(|b| b.uncompressed_offset < end);
        let reuse = cache.first <= first && first < cache.last && cache.last <= last;
        // `cache.buf[..cache.len]` holds blocks `cache.first..cache.last`; the bytes past it
        // are stale but keep the allocation initialised, so no read zeroes memory again
        let (keep_from, kept) = if reuse {
            let drop = (self.blocks[first].uncompressed_offset
                - self.blocks[cache.first].uncompressed_offset) as usize;
            if drop >= COMPACT_AT {
                // move the cached blocks from `first` on (usually one) to the front
                cache.buf.copy_within(drop..cache.len, 0);
                cache.first = first;
                (cache.last, cache.len - drop)
            } else {
                // keep everything and append: small reads cost no copy
                (cache.last, cache.len)
            }
        } else {
            cache.first = first;
            (first, 0)
        };
        let cache_first = cache.first;
        cache.last = cache.first;
        cache.len = 0;
        let last = if self.extra.is_empty() {
            last
        } else {
            // read ahead so that every thread has blocks to inflate
            last.max(keep_from + 16 * (self.extra.len() + 1))
                .min(self.blocks.len())
        };
        let need: u64 = self.blocks[keep_from..last]
            .iter()
            .map(|b| u64::from(b.uncompressed_size))
            .sum();
        let total = kept + need as usize;
        if cache.buf.len() < total {
            cache.buf.resize(total, 0);
        }
        Self::inflate_blocks(
            &mut self.dec,
            &mut self.extra,
            data,
            &self.blocks[keep_from..last],
            &mut cache.buf[kept..total],
        )?;
        cache.first = cache_first;
        cache.last = last;
        cache.len = total;
        let skip = (start - self.blocks[cache_first].uncompressed_offset) as usize;
        let n = (end - start) as usize;
        Ok(&cache.buf[skip..skip + n])
    }
}

/// Compresses `data` as BGZF (blocks of up to 65280 input bytes, plus the EOF block).
/// Used by tests and benchmarks to make BGZF inputs.
pub fn compress(data: &[u8], level: u32) -> Vec<u8> {
    use flate2::{Compress, Compression, FlushCompress};
    let mut out = Vec::with_capacity(data.len() / 3);
    let mut comp = Compress::new(Compression::new(level), false);
    let mut cbuf = Vec::with_capacity(70000);
    let mut write_block = |chunk: &[u8], out: &mut Vec<u8>| {
        comp.reset();
        cbuf.clear();
        // deflate output of <=65280 bytes always fits in 65536 + some slack
        let _ = comp.compress_vec(chunk, &mut cbuf, FlushCompress::Finish);
        let bsize = 18 + cbuf.len() + 8;
        out.extend([
            0x1f, 0x8b, 8, 4, 0, 0, 0, 0, 0, 0xff, 6, 0, b'B', b'C', 2, 0,
        ]);
        out.extend(((bsize - 1) as u16).to_le_bytes());
        out.extend_from_slice(&cbuf);
        let mut c = flate2::Crc::new();
        c.update(chunk);
        out.extend(c.sum().to_le_bytes());
        out.extend((chunk.len() as u32).to_le_bytes());
    };
    for chunk in data.chunks(65280) {
        write_block(chunk, &mut out);
    }
    write_block(&[], &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip_and_ranges() {
        let data: Vec<u8> = (0..300_000u32)
            .map(|i| b"ACGTN"[(i % 5) as usize])
            .collect();
        let z = compress(&data, 6);
        assert_eq!(decompress_all(&z).unwrap(), data);
        let mut ra = RandomAccess::new(&z).unwrap();
        let mut out = Vec::new();
        ra.read_range(&z, 65000, 140000, &mut out).unwrap();
        assert_eq!(out, &data[65000..140000]);
        let mut cache = BlockCache::default();
        let mut ra2 = RandomAccess::new(&z).unwrap();
        ra2.set_threads(3);
        let mut cache2 = BlockCache::default();
        for (a, b) in [
            (0, 10),
            (10, 70000),
            (70001, 300000),
            (299999, 300000),
            (5, 200),
        ] {
            assert_eq!(
                ra2.read_cached(&z, a, b, &mut cache2).unwrap(),
                &data[a as usize..b as usize]
            );
        }
        for (a, b) in [
            (0, 10),
            (10, 70000),
            (70000, 70001),
            (70001, 200000),
            (5, 300000),
            (299999, 300000),
            (100, 200),
        ] {
            assert_eq!(
                ra.read_cached(&z, a, b, &mut cache).unwrap(),
                &data[a as usize..b as usize]
            );
        }
        let gzi = Gzi::from_blocks(ra.blocks());
        assert_eq!(Gzi::parse(&gzi.to_bytes()).unwrap(), gzi);
    }

    #[test]
    fn truncated_block_is_an_error() {
        let data = vec![b'A'; 100_000];
        let z = compress(&data, 6);
        let cut = &z[..z.len() / 2];
        let e = decompress_all(cut).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidData);
        assert!(e.to_string().contains("truncated"), "{e}");
    }
}
