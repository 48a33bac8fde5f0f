//! [`ReadMode::Pread`](super::ReadMode::Pread) without touching the shard's map: each member's
//! bytes go from the page cache straight into its batch buffer with positioned reads. A `.npy`
//! member whose field layout is known (every row of a stacked field after its first in the
//! batch) is one `preadv`: its header into a small stack buffer, its data into the row. The
//! first row of a field, and list / padded fields, read the header first (a small `pread`),
//! then the data into the row. Other members (`meta.json`) are one `pread` into their bytes
//! field. No intermediate buffer; no page faults on the shard map (which on small samples cost
//! more than the copies: a fault maps the pages around every member).

use std::fs::File;
use std::io::IoSliceMut;

use bomdata_schemas::manifest::IndexMember;
use bomdata_shard::npy;

use super::{Field, FieldKind, mismatch};
use crate::shapes::ShapePolicy;

/// Largest `.npy` header read into the stack buffer (writers pad headers to 64 bytes; a
/// header past this takes the two-read path).
const HEADER_MAX: usize = 4096;

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
    m: &IndexMember,
    npy: bool,
) -> Result<(), Fail> {
    if !npy {
        let size = usize::try_from(m.size).map_err(|_| Fail::Bad("member too large".into()))?;
        let dst = field.bytes_row_reserve(row, size).map_err(Fail::Bad)?;
        super::read_at(file, dst, m.offset)?;
        return Ok(());
    }
    if known_layout_row(field, row, file, m)? {
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

/// A stacked field's row after the first: the member is `header + row bytes` with the header
/// of the field's dtype and shape, so one `preadv` reads the header into the stack and the data
/// into the row; the header is checked afterwards. Returns false when the layout is not known
/// yet or the member does not have that size (the caller takes the two-read path); a header
/// that names another dtype or shape is the stacked field's mismatch error.
fn known_layout_row(
    field: &mut Field,
    row: usize,
    file: &File,
    m: &IndexMember,
) -> Result<bool, Fail> {
    if !matches!(field.policy, ShapePolicy::Stack | ShapePolicy::Bucket) {
        return Ok(false);
    }
    let FieldKind::Tensor {
        dtype,
        sample_shape,
    } = &field.kind
    else {
        return Ok(false);
    };
    let rb = field.row_bytes;
    let Some(hlen) = usize::try_from(m.size)
        .ok()
        .and_then(|s| s.checked_sub(rb))
        .filter(|h| (10..=HEADER_MAX).contains(h))
    else {
        return Ok(false);
    };
    let mut head = [0u8; HEADER_MAX];
    let data = &mut field.data.as_mut_slice()[row * rb..(row + 1) * rb];
    preadv_exact(
        file,
        &mut [IoSliceMut::new(&mut head[..hlen]), IoSliceMut::new(data)],
        m.offset,
    )?;
    match npy::decode_header(&head[..hlen]) {
        Ok((d, s, off)) if d == *dtype && s == *sample_shape && off == hlen => {
            field.filled[row] = true;
            Ok(true)
        }
        // same array, another header layout (e.g. trailing bytes): read it the long way
        Ok((d, s, _)) if d == *dtype && s == *sample_shape => Ok(false),
        Ok((d, s, _)) => Err(Fail::Bad(mismatch(
            &field.name,
            *dtype,
            sample_shape,
            d,
            &s,
        ))),
        Err(e) => Err(Fail::Bad(e.to_string())),
    }
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
