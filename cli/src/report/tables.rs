//! Missing values of the datasets' table parts (`tables/<modality>/*.parquet`): per feature,
//! the share of rows that are null or NaN. Subject and session columns are not read.

use std::fs::File;

use anyhow::Context;
use arrow_array::cast::AsArray;
use arrow_array::types::{Float32Type, Float64Type};
use arrow_array::{Array, ArrayRef, RecordBatch};
use arrow_schema::DataType;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use super::collect::{DatasetView, label};

/// The NA rates of one table part.
pub struct TableNa {
    /// Dataset label and the part's path in it.
    pub name: String,
    /// Rows.
    pub rows: u64,
    /// (feature, NA share) for every feature column.
    pub features: Vec<(String, f64)>,
}

/// The NA rates of every `.parquet` table part (not `subjects.parquet`) of the datasets.
pub fn na_rates(views: &[DatasetView]) -> anyhow::Result<Vec<TableNa>> {
    let mut out = Vec::new();
    for v in views {
        for t in &v.manifest.tables {
            if !t.name.ends_with(".parquet") || t.name == bomdata_shard::dataset::SUBJECTS {
                continue;
            }
            let path = v.root.join(&t.name);
            let file = File::open(&path).with_context(|| format!("opening {}", path.display()))?;
            let builder = ParquetRecordBatchReaderBuilder::try_new(file)
                .with_context(|| format!("reading {}", path.display()))?;
            let features: Option<Vec<String>> = builder
                .schema()
                .metadata()
                .get(bomdata_ingest::tables::FEATURES_KEY)
                .and_then(|s| serde_json::from_str(s).ok());
            let mut acc: Vec<(String, u64)> = Vec::new();
            let mut rows = 0u64;
            for batch in builder.build()? {
                let batch = batch.with_context(|| format!("reading {}", path.display()))?;
                rows += batch.num_rows() as u64;
                add_batch(&batch, features.as_deref(), &mut acc);
            }
            out.push(TableNa {
                name: format!("{}: {}", label(v), t.name),
                rows,
                features: acc
                    .into_iter()
                    .map(|(n, c)| (n, c as f64 / rows.max(1) as f64))
                    .collect(),
            });
        }
    }
    Ok(out)
}

/// Adds a batch's null/NaN counts per feature to `acc` (in column, then list, order).
fn add_batch(batch: &RecordBatch, features: Option<&[String]>, acc: &mut Vec<(String, u64)>) {
    let schema = batch.schema();
    let mut slot = 0;
    for (field, col) in schema.fields().iter().zip(batch.columns()) {
        let name = field.name();
        if name == "subject" || name == "session" || name.starts_with("mask.") {
            continue;
        }
        let counts: Vec<(String, u64)> = match col.data_type() {
            DataType::FixedSizeList(_, width) => {
                let width = usize::try_from(*width).unwrap_or(0);
                let list = col.as_fixed_size_list();
                let values = list.values();
                (0..width)
                    .map(|j| {
                        let missing = (0..list.len())
                            .filter(|&r| list.is_null(r) || missing_at(values, r * width + j))
                            .count() as u64;
                        let fname = features
                            .and_then(|f| f.get(j).cloned())
                            .unwrap_or_else(|| format!("{name}[{j}]"));
                        (fname, missing)
                    })
                    .collect()
            }
            _ => {
                let missing = (0..col.len()).filter(|&r| missing_at(col, r)).count() as u64;
                vec![(name.clone(), missing)]
            }
        };
        for (n, c) in counts {
            match acc.get_mut(slot) {
                Some(e) => e.1 += c,
                None => acc.push((n, c)),
            }
            slot += 1;
        }
    }
}

/// Null, or NaN in a float column.
fn missing_at(a: &ArrayRef, i: usize) -> bool {
    if a.is_null(i) {
        return true;
    }
    match a.data_type() {
        DataType::Float32 => a.as_primitive::<Float32Type>().value(i).is_nan(),
        DataType::Float64 => a.as_primitive::<Float64Type>().value(i).is_nan(),
        _ => false,
    }
}
