//! Human Connectome Project S1200 (`adapter = "hcp"`).
//!
//! Per subject folder `{subject}/`:
//! - `MNINonLinear/Results/{run}/{run}.nii.gz` and `{run}_hp2000_clean.nii.gz` (rfMRI/tfMRI
//!   runs, fMRI; the task is the second part of the run name: `rfMRI_REST1_LR` → `REST1`);
//! - `MNINonLinear/{T1w,T2w}_restore[_brain].nii.gz` (sMRI);
//! - `T1w/Diffusion/data.nii.gz` with `bvals` and `bvecs` beside it (dMRI).
//!
//! Other files (CIFTI `*.dtseries.nii`, SBRef, masks) are not units. No session level: the
//! session of every sample is empty.

use std::path::Path;

use bomdata_nifti as nifti;
use bomdata_schemas::Modality;

use super::bids::nifti_stem;
use super::common::{files, inputs_size, main_input, unit_id, unit_modality};
use crate::canonical::Target;
use crate::canonical::mri::{VolumeInfo, read_gradients, volume_sample};
use crate::source::{SampleSink, Source, Unit, UnitContext};
use crate::{Error, Result};

/// The HCP adapter.
#[derive(Clone, Copy, Debug, Default)]
pub struct Hcp;

const STRUCTURAL: [&str; 4] = [
    "T1w_restore",
    "T1w_restore_brain",
    "T2w_restore",
    "T2w_restore_brain",
];

/// Classifies a path relative to the root: (subject, modality, kind, run label, task).
fn classify(rel: &Path) -> Option<(String, Modality, String, String, Option<String>)> {
    let parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    let name = parts.last()?;
    let stem = nifti_stem(name)?;
    let n = parts.len();
    // .../{subject}/MNINonLinear/Results/{run}/{file}
    if n >= 5 && parts[n - 4] == "MNINonLinear" && parts[n - 3] == "Results" {
        let run = &parts[n - 2];
        if stem == run || stem == format!("{run}_hp2000_clean") {
            let mut it = run.split('_');
            let kind = it.next().filter(|k| *k == "rfMRI" || *k == "tfMRI")?;
            let task = it.next().map(String::from);
            return Some((
                parts[n - 5].clone(),
                Modality::Fmri,
                kind.to_string(),
                stem.to_string(),
                task,
            ));
        }
        return None;
    }
    // .../{subject}/MNINonLinear/{T1w,T2w}_restore[_brain].nii.gz
    if n >= 3 && parts[n - 2] == "MNINonLinear" && STRUCTURAL.contains(&stem) {
        return Some((
            parts[n - 3].clone(),
            Modality::Smri,
            stem.to_string(),
            stem.to_string(),
            None,
        ));
    }
    // .../{subject}/T1w/Diffusion/data.nii.gz
    if n >= 4 && parts[n - 3] == "T1w" && parts[n - 2] == "Diffusion" && stem == "data" {
        return Some((
            parts[n - 4].clone(),
            Modality::Dmri,
            "dwi".into(),
            "dwi".into(),
            None,
        ));
    }
    None
}

impl Source for Hcp {
    fn name(&self) -> &'static str {
        "hcp"
    }

    fn modalities(&self) -> &'static [Modality] {
        &[Modality::Fmri, Modality::Smri, Modality::Dmri]
    }

    fn plan(&self, root: &Path) -> Result<Vec<Unit>> {
        let mut units = Vec::new();
        for item in files(root) {
            let (_, rel) = item?;
            let Some((subject, modality, kind, run, task)) = classify(&rel) else {
                continue;
            };
            let mut inputs = vec![rel.clone()];
            if modality == Modality::Dmri {
                let dir = rel.parent().map(Path::to_path_buf).unwrap_or_default();
                inputs.push(dir.join("bvals"));
                inputs.push(dir.join("bvecs"));
            }
            let bytes = inputs_size(root, &inputs);
            units.push(Unit {
                id: unit_id("", &rel),
                subject: Some(subject),
                session: None,
                inputs,
                bytes,
                detail: serde_json::json!({"modality": modality, "kind": kind, "run": run, "task": task}),
            });
        }
        units.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(units)
    }

    fn convert(&self, unit: &Unit, ctx: &UnitContext<'_>, sink: &mut dyn SampleSink) -> Result<()> {
        let rel = main_input(unit)?;
        let path = ctx.path(rel);
        let d = &unit.detail;
        let modality = unit_modality(unit)?;
        let mut info = VolumeInfo {
            modality: Some(modality),
            kind: d["kind"].as_str().map(String::from),
            task: d["task"].as_str().map(String::from),
            ..Default::default()
        };
        if let (Some(bval), Some(bvec)) = (unit.inputs.get(1), unit.inputs.get(2)) {
            let (bval, bvec) = (ctx.path(bval), ctx.path(bvec));
            info.gradients = Some(read_gradients(&bval, &bvec)?);
        }
        let reader = nifti::Reader::open(&path).map_err(|e| Error::input(&path, e))?;
        let subject = unit.subject.clone().unwrap_or_default();
        let target = Target {
            subject: &subject,
            session: None,
            run: d["run"].as_str(),
            file: rel.to_string_lossy().into_owned(),
        };
        volume_sample(reader, info, target, ctx, sink, &path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_hcp_paths() {
        let c = classify(Path::new(
            "100307/MNINonLinear/Results/rfMRI_REST1_LR/rfMRI_REST1_LR_hp2000_clean.nii.gz",
        ))
        .unwrap();
        assert_eq!(
            (c.0.as_str(), c.1, c.2.as_str(), c.4.as_deref()),
            ("100307", Modality::Fmri, "rfMRI", Some("REST1"))
        );
        assert!(
            classify(Path::new(
                "100307/MNINonLinear/Results/rfMRI_REST1_LR/rfMRI_REST1_LR_Atlas.dtseries.nii"
            ))
            .is_none()
        );
        assert_eq!(
            classify(Path::new("100307/T1w/Diffusion/data.nii.gz"))
                .unwrap()
                .1,
            Modality::Dmri
        );
        assert_eq!(
            classify(Path::new("100307/MNINonLinear/T1w_restore_brain.nii.gz"))
                .unwrap()
                .1,
            Modality::Smri
        );
    }
}
