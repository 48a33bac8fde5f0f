//! BIDS MRI/PET (`sub-<label>[/ses-<label>]/{anat,func,dwi,pet}/*.nii[.gz]`).
//!
//! Units: one image file each: `anat/*_{T1w,T2w,FLAIR}`, `func/*_bold` (sidecar
//! `RepetitionTime`), `dwi/*_dwi` (+ `.bval`/`.bvec`), `pet/*_pet` (sidecar `FrameTimesStart`,
//! `FrameDuration`). Sidecars follow the BIDS inheritance principle: every `.json` (or
//! `.bval`/`.bvec`) from the root down to the image's folder whose entities are a subset of the
//! image's and whose suffix matches applies, the nearest winning. `derivatives/`, `sourcedata/`,
//! `code/` and hidden folders are not walked.
//!
//! Each unit becomes one canonical volume sample (see [`crate::canonical::mri::volume_sample`]): `volume.npy`, scaled
//! float32 in C order of shape `(x, y, z[, t])` (so `np.load` equals nibabel's
//! `get_fdata().astype(float32)`), and `meta.json`, a `bomdata_schemas::mri::VolumeMeta`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use bomdata_nifti as nifti;
use bomdata_schemas::Modality;
use bomdata_schemas::mri::FrameTiming;

use super::common::unit_id;
use super::common::{inputs_size, main_input, unit_modality};
use crate::canonical::Target;
use crate::canonical::mri::{VolumeInfo, read_gradients, volume_sample};
use crate::source::{SampleSink, Source, Unit, UnitContext};
use crate::{Error, Result};

/// The BIDS MRI/PET adapter (`adapter = "bids"`).
#[derive(Clone, Copy, Debug, Default)]
pub struct Bids;

/// Strips `.nii` / `.nii.gz`, or `None` when the name is not a NIfTI file.
pub(crate) fn nifti_stem(name: &str) -> Option<&str> {
    name.strip_suffix(".nii.gz")
        .or_else(|| name.strip_suffix(".nii"))
}

pub(crate) fn read_text(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).map_err(|e| Error::io(path, e))
}

/// BIDS entities and suffix of a file stem: `sub-01_task-rest_bold` → ({sub: 01, task: rest}, bold).
fn entities(stem: &str) -> (BTreeMap<String, String>, String) {
    let parts: Vec<&str> = stem.split('_').collect();
    let mut map = BTreeMap::new();
    let (last, rest) = parts
        .split_last()
        .map(|(l, r)| (*l, r))
        .unwrap_or(("", &[]));
    for p in rest {
        if let Some((k, v)) = p.split_once('-') {
            map.insert(k.to_string(), v.to_string());
        }
    }
    (map, last.to_string())
}

/// Sidecar files for `image` with extension `ext` (`"json"`, `"bval"`, `"bvec"`) by the BIDS
/// inheritance principle, farthest (root) first.
fn inherited(root: &Path, image: &Path, ext: &str) -> Vec<PathBuf> {
    let Some(name) = image.file_name().map(|n| n.to_string_lossy().into_owned()) else {
        return Vec::new();
    };
    let Some(stem) = nifti_stem(&name) else {
        return Vec::new();
    };
    let (ents, suffix) = entities(stem);
    let mut dirs = Vec::new();
    let mut d = image.parent();
    while let Some(dir) = d {
        dirs.push(dir.to_path_buf());
        if dir == root {
            break;
        }
        d = dir.parent();
    }
    dirs.reverse();
    let mut out = Vec::new();
    for dir in dirs {
        let Ok(rd) = std::fs::read_dir(&dir) else {
            continue;
        };
        let mut here: Vec<(usize, PathBuf)> = Vec::new();
        for e in rd.flatten() {
            let fname = e.file_name().to_string_lossy().into_owned();
            let Some(s) = fname.strip_suffix(&format!(".{ext}")) else {
                continue;
            };
            let (e_ents, e_suffix) = entities(s);
            if e_suffix == suffix && e_ents.iter().all(|(k, v)| ents.get(k) == Some(v)) {
                here.push((e_ents.len(), e.path()));
            }
        }
        // Within one folder, fewer entities = more general = applied first.
        here.sort();
        out.extend(here.into_iter().map(|(_, p)| p));
    }
    out
}

/// The merged JSON sidecar of `image` (nearest keys win).
fn sidecar(root: &Path, image: &Path) -> Result<serde_json::Map<String, serde_json::Value>> {
    let mut merged = serde_json::Map::new();
    for p in inherited(root, image, "json") {
        let v: serde_json::Value = serde_json::from_str(&read_text(&p)?)
            .map_err(|e| Error::input(&p, format!("invalid json sidecar: {e}")))?;
        if let serde_json::Value::Object(m) = v {
            merged.extend(m);
        }
    }
    Ok(merged)
}

fn f64_list(v: Option<&serde_json::Value>) -> Option<Vec<f64>> {
    match v? {
        serde_json::Value::Array(a) => a.iter().map(|x| x.as_f64()).collect(),
        serde_json::Value::Number(n) => n.as_f64().map(|x| vec![x]),
        _ => None,
    }
}

const SKIP_DIRS: [&str; 3] = ["derivatives", "sourcedata", "code"];

fn classify(datatype: &str, suffix: &str) -> Option<Modality> {
    match (datatype, suffix) {
        ("anat", "T1w" | "T2w" | "FLAIR") => Some(Modality::Smri),
        ("func", "bold") => Some(Modality::Fmri),
        ("dwi", "dwi") => Some(Modality::Dmri),
        ("pet", "pet") => Some(Modality::Pet),
        _ => None,
    }
}

impl Source for Bids {
    fn name(&self) -> &'static str {
        "bids"
    }

    fn free_session_labels(&self) -> bool {
        true
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
        let mut units = Vec::new();
        let walker = walkdir::WalkDir::new(root)
            .follow_links(true)
            .into_iter()
            .filter_entry(|e| {
                let name = e.file_name().to_string_lossy();
                // Hidden folders (.git, .heudiconv, .datalad) are never data.
                let hidden = e.depth() > 0 && name.starts_with('.');
                !(hidden
                    || e.depth() == 1
                        && e.file_type().is_dir()
                        && SKIP_DIRS.contains(&name.as_ref()))
            });
        for entry in walker {
            let entry =
                entry.map_err(|e| Error::Other(format!("walking {}: {e}", root.display())))?;
            if !entry.file_type().is_file() {
                continue;
            }
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            let Some(stem) = nifti_stem(&name) else {
                continue;
            };
            let (ents, suffix) = entities(stem);
            let Some(datatype) = path
                .parent()
                .and_then(|p| p.file_name())
                .map(|n| n.to_string_lossy().into_owned())
            else {
                continue;
            };
            let Some(modality) = classify(&datatype, &suffix) else {
                continue;
            };
            let Some(subject) = ents.get("sub").cloned() else {
                continue;
            };
            let rel = path.strip_prefix(root).unwrap_or(path).to_path_buf();
            let mut inputs = vec![rel.clone()];
            for ext in ["json", "bval", "bvec"] {
                for p in inherited(root, path, ext) {
                    if let Ok(r) = p.strip_prefix(root) {
                        inputs.push(r.to_path_buf());
                    }
                }
            }
            let bytes = inputs_size(root, &inputs);
            // Run label: every entity but sub/ses in file-name order, then the suffix (unique
            // within a session).
            let mut run: Vec<&str> = stem
                .split('_')
                .filter(|p| p.contains('-') && !p.starts_with("sub-") && !p.starts_with("ses-"))
                .collect();
            run.push(&suffix);
            units.push(Unit {
                id: unit_id("", &rel),
                subject: Some(subject),
                session: ents.get("ses").cloned(),
                inputs,
                bytes,
                detail: serde_json::json!({
                    "modality": modality,
                    "kind": suffix,
                    "task": ents.get("task"),
                    "run": run.join("_"),
                }),
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
        let subject = unit.subject.clone().unwrap_or_default();
        let side = sidecar(ctx.root, &path)?;
        let mut info = VolumeInfo {
            modality: Some(modality),
            kind: d["kind"].as_str().map(String::from),
            task: d["task"].as_str().map(String::from),
            repetition_time_s: side.get("RepetitionTime").and_then(|v| v.as_f64()),
            ..Default::default()
        };
        if modality == Modality::Dmri {
            let bval = inherited(ctx.root, &path, "bval").pop();
            let bvec = inherited(ctx.root, &path, "bvec").pop();
            match (bval, bvec) {
                (Some(bval), Some(bvec)) => {
                    info.gradients = Some(read_gradients(&bval, &bvec)?);
                }
                _ => return Err(Error::input(&path, "dwi image without .bval/.bvec")),
            }
        }
        if modality == Modality::Pet
            && let (Some(starts_s), Some(durations_s)) = (
                f64_list(side.get("FrameTimesStart")),
                f64_list(side.get("FrameDuration")),
            )
        {
            info.frames = Some(FrameTiming {
                starts_s,
                durations_s,
            });
        }
        if modality == Modality::Pet {
            info.pet = crate::canonical::pet::from_sidecar(&side);
        }
        let reader = nifti::Reader::open(&path).map_err(|e| Error::input(&path, e))?;
        if let Some(f) = &info.frames {
            let n = reader.n_volumes() as usize;
            if f.starts_s.len() != n || f.durations_s.len() != n {
                return Err(Error::input(
                    &path,
                    format!(
                        "sidecar has {} frame times for {n} volumes",
                        f.starts_s.len()
                    ),
                ));
            }
        }
        let target = Target {
            subject: &subject,
            session: unit.session.as_deref(),
            run: d["run"].as_str(),
            file: rel.to_string_lossy().into_owned(),
        };
        volume_sample(reader, info, target, ctx, sink, &path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::canonical::mri::parse_gradients;

    #[test]
    fn entities_and_suffix() {
        let (e, s) = entities("sub-01_ses-a_task-rest_run-2_bold");
        assert_eq!(s, "bold");
        assert_eq!(e.get("task").map(String::as_str), Some("rest"));
        assert_eq!(e.len(), 4);
    }

    #[test]
    fn gradients_parse_and_validate() {
        let g = parse_gradients(
            "0 1000 1000\n",
            "0 1 0\n0 0 1\n0 0 0\n",
            Path::new("x.bvec"),
        )
        .unwrap();
        assert_eq!(g.bvecs[1], [1.0, 0.0, 0.0]);
        assert!(parse_gradients("0 1000", "0 1\n0 0\n", Path::new("x")).is_err());
    }
}
