//! One stacking entry for the DICOM series path ([`super::dicom::series_sample`]): classic
//! single-frame series through `bomdata_dicom::series::stack`, multi-frame (enhanced and
//! legacy) objects through `bomdata_dicom::multiframe::stack`, Siemens mosaics through
//! `bomdata_dicom::mosaic::stack`, each with the diffusion table
//! its headers carry (as the FSL/BIDS `.bvec` convention the NIfTI path records).

use std::path::PathBuf;

use bomdata_dicom as dicom;
use bomdata_schemas::mri::GradientTable;

/// A stacked series: the grid, the files, and what its headers say beyond the classic ones.
#[derive(Clone, Debug)]
pub(crate) struct Stacked {
    /// `[x, y, z]` or `[x, y, z, t]`.
    pub shape: Vec<usize>,
    /// Voxel to RAS+.
    pub affine: [[f64; 4]; 4],
    /// Instances in storage order (classic), or the multi-frame files.
    pub files: Vec<PathBuf>,
    /// Whether the series is multi-frame.
    pub multiframe: bool,
    /// b-values and `.bvec` entries, one per volume, when the headers have them.
    pub gradients: Option<GradientTable>,
    /// The modality LUT of a multi-frame object's first frame (functional groups).
    pub rescale: Option<(f64, f64)>,
    /// RepetitionTime in ms from the functional groups.
    pub repetition_time_ms: Option<f64>,
    /// Echo time in ms from the functional groups.
    pub echo_time_ms: Option<f64>,
    /// Per volume of a multi-frame object: FrameAcquisitionDateTime and duration (ms).
    pub volume_times: Vec<(Option<String>, Option<f64>)>,
}

fn table(g: dicom::diffusion::Gradients) -> GradientTable {
    GradientTable {
        bvals: g.bvals,
        bvecs: g.bvecs,
    }
}

/// Stacks `files` (one series; `first` is the first one's header), handing each slice's values
/// to `put(shape, slice, volume, values)` ([`dicom::series::stack`]'s contract; multi-frame
/// objects hand frames in file order, not slice order).
pub(crate) fn stack(
    files: &[PathBuf],
    first: &dicom::File,
    put: impl FnMut(&[usize], usize, usize, &[f64]),
) -> Result<Stacked, dicom::SeriesError> {
    if dicom::multiframe::is_mosaic(first) {
        let s = dicom::mosaic::stack(files, put)?;
        return Ok(Stacked {
            shape: s.geometry.shape,
            affine: s.geometry.affine,
            files: s.geometry.files,
            multiframe: false,
            gradients: s.gradients.map(table),
            rescale: s.rescale,
            repetition_time_ms: s.repetition_time_ms,
            echo_time_ms: s.echo_time_ms,
            volume_times: s.volume_times,
        });
    }
    if dicom::multiframe::is_multiframe(first) {
        let s = dicom::multiframe::stack(files, put)?;
        return Ok(Stacked {
            shape: s.geometry.shape,
            affine: s.geometry.affine,
            files: s.geometry.files,
            multiframe: true,
            gradients: s.gradients.map(table),
            rescale: s.rescale,
            repetition_time_ms: s.repetition_time_ms,
            echo_time_ms: s.echo_time_ms,
            volume_times: s.volume_times,
        });
    }
    let g = dicom::series::stack(files, put)?;
    classic(g, first)
}

/// Whether `first` (a series' first header) starts a classic single-frame series, which
/// [`classic`] describes once its voxels are read (not a mosaic, not multi-frame).
pub(crate) fn is_classic(first: &dicom::File) -> bool {
    !dicom::multiframe::is_mosaic(first) && !dicom::multiframe::is_multiframe(first)
}

/// The stacking facts of a classic series planned as `g`, with the diffusion table its headers
/// carry.
pub(crate) fn classic(
    g: dicom::series::Geometry,
    first: &dicom::File,
) -> Result<Stacked, dicom::SeriesError> {
    let slices = g.shape.get(2).copied().unwrap_or(1);
    // A 4-D series may carry its encoding on later volumes only (a b = 0 volume without tags).
    let gradients = if g.shape.len() == 4 || dicom::diffusion::has_encoding(first) {
        dicom::diffusion::of_series(&g.files, slices, &g.affine)?.map(table)
    } else {
        None
    };
    Ok(Stacked {
        shape: g.shape,
        affine: g.affine,
        files: g.files,
        multiframe: false,
        gradients,
        rescale: None,
        repetition_time_ms: None,
        echo_time_ms: None,
        volume_times: Vec::new(),
    })
}
