//! Synthetic AIBL and J-ADNI raw DICOM download trees, the LONI IDA layout of ADNI
//! (`{COHORT}/{subject}/{description}/{date}/{ImageUID}/*.dcm`) with these cohorts' subject IDs:
//! AIBL RIDs (numbers) and J-ADNI PTIDs (ADNI-style and a short token). The instances are those
//! of [`crate::dicom`] (every identifying attribute a recognisable string); the subject IDs,
//! ImageUIDs and dates written here are listed in [`IDENTIFYING`] so a test can search the
//! outputs for them too.

use std::path::{Path, PathBuf};

use crate::dicom::{Series, write_series};

/// Strings of these trees (besides [`crate::dicom::IDENTIFYING`]) that must never reach a
/// shareable output: subject IDs (also the instances' PatientID), ImageUID folders, dates.
pub const IDENTIFYING: &[&str] = &[
    "8641",
    "9752",
    "117_S_0042",
    "JA-0815",
    "I71001",
    "I71002",
    "I71003",
    "I71004",
    "I81001",
    "I81002",
    "I81003",
    "2008-03-01",
    "2008-03-02",
    "2009-11-20",
    "2011-11-21",
    "2012-06-05",
    "2013-01-15",
];

/// Writes each (series, date folder, ImageUID) under `root/cohort/{PatientID}/{description}/`;
/// returns the series with their folders.
fn tree(root: &Path, cohort: &str, plan: Vec<(Series, &str, &str)>) -> Vec<(Series, PathBuf)> {
    let mut out = Vec::new();
    for (s, date, image) in plan {
        let dir = root
            .join(cohort)
            .join(&s.patient_id)
            .join(&s.description)
            .join(date)
            .join(image);
        let (pid, desc) = (s.patient_id.clone(), s.description.clone());
        let prefix = cohort.replace('-', "");
        write_series(&dir, &s, |k, t| {
            format!(
                "{prefix}_{pid}_{}_{desc}_br_raw_{}_S{}_{image}.dcm",
                s.modality,
                t * 100 + k + 1,
                s.number
            )
        });
        out.push((s, dir));
    }
    out
}

/// AIBL: RID `8641` with an MPRAGE (5 axial slices, rescaled) and a PiB PET series (4 slices,
/// `PT`) on the next day; RID `9752` with MPRAGEs at two visits (3 and 4 slices).
pub fn aibl_dicom_tree(root: &Path) -> Vec<(Series, PathBuf)> {
    let mut mprage = Series::axial("8641", 31, "MPRAGE", 5);
    mprage.rescale = Some((2.0, -10.0));
    let mut pib = Series::axial("8641", 32, "PiB_PET", 4);
    pib.modality = "PT";
    pib.study = 32;
    let mut first = Series::axial("9752", 33, "MPRAGE", 3);
    first.study = 33;
    let mut second = Series::axial("9752", 34, "MPRAGE", 4);
    second.study = 34;
    tree(
        root,
        "AIBL",
        vec![
            (mprage, "2008-03-01_10_00_00.0", "I71001"),
            (pib, "2008-03-02_11_30_00.0", "I71002"),
            (first, "2009-11-20_09_15_00.0", "I71003"),
            (second, "2011-11-21_09_15_00.0", "I71004"),
        ],
    )
}

/// J-ADNI: PTID `117_S_0042` (ADNI-style) with an MPRAGE (4 slices) and a resting-state fMRI
/// (3 oblique slices × 3 volumes); PTID `JA-0815` with an MPRAGE (3 slices).
pub fn jadni_dicom_tree(root: &Path) -> Vec<(Series, PathBuf)> {
    let mut mprage = Series::axial("117_S_0042", 41, "MPRAGE", 4);
    mprage.study = 41;
    let mut rest = Series::axial("117_S_0042", 42, "Resting_State_fMRI", 3);
    rest.study = 41;
    rest.volumes = 3;
    let (c, s) = (0.2f64.cos(), 0.2f64.sin());
    rest.iop = [c, 0.0, s, 0.0, 1.0, 0.0];
    rest.step = [-s * 3.0, 0.0, c * 3.0];
    let mut other = Series::axial("JA-0815", 43, "MPRAGE", 3);
    other.study = 43;
    other.rescale = Some((0.5, 100.0));
    tree(
        root,
        "J-ADNI",
        vec![
            (mprage, "2012-06-05_08_00_00.0", "I81001"),
            (rest, "2012-06-05_08_30_00.0", "I81002"),
            (other, "2013-01-15_14_00_00.0", "I81003"),
        ],
    )
}
