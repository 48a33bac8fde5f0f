//! A cohort's omics and clinical tables in one tree (GARD-like): every file goes to the table
//! adapter that reads it — a clinical table with its `X.mapping.tsv` to [`Clinical`], then by
//! `bomdata_table::probe::detect`: Olink NPX to [`Olink`], methylation matrices to
//! [`Methylation`], BIOM to [`Microbiome`]. Other files are left alone.
//!
//! All of them write subject-keyed table parts (see [`crate::tables`]) under one source, so one
//! `bomdata shard` carries every table of the cohort by the same subject split. A file under a
//! `ses-<label>` folder is of visit `<label>` (the clinical table's visit column names the same
//! visits), so rows of one subject visit join across tables.

use std::path::Path;

use bomdata_schemas::Modality;

use super::clinical::{Clinical, mapping_for};
use super::methylation::Methylation;
use super::microbiome::Microbiome;
use super::olink::{Olink, plan_files};
use crate::{Error, Result, SampleSink, Source, Unit, UnitContext};

/// The composite table adapter (`adapter = "tables"`).
#[derive(Clone, Copy, Debug, Default)]
pub struct TableTree;

/// The adapter of one file, if any.
fn adapter_of(path: &Path) -> Option<&'static dyn Source> {
    if mapping_for(path).is_some() {
        return Some(&Clinical);
    }
    match bomdata_table::probe::detect(path)? {
        "olink_npx" => Some(&Olink),
        "methylation" => Some(&Methylation),
        "biom" => Some(&Microbiome),
        _ => None,
    }
}

impl Source for TableTree {
    fn name(&self) -> &'static str {
        "tables"
    }

    fn modalities(&self) -> &'static [Modality] {
        &[
            Modality::Methylation,
            Modality::Proteomics,
            Modality::Microbiome,
            Modality::ClinicalTable,
            Modality::ClinicalText,
        ]
    }

    fn plan(&self, root: &Path) -> Result<Vec<Unit>> {
        let name = |p: &Path| p.to_string_lossy().to_lowercase();
        plan_files(root, &|p| {
            !name(p).ends_with(".mapping.tsv") && adapter_of(p).is_some()
        })
    }

    fn convert(&self, unit: &Unit, ctx: &UnitContext<'_>, sink: &mut dyn SampleSink) -> Result<()> {
        let rel = unit
            .inputs
            .first()
            .ok_or_else(|| Error::Other(format!("unit {} has no input", unit.id)))?;
        let path = ctx.path(rel);
        match adapter_of(&path) {
            Some(a) => a.convert(unit, ctx, sink),
            None => Err(Error::input(&path, "no table adapter reads this file")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sink::MemSink;
    use bomdata_testdata::gard::{GardOptions, gard_cohort};

    #[test]
    fn a_cohort_tree_goes_to_every_table_adapter_with_its_visit() {
        let dir = std::env::temp_dir().join(format!("bomdata-table-tree-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let o = GardOptions {
            subjects: 12,
            probes: 40,
            assays: 3,
            otus: 4,
        };
        let truth = gard_cohort(&dir, &o);
        let units = TableTree.plan(&dir).unwrap();
        let got: Vec<(&str, Option<&str>)> = units
            .iter()
            .map(|u| (u.id.as_str(), u.session.as_deref()))
            .collect();
        assert_eq!(
            got,
            [
                ("GARD_clinical_GARD_visits.csv", None),
                ("GARD_ses-bl_GARD_EPIC_beta.csv", Some("bl")),
                ("GARD_ses-bl_GARD_NPX.csv", Some("bl")),
                ("GARD_ses-bl_GARD_microbiome.biom", Some("bl")),
                ("GARD_ses-m24_GARD_EPIC_beta.csv", Some("m24")),
                ("GARD_ses-m24_GARD_NPX.csv", Some("m24")),
                ("GARD_ses-m24_GARD_microbiome.biom", Some("m24")),
            ]
        );
        let p = crate::Pseudonymizer::new(b"k".to_vec());
        let ctx = UnitContext::new(&dir, "gard", &p);
        let mut sink = MemSink::default();
        for u in &units {
            TableTree.convert(u, &ctx, &mut sink).unwrap();
        }
        let modalities: Vec<Modality> = sink.tables.iter().map(|t| t.modality).collect();
        assert_eq!(
            modalities,
            [
                Modality::ClinicalTable,
                Modality::Methylation,
                Modality::Proteomics,
                Modality::Microbiome,
                Modality::Methylation,
                Modality::Proteomics,
                Modality::Microbiome,
            ]
        );
        let rows: usize = sink.tables.iter().map(|t| t.rows()).sum();
        let want = truth.clinical.len()
            + truth.methylation.len()
            + truth.olink.len()
            + truth.microbiome.len();
        assert_eq!(rows, want);
        // The methylation subject rows carry the visit of their folder.
        assert!(
            sink.subjects
                .iter()
                .filter(|s| s.modalities.contains(&Modality::Methylation))
                .all(|s| s.session == "bl" || s.session == "m24")
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
