//! ADNI NIfTI downloads from LONI IDA (`adapter = "adni"`).
//!
//! Tree: `.../{PTID}/{series description}/{acquisition date-time}/{ImageUID}/*.nii[.gz]`, PTID
//! like `002_S_0295`, date-time like `2006-04-18_08_20_30.0`, ImageUID like `I45108`.
//!
//! - Modality from the series description (and `_PT_` in the file name): fMRI for
//!   resting-state/fMRI series, dMRI for DTI/DWI, PET for PET tracers, else sMRI.
//! - Session: the subject's visit number `vNN`, counting distinct acquisition dates of that
//!   subject in the tree (so no date is written); run: the series description plus the
//!   image's rank among same-series images of that visit. The ImageUID is not written.
//! - Raw DICOM downloads (`.../{PTID}/{description}/{date}/{ImageUID}/*.dcm`): the instances
//!   of one folder are grouped by SeriesInstanceUID, one unit per series, modality from the
//!   DICOM Modality code (`PT` → PET) and else from the description as for NIfTI; the volume is
//!   built and de-identified by [`crate::canonical::dicom`] (provenance names only the
//!   pseudonymised PTID, the description and a keyed hash of the series UID).
//! - A `.json` beside the image (dcm2niix sidecar) gives `RepetitionTime` and PET
//!   `FrameTimesStart`/`FrameDuration`; `.bval`/`.bvec` beside a DTI image give its gradients.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use bomdata_nifti as nifti;
use bomdata_schemas::Modality;
use bomdata_schemas::mri::FrameTiming;

use super::bids::{nifti_stem, read_text};
use super::common::{files, inputs_size, main_input, unit_id, unit_modality};
use crate::canonical::Target;
use crate::canonical::dicom::{self, Head, looks_like_dicom, series_sample, uid_hash};
use crate::canonical::mri::{VolumeInfo, read_gradients, volume_sample};
use crate::source::{SampleSink, Source, Unit, UnitContext};
use crate::{Error, Result};

/// The ADNI adapter.
#[derive(Clone, Copy, Debug, Default)]
pub struct Adni;

/// Whether `s` is an ADNI PTID (`###_S_####`).
pub fn is_ptid(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 10
        && b[..3].iter().all(u8::is_ascii_digit)
        && &b[3..6] == b"_S_"
        && b[6..].iter().all(u8::is_ascii_digit)
}

/// What marks the subject folder of a LONI IDA download tree
/// (`.../{subject}/{description}/{date}/{ImageUID}/file`): ADNI's PTID, or another cohort's
/// (see [`super::loni`]).
#[derive(Clone, Copy, Debug)]
pub struct Layout {
    /// Whether a folder name is a subject ID of the cohort.
    pub subject: fn(&str) -> bool,
    /// Whether the acquisition-date folder must start with a `YYYY-MM-DD` date (for cohorts
    /// whose subject IDs alone do not mark the layout).
    pub dated: bool,
}

/// ADNI's layout: a `###_S_####` PTID folder.
pub const ADNI: Layout = Layout {
    subject: is_ptid,
    dated: false,
};

/// Whether `s` starts with a `YYYY-MM-DD` date.
fn is_date(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 10
        && b[..10].iter().enumerate().all(|(i, c)| {
            if i == 4 || i == 7 {
                *c == b'-'
            } else {
                c.is_ascii_digit()
            }
        })
}

impl Layout {
    /// Whether the folders of `parts` (a path's components, the file last) fit the layout.
    fn fits(&self, parts: &[String]) -> bool {
        let n = parts.len();
        n >= 5 && (self.subject)(&parts[n - 5]) && (!self.dated || is_date(&parts[n - 3]))
    }
}

/// Modality from a series description and file name.
pub fn modality_of(series: &str, file: &str) -> Modality {
    let s = series.to_ascii_lowercase();
    let has = |k: &[&str]| k.iter().any(|k| s.contains(k));
    if file.contains("_PT_")
        || has(&[
            "pet",
            "av45",
            "av1451",
            "fbb",
            "fdg",
            "pib",
            "amyloid",
            "tau",
            "florbetapir",
            "florbetaben",
            "flortaucipir",
        ])
    {
        Modality::Pet
    } else if has(&["fmri", "resting", "fcmri", "bold", "rsfmri"]) {
        Modality::Fmri
    } else if has(&["dti", "dwi", "diffusion"]) {
        Modality::Dmri
    } else {
        Modality::Smri
    }
}

struct Found {
    rel: PathBuf,
    ptid: String,
    series: String,
    date: String,
    uid: String,
    /// A DICOM series: its instances (relative) and the head of the first.
    dicom: Option<(Vec<PathBuf>, Head)>,
}

/// The folder parts of a path under `PTID/description/date/ImageUID/`.
fn folder_parts(rel: &Path, layout: Layout) -> Option<Found> {
    let parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    let n = parts.len();
    if !layout.fits(&parts) {
        return None;
    }
    Some(Found {
        rel: rel.to_path_buf(),
        ptid: parts[n - 5].clone(),
        series: parts[n - 4].clone(),
        date: parts[n - 3].chars().take(10).collect(),
        uid: parts[n - 2].clone(),
        dicom: None,
    })
}

/// The DICOM series of the image folders: one [`Found`] per series, `rel` its folder (plus
/// `/series-N` when a folder holds several).
fn dicom_series(root: &Path, rels: Vec<PathBuf>, layout: Layout) -> Vec<Found> {
    let mut folders: BTreeMap<PathBuf, Vec<PathBuf>> = BTreeMap::new();
    for rel in rels {
        if let Some(dir) = rel.parent() {
            folders.entry(dir.to_path_buf()).or_default().push(rel);
        }
    }
    let mut out = Vec::new();
    for (dir, rels) in folders {
        let groups = dicom::group(root, &rels);
        let several = groups.len() > 1;
        for (i, (head, inputs)) in groups.into_iter().enumerate() {
            let rel = if several {
                dir.join(format!("series-{}", i + 1))
            } else {
                dir.clone()
            };
            if let Some(mut f) = folder_parts(&dir.join("x"), layout) {
                f.rel = rel;
                f.dicom = Some((inputs, head));
                out.push(f);
            }
        }
    }
    out
}

fn parse(rel: &Path, layout: Layout) -> Option<Found> {
    let parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    let n = parts.len();
    if !layout.fits(&parts) || nifti_stem(&parts[n - 1]).is_none() {
        return None;
    }
    let date: String = parts[n - 3].chars().take(10).collect();
    Some(Found {
        rel: rel.to_path_buf(),
        ptid: parts[n - 5].clone(),
        series: parts[n - 4].clone(),
        date,
        uid: parts[n - 2].clone(),
        dicom: None,
    })
}

fn sibling(path: &Path, ext: &str) -> Option<PathBuf> {
    let name = path.file_name()?.to_string_lossy().into_owned();
    let p = path.with_file_name(format!("{}.{ext}", nifti_stem(&name)?));
    p.is_file().then_some(p)
}

impl Source for Adni {
    fn name(&self) -> &'static str {
        "adni"
    }

    fn modalities(&self) -> &'static [Modality] {
        &[
            Modality::Smri,
            Modality::Fmri,
            Modality::Dmri,
            Modality::Pet,
        ]
    }

    fn plan(&self, root: &Path) -> Result<Vec<Unit>> {
        plan_layout(root, ADNI)
    }

    fn convert(&self, unit: &Unit, ctx: &UnitContext<'_>, sink: &mut dyn SampleSink) -> Result<()> {
        convert_unit(unit, ctx, sink)
    }
}

/// The units of a LONI IDA download tree of `layout` (NIfTI images and DICOM series).
pub(crate) fn plan_layout(root: &Path, layout: Layout) -> Result<Vec<Unit>> {
    let mut found = Vec::new();
    let mut dcm = Vec::new();
    for item in files(root) {
        let (abs, rel) = item?;
        if let Some(f) = parse(&rel, layout) {
            found.push(f);
        } else if looks_like_dicom(&abs) && folder_parts(&rel, layout).is_some() {
            dcm.push(rel);
        }
    }
    found.extend(dicom_series(root, dcm, layout));
    // Visit numbers per subject from the distinct dates; image rank per (visit, series).
    let mut dates: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for f in &found {
        dates.entry(&f.ptid).or_default().insert(&f.date);
    }
    type Visit<'a> = (&'a str, &'a str, &'a str);
    let mut ranks: BTreeMap<Visit<'_>, BTreeSet<(&str, &Path)>> = BTreeMap::new();
    for f in &found {
        ranks
            .entry((&f.ptid, &f.date, &f.series))
            .or_default()
            .insert((&f.uid, &f.rel));
    }
    let mut units = Vec::new();
    for f in &found {
        let visit = dates[f.ptid.as_str()]
            .iter()
            .position(|d| *d == f.date)
            .unwrap_or(0)
            + 1;
        let rank = ranks[&(f.ptid.as_str(), f.date.as_str(), f.series.as_str())]
            .iter()
            .position(|(_, r)| *r == f.rel.as_path())
            .unwrap_or(0)
            + 1;
        let file = f
            .rel
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let (modality, inputs) = match &f.dicom {
            Some((inputs, head)) => (dicom_modality(head, &f.series), inputs.clone()),
            None => (modality_of(&f.series, &file), nifti_inputs(root, &f.rel)),
        };
        let bytes = inputs_size(root, &inputs);
        units.push(Unit {
            id: unit_id("", &f.rel),
            subject: Some(f.ptid.clone()),
            session: Some(format!("v{visit:02}")),
            inputs,
            bytes,
            detail: serde_json::json!({
                "modality": modality,
                "kind": f.series,
                "run": format!("{}-{rank}", f.series),
                "dicom": f.dicom.is_some(),
            }),
        });
    }
    units.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(units)
}

/// Converts a unit planned by [`plan_layout`].
pub(crate) fn convert_unit(
    unit: &Unit,
    ctx: &UnitContext<'_>,
    sink: &mut dyn SampleSink,
) -> Result<()> {
    if unit.detail["dicom"].as_bool() == Some(true) {
        return convert_dicom(unit, ctx, sink);
    }
    let rel = main_input(unit)?;
    let path = ctx.path(rel);
    let d = &unit.detail;
    let modality = unit_modality(unit)?;
    let mut info = VolumeInfo {
        modality: Some(modality),
        kind: d["kind"].as_str().map(String::from),
        ..Default::default()
    };
    if let Some(json) = sibling(&path, "json") {
        let v: serde_json::Value = serde_json::from_str(&read_text(&json)?)
            .map_err(|e| Error::input(&json, format!("invalid json sidecar: {e}")))?;
        info.repetition_time_s = v.get("RepetitionTime").and_then(|x| x.as_f64());
        let list = |k: &str| -> Option<Vec<f64>> {
            v.get(k)?.as_array()?.iter().map(|x| x.as_f64()).collect()
        };
        if modality == Modality::Pet
            && let (Some(starts_s), Some(durations_s)) =
                (list("FrameTimesStart"), list("FrameDuration"))
        {
            info.frames = Some(FrameTiming {
                starts_s,
                durations_s,
            });
        }
        if modality == Modality::Pet
            && let Some(m) = v.as_object()
        {
            info.pet = crate::canonical::pet::from_sidecar(m);
        }
    }
    if modality == Modality::Dmri
        && let (Some(bval), Some(bvec)) = (sibling(&path, "bval"), sibling(&path, "bvec"))
    {
        info.gradients = Some(read_gradients(&bval, &bvec)?);
    }
    let reader = nifti::Reader::open(&path).map_err(|e| Error::input(&path, e))?;
    let subject = unit.subject.clone().unwrap_or_default();
    let target = Target {
        subject: &subject,
        session: unit.session.as_deref(),
        run: d["run"].as_str(),
        file: rel.to_string_lossy().into_owned(),
    };
    volume_sample(reader, info, target, ctx, sink, &path)
}

/// The image file and its dcm2niix sidecars, relative to `root`.
fn nifti_inputs(root: &Path, rel: &Path) -> Vec<PathBuf> {
    let abs = root.join(rel);
    let mut inputs = vec![rel.to_path_buf()];
    for ext in ["json", "bval", "bvec"] {
        if let Some(p) = sibling(&abs, ext) {
            inputs.push(p.strip_prefix(root).unwrap_or(&p).to_path_buf());
        }
    }
    inputs
}

/// A DICOM series' modality: the Modality code `PT`/`NM` → PET, else the description's.
fn dicom_modality(head: &Head, description: &str) -> Modality {
    match head.modality.as_deref() {
        Some("PT" | "NM") => Modality::Pet,
        _ => modality_of(description, ""),
    }
}

/// A DICOM series unit: provenance `PTID/description/series-<keyed hash>` (no date, no UID).
fn convert_dicom(unit: &Unit, ctx: &UnitContext<'_>, sink: &mut dyn SampleSink) -> Result<()> {
    let paths: Vec<PathBuf> = unit.inputs.iter().map(|r| ctx.path(r)).collect();
    let first = main_input(unit)?;
    let head = bomdata_dicom::open_header(&ctx.path(first))
        .map(|f| Head::of(&f))
        .map_err(|e| Error::input(ctx.path(first), e))?;
    let d = &unit.detail;
    let subject = unit.subject.clone().unwrap_or_default();
    let kind = d["kind"].as_str().unwrap_or_default();
    let series = uid_hash(ctx, &head.series_uid);
    let info = VolumeInfo {
        modality: Some(unit_modality(unit)?),
        kind: Some(kind.to_string()),
        ..Default::default()
    };
    let target = Target {
        subject: &subject,
        session: unit.session.as_deref(),
        run: d["run"].as_str(),
        file: format!(
            "{subject}/{kind}/series-{}",
            series.get(..16).unwrap_or(&series)
        ),
    };
    series_sample(&paths, info, target, ctx, sink)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ptid_and_modality() {
        assert!(is_ptid("002_S_0295"));
        assert!(!is_ptid("002_S_029"));
        assert_eq!(
            modality_of("MPR__GradWarp__B1_Correction__N3__Scaled", "x.nii"),
            Modality::Smri
        );
        assert_eq!(modality_of("Resting_State_fMRI", "x.nii"), Modality::Fmri);
        assert_eq!(modality_of("Axial_DTI", "x.nii"), Modality::Dmri);
        assert_eq!(
            modality_of("AV45_Coreg,_Avg,_Std_Img_and_Vox_Siz", "ADNI_x_PT_y.nii"),
            Modality::Pet
        );
    }
}
