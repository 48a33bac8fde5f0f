//! Multi-frame objects to volumes: enhanced MR/CT/PET (and legacy converted enhanced) objects
//! with Shared and Per-frame Functional Groups, and legacy multi-frame objects without them,
//! turned into the same 3-D/4-D volume and RAS+ affine as a classic series
//! ([`crate::series`]): voxel `(i, j, k[, t])` = (column, row, slice[, volume]).
//!
//! Per frame, from the per-frame item first, then the shared one:
//! - PlanePositionSequence (0020,9113) > ImagePositionPatient;
//! - PlaneOrientationSequence (0020,9116) > ImageOrientationPatient;
//! - PixelMeasuresSequence (0028,9110) > PixelSpacing, SliceThickness, SpacingBetweenSlices;
//! - FrameContentSequence (0020,9111) > DimensionIndexValues (0020,9157) and
//!   TemporalPositionIndex (0020,9128), which order the frames of one slice position into
//!   volumes;
//! - PixelValueTransformationSequence (0028,9145) > RescaleSlope/RescaleIntercept, applied per
//!   frame;
//! - MRDiffusionSequence (0018,9117): b-value and gradient direction ([`crate::diffusion`]).
//!
//! A legacy multi-frame object (no functional groups) stacks its frames from
//! ImagePositionPatient along the normal by SpacingBetweenSlices (else SliceThickness); without
//! either, its frames are a time series at one position.
//!
//! Frames are grouped by their position along the normal (within 1e-3 mm); every position must
//! hold the same number of frames; gaps must be uniform and the stack not tilted, as for a
//! classic series. Several files of one series pool their frames.

use std::path::{Path, PathBuf};

use crate::diffusion::{self, Diffusion, Gradients};
use crate::error::SeriesError;
use crate::parse::File;
use crate::pixels::{Image, decode};
use crate::sequence::Dataset;
use crate::series::Geometry;

const NUMBER_OF_FRAMES: u32 = 0x0028_0008;
const SHARED: u32 = 0x5200_9229;
const PER_FRAME: u32 = 0x5200_9230;
const PLANE_POSITION: u32 = 0x0020_9113;
const PLANE_ORIENTATION: u32 = 0x0020_9116;
const PIXEL_MEASURES: u32 = 0x0028_9110;
const FRAME_CONTENT: u32 = 0x0020_9111;
const VALUE_TRANSFORM: u32 = 0x0028_9145;
const IPP: u32 = 0x0020_0032;
const IOP: u32 = 0x0020_0037;
const PIXEL_SPACING: u32 = 0x0028_0030;
const SLICE_THICKNESS: u32 = 0x0018_0050;
const SPACING_BETWEEN: u32 = 0x0018_0088;
const DIMENSION_INDEX: u32 = 0x0020_9157;
const TEMPORAL_INDEX: u32 = 0x0020_9128;
const FRAME_ACQUIRED: u32 = 0x0018_9074;
const FRAME_REFERENCE: u32 = 0x0018_9151;
const FRAME_DURATION: u32 = 0x0018_9220;
const INSTANCE_NUMBER: u32 = 0x0020_0013;
const RESCALE_INTERCEPT: u32 = 0x0028_1052;
const RESCALE_SLOPE: u32 = 0x0028_1053;
const MR_TIMING: u32 = 0x0018_9112;
const REPETITION_TIME: u32 = 0x0018_0080;
const MR_ECHO: u32 = 0x0018_9114;
const EFFECTIVE_ECHO_TIME: u32 = 0x0018_9082;

/// Whether an instance is a Siemens mosaic (ImageType holds `MOSAIC`), whose tiles a volume
/// builder must not take for one slice.
pub fn is_mosaic(f: &File) -> bool {
    f.text(0x0008_0008).is_some_and(|t| {
        t.split('\\')
            .any(|v| v.trim().eq_ignore_ascii_case("MOSAIC"))
    })
}

/// Whether a file is a multi-frame object: NumberOfFrames above 1, or functional groups.
pub fn is_multiframe(f: &File) -> bool {
    f.number(NUMBER_OF_FRAMES).is_some_and(|n| n > 1.0)
        || f.elements.contains_key(&PER_FRAME)
        || f.elements.contains_key(&SHARED)
}

/// What one frame says about itself.
#[derive(Clone, Debug)]
pub struct FrameInfo {
    /// ImagePositionPatient.
    pub ipp: [f64; 3],
    /// ImageOrientationPatient.
    pub iop: [f64; 6],
    /// PixelSpacing (row spacing, column spacing).
    pub spacing: [f64; 2],
    /// SpacingBetweenSlices, else SliceThickness.
    pub thickness: Option<f64>,
    /// RescaleSlope and RescaleIntercept.
    pub rescale: Option<(f64, f64)>,
    /// DimensionIndexValues.
    pub dimension: Vec<f64>,
    /// TemporalPositionIndex.
    pub temporal: Option<f64>,
    /// FrameAcquisitionDateTime (else FrameReferenceDateTime), as stored (a DT value).
    pub acquired: Option<String>,
    /// FrameAcquisitionDuration in ms.
    pub duration_ms: Option<f64>,
    /// Diffusion encoding.
    pub diffusion: Option<Diffusion>,
}

fn label(path: &Path, frame: usize) -> String {
    format!("{} (frame {})", path.display(), frame + 1)
}

fn instance_err(path: &Path) -> impl Fn(crate::DicomError) -> SeriesError + '_ {
    move |error| SeriesError::Instance {
        path: path.display().to_string(),
        error,
    }
}

fn fixed<const N: usize>(v: Option<Vec<f64>>) -> Option<[f64; N]> {
    v.and_then(|v| <[f64; N]>::try_from(v).ok())
        .filter(|a| a.iter().all(|x| x.is_finite()))
}

/// A frame's functional group items: per-frame first, then shared.
struct Groups<'a> {
    per: Option<Dataset<'a>>,
    shared: Option<Dataset<'a>>,
}

impl<'a> Groups<'a> {
    /// The first item of macro sequence `seq`, from the per-frame group, else the shared one.
    fn item(&self, seq: u32) -> Result<Option<Dataset<'a>>, crate::DicomError> {
        if let Some(p) = &self.per
            && let Some(i) = p.item(seq)?
        {
            return Ok(Some(i));
        }
        match &self.shared {
            Some(s) => s.item(seq),
            None => Ok(None),
        }
    }
}

/// The frames' information of a multi-frame object (`f` parsed at least up to its pixel data).
pub fn frames(f: &File, path: &Path) -> Result<Vec<FrameInfo>, SeriesError> {
    let top = Dataset::top(f);
    let err = instance_err(path);
    let n = match f.number(NUMBER_OF_FRAMES) {
        None => 1,
        Some(x) if x >= 1.0 && x.fract() == 0.0 && x <= f64::from(u32::MAX) => x as usize,
        Some(x) => {
            return Err(err(crate::DicomError::BadValue {
                name: "NumberOfFrames",
                value: x.to_string(),
            }));
        }
    };
    let per = top.items(PER_FRAME).map_err(&err)?;
    let shared = top.item(SHARED).map_err(&err)?;
    if per.is_empty() && shared.is_none() {
        return legacy(f, &top, n, path);
    }
    if per.len() != n {
        return Err(SeriesError::FrameCount {
            path: path.display().to_string(),
            items: per.len(),
            frames: n,
        });
    }
    per.into_iter()
        .enumerate()
        .map(|(k, item)| {
            let g = Groups {
                per: Some(item),
                shared: shared.clone(),
            };
            enhanced_frame(&g, &top, path, k)
        })
        .collect()
}

fn enhanced_frame(
    g: &Groups,
    top: &Dataset,
    path: &Path,
    k: usize,
) -> Result<FrameInfo, SeriesError> {
    let err = |error| SeriesError::Instance {
        path: label(path, k),
        error,
    };
    let geo = |keyword| SeriesError::Geometry {
        path: label(path, k),
        keyword,
    };
    let pos = g.item(PLANE_POSITION).map_err(err)?;
    let ipp = fixed(pos.and_then(|d| d.numbers(IPP))).ok_or_else(|| geo("ImagePositionPatient"))?;
    let ori = g.item(PLANE_ORIENTATION).map_err(err)?;
    let iop =
        fixed(ori.and_then(|d| d.numbers(IOP))).ok_or_else(|| geo("ImageOrientationPatient"))?;
    let measures = g.item(PIXEL_MEASURES).map_err(err)?;
    let spacing = fixed(measures.as_ref().and_then(|d| d.numbers(PIXEL_SPACING)))
        .ok_or_else(|| geo("PixelSpacing"))?;
    let number =
        |d: &Option<Dataset>, tag| d.as_ref().and_then(|d| d.numbers(tag)?.first().copied());
    let thickness =
        number(&measures, SPACING_BETWEEN).or_else(|| number(&measures, SLICE_THICKNESS));
    let content = g.item(FRAME_CONTENT).map_err(err)?;
    let dimension = content
        .as_ref()
        .and_then(|d| d.floats(DIMENSION_INDEX, *b"UL"))
        .unwrap_or_default();
    let temporal = content
        .as_ref()
        .and_then(|d| d.floats(TEMPORAL_INDEX, *b"UL")?.first().copied());
    let acquired = content
        .as_ref()
        .and_then(|d| d.text(FRAME_ACQUIRED).or_else(|| d.text(FRAME_REFERENCE)));
    let duration_ms = content
        .as_ref()
        .and_then(|d| d.floats(FRAME_DURATION, *b"FD")?.first().copied());
    let transform = g.item(VALUE_TRANSFORM).map_err(err)?;
    let rescale = match &transform {
        Some(t) => rescale_of(t),
        None => rescale_of(top),
    };
    let diffusion = match &g.per {
        Some(p) if p.has(0x0018_9117) => diffusion::of_group(p),
        _ => match &g.shared {
            Some(s) => diffusion::of_group(s),
            None => Ok(None),
        },
    }
    .map_err(err)?;
    Ok(FrameInfo {
        ipp,
        iop,
        spacing,
        thickness,
        rescale,
        dimension,
        temporal,
        acquired,
        duration_ms,
        diffusion,
    })
}

fn rescale_of(d: &Dataset) -> Option<(f64, f64)> {
    let slope = d.numbers(RESCALE_SLOPE).and_then(|v| v.first().copied());
    let inter = d
        .numbers(RESCALE_INTERCEPT)
        .and_then(|v| v.first().copied());
    (slope.is_some() || inter.is_some()).then(|| (slope.unwrap_or(1.0), inter.unwrap_or(0.0)))
}

/// The most frames the pixel data can hold (each frame needs a byte of native data, or a
/// fragment of encapsulated data), so nothing is allocated from NumberOfFrames alone.
fn frame_bound(f: &File) -> usize {
    match f.elements.get(&crate::parse::PIXEL_DATA) {
        Some(e) => match &e.fragments {
            Some(frags) => frags.len(),
            None => e.value.len().saturating_mul(8),
        },
        None => 0,
    }
}

fn legacy(f: &File, top: &Dataset, n: usize, path: &Path) -> Result<Vec<FrameInfo>, SeriesError> {
    let geo = |keyword| SeriesError::Geometry {
        path: path.display().to_string(),
        keyword,
    };
    if n > frame_bound(f).max(1) {
        return Err(SeriesError::Instance {
            path: path.display().to_string(),
            error: crate::DicomError::BadValue {
                name: "NumberOfFrames",
                value: format!("{n} (more than the pixel data holds)"),
            },
        });
    }
    let ipp: [f64; 3] = fixed(f.numbers(IPP)).ok_or_else(|| geo("ImagePositionPatient"))?;
    let iop: [f64; 6] = fixed(f.numbers(IOP)).ok_or_else(|| geo("ImageOrientationPatient"))?;
    let spacing: [f64; 2] = fixed(f.numbers(PIXEL_SPACING)).ok_or_else(|| geo("PixelSpacing"))?;
    let between = f.number(SPACING_BETWEEN).filter(|x| *x > 0.0);
    let normal = cross([iop[0], iop[1], iop[2]], [iop[3], iop[4], iop[5]]);
    let rows = [iop[0], iop[1], iop[2]];
    let cols = [iop[3], iop[4], iop[5]];
    let diffusion =
        diffusion::of_instance(top, [rows, cols, normal]).map_err(instance_err(path))?;
    let rescale = rescale_of(top);
    Ok((0..n)
        .map(|k| {
            let d = between.unwrap_or(0.0) * k as f64;
            FrameInfo {
                ipp: [0, 1, 2].map(|i| ipp[i] + d * normal[i]),
                iop,
                spacing,
                thickness: between.or_else(|| f.number(SLICE_THICKNESS)),
                rescale,
                dimension: Vec::new(),
                temporal: between.is_none().then_some(k as f64),
                acquired: None,
                duration_ms: None,
                diffusion,
            }
        })
        .collect())
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

/// One frame of a pooled series: which file, which frame, what it says.
struct Pooled {
    file: usize,
    frame: usize,
    instance: f64,
    info: FrameInfo,
}

/// Where every frame goes: the grid and, per frame (in pool order), its `(slice, volume)`.
struct Grid {
    shape: Vec<usize>,
    affine: [[f64; 4]; 4],
    slot: Vec<(usize, usize)>,
    per_volume: Vec<Option<Diffusion>>,
    /// The first slice's frame of each volume (pool index).
    volume_frames: Vec<usize>,
}

fn same_geometry(a: &FrameInfo, b: &FrameInfo) -> Option<&'static str> {
    if a.iop.iter().zip(b.iop).any(|(x, y)| (x - y).abs() > 1e-4) {
        return Some("ImageOrientationPatient");
    }
    if a.spacing
        .iter()
        .zip(b.spacing)
        .any(|(x, y)| (x - y).abs() > 1e-4)
    {
        return Some("PixelSpacing");
    }
    None
}

fn grid(pool: &[Pooled], rows: usize, cols: usize, paths: &[PathBuf]) -> Result<Grid, SeriesError> {
    let first = &pool.first().ok_or(SeriesError::Empty)?.info;
    let name = |p: &Pooled| label(&paths[p.file], p.frame);
    for p in &pool[1..] {
        if let Some(what) = same_geometry(first, &p.info) {
            return Err(SeriesError::Mixed {
                path: name(p),
                what,
            });
        }
    }
    let row_dir = [first.iop[0], first.iop[1], first.iop[2]];
    let col_dir = [first.iop[3], first.iop[4], first.iop[5]];
    let normal = cross(row_dir, col_dir);
    let mut order: Vec<usize> = (0..pool.len()).collect();
    let key = |i: &usize| {
        let p = &pool[*i];
        (dot(p.info.ipp, normal), p)
    };
    order.sort_by(|a, b| {
        let ((da, pa), (db, pb)) = (key(a), key(b));
        da.total_cmp(&db)
            .then_with(|| {
                pa.info
                    .dimension
                    .iter()
                    .zip(&pb.info.dimension)
                    .map(|(x, y)| x.total_cmp(y))
                    .find(|o| o.is_ne())
                    .unwrap_or(std::cmp::Ordering::Equal)
            })
            .then_with(|| {
                let t = |p: &Pooled| p.info.temporal.unwrap_or(0.0);
                t(pa).total_cmp(&t(pb))
            })
            .then_with(|| pa.instance.total_cmp(&pb.instance))
            .then_with(|| (pa.file, pa.frame).cmp(&(pb.file, pb.frame)))
    });
    // Positions (within 1e-3 mm along the normal).
    let mut positions: Vec<Vec<usize>> = Vec::new();
    let mut last = f64::NEG_INFINITY;
    for &i in &order {
        let d = dot(pool[i].info.ipp, normal);
        match positions.last_mut() {
            Some(g) if (d - last).abs() <= 1e-3 => g.push(i),
            _ => {
                positions.push(vec![i]);
                last = d;
            }
        }
    }
    let (min, max) = positions
        .iter()
        .map(Vec::len)
        .fold((usize::MAX, 0), |(a, b), n| (a.min(n), b.max(n)));
    if min != max {
        return Err(SeriesError::Uneven { min, max });
    }
    let reps: Vec<&FrameInfo> = positions.iter().map(|g| &pool[g[0]].info).collect();
    let v = step(&reps, normal)?;
    let nt = max;
    let mut slot = vec![(0, 0); pool.len()];
    let mut per_volume = Vec::with_capacity(nt);
    let mut volume_frames = Vec::with_capacity(nt);
    for t in 0..nt {
        let d0 = pool[positions[0][t]].info.diffusion;
        for (k, g) in positions.iter().enumerate() {
            let p = &pool[g[t]];
            slot[g[t]] = (k, t);
            let same = match (&d0, &p.info.diffusion) {
                (None, None) => true,
                (Some(a), Some(b)) => diffusion::same(a, b),
                _ => false,
            };
            if !same {
                return Err(SeriesError::DiffusionMismatch {
                    path: name(p),
                    volume: t,
                });
            }
        }
        per_volume.push(d0);
        volume_frames.push(positions[0][t]);
    }
    let ps = first.spacing;
    let origin = pool[positions[0][0]].info.ipp;
    let mut affine = [[0.0; 4]; 4];
    for r in 0..3 {
        let sign = if r < 2 { -1.0 } else { 1.0 };
        affine[r] = [
            sign * row_dir[r] * ps[1],
            sign * col_dir[r] * ps[0],
            sign * v[r],
            sign * origin[r],
        ];
    }
    affine[3] = [0.0, 0.0, 0.0, 1.0];
    let mut shape = vec![cols, rows, positions.len()];
    if nt > 1 {
        shape.push(nt);
    }
    Ok(Grid {
        shape,
        affine,
        slot,
        per_volume,
        volume_frames,
    })
}

/// The slice step vector, checked for uniform gaps and tilt.
fn step(reps: &[&FrameInfo], normal: [f64; 3]) -> Result<[f64; 3], SeriesError> {
    let n = reps.len();
    if n == 1 {
        let t = reps[0].thickness.filter(|t| *t > 0.0).unwrap_or(1.0);
        return Ok(normal.map(|x| x * t));
    }
    let d: Vec<f64> = reps.iter().map(|s| dot(s.ipp, normal)).collect();
    let (min, max) = d
        .windows(2)
        .map(|w| w[1] - w[0])
        .fold((f64::MAX, f64::MIN), |(a, b), g| (a.min(g), b.max(g)));
    if max - min > 1e-3 * max.max(1.0) {
        return Err(SeriesError::Spacing { min, max });
    }
    let (a, b) = (reps[0].ipp, reps[n - 1].ipp);
    let v = [0, 1, 2].map(|i| (b[i] - a[i]) / (n - 1) as f64);
    let cos = dot(v, normal) / dot(v, v).sqrt();
    if cos < 1.0 - 1e-6 {
        return Err(SeriesError::Tilted {
            degrees: cos.clamp(-1.0, 1.0).acos().to_degrees(),
        });
    }
    Ok(v)
}

/// A multi-frame series' grid, with what its frames say beyond the geometry.
#[derive(Clone, Debug)]
pub struct Stacked {
    /// Shape, affine and files (one entry per file, in the order given).
    pub geometry: Geometry,
    /// The diffusion table, when any frame has a diffusion encoding.
    pub gradients: Option<Gradients>,
    /// The first frame's RescaleSlope and RescaleIntercept.
    pub rescale: Option<(f64, f64)>,
    /// RepetitionTime in ms (MRTimingAndRelatedParametersSequence, else the top level).
    pub repetition_time_ms: Option<f64>,
    /// EffectiveEchoTime in ms (MREchoSequence, else EchoTime at the top level).
    pub echo_time_ms: Option<f64>,
    /// Frames in all.
    pub frames: usize,
    /// Per volume, its first slice's FrameAcquisitionDateTime (DT, as stored) and
    /// FrameAcquisitionDuration (ms), for PET frame timing.
    pub volume_times: Vec<(Option<String>, Option<f64>)>,
}

/// A value from the shared functional groups' macro `seq`, else the top level's `fallback`.
fn shared_number(f: &File, seq: u32, tag: u32, fallback: u32) -> Option<f64> {
    let top = Dataset::top(f);
    top.item(SHARED)
        .ok()
        .flatten()
        .and_then(|s| s.item(seq).ok().flatten())
        .and_then(|i| i.floats(tag, *b"FD")?.first().copied())
        .or_else(|| f.number(fallback))
}

/// Stacks the frames of multi-frame objects of one series, handing each frame's values (after
/// its own modality LUT, column fastest) to `put(shape, slice, volume, values)`, file by file in
/// frame order (not slice order). Each file is read twice: its header, then its pixels.
pub fn stack(
    paths: &[PathBuf],
    mut put: impl FnMut(&[usize], usize, usize, &[f64]),
) -> Result<Stacked, SeriesError> {
    let mut pool = Vec::new();
    let (mut rows, mut cols) = (0, 0);
    let (mut tr, mut te) = (None, None);
    for (i, p) in paths.iter().enumerate() {
        let head = crate::open_header(p).map_err(|e| SeriesError::Read {
            path: p.display().to_string(),
            message: e.to_string(),
        })?;
        let img = Image::from_file(&head).map_err(instance_err(p))?;
        if is_mosaic(&head) {
            return Err(SeriesError::Mosaic {
                path: p.display().to_string(),
            });
        }
        if img.samples != 1 {
            return Err(SeriesError::Colour {
                path: p.display().to_string(),
            });
        }
        if i == 0 {
            (rows, cols) = (img.rows, img.columns);
            tr = shared_number(&head, MR_TIMING, REPETITION_TIME, REPETITION_TIME);
            te = shared_number(&head, MR_ECHO, EFFECTIVE_ECHO_TIME, 0x0018_0081);
        } else if (img.rows, img.columns) != (rows, cols) {
            return Err(SeriesError::Mixed {
                path: p.display().to_string(),
                what: "Rows/Columns",
            });
        }
        // The header alone has no pixel data to bound a legacy frame count: read it whole then.
        let whole;
        let f = if head.elements.contains_key(&PER_FRAME) {
            &head
        } else {
            whole = crate::open(p).map_err(|e| SeriesError::Read {
                path: p.display().to_string(),
                message: e.to_string(),
            })?;
            &whole
        };
        let instance = f.number(INSTANCE_NUMBER).unwrap_or(0.0);
        for (frame, info) in frames(f, p)?.into_iter().enumerate() {
            pool.push(Pooled {
                file: i,
                frame,
                instance,
                info,
            });
        }
    }
    let g = grid(&pool, rows, cols, paths)?;
    let frames = pool.len();
    let nxy = rows * cols;
    let mut at = 0;
    for (i, p) in paths.iter().enumerate() {
        let mut f = crate::open(p).map_err(|e| SeriesError::Read {
            path: p.display().to_string(),
            message: e.to_string(),
        })?;
        let img = Image::from_file(&f).map_err(instance_err(p))?;
        let first = at;
        while at < pool.len() && pool[at].file == i {
            at += 1;
        }
        let mut result = Ok(());
        each_frame(&mut f, &img, |frame, values| {
            // The pool holds this file's frames in frame order.
            let q = first + frame;
            if q >= at {
                return;
            }
            if values.len() != nxy {
                result = Err(SeriesError::Instance {
                    path: label(p, frame),
                    error: crate::DicomError::NoPixelData,
                });
                return;
            }
            let (k, t) = g.slot[q];
            match pool[q].info.rescale {
                Some((slope, inter)) => {
                    let scaled: Vec<f64> = values.iter().map(|x| x * slope + inter).collect();
                    put(&g.shape, k, t, &scaled);
                }
                None => put(&g.shape, k, t, values),
            }
        })
        .map_err(instance_err(p))?;
        result?;
    }
    let volume_times = g
        .volume_frames
        .iter()
        .map(|&q| (pool[q].info.acquired.clone(), pool[q].info.duration_ms))
        .collect();
    let gradients = g.per_volume.iter().any(Option::is_some).then(|| {
        let d: Vec<Diffusion> = g
            .per_volume
            .iter()
            .map(|d| {
                d.unwrap_or(Diffusion {
                    b: 0.0,
                    direction: None,
                })
            })
            .collect();
        diffusion::table(&d, &g.affine)
    });
    Ok(Stacked {
        geometry: Geometry {
            shape: g.shape,
            affine: g.affine,
            files: paths.to_vec(),
        },
        gradients,
        rescale: pool.first().and_then(|p| p.info.rescale),
        repetition_time_ms: tr,
        echo_time_ms: te,
        frames,
        volume_times,
    })
}

/// Decodes a file's frames one at a time where the pixel data allows (native data of whole
/// bytes per frame; one fragment per frame), else all at once, handing each frame's samples
/// (before the modality LUT) to `each(frame, values)` in frame order. Only one frame's values
/// are held at a time in the first case.
fn each_frame(
    f: &mut File,
    img: &Image,
    mut each: impl FnMut(usize, &[f64]),
) -> Result<(), crate::DicomError> {
    let per = img.rows * img.columns * img.samples;
    let el = f
        .elements
        .get(&crate::parse::PIXEL_DATA)
        .ok_or(crate::DicomError::NoPixelData)?
        .clone();
    let bytes = per.saturating_mul(usize::from(img.bits_allocated / 8));
    let one = Image {
        frames: 1,
        ..img.clone()
    };
    let native_split = el.fragments.is_none()
        && img.bits_allocated >= 8
        && bytes > 0
        && img.photometric != "YBR_FULL_422"
        && el.value.len() >= bytes.saturating_mul(img.frames);
    let frag_split = el
        .fragments
        .as_ref()
        .is_some_and(|fr| fr.len() == img.frames && img.frames > 1);
    if !(native_split || frag_split) {
        let px = decode(f, img)?;
        for (frame, v) in px.chunks(per.max(1)).enumerate() {
            each(frame, v);
        }
        return Ok(());
    }
    let mut result = Ok(());
    for frame in 0..img.frames {
        let mut part = el.clone();
        if let Some(fr) = &el.fragments {
            part.fragments = fr.get(frame).map(|r| vec![r.clone()]);
        } else {
            let start = el.value.start + frame * bytes;
            part.value = start..start + bytes;
        }
        f.elements.insert(crate::parse::PIXEL_DATA, part);
        match decode(f, &one) {
            Ok(px) => each(frame, &px),
            Err(e) => {
                result = Err(e);
                break;
            }
        }
    }
    f.elements.insert(crate::parse::PIXEL_DATA, el);
    result
}

/// Stacks multi-frame objects of one series into a volume (values `i` fastest, as
/// [`crate::series::Volume::data`]) with its diffusion table.
pub fn volume(
    paths: &[PathBuf],
) -> Result<(crate::series::Volume, Option<Gradients>), SeriesError> {
    gather(|put| stack(paths, put))
}

/// Runs a stacker ([`stack`], [`crate::mosaic::stack`]) and gathers the values it hands out
/// into a volume (`i` fastest) with its diffusion table.
pub(crate) fn gather(
    stacker: impl FnOnce(&mut dyn FnMut(&[usize], usize, usize, &[f64])) -> Result<Stacked, SeriesError>,
) -> Result<(crate::series::Volume, Option<Gradients>), SeriesError> {
    let mut data: Vec<f64> = Vec::new();
    let s = stacker(&mut |shape, k, t, px| {
        let (nxy, nz) = (shape[0] * shape[1], shape[2]);
        let n: usize = shape.iter().product();
        if data.len() < n {
            data.resize(n, 0.0);
        }
        let at = (t * nz + k) * nxy;
        if let Some(d) = data.get_mut(at..at + px.len()) {
            d.copy_from_slice(px);
        }
    })?;
    Ok((
        crate::series::Volume {
            shape: s.geometry.shape,
            data,
            affine: s.geometry.affine,
            files: s.geometry.files,
        },
        s.gradients,
    ))
}

/// Per-frame modality LUTs of an enhanced object (`None` when it has no functional groups or
/// any frame's groups are malformed): for `probe`'s statistics.
pub fn frame_rescales(f: &File) -> Option<Vec<Option<(f64, f64)>>> {
    let top = Dataset::top(f);
    let per = top.items(PER_FRAME).ok()?;
    let shared = top.item(SHARED).ok()?;
    if per.is_empty() && shared.is_none() {
        return None;
    }
    per.into_iter()
        .map(|item| {
            let g = Groups {
                per: Some(item),
                shared: shared.clone(),
            };
            Some(match g.item(VALUE_TRANSFORM).ok()? {
                Some(t) => rescale_of(&t),
                None => rescale_of(&top),
            })
        })
        .collect()
}

/// Applies the modality LUT to decoded samples (`(frame, row, column, sample)` order): per
/// frame from the functional groups of an enhanced object, else the top level's.
pub fn apply_rescale(f: &File, img: &Image, samples: &mut [f64]) {
    let per = frame_rescales(f).filter(|r| r.len() == img.frames);
    let n = img.rows * img.columns * img.samples;
    match per {
        Some(r) if n > 0 => {
            for (frame, px) in samples.chunks_mut(n).enumerate() {
                if let Some(Some((slope, inter))) = r.get(frame) {
                    px.iter_mut().for_each(|v| *v = *v * slope + inter);
                }
            }
        }
        _ => {
            if let Some((slope, inter)) = img.rescale {
                samples.iter_mut().for_each(|v| *v = *v * slope + inter);
            }
        }
    }
}
