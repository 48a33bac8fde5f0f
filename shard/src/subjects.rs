//! `subjects.parquet`: one row per (pseudonymous subject, source, session).

use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use arrow_array::builder::{ListBuilder, StringBuilder};
use arrow_array::{Array, ArrayRef, ListArray, RecordBatch, StringArray, UInt64Array};
use arrow_schema::{DataType, Field, Schema};
use bomdata_schemas::Modality;
use bomdata_schemas::manifest::TableEntry;
use bomdata_schemas::subjects::SubjectRow;
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::file::properties::WriterProperties;

use crate::dataset::{self, SUBJECTS};
use crate::{Error, Result};

/// The Arrow schema of `subjects.parquet`.
pub fn schema() -> Schema {
    Schema::new(vec![
        Field::new("subject", DataType::Utf8, false),
        Field::new("source", DataType::Utf8, false),
        Field::new("session", DataType::Utf8, false),
        Field::new(
            "modalities",
            DataType::List(Arc::new(Field::new("item", DataType::Utf8, true))),
            false,
        ),
        Field::new("n_samples", DataType::UInt64, false),
        Field::new("split", DataType::Utf8, false),
    ])
    .with_metadata(
        [("bomdata.schema".to_string(), "subjects/1".to_string())]
            .into_iter()
            .collect::<std::collections::HashMap<_, _>>(),
    )
}

/// Writes `subjects.parquet` atomically into a dataset directory and returns its manifest entry.
pub fn write(dir: &Path, rows: &[SubjectRow]) -> Result<TableEntry> {
    let path = dir.join(SUBJECTS);
    let schema = Arc::new(schema());
    let col = |f: &dyn Fn(&SubjectRow) -> &str| -> ArrayRef {
        Arc::new(StringArray::from_iter_values(rows.iter().map(f)))
    };
    let mut mods = ListBuilder::new(StringBuilder::new());
    for r in rows {
        for m in &r.modalities {
            mods.values().append_value(m.as_str());
        }
        mods.append(true);
    }
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![
            col(&|r| &r.subject),
            col(&|r| &r.source),
            col(&|r| &r.session),
            Arc::new(mods.finish()),
            Arc::new(UInt64Array::from_iter_values(
                rows.iter().map(|r| r.n_samples),
            )),
            col(&|r| &r.split),
        ],
    )
    .map_err(Error::Arrow)?;
    let mut buf = Vec::new();
    {
        let props = WriterProperties::builder()
            .set_created_by("bomdata".to_string())
            .build();
        let mut w = ArrowWriter::try_new(&mut buf, schema, Some(props)).map_err(Error::Parquet)?;
        w.write(&batch).map_err(Error::Parquet)?;
        w.close().map_err(Error::Parquet)?;
    }
    dataset::write_atomic(&path, &buf)?;
    Ok(TableEntry {
        name: SUBJECTS.to_string(),
        rows: rows.len() as u64,
        checksum: dataset::checksum128(&buf),
    })
}

/// Reads `subjects.parquet` of a dataset directory.
pub fn read(dir: &Path) -> Result<Vec<SubjectRow>> {
    let path = dir.join(SUBJECTS);
    let f = File::open(&path).map_err(|e| Error::io(&path, e))?;
    let bad = |e: &dyn std::fmt::Display| Error::corrupt(&path, e);
    let reader = ParquetRecordBatchReaderBuilder::try_new(f)
        .map_err(|e| bad(&e))?
        .build()
        .map_err(|e| bad(&e))?;
    let mut rows = Vec::new();
    for batch in reader {
        let batch = batch.map_err(|e| bad(&e))?;
        let s = |name: &str| -> Result<StringArray> {
            batch
                .column_by_name(name)
                .and_then(|c| c.as_any().downcast_ref::<StringArray>())
                .cloned()
                .ok_or_else(|| bad(&format!("column {name} missing or not text")))
        };
        let (subject, source, session, split) =
            (s("subject")?, s("source")?, s("session")?, s("split")?);
        let mods = batch
            .column_by_name("modalities")
            .and_then(|c| c.as_any().downcast_ref::<ListArray>())
            .cloned()
            .ok_or_else(|| bad(&"column modalities missing"))?;
        let n = batch
            .column_by_name("n_samples")
            .and_then(|c| c.as_any().downcast_ref::<UInt64Array>())
            .cloned()
            .ok_or_else(|| bad(&"column n_samples missing"))?;
        for i in 0..batch.num_rows() {
            let list = mods.value(i);
            let list = list
                .as_any()
                .downcast_ref::<StringArray>()
                .ok_or_else(|| bad(&"modalities is not a list of text"))?;
            let mut modalities = Vec::new();
            for j in 0..list.len() {
                modalities.push(list.value(j).parse::<Modality>().map_err(|e| bad(&e))?);
            }
            rows.push(SubjectRow {
                subject: subject.value(i).to_string(),
                source: source.value(i).to_string(),
                session: session.value(i).to_string(),
                modalities,
                n_samples: n.value(i),
                split: split.value(i).to_string(),
            });
        }
    }
    Ok(rows)
}
