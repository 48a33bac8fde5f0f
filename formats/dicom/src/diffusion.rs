//! Diffusion encoding from DICOM headers: the b-value and gradient direction of one image (a
//! classic instance or one frame of an enhanced object), and the gradient table of a volume in
//! the FSL/BIDS `.bvec` convention (the image's voxel axes, x negated when the voxel-to-world
//! matrix has a positive determinant), as `dcm2niix` writes it.
//!
//! Where they are read from, first found wins:
//! - the standard attributes: DiffusionBValue (0018,9087) and DiffusionGradientOrientation
//!   (0018,9089), at the top level, in MRDiffusionSequence (0018,9117) or its
//!   DiffusionGradientDirectionSequence (0018,9076) (a DiffusionDirectionality (0018,9075) of
//!   `ISOTROPIC` or `NONE` means no direction);
//! - Siemens (creator `SIEMENS MR HEADER` in group 0019): B_value (0019,xx0C) and
//!   DiffusionGradientDirection (0019,xx0E), in patient coordinates;
//! - GE (Manufacturer `GE...`; creators `GEMS_PARM_01` in 0043, `GEMS_ACQU_01` in 0019): the
//!   first value of (0043,xx39) as b (modulo 10⁹, the vendor's flag offset) and (0019,xxBB),
//!   (0019,xxBC), (0019,xxBD) as the vector, given in the image's frame: along the row
//!   direction, minus the column direction and the normal (as `dcm2niix` reads them);
//! - Philips (creators `Philips Imaging DD 001` in 2001, `Philips MR Imaging DD 001` in 2005):
//!   (2001,xx03) as b and (2005,xxB0), (2005,xxB1), (2005,xxB2) as the vector (patient
//!   coordinates).
//!
//! Directions are kept in the DICOM patient frame (LPS) until [`to_bvec`].

use crate::error::DicomError;
use crate::sequence::Dataset;

/// The diffusion encoding of one image.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Diffusion {
    /// b-value in s/mm².
    pub b: f64,
    /// Gradient direction in the patient frame (LPS), unit length; `None` for b = 0 and
    /// isotropic (trace) images.
    pub direction: Option<[f64; 3]>,
}

const B_VALUE: u32 = 0x0018_9087;
const ORIENTATION: u32 = 0x0018_9089;
const DIRECTIONALITY: u32 = 0x0018_9075;
const MR_DIFFUSION: u32 = 0x0018_9117;
const GRADIENT_SEQ: u32 = 0x0018_9076;
const MANUFACTURER: u32 = 0x0008_0070;

/// The image's row, column and normal direction cosines (patient frame).
pub type Frame = [[f64; 3]; 3];

fn unit(v: [f64; 3]) -> Option<[f64; 3]> {
    let n = (v[0] * v[0] + v[1] * v[1] + v[2] * v[2]).sqrt();
    (n.is_finite() && n > 1e-6).then(|| v.map(|x| x / n))
}

fn vec3(v: Option<Vec<f64>>) -> Option<[f64; 3]> {
    v.and_then(|v| <[f64; 3]>::try_from(v).ok())
        .filter(|a| a.iter().all(|x| x.is_finite()))
}

fn make(b: f64, dir: Option<[f64; 3]>, isotropic: bool) -> Diffusion {
    let direction = if b.abs() < 1e-6 || isotropic {
        None
    } else {
        dir.and_then(unit)
    };
    Diffusion { b, direction }
}

/// The standard attributes of a data set (top level or an MRDiffusionSequence item).
fn standard(ds: &Dataset) -> Result<Option<Diffusion>, DicomError> {
    let Some(b) = ds.floats(B_VALUE, *b"FD").and_then(|v| v.first().copied()) else {
        return Ok(None);
    };
    let isotropic = ds
        .text(DIRECTIONALITY)
        .is_some_and(|d| matches!(d.as_str(), "ISOTROPIC" | "NONE"));
    let dir = match vec3(ds.floats(ORIENTATION, *b"FD")) {
        Some(d) => Some(d),
        None => ds
            .item(GRADIENT_SEQ)?
            .and_then(|g| vec3(g.floats(ORIENTATION, *b"FD"))),
    };
    Ok(Some(make(b, dir, isotropic)))
}

/// The diffusion encoding of an enhanced object's frame from its functional group item
/// (per-frame, then shared): the MRDiffusionSequence's standard attributes.
pub fn of_group(group: &Dataset) -> Result<Option<Diffusion>, DicomError> {
    match group.item(MR_DIFFUSION)? {
        Some(item) => standard(&item),
        None => Ok(None),
    }
}

/// The diffusion encoding of a classic instance (standard attributes, then the vendors'
/// private ones), with its image frame for vectors given in image axes (GE).
pub fn of_instance(ds: &Dataset, frame: Frame) -> Result<Option<Diffusion>, DicomError> {
    if let Some(d) = standard(ds)? {
        return Ok(Some(d));
    }
    if let Some(d) = of_group(ds)? {
        return Ok(Some(d));
    }
    let maker = ds.text(MANUFACTURER).unwrap_or_default().to_uppercase();
    let private = |group: u16, creator: &str, el: u32, vr: [u8; 2]| {
        let block = ds.private_block(group, creator)?;
        ds.floats((u32::from(group) << 16) | (block << 8) | el, vr)
    };
    // Siemens.
    if let Some(b) =
        private(0x0019, "SIEMENS MR HEADER", 0x0C, *b"IS").and_then(|v| v.first().copied())
    {
        let dir = vec3(private(0x0019, "SIEMENS MR HEADER", 0x0E, *b"FD"));
        return Ok(Some(make(b, dir, false)));
    }
    // GE: the vector in the image's axes.
    if maker.starts_with("GE")
        && let Some(b) =
            private(0x0043, "GEMS_PARM_01", 0x39, *b"IS").and_then(|v| v.first().copied())
    {
        let b = b.rem_euclid(1e9);
        let comp =
            |el| private(0x0019, "GEMS_ACQU_01", el, *b"DS").and_then(|v| v.first().copied());
        let dir = match (comp(0xBB), comp(0xBC), comp(0xBD)) {
            // y counts along minus the column direction (as dcm2niix reads it).
            (Some(x), Some(y), Some(z)) => {
                Some([0, 1, 2].map(|r| x * frame[0][r] - y * frame[1][r] + z * frame[2][r]))
            }
            _ => None,
        };
        return Ok(Some(make(b, dir, false)));
    }
    // Philips.
    if let Some(b) =
        private(0x2001, "Philips Imaging DD 001", 0x03, *b"FL").and_then(|v| v.first().copied())
    {
        let comp = |el| {
            private(0x2005, "Philips MR Imaging DD 001", el, *b"FL")
                .and_then(|v| v.first().copied())
        };
        let dir = match (comp(0xB0), comp(0xB1), comp(0xB2)) {
            (Some(x), Some(y), Some(z)) => Some([x, y, z]),
            _ => None,
        };
        return Ok(Some(make(b, dir, false)));
    }
    Ok(None)
}

/// Two encodings are the same volume's (b within 1e-3 s/mm², directions within 1e-4).
pub fn same(a: &Diffusion, b: &Diffusion) -> bool {
    (a.b - b.b).abs() <= 1e-3
        && match (a.direction, b.direction) {
            (None, None) => true,
            (Some(x), Some(y)) => x.iter().zip(y).all(|(p, q)| (p - q).abs() <= 1e-4),
            _ => false,
        }
}

/// A direction (patient LPS) as an FSL/BIDS `.bvec` entry for a volume whose voxel axes point
/// along `axes` (unit vectors, patient LPS: column index, row index, slice index) and whose
/// voxel-to-world matrix has determinant sign `det_positive`: the projections on the axes, x
/// negated when the determinant is positive (FSL's radiological voxel convention).
pub fn to_bvec(direction: Option<[f64; 3]>, axes: Frame, det_positive: bool) -> [f64; 3] {
    let Some(g) = direction else {
        return [0.0; 3];
    };
    let mut v = axes.map(|a| a[0] * g[0] + a[1] * g[1] + a[2] * g[2]);
    if det_positive {
        v[0] = -v[0];
    }
    // No negative zeros in the output.
    v.map(|x| if x == 0.0 { 0.0 } else { x })
}

/// The diffusion table of a volume: b-values and `.bvec` entries, one per volume.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Gradients {
    /// b-values in s/mm².
    pub bvals: Vec<f64>,
    /// FSL/BIDS `.bvec` entries ([`to_bvec`]).
    pub bvecs: Vec<[f64; 3]>,
}

/// The gradient table of volumes whose encodings are `per_volume`, on the voxel grid of
/// `affine` (RAS+ voxel-to-world, as [`crate::series::Volume::affine`]).
pub fn table(per_volume: &[Diffusion], affine: &[[f64; 4]; 4]) -> Gradients {
    // The voxel axes in LPS: RAS columns with x and y negated, normalised.
    let axes: Frame = [0, 1, 2].map(|c| {
        let v = [-affine[0][c], -affine[1][c], affine[2][c]];
        unit(v).unwrap_or([0.0; 3])
    });
    let m = |r: usize, c: usize| affine[r][c];
    let det = m(0, 0) * (m(1, 1) * m(2, 2) - m(1, 2) * m(2, 1))
        - m(0, 1) * (m(1, 0) * m(2, 2) - m(1, 2) * m(2, 0))
        + m(0, 2) * (m(1, 0) * m(2, 1) - m(1, 1) * m(2, 0));
    Gradients {
        bvals: per_volume.iter().map(|d| d.b).collect(),
        bvecs: per_volume
            .iter()
            .map(|d| to_bvec(d.direction, axes, det > 0.0))
            .collect(),
    }
}

/// The diffusion table of a classic series stacked by [`crate::series::stack`]: `files` in its
/// storage order (slice fastest, then volume), `slices` positions, on the grid of `affine`.
/// Reads the header of the first and last instance of each volume (they must agree); `None`
/// when no instance has a diffusion encoding. A volume without one counts as b = 0.
pub fn of_series(
    files: &[std::path::PathBuf],
    slices: usize,
    affine: &[[f64; 4]; 4],
) -> Result<Option<Gradients>, crate::SeriesError> {
    let read = |p: &std::path::Path| -> Result<Option<Diffusion>, crate::SeriesError> {
        let f = crate::open_header(p).map_err(|e| crate::SeriesError::Read {
            path: p.display().to_string(),
            message: e.to_string(),
        })?;
        let iop = f.numbers(0x0020_0037).unwrap_or_default();
        let (r, c) = match iop.as_slice() {
            [a, b, c, d, e, g] => ([*a, *b, *c], [*d, *e, *g]),
            _ => ([1.0, 0.0, 0.0], [0.0, 1.0, 0.0]),
        };
        let n = [
            r[1] * c[2] - r[2] * c[1],
            r[2] * c[0] - r[0] * c[2],
            r[0] * c[1] - r[1] * c[0],
        ];
        of_instance(&Dataset::top(&f), [r, c, n]).map_err(|error| crate::SeriesError::Instance {
            path: p.display().to_string(),
            error,
        })
    };
    let slices = slices.max(1);
    let mut per = Vec::new();
    for (t, vol) in files.chunks(slices).enumerate() {
        let (Some(a), Some(b)) = (vol.first(), vol.last()) else {
            continue;
        };
        let first = read(a)?;
        if vol.len() > 1 {
            let last = read(b)?;
            let agree = match (&first, &last) {
                (None, None) => true,
                (Some(x), Some(y)) => same(x, y),
                _ => false,
            };
            if !agree {
                return Err(crate::SeriesError::DiffusionMismatch {
                    path: b.display().to_string(),
                    volume: t,
                });
            }
        }
        per.push(first);
    }
    if per.iter().all(Option::is_none) {
        return Ok(None);
    }
    let d: Vec<Diffusion> = per
        .into_iter()
        .map(|d| {
            d.unwrap_or(Diffusion {
                b: 0.0,
                direction: None,
            })
        })
        .collect();
    Ok(Some(table(&d, affine)))
}

/// Whether an instance's header carries a diffusion encoding (a plan-time test: the top level,
/// the vendors' tags, or the MRDiffusionSequence of the shared or first per-frame functional
/// group); malformed sequences count as none.
pub fn has_encoding(f: &crate::File) -> bool {
    let top = Dataset::top(f);
    let frame = [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]];
    if matches!(of_instance(&top, frame), Ok(Some(_))) {
        return true;
    }
    [0x5200_9229, 0x5200_9230].into_iter().any(|seq| {
        matches!(
            top.item(seq).map(|i| i.map(|i| of_group(&i))),
            Ok(Some(Ok(Some(_))))
        )
    })
}
