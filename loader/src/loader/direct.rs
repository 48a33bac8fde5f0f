//! [`ReadMode::Pread`](super::ReadMode::Pread) without touching the shard's map: member bytes go
//! from the page cache straight into the batch buffers with positioned reads, no intermediate
//! buffer and no page faults on the shard map (on small samples those cost more than the
//! copies: a fault maps the pages around every member).
//!
//! Members are deferred ([`Pending`]) and read in runs: one `preadv` per run of adjacent
//! members of one shard (a sequential order reads most of a batch in one call), each `.npy`
//! array's data straight into its row, its header and small members (`meta.json`) into a
//! scratch buffer, tar headers and padding into a discard buffer. A `.npy` member is deferred
//! when its stacked field's layout is known (every row after the field's first in the batch):
//! the header is then `member size - row bytes` long and is checked once read. The first row
//! of a field, list and padded fields, and large non-array members are read on their own
//! ([`read_member`]: the header, then the data into the row).

use std::fs::File;
use std::io::IoSliceMut;

use bomdata_schemas::manifest::IndexMember;
use bomdata_shard::npy;

use super::{Field, FieldKind, mismatch};
use crate::shapes::ShapePolicy;

/// Largest `.npy` header read into the stack buffer (writers pad headers to 64 bytes; a
/// header past this takes the two-read path).
const HEADER_MAX: usize = 4096;

/// Where a member's bytes lie in its shard.
#[derive(Clone, Copy, Debug)]
pub(super) struct Span {
    /// Byte offset of the data.
    pub(super) offset: u64,
    /// Bytes.
    pub(super) size: u64,
}

impl From<&IndexMember> for Span {
    fn from(m: &IndexMember) -> Self {
        Span {
            offset: m.offset,
            size: m.size,
        }
    }
}

/// Why a direct read failed: the shard's I/O, or its bytes (the caller names file and member).
pub(super) enum Fail {
    /// Reading the shard failed.
    Io(std::io::Error),
    /// The member's bytes are not what the field needs.
    Bad(String),
}

impl From<std::io::Error> for Fail {
    fn from(e: std::io::Error) -> Self {
        Fail::Io(e)
    }
}

/// Reads member `m` of a shard (`file`) into row `row` of `field`: `.npy` arrays (`npy` true)
/// into the field's tensor or list buffer, anything else as the row's bytes.
pub(super) fn read_member(
    field: &mut Field,
    row: usize,
    file: &File,
    m: Span,
    npy: bool,
) -> Result<(), Fail> {
    if !npy {
        let size = usize::try_from(m.size).map_err(|_| Fail::Bad("member too large".into()))?;
        let dst = field.bytes_row_reserve(row, size).map_err(Fail::Bad)?;
        super::read_at(file, dst, m.offset)?;
        return Ok(());
    }
    // the header first, then the data straight into the row
    let mut head = [0u8; HEADER_MAX];
    let n = usize::try_from(m.size.min(HEADER_MAX as u64)).unwrap_or(HEADER_MAX);
    super::read_at(file, &mut head[..n], m.offset)?;
    let (dtype, shape, data_offset) = match npy::decode_header(&head[..n]) {
        Ok(h) => h,
        Err(e) => return Err(Fail::Bad(e.to_string())),
    };
    let need = shape
        .iter()
        .try_fold(dtype.size(), |a, &d| a.checked_mul(d))
        .filter(|&b| (data_offset as u64).saturating_add(b as u64) <= m.size)
        .ok_or_else(|| {
            Fail::Bad(format!(
                "truncated .npy: {:?} {} needs more than the member's {} bytes",
                shape,
                dtype.name(),
                m.size
            ))
        })?;
    let dst = match field.policy {
        ShapePolicy::Stack | ShapePolicy::Bucket => field.tensor_row(row, dtype, &shape),
        _ => field.ragged_row(row, dtype, &shape),
    }
    .map_err(Fail::Bad)?;
    debug_assert_eq!(dst.len(), need);
    super::read_at(file, dst, m.offset + data_offset as u64)?;
    Ok(())
}

/// `preadv` of every buffer in order from `off`, to the end (short reads continue; end of
/// file is an error).
#[cfg(unix)]
fn preadv_exact(file: &File, bufs: &mut [IoSliceMut<'_>], mut off: u64) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    let mut bufs = bufs;
    while !bufs.is_empty() {
        let cnt = bufs.len().min(1024) as libc::c_int;
        let pos = libc::off_t::try_from(off).map_err(|_| std::io::Error::other("offset"))?;
        // SAFETY: `IoSliceMut` is ABI-compatible with `iovec` on unix; every buffer is a live,
        // exclusively borrowed slice.
        let n = unsafe { libc::preadv(file.as_raw_fd(), bufs.as_ptr().cast(), cnt, pos) };
        if n < 0 {
            let e = std::io::Error::last_os_error();
            if e.kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        off += n as u64;
        IoSliceMut::advance_slices(&mut bufs, n as usize);
    }
    Ok(())
}

#[cfg(not(unix))]
fn preadv_exact(file: &File, bufs: &mut [IoSliceMut<'_>], mut off: u64) -> std::io::Result<()> {
    for b in bufs.iter_mut() {
        super::read_at(file, b, off)?;
        off += b.len() as u64;
    }
    Ok(())
}

/// Gaps between members up to this size are read (into a discard buffer) to keep one `preadv`
/// over a run of members: tar headers and padding, usually 512–1,024 bytes.
const GAP_MAX: usize = 4096;

/// Bytes members up to this size are read into the run's scratch and copied (small
/// metadata); larger ones are read on their own, straight into their field.
const SMALL_BYTES: u64 = 64 << 10;

/// Where a segment of a run lands.
#[derive(Clone, Copy)]
enum Dst {
    /// The run's scratch, at this range (headers, small bytes members).
    Scratch(usize, usize),
    /// Row `row` of tensor field `field` (its buffer is sized for the batch and not moved
    /// until the run is read).
    Row { field: usize, row: usize },
}

/// What to do with a segment once read.
#[derive(Clone, Copy)]
enum After {
    /// Data in place; nothing.
    Nothing,
    /// A `.npy` header in scratch: check it against field `field`'s layout, then row `row`
    /// is filled (or re-read the long way when it is the same array with another header).
    Header { field: usize, row: usize },
    /// A bytes member in scratch: append it as row `row` of field `field`.
    Bytes { field: usize, row: usize },
}

struct Seg {
    off: u64,
    len: usize,
    dst: Dst,
    after: After,
    /// Index of the member in the pending list of member descriptions (for error messages
    /// and re-reads).
    member: usize,
}

/// Members of a batch waiting to be read in runs: one `preadv` per run of adjacent members of
/// one shard (sequential orders: most of a batch), instead of one call per member.
#[derive(Default)]
pub(super) struct Pending {
    segs: Vec<Seg>,
    /// `(shard file, member)` of each deferred member.
    members: Vec<(std::sync::Arc<crate::dataset::ShardFile>, Span)>,
    scratch: Vec<u8>,
    skip: Vec<u8>,
}

/// A failed deferred member: its shard and member, and why.
pub(super) struct PendingFail {
    pub(super) file: std::sync::Arc<crate::dataset::ShardFile>,
    pub(super) member: Span,
    pub(super) fail: Fail,
}

impl Pending {
    /// True when nothing waits.
    pub(super) fn is_empty(&self) -> bool {
        self.segs.is_empty()
    }

    /// Defers member `m` of `file` for row `row` of `fields[fi]` when it can be read as part
    /// of a run: a `.npy` member of a stacked field whose layout the batch already knows, or a
    /// small bytes member. False: the caller reads it now (after [`Pending::flush`]).
    pub(super) fn defer(
        &mut self,
        fields: &[Field],
        fi: usize,
        row: usize,
        file: &std::sync::Arc<crate::dataset::ShardFile>,
        m: &IndexMember,
        npy: bool,
    ) -> bool {
        let field = &fields[fi];
        let member = self.members.len();
        if !npy {
            if m.size > SMALL_BYTES
                || matches!(
                    field.kind,
                    FieldKind::Tensor { .. } | FieldKind::List { .. }
                )
            {
                return false;
            }
            let (start, len) = (self.scratch.len(), m.size as usize);
            self.scratch.resize(start + len, 0);
            self.segs.push(Seg {
                off: m.offset,
                len,
                dst: Dst::Scratch(start, len),
                after: After::Bytes { field: fi, row },
                member,
            });
        } else {
            if !matches!(field.policy, ShapePolicy::Stack | ShapePolicy::Bucket)
                || !matches!(field.kind, FieldKind::Tensor { .. })
            {
                return false;
            }
            let rb = field.row_bytes;
            let Some(hlen) = usize::try_from(m.size)
                .ok()
                .and_then(|s| s.checked_sub(rb))
                .filter(|h| (10..=HEADER_MAX).contains(h))
            else {
                return false;
            };
            let start = self.scratch.len();
            self.scratch.resize(start + hlen, 0);
            self.segs.push(Seg {
                off: m.offset,
                len: hlen,
                dst: Dst::Scratch(start, hlen),
                after: After::Header { field: fi, row },
                member,
            });
            self.segs.push(Seg {
                off: m.offset + hlen as u64,
                len: rb,
                dst: Dst::Row { field: fi, row },
                after: After::Nothing,
                member,
            });
        }
        self.members.push((file.clone(), m.into()));
        true
    }

    /// Reads every deferred member (one `preadv` per run of adjacent segments of one shard),
    /// checks the headers and appends the bytes rows in order; empties the list.
    pub(super) fn flush(&mut self, fields: &mut [Field]) -> Result<(), PendingFail> {
        if self.segs.is_empty() {
            return Ok(());
        }
        let res = self.read_runs(fields).and_then(|()| self.apply(fields));
        self.segs.clear();
        self.members.clear();
        self.scratch.clear();
        res
    }

    fn fail(&self, member: usize, fail: Fail) -> PendingFail {
        let (file, m) = &self.members[member];
        PendingFail {
            file: file.clone(),
            member: *m,
            fail,
        }
    }

    /// The gap before segment `j` when it continues a run that ends at `end` in `file`.
    fn gap(
        &self,
        j: usize,
        file: &std::sync::Arc<crate::dataset::ShardFile>,
        end: u64,
    ) -> Option<usize> {
        let s = &self.segs[j];
        let gap = s.off.checked_sub(end)?;
        (std::sync::Arc::ptr_eq(&self.members[s.member].0, file) && gap <= GAP_MAX as u64)
            .then_some(gap as usize)
    }

    fn read_runs(&mut self, fields: &mut [Field]) -> Result<(), PendingFail> {
        // every gap gets its own discard bytes (no two destinations overlap)
        let mut gaps = 0;
        for j in 1..self.segs.len() {
            let p = &self.segs[j - 1];
            gaps += self
                .gap(j, &self.members[p.member].0, p.off + p.len as u64)
                .unwrap_or(0);
        }
        if self.skip.len() < gaps {
            self.skip.resize(gaps, 0);
        }
        // destinations as raw parts: the scratch and the rows of several fields at once
        let scratch = self.scratch.as_mut_ptr();
        let skip = self.skip.as_mut_ptr();
        let mut skip_at = 0;
        let rows: Vec<(*mut u8, usize)> = fields
            .iter_mut()
            .map(|f| (f.data.as_mut_slice().as_mut_ptr(), f.row_bytes))
            .collect();
        let mut i = 0;
        while i < self.segs.len() {
            let first = &self.segs[i];
            let file = &self.members[first.member].0;
            let start = first.off;
            let mut end = start;
            let mut iov: Vec<IoSliceMut<'_>> = Vec::new();
            let mut j = i;
            while j < self.segs.len() {
                let Some(gap) = self.gap(j, file, end) else {
                    break;
                };
                let s = &self.segs[j];
                if gap > 0 {
                    // SAFETY: `skip` holds the sum of the gaps; this one's bytes are its own.
                    iov.push(IoSliceMut::new(unsafe {
                        std::slice::from_raw_parts_mut(skip.add(skip_at), gap)
                    }));
                    skip_at += gap;
                }
                let buf = match s.dst {
                    // SAFETY: a range `defer` reserved in the scratch (not resized since).
                    Dst::Scratch(at, len) => unsafe {
                        std::slice::from_raw_parts_mut(scratch.add(at), len)
                    },
                    // SAFETY: row `row` of a tensor field sized for the batch; each row is
                    // the destination of one segment only.
                    Dst::Row { field, row } => unsafe {
                        let (p, rb) = rows[field];
                        std::slice::from_raw_parts_mut(p.add(row * rb), rb)
                    },
                };
                iov.push(IoSliceMut::new(buf));
                end = s.off + s.len as u64;
                j += 1;
            }
            if let Err(e) = preadv_exact(file.file(), &mut iov, start) {
                return Err(self.fail(self.segs[i].member, Fail::Io(e)));
            }
            i = j;
        }
        Ok(())
    }

    fn apply(&mut self, fields: &mut [Field]) -> Result<(), PendingFail> {
        for k in 0..self.segs.len() {
            let s = &self.segs[k];
            let Dst::Scratch(at, len) = s.dst else {
                continue;
            };
            let bytes = &self.scratch[at..at + len];
            match s.after {
                After::Nothing => {}
                After::Bytes { field, row } => fields[field]
                    .bytes_row(row, bytes)
                    .map_err(|e| self.fail(s.member, Fail::Bad(e)))?,
                After::Header { field, row } => {
                    let f = &mut fields[field];
                    let FieldKind::Tensor {
                        dtype,
                        sample_shape,
                    } = &f.kind
                    else {
                        continue;
                    };
                    match npy::decode_header(bytes) {
                        Ok((d, sh, off)) if d == *dtype && sh == *sample_shape && off == len => {
                            f.filled[row] = true;
                        }
                        Ok((d, sh, _)) if d == *dtype && sh == *sample_shape => {
                            // same array, another header layout: read it the long way
                            let (file, m) = &self.members[s.member];
                            read_member(f, row, file.file(), *m, true)
                                .map_err(|e| self.fail(s.member, e))?;
                        }
                        Ok((d, sh, _)) => {
                            let msg = mismatch(&f.name, *dtype, sample_shape, d, &sh);
                            return Err(self.fail(s.member, Fail::Bad(msg)));
                        }
                        Err(e) => return Err(self.fail(s.member, Fail::Bad(e.to_string()))),
                    }
                }
            }
        }
        Ok(())
    }
}
