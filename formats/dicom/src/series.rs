//! Single-frame instances of one series to a 3-D volume: grouping by SeriesInstanceUID, slices
//! sorted along the normal of ImageOrientationPatient, uniform spacing checked, and the
//! voxel-to-world affine in RAS+ (as NIfTI), voxel `(i, j, k)` = (column, row, slice).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::corder::Native16;
use crate::error::SeriesError;
use crate::parse::File;
use crate::pixels::{Image, decode};

/// A volume built from a series.
#[derive(Clone, Debug)]
pub struct Volume {
    /// `[columns, rows, slices]`, or `[columns, rows, slices, volumes]` when every slice
    /// position holds the same number (> 1) of instances (time series, echoes, directions).
    pub shape: Vec<usize>,
    /// Values after the modality LUT, `i` fastest (column, then row, then slice, then volume).
    pub data: Vec<f64>,
    /// Voxel `(i, j, k, 1)` to RAS+ millimetres.
    pub affine: [[f64; 4]; 4],
    /// The instances in storage order (slice fastest, then volume).
    pub files: Vec<PathBuf>,
}

/// Groups DICOM files by SeriesInstanceUID (files without one are grouped under `""`); files
/// that are not DICOM are skipped.
pub fn group(paths: &[PathBuf]) -> BTreeMap<String, Vec<PathBuf>> {
    let mut m: BTreeMap<String, Vec<PathBuf>> = BTreeMap::new();
    for p in paths {
        if let Ok(f) = crate::open(p) {
            m.entry(f.text(0x0020_000E).unwrap_or_default())
                .or_default()
                .push(p.clone());
        }
    }
    m
}

pub(crate) struct Slice {
    pub(crate) path: PathBuf,
    /// The whole file, or its attributes before PixelData ([`read_header`]).
    pub(crate) file: File,
    pub(crate) img: Image,
    ipp: [f64; 3],
    iop: [f64; 6],
    spacing: [f64; 2],
    /// For a header-only slice whose pixels are native 16-bit little endian of a defined length
    /// that covers the image: where they lie.
    pub(crate) native16: Option<Native16>,
}

/// A fixed-length, finite numeric attribute the geometry needs (else an error naming it).
pub(crate) fn geometry<const N: usize>(
    f: &File,
    tag: u32,
    path: &Path,
    keyword: &'static str,
) -> Result<[f64; N], SeriesError> {
    f.numbers(tag)
        .and_then(|v| <[f64; N]>::try_from(v).ok())
        .filter(|a| a.iter().all(|x| x.is_finite()))
        .ok_or_else(|| SeriesError::Geometry {
            path: path.display().to_string(),
            keyword,
        })
}

fn slice_of(path: &Path, file: File) -> Result<Slice, SeriesError> {
    let img = Image::from_file(&file).map_err(|error| SeriesError::Instance {
        path: path.display().to_string(),
        error,
    })?;
    if img.frames != 1 || img.samples != 1 {
        return Err(SeriesError::NotSingleFrame {
            path: path.display().to_string(),
        });
    }
    Ok(Slice {
        ipp: geometry(&file, 0x0020_0032, path, "ImagePositionPatient")?,
        iop: geometry(&file, 0x0020_0037, path, "ImageOrientationPatient")?,
        spacing: geometry(&file, 0x0028_0030, path, "PixelSpacing")?,
        path: path.to_path_buf(),
        file,
        img,
        native16: None,
    })
}

pub(crate) fn read_error(path: &Path, e: &std::io::Error) -> SeriesError {
    SeriesError::Read {
        path: path.display().to_string(),
        message: e.to_string(),
    }
}

pub(crate) fn read(path: &Path) -> Result<Slice, SeriesError> {
    let bytes = std::fs::read(path).map_err(|e| read_error(path, &e))?;
    let file = crate::parse(bytes).map_err(|error| SeriesError::Instance {
        path: path.display().to_string(),
        error,
    })?;
    slice_of(path, file)
}

/// A slice from the attributes before PixelData, read as [`crate::open_header`] reads them
/// (16 KiB, doubled until PixelData is reached), with where its pixels lie when they are native
/// 16-bit little endian.
pub(crate) fn read_header(path: &Path) -> Result<Slice, SeriesError> {
    let mut f = std::fs::File::open(path).map_err(|e| read_error(path, &e))?;
    let mut buf = Vec::new();
    let mut want = 16 * 1024;
    let (file, at, buf) = loop {
        let eof = crate::read_up_to(&mut f, &mut buf, want).map_err(|e| read_error(path, &e))?;
        match crate::parse::parse_header_at(buf.clone()) {
            Ok((file, Some(at))) => break (file, Some(at), buf),
            Ok((file, None)) if eof => break (file, None, buf),
            Err(error) if eof => {
                return Err(SeriesError::Instance {
                    path: path.display().to_string(),
                    error,
                });
            }
            _ => want = want.saturating_mul(2),
        }
    };
    let mut s = slice_of(path, file)?;
    s.native16 = at.and_then(|at| native16(&s, &buf, at));
    Ok(s)
}

/// The PixelData element at `at` in `buf` (the file's first bytes), when the fast path can read
/// it (see [`Slice::native16`]).
fn native16(s: &Slice, buf: &[u8], at: usize) -> Option<Native16> {
    let (f, img) = (&s.file, &s.img);
    if f.encoding.big
        || f.pixel_coding != crate::parse::PixelCoding::Native
        || img.bits_allocated != 16
        || img.samples != 1
        || img.frames != 1
    {
        return None;
    }
    let h = buf.get(at..at.checked_add(12)?)?;
    if h[..4] != [0xE0, 0x7F, 0x10, 0x00] {
        return None;
    }
    let (len, hl) = if f.encoding.explicit {
        if !matches!(&h[4..6], b"OW" | b"OB" | b"UN") {
            return None;
        }
        (u32::from_le_bytes([h[8], h[9], h[10], h[11]]), 12)
    } else {
        (u32::from_le_bytes([h[4], h[5], h[6], h[7]]), 8)
    };
    let need = (img.rows as u64) * (img.columns as u64) * 2;
    (len != u32::MAX && u64::from(len) >= need).then_some(Native16 {
        at: at as u64,
        header: hl,
        len,
    })
}

fn dot(a: [f64; 3], b: [f64; 3]) -> f64 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}

fn cross(a: [f64; 3], b: [f64; 3]) -> [f64; 3] {
    [
        a[1] * b[2] - a[2] * b[1],
        a[2] * b[0] - a[0] * b[2],
        a[0] * b[1] - a[1] * b[0],
    ]
}

fn check_same(first: &Slice, s: &Slice) -> Result<(), SeriesError> {
    let mixed = |what| SeriesError::Mixed {
        path: s.path.display().to_string(),
        what,
    };
    if (s.img.rows, s.img.columns) != (first.img.rows, first.img.columns) {
        return Err(mixed("Rows/Columns"));
    }
    if s.iop
        .iter()
        .zip(first.iop)
        .any(|(a, b)| (a - b).abs() > 1e-4)
    {
        return Err(mixed("ImageOrientationPatient"));
    }
    if s.spacing
        .iter()
        .zip(first.spacing)
        .any(|(a, b)| (a - b).abs() > 1e-4)
    {
        return Err(mixed("PixelSpacing"));
    }
    Ok(())
}

/// The slice step vector (one instance per position), checked for uniform gaps and tilt.
fn step(slices: &[&Slice], normal: [f64; 3]) -> Result<[f64; 3], SeriesError> {
    let n = slices.len();
    if n == 1 {
        let t = slices[0]
            .file
            .number(0x0018_0050)
            .filter(|t| *t > 0.0)
            .unwrap_or(1.0);
        return Ok(normal.map(|x| x * t));
    }
    let d: Vec<f64> = slices.iter().map(|s| dot(s.ipp, normal)).collect();
    let gaps: Vec<f64> = d.windows(2).map(|w| w[1] - w[0]).collect();
    let (min, max) = gaps
        .iter()
        .fold((f64::MAX, f64::MIN), |(a, b), &g| (a.min(g), b.max(g)));
    if max - min > 1e-3 * max.max(1.0) {
        return Err(SeriesError::Spacing { min, max });
    }
    let (a, b) = (slices[0].ipp, slices[n - 1].ipp);
    let v = [0, 1, 2].map(|i| (b[i] - a[i]) / (n - 1) as f64);
    let cos = dot(v, normal) / dot(v, v).sqrt();
    if cos < 1.0 - 1e-6 {
        return Err(SeriesError::Tilted {
            degrees: cos.clamp(-1.0, 1.0).acos().to_degrees(),
        });
    }
    Ok(v)
}

/// Stacks single-frame instances of one series into a volume.
pub fn volume(paths: &[PathBuf]) -> Result<Volume, SeriesError> {
    let mut data = Vec::new();
    let g = stack(paths, |_, _, _, px| data.extend_from_slice(px))?;
    Ok(Volume {
        shape: g.shape,
        data,
        affine: g.affine,
        files: g.files,
    })
}

/// A series' grid without its values ([`stack`]).
#[derive(Clone, Debug)]
pub struct Geometry {
    /// As [`Volume::shape`].
    pub shape: Vec<usize>,
    /// As [`Volume::affine`].
    pub affine: [[f64; 4]; 4],
    /// As [`Volume::files`].
    pub files: Vec<PathBuf>,
}

/// Stacks single-frame instances of one series, handing each instance's values (after the
/// modality LUT, column fastest) to `put(shape, slice, volume, values)` in storage order
/// (slice fastest, then volume), so a caller can write them straight into its own layout.
/// Each file is read once.
pub fn stack(
    paths: &[PathBuf],
    mut put: impl FnMut(&[usize], usize, usize, &[f64]),
) -> Result<Geometry, SeriesError> {
    let slices = paths
        .iter()
        .map(|p| read(p))
        .collect::<Result<Vec<_>, _>>()?;
    let plan = plan(&slices)?;
    for &(k, t, i) in &plan.order {
        let s = &slices[i];
        let err = |error| SeriesError::Instance {
            path: s.path.display().to_string(),
            error,
        };
        let mut px = decode(&s.file, &s.img).map_err(err)?;
        if let Some((slope, intercept)) = s.img.rescale {
            px.iter_mut().for_each(|x| *x = *x * slope + intercept);
        }
        put(&plan.geometry.shape, k, t, &px);
    }
    Ok(plan.geometry)
}

/// A series' geometry and the storage order of its instances.
pub(crate) struct Plan {
    pub(crate) geometry: Geometry,
    /// `(slice, volume, index into the slices)`, slice fastest, then volume.
    pub(crate) order: Vec<(usize, usize, usize)>,
}

/// Checks the slices (same size, orientation and spacing, uniform gaps, no tilt), sorts them
/// along the normal (then by InstanceNumber) and builds the affine.
pub(crate) fn plan(slices: &[Slice]) -> Result<Plan, SeriesError> {
    let first = slices.first().ok_or(SeriesError::Empty)?;
    for s in &slices[1..] {
        check_same(first, s)?;
    }
    let (row_dir, col_dir) = (
        [first.iop[0], first.iop[1], first.iop[2]],
        [first.iop[3], first.iop[4], first.iop[5]],
    );
    let normal = cross(row_dir, col_dir);
    let key: Vec<(f64, f64)> = slices
        .iter()
        .map(|s| {
            (
                dot(s.ipp, normal),
                s.file.number(0x0020_0013).unwrap_or(0.0),
            )
        })
        .collect();
    let mut idx: Vec<usize> = (0..slices.len()).collect();
    idx.sort_by(|&a, &b| {
        let (a, b) = (key[a], key[b]);
        a.0.total_cmp(&b.0).then(a.1.total_cmp(&b.1))
    });
    let sorted: Vec<&Slice> = idx.iter().map(|&i| &slices[i]).collect();
    let positions = by_position(&sorted, normal)?;
    let reps: Vec<&Slice> = positions.iter().map(|p| sorted[p[0]]).collect();
    let v = step(&reps, normal)?;
    let nt = positions[0].len();
    let first = sorted[0];
    let (rows, cols, ps) = (first.img.rows, first.img.columns, first.spacing);
    let mut lps = [[0.0; 4]; 4];
    for r in 0..3 {
        lps[r] = [row_dir[r] * ps[1], col_dir[r] * ps[0], v[r], first.ipp[r]];
    }
    lps[3] = [0.0, 0.0, 0.0, 1.0];
    // LPS (DICOM) to RAS (NIfTI): negate x and y.
    let mut affine = lps;
    for c in 0..4 {
        affine[0][c] = -lps[0][c];
        affine[1][c] = -lps[1][c];
    }
    let mut shape = vec![cols, rows, positions.len()];
    if nt > 1 {
        shape.push(nt);
    }
    let mut order = Vec::with_capacity(slices.len());
    let mut files = Vec::with_capacity(slices.len());
    for t in 0..nt {
        for (k, p) in positions.iter().enumerate() {
            let i = idx[p[t]];
            order.push((k, t, i));
            files.push(slices[i].path.clone());
        }
    }
    Ok(Plan {
        geometry: Geometry {
            shape,
            affine,
            files,
        },
        order,
    })
}

/// The instances at each slice position (within 1e-3 mm along the normal), in slice order;
/// every position must hold the same number.
fn by_position(slices: &[&Slice], normal: [f64; 3]) -> Result<Vec<Vec<usize>>, SeriesError> {
    let mut out: Vec<Vec<usize>> = Vec::new();
    let mut last = f64::NEG_INFINITY;
    for (k, s) in slices.iter().enumerate() {
        let d = dot(s.ipp, normal);
        match out.last_mut() {
            Some(g) if (d - last).abs() <= 1e-3 => g.push(k),
            _ => {
                out.push(vec![k]);
                last = d;
            }
        }
    }
    let counts = out.iter().map(Vec::len);
    let (min, max) = counts.fold((usize::MAX, 0), |(a, b), n| (a.min(n), b.max(n)));
    if min != max {
        return Err(SeriesError::Uneven { min, max });
    }
    Ok(out)
}

/// Writes the values [`stack`] hands out into a C-order `(x, y, z[, t])` float32 little-endian
/// array (`x` = column, `y` = row) after a caller's prefix (e.g. an `.npy` header). Slices are
/// buffered 16 at a time so each voxel column is written in one run, not one scattered store
/// per value.
#[derive(Debug)]
pub struct COrderF32 {
    out: Vec<u8>,
    base: usize,
    shape: [usize; 4],
    pending: Vec<f32>,
    first: (usize, usize),
    count: usize,
}

const BLOCK: usize = 16;

impl COrderF32 {
    /// An array of `shape` (3 or 4 axes) after `prefix`, zero-filled.
    pub fn new(mut prefix: Vec<u8>, shape: &[usize]) -> COrderF32 {
        let s = [
            shape.first().copied().unwrap_or(1),
            shape.get(1).copied().unwrap_or(1),
            shape.get(2).copied().unwrap_or(1),
            shape.get(3).copied().unwrap_or(1),
        ];
        let base = prefix.len();
        let n = s.iter().product::<usize>();
        prefix.reserve_exact(4 * n);
        prefix.resize(base + 4 * n, 0);
        COrderF32 {
            out: prefix,
            base,
            shape: s,
            pending: Vec::new(),
            first: (0, 0),
            count: 0,
        }
    }

    /// Slice `k` of volume `t` (column fastest), in [`stack`]'s order.
    pub fn put(&mut self, k: usize, t: usize, px: &[f64]) {
        let nxy = self.shape[0] * self.shape[1];
        if self.count > 0 && (t != self.first.1 || k != self.first.0 + self.count) {
            self.flush();
        }
        if self.count == 0 {
            self.first = (k, t);
        }
        // Transposed as it is buffered: `pending[(i * ny + j) * BLOCK + s]`, so that a flush
        // reads and writes runs.
        let (nx, ny) = (self.shape[0], self.shape[1]);
        if self.pending.len() < BLOCK * nxy {
            self.pending.resize(BLOCK * nxy, 0.0);
        }
        // In 16 × 16 tiles, so the strided stores stay within a few pages.
        const TILE: usize = 16;
        let s = self.count;
        for jb in (0..ny).step_by(TILE) {
            for ib in (0..nx).step_by(TILE) {
                for j in jb..(jb + TILE).min(ny) {
                    let Some(row) = px.get(j * nx + ib..j * nx + (ib + TILE).min(nx)) else {
                        continue;
                    };
                    for (di, &v) in row.iter().enumerate() {
                        if let Some(d) = self.pending.get_mut(((ib + di) * ny + j) * BLOCK + s) {
                            *d = v as f32;
                        }
                    }
                }
            }
        }
        self.count += 1;
        if self.count == BLOCK || k + 1 == self.shape[2] {
            self.flush();
        }
    }

    fn flush(&mut self) {
        let [nx, ny, nz, nt] = self.shape;
        let (k0, t) = self.first;
        let body = &mut self.out[self.base..];
        for q in 0..nx * ny {
            let at = (q * nz + k0) * nt + t;
            let Some(run) = self.pending.get(q * BLOCK..q * BLOCK + self.count) else {
                continue;
            };
            if nt == 1 {
                if let Some(d) = body.get_mut(4 * at..4 * (at + run.len())) {
                    for (o, v) in d.chunks_exact_mut(4).zip(run) {
                        o.copy_from_slice(&v.to_le_bytes());
                    }
                }
                continue;
            }
            for (s, v) in run.iter().enumerate() {
                let o = 4 * (at + s * nt);
                if let Some(d) = body.get_mut(o..o + 4) {
                    d.copy_from_slice(&v.to_le_bytes());
                }
            }
        }
        self.count = 0;
    }

    /// The prefix and the array.
    pub fn finish(mut self) -> Vec<u8> {
        if self.count > 0 {
            self.flush();
        }
        self.out
    }
}
