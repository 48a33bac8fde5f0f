//! Siemens mosaics to volumes: an instance whose ImageType holds `MOSAIC` tiles the slices of
//! one volume in a grid of `ceil(sqrt(n))` × `ceil(sqrt(n))` tiles, row by row, `n` being
//! NumberOfImagesInMosaic from the CSA image header ([`crate::csa`]), else (0019,xx0A) under
//! `SIEMENS MR HEADER`. Each instance is one volume (an fMRI time point or a DWI direction) of
//! a 3-D/4-D series, voxel `(i, j, k[, t])` = (column, row, slice[, volume]) as a classic series
//! ([`crate::series`]).
//!
//! Geometry as dcm2niix: the mosaic's ImagePositionPatient is the top-left corner of the whole
//! mosaic placed on the slice, so the first slice's corner is shifted by half the difference
//! of the mosaic's and a tile's width and height along the row and column directions; slices
//! follow the CSA SliceNormalVector (else row × column direction) by SpacingBetweenSlices
//! (else SliceThickness). Volumes are ordered by InstanceNumber; diffusion encodings are read
//! per instance ([`crate::diffusion`]).

use std::path::{Path, PathBuf};

use crate::diffusion::{self, Diffusion, Gradients};
use crate::error::SeriesError;
use crate::multiframe::Stacked;
use crate::parse::File;
use crate::pixels::{Image, decode};
use crate::sequence::Dataset;
use crate::series::Geometry;

const IPP: u32 = 0x0020_0032;
const IOP: u32 = 0x0020_0037;
const PIXEL_SPACING: u32 = 0x0028_0030;
const SLICE_THICKNESS: u32 = 0x0018_0050;
const SPACING_BETWEEN: u32 = 0x0018_0088;
const INSTANCE_NUMBER: u32 = 0x0020_0013;
const REPETITION_TIME: u32 = 0x0018_0080;
const ECHO_TIME: u32 = 0x0018_0081;

/// How one mosaic instance tiles its slices, and where they lie.
#[derive(Clone, Debug, PartialEq)]
pub struct Layout {
    /// NumberOfImagesInMosaic.
    pub images: usize,
    /// Tiles per mosaic row (and column): `ceil(sqrt(images))`.
    pub across: usize,
    /// A tile's rows.
    pub rows: usize,
    /// A tile's columns.
    pub columns: usize,
    /// ImageOrientationPatient (row direction, column direction).
    pub iop: [f64; 6],
    /// PixelSpacing (row spacing, column spacing).
    pub spacing: [f64; 2],
    /// The first slice's top-left voxel centre (patient LPS, mm).
    pub first: [f64; 3],
    /// The step from one slice to the next (patient LPS, mm).
    pub step: [f64; 3],
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

/// NumberOfImagesInMosaic from (0019,xx0A) under `SIEMENS MR HEADER` (US).
fn images_from_private(f: &File) -> Option<usize> {
    let top = Dataset::top(f);
    let block = top.private_block(0x0019, "SIEMENS MR HEADER")?;
    let tag = 0x0019_0000 | (block << 8) | 0x0A;
    let n = match top.floats(tag, *b"US") {
        Some(v) => v.first().copied(),
        None => f.number(tag),
    }?;
    (n.is_finite() && n >= 1.0 && n.fract() == 0.0).then_some(n as usize)
}

/// The smallest `a` with `a * a >= n`.
fn tiles_across(n: usize) -> usize {
    let mut a: usize = 1;
    while a.saturating_mul(a) < n {
        a += 1;
    }
    a
}

/// The layout of mosaic instance `f` (its header at least), read from `path`.
pub fn layout(f: &File, path: &Path) -> Result<Layout, SeriesError> {
    let name = || path.display().to_string();
    let info = match crate::csa::image_header(f) {
        Some(blob) => crate::csa::mosaic_info(blob).map_err(|error| SeriesError::Csa {
            path: name(),
            error,
        })?,
        None => crate::csa::MosaicInfo::default(),
    };
    let images = info
        .images
        .or_else(|| images_from_private(f))
        .ok_or_else(|| SeriesError::MosaicCount { path: name() })?;
    let img = Image::from_file(f).map_err(|error| SeriesError::Instance {
        path: name(),
        error,
    })?;
    if img.samples != 1 || img.frames != 1 {
        return Err(SeriesError::NotSingleFrame { path: name() });
    }
    let across = tiles_across(images);
    if img.rows < across
        || img.columns < across
        || img.rows % across != 0
        || img.columns % across != 0
    {
        return Err(SeriesError::MosaicGrid {
            path: name(),
            images,
            rows: img.rows,
            columns: img.columns,
        });
    }
    let (rows, columns) = (img.rows / across, img.columns / across);
    let ipp: [f64; 3] = crate::series::geometry(f, IPP, path, "ImagePositionPatient")?;
    let iop: [f64; 6] = crate::series::geometry(f, IOP, path, "ImageOrientationPatient")?;
    let spacing: [f64; 2] = crate::series::geometry(f, PIXEL_SPACING, path, "PixelSpacing")?;
    let (r, c) = ([iop[0], iop[1], iop[2]], [iop[3], iop[4], iop[5]]);
    let normal = info
        .slice_normal
        .filter(|v| dot(*v, *v) > 1e-12)
        .unwrap_or_else(|| cross(r, c));
    let len = dot(normal, normal).sqrt();
    let dz = [SPACING_BETWEEN, SLICE_THICKNESS]
        .into_iter()
        .find_map(|t| f.number(t).filter(|x| x.is_finite() && *x > 0.0))
        .unwrap_or(1.0);
    let dx = (img.columns - columns) as f64 / 2.0 * spacing[1];
    let dy = (img.rows - rows) as f64 / 2.0 * spacing[0];
    Ok(Layout {
        images,
        across,
        rows,
        columns,
        iop,
        spacing,
        first: [0, 1, 2].map(|i| ipp[i] + r[i] * dx + c[i] * dy),
        step: normal.map(|x| x / len * dz),
    })
}

impl Layout {
    /// Voxel `(i, j, k, 1)` to RAS+ millimetres.
    pub fn affine(&self) -> [[f64; 4]; 4] {
        let (r, c) = (
            [self.iop[0], self.iop[1], self.iop[2]],
            [self.iop[3], self.iop[4], self.iop[5]],
        );
        let mut a = [[0.0; 4]; 4];
        for i in 0..3 {
            // LPS (DICOM) to RAS (NIfTI): negate x and y.
            let s = if i < 2 { -1.0 } else { 1.0 };
            a[i] = [
                s * r[i] * self.spacing[1],
                s * c[i] * self.spacing[0],
                s * self.step[i],
                s * self.first[i],
            ];
        }
        a[3] = [0.0, 0.0, 0.0, 1.0];
        a
    }

    /// Whether another instance tiles the same grid at the same place.
    fn same(&self, o: &Layout) -> bool {
        let close = |a: &[f64], b: &[f64]| a.iter().zip(b).all(|(x, y)| (x - y).abs() <= 1e-4);
        (self.images, self.across, self.rows, self.columns)
            == (o.images, o.across, o.rows, o.columns)
            && close(&self.iop, &o.iop)
            && close(&self.spacing, &o.spacing)
            && close(&self.first, &o.first)
            && close(&self.step, &o.step)
    }

    /// Hands slice `k`'s values (tile `k`, row by row) of a decoded mosaic to `each(k, values)`.
    fn slices(&self, mosaic: &[f64], mut each: impl FnMut(usize, &[f64])) {
        let width = self.columns * self.across;
        let mut tile = vec![0.0; self.rows * self.columns];
        for k in 0..self.images {
            let (tr, tc) = (k / self.across, k % self.across);
            for (j, out) in tile.chunks_mut(self.columns.max(1)).enumerate() {
                let at = (tr * self.rows + j) * width + tc * self.columns;
                if let Some(src) = mosaic.get(at..at + self.columns) {
                    out.copy_from_slice(src);
                }
            }
            each(k, &tile);
        }
    }
}

struct Instance {
    path: PathBuf,
    number: f64,
    layout: Layout,
    diffusion: Option<Diffusion>,
}

fn read_err(p: &Path) -> impl Fn(std::io::Error) -> SeriesError + '_ {
    move |e| SeriesError::Read {
        path: p.display().to_string(),
        message: e.to_string(),
    }
}

fn instance(p: &Path) -> Result<Instance, SeriesError> {
    let head = crate::open_header(p).map_err(read_err(p))?;
    if !crate::multiframe::is_mosaic(&head) {
        return Err(SeriesError::Mixed {
            path: p.display().to_string(),
            what: "ImageType MOSAIC",
        });
    }
    let layout = layout(&head, p)?;
    let r = [layout.iop[0], layout.iop[1], layout.iop[2]];
    let c = [layout.iop[3], layout.iop[4], layout.iop[5]];
    let diffusion =
        diffusion::of_instance(&Dataset::top(&head), [r, c, cross(r, c)]).map_err(|error| {
            SeriesError::Instance {
                path: p.display().to_string(),
                error,
            }
        })?;
    Ok(Instance {
        path: p.to_path_buf(),
        number: head.number(INSTANCE_NUMBER).unwrap_or(0.0),
        layout,
        diffusion,
    })
}

/// Stacks the mosaic instances of one series (one volume each, ordered by InstanceNumber),
/// handing each slice's values (after the modality LUT, column fastest) to
/// `put(shape, slice, volume, values)` volume by volume. Each file is read twice: its header,
/// then its pixels.
pub fn stack(
    paths: &[PathBuf],
    mut put: impl FnMut(&[usize], usize, usize, &[f64]),
) -> Result<Stacked, SeriesError> {
    let mut all = paths
        .iter()
        .map(|p| instance(p))
        .collect::<Result<Vec<_>, _>>()?;
    all.sort_by(|a, b| a.number.total_cmp(&b.number));
    let first = all.first().ok_or(SeriesError::Empty)?;
    for s in &all[1..] {
        if !first.layout.same(&s.layout) {
            return Err(SeriesError::Mixed {
                path: s.path.display().to_string(),
                what: "mosaic layout or position",
            });
        }
    }
    let l = first.layout.clone();
    let mut shape = vec![l.columns, l.rows, l.images];
    if all.len() > 1 {
        shape.push(all.len());
    }
    let (mut rescale, mut tr, mut te) = (None, None, None);
    for (t, s) in all.iter().enumerate() {
        let f = crate::open(&s.path).map_err(read_err(&s.path))?;
        let err = |error| SeriesError::Instance {
            path: s.path.display().to_string(),
            error,
        };
        let img = Image::from_file(&f).map_err(err)?;
        let mut px = decode(&f, &img).map_err(err)?;
        if px.len() != img.rows * img.columns {
            return Err(err(crate::DicomError::NoPixelData));
        }
        if let Some((slope, inter)) = img.rescale {
            px.iter_mut().for_each(|x| *x = *x * slope + inter);
        }
        if t == 0 {
            (rescale, tr, te) = (img.rescale, f.number(REPETITION_TIME), f.number(ECHO_TIME));
        }
        l.slices(&px, |k, v| put(&shape, k, t, v));
    }
    let affine = l.affine();
    let gradients = all.iter().any(|s| s.diffusion.is_some()).then(|| {
        let d: Vec<Diffusion> = all
            .iter()
            .map(|s| {
                s.diffusion.unwrap_or(Diffusion {
                    b: 0.0,
                    direction: None,
                })
            })
            .collect();
        diffusion::table(&d, &affine)
    });
    Ok(Stacked {
        geometry: Geometry {
            shape,
            affine,
            files: all.iter().map(|s| s.path.clone()).collect(),
        },
        gradients,
        rescale,
        repetition_time_ms: tr,
        echo_time_ms: te,
        frames: l.images * all.len(),
        volume_times: Vec::new(),
    })
}

/// Stacks mosaic instances of one series into a volume (values `i` fastest, as
/// [`crate::series::Volume::data`]) with its diffusion table.
pub fn volume(
    paths: &[PathBuf],
) -> Result<(crate::series::Volume, Option<Gradients>), SeriesError> {
    crate::multiframe::gather(|put| stack(paths, put))
}
