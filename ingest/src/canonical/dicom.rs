//! DICOM series → one canonical volume sample (shared by the `adni` and `dicom` adapters): the
//! same `volume.npy` layout, dtype rules and RAS+ affine as the NIfTI path
//! ([`super::mri::volume_sample`]), so the volume profiles read both alike.
//!
//! De-identification follows the DICOM PS3.15 Basic Application Level Confidentiality Profile
//! for everything that reaches the outputs: `meta.json` keeps technical fields only (shape,
//! affine, spacing, repetition and echo time, modality code, model name); patient, institution,
//! physician, operator, station, accession, dates and times are never read into it; UIDs are
//! written only as keyed hashes (the pseudonymisation key), so series of one study stay linked;
//! private tags are never copied. An instance with BurnedInAnnotation `YES` refuses its unit
//! unless the run allows it (`--allow-burned-in`).

use std::path::{Path, PathBuf};

use bomdata_dicom as dicom;
use bomdata_schemas::mri::{DicomSeries, Scaling, VolumeMeta};
use bomdata_schemas::{Modality, Provenance};
use bomdata_shard::npy;

use super::Target;
use super::mri::{VolumeInfo, to_f16_npy, write_volume};
use crate::source::{SampleSink, UnitContext};
use crate::{Error, Result};

const SERIES_UID: u32 = 0x0020_000E;
const STUDY_UID: u32 = 0x0020_000D;
const PATIENT_ID: u32 = 0x0010_0020;
const MODALITY: u32 = 0x0008_0060;
const SERIES_DESCRIPTION: u32 = 0x0008_103E;
const BURNED_IN: u32 = 0x0028_0301;
const REPETITION_TIME: u32 = 0x0018_0080;
const ECHO_TIME: u32 = 0x0018_0081;
const MODEL: u32 = 0x0008_1090;

/// What a plan reads from one instance of a series.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Head {
    /// SeriesInstanceUID (`""` when absent).
    pub series_uid: String,
    /// PatientID.
    pub patient_id: Option<String>,
    /// Modality code (`MR`, `PT`, ...).
    pub modality: Option<String>,
    /// SeriesDescription (used to tell fMRI/dMRI/sMRI apart; never written).
    pub description: Option<String>,
    /// BurnedInAnnotation is `YES`.
    pub burned_in: bool,
    /// The header carries a diffusion encoding (b-value tags).
    pub diffusion: bool,
}

impl Head {
    /// The plan fields of a parsed instance.
    pub fn of(f: &dicom::File) -> Head {
        Head {
            series_uid: f.text(SERIES_UID).unwrap_or_default(),
            patient_id: f.text(PATIENT_ID),
            modality: f.text(MODALITY),
            description: f.text(SERIES_DESCRIPTION),
            burned_in: f
                .text(BURNED_IN)
                .is_some_and(|t| t.eq_ignore_ascii_case("YES")),
            diffusion: dicom::diffusion::has_encoding(f),
        }
    }
}

/// Whether a file is DICOM by name (`.dcm`, `.dicom`, `.ima`) or, without an extension, by the
/// `DICM` magic after the 128-byte preamble.
pub fn looks_like_dicom(path: &Path) -> bool {
    match path.extension().and_then(|e| e.to_str()) {
        Some(e) => ["dcm", "dicom", "ima"]
            .iter()
            .any(|x| e.eq_ignore_ascii_case(x)),
        None => {
            use std::io::Read;
            let mut b = [0u8; 132];
            std::fs::File::open(path)
                .and_then(|mut f| f.read_exact(&mut b))
                .is_ok()
                && &b[128..] == b"DICM"
        }
    }
}

/// Groups files (relative to `root`) by SeriesInstanceUID, in UID order, each with the head of
/// its first file and its files sorted; files that do not parse are skipped.
pub fn group(root: &Path, rels: &[PathBuf]) -> Vec<(Head, Vec<PathBuf>)> {
    let mut m: std::collections::BTreeMap<String, (Head, Vec<PathBuf>)> = Default::default();
    for rel in rels {
        if let Ok(f) = dicom::open_header(&root.join(rel)) {
            let head = Head::of(&f);
            m.entry(head.series_uid.clone())
                .or_insert_with(|| (head, Vec::new()))
                .1
                .push(rel.clone());
        }
    }
    m.into_values()
        .map(|(h, mut v)| {
            v.sort();
            (h, v)
        })
        .collect()
}

/// The keyed hash that replaces a UID in outputs.
pub fn uid_hash(ctx: &UnitContext<'_>, uid: &str) -> String {
    ctx.pseudonymizer.pseudonym("dicom uid", uid)
}

/// Reads every instance's attributes (not its pixels), checking each for burned-in annotation,
/// and plans the series.
fn headers(files: &[PathBuf], ctx: &UnitContext<'_>) -> Result<dicom::corder::Headers> {
    let mut instances = Vec::with_capacity(files.len());
    for p in files {
        let i = dicom::corder::Instance::read(p).map_err(|e| match e {
            dicom::SeriesError::Instance { error, .. } => Error::input(p, error),
            dicom::SeriesError::Read { message, .. } => Error::input(p, message),
            e => Error::input(p, e),
        })?;
        if Head::of(i.file()).burned_in && !ctx.allow_burned_in {
            return Err(Error::BurnedInAnnotation { path: p.clone() });
        }
        instances.push(i);
    }
    let err_path = files.first().cloned().unwrap_or_default();
    if instances.is_empty() {
        return Err(Error::Other("DICOM series without instances".into()));
    }
    dicom::corder::plan_instances(instances).map_err(|e| Error::input(&err_path, e))
}

/// Checks every instance of a series for burned-in annotation (headers only).
fn check_burned_in(files: &[PathBuf], ctx: &UnitContext<'_>) -> Result<()> {
    for p in files {
        let f = dicom::open_header(p).map_err(|e| Error::input(p, e))?;
        if Head::of(&f).burned_in && !ctx.allow_burned_in {
            return Err(Error::BurnedInAnnotation { path: p.clone() });
        }
    }
    Ok(())
}

fn dtype_name(img: &dicom::Image) -> String {
    let sign = if img.signed { "int" } else { "uint" };
    format!("{sign}{}", img.bits_allocated)
}

/// A classic single-frame series: every header read once, then the voxels read in row bands
/// straight into a float32 C-order array from the process's buffer pool (`.npy` bytes, header
/// length, stacking facts).
fn classic_voxels(
    files: &[PathBuf],
    ctx: &UnitContext<'_>,
    first: &dicom::File,
) -> Result<(Vec<u8>, usize, super::dicom_volume::Stacked)> {
    let err_path = files.first().cloned().unwrap_or_default();
    let series = headers(files, ctx)?;
    let n = series.len() as u64;
    let per = if ctx.float16 { 14 } else { 12 };
    bomdata_format_core::budget::check(n.saturating_mul(per), "the series' voxel arrays")
        .map_err(|e| Error::input(&err_path, e))?;
    let g = series.geometry();
    // every byte is written by the fill
    let head = npy::header(npy::Dtype::F32, &g.shape);
    let mut data = bomdata_shard::buffers::take(head.len() + 4 * series.len());
    data[..head.len()].copy_from_slice(&head);
    series
        .fill_c_order_f32(&mut data[head.len()..])
        .map_err(|e| Error::input(&err_path, e))?;
    let vol =
        super::dicom_volume::classic(g.clone(), first).map_err(|e| Error::input(&err_path, e))?;
    Ok((data, head.len(), vol))
}

/// A multi-frame (enhanced or legacy) series, stacked frame by frame from its functional
/// groups (`.npy` bytes, header length, stacking facts).
fn framed_voxels(
    files: &[PathBuf],
    ctx: &UnitContext<'_>,
    first: &dicom::File,
    img: &dicom::Image,
) -> Result<(Vec<u8>, usize, super::dicom_volume::Stacked)> {
    let err_path = files.first().cloned().unwrap_or_default();
    check_burned_in(files, ctx)?;
    let n = (img.rows as u64)
        .saturating_mul(img.columns as u64)
        .saturating_mul(img.frames as u64)
        .saturating_mul(files.len() as u64);
    let per = if ctx.float16 { 14 } else { 12 };
    bomdata_format_core::budget::check(n.saturating_mul(per), "the series' voxel arrays")
        .map_err(|e| Error::input(&err_path, e))?;
    let mut writer: Option<dicom::series::COrderF32> = None;
    let vol = super::dicom_volume::stack(files, first, |shape, k, t, px| {
        writer
            .get_or_insert_with(|| {
                dicom::series::COrderF32::new(npy::header(npy::Dtype::F32, shape), shape)
            })
            .put(k, t, px);
    })
    .map_err(|e| Error::input(&err_path, e))?;
    let data = writer.map(|w| w.finish()).unwrap_or_default();
    let head_len = npy::header(npy::Dtype::F32, &vol.shape).len();
    Ok((data, head_len, vol))
}

/// Stacks the instances `files` (absolute paths of one series) into a canonical volume sample.
/// `target.file` is written (scrubbed) as provenance and must hold no date or UID.
pub fn series_sample(
    files: &[PathBuf],
    info: VolumeInfo,
    target: Target<'_>,
    ctx: &UnitContext<'_>,
    sink: &mut dyn SampleSink,
) -> Result<()> {
    let err_path = files.first().cloned().unwrap_or_default();
    let first = dicom::open_header(&err_path).map_err(|e| Error::input(&err_path, e))?;
    let img = &dicom::Image::from_file(&first).map_err(|e| Error::input(&err_path, e))?;
    let f = &first;
    let (mut data, head_len, vol) = if super::dicom_volume::is_classic(f) {
        classic_voxels(files, ctx, f)?
    } else {
        framed_voxels(files, ctx, f, img)?
    };
    let mut info = info;
    if info.modality == Some(Modality::Pet) && info.frames.is_none() && info.pet.is_none() {
        if vol.multiframe {
            (info.frames, info.pet) = super::pet::from_enhanced(&err_path, &vol.volume_times)?;
        } else {
            let nz = vol.shape[2].max(1);
            let firsts: Vec<&Path> = vol.files.iter().step_by(nz).map(PathBuf::as_path).collect();
            (info.frames, info.pet) = super::pet::from_dicom(&firsts)?;
        }
    }
    if ctx.float16 {
        let f32s = std::mem::take(&mut data);
        data = to_f16_npy(&vol.shape, &f32s[head_len..]);
        bomdata_shard::buffers::give(f32s);
    }
    let modality = info.modality.unwrap_or(Modality::Smri);
    let prov = Provenance {
        source: ctx.source.to_string(),
        file: ctx.scrub_path(&target.file, target.subject),
        part: None,
        reader: format!("bomdata-dicom {}", env!("CARGO_PKG_VERSION")),
    };
    let shape: Vec<u64> = vol.shape.iter().map(|&d| d as u64).collect();
    let mut meta = VolumeMeta::new(modality, shape, prov);
    if ctx.float16 {
        meta.dtype = "float16".to_string();
    }
    meta.kind = info.kind;
    meta.task = info.task;
    meta.source_dtype = dtype_name(img);
    meta.affine = vol.affine;
    (meta.qform_code, meta.sform_code) = (1, 1);
    meta.voxel_size =
        [0, 1, 2].map(|c| (0..3).map(|r| vol.affine[r][c].powi(2)).sum::<f64>().sqrt());
    meta.spatial_unit = "mm".to_string();
    meta.temporal_unit = "sec".to_string();
    meta.repetition_time_s = info
        .repetition_time_s
        .or_else(|| vol.repetition_time_ms.map(|ms| ms / 1000.0))
        .or_else(|| f.number(REPETITION_TIME).map(|ms| ms / 1000.0));
    meta.gradients = info.gradients.or(vol.gradients);
    meta.frames = info.frames;
    meta.pet = info.pet;
    meta.scaling = match vol.rescale.or(img.rescale) {
        Some((slope, inter)) => Scaling {
            slope,
            inter,
            applied: true,
        },
        None => Scaling {
            slope: 1.0,
            inter: 0.0,
            applied: false,
        },
    };
    meta.dicom = Some(DicomSeries {
        modality: f.text(MODALITY).unwrap_or_default(),
        series: uid_hash(ctx, &f.text(SERIES_UID).unwrap_or_default()),
        study: f.text(STUDY_UID).map(|u| uid_hash(ctx, &u)),
        instances: vol.files.len(),
        echo_time_s: vol
            .echo_time_ms
            .or_else(|| f.number(ECHO_TIME))
            .map(|ms| ms / 1000.0),
        model: f.text(MODEL),
        philips_scale_slope: dicom::philips::scale_slope(f),
    });
    write_volume(data, &meta, target, ctx, sink)
}
