//! Olink NPX tables (long `*.csv`/`*.tsv`/`*.parquet`/`*.xlsx`, and the NPX Manager wide
//! `*.xlsx`) → one proteomics table part per file (see [`crate::tables`]).
//!
//! The part has a row per sample (the SampleID is the subject ID, pseudonymised; the session is
//! the unit's, empty for a plain file): `subject`, `session`, `values` (fixed-size list of
//! Float32 NPX per OlinkID, NaN when absent) and the parallel masks `mask.qc_warning`,
//! `mask.assay_warning`, `mask.below_lod` (fixed-size lists of Boolean) for the QC and LOD
//! columns the source has. The OlinkIDs are in the schema metadata ([`tables::FEATURES_KEY`]),
//! with the platform, the value kind and the dropped control/bridge counts. Control and bridge
//! samples are dropped and counted; a repeated (SampleID, OlinkID) fails the unit (the runtime
//! reports it). Original sample IDs are never written.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use bomdata_schemas::Modality;
use bomdata_schemas::omics::{Dropped, Transform, ValueKind, columns};
use bomdata_schemas::subjects::SubjectRow;
use bomdata_table::arrow_array::{
    Array, ArrayRef, LargeStringArray, RecordBatch, StringArray, StringViewArray,
};
use bomdata_table::arrow_schema::{ArrowError, DataType, Field, Schema};
use bomdata_table::olink;

use super::methylation::{PLATFORM_KEY, SOURCE_KEY, VALUE_KEY};
use crate::tables::{self, ListPart, ListValues, TablePart};
use crate::{Error, Result, SampleSink, Source, Unit, UnitContext};

/// Lists one unit per file under `root` that `keep` accepts (by `bomdata_table::probe::detect`).
pub(crate) fn plan_files(root: &Path, keep: &dyn Fn(&Path) -> bool) -> Result<Vec<Unit>> {
    let mut units = Vec::new();
    for e in walkdir::WalkDir::new(root).sort_by_file_name() {
        let e = e.map_err(|e| Error::input(root, e))?;
        if !e.file_type().is_file() || !keep(e.path()) {
            continue;
        }
        let rel: PathBuf = e
            .path()
            .strip_prefix(root)
            .unwrap_or(e.path())
            .to_path_buf();
        let id: String = rel
            .to_string_lossy()
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || "_.-".contains(c) {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        units.push(Unit {
            id,
            subject: None,
            session: session_of(&rel),
            bytes: e.metadata().map(|m| m.len()).unwrap_or(0),
            inputs: vec![rel],
            detail: serde_json::Value::Null,
        });
    }
    units.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(units)
}

/// The visit of a table file: the label of its nearest `ses-<label>` folder (as BIDS names
/// sessions), so one file per visit joins the clinical visits of the same label.
pub(crate) fn session_of(rel: &Path) -> Option<String> {
    rel.parent()?
        .components()
        .rev()
        .filter_map(|c| c.as_os_str().to_str())
        .find_map(|c| c.strip_prefix("ses-"))
        .filter(|l| !l.is_empty())
        .map(str::to_string)
}

/// The subject-table row of one written sample.
pub(crate) fn subject_row(
    ctx: &UnitContext<'_>,
    pseudo: &str,
    session: &str,
    modality: Modality,
) -> SubjectRow {
    SubjectRow {
        subject: pseudo.to_string(),
        source: ctx.source.to_string(),
        session: session.to_string(),
        modalities: vec![modality],
        n_samples: 1,
        split: String::new(),
    }
}

/// The subject-table row of one table row: no sample in the shards (`n_samples` 0), the
/// modality present.
pub(crate) fn table_subject_row(
    ctx: &UnitContext<'_>,
    pseudo: &str,
    session: &str,
    modality: Modality,
) -> SubjectRow {
    SubjectRow {
        n_samples: 0,
        ..subject_row(ctx, pseudo, session, modality)
    }
}

/// The Olink NPX adapter.
#[derive(Clone, Copy, Debug, Default)]
pub struct Olink;

/// Schema-metadata key of a part holding why source rows were left out ([`Dropped`], JSON).
pub const DROPPED_KEY: &str = "bomdata.dropped";

/// Reads an Olink file as a long NPX table: the NPX Manager wide workbook through
/// [`olink::read_wide_xlsx`], anything else through the generic reader.
fn read_long(path: &Path) -> Result<bomdata_table::Table> {
    if path.to_string_lossy().to_lowercase().ends_with(".xlsx")
        && let Some(t) = olink::read_wide_xlsx(path).map_err(|e| Error::io(path, e))?
    {
        return Ok(t);
    }
    let t = bomdata_table::table::read_path(path).map_err(|e| Error::io(path, e))?;
    plain_strings(t).map_err(|e| Error::io(path, std::io::Error::other(e)))
}

/// The table with its `LargeUtf8` and `Utf8View` columns (what pandas and polars write to
/// Parquet) as `Utf8`, the string type the table readers' text accessors take.
fn plain_strings(
    mut t: bomdata_table::Table,
) -> std::result::Result<bomdata_table::Table, ArrowError> {
    let b = &t.batch;
    if !b
        .schema()
        .fields()
        .iter()
        .any(|f| matches!(f.data_type(), DataType::LargeUtf8 | DataType::Utf8View))
    {
        return Ok(t);
    }
    let mut fields = Vec::with_capacity(b.num_columns());
    let mut cols: Vec<ArrayRef> = Vec::with_capacity(b.num_columns());
    for (f, c) in b.schema().fields().iter().zip(b.columns()) {
        let plain: Option<StringArray> =
            if let Some(a) = c.as_any().downcast_ref::<LargeStringArray>() {
                Some(a.iter().collect())
            } else {
                c.as_any()
                    .downcast_ref::<StringViewArray>()
                    .map(|a| a.iter().collect())
            };
        match plain {
            Some(a) => {
                fields.push(Field::new(f.name(), DataType::Utf8, true));
                cols.push(Arc::new(a));
            }
            None => {
                fields.push(f.as_ref().clone());
                cols.push(c.clone());
            }
        }
    }
    t.batch = RecordBatch::try_new(Arc::new(Schema::new(fields)), cols)?;
    Ok(t)
}

impl Source for Olink {
    fn name(&self) -> &'static str {
        "olink"
    }

    fn modalities(&self) -> &'static [Modality] {
        &[Modality::Proteomics]
    }

    fn plan(&self, root: &Path) -> Result<Vec<Unit>> {
        plan_files(root, &|p| {
            bomdata_table::probe::detect(p) == Some("olink_npx")
        })
    }

    fn convert(&self, unit: &Unit, ctx: &UnitContext<'_>, sink: &mut dyn SampleSink) -> Result<()> {
        let rel = unit
            .inputs
            .first()
            .ok_or_else(|| Error::Other(format!("unit {} has no input", unit.id)))?;
        let path = ctx.path(rel);
        let t = read_long(&path)?;
        let cols = olink::locate(&t).map_err(|e| Error::io(&path, e))?;
        let w =
            olink::pivot(&t, &olink::PivotOptions::default()).map_err(|e| Error::io(&path, e))?;
        let dropped = Dropped {
            control_samples: w.dropped_controls.len() as u64,
            bridge_samples: w.dropped_bridges.len() as u64,
            rows: w.dropped_rows as u64,
            duplicates_resolved: w.duplicates_resolved as u64,
            duplicates_policy: "error".into(),
        };
        let dropped_note = format!(
            "{} control and {} bridge samples dropped ({} rows)",
            w.dropped_controls.len(),
            w.dropped_bridges.len(),
            w.dropped_rows
        );
        if w.sample_ids.is_empty() {
            // Nothing to write: say why rather than leave an empty part.
            sink.skipped(&path, &format!("0 samples: {dropped_note}"));
            return Ok(());
        }
        let session = unit.session.clone().unwrap_or_default();
        let subjects: Vec<String> = w.sample_ids.iter().map(|s| ctx.pseudonym(s)).collect();
        let mut lists = vec![(
            tables::VALUES.to_string(),
            ListValues::F32(w.npx.iter().map(|&v| v as f32).collect()),
        )];
        for (present, name, mask) in [
            (cols.sample_qc.is_some(), "qc_warning", &w.qc_warning),
            (cols.assay_qc.is_some(), "assay_warning", &w.assay_warning),
            (cols.lod.is_some(), "below_lod", &w.below_lod),
        ] {
            if present {
                lists.push((tables::mask_column(name), ListValues::Bool(mask.clone())));
            }
        }
        let metadata = [
            (
                columns::SCHEMA_KEY,
                bomdata_schemas::omics::VERSION.to_string(),
            ),
            (columns::TRANSFORM_KEY, to_json(&Transform::None)?),
            (VALUE_KEY, to_json(&ValueKind::Npx)?),
            (PLATFORM_KEY, w.platform.as_str().to_string()),
            (SOURCE_KEY, ctx.source.to_string()),
            (DROPPED_KEY, to_json(&dropped)?),
        ];
        let part = ListPart {
            sessions: vec![session.clone(); subjects.len()],
            subjects,
            features: w.olink_ids.clone(),
            lists,
            scalars: vec![],
            metadata: metadata
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect(),
        };
        for s in &part.subjects {
            sink.subject(table_subject_row(ctx, s, &session, Modality::Proteomics))?;
        }
        sink.write_table(TablePart::new(Modality::Proteomics, part.build()?)?)?;
        if !w.dropped_controls.is_empty() || !w.dropped_bridges.is_empty() {
            sink.skipped(&path, &dropped_note);
        }
        Ok(())
    }
}

/// A value as JSON for a part's schema metadata.
pub(crate) fn to_json<T: serde::Serialize>(v: &T) -> Result<String> {
    serde_json::to_string(v).map_err(|e| Error::Other(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sink::MemSink;

    #[test]
    fn npx_table_part() {
        let root = std::env::temp_dir().join(format!("bomdata-olink-test-{}", std::process::id()));
        std::fs::create_dir_all(&root).unwrap();
        std::fs::write(
            root.join("npx.csv"),
            "SampleID;OlinkID;NPX;QC_Warning;LOD\nS1;OID2;1.0;Pass;0.5\nS1;OID1;0.2;Warning;0.5\nCONTROL_1;OID1;3;Pass;0.5\nS2;OID1;2.0;Pass;0.5\n",
        )
        .unwrap();
        let units = Olink.plan(&root).unwrap();
        assert_eq!(units.len(), 1);
        let p = crate::Pseudonymizer::new(b"k".to_vec());
        let ctx = UnitContext::new(&root, "test", &p);
        let mut sink = MemSink::default();
        Olink.convert(&units[0], &ctx, &mut sink).unwrap();
        let _ = std::fs::remove_dir_all(&root);
        assert!(sink.samples.is_empty());
        assert_eq!(sink.subjects.len(), 2);
        assert_eq!(sink.tables.len(), 1);
        let b = &sink.tables[0].batch;
        assert_eq!(b.num_rows(), 2);
        let names = crate::tables::column_names(b);
        assert_eq!(
            names,
            [
                "subject",
                "session",
                "values",
                "mask.qc_warning",
                "mask.below_lod"
            ]
        );
        let meta = b.schema().metadata().clone();
        assert_eq!(meta[tables::FEATURES_KEY], r#"["OID1","OID2"]"#);
        let dropped: Dropped = serde_json::from_str(&meta[DROPPED_KEY]).unwrap();
        assert_eq!(dropped.control_samples, 1);
        use bomdata_table::arrow_array::{Array, BooleanArray, FixedSizeListArray};
        let qc = b
            .column(3)
            .as_any()
            .downcast_ref::<FixedSizeListArray>()
            .unwrap();
        let row0 = qc.value(0);
        let row0 = row0.as_any().downcast_ref::<BooleanArray>().unwrap();
        assert!(
            row0.value(0) && !row0.value(1),
            "S1: OID1 warned, OID2 passed"
        );
        assert!(
            !b.column(0)
                .as_any()
                .downcast_ref::<bomdata_table::arrow_array::StringArray>()
                .unwrap()
                .value(0)
                .contains("S1")
        );
    }
}
