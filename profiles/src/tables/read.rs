//! Reading the canonical table parts (`tables/<modality>/part-*.parquet`, written by ingest) as
//! rows of one modality, their features aligned across parts, streamed: a first pass reads each
//! part's schema and its (subject, session) columns only ([`plan_modalities`]); the second
//! ([`Planned::rows`]) yields the rows in (subject, session) order, part order kept among equals,
//! reading one run of rows (consecutive in that order, from one part) at a time through one
//! reader and one record batch; rows of a part not in that order are read a batch of rows at a
//! time by row selection. Parts with the same feature list share it in the plan.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::{
    Array, BooleanArray, FixedSizeListArray, Float32Array, RecordBatch, StringArray,
};
use arrow_schema::{DataType, Schema};
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::{
    ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder, RowSelection,
};

use crate::{Error, Result};

/// Schema-metadata key of the feature names of a list-layout part (JSON array).
pub const FEATURES_KEY: &str = "bomdata.features";
/// Schema-metadata key of the value kind (JSON string: `"beta"`, `"m_value"`, `"count"`, ...).
pub const VALUE_KEY: &str = "bomdata.value";
/// The list column of the values.
pub const VALUES: &str = "values";
/// Prefix of a mask list column.
pub const MASK_PREFIX: &str = "mask.";

/// One row of a table: a (pseudonymous subject, visit) with its values in feature order.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    /// Pseudonymous subject.
    pub subject: String,
    /// Visit (empty when none).
    pub session: String,
    /// Values, one per feature of the modality (NaN: absent or NA).
    pub values: Vec<f32>,
    /// True where the value is absent or NA.
    pub na: Vec<bool>,
    /// The masks of the modality, in [`Layout::masks`] order, one flag per feature.
    pub masks: Vec<Vec<bool>>,
    /// The text columns of the modality, in [`Layout::scalars`] order.
    pub scalars: Vec<Option<String>>,
}

/// The columns of one modality, aligned over its parts.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Layout {
    /// Modality folder name (`methylation`, `proteomics`, ...).
    pub modality: String,
    /// The value kind the parts declare (`beta`, `count`, `npx`, ...; empty when none).
    pub value: String,
    /// Feature names: the first part's, then new ones in part order.
    pub features: Vec<String>,
    /// Mask names (without `mask.`).
    pub masks: Vec<String>,
    /// Text column names.
    pub scalars: Vec<String>,
}

/// Bounds of the streamed read.
#[derive(Clone, Copy, Debug)]
pub struct ReadLimits {
    /// Values (features × (1 + masks)) of one record batch read from a part; at least one row.
    pub batch_values: usize,
}

/// The roles of a part's columns.
#[derive(Clone, Debug, Default)]
struct Roles {
    values: Option<usize>,
    wide: Vec<usize>,
    masks: Vec<usize>,
    scalars: Vec<usize>,
}

/// One part as planned (first pass).
struct PartInfo {
    path: PathBuf,
    name: String,
    value: String,
    /// Shared by the parts that list the same features (the parts of one file), so that the
    /// plan does not hold ~850k probe names per part.
    features: Arc<Vec<String>>,
    masks: Vec<String>,
    scalars: Vec<String>,
    roles: Roles,
    /// (subject, session) of every row, in the part's order.
    keys: Vec<(String, String)>,
}

/// One modality's parts, planned: the aligned layout and where each part's columns go in it.
pub struct Planned {
    /// The aligned columns.
    pub layout: Layout,
    parts: Vec<PartInfo>,
    /// Per part: positions of its features, masks and text columns in the layout (shared by the
    /// parts of one column layout).
    maps: Vec<Arc<[Vec<usize>; 3]>>,
}

fn layout_err(name: &str, what: &'static str) -> Error {
    Error::TableLayout {
        name: name.to_string(),
        what,
    }
}

fn open(path: &Path, name: &str) -> Result<ParquetRecordBatchReaderBuilder<File>> {
    let f = File::open(path).map_err(|e| Error::Shard(bomdata_shard::Error::io(path, e)))?;
    ParquetRecordBatchReaderBuilder::try_new(f).map_err(|source| Error::TableRead {
        name: name.to_string(),
        source,
    })
}

fn next_batch(reader: &mut ParquetRecordBatchReader, name: &str) -> Result<Option<RecordBatch>> {
    reader.next().transpose().map_err(|e| Error::TableRead {
        name: name.to_string(),
        source: e.into(),
    })
}

fn strings<'a>(b: &'a RecordBatch, i: usize, name: &str) -> Result<&'a StringArray> {
    b.column(i)
        .as_any()
        .downcast_ref::<StringArray>()
        .ok_or_else(|| layout_err(name, "subject and session must be Utf8 columns"))
}

/// Column roles and names (features, masks, text columns) from a part's schema.
fn roles(schema: &Schema, listed: Option<&Vec<String>>) -> (Roles, [Vec<String>; 3]) {
    let mut r = Roles::default();
    let (mut wide, mut masks, mut scalars) = (Vec::new(), Vec::new(), Vec::new());
    for (i, f) in schema.fields().iter().enumerate().skip(2) {
        let n = f.name();
        match f.data_type() {
            DataType::FixedSizeList(..) if n == VALUES => r.values = Some(i),
            DataType::FixedSizeList(..) => {
                if let Some(m) = n.strip_prefix(MASK_PREFIX) {
                    masks.push(m.to_string());
                    r.masks.push(i);
                }
            }
            DataType::Float32 if listed.is_none() => {
                wide.push(n.clone());
                r.wide.push(i);
            }
            DataType::Utf8 => {
                scalars.push(n.clone());
                r.scalars.push(i);
            }
            _ => {}
        }
    }
    let features = match listed {
        Some(l) if r.values.is_some() => l.clone(),
        Some(_) => Vec::new(),
        None => wide,
    };
    (r, [features, masks, scalars])
}

/// First pass over one part: schema, metadata and the (subject, session) columns.
fn plan_part(path: &Path, name: &str) -> Result<PartInfo> {
    let b = open(path, name)?;
    let meta = b.schema().metadata();
    let value = meta
        .get(VALUE_KEY)
        .and_then(|v| serde_json::from_str::<String>(v).ok())
        .unwrap_or_default();
    let listed: Option<Vec<String>> = meta
        .get(FEATURES_KEY)
        .and_then(|v| serde_json::from_str(v).ok());
    let rows = b.metadata().file_metadata().num_rows();
    let mut part = PartInfo {
        path: path.to_path_buf(),
        name: name.to_string(),
        value,
        features: Arc::default(),
        masks: Vec::new(),
        scalars: Vec::new(),
        roles: Roles::default(),
        keys: Vec::new(),
    };
    if rows == 0 {
        return Ok(part); // no batch: no columns
    }
    if b.schema().fields().len() < 2 {
        return Err(layout_err(name, "a part starts with subject and session"));
    }
    let (roles, [features, masks, scalars]) = roles(b.schema(), listed.as_ref());
    (part.roles, part.features, part.masks, part.scalars) =
        (roles, Arc::new(features), masks, scalars);
    let mask = ProjectionMask::roots(b.parquet_schema(), [0, 1]);
    let mut reader = b
        .with_projection(mask)
        .build()
        .map_err(|source| Error::TableRead {
            name: name.to_string(),
            source,
        })?;
    while let Some(batch) = next_batch(&mut reader, name)? {
        let (subjects, sessions) = (strings(&batch, 0, name)?, strings(&batch, 1, name)?);
        for r in 0..batch.num_rows() {
            let key = (subjects.value(r).to_string(), sessions.value(r).to_string());
            part.keys.push(key);
        }
    }
    Ok(part)
}

/// Position of every name in `union`, adding the new ones.
fn align(
    union: &mut Vec<String>,
    index: &mut HashMap<String, usize>,
    names: &[String],
) -> Vec<usize> {
    names
        .iter()
        .map(|n| {
            *index.entry(n.clone()).or_insert_with(|| {
                union.push(n.clone());
                union.len() - 1
            })
        })
        .collect()
}

/// Plans the parts listed in the input manifest (`tables/<modality>/...parquet`, in manifest
/// order), grouped by modality. Parts of M-values (`bomdata.value` = `m_value`, written beside
/// the beta parts of a signal table) are left out: the `tables` profile derives M-values from beta.
pub fn plan_modalities(input: &Path, names: &[String]) -> Result<Vec<Planned>> {
    let mut by_mod: BTreeMap<String, Vec<PartInfo>> = BTreeMap::new();
    let mut lists: Vec<Arc<Vec<String>>> = Vec::new();
    for name in names {
        let mut it = name.split('/');
        let (Some("tables"), Some(modality), Some(file), None) =
            (it.next(), it.next(), it.next(), it.next())
        else {
            continue;
        };
        if !file.ends_with(".parquet") {
            continue;
        }
        let mut part = plan_part(&input.join(name), name)?;
        if part.value == "m_value" {
            continue;
        }
        // The same feature list as an earlier part (most recent first): share it.
        if let Some(l) = lists.iter().rev().find(|l| **l == part.features) {
            part.features = l.clone();
        } else if !part.features.is_empty() {
            lists.push(part.features.clone());
        }
        by_mod.entry(modality.to_string()).or_default().push(part);
    }
    Ok(by_mod
        .into_iter()
        .map(|(modality, parts)| Planned::new(modality, parts))
        .collect())
}

impl Planned {
    fn new(modality: String, parts: Vec<PartInfo>) -> Planned {
        let mut layout = Layout {
            modality,
            ..Layout::default()
        };
        let (mut fi, mut mi, mut si) = (HashMap::new(), HashMap::new(), HashMap::new());
        let mut maps: Vec<Arc<[Vec<usize>; 3]>> = Vec::with_capacity(parts.len());
        for (i, p) in parts.iter().enumerate() {
            if layout.value.is_empty() {
                layout.value = p.value.clone();
            }
            // A part with the columns of an earlier one (the same shared feature list) maps
            // the same way: aligning is idempotent.
            let same = (0..i).rev().find(|&k| {
                let q = &parts[k];
                Arc::ptr_eq(&q.features, &p.features)
                    && q.masks == p.masks
                    && q.scalars == p.scalars
            });
            if let Some(k) = same {
                maps.push(maps[k].clone());
                continue;
            }
            maps.push(Arc::new([
                align(&mut layout.features, &mut fi, &p.features),
                align(&mut layout.masks, &mut mi, &p.masks),
                align(&mut layout.scalars, &mut si, &p.scalars),
            ]));
        }
        Planned {
            layout,
            parts,
            maps,
        }
    }

    /// The rows, in (subject, session) order, part order kept among equals. The order is
    /// planned from the keys read in the first pass; the rows are then read run by run (a run:
    /// consecutive rows of that order from one part), one reader and one batch of at most
    /// `limits.batch_values` values (at least one row) at a time, so memory does not grow with
    /// the number of parts or rows. Ingest writes the parts of a file in subject order, so a
    /// part is one run read front to back.
    pub fn rows(&self, limits: ReadLimits) -> Result<RowStream<'_>> {
        let mut order: Vec<(usize, usize)> = self
            .parts
            .iter()
            .enumerate()
            .flat_map(|(i, p)| (0..p.keys.len()).map(move |r| (i, r)))
            .collect();
        // Stable: part order, then row order, among equal keys.
        order.sort_by(|a, b| self.parts[a.0].keys[a.1].cmp(&self.parts[b.0].keys[b.1]));
        Ok(RowStream {
            planned: self,
            order,
            next: 0,
            ready: VecDeque::new(),
            run: None,
            batch_values: limits.batch_values,
        })
    }
}

/// The list column `c` as (list, width).
fn list(c: &dyn Array) -> Option<(&FixedSizeListArray, usize)> {
    let l = c.as_any().downcast_ref::<FixedSizeListArray>()?;
    Some((l, usize::try_from(l.value_length()).ok()?))
}

/// Row `r` of a batch of part `p`, aligned to the layout by `map`.
fn decode_row(
    b: &RecordBatch,
    r: usize,
    p: &PartInfo,
    map: &[Vec<usize>; 3],
    layout: &Layout,
) -> Result<Row> {
    let name = p.name.as_str();
    let nf = layout.features.len();
    let [fpos, mpos, spos] = map;
    let mut row = Row {
        subject: strings(b, 0, name)?.value(r).to_string(),
        session: strings(b, 1, name)?.value(r).to_string(),
        values: vec![f32::NAN; nf],
        na: vec![true; nf],
        masks: vec![vec![false; nf]; layout.masks.len()],
        scalars: vec![None; layout.scalars.len()],
    };
    let mut put = |j: usize, v: f32| {
        row.values[fpos[j]] = v;
        row.na[fpos[j]] = v.is_nan();
    };
    if let Some(i) = p.roles.values {
        let bad = || layout_err(name, "values is not a list of Float32");
        let (l, w) = list(b.column(i).as_ref()).ok_or_else(bad)?;
        if w != p.features.len() {
            return Err(layout_err(
                name,
                "values width differs from the feature list",
            ));
        }
        let v = l.value(r);
        let a = v.as_any().downcast_ref::<Float32Array>().ok_or_else(bad)?;
        for j in 0..a.len() {
            put(j, if a.is_null(j) { f32::NAN } else { a.value(j) });
        }
    } else {
        for (j, i) in p.roles.wide.iter().enumerate() {
            let a = b.column(*i).as_any().downcast_ref::<Float32Array>();
            put(
                j,
                a.map_or(
                    f32::NAN,
                    |a| if a.is_null(r) { f32::NAN } else { a.value(r) },
                ),
            );
        }
    }
    for (k, i) in p.roles.masks.iter().enumerate() {
        let bad = || layout_err(name, "a mask is not a list of Boolean per feature");
        let (l, _) = list(b.column(*i).as_ref())
            .filter(|(_, w)| *w == p.features.len())
            .ok_or_else(bad)?;
        let v = l.value(r);
        let a = v.as_any().downcast_ref::<BooleanArray>().ok_or_else(bad)?;
        for (j, &f) in fpos.iter().enumerate().take(a.len()) {
            row.masks[mpos[k]][f] = !a.is_null(j) && a.value(j);
        }
    }
    for (k, i) in p.roles.scalars.iter().enumerate() {
        let a = b.column(*i).as_any().downcast_ref::<StringArray>();
        row.scalars[spos[k]] = a.and_then(|a| (!a.is_null(r)).then(|| a.value(r).to_string()));
    }
    Ok(row)
}

/// A run being read front to back: its part and a reader over its rows (in file order, which
/// is the run's order).
struct Run {
    part: usize,
    reader: ParquetRecordBatchReader,
}

/// A modality's rows, merged over its parts in (subject, session) order.
pub struct RowStream<'a> {
    planned: &'a Planned,
    /// (part, row) of every row, in the order they are yielded.
    order: Vec<(usize, usize)>,
    /// The first entry of `order` not yet read.
    next: usize,
    /// Rows decoded and not yet taken.
    ready: VecDeque<Row>,
    run: Option<Run>,
    batch_values: usize,
}

impl RowStream<'_> {
    /// The next row; None when every part is done.
    pub fn next_row(&mut self) -> Result<Option<Row>> {
        while self.ready.is_empty() && self.fill()? {}
        Ok(self.ready.pop_front())
    }

    /// Rows of a batch of part `part`.
    fn batch_rows(&self, part: usize) -> usize {
        let p = &self.planned.parts[part];
        let width = p.features.len().max(1) * (1 + p.masks.len());
        (self.batch_values / width).max(1)
    }

    /// A batch reader of part `part` over `rows` (ascending), `batch` rows a batch.
    fn reader(
        &self,
        part: usize,
        rows: &[usize],
        batch: usize,
    ) -> Result<ParquetRecordBatchReader> {
        let p = &self.planned.parts[part];
        let total = p.keys.len();
        let selection =
            RowSelection::from_consecutive_ranges(rows.iter().map(|&r| r..r + 1), total);
        open(&p.path, &p.name)?
            .with_batch_size(batch)
            .with_row_selection(selection)
            .build()
            .map_err(|source| Error::TableRead {
                name: p.name.clone(),
                source,
            })
    }

    /// The rows of one batch of part `part`, decoded.
    fn decode(&self, part: usize, b: &RecordBatch) -> Result<Vec<Row>> {
        let (p, map) = (&self.planned.parts[part], &self.planned.maps[part]);
        if b.num_columns() < 2 {
            return Err(layout_err(
                &p.name,
                "a part starts with subject and session",
            ));
        }
        (0..b.num_rows())
            .map(|r| decode_row(b, r, p, map, &self.planned.layout))
            .collect()
    }

    /// Reads the next rows into `ready`; false when every row has been read.
    fn fill(&mut self) -> Result<bool> {
        if let Some(run) = self.run.as_mut() {
            let name = &self.planned.parts[run.part].name;
            if let Some(b) = next_batch(&mut run.reader, name)? {
                let part = run.part;
                let rows = self.decode(part, &b)?;
                self.ready.extend(rows);
                return Ok(true);
            }
            self.run = None;
        }
        let Some(&(part, _)) = self.order.get(self.next) else {
            return Ok(false);
        };
        let batch = self.batch_rows(part);
        // The run: following rows of the same part; read front to back while its rows ascend.
        let rest = &self.order[self.next..];
        let same = rest.iter().take_while(|(p, _)| *p == part).count();
        let ascending = 1 + rest[..same]
            .windows(2)
            .take_while(|w| w[0].1 < w[1].1)
            .count();
        if ascending > 1 || same == 1 {
            let rows: Vec<usize> = rest[..ascending].iter().map(|&(_, r)| r).collect();
            self.next += ascending;
            let reader = self.reader(part, &rows, batch)?;
            self.run = Some(Run { part, reader });
            return Ok(true);
        }
        // Rows out of file order (a part not in subject order): a batch of them read in file
        // order by row selection, then put in order.
        let want: Vec<usize> = rest[..same.min(batch)].iter().map(|&(_, r)| r).collect();
        self.next += want.len();
        let mut sorted = want.clone();
        sorted.sort_unstable();
        let mut reader = self.reader(part, &sorted, batch)?;
        let name = &self.planned.parts[part].name;
        let mut got = Vec::with_capacity(sorted.len());
        while let Some(b) = next_batch(&mut reader, name)? {
            got.extend(self.decode(part, &b)?.into_iter().map(Some));
        }
        if got.len() != sorted.len() {
            return Err(layout_err(
                name,
                "a part has fewer rows than its metadata says",
            ));
        }
        for r in &want {
            let at = sorted.binary_search(r).unwrap_or_default();
            if let Some(row) = got[at].take() {
                self.ready.push_back(row);
            }
        }
        Ok(true)
    }
}
