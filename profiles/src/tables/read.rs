//! Reading the canonical table parts (`tables/<modality>/part-*.parquet`, written by ingest) into
//! rows of one modality, their features aligned across parts.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use arrow_array::{
    Array, BooleanArray, FixedSizeListArray, Float32Array, RecordBatch, StringArray,
};
use arrow_schema::DataType;

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
    /// The masks of the modality, in [`Rows::masks`] order, one flag per feature.
    pub masks: Vec<Vec<bool>>,
    /// The text columns of the modality, in [`Rows::scalars`] order.
    pub scalars: Vec<Option<String>>,
}

/// Every row of one modality, features aligned over its parts.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Rows {
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
    /// Rows, sorted by (subject, session), part order kept among equals.
    pub rows: Vec<Row>,
}

/// (subject, session, values, masks, text columns) of one part row, in the part's order.
type PartRow = (
    String,
    String,
    Vec<f32>,
    Vec<Vec<bool>>,
    Vec<Option<String>>,
);

/// One part as read.
struct Part {
    features: Vec<String>,
    masks: Vec<String>,
    scalars: Vec<String>,
    value: String,
    /// (subject, session, values, masks, scalars) in the part's feature order.
    rows: Vec<PartRow>,
}

fn layout(name: &str, what: &'static str) -> Error {
    Error::TableLayout {
        name: name.to_string(),
        what,
    }
}

fn read_batches(path: &Path, name: &str) -> Result<(HashMap<String, String>, Vec<RecordBatch>)> {
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    let f =
        std::fs::File::open(path).map_err(|e| Error::Shard(bomdata_shard::Error::io(path, e)))?;
    let parquet_err = |source| Error::TableRead {
        name: name.to_string(),
        source,
    };
    let b = ParquetRecordBatchReaderBuilder::try_new(f).map_err(parquet_err)?;
    let meta: HashMap<String, String> = b
        .schema()
        .metadata()
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let reader = b.build().map_err(parquet_err)?;
    let mut batches = Vec::new();
    for batch in reader {
        batches.push(batch.map_err(|e| Error::TableRead {
            name: name.to_string(),
            source: e.into(),
        })?);
    }
    Ok((meta, batches))
}

fn strings<'a>(b: &'a RecordBatch, i: usize, name: &str) -> Result<&'a StringArray> {
    b.column(i)
        .as_any()
        .downcast_ref::<StringArray>()
        .ok_or_else(|| layout(name, "subject and session must be Utf8 columns"))
}

/// The list column `c` as (flat values, width): Float32 or Boolean items.
fn list(c: &dyn Array) -> Option<(&FixedSizeListArray, usize)> {
    let l = c.as_any().downcast_ref::<FixedSizeListArray>()?;
    Some((l, usize::try_from(l.value_length()).ok()?))
}

fn f32_row(l: &FixedSizeListArray, r: usize) -> Option<Vec<f32>> {
    let v = l.value(r);
    let a = v.as_any().downcast_ref::<Float32Array>()?;
    Some(
        (0..a.len())
            .map(|i| if a.is_null(i) { f32::NAN } else { a.value(i) })
            .collect(),
    )
}

fn bool_row(l: &FixedSizeListArray, r: usize) -> Option<Vec<bool>> {
    let v = l.value(r);
    let a = v.as_any().downcast_ref::<BooleanArray>()?;
    Some((0..a.len()).map(|i| !a.is_null(i) && a.value(i)).collect())
}

/// Reads one part: list layout (features in the metadata) or one Float32 column per feature.
fn read_part(path: &Path, name: &str) -> Result<Part> {
    let (meta, batches) = read_batches(path, name)?;
    let value = meta
        .get(VALUE_KEY)
        .and_then(|v| serde_json::from_str::<String>(v).ok())
        .unwrap_or_default();
    let listed: Option<Vec<String>> = meta
        .get(FEATURES_KEY)
        .and_then(|v| serde_json::from_str(v).ok());
    let mut part = Part {
        features: Vec::new(),
        masks: Vec::new(),
        scalars: Vec::new(),
        value,
        rows: Vec::new(),
    };
    for (bi, b) in batches.iter().enumerate() {
        let schema = b.schema();
        if b.num_columns() < 2 {
            return Err(layout(name, "a part starts with subject and session"));
        }
        let subjects = strings(b, 0, name)?;
        let sessions = strings(b, 1, name)?;
        // Column roles, from the first batch's schema (every batch shares it).
        let mut values_col = None;
        let mut wide = Vec::new();
        let mut masks = Vec::new();
        let mut scalars = Vec::new();
        for (i, f) in schema.fields().iter().enumerate().skip(2) {
            let n = f.name();
            match f.data_type() {
                DataType::FixedSizeList(..) if n == VALUES => values_col = Some(i),
                DataType::FixedSizeList(..) => {
                    if let Some(m) = n.strip_prefix(MASK_PREFIX) {
                        masks.push((m.to_string(), i));
                    }
                }
                DataType::Float32 if listed.is_none() => wide.push((n.clone(), i)),
                DataType::Utf8 => scalars.push((n.clone(), i)),
                _ => {}
            }
        }
        if bi == 0 {
            part.features = match &listed {
                Some(l) if values_col.is_some() => l.clone(),
                Some(_) => Vec::new(),
                None => wide.iter().map(|(n, _)| n.clone()).collect(),
            };
            part.masks = masks.iter().map(|(n, _)| n.clone()).collect();
            part.scalars = scalars.iter().map(|(n, _)| n.clone()).collect();
        }
        let nf = part.features.len();
        for r in 0..b.num_rows() {
            let values = match values_col {
                Some(i) => {
                    let (l, w) = list(b.column(i).as_ref())
                        .ok_or_else(|| layout(name, "values is not a list of Float32"))?;
                    if w != nf {
                        return Err(layout(name, "values width differs from the feature list"));
                    }
                    f32_row(l, r).ok_or_else(|| layout(name, "values is not a list of Float32"))?
                }
                None => wide
                    .iter()
                    .map(|(_, i)| {
                        let a = b.column(*i).as_any().downcast_ref::<Float32Array>();
                        a.map_or(
                            f32::NAN,
                            |a| if a.is_null(r) { f32::NAN } else { a.value(r) },
                        )
                    })
                    .collect(),
            };
            let mut mrows = Vec::with_capacity(masks.len());
            for (_, i) in &masks {
                let m = list(b.column(*i).as_ref())
                    .filter(|(_, w)| *w == nf)
                    .and_then(|(l, _)| bool_row(l, r))
                    .ok_or_else(|| layout(name, "a mask is not a list of Boolean per feature"))?;
                mrows.push(m);
            }
            let srow = scalars
                .iter()
                .map(|(_, i)| {
                    let a = b.column(*i).as_any().downcast_ref::<StringArray>();
                    a.and_then(|a| (!a.is_null(r)).then(|| a.value(r).to_string()))
                })
                .collect();
            part.rows.push((
                subjects.value(r).to_string(),
                sessions.value(r).to_string(),
                values,
                mrows,
                srow,
            ));
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

/// Reads the parts listed in the input manifest (`tables/<modality>/...parquet`, in manifest
/// order), grouped by modality. Parts of M-values (`bomdata.value` = `m_value`, written beside
/// the beta parts of a signal table) are left out: the `tables` profile derives M-values from beta.
pub fn read_modalities(input: &Path, names: &[String]) -> Result<Vec<Rows>> {
    let mut by_mod: BTreeMap<String, Vec<Part>> = BTreeMap::new();
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
        let part = read_part(&input.join(name), name)?;
        if part.value == "m_value" {
            continue;
        }
        by_mod.entry(modality.to_string()).or_default().push(part);
    }
    Ok(by_mod
        .into_iter()
        .map(|(modality, parts)| merge(modality, parts))
        .collect())
}

/// One modality's parts as rows over the union of their features, masks and text columns.
fn merge(modality: String, parts: Vec<Part>) -> Rows {
    let mut out = Rows {
        modality,
        ..Rows::default()
    };
    let (mut fi, mut mi, mut si) = (HashMap::new(), HashMap::new(), HashMap::new());
    let mut maps = Vec::with_capacity(parts.len());
    for p in &parts {
        if out.value.is_empty() {
            out.value = p.value.clone();
        }
        maps.push((
            align(&mut out.features, &mut fi, &p.features),
            align(&mut out.masks, &mut mi, &p.masks),
            align(&mut out.scalars, &mut si, &p.scalars),
        ));
    }
    let (nf, nm, ns) = (out.features.len(), out.masks.len(), out.scalars.len());
    for (p, (fpos, mpos, spos)) in parts.into_iter().zip(maps) {
        for (subject, session, values, masks, scalars) in p.rows {
            let mut row = Row {
                subject,
                session,
                values: vec![f32::NAN; nf],
                na: vec![true; nf],
                masks: vec![vec![false; nf]; nm],
                scalars: vec![None; ns],
            };
            for (j, v) in values.into_iter().enumerate() {
                row.values[fpos[j]] = v;
                row.na[fpos[j]] = v.is_nan();
            }
            for (k, m) in masks.into_iter().enumerate() {
                for (j, x) in m.into_iter().enumerate() {
                    row.masks[mpos[k]][fpos[j]] = x;
                }
            }
            for (k, s) in scalars.into_iter().enumerate() {
                row.scalars[spos[k]] = s;
            }
            out.rows.push(row);
        }
    }
    // Stable: rows of one subject visit keep their part order.
    out.rows
        .sort_by(|a, b| (&a.subject, &a.session).cmp(&(&b.subject, &b.session)));
    out
}
