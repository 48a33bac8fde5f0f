//! UK Biobank imaging bulk fields (`adapter = "ukb"`).
//!
//! Inputs are the bulk files `{eid}_{field}_{instance}_{array}.zip` (eid: 7 digits) for fields
//! 20227 (rfMRI), 20249 (tfMRI), 20250 (dMRI), 20252 (T1) and 20253 (T2 FLAIR), read straight
//! from the zip without unpacking to disk, or the same content unzipped into a folder
//! `{eid}_{field}_{instance}_{array}/`. Each image listed in [`MEMBERS`] is one unit and one
//! canonical volume sample (session = instance, run = the image kind).
//!
//! Zip safety: an archive with any entry whose name is absolute or has a `..` component is
//! refused as a whole (zip-slip); a member whose declared size is more than the deflate limit
//! (1032:1) of its compressed size, or whose compressed size exceeds the archive, is refused
//! (zip bomb), and reading never goes past the declared size. Images missing from an archive
//! (UKB writes `fMRI/unusable` instead for some subjects) are reported as skipped.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use bomdata_format_core::compression::{Compression, MaybeCompressed};
use bomdata_nifti as nifti;
use bomdata_schemas::Modality;

use super::common::{file_size, inputs_size, main_input, unit_id};
use crate::canonical::Target;
use crate::canonical::mri::{VolumeInfo, parse_gradients, read_gradients, volume_sample};
use crate::source::{SampleSink, Source, Unit, UnitContext};
use crate::{Error, Result};

/// The UK Biobank bulk imaging adapter.
#[derive(Clone, Copy, Debug, Default)]
pub struct Ukb;

/// One image of a bulk field: path inside the archive, kind label, modality, and the
/// gradient files (dMRI) beside it.
#[derive(Clone, Copy, Debug)]
pub struct Member {
    /// UKB data field.
    pub field: &'static str,
    /// Path inside the zip / folder.
    pub path: &'static str,
    /// Kind label written to `meta.json` and used as the run part of the key.
    pub kind: &'static str,
    /// Modality.
    pub modality: Modality,
    /// `.bval`-style file (dMRI).
    pub bvals: Option<&'static str>,
    /// `.bvec`-style file (dMRI).
    pub bvecs: Option<&'static str>,
}

const fn m(
    field: &'static str,
    path: &'static str,
    kind: &'static str,
    modality: Modality,
) -> Member {
    Member {
        field,
        path,
        kind,
        modality,
        bvals: None,
        bvecs: None,
    }
}

/// The images converted from each field.
pub const MEMBERS: [Member; 9] = [
    m("20227", "fMRI/rfMRI.nii.gz", "rfMRI", Modality::Fmri),
    m(
        "20227",
        "fMRI/rfMRI.ica/filtered_func_data_clean.nii.gz",
        "rfMRI_clean",
        Modality::Fmri,
    ),
    m("20249", "fMRI/tfMRI.nii.gz", "tfMRI", Modality::Fmri),
    m(
        "20249",
        "fMRI/tfMRI.feat/filtered_func_data.nii.gz",
        "tfMRI_filtered",
        Modality::Fmri,
    ),
    Member {
        field: "20250",
        path: "dMRI/dMRI/data_ud.nii.gz",
        kind: "dwi",
        modality: Modality::Dmri,
        bvals: Some("dMRI/dMRI/bvals"),
        bvecs: Some("dMRI/dMRI/bvecs"),
    },
    m("20252", "T1/T1.nii.gz", "T1", Modality::Smri),
    m(
        "20252",
        "T1/T1_brain_to_MNI.nii.gz",
        "T1_brain_to_MNI",
        Modality::Smri,
    ),
    m(
        "20253",
        "T2_FLAIR/T2_FLAIR.nii.gz",
        "T2_FLAIR",
        Modality::Smri,
    ),
    m(
        "20253",
        "T2_FLAIR/T2_FLAIR_brain_to_MNI.nii.gz",
        "T2_FLAIR_brain_to_MNI",
        Modality::Smri,
    ),
];

/// Largest gradient text file read from an archive.
const MAX_TEXT: u64 = 1 << 20;

/// Parses `{eid}_{field}_{instance}_{array}` (eid 7 digits, a known field).
pub fn parse_bulk_name(name: &str) -> Option<(&str, &str, &str, &str)> {
    let mut it = name.split('_');
    let (eid, field, inst, arr) = (it.next()?, it.next()?, it.next()?, it.next()?);
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    (it.next().is_none()
        && eid.len() == 7
        && digits(eid)
        && digits(inst)
        && digits(arr)
        && MEMBERS.iter().any(|m| m.field == field))
    .then_some((eid, field, inst, arr))
}

/// Whether a zip entry name could escape the extraction folder: absolute, drive-prefixed,
/// NUL-bearing, or with any `..` component.
pub fn unsafe_entry(name: &str) -> bool {
    name.starts_with('/')
        || name.starts_with('\\')
        || name.contains('\0')
        || name.as_bytes().get(1) == Some(&b':')
        || name.split(['/', '\\']).any(|c| c == "..")
}

fn member_of(kind: &str) -> Option<&'static Member> {
    MEMBERS.iter().find(|m| m.kind == kind)
}

impl Source for Ukb {
    fn name(&self) -> &'static str {
        "ukb"
    }

    fn modalities(&self) -> &'static [Modality] {
        &[Modality::Fmri, Modality::Smri, Modality::Dmri]
    }

    fn plan(&self, root: &Path) -> Result<Vec<Unit>> {
        let mut units = Vec::new();
        for entry in walkdir::WalkDir::new(root).follow_links(true) {
            let entry =
                entry.map_err(|e| Error::Other(format!("walking {}: {e}", root.display())))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let is_dir = entry.file_type().is_dir();
            let bulk = if is_dir {
                name.as_str()
            } else {
                name.strip_suffix(".zip").unwrap_or("")
            };
            let Some((eid, field, inst, _)) = parse_bulk_name(bulk) else {
                continue;
            };
            if !is_dir && !entry.file_type().is_file() {
                continue;
            }
            let rel = entry
                .path()
                .strip_prefix(root)
                .unwrap_or(entry.path())
                .to_path_buf();
            for m in MEMBERS.iter().filter(|m| m.field == field) {
                let mut inputs = vec![rel.clone()];
                let bytes;
                if is_dir {
                    let img = rel.join(m.path);
                    if !root.join(&img).is_file() {
                        continue;
                    }
                    inputs = vec![img];
                    inputs.extend(m.bvals.iter().chain(m.bvecs.iter()).map(|p| rel.join(p)));
                    bytes = inputs_size(root, &inputs);
                } else {
                    bytes = file_size(entry.path());
                }
                units.push(Unit {
                    id: unit_id("", &rel.join(m.kind)),
                    subject: Some(eid.to_string()),
                    session: Some(inst.to_string()),
                    inputs,
                    bytes,
                    detail: serde_json::json!({
                        "container": if is_dir { "dir" } else { "zip" },
                        "kind": m.kind,
                    }),
                });
            }
        }
        units.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(units)
    }

    fn convert(&self, unit: &Unit, ctx: &UnitContext<'_>, sink: &mut dyn SampleSink) -> Result<()> {
        let kind = unit.detail["kind"].as_str().unwrap_or_default();
        let m = member_of(kind)
            .ok_or_else(|| Error::Other(format!("unit {}: unknown kind {kind:?}", unit.id)))?;
        let rel = main_input(unit)?;
        let subject = unit.subject.clone().unwrap_or_default();
        let mut info = VolumeInfo {
            modality: Some(m.modality),
            kind: Some(m.kind.to_string()),
            ..Default::default()
        };
        if unit.detail["container"] == "dir" {
            let path = ctx.path(rel);
            if let (Some(bval), Some(bvec)) = (unit.inputs.get(1), unit.inputs.get(2)) {
                let (bval, bvec) = (ctx.path(bval), ctx.path(bvec));
                info.gradients = Some(read_gradients(&bval, &bvec)?);
            }
            let reader = nifti::Reader::open(&path).map_err(|e| Error::input(&path, e))?;
            let target = Target {
                subject: &subject,
                session: unit.session.as_deref(),
                run: Some(m.kind),
                file: rel.to_string_lossy().into_owned(),
            };
            return volume_sample(reader, info, target, ctx, sink, &path);
        }

        let zpath = ctx.path(rel);
        let zlen = file_size(&zpath);
        let file = File::open(&zpath).map_err(|e| Error::io(&zpath, e))?;
        let mut archive = zip::ZipArchive::new(file)
            .map_err(|e| Error::input(&zpath, format!("not a readable zip: {e}")))?;
        let names: Vec<String> = archive.file_names().map(String::from).collect();
        if let Some(bad) = names.iter().find(|n| unsafe_entry(n)) {
            return Err(Error::input(
                &zpath,
                format!("zip entry {bad:?} escapes the archive (absolute or '..' path)"),
            ));
        }
        let find = |want: &str| {
            names
                .iter()
                .find(|n| *n == want || n.ends_with(&format!("/{want}")))
                .cloned()
        };
        let Some(member) = find(m.path) else {
            sink.skipped(&zpath, &format!("no {} in the archive", m.path));
            return Ok(());
        };
        let member_path = PathBuf::from(format!("{}!{member}", zpath.display()));
        if let (Some(bv), Some(bc)) = (m.bvals, m.bvecs) {
            let (Some(bv), Some(bc)) = (find(bv), find(bc)) else {
                return Err(Error::input(
                    &member_path,
                    "dMRI image without bvals/bvecs in the archive",
                ));
            };
            let bval = read_small(&mut archive, &bv, &zpath)?;
            let bvec = read_small(&mut archive, &bc, &zpath)?;
            info.gradients = Some(parse_gradients(&bval, &bvec, &member_path)?);
        }
        let entry = archive
            .by_name(&member)
            .map_err(|e| Error::input(&member_path, format!("cannot open zip entry: {e}")))?;
        let (size, csize) = (entry.size(), entry.compressed_size());
        check_ratio(size, csize, zlen).map_err(|msg| Error::input(&member_path, msg))?;
        let (stream, c) =
            MaybeCompressed::new(entry.take(size)).map_err(|e| Error::input(&member_path, e))?;
        let gz = c != Compression::None;
        let limit = if gz {
            nifti::io::reader::gzip_limit(size)
        } else {
            size
        };
        let reader = nifti::Reader::from_single(stream, limit, gz)
            .map_err(|e| Error::input(&member_path, e))?;
        let target = Target {
            subject: &subject,
            session: unit.session.as_deref(),
            run: Some(m.kind),
            file: format!("{}!{member}", rel.display()),
        };
        volume_sample(reader, info, target, ctx, sink, &member_path)
    }
}

/// Refuses a member whose declared size cannot come from its compressed size (zip bomb).
pub fn check_ratio(
    size: u64,
    compressed: u64,
    archive_len: u64,
) -> std::result::Result<(), String> {
    if compressed > archive_len {
        return Err(format!(
            "zip entry declares {compressed} compressed bytes, more than the archive's {archive_len}"
        ));
    }
    if size
        > compressed
            .saturating_mul(nifti::io::reader::GZIP_MAX_RATIO)
            .saturating_add(1024)
    {
        return Err(format!(
            "zip entry declares {size} bytes from {compressed} compressed bytes, past the deflate limit (zip bomb)"
        ));
    }
    Ok(())
}

fn read_small(archive: &mut zip::ZipArchive<File>, name: &str, zpath: &Path) -> Result<String> {
    let path = PathBuf::from(format!("{}!{name}", zpath.display()));
    let entry = archive
        .by_name(name)
        .map_err(|e| Error::input(&path, format!("cannot open zip entry: {e}")))?;
    if entry.size() > MAX_TEXT {
        return Err(Error::input(
            &path,
            format!("gradient file of {} bytes is too large", entry.size()),
        ));
    }
    let mut s = String::new();
    entry
        .take(MAX_TEXT)
        .read_to_string(&mut s)
        .map_err(|e| Error::input(&path, e))?;
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bulk_names() {
        assert_eq!(
            parse_bulk_name("1234567_20252_2_0"),
            Some(("1234567", "20252", "2", "0"))
        );
        assert_eq!(parse_bulk_name("1234567_20252_2"), None);
        assert_eq!(parse_bulk_name("123456_20252_2_0"), None);
        assert_eq!(parse_bulk_name("1234567_31000_2_0"), None);
    }

    #[test]
    fn unsafe_entries() {
        assert!(unsafe_entry("../etc/passwd"));
        assert!(unsafe_entry("T1/../../x"));
        assert!(unsafe_entry("/abs"));
        assert!(unsafe_entry("C:\\x"));
        assert!(!unsafe_entry("T1/T1.nii.gz"));
        assert!(!unsafe_entry("a..b/c"));
    }

    #[test]
    fn ratio() {
        assert!(check_ratio(100, 100, 1000).is_ok());
        assert!(check_ratio(10_000_000, 1000, 2000).is_err());
        assert!(check_ratio(100, 5000, 2000).is_err());
    }
}
