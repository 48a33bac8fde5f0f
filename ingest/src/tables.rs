//! Table parts: subject-aligned Arrow tables written beside the shards.
//!
//! Wide omics tables (a methylation beta matrix has ~850k probes) are more useful to analysis as
//! one table with a row per (pseudonymous subject, visit) than as one sample per row. An adapter
//! hands such a table to its sink with [`crate::SampleSink::write_table`]; the runtime writes it
//! as
//!
//! ```text
//! OUT/tables/<modality>/part-u<h>-NNN.parquet   (NNN = 000, 001, ... within the unit)
//! ```
//!
//! under a temporary name first, renamed into place only when the whole unit succeeded (as the
//! unit's shards), and listed in the manifest's `tables` with rows and checksum. `<h>` is the
//! unit hash, so no file name carries an original ID. A part's first two columns are
//! [`columns::SUBJECT`] and [`columns::SESSION`] (Utf8, not null); the rest are the features.
//! The bytes depend only on the batch, so a rerun writes identical files.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bomdata_schemas::Modality;
use bomdata_schemas::manifest::TableEntry;
use bomdata_schemas::omics::columns;
use bomdata_shard::dataset;
use bomdata_table::arrow_array::{
    Array, ArrayRef, BooleanArray, FixedSizeListArray, Float32Array, RecordBatch, StringArray,
};
use bomdata_table::arrow_schema::{DataType, Field, Schema};

use crate::{Error, Result};

/// Folder of the table parts inside the dataset directory.
pub const TABLES: &str = "tables";

/// One part of a subject-aligned table.
#[derive(Clone, Debug, PartialEq)]
pub struct TablePart {
    /// The modality (names the folder).
    pub modality: Modality,
    /// Rows keyed by pseudonymous subject and session (the first two columns).
    pub batch: RecordBatch,
}

impl TablePart {
    /// A part, checked: the first two columns must be `subject` and `session` (Utf8, no nulls).
    pub fn new(modality: Modality, batch: RecordBatch) -> Result<Self> {
        let schema = batch.schema();
        for (i, name) in [columns::SUBJECT, columns::SESSION].into_iter().enumerate() {
            let ok = schema.fields().get(i).is_some_and(|f| {
                f.name() == name && f.data_type() == &DataType::Utf8 && !f.is_nullable()
            });
            if !ok {
                return Err(Error::Other(format!(
                    "a {modality} table part needs a non-null Utf8 column {name:?} at position {i}"
                )));
            }
        }
        Ok(TablePart { modality, batch })
    }

    /// Rows of the part.
    pub fn rows(&self) -> usize {
        self.batch.num_rows()
    }
}

/// Above this many features a part holds one [`VALUES`] column (a fixed-size list of Float32 per
/// row) instead of a column per feature: Parquet writers and readers cope with 10^4 columns, not
/// with the 10^6 of an EPIC array (arrow-rs needs ~18 KB of memory and the footer ~200 B per
/// column: 85k columns × 16 rows took 4 s and 1.5 GB to write).
pub const MAX_FEATURE_COLUMNS: usize = 10_000;
/// The list column of a part wider than [`MAX_FEATURE_COLUMNS`].
pub const VALUES: &str = "values";
/// Schema-metadata key of a list-layout part: the feature names, a JSON array in list order.
pub const FEATURES_KEY: &str = "bomdata.features";

/// Builds a wide float table: `subject`, `session`, then one non-null Float32 column per feature
/// (or, above [`MAX_FEATURE_COLUMNS`] features, one [`VALUES`] list column with the names under
/// [`FEATURES_KEY`]); `column(j)` gives feature `j`'s values in row order. `metadata` goes into
/// the Arrow schema (readers see it as the Parquet file's schema metadata).
pub fn wide_f32(
    subjects: &[String],
    sessions: &[String],
    features: &[String],
    column: impl Fn(usize) -> Vec<f32>,
    metadata: impl IntoIterator<Item = (String, String)>,
) -> Result<RecordBatch> {
    wide_f32_limit(
        subjects,
        sessions,
        features,
        column,
        metadata,
        MAX_FEATURE_COLUMNS,
    )
}

/// [`wide_f32`] from row-major values (`rows[r][j]`: feature `j` of row `r`, e.g. the sample
/// columns of a probes × samples matrix): above [`MAX_FEATURE_COLUMNS`] features the list column
/// is the rows concatenated, without the per-feature transposition. Same batch as [`wide_f32`].
pub fn wide_f32_rows(
    subjects: &[String],
    sessions: &[String],
    features: &[String],
    rows: &[Vec<f32>],
    metadata: impl IntoIterator<Item = (String, String)>,
) -> Result<RecordBatch> {
    let nf = features.len();
    if rows.len() != subjects.len() {
        return Err(Error::Other(format!(
            "table part: {} subjects but {} rows",
            subjects.len(),
            rows.len()
        )));
    }
    if let Some(r) = rows.iter().find(|r| r.len() != nf) {
        return Err(Error::Other(format!(
            "table part: a row has {} values for {nf} features",
            r.len()
        )));
    }
    if nf <= MAX_FEATURE_COLUMNS {
        let column = |j: usize| rows.iter().map(|r| r[j]).collect();
        return wide_f32(subjects, sessions, features, column, metadata);
    }
    WideList::new(features, metadata)?.batch(subjects, sessions, rows.concat())
}

/// The schema of the list-layout parts (more than [`MAX_FEATURE_COLUMNS`] features) of one
/// table: built and checked (feature names unique and not reserved, their JSON list in the
/// metadata) once, then shared by every part, so a file cut into many parts does not hash and
/// serialize its ~850k probe names per part. Its batches are those of [`wide_f32`].
#[derive(Clone, Debug)]
pub struct WideList {
    schema: bomdata_table::arrow_schema::SchemaRef,
    nf: usize,
    len: i32,
}

impl WideList {
    /// The layout of `features` (more than [`MAX_FEATURE_COLUMNS`] of them) with `metadata`.
    pub fn new(
        features: &[String],
        metadata: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self> {
        let nf = features.len();
        if nf <= MAX_FEATURE_COLUMNS {
            return Err(Error::Other(format!(
                "table part: {nf} features take a column each, not a list"
            )));
        }
        let len = i32::try_from(nf)
            .map_err(|_| Error::Other(format!("table part: {nf} features are too many")))?;
        let empty: Vec<String> = Vec::new();
        let none = wide_f32_limit(&empty, &empty, features, |_| Vec::new(), metadata, 0)?;
        Ok(WideList {
            schema: none.schema(),
            nf,
            len,
        })
    }

    /// A part: `values` holds the rows one after another (row `r`'s feature `j` at
    /// `r * features + j`), taken without a copy.
    pub fn batch(
        &self,
        subjects: &[String],
        sessions: &[String],
        values: Vec<f32>,
    ) -> Result<RecordBatch> {
        let n = subjects.len();
        if sessions.len() != n {
            return Err(Error::Other(format!(
                "table part: {n} subjects but {} sessions",
                sessions.len()
            )));
        }
        if values.len() != n * self.nf {
            return Err(Error::Other(format!(
                "table part: {} values for {n} rows of {} features",
                values.len(),
                self.nf
            )));
        }
        let item = Arc::new(Field::new("item", DataType::Float32, false));
        let values =
            FixedSizeListArray::try_new(item, self.len, Arc::new(Float32Array::from(values)), None)
                .map_err(|e| Error::Other(e.to_string()))?;
        let cols: Vec<ArrayRef> = vec![
            Arc::new(StringArray::from_iter_values(subjects)),
            Arc::new(StringArray::from_iter_values(sessions)),
            Arc::new(values),
        ];
        RecordBatch::try_new(self.schema.clone(), cols).map_err(|e| Error::Other(e.to_string()))
    }
}

fn wide_f32_limit(
    subjects: &[String],
    sessions: &[String],
    features: &[String],
    column: impl Fn(usize) -> Vec<f32>,
    metadata: impl IntoIterator<Item = (String, String)>,
    max_columns: usize,
) -> Result<RecordBatch> {
    let n = subjects.len();
    if sessions.len() != n {
        return Err(Error::Other(format!(
            "table part: {n} subjects but {} sessions",
            sessions.len()
        )));
    }
    let mut fields = Vec::with_capacity(features.len() + 2);
    fields.push(Field::new(columns::SUBJECT, DataType::Utf8, false));
    fields.push(Field::new(columns::SESSION, DataType::Utf8, false));
    let mut cols: Vec<ArrayRef> = Vec::with_capacity(features.len() + 2);
    cols.push(Arc::new(StringArray::from_iter_values(subjects)));
    cols.push(Arc::new(StringArray::from_iter_values(sessions)));
    let mut metadata: std::collections::HashMap<String, String> = metadata.into_iter().collect();
    let list = features.len() > max_columns;
    let nf = features.len();
    let mut flat = if list { vec![0f32; n * nf] } else { Vec::new() };
    let mut seen = bomdata_table::names::name_set(features.len());
    for (j, f) in features.iter().enumerate() {
        if f == columns::SUBJECT || f == columns::SESSION || !seen.insert(f.as_str()) {
            return Err(Error::Other(format!(
                "table part: feature name {f:?} is repeated or reserved"
            )));
        }
        let v = column(j);
        if v.len() != n {
            return Err(Error::Other(format!(
                "table part: feature {f:?} has {} values for {n} rows",
                v.len()
            )));
        }
        if list {
            for (r, x) in v.into_iter().enumerate() {
                flat[r * nf + j] = x;
            }
        } else {
            fields.push(Field::new(f, DataType::Float32, false));
            cols.push(Arc::new(Float32Array::from(v)));
        }
    }
    if list {
        let len = i32::try_from(nf)
            .map_err(|_| Error::Other(format!("table part: {nf} features are too many")))?;
        let item = Arc::new(Field::new("item", DataType::Float32, false));
        let values = FixedSizeListArray::try_new(
            item.clone(),
            len,
            Arc::new(Float32Array::from(flat)),
            None,
        )
        .map_err(|e| Error::Other(e.to_string()))?;
        fields.push(Field::new(
            VALUES,
            DataType::FixedSizeList(item, len),
            false,
        ));
        cols.push(Arc::new(values));
        let names = serde_json::to_string(features).map_err(|e| Error::Other(e.to_string()))?;
        metadata.insert(FEATURES_KEY.to_string(), names);
    }
    let schema = Schema::new(fields).with_metadata(metadata);
    RecordBatch::try_new(Arc::new(schema), cols).map_err(|e| Error::Other(e.to_string()))
}

/// Why a list-layout part could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PartError {
    /// A column has the wrong number of values.
    #[error("{column}: {found} values where {expected} were expected")]
    Length {
        /// The column.
        column: String,
        /// Values expected (rows, or rows × features).
        expected: usize,
        /// Values given.
        found: usize,
    },
    /// A column or feature name is repeated, or is one of the reserved key columns.
    #[error("name {0:?} is repeated or reserved")]
    Name(String),
    /// More features than a fixed-size list can hold.
    #[error("{0} features are too many for one list column")]
    TooWide(usize),
    /// Arrow refused the arrays.
    #[error("arrow")]
    Arrow(#[from] bomdata_table::arrow_schema::ArrowError),
}

/// The per-row values of one list column of a list-layout part, row-major (`rows × features`).
#[derive(Clone, Debug, PartialEq)]
pub enum ListValues {
    /// Float32 values (NaN where a feature is absent or NA).
    F32(Vec<f32>),
    /// A boolean mask.
    Bool(Vec<bool>),
}

impl ListValues {
    fn len(&self) -> usize {
        match self {
            ListValues::F32(v) => v.len(),
            ListValues::Bool(v) => v.len(),
        }
    }
}

/// A list-layout part before it is built: rows keyed by (subject, session), every list column a
/// fixed-size list of one value per feature (the features named once, in the schema metadata
/// under [`FEATURES_KEY`]), then any scalar columns.
#[derive(Debug, Default)]
pub struct ListPart {
    /// Pseudonymous subject of each row.
    pub subjects: Vec<String>,
    /// Visit / session label of each row (empty when the source has none).
    pub sessions: Vec<String>,
    /// Feature names, in list order.
    pub features: Vec<String>,
    /// List columns: the values first ([`VALUES`]), then parallel masks (`mask.<name>`).
    pub lists: Vec<(String, ListValues)>,
    /// Scalar columns after the lists (one value per row).
    pub scalars: Vec<(Field, ArrayRef)>,
    /// Schema metadata.
    pub metadata: std::collections::HashMap<String, String>,
}

impl ListPart {
    /// Builds the record batch: `subject`, `session` (Utf8, not null), one non-null
    /// `FixedSizeList<item, n_features>` per list (Float32 or Boolean items, not null), then the
    /// scalar columns. With no features the list columns are left out.
    pub fn build(self) -> std::result::Result<RecordBatch, PartError> {
        let n = self.subjects.len();
        if self.sessions.len() != n {
            return Err(PartError::Length {
                column: columns::SESSION.into(),
                expected: n,
                found: self.sessions.len(),
            });
        }
        let mut names: std::collections::HashSet<String> = [columns::SUBJECT, columns::SESSION]
            .map(String::from)
            .into();
        let mut features = bomdata_table::names::name_set(self.features.len());
        for f in &self.features {
            if !features.insert(f.as_str()) {
                return Err(PartError::Name(f.clone()));
            }
        }
        let nf = self.features.len();
        let width = i32::try_from(nf).map_err(|_| PartError::TooWide(nf))?;
        let mut fields = vec![
            Field::new(columns::SUBJECT, DataType::Utf8, false),
            Field::new(columns::SESSION, DataType::Utf8, false),
        ];
        let mut cols: Vec<ArrayRef> = vec![
            Arc::new(StringArray::from_iter_values(&self.subjects)),
            Arc::new(StringArray::from_iter_values(&self.sessions)),
        ];
        for (name, values) in &self.lists {
            if !names.insert(name.clone()) {
                return Err(PartError::Name(name.clone()));
            }
            if values.len() != n * nf {
                return Err(PartError::Length {
                    column: name.clone(),
                    expected: n * nf,
                    found: values.len(),
                });
            }
            if nf == 0 {
                continue;
            }
            let (item, flat): (DataType, ArrayRef) = match values {
                ListValues::F32(v) => (DataType::Float32, Arc::new(Float32Array::from(v.clone()))),
                ListValues::Bool(v) => (DataType::Boolean, Arc::new(BooleanArray::from(v.clone()))),
            };
            let item = Arc::new(Field::new("item", item, false));
            let list = FixedSizeListArray::try_new(item.clone(), width, flat, None)?;
            fields.push(Field::new(
                name,
                DataType::FixedSizeList(item, width),
                false,
            ));
            cols.push(Arc::new(list));
        }
        for (field, array) in self.scalars {
            if !names.insert(field.name().clone()) {
                return Err(PartError::Name(field.name().clone()));
            }
            if array.len() != n {
                return Err(PartError::Length {
                    column: field.name().clone(),
                    expected: n,
                    found: array.len(),
                });
            }
            fields.push(field);
            cols.push(array);
        }
        let mut metadata = self.metadata;
        let names = serde_json::to_string(&self.features).unwrap_or_else(|_| "[]".into());
        metadata.insert(FEATURES_KEY.to_string(), names);
        let schema = Schema::new(fields).with_metadata(metadata);
        Ok(RecordBatch::try_new(Arc::new(schema), cols)?)
    }
}

/// The name of a mask list column: `mask.<name>` ([`columns::MASK_PREFIX`]).
pub fn mask_column(name: &str) -> String {
    format!("{}{name}", columns::MASK_PREFIX)
}

/// A writer that hashes (XXH3-128, as [`dataset::checksum128`]) what it passes on.
struct Hashed<W> {
    out: W,
    hash: xxhash_rust::xxh3::Xxh3,
}

impl<W: std::io::Write> std::io::Write for Hashed<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.out.write(buf)?;
        self.hash.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }
}

/// A part written under its temporary name, waiting for the unit to finish.
#[derive(Debug)]
struct Pending {
    tmp: PathBuf,
    path: PathBuf,
    entry: TableEntry,
}

/// Writes the table parts of one unit: temporary files now, renamed by [`PartWriter::commit`].
#[derive(Debug, Default)]
pub struct PartWriter {
    out: PathBuf,
    prefix: String,
    pending: Vec<Pending>,
    /// The writer settings of the last part's schema (parts of one file share their schema:
    /// its Arrow encoding, with the feature names, is made once).
    plain: Option<bomdata_table::table::PlainParquet>,
}

impl PartWriter {
    /// Parts of a unit go to `out/tables/<modality>/part-<prefix>-NNN.parquet`.
    pub fn new(out: &Path, prefix: &str) -> Self {
        PartWriter {
            out: out.to_path_buf(),
            prefix: prefix.to_string(),
            pending: Vec::new(),
            plain: None,
        }
    }

    /// Encodes a part as Parquet and writes it (fsynced) under its temporary name.
    pub fn write(&mut self, part: &TablePart) -> Result<()> {
        let rel = format!(
            "{TABLES}/{}/part-{}-{:03}.parquet",
            part.modality.as_str(),
            self.prefix,
            self.pending.len()
        );
        let path = self.out.join(&rel);
        if let Some(dir) = path.parent() {
            fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        }
        // Encoded straight into the file (hashed on the way): no copy of the part in memory.
        let tmp = dataset::temp_path(&path);
        let f = fs::File::create(&tmp).map_err(|e| Error::io(&tmp, e))?;
        let sink = Hashed {
            out: std::io::BufWriter::with_capacity(1 << 20, f),
            hash: xxhash_rust::xxh3::Xxh3::new(),
        };
        let schema = part.batch.schema();
        let plain = match self.plain.take() {
            Some(p) if Arc::ptr_eq(p.schema(), &schema) => p,
            _ => bomdata_table::table::PlainParquet::new(schema),
        };
        let sink = plain
            .write(&part.batch, sink)
            .map_err(|e| Error::io(&tmp, e))?;
        self.plain = Some(plain);
        let checksum = format!("{:032x}", sink.hash.digest128());
        let f = sink
            .out
            .into_inner()
            .map_err(|e| Error::io(&tmp, e.into_error()))?;
        f.sync_all().map_err(|e| Error::io(&tmp, e))?;
        self.pending.push(Pending {
            tmp,
            path,
            entry: TableEntry {
                name: rel,
                rows: part.rows() as u64,
                checksum,
            },
        });
        Ok(())
    }

    /// Renames every part into place and returns their manifest entries, in write order.
    pub fn commit(mut self) -> Result<Vec<TableEntry>> {
        let mut entries = Vec::with_capacity(self.pending.len());
        let mut dirs = std::collections::BTreeSet::new();
        for p in std::mem::take(&mut self.pending) {
            fs::rename(&p.tmp, &p.path).map_err(|e| Error::io(&p.path, e))?;
            if let Some(d) = p.path.parent() {
                dirs.insert(d.to_path_buf());
            }
            entries.push(p.entry);
        }
        for d in dirs {
            dataset::sync_dir(&d)?;
        }
        Ok(entries)
    }

    /// Removes every part written so far; nothing becomes visible.
    pub fn abort(mut self) {
        for p in std::mem::take(&mut self.pending) {
            let _ = fs::remove_file(&p.tmp);
        }
    }
}

impl Drop for PartWriter {
    fn drop(&mut self) {
        for p in &self.pending {
            let _ = fs::remove_file(&p.tmp);
        }
    }
}

/// Removes temporary parts left by an interrupted run (`tables/*/*.tmp`).
pub fn remove_temporaries(out: &Path) -> Result<usize> {
    let dir = out.join(TABLES);
    let rd = match fs::read_dir(&dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(Error::io(&dir, e)),
    };
    let mut n = 0;
    for e in rd {
        let e = e.map_err(|e| Error::io(&dir, e))?;
        if e.path().is_dir() {
            n += dataset::remove_temporaries(&e.path())?;
        }
    }
    Ok(n)
}

/// The column names of a part, in order (for the adapters' unit tests).
#[cfg(test)]
pub(crate) fn column_names(b: &RecordBatch) -> Vec<String> {
    b.schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_and_columns_give_the_same_part() {
        for nf in [5, MAX_FEATURE_COLUMNS + 3] {
            let features: Vec<String> = (0..nf).map(|j| format!("cg{j:08}")).collect();
            let rows: Vec<Vec<f32>> = (0..3)
                .map(|r| (0..nf).map(|j| (r * nf + j) as f32 * 0.5).collect())
                .collect();
            let subjects: Vec<String> = (0..3).map(|r| format!("s{r}")).collect();
            let sessions = vec!["v1".to_string(); 3];
            let meta = || [("k".to_string(), "v".to_string())];
            let column = |j: usize| rows.iter().map(|r| r[j]).collect();
            let a = wide_f32(&subjects, &sessions, &features, column, meta()).unwrap();
            let b = wide_f32_rows(&subjects, &sessions, &features, &rows, meta()).unwrap();
            assert_eq!(a, b);
        }
    }

    #[test]
    fn parts_commit_and_abort() {
        let dir = tempfile_dir();
        let b = wide_f32(
            &["p1".into(), "p2".into()],
            &["".into(), "v2".into()],
            &["cg1".into(), "cg2".into()],
            |j| vec![j as f32, 0.5],
            [("k".to_string(), "v".to_string())],
        )
        .unwrap();
        let part = TablePart::new(Modality::Methylation, b).unwrap();
        let mut w = PartWriter::new(&dir, "uabc");
        w.write(&part).unwrap();
        w.write(&part).unwrap();
        let tmp = fs::read_dir(dir.join("tables/methylation"))
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .find(|p| {
                let n = p.file_name().unwrap().to_string_lossy().to_string();
                n.starts_with("part-uabc-001.parquet.") && n.ends_with(".tmp")
            })
            .expect("the second part's temporary");
        let e = w.commit().unwrap();
        assert_eq!(e.len(), 2);
        assert_eq!(e[1].name, "tables/methylation/part-uabc-001.parquet");
        assert_eq!(e[0].checksum, e[1].checksum, "same batch, same bytes");
        assert!(dir.join(&e[1].name).exists() && !tmp.exists());
        let mut w = PartWriter::new(&dir, "udef");
        w.write(&part).unwrap();
        w.abort();
        assert_eq!(
            fs::read_dir(dir.join("tables/methylation"))
                .unwrap()
                .count(),
            2
        );
        // Wider than the column limit: one list column, the names in the metadata.
        let b = wide_f32_limit(
            &["p1".into(), "p2".into()],
            &["".into(), "".into()],
            &["cg1".into(), "cg2".into(), "cg3".into()],
            |j| vec![j as f32, 10.0 + j as f32],
            [],
            2,
        )
        .unwrap();
        assert_eq!(b.num_columns(), 3);
        let l = b
            .column(2)
            .as_any()
            .downcast_ref::<FixedSizeListArray>()
            .unwrap();
        let row1 = l.value(1);
        let row1 = row1.as_any().downcast_ref::<Float32Array>().unwrap();
        assert_eq!(row1.values().to_vec(), [10.0, 11.0, 12.0]);
        assert_eq!(
            b.schema().metadata()[FEATURES_KEY],
            r#"["cg1","cg2","cg3"]"#
        );
        let mut w = PartWriter::new(&dir, "ulist");
        w.write(&TablePart::new(Modality::Methylation, b).unwrap())
            .unwrap();
        w.commit().unwrap();
        // Bad parts are refused.
        let bad = wide_f32(
            &["p".into()],
            &["".into()],
            &["subject".into()],
            |_| vec![1.0],
            [],
        );
        assert!(bad.is_err());
        let _ = fs::remove_dir_all(&dir);
    }

    fn tempfile_dir() -> PathBuf {
        let d = std::env::temp_dir().join(format!("bomdata-tables-test-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        fs::create_dir_all(&d).unwrap();
        d
    }
}
