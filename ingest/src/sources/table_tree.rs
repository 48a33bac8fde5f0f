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
