//! NIfTI image → one canonical volume sample (shared by the `bids`, `adni`, `hcp` and `ukb`
//! adapters): `volume.npy`, scaled float32 (or float16 with `ctx.float16`) in C order of shape
//! `(x, y, z[, t])` (so `np.load` equals nibabel's `get_fdata().astype(float32)`), and
//! `meta.json`, a [`VolumeMeta`].

use std::io::Read;
use std::path::Path;

use bomdata_nifti as nifti;
use bomdata_schemas::key::{self, KeyParts};
use bomdata_schemas::mri::{
    self, FrameTiming, GradientTable, IdentityText, PetInfo, Scaling, VolumeMeta,
};
use bomdata_schemas::subjects::SubjectRow;
use bomdata_schemas::{Modality, Provenance};
use bomdata_shard::{Sample, npy};

use super::Target;
use crate::source::{SampleSink, UnitContext};
use crate::{Error, Result};

/// What a source knows about a volume beyond its NIfTI header.
#[derive(Clone, Debug, Default)]
pub struct VolumeInfo {
    /// Modality (default sMRI).
    pub modality: Option<Modality>,
    /// Image kind (`T1w`, `bold`, ...).
    pub kind: Option<String>,
    /// Task label.
    pub task: Option<String>,
    /// Repetition time from a sidecar (else the header's).
    pub repetition_time_s: Option<f64>,
    /// Diffusion gradient table.
    pub gradients: Option<GradientTable>,
    /// PET frame timing.
    pub frames: Option<FrameTiming>,
    /// PET quantification facts.
    pub pet: Option<PetInfo>,
}

/// Re-encodes little-endian float32 element bytes as a float16 `.npy` (round to nearest even).
pub(crate) fn to_f16_npy(shape: &[usize], f32_le: &[u8]) -> Vec<u8> {
    let bits: Vec<u16> = f32_le
        .chunks_exact(4)
        .map(|c| half::f16::from_f32(f32::from_le_bytes([c[0], c[1], c[2], c[3]])).to_bits())
        .collect();
    npy::encode_f16_bits(shape, &bits)
}

/// The bytes [`volume_sample`] holds at once for an image of `n` values: the float32 array, a
/// float16 copy, and one raw volume (`elem` bytes a value) with its float32 decoding.
fn volume_memory(h: &nifti::Header, elem: usize, n: usize, float16: bool) -> u64 {
    let n = n as u64;
    let all = n.saturating_mul(if float16 { 6 } else { 4 });
    let vol = h.volume_voxels().saturating_mul(elem as u64 + 4);
    all.saturating_add(vol)
}

/// Reads a whole NIfTI image into a canonical volume sample and records its subject row.
///
/// `reader` must be freshly opened. The `.npy` bytes are filled volume by volume, so besides the
/// sample itself only one volume is held. `err_path` names the file in errors.
pub fn volume_sample<R: Read>(
    mut reader: nifti::Reader<R>,
    info: VolumeInfo,
    target: Target<'_>,
    ctx: &UnitContext<'_>,
    sink: &mut dyn SampleSink,
    err_path: &Path,
) -> Result<()> {
    let h = reader.header().clone();
    let modality = info.modality.unwrap_or(Modality::Smri);
    let shape: Vec<usize> = h.shape().iter().map(|&d| d as usize).collect();
    let n: usize = shape.iter().product();
    let npy_header = npy::header(npy::Dtype::F32, &shape);
    let need = volume_memory(&h, reader.datatype().size(), n, ctx.float16);
    bomdata_format_core::budget::check(need, "the image's float32 array")
        .map_err(|e| Error::input(err_path, e))?;
    // From the process's buffer pool: a run of the same size as the last one reuses its pages
    // (every byte is written below).
    let mut data = bomdata_shard::buffers::take(npy_header.len() + n * 4);
    data[..npy_header.len()].copy_from_slice(&npy_header);
    reader
        .read_c_order_f32_le(&mut data[npy_header.len()..])
        .map_err(|e| Error::input(err_path, e))?;
    if ctx.float16 {
        let f32s = std::mem::take(&mut data);
        data = to_f16_npy(&shape, &f32s[npy_header.len()..]);
        bomdata_shard::buffers::give(f32s);
    }

    let n_vols = h.n_volumes() as usize;
    if let Some(g) = &info.gradients
        && (g.bvals.len() != n_vols || g.bvecs.len() != n_vols)
    {
        return Err(Error::input(
            err_path,
            format!(
                "gradient table has {} b-values and {} vectors for {n_vols} volumes",
                g.bvals.len(),
                g.bvecs.len()
            ),
        ));
    }
    let prov = Provenance {
        source: ctx.source.to_string(),
        file: ctx.scrub_path(&target.file, target.subject),
        part: None,
        reader: format!("bomdata-nifti {}", nifti::VERSION),
    };
    let mut meta = VolumeMeta::new(modality, h.shape(), prov);
    if ctx.float16 {
        meta.dtype = "float16".to_string();
    }
    meta.kind = info.kind.clone();
    meta.task = info.task.clone();
    meta.source_dtype = reader.datatype().name().to_string();
    meta.affine = h.best_affine();
    meta.qform_code = h.qform_code;
    meta.sform_code = h.sform_code;
    meta.voxel_size = [h.pixdim[1], h.pixdim[2], h.pixdim[3]];
    meta.spatial_unit = h.spatial_unit().to_string();
    meta.temporal_unit = h.temporal_unit().to_string();
    meta.repetition_time_s = info.repetition_time_s.or_else(|| h.repetition_time_s());
    meta.gradients = info.gradients;
    meta.frames = info.frames;
    meta.pet = info.pet;
    meta.scaling = match h.scaling() {
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
    if ctx.keep_identity {
        meta.identity = Some(IdentityText {
            descrip: h.descrip(),
            aux_file: h.aux_file(),
            intent_name: h.intent_name(),
        });
    }
    write_volume(data, &meta, target, ctx, sink)
}

/// Writes a canonical volume sample (`volume.npy` bytes and `meta`) under the subject's
/// pseudonym and records its subject row (shared by the NIfTI and DICOM paths).
pub(crate) fn write_volume(
    data: Vec<u8>,
    meta: &VolumeMeta,
    target: Target<'_>,
    ctx: &UnitContext<'_>,
    sink: &mut dyn SampleSink,
) -> Result<()> {
    let modality = meta.modality;
    let pseudo = ctx.pseudonym(target.subject);
    let k = key::make(&KeyParts {
        source: ctx.source,
        subject: &pseudo,
        session: target.session,
        run: target.run,
        modality: Some(modality),
        index: None,
    });
    let mut sample = Sample::new(k).with_subject(pseudo.clone());
    sample.push(mri::VOLUME_FIELD, data);
    sample.push_json("meta", meta)?;
    sink.write_sample(sample)?;
    sink.subject(SubjectRow {
        subject: pseudo,
        source: ctx.source.to_string(),
        session: target.session.unwrap_or_default().to_string(),
        modalities: vec![modality],
        n_samples: 1,
        split: String::new(),
    })
}

/// Reads and parses an FSL/BIDS `.bval` / `.bvec` file pair ([`parse_gradients`]).
pub fn read_gradients(bval: &Path, bvec: &Path) -> Result<GradientTable> {
    let text = |p: &Path| std::fs::read_to_string(p).map_err(|e| Error::io(p, e));
    parse_gradients(&text(bval)?, &text(bvec)?, bvec)
}

/// Parses an FSL/BIDS `.bval` (one row) and `.bvec` (three rows) pair.
pub fn parse_gradients(bval: &str, bvec: &str, path: &Path) -> Result<GradientTable> {
    let nums = |s: &str| -> Result<Vec<f64>> {
        s.split_whitespace()
            .map(|t| {
                t.parse::<f64>().map_err(|_| {
                    Error::input(path, format!("not a number in gradient file: {t:?}"))
                })
            })
            .collect()
    };
    let bvals = nums(bval)?;
    let rows: Vec<Vec<f64>> = bvec
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(nums)
        .collect::<Result<_>>()?;
    if rows.len() != 3 || rows.iter().any(|r| r.len() != bvals.len()) {
        return Err(Error::input(
            path,
            format!(
                "bvec must have 3 rows of {} values, one per b-value",
                bvals.len()
            ),
        ));
    }
    let bvecs = (0..bvals.len())
        .map(|i| [rows[0][i], rows[1][i], rows[2][i]])
        .collect();
    Ok(GradientTable { bvals, bvecs })
}
