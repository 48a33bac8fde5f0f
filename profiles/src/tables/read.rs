//! Reading the canonical table parts (`tables/<modality>/part-*.parquet`, written by ingest) as
//! rows of one modality, their features aligned across parts, streamed: a first pass reads each
//! part's schema and its (subject, session) columns only ([`plan_modalities`]); the second
//! ([`Planned::rows`]) yields the rows in (subject, session) order, part order kept among equals,
//! holding one record batch per part (a part whose rows are not in that order, as ingest writes
//! them in sample order, is read a batch of rows at a time by row selection).

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fs::File;
use std::path::{Path, PathBuf};

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
    features: Vec<String>,
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
    /// Per part: positions of its features, masks and text columns in the layout.
    maps: Vec<[Vec<usize>; 3]>,
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
        features: Vec::new(),
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
    (part.roles, part.features, part.masks, part.scalars) = (roles, features, masks, scalars);
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
        let part = plan_part(&input.join(name), name)?;
        if part.value == "m_value" {
            continue;
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
        let mut maps = Vec::with_capacity(parts.len());
        for p in &parts {
            if layout.value.is_empty() {
                layout.value = p.value.clone();
            }
            maps.push([
                align(&mut layout.features, &mut fi, &p.features),
                align(&mut layout.masks, &mut mi, &p.masks),
                align(&mut layout.scalars, &mut si, &p.scalars),
            ]);
        }
        Planned {
            layout,
            parts,
            maps,
        }
    }

    /// The rows, in (subject, session) order, part order kept among equals. The parts share
    /// `limits.batch_values`: each holds a batch of at least one row.
    pub fn rows(&self, limits: ReadLimits) -> Result<RowStream<'_>> {
        let limits = ReadLimits {
            batch_values: limits.batch_values / self.parts.len().max(1),
        };
        let mut cursors = Vec::with_capacity(self.parts.len());
        for (i, p) in self.parts.iter().enumerate() {
            cursors.push(Cursor::open(self, i, p, limits)?);
        }
        Ok(RowStream { cursors })
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

/// The rows of one part, in (subject, session) order.
struct Cursor<'a> {
    planned: &'a Planned,
    part: usize,
    /// Rows decoded and not yet taken.
    ready: VecDeque<Row>,
    /// The batch reader of a part whose rows are in order (None once read).
    reader: Option<ParquetRecordBatchReader>,
    /// A part whose rows are not in order: its row numbers in (subject, session) order (stable),
    /// read a batch of rows at a time by row selection; `next` is the first not yet read.
    order: Vec<usize>,
    next: usize,
    batch: usize,
}

impl<'a> Cursor<'a> {
    fn open(planned: &'a Planned, i: usize, p: &PartInfo, limits: ReadLimits) -> Result<Self> {
        let width = p.features.len().max(1) * (1 + p.masks.len());
        let mut c = Cursor {
            planned,
            part: i,
            ready: VecDeque::new(),
            reader: None,
            order: Vec::new(),
            next: 0,
            batch: (limits.batch_values / width).max(1),
        };
        if p.keys.is_empty() {
            return Ok(c);
        }
        if p.keys.is_sorted() {
            c.reader = Some(c.reader(None)?);
        } else {
            c.order = (0..p.keys.len()).collect();
            c.order.sort_by_key(|&r| &p.keys[r]);
        }
        Ok(c)
    }

    /// A batch reader of the part, over the selected rows.
    fn reader(&self, rows: Option<RowSelection>) -> Result<ParquetRecordBatchReader> {
        let p = &self.planned.parts[self.part];
        let mut b = open(&p.path, &p.name)?.with_batch_size(self.batch);
        if let Some(rows) = rows {
            b = b.with_row_selection(rows);
        }
        b.build().map_err(|source| Error::TableRead {
            name: p.name.clone(),
            source,
        })
    }

    /// The rows of one batch, decoded.
    fn decode(&self, b: &RecordBatch) -> Result<Vec<Row>> {
        let (p, map) = (
            &self.planned.parts[self.part],
            &self.planned.maps[self.part],
        );
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

    /// Reads the next rows into `ready`; false when the part is done.
    fn fill(&mut self) -> Result<bool> {
        let name = &self.planned.parts[self.part].name;
        if let Some(reader) = self.reader.as_mut() {
            let Some(b) = next_batch(reader, name)? else {
                self.reader = None;
                return Ok(false);
            };
            let rows = self.decode(&b)?;
            self.ready.extend(rows);
            return Ok(true);
        }
        if self.next >= self.order.len() {
            return Ok(false);
        }
        // The next rows in order, read in file order, then put in order.
        let want = &self.order[self.next..(self.next + self.batch).min(self.order.len())];
        self.next += want.len();
        let mut sorted = want.to_vec();
        sorted.sort_unstable();
        let total = self.planned.parts[self.part].keys.len();
        let selection =
            RowSelection::from_consecutive_ranges(sorted.iter().map(|&r| r..r + 1), total);
        let mut reader = self.reader(Some(selection))?;
        let mut got = Vec::with_capacity(sorted.len());
        while let Some(b) = next_batch(&mut reader, name)? {
            got.extend(self.decode(&b)?.into_iter().map(Some));
        }
        if got.len() != sorted.len() {
            return Err(layout_err(
                name,
                "a part has fewer rows than its metadata says",
            ));
        }
        for r in want {
            let at = sorted.binary_search(r).unwrap_or_default();
            if let Some(row) = got[at].take() {
                self.ready.push_back(row);
            }
        }
        Ok(true)
    }

    /// The next row, reading a batch when needed.
    fn head(&mut self) -> Result<Option<&Row>> {
        while self.ready.is_empty() && self.fill()? {}
        Ok(self.ready.front())
    }
}

/// A modality's rows, merged over its parts in (subject, session) order.
pub struct RowStream<'a> {
    cursors: Vec<Cursor<'a>>,
}

impl RowStream<'_> {
    /// The next row; None when every part is done.
    pub fn next_row(&mut self) -> Result<Option<Row>> {
        for c in &mut self.cursors {
            c.head()?;
        }
        let mut best: Option<(usize, (&str, &str))> = None;
        for (i, c) in self.cursors.iter().enumerate() {
            if let Some(r) = c.ready.front() {
                let k = (r.subject.as_str(), r.session.as_str());
                if best.is_none_or(|(_, b)| k < b) {
                    best = Some((i, k));
                }
            }
        }
        let i = best.map(|(i, _)| i);
        Ok(i.and_then(|i| self.cursors[i].ready.pop_front()))
    }
}
