//! A single-frame series straight into a C-order float32 `(x, y, z[, t])` array (`x` = column,
//! `y` = row): the layout of a canonical volume, filled without per-slice `f64` vectors.
//!
//! [`headers`] reads every instance up to its PixelData (as [`crate::open_header`]) and plans the
//! series ([`crate::series::stack`]'s checks, order and affine). [`Headers::fill_c_order_f32`]
//! then reads each instance's pixels once: native 16-bit little-endian pixel data (the common
//! case) is read alone, at the offset the header pass found, into one reused buffer and
//! converted straight to float32; anything else (compressed, big endian, other bit depths, an
//! element that moved) goes through the full parse and [`crate::decode`]. Values are those of
//! [`crate::series::volume`] cast to float32: the stored value after the modality LUT, computed
//! in `f64` when a rescale is present.
//!
//! Slices are converted a batch at a time (up to 8 MiB of float32) and written into the array in
//! tiles, so each voxel column receives a run of values per batch rather than one scattered
//! store per value.

use std::os::unix::fs::FileExt;
use std::path::Path;

use crate::error::SeriesError;
use crate::parse::File;
use crate::pixels::{Image, decode};
use crate::series::{Geometry, Plan, Slice, plan, read, read_error, read_header};

/// The instances of one series read up to their pixel data, and its plan.
pub struct Headers {
    slices: Vec<Slice>,
    plan: Plan,
}

impl std::fmt::Debug for Headers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Headers")
            .field("shape", &self.plan.geometry.shape)
            .field("instances", &self.slices.len())
            .finish()
    }
}

/// One instance read up to its pixel data ([`crate::open_header`]'s reading), with its geometry.
pub struct Instance(Slice);

impl std::fmt::Debug for Instance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Instance").field(&self.0.path).finish()
    }
}

impl Instance {
    /// Reads an instance's attributes (not its pixel data): a single-frame, single-sample
    /// image with ImagePositionPatient, ImageOrientationPatient and PixelSpacing.
    pub fn read(path: &Path) -> Result<Instance, SeriesError> {
        read_header(path).map(Instance)
    }

    /// The attributes before PixelData.
    pub fn file(&self) -> &File {
        &self.0.file
    }

    /// The image attributes.
    pub fn image(&self) -> &Image {
        &self.0.img
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.0.path
    }

    /// Whether its pixels are native 16-bit little endian read alone (else the whole file is
    /// parsed and decoded when the array is filled).
    pub fn native16(&self) -> bool {
        self.0.native16.is_some()
    }
}

/// Plans a series from its instances as [`crate::series::stack`] does (same checks and errors).
pub fn plan_instances(instances: Vec<Instance>) -> Result<Headers, SeriesError> {
    let slices: Vec<Slice> = instances.into_iter().map(|i| i.0).collect();
    let plan = plan(&slices)?;
    Ok(Headers { slices, plan })
}

/// Reads every instance's attributes ([`Instance::read`]) and plans the series
/// ([`plan_instances`]).
pub fn headers(paths: &[std::path::PathBuf]) -> Result<Headers, SeriesError> {
    let instances = paths
        .iter()
        .map(|p| Instance::read(p))
        .collect::<Result<Vec<_>, _>>()?;
    plan_instances(instances)
}

/// Slices converted per batch: at most this many bytes of float32.
const BATCH_BYTES: usize = 8 << 20;
/// Voxel columns written per tile: 16 float32 = one 64-byte cache line of a batch row.
const TILE: usize = 16;

impl Headers {
    /// The grid: shape, affine and the files in storage order.
    pub fn geometry(&self) -> &Geometry {
        &self.plan.geometry
    }

    /// Every instance's path and attributes (without PixelData), in the order given to
    /// [`headers`].
    pub fn files(&self) -> impl Iterator<Item = (&Path, &File)> {
        self.slices.iter().map(|s| (s.path.as_path(), &s.file))
    }

    /// How many instances take the 16-bit fast path ([`Instance::native16`]).
    pub fn native16_count(&self) -> usize {
        self.slices.iter().filter(|s| s.native16.is_some()).count()
    }

    /// Float32 values in the array ([`Geometry::shape`]'s product).
    pub fn len(&self) -> usize {
        self.plan.geometry.shape.iter().product()
    }

    /// Whether the array is empty (never, for a planned series).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Fills `out` (exactly `4 ×` [`Headers::len`] bytes) with the series' values as float32
    /// little endian in C order of [`Geometry::shape`]. Every byte of `out` is written.
    pub fn fill_c_order_f32(&self, out: &mut [u8]) -> Result<(), SeriesError> {
        self.fill_with(out, BATCH_BYTES, true)
    }

    /// [`Headers::fill_c_order_f32`] with batches of at most `batch_bytes` of float32, and the
    /// row-band pass allowed or not (for tests of both passes and of partial batches).
    #[doc(hidden)]
    pub fn fill_with(
        &self,
        out: &mut [u8],
        batch_bytes: usize,
        by_rows: bool,
    ) -> Result<(), SeriesError> {
        if out.len() != 4 * self.len() {
            return Err(SeriesError::OutputSize {
                got: out.len(),
                need: 4 * self.len(),
            });
        }
        let shape = &self.plan.geometry.shape;
        let (nx, ny, nz) = (shape[0], shape[1], shape[2]);
        let nt = shape.get(3).copied().unwrap_or(1);
        let dims = Dims { nx, ny, nz, nt };
        if by_rows && let Some(files) = self.open_all(batch_bytes) {
            return fill_by_rows(&files, dims, batch_bytes, out);
        }
        let nxy = nx * ny;
        let block = (batch_bytes / (4 * nxy).max(1)).clamp(1, nz.max(1));
        let mut batch = vec![0f32; block * nxy];
        let mut raw = Vec::new();
        for t in 0..nt {
            for k0 in (0..nz).step_by(block) {
                let cnt = block.min(nz - k0);
                for s in 0..cnt {
                    let Some(&(_, _, i)) = self.plan.order.get(t * nz + k0 + s) else {
                        continue;
                    };
                    let slot = &mut batch[s * nxy..(s + 1) * nxy];
                    slice_f32(&self.slices[i], &mut raw, slot)?;
                }
                scatter(&batch[..cnt * nxy], cnt, dims, k0, t, out);
            }
        }
        Ok(())
    }
}

/// Instances at most held open at once by the row-band pass.
const MAX_OPEN: usize = 256;
/// Fewest rows a band of the row-band pass may hold.
const MIN_BAND_ROWS: usize = 4;

impl Headers {
    /// Every instance opened with its pixels checked where the header pass found them, in
    /// storage order, when the row-band pass applies: all on the 16-bit fast path, at most
    /// [`MAX_OPEN`] of them, and a band of at least [`MIN_BAND_ROWS`] rows fits the batch.
    fn open_all(&self, batch_bytes: usize) -> Option<Vec<(std::fs::File, Native16, &Slice)>> {
        let shape = &self.plan.geometry.shape;
        let w = self.plan.order.len();
        if w > MAX_OPEN || batch_bytes / (4 * w * shape[0]).max(1) < MIN_BAND_ROWS {
            return None;
        }
        let mut head = [0u8; 12];
        let mut files = Vec::with_capacity(w);
        for &(_, _, i) in &self.plan.order {
            let s = &self.slices[i];
            let n = s.native16?;
            let f = std::fs::File::open(&s.path).ok()?;
            let end = n.at + u64::from(n.header) + u64::from(n.len);
            let hl = usize::from(n.header);
            let ok = f.metadata().is_ok_and(|m| m.len() >= end)
                && f.read_exact_at(&mut head[..hl], n.at).is_ok()
                && head[..4] == [0xE0, 0x7F, 0x10, 0x00]
                && head[hl - 4..hl] == n.len.to_le_bytes();
            if !ok {
                return None;
            }
            files.push((f, n, s));
        }
        Some(files)
    }
}

/// One pass over the array: bands of rows of every instance (`files`, storage order) are read
/// and converted into a batch, then every voxel column of the band is written whole (a run of
/// `nz × nt` values), so each byte of `out` is written once.
fn fill_by_rows(
    files: &[(std::fs::File, Native16, &Slice)],
    d: Dims,
    batch_bytes: usize,
    out: &mut [u8],
) -> Result<(), SeriesError> {
    let Dims { nx, ny, nz, nt } = d;
    let w = files.len();
    let band = (batch_bytes / (4 * w * nx).max(1)).clamp(1, ny.max(1));
    let mut batch = vec![0f32; w * band * nx];
    let mut raw = vec![0u8; band * nx * 2];
    for y0 in (0..ny).step_by(band) {
        let rows = band.min(ny - y0);
        let per = rows * nx;
        for (s, (f, n, slice)) in files.iter().enumerate() {
            let at = n.at + u64::from(n.header) + (y0 * nx * 2) as u64;
            let bytes = &mut raw[..per * 2];
            f.read_exact_at(bytes, at)
                .map_err(|e| read_error(&slice.path, &e))?;
            convert16(bytes, &slice.img, &mut batch[s * per..(s + 1) * per]);
        }
        if nt == 1 {
            transpose_band(&batch[..w * per], Dims { nx, ny, nz, nt }, y0, rows, out);
            continue;
        }
        for x in 0..nx {
            for y in y0..y0 + rows {
                let at = (x * ny + y) * w;
                let Some(dst) = out.get_mut(4 * at..4 * (at + w)) else {
                    continue;
                };
                let Some(col) = batch.get((y - y0) * nx + x..) else {
                    continue;
                };
                // Storage order is slice fastest; the array's is volume fastest.
                for (s, v) in col.iter().step_by(per).take(w).enumerate() {
                    let o = 4 * ((s % nz) * nt + s / nz);
                    if let Some(o) = dst.get_mut(o..o + 4) {
                        o.copy_from_slice(&v.to_le_bytes());
                    }
                }
            }
        }
    }
    Ok(())
}

/// Writes a band of `rows` rows from `y0` of every slice of a 3-D series (`batch`: slice by
/// slice, column fastest) into the array, in 16 × 16 tiles (16 slices × 16 columns), so each
/// tile touches 16 rows of the batch and 16 runs of the array rather than a page per value.
fn transpose_band(batch: &[f32], d: Dims, y0: usize, rows: usize, out: &mut [u8]) {
    let Dims { nx, ny, nz, .. } = d;
    let per = rows * nx;
    for yy in 0..rows {
        let y = y0 + yy;
        for xb in (0..nx).step_by(TILE) {
            let xn = TILE.min(nx - xb);
            for sb in (0..nz).step_by(TILE) {
                let sn = TILE.min(nz - sb);
                let mut tile = [[0f32; TILE]; TILE];
                for si in 0..sn {
                    let from = (sb + si) * per + yy * nx + xb;
                    let Some(src) = batch.get(from..from + xn) else {
                        continue;
                    };
                    for (t, &v) in tile.iter_mut().zip(src) {
                        t[si] = v;
                    }
                }
                for (xi, t) in tile.iter().enumerate().take(xn) {
                    let at = ((xb + xi) * ny + y) * nz + sb;
                    let Some(dst) = out.get_mut(4 * at..4 * (at + sn)) else {
                        continue;
                    };
                    for (o, v) in dst.chunks_exact_mut(4).zip(t) {
                        o.copy_from_slice(&v.to_le_bytes());
                    }
                }
            }
        }
    }
}

#[derive(Clone, Copy)]
struct Dims {
    nx: usize,
    ny: usize,
    nz: usize,
    nt: usize,
}

/// Writes `cnt` slices (`batch`, column fastest) as slices `k0..k0 + cnt` of volume `t`.
fn scatter(batch: &[f32], cnt: usize, d: Dims, k0: usize, t: usize, out: &mut [u8]) {
    let Dims { nx, ny, nz, nt } = d;
    let nxy = nx * ny;
    for xb in (0..nx).step_by(TILE) {
        for y in 0..ny {
            for x in xb..(xb + TILE).min(nx) {
                let at = ((x * ny + y) * nz + k0) * nt + t;
                let src = batch.iter().skip(y * nx + x).step_by(nxy).take(cnt);
                if nt == 1 {
                    let Some(dst) = out.get_mut(4 * at..4 * (at + cnt)) else {
                        continue;
                    };
                    for (o, v) in dst.chunks_exact_mut(4).zip(src) {
                        o.copy_from_slice(&v.to_le_bytes());
                    }
                } else {
                    let Some(dst) = out.get_mut(4 * at..) else {
                        continue;
                    };
                    for (o, v) in dst.chunks_mut(4 * nt).zip(src) {
                        if let Some(o) = o.get_mut(..4) {
                            o.copy_from_slice(&v.to_le_bytes());
                        }
                    }
                }
            }
        }
    }
}

/// One slice's values into `dst` (column fastest), through the 16-bit fast path when the
/// header pass allowed it and the element is still where it was, else the full decode.
fn slice_f32(s: &Slice, raw: &mut Vec<u8>, dst: &mut [f32]) -> Result<(), SeriesError> {
    if let Some(n) = s.native16
        && read_native16(&s.path, n, dst.len(), raw)
    {
        convert16(&raw[usize::from(n.header)..], &s.img, dst);
        return Ok(());
    }
    let full = read(&s.path)?;
    let px = decode(&full.file, &s.img).map_err(|error| SeriesError::Instance {
        path: s.path.display().to_string(),
        error,
    })?;
    let rescale = s.img.rescale;
    for (o, &v) in dst.iter_mut().zip(&px) {
        *o = match rescale {
            Some((slope, intercept)) => (v * slope + intercept) as f32,
            None => v as f32,
        };
    }
    Ok(())
}

/// Where a slice's native 16-bit pixel data lies ([`crate::series::Slice::native16`]).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Native16 {
    /// File offset of the PixelData element's tag.
    pub(crate) at: u64,
    /// Length of the element's header (8 implicit, 12 explicit VR).
    pub(crate) header: u8,
    /// The element's value length.
    pub(crate) len: u32,
}

/// Reads the PixelData element header and the first `2 × n` value bytes into `raw`; false when
/// the file no longer has them where the header pass saw them (the caller then parses it whole).
fn read_native16(path: &Path, p: Native16, n: usize, raw: &mut Vec<u8>) -> bool {
    let Ok(f) = std::fs::File::open(path) else {
        return false;
    };
    let hl = usize::from(p.header);
    let end = p.at + u64::from(p.header) + u64::from(p.len);
    if !f.metadata().is_ok_and(|m| m.len() >= end) {
        return false;
    }
    raw.resize(hl + 2 * n, 0);
    if f.read_exact_at(raw, p.at).is_err() {
        return false;
    }
    let len_at = hl - 4;
    raw[..4] == [0xE0, 0x7F, 0x10, 0x00] && raw[len_at..hl] == p.len.to_le_bytes()
}

/// Native 16-bit little-endian samples to their values: masked to BitsStored, sign-extended
/// when signed, then the modality LUT in `f64` (as [`crate::series::volume`]), cast to float32.
fn convert16(raw: &[u8], img: &Image, dst: &mut [f32]) {
    let bits = u32::from(img.bits_stored.clamp(1, 16));
    let shift = 16 - bits;
    let mask = ((1u32 << bits) - 1) as u16;
    let rescale = img.rescale.filter(|&r| r != (1.0, 0.0));
    let pairs = raw
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]));
    match (img.signed, rescale) {
        (true, None) if bits == 16 => {
            for (o, r) in dst.iter_mut().zip(pairs) {
                *o = f32::from(r as i16);
            }
        }
        (true, None) => {
            for (o, r) in dst.iter_mut().zip(pairs) {
                *o = f32::from(((r << shift) as i16) >> shift);
            }
        }
        (false, None) => {
            for (o, r) in dst.iter_mut().zip(pairs) {
                *o = f32::from(r & mask);
            }
        }
        (true, Some((m, b))) => {
            for (o, r) in dst.iter_mut().zip(pairs) {
                *o = (f64::from(((r << shift) as i16) >> shift) * m + b) as f32;
            }
        }
        (false, Some((m, b))) => {
            for (o, r) in dst.iter_mut().zip(pairs) {
                *o = (f64::from(r & mask) * m + b) as f32;
            }
        }
    }
}
