//! Any folder of DICOM files (`adapter = "dicom"`): `.dcm`/`.dicom`/`.ima` files and files
//! without an extension that carry the `DICM` magic, at any depth.
//!
//! - One unit per series (SeriesInstanceUID), whatever folders its instances lie in.
//! - Subject: the PatientID (pseudonymised with the keyed hash like every subject ID); no
//!   session; run: a keyed hash of the SeriesInstanceUID, so series of one subject get distinct
//!   keys and no UID is written.
//! - Modality: `PT`/`NM` → PET; `MR` with a diffusion encoding in its header (b-value tags) →
//!   dMRI, its b-values and vectors in the sample's metadata; other `MR` → fMRI, dMRI or sMRI from
//!   the series description (as the `adni` adapter reads its folder names; the description
//!   itself is not written).
//! - The volume goes through [`crate::canonical::dicom::series_sample`] (de-identification there).

use std::path::{Path, PathBuf};

use bomdata_schemas::Modality;

use super::common::{files, inputs_size, unit_id, unit_modality};
use crate::canonical::Target;
use crate::canonical::dicom::{Head, group, looks_like_dicom, series_sample, uid_hash};
use crate::canonical::mri::VolumeInfo;
use crate::source::{SampleSink, Source, Unit, UnitContext};
use crate::{Error, Result};

/// The generic DICOM folder adapter.
#[derive(Clone, Copy, Debug, Default)]
pub struct DicomFolder;

/// The modality of a series from its Modality code and description.
pub fn modality_of(head: &Head) -> Modality {
    match head.modality.as_deref() {
        Some("PT" | "NM") => Modality::Pet,
        _ if head.diffusion => Modality::Dmri,
        _ => match super::adni::modality_of(head.description.as_deref().unwrap_or(""), "") {
            Modality::Pet => Modality::Smri,
            m => m,
        },
    }
}

impl Source for DicomFolder {
    fn name(&self) -> &'static str {
        "dicom"
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
        let mut rels = Vec::new();
        for item in files(root) {
            let (abs, rel) = item?;
            if looks_like_dicom(&abs) {
                rels.push(rel);
            }
        }
        let mut units: Vec<Unit> = Vec::new();
        let mut per_folder: std::collections::BTreeMap<PathBuf, usize> = Default::default();
        for (head, inputs) in group(root, &rels) {
            let folder = inputs[0]
                .parent()
                .map(Path::to_path_buf)
                .unwrap_or_default();
            let n = per_folder.entry(folder.clone()).or_default();
            *n += 1;
            units.push(Unit {
                id: format!("{}-s{n}", unit_id("dicom_", &folder)),
                subject: head.patient_id.clone(),
                session: None,
                bytes: inputs_size(root, &inputs),
                inputs,
                detail: serde_json::json!({ "modality": modality_of(&head) }),
            });
        }
        units.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(units)
    }

    fn convert(&self, unit: &Unit, ctx: &UnitContext<'_>, sink: &mut dyn SampleSink) -> Result<()> {
        let paths: Vec<PathBuf> = unit.inputs.iter().map(|r| ctx.path(r)).collect();
        let first = paths
            .first()
            .ok_or_else(|| Error::Other(format!("unit {} has no input", unit.id)))?;
        let subject = unit
            .subject
            .clone()
            .ok_or_else(|| Error::input(first, "DICOM series without PatientID"))?;
        let head = bomdata_dicom::open_header(first)
            .map(|f| Head::of(&f))
            .map_err(|e| Error::input(first, e))?;
        let series = uid_hash(ctx, &head.series_uid);
        let run = series.get(..16).unwrap_or(&series);
        let info = VolumeInfo {
            modality: Some(unit_modality(unit)?),
            ..Default::default()
        };
        let target = Target {
            subject: &subject,
            session: None,
            run: Some(run),
            file: format!("series-{run}"),
        };
        series_sample(&paths, info, target, ctx, sink)
    }
}
