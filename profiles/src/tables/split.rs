//! The training Parquet tables of one modality, one per split, written as the rows stream in:
//! rows are buffered up to a row group ([`super::Limits::group_values`]) and written by one
//! Arrow batch, so a table that fits one row group has the bytes of a single-batch write.

use std::collections::HashMap;
use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::{
    ArrayRef, BooleanArray, FixedSizeListArray, Float32Array, RecordBatch, StringArray,
};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use bomdata_schemas::manifest::TableEntry;
use bomdata_shard::dataset;
use parquet::arrow::ArrowWriter;

use super::Limits;
use super::read::{Layout, Row};
use super::transform::Transforms;
use crate::build::SPLITS;
use crate::{Error, Result};

/// One split's table being written.
struct Writer {
    rel: String,
    path: PathBuf,
    tmp: PathBuf,
    w: ArrowWriter<BufWriter<File>>,
    buf: Vec<Row>,
    rows: u64,
}

/// The split tables of one modality (`tables/<modality>/<split>.parquet`).
pub(super) struct SplitTables<'a> {
    out: &'a Path,
    dir: &'a str,
    layout: &'a Layout,
    schema: SchemaRef,
    group_rows: usize,
    writers: [Option<Writer>; 3],
}

fn arrow_err(layout: &Layout) -> impl Fn(arrow_schema::ArrowError) -> Error + '_ {
    |source| Error::TableArrow {
        name: layout.modality.clone(),
        source,
    }
}

fn parquet_err(layout: &Layout) -> impl Fn(parquet::errors::ParquetError) -> Error + '_ {
    |source| Error::TableRead {
        name: layout.modality.clone(),
        source,
    }
}

fn width(layout: &Layout) -> Result<i32> {
    i32::try_from(layout.features.len()).map_err(|_| Error::TableLayout {
        name: layout.modality.clone(),
        what: "too many features for one list column",
    })
}

/// The schema of a modality's training table: subject, session, values and masks (lists, when
/// the modality has features), text columns; features, modality, value kind and transform in the
/// metadata.
fn schema(layout: &Layout, value: &str, t: &Transforms) -> Result<SchemaRef> {
    let mut fields = vec![
        Field::new("subject", DataType::Utf8, false),
        Field::new("session", DataType::Utf8, false),
    ];
    let width = width(layout)?;
    if width > 0 {
        let item = Arc::new(Field::new("item", DataType::Float32, false));
        fields.push(Field::new(
            "values",
            DataType::FixedSizeList(item, width),
            false,
        ));
        for m in std::iter::once("na").chain(layout.masks.iter().map(String::as_str)) {
            let item = Arc::new(Field::new("item", DataType::Boolean, false));
            fields.push(Field::new(
                format!("mask.{m}"),
                DataType::FixedSizeList(item, width),
                false,
            ));
        }
    }
    for c in &layout.scalars {
        fields.push(Field::new(c, DataType::Utf8, true));
    }
    let features = serde_json::to_string(&layout.features).map_err(|source| Error::Encode {
        what: "a feature list",
        source,
    })?;
    let transform = t.to_json()[layout.modality.as_str()].to_string();
    let metadata: HashMap<String, String> = [
        ("bomdata.features", features),
        ("bomdata.modality", layout.modality.clone()),
        ("bomdata.value", value.to_string()),
        ("bomdata.transform", transform),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    Ok(Arc::new(Schema::new(fields).with_metadata(metadata)))
}

/// The rows as one batch of `schema`.
fn batch(layout: &Layout, schema: &SchemaRef, rows: &[Row]) -> Result<RecordBatch> {
    let width = width(layout)?;
    let mut cols: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from_iter_values(
            rows.iter().map(|r| &r.subject),
        )),
        Arc::new(StringArray::from_iter_values(
            rows.iter().map(|r| &r.session),
        )),
    ];
    if width > 0 {
        let item = Arc::new(Field::new("item", DataType::Float32, false));
        let flat: Vec<f32> = rows.iter().flat_map(|r| r.values.iter().copied()).collect();
        let l = FixedSizeListArray::try_new(item, width, Arc::new(Float32Array::from(flat)), None)
            .map_err(arrow_err(layout))?;
        cols.push(Arc::new(l));
        for k in std::iter::once(None).chain((0..layout.masks.len()).map(Some)) {
            let item = Arc::new(Field::new("item", DataType::Boolean, false));
            let flat: Vec<bool> = rows
                .iter()
                .flat_map(|r| match k {
                    None => r.na.iter().copied(),
                    Some(k) => r.masks[k].iter().copied(),
                })
                .collect();
            let a = Arc::new(BooleanArray::from(flat));
            let l = FixedSizeListArray::try_new(item, width, a, None).map_err(arrow_err(layout))?;
            cols.push(Arc::new(l));
        }
    }
    for k in 0..layout.scalars.len() {
        let a: StringArray = rows.iter().map(|r| r.scalars[k].clone()).collect();
        cols.push(Arc::new(a));
    }
    RecordBatch::try_new(schema.clone(), cols).map_err(arrow_err(layout))
}

impl<'a> SplitTables<'a> {
    pub(super) fn new(
        out: &'a Path,
        dir: &'a str,
        layout: &'a Layout,
        value: &str,
        t: &Transforms,
        limits: Limits,
    ) -> Result<Self> {
        let per_row = layout.features.len().max(1) * (2 + layout.masks.len());
        Ok(SplitTables {
            out,
            dir,
            layout,
            schema: schema(layout, value, t)?,
            group_rows: (limits.group_values / per_row).max(1),
            writers: [None, None, None],
        })
    }

    fn open(&self, split: &str) -> Result<Writer> {
        let rel = format!("{}/{split}.parquet", self.dir);
        let path = self.out.join(&rel);
        let tmp = dataset::temp_path(&path);
        let f = File::create(&tmp).map_err(|e| Error::io(&tmp, e))?;
        let props = parquet::file::properties::WriterProperties::builder()
            .set_compression(parquet::basic::Compression::ZSTD(Default::default()))
            .set_dictionary_enabled(false)
            .set_created_by("bomdata".to_string())
            .build();
        let w = ArrowWriter::try_new(BufWriter::new(f), self.schema.clone(), Some(props))
            .map_err(parquet_err(self.layout))?;
        Ok(Writer {
            rel,
            path,
            tmp,
            w,
            buf: Vec::new(),
            rows: 0,
        })
    }

    /// Adds a row to the table of `split`, writing a row group when one is full.
    pub(super) fn push(&mut self, split: &str, row: Row) -> Result<()> {
        let i = SPLITS.iter().position(|s| *s == split).unwrap_or(2);
        if self.writers[i].is_none() {
            self.writers[i] = Some(self.open(split)?);
        }
        let (layout, schema, group) = (self.layout, &self.schema, self.group_rows);
        let Some(w) = self.writers[i].as_mut() else {
            return Ok(());
        };
        w.buf.push(row);
        w.rows += 1;
        if w.buf.len() >= group {
            let b = batch(layout, schema, &w.buf)?;
            w.buf.clear();
            w.w.write(&b).map_err(parquet_err(layout))?;
            w.w.flush().map_err(parquet_err(layout))?;
        }
        Ok(())
    }

    /// Closes the tables (split order) and returns their manifest entries.
    pub(super) fn finish(self) -> Result<Vec<TableEntry>> {
        let mut entries = Vec::new();
        for mut w in self.writers.into_iter().flatten() {
            if !w.buf.is_empty() {
                let b = batch(self.layout, &self.schema, &w.buf)?;
                w.w.write(&b).map_err(parquet_err(self.layout))?;
            }
            w.w.finish().map_err(parquet_err(self.layout))?;
            let f = w.w.inner().get_ref();
            f.sync_all().map_err(|e| Error::io(&w.tmp, e))?;
            drop(w.w);
            std::fs::rename(&w.tmp, &w.path).map_err(|e| Error::io(&w.path, e))?;
            if let Some(d) = w.path.parent() {
                dataset::sync_dir(d)?;
            }
            entries.push(TableEntry {
                name: w.rel,
                rows: w.rows,
                checksum: dataset::checksum_file(&w.path)?,
            });
        }
        Ok(entries)
    }
}
