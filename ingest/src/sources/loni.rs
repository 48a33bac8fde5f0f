//! AIBL and J-ADNI downloads from LONI IDA (`adapter = "aibl"`, `adapter = "j_adni"`): the same
//! tree as ADNI's, `.../{subject}/{series description}/{acquisition date-time}/{ImageUID}/`
//! holding `*.nii[.gz]` images or raw `*.dcm` instances, planned and converted exactly as the
//! [`super::adni`] adapter does (visit numbers from dates, one unit per DICOM series, the
//! PS3.15 de-identification of [`crate::canonical::dicom`]); only the subject folder differs.
//!
//! - AIBL: the RID, a number (`1`, `1453`); the date folder must start `YYYY-MM-DD`.
//! - J-ADNI: the PTID folder, either ADNI-style (`###_S_####`) or another short token of
//!   letters, digits, `-` and `_`; the date folder must start `YYYY-MM-DD`.
//!
//! The layouts are those of the ADNI downloads applied to these cohorts' IDs, not checked
//! against a real AIBL or J-ADNI download (`[UNVERIFIED]` in the design notes).

use std::path::Path;

use bomdata_schemas::Modality;

use super::adni::{Layout, convert_unit, is_ptid, plan_layout};
use crate::Result;
use crate::source::{SampleSink, Source, Unit, UnitContext};

/// Whether `s` is an AIBL RID (1 to 6 digits).
pub fn is_rid(s: &str) -> bool {
    (1..=6).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit())
}

/// Whether `s` is a J-ADNI PTID: ADNI-style, or 3 to 32 letters, digits, `-`, `_` with at
/// least one digit.
pub fn is_jadni_id(s: &str) -> bool {
    is_ptid(s)
        || ((3..=32).contains(&s.len())
            && s.bytes().any(|b| b.is_ascii_digit())
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'))
}

/// AIBL's layout.
pub const AIBL: Layout = Layout {
    subject: is_rid,
    dated: true,
};

/// J-ADNI's layout.
pub const JADNI: Layout = Layout {
    subject: is_jadni_id,
    dated: true,
};

const MODALITIES: &[Modality] = &[
    Modality::Smri,
    Modality::Fmri,
    Modality::Dmri,
    Modality::Pet,
];

/// The AIBL adapter.
#[derive(Clone, Copy, Debug, Default)]
pub struct Aibl;

impl Source for Aibl {
    fn name(&self) -> &'static str {
        "aibl"
    }

    fn modalities(&self) -> &'static [Modality] {
        MODALITIES
    }

    fn plan(&self, root: &Path) -> Result<Vec<Unit>> {
        plan_layout(root, AIBL)
    }

    fn convert(&self, unit: &Unit, ctx: &UnitContext<'_>, sink: &mut dyn SampleSink) -> Result<()> {
        convert_unit(unit, ctx, sink)
    }
}

/// The J-ADNI adapter.
#[derive(Clone, Copy, Debug, Default)]
pub struct JAdni;

impl Source for JAdni {
    fn name(&self) -> &'static str {
        "j_adni"
    }

    fn modalities(&self) -> &'static [Modality] {
        MODALITIES
    }

    fn plan(&self, root: &Path) -> Result<Vec<Unit>> {
        plan_layout(root, JADNI)
    }

    fn convert(&self, unit: &Unit, ctx: &UnitContext<'_>, sink: &mut dyn SampleSink) -> Result<()> {
        convert_unit(unit, ctx, sink)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subject_ids() {
        assert!(is_rid("1") && is_rid("1453") && !is_rid("") && !is_rid("14a"));
        assert!(!is_rid("1234567"));
        assert!(is_jadni_id("117_S_0042") && is_jadni_id("JA-0815"));
        assert!(!is_jadni_id("MPRAGE") && !is_jadni_id("a/b") && !is_jadni_id("x1"));
    }

    #[test]
    fn nifti_downloads_are_planned_by_rid_and_visit() {
        // Visits count the subject's distinct acquisition dates, as for ADNI.
        let d = tempfile::tempdir().unwrap();
        for rel in [
            "AIBL/1453/MPRAGE/2008-03-01_10_00_00.0/I100/AIBL_1453_MR_MPRAGE_I100.nii",
            "AIBL/1453/MPRAGE/2010-03-01_10_00_00.0/I200/AIBL_1453_MR_MPRAGE_I200.nii",
            "AIBL/1453/PIB/2008-03-02_10_00_00.0/I300/AIBL_1453_PT_PIB_I300.nii",
            // Not the layout: no date folder, a description instead of a RID.
            "AIBL/1453/MPRAGE/latest/I400/x.nii",
            "AIBL/MPRAGE/x/2008-03-01_10_00_00.0/I500/y.nii",
        ] {
            let p = d.path().join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(&p, b"").unwrap();
        }
        let units = Aibl.plan(d.path()).unwrap();
        let got: Vec<(String, String, String)> = units
            .iter()
            .map(|u| {
                (
                    u.subject.clone().unwrap(),
                    u.session.clone().unwrap(),
                    u.detail["modality"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                ("1453".into(), "v01".into(), "smri".into()),
                ("1453".into(), "v03".into(), "smri".into()),
                ("1453".into(), "v02".into(), "pet".into()),
            ]
        );
        assert!(JAdni.plan(d.path()).unwrap().len() == 3);
    }
}
