//! Canonical metadata of the mri modalities (`mri/1`): sMRI, fMRI, dMRI and PET volumes.
//!
//! A canonical volume sample has two members: `volume.npy`, the scaled voxel values, and
//! `meta.json`, a [`VolumeMeta`]. The array axis order is nibabel's: `(x, y, z[, t, ...])`, i.e.
//! NIfTI's `dim[1..]`, stored as a C-order `.npy` with that shape, so `np.load` equals
//! `nibabel.load(f).get_fdata().astype(np.float32)` (x is the first index, not the fastest in
//! memory). Header text that can carry identity (`descrip`, `aux_file`, `intent_name`) is kept
//! only in [`VolumeMeta::identity`], which is absent unless the ingest was asked to keep it.

use serde::{Deserialize, Serialize};

use crate::{Modality, Provenance};

/// Schema version string of this module.
pub const VERSION: &str = "mri/1";

/// The `npy` field name of the voxel array in a canonical volume sample.
pub const VOLUME_FIELD: &str = "volume.npy";
/// The field name of the metadata in a canonical volume sample.
pub const META_FIELD: &str = "meta.json";

/// How stored values were turned into physical values (NIfTI `scl_slope`/`scl_inter`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Scaling {
    /// Slope applied (1 when the header had none).
    pub slope: f64,
    /// Intercept applied (0 when the header had none).
    pub inter: f64,
    /// Whether the header asked for scaling (slope finite and non-zero) and it was applied.
    pub applied: bool,
}

/// Diffusion gradient table: one b-value and one unit vector per volume.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GradientTable {
    /// b-values in s/mm², one per volume.
    pub bvals: Vec<f64>,
    /// Gradient directions, one `[x, y, z]` per volume, in the image's voxel axes (FSL/BIDS
    /// `.bvec` convention).
    pub bvecs: Vec<[f64; 3]>,
}

/// PET frame timing, one entry per volume (BIDS `FrameTimesStart` / `FrameDuration`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FrameTiming {
    /// Start of each frame in seconds from the injection (or scan start).
    pub starts_s: Vec<f64>,
    /// Duration of each frame in seconds.
    pub durations_s: Vec<f64>,
}

/// PET quantification facts, as the source gave them (BIDS PET sidecar or DICOM PET headers).
/// Every time is in seconds on the axis of [`FrameTiming::starts_s`] (BIDS `TimeZero`; for
/// DICOM the series reference time, SeriesTime); no date or clock time is kept.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PetInfo {
    /// Units of the voxel values (BIDS `Units`, e.g. `Bq/mL`; DICOM `Units`, e.g. `BQML`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub units: Option<String>,
    /// Injected radioactivity at the injection time, in [`PetInfo::injected_units`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub injected: Option<f64>,
    /// Units of [`PetInfo::injected`] (`MBq`, `mCi`, ...; DICOM RadionuclideTotalDose is `Bq`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub injected_units: Option<String>,
    /// Body weight in kg (BIDS `BodyWeight`, DICOM PatientWeight: kept as a number under the
    /// PS3.15 Retain Patient Characteristics Option, for SUV).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_weight_kg: Option<f64>,
    /// Injection start on the frame time axis (BIDS `InjectionStart`; DICOM
    /// RadiopharmaceuticalStartDateTime/Time − SeriesTime).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub injection_s: Option<f64>,
    /// Whether the voxel values are decay corrected (BIDS `ImageDecayCorrected`; DICOM
    /// DecayCorrection `START`/`ADMIN` → true, `NONE` → false).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decay_corrected: Option<bool>,
    /// The time the values are decay corrected to, on the frame time axis (BIDS
    /// `ImageDecayCorrectionTime`; DICOM `START` → 0, `ADMIN` → the injection time).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decay_reference_s: Option<f64>,
    /// Radionuclide (BIDS `TracerRadionuclide`, e.g. `F18`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub radionuclide: Option<String>,
    /// Half-life in seconds (DICOM RadionuclideHalfLife, or a sidecar's `RadionuclideHalfLife`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub half_life_s: Option<f64>,
}

/// Identity-bearing header text, present only when identity was explicitly kept.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct IdentityText {
    /// NIfTI `descrip`.
    pub descrip: String,
    /// NIfTI `aux_file`.
    pub aux_file: String,
    /// NIfTI `intent_name`.
    pub intent_name: String,
}

/// What a volume built from a DICOM series keeps of its headers: technical fields only (the
/// PS3.15 Basic Application Level Confidentiality Profile removes the rest). UIDs are replaced
/// by keyed hashes (the pseudonymisation key), so series of one study stay linked; no dates.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DicomSeries {
    /// The DICOM Modality code (`MR`, `PT`, ...).
    pub modality: String,
    /// Keyed hash of the SeriesInstanceUID.
    pub series: String,
    /// Keyed hash of the StudyInstanceUID, when present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub study: Option<String>,
    /// Number of instances (slices × volumes) stacked.
    pub instances: usize,
    /// EchoTime in seconds, when present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub echo_time_s: Option<f64>,
    /// ManufacturerModelName, when present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// The Philips private scale slope (2005,xx0E) of the first instance, when present: the
    /// values are then Philips' precise floating-point ones (as dcm2niix), and `scaling` holds
    /// `1 / scale slope` and `RescaleIntercept / (RescaleSlope · scale slope)`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub philips_scale_slope: Option<f64>,
}

/// `meta.json` of a canonical volume sample (`mri/1`).
///
/// ```
/// use bomdata_schemas::{mri::VolumeMeta, Modality, Provenance};
/// let prov = Provenance { source: "bids".into(), file: "sub-01/anat/sub-01_T1w.nii.gz".into(),
///     part: None, reader: "bomdata-nifti 0.1.0".into() };
/// let m = VolumeMeta::new(Modality::Smri, vec![4, 5, 6], prov);
/// let json = serde_json::to_string(&m).unwrap();
/// assert!(json.contains("\"schema\":\"mri/1\""));
/// assert_eq!(serde_json::from_str::<VolumeMeta>(&json).unwrap(), m);
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct VolumeMeta {
    /// Always [`VERSION`].
    pub schema: String,
    /// Modality of the volume.
    pub modality: Modality,
    /// Acquisition or file kind as the source names it: `"T1w"`, `"T2w"`, `"FLAIR"`, `"bold"`,
    /// `"dwi"`, `"pet"`, `"T1_brain_to_MNI"`, ...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Task label for functional runs (BIDS `task-`), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task: Option<String>,
    /// Shape of the stored array: `(x, y, z[, t, ...])` (NIfTI `dim[1..=dim[0]]`).
    pub shape: Vec<u64>,
    /// Element type of the stored array (`"float32"` or `"float16"`).
    pub dtype: String,
    /// Element type on disk in the source file (`"int16"`, `"float32"`, ...).
    pub source_dtype: String,
    /// Voxel-to-world affine (row-major 4×4), nibabel's best affine: sform if coded, else qform
    /// if coded, else the pixdim-only fallback.
    pub affine: [[f64; 4]; 4],
    /// NIfTI `qform_code` (0 unknown, 1 scanner, 2 aligned, 3 talairach, 4 mni, 5 template).
    pub qform_code: i32,
    /// NIfTI `sform_code`.
    pub sform_code: i32,
    /// Voxel sizes along x, y, z in [`VolumeMeta::spatial_unit`].
    pub voxel_size: [f64; 3],
    /// `"mm"`, `"micron"`, `"meter"` or `"unknown"`.
    pub spatial_unit: String,
    /// `"sec"`, `"msec"`, `"usec"`, `"hz"`, `"ppm"`, `"rads"` or `"unknown"`.
    pub temporal_unit: String,
    /// Repetition time in seconds (sidecar `RepetitionTime` when present, else `pixdim[4]`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repetition_time_s: Option<f64>,
    /// Diffusion gradient table (dMRI).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gradients: Option<GradientTable>,
    /// PET frame timing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frames: Option<FrameTiming>,
    /// PET quantification facts (dose, weight, decay correction), when the source gave any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pet: Option<PetInfo>,
    /// Scaling applied to produce the stored values.
    pub scaling: Scaling,
    /// Header text, only when identity was explicitly kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<IdentityText>,
    /// Technical fields of a DICOM series (absent for NIfTI input).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dicom: Option<DicomSeries>,
    /// Where the values came from.
    pub provenance: Provenance,
}

impl VolumeMeta {
    /// A float32 volume of `shape` with an identity affine, unit voxels, no scaling and no
    /// optional fields; callers fill in the rest.
    pub fn new(modality: Modality, shape: Vec<u64>, provenance: Provenance) -> Self {
        VolumeMeta {
            schema: VERSION.to_string(),
            modality,
            kind: None,
            task: None,
            shape,
            dtype: "float32".to_string(),
            source_dtype: "float32".to_string(),
            affine: [
                [1.0, 0.0, 0.0, 0.0],
                [0.0, 1.0, 0.0, 0.0],
                [0.0, 0.0, 1.0, 0.0],
                [0.0, 0.0, 0.0, 1.0],
            ],
            qform_code: 0,
            sform_code: 0,
            voxel_size: [1.0; 3],
            spatial_unit: "unknown".to_string(),
            temporal_unit: "unknown".to_string(),
            repetition_time_s: None,
            gradients: None,
            frames: None,
            pet: None,
            dicom: None,
            scaling: Scaling {
                slope: 1.0,
                inter: 0.0,
                applied: false,
            },
            identity: None,
            provenance,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn optional_fields_are_omitted_and_identity_absent_by_default() {
        let prov = Provenance {
            source: "ukb".into(),
            file: "1_20252_2_0.zip!T1/T1.nii.gz".into(),
            part: None,
            reader: "bomdata-nifti 0.1.0".into(),
        };
        let mut m = VolumeMeta::new(Modality::Dmri, vec![2, 2, 2, 3], prov);
        let v = serde_json::to_value(&m).unwrap();
        assert!(v.get("identity").is_none());
        assert!(v.get("gradients").is_none());
        m.gradients = Some(GradientTable {
            bvals: vec![0.0, 1000.0, 1000.0],
            bvecs: vec![[0.0; 3], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]],
        });
        let back: VolumeMeta = serde_json::from_value(serde_json::to_value(&m).unwrap()).unwrap();
        assert_eq!(back, m);
    }
}
