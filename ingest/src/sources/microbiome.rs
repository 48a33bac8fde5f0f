//! Microbiome BIOM tables → one microbiome table part per file (see [`crate::tables`]).
//!
//! The part has a row per BIOM sample (the sample ID is the subject ID, pseudonymised; the session
//! is the unit's, empty for a plain file): `subject`, `session`, `values` (fixed-size list of
//! Float32 counts per observation, as the file holds them). The observation IDs are in the schema
//! metadata ([`tables::FEATURES_KEY`]), the taxonomy strings (`k__...;p__...`, one per
//! observation) under [`TAXONOMY_KEY`] when the file has them, with the table type and the value
//! kind. Transforms (relative abundance, CLR) are left to `shard` profiles; [`CLR_PSEUDOCOUNT`] is
//! the one the Python reference uses. Original sample IDs are never written.

use std::path::Path;

use bomdata_schemas::Modality;
use bomdata_schemas::omics::{Transform, ValueKind, columns};
use bomdata_table::biom::{self, Biom};

use super::methylation::{PLATFORM_KEY, SOURCE_KEY, VALUE_KEY};
use super::olink::{plan_files, table_subject_row, to_json};
use crate::tables::{self, ListPart, ListValues, TablePart};
use crate::{Error, Result, SampleSink, Source, Unit, UnitContext};

/// Schema-metadata key of a microbiome part holding the taxonomy strings (JSON array, one per
/// observation, in list order).
pub const TAXONOMY_KEY: &str = "bomdata.taxonomy";

/// Pseudocount the CLR of a microbiome profile uses (zero replacement).
pub const CLR_PSEUDOCOUNT: f64 = 0.5;

/// The BIOM adapter.
#[derive(Clone, Copy, Debug, Default)]
pub struct Microbiome;

impl Source for Microbiome {
    fn name(&self) -> &'static str {
        "microbiome"
    }

    fn modalities(&self) -> &'static [Modality] {
        &[Modality::Microbiome]
    }

    fn plan(&self, root: &Path) -> Result<Vec<Unit>> {
        plan_files(root, &|p| bomdata_table::probe::detect(p) == Some("biom"))
    }

    fn convert(&self, unit: &Unit, ctx: &UnitContext<'_>, sink: &mut dyn SampleSink) -> Result<()> {
        let rel = unit
            .inputs
            .first()
            .ok_or_else(|| Error::Other(format!("unit {} has no input", unit.id)))?;
        let path = ctx.path(rel);
        let b = Biom::read(&path).map_err(|e| Error::io(&path, e))?;
        if b.sample_ids.is_empty() {
            sink.skipped(&path, "0 samples: the BIOM table has no sample column");
            return Ok(());
        }
        let taxa: Vec<String> = b
            .observation_metadata
            .iter()
            .map(|m| {
                biom::parse_taxonomy(m.get("taxonomy").unwrap_or(&serde_json::Value::Null))
                    .into_iter()
                    .map(|(r, n)| if r.is_empty() { n } else { format!("{r}__{n}") })
                    .collect::<Vec<_>>()
                    .join(";")
            })
            .collect();
        let mut metadata = vec![
            (
                columns::SCHEMA_KEY,
                bomdata_schemas::omics::VERSION.to_string(),
            ),
            (columns::TRANSFORM_KEY, to_json(&Transform::None)?),
            (VALUE_KEY, to_json(&ValueKind::Count)?),
            (PLATFORM_KEY, b.kind.clone()),
            (SOURCE_KEY, ctx.source.to_string()),
        ];
        if taxa.iter().any(|t| !t.is_empty()) {
            metadata.push((TAXONOMY_KEY, to_json(&taxa)?));
        }
        let session = unit.session.clone().unwrap_or_default();
        let subjects: Vec<String> = b.sample_ids.iter().map(|s| ctx.pseudonym(s)).collect();
        let part = ListPart {
            sessions: vec![session.clone(); subjects.len()],
            subjects,
            features: b.observation_ids.clone(),
            lists: vec![(
                tables::VALUES.to_string(),
                ListValues::F32(b.by_sample().iter().map(|&x| x as f32).collect()),
            )],
            scalars: vec![],
            metadata: metadata
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect(),
        };
        for s in &part.subjects {
            sink.subject(table_subject_row(ctx, s, &session, Modality::Microbiome))?;
        }
        sink.write_table(TablePart::new(Modality::Microbiome, part.build()?)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sink::MemSink;

    #[test]
    fn biom_table_part() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/data/biom");
        let units = Microbiome.plan(&root).unwrap();
        assert_eq!(units.len(), 2);
        let p = crate::Pseudonymizer::new(b"k".to_vec());
        let ctx = UnitContext::new(&root, "test", &p);
        let mut sink = MemSink::default();
        Microbiome.convert(&units[1], &ctx, &mut sink).unwrap();
        assert!(sink.samples.is_empty());
        assert_eq!(sink.subjects.len(), 6);
        assert_eq!(sink.tables.len(), 1);
        let b = &sink.tables[0].batch;
        assert_eq!(b.num_rows(), 6);
        let names = crate::tables::column_names(b);
        assert_eq!(names, ["subject", "session", "values"]);
        let meta = b.schema().metadata().clone();
        let features: Vec<String> = serde_json::from_str(&meta[tables::FEATURES_KEY]).unwrap();
        assert_eq!(features.len(), 5);
        let taxa: Vec<String> = serde_json::from_str(&meta[TAXONOMY_KEY]).unwrap();
        assert!(taxa[0].starts_with("k__Bacteria;p__Proteobacteria"));
        use bomdata_table::arrow_array::{Array, StringArray};
        let subjects = b.column(0).as_any().downcast_ref::<StringArray>().unwrap();
        assert!((0..6).all(|i| !subjects.value(i).contains("Sample")));
    }
}
