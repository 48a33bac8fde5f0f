//! The whole-image fast path of [`Reader::read_c_order_f32_le`](super::Reader::read_c_order_f32_le).
//!
//! A single-file image (`.nii`, or `.nii.gz` with one gzip member, as nibabel, FSL and pigz write
//! them) is read whole: the file is memory-mapped, a gzip member is inflated by libdeflate in one
//! call straight into one buffer of the size the (already bounded) header gives, and the values
//! go from that Fortran-order buffer to the caller's C-order buffer tile by tile (one `(y, z)`
//! line of `x × t` values at a time, a few tens of KiB), decoded and scaled on the way — no
//! per-volume copies, no block of volumes.
//!
//! libdeflate was measured against the project's own decoder (`bomdata_genomic::inflate`) on a
//! nibabel-written float32 fMRI run (`bench/inflate`, one member of 361 MB): 1114 against 1028 MB
//! per CPU second, so libdeflate it is.
//!
//! Anything unusual — several gzip members (bgzip), data past the declared size, a stream that
//! does not inflate, a budget too small for the extra buffer, more than one axis after `z` —
//! returns `None` and the caller streams as before, so errors and edge cases behave exactly as
//! the streaming reader does.

use std::fs::File;
use std::path::Path;

use bomdata_format_core::budget;

use crate::decode::decode;
use crate::header::{ByteOrder, DataType};

/// The image bytes of a whole file: mapped (plain) or inflated (gzip).
pub(crate) enum Whole {
    /// A plain `.nii`, mapped read-only.
    Mapped(memmap2::Mmap),
    /// A gzip member inflated into an anonymous map, populated up front (one `mmap` call
    /// instead of a page fault per 4 KiB page on first touch).
    Inflated(memmap2::MmapMut),
}

impl Whole {
    /// The file's decoded bytes (header included).
    pub(crate) fn bytes(&self) -> &[u8] {
        match self {
            Whole::Mapped(m) => m,
            Whole::Inflated(v) => v,
        }
    }
}

/// Maps `path` read-only.
fn map(path: &Path) -> Option<memmap2::Mmap> {
    let f = File::open(path).ok()?;
    // SAFETY: the map is read-only and private to this reader; like every reader of a file that
    // another process may truncate meanwhile, a concurrent truncation could fault. Source images
    // are not written while they are ingested.
    // Populated: the pages (normally in the page cache) are mapped in one call, not faulted in
    // 64 KiB at a time.
    unsafe { memmap2::MmapOptions::new().populate().map(&f) }.ok()
}

/// The whole decoded file when it is exactly `expected` bytes (header, extensions and data) and
/// `expected` more bytes fit the memory budget beside `held`; `None` when the caller should stream.
pub(crate) fn load(path: &Path, gzipped: bool, expected: u64, held: u64) -> Option<Whole> {
    let m = map(path)?;
    if !gzipped {
        return (m.len() as u64 == expected).then_some(Whole::Mapped(m));
    }
    // The inflated copy is the one extra buffer of this path.
    budget::check(expected.saturating_add(held), "").ok()?;
    // ISIZE (the member's length mod 2^32) must match: a multi-member file ends with another
    // member's length (bgzip: 0), so it is left to the streaming reader without inflating.
    let tail = m.len().checked_sub(4).and_then(|at| m.get(at..))?;
    let isize = u32::from_le_bytes([tail[0], tail[1], tail[2], tail[3]]);
    if u64::from(isize) != expected & 0xffff_ffff {
        return None;
    }
    let len = usize::try_from(expected).ok()?;
    // Populated up front (one `mmap` call instead of a page fault per 4 KiB page on first
    // touch). Not advised for transparent huge pages: on the virtual machines measured, a huge
    // page cost 4-5 times the system time of its 512 small pages (compaction and zeroing of
    // fresh memory: 0.66-0.90 s against 0.17 s for 362 MB).
    let mut out = memmap2::MmapOptions::new()
        .len(len.max(1))
        .populate()
        .map_anon()
        .ok()?;
    let out_bytes = &mut out[..len];
    let mut d = libdeflater::Decompressor::new();
    // libdeflate checks the gzip header, CRC-32 and ISIZE; a stream that ends early, has more
    // data than `expected` or fails to inflate is streamed instead (and reported from there).
    match d.gzip_decompress(&m, out_bytes) {
        Ok(n) if n as u64 == expected => Some(Whole::Inflated(out)),
        _ => None,
    }
}

/// Grid of a 3-D or 4-D image: `(nx, ny, nz, nt)`.
pub(crate) type Grid = (usize, usize, usize, usize);

/// Decodes the Fortran-order image `src` (`dtype` values in `order`, scaled by `scale`) into
/// `out`, float32 little-endian in C order of `(x, y, z, t)`. `src` and `out` hold exactly the
/// image (`nx·ny·nz·nt` values).
///
/// One `(y, z)` line at a time: its `nt` rows of `nx` values are decoded into a tile (contiguous
/// reads, one row per frame), then each `x` gets its `nt` values written contiguously.
pub(crate) fn c_order(
    dtype: DataType,
    order: ByteOrder,
    scale: Option<(f64, f64)>,
    (nx, ny, nz, nt): Grid,
    src: &[u8],
    out: &mut [u8],
) {
    let elem = dtype.size();
    let vox = nx * ny * nz;
    if vox == 0 || nt == 0 {
        return;
    }
    let mut tile = vec![0f32; nx * nt];
    for z in 0..nz {
        for y in 0..ny {
            let line = (z * ny + y) * nx;
            for (t, row) in tile.chunks_exact_mut(nx).enumerate() {
                let at = (t * vox + line) * elem;
                decode(dtype, order, &src[at..at + nx * elem], scale, row);
            }
            for x in 0..nx {
                let o = 4 * ((x * ny + y) * nz + z) * nt;
                let dst = &mut out[o..o + 4 * nt];
                for (c, t) in dst.chunks_exact_mut(4).zip(0..nt) {
                    c.copy_from_slice(&tile[t * nx + x].to_le_bytes());
                }
            }
        }
    }
}
