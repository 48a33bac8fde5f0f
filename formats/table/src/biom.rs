//! BIOM tables: v1 JSON (sparse and dense) and v2.1 HDF5 (cargo feature `hdf5`).
//!
//! A table is observations (OTUs, ASVs, taxa) × samples. [`Biom::to_batch`] turns it into one row
//! per sample with one Float64 column per observation. [`Biom::relative_abundance`] and
//! [`Biom::clr`] transform per sample, the zero replacement and log base given explicitly.

use std::io;
use std::path::Path;
use std::sync::Arc;

use arrow_array::{ArrayRef, Float64Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema};
use serde_json::Value;

use crate::TableError;

/// A BIOM table in memory.
#[derive(Clone, Debug, PartialEq)]
pub struct Biom {
    /// `"json"` or `"hdf5"`.
    pub container: &'static str,
    /// Table ID (`id`), when set.
    pub id: Option<String>,
    /// Table type (`"OTU table"`, ...).
    pub kind: String,
    /// `generated_by`.
    pub generated_by: String,
    /// Observation IDs (rows).
    pub observation_ids: Vec<String>,
    /// Sample IDs (columns).
    pub sample_ids: Vec<String>,
    /// Stored entries `(observation, sample, value)`, in file order.
    pub entries: Vec<(usize, usize, f64)>,
    /// Observation metadata (JSON; null when absent).
    pub observation_metadata: Vec<Value>,
    /// Sample metadata (JSON; null when absent).
    pub sample_metadata: Vec<Value>,
}

/// How zeros are replaced before a log-ratio transform.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ZeroReplacement {
    /// Add this pseudocount to every count (1, 0.5 and 0.1 are common).
    Pseudocount(f64),
    /// Multiplicative replacement: zeros become `delta`, non-zero parts of the sample's
    /// composition are shrunk by `(1 - k·delta)` (Martín-Fernández et al.).
    Multiplicative {
        /// Replacement value on the closed (relative abundance) scale.
        delta: f64,
    },
}

/// Taxonomy ranks split from a `d__Bacteria;p__...` (GTDB) or `k__...` (Greengenes) string/list.
pub fn parse_taxonomy(v: &Value) -> Vec<(String, String)> {
    let parts: Vec<String> = match v {
        Value::String(s) => s.split(';').map(|p| p.trim().to_string()).collect(),
        Value::Array(a) => a
            .iter()
            .filter_map(|x| x.as_str().map(|s| s.trim().to_string()))
            .collect(),
        _ => Vec::new(),
    };
    parts
        .into_iter()
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once("__") {
            Some((rank, name)) => (rank.to_string(), name.to_string()),
            None => (String::new(), p),
        })
        .collect()
}

fn bad(file: &str, field: &str, why: &str) -> io::Error {
    TableError::new(file, why).at_column(field).into_io()
}

impl Biom {
    /// Reads a BIOM file, JSON or (with the `hdf5` feature) HDF5.
    pub fn read(path: &Path) -> io::Result<Biom> {
        let head = crate::table::head_bytes(path, 8)?;
        if head.starts_with(b"\x89HDF\r\n\x1a\n") {
            #[cfg(feature = "hdf5")]
            return hdf5_read(path);
            #[cfg(not(feature = "hdf5"))]
            return Err(TableError::new(
                path.display().to_string(),
                "biom v2 (hdf5) needs the `hdf5` feature of bomdata-table",
            )
            .into_io());
        }
        let bytes = std::fs::read(path)?;
        Biom::from_json(&bytes, &path.display().to_string())
    }

    /// Parses BIOM v1 JSON.
    pub fn from_json(bytes: &[u8], file: &str) -> io::Result<Biom> {
        let v: Value = serde_json::from_slice(bytes)
            .map_err(|e| TableError::new(file, format!("not json: {e}")).into_io())?;
        let obj = v
            .as_object()
            .ok_or_else(|| bad(file, "(root)", "not a json object"))?;
        let ids = |key: &str| -> io::Result<(Vec<String>, Vec<Value>)> {
            let arr = obj
                .get(key)
                .and_then(|x| x.as_array())
                .ok_or_else(|| bad(file, key, "missing or not a list"))?;
            let mut ids = Vec::with_capacity(arr.len());
            let mut md = Vec::with_capacity(arr.len());
            for (i, e) in arr.iter().enumerate() {
                let id = e
                    .get("id")
                    .and_then(|x| x.as_str())
                    .ok_or_else(|| bad(file, key, &format!("entry {i} has no string id")))?;
                ids.push(id.to_string());
                md.push(e.get("metadata").cloned().unwrap_or(Value::Null));
            }
            Ok((ids, md))
        };
        let (observation_ids, observation_metadata) = ids("rows")?;
        let (sample_ids, sample_metadata) = ids("columns")?;
        let (nr, nc) = (observation_ids.len(), sample_ids.len());
        if let Some(shape) = obj.get("shape").and_then(|s| s.as_array()) {
            let s: Vec<u64> = shape.iter().filter_map(|x| x.as_u64()).collect();
            if s != [nr as u64, nc as u64] {
                return Err(bad(
                    file,
                    "shape",
                    &format!("shape {s:?} disagrees with {nr} rows and {nc} columns"),
                ));
            }
        }
        let mtype = obj
            .get("matrix_type")
            .and_then(|x| x.as_str())
            .unwrap_or("sparse");
        let data = obj
            .get("data")
            .and_then(|x| x.as_array())
            .ok_or_else(|| bad(file, "data", "missing or not a list"))?;
        let num = |x: &Value, i: usize| -> io::Result<f64> {
            x.as_f64()
                .ok_or_else(|| bad(file, "data", &format!("entry {i}: value is not a number")))
        };
        let mut entries = Vec::new();
        match mtype {
            "sparse" => {
                for (i, t) in data.iter().enumerate() {
                    let t = t.as_array().filter(|t| t.len() == 3).ok_or_else(|| {
                        bad(file, "data", &format!("entry {i} is not [row, col, value]"))
                    })?;
                    let (r, c) = (t[0].as_u64(), t[1].as_u64());
                    let (Some(r), Some(c)) = (r, c) else {
                        return Err(bad(
                            file,
                            "data",
                            &format!("entry {i}: row/column is not an index"),
                        ));
                    };
                    if r as usize >= nr || c as usize >= nc {
                        return Err(bad(
                            file,
                            "data",
                            &format!("entry {i}: [{r}, {c}] is outside the {nr}x{nc} shape"),
                        ));
                    }
                    entries.push((r as usize, c as usize, num(&t[2], i)?));
                }
            }
            "dense" => {
                if data.len() != nr {
                    return Err(bad(
                        file,
                        "data",
                        &format!("{} rows, expected {nr}", data.len()),
                    ));
                }
                for (r, row) in data.iter().enumerate() {
                    let row = row.as_array().filter(|x| x.len() == nc).ok_or_else(|| {
                        bad(file, "data", &format!("row {r} does not have {nc} values"))
                    })?;
                    for (c, x) in row.iter().enumerate() {
                        let v = num(x, r)?;
                        if v != 0.0 {
                            entries.push((r, c, v));
                        }
                    }
                }
            }
            other => {
                return Err(bad(
                    file,
                    "matrix_type",
                    &format!("unknown matrix type {other:?}"),
                ));
            }
        }
        let text = |k: &str| obj.get(k).and_then(|x| x.as_str()).map(|s| s.to_string());
        Ok(Biom {
            container: "json",
            id: text("id"),
            kind: text("type").unwrap_or_default(),
            generated_by: text("generated_by").unwrap_or_default(),
            observation_ids,
            sample_ids,
            entries,
            observation_metadata,
            sample_metadata,
        })
    }

    /// `[observations, samples]`.
    pub fn shape(&self) -> [usize; 2] {
        [self.observation_ids.len(), self.sample_ids.len()]
    }

    /// The dense matrix, observations × samples, row-major (duplicate entries are summed).
    pub fn dense(&self) -> Vec<f64> {
        let nc = self.sample_ids.len();
        let mut m = vec![0.0; self.observation_ids.len() * nc];
        for &(r, c, v) in &self.entries {
            m[r * nc + c] += v;
        }
        m
    }

    /// Non-zero stored values.
    pub fn nnz(&self) -> usize {
        self.entries.iter().filter(|e| e.2 != 0.0).count()
    }

    /// Per-sample totals.
    pub fn sample_sums(&self) -> Vec<f64> {
        let mut s = vec![0.0; self.sample_ids.len()];
        for &(_, c, v) in &self.entries {
            s[c] += v;
        }
        s
    }

    /// Per-observation totals.
    pub fn observation_sums(&self) -> Vec<f64> {
        let mut s = vec![0.0; self.observation_ids.len()];
        for &(r, _, v) in &self.entries {
            s[r] += v;
        }
        s
    }

    /// Samples × observations, row-major (the transpose of [`Biom::dense`]).
    pub fn by_sample(&self) -> Vec<f64> {
        let no = self.observation_ids.len();
        let mut m = vec![0.0; self.sample_ids.len() * no];
        for &(r, c, v) in &self.entries {
            m[c * no + r] += v;
        }
        m
    }

    /// Relative abundance, samples × observations (a sample with total 0 is all NaN).
    pub fn relative_abundance(&self) -> Vec<f64> {
        let no = self.observation_ids.len();
        let mut m = self.by_sample();
        for row in m.chunks_mut(no.max(1)) {
            let t: f64 = row.iter().sum();
            row.iter_mut()
                .for_each(|x| *x = if t > 0.0 { *x / t } else { f64::NAN });
        }
        m
    }

    /// Centred log-ratio per sample, samples × observations, with the zero replacement and the
    /// log base given.
    pub fn clr(&self, zero: ZeroReplacement, log_base: f64) -> Vec<f64> {
        let no = self.observation_ids.len();
        let mut m = self.by_sample();
        let lb = log_base.ln();
        for row in m.chunks_mut(no.max(1)) {
            match zero {
                ZeroReplacement::Pseudocount(p) => row.iter_mut().for_each(|x| *x += p),
                ZeroReplacement::Multiplicative { delta } => {
                    let t: f64 = row.iter().sum();
                    if t > 0.0 {
                        let k = row.iter().filter(|x| **x == 0.0).count() as f64;
                        row.iter_mut().for_each(|x| {
                            *x = if *x == 0.0 {
                                delta
                            } else {
                                (*x / t) * (1.0 - k * delta)
                            }
                        });
                    }
                }
            }
            let logs: Vec<f64> = row.iter().map(|x| x.ln() / lb).collect();
            let mean = logs.iter().sum::<f64>() / logs.len().max(1) as f64;
            row.iter_mut().zip(logs).for_each(|(x, l)| *x = l - mean);
        }
        m
    }

    /// One row per sample: `sample_id` then one Float64 column per observation, from `values`
    /// laid out samples × observations (e.g. [`Biom::by_sample`], [`Biom::clr`]).
    pub fn to_batch(&self, values: &[f64]) -> io::Result<RecordBatch> {
        let no = self.observation_ids.len();
        let ns = self.sample_ids.len();
        if values.len() != no * ns {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "values do not match the table shape",
            ));
        }
        let mut fields = vec![Field::new("sample_id", DataType::Utf8, false)];
        fields.extend(
            self.observation_ids
                .iter()
                .map(|o| Field::new(o, DataType::Float64, false)),
        );
        let mut cols: Vec<ArrayRef> = vec![Arc::new(StringArray::from(self.sample_ids.clone()))];
        for j in 0..no {
            cols.push(Arc::new(Float64Array::from(
                (0..ns).map(|i| values[i * no + j]).collect::<Vec<_>>(),
            )));
        }
        RecordBatch::try_new(Arc::new(Schema::new(fields)), cols).map_err(io::Error::other)
    }
}

#[cfg(feature = "hdf5")]
fn hdf5_read(path: &Path) -> io::Result<Biom> {
    use hdf5_metno as h5;
    let file = path.display().to_string();
    let h5err = |what: &str, e: h5::Error| {
        TableError::new(&file, format!("{what}: {}", e.to_string().to_lowercase()))
            .at_column(what)
            .into_io()
    };
    let f = h5::File::open(path).map_err(|e| h5err("(file)", e))?;
    let ds = |name: &str| -> io::Result<h5::Dataset> {
        f.dataset(name).map_err(|_| {
            TableError::new(&file, format!("missing dataset {name}"))
                .at_column(name)
                .into_io()
        })
    };
    let strings = |name: &str| -> io::Result<Vec<String>> {
        let d = ds(name)?;
        if let Ok(v) = d.read_raw::<h5::types::VarLenUnicode>() {
            return Ok(v.into_iter().map(|s| s.as_str().to_string()).collect());
        }
        if let Ok(v) = d.read_raw::<h5::types::VarLenAscii>() {
            return Ok(v.into_iter().map(|s| s.as_str().to_string()).collect());
        }
        Err(
            TableError::new(&file, format!("dataset {name} is not a string list"))
                .at_column(name)
                .into_io(),
        )
    };
    let attr_text = |name: &str| -> Option<String> {
        let a = f.attr(name).ok()?;
        if let Ok(s) = a.read_scalar::<h5::types::VarLenUnicode>() {
            return Some(s.as_str().to_string());
        }
        if let Ok(s) = a.read_scalar::<h5::types::VarLenAscii>() {
            return Some(s.as_str().to_string());
        }
        None
    };
    let observation_ids = strings("observation/ids")?;
    let sample_ids = strings("sample/ids")?;
    let data: Vec<f64> = ds("observation/matrix/data")?
        .read_raw::<f64>()
        .map_err(|e| h5err("observation/matrix/data", e))?;
    let indices: Vec<i64> = ds("observation/matrix/indices")?
        .read_raw::<i64>()
        .map_err(|e| h5err("observation/matrix/indices", e))?;
    let indptr: Vec<i64> = ds("observation/matrix/indptr")?
        .read_raw::<i64>()
        .map_err(|e| h5err("observation/matrix/indptr", e))?;
    let (nr, nc) = (observation_ids.len(), sample_ids.len());
    if indptr.len() != nr + 1 || indices.len() != data.len() {
        return Err(TableError::new(
            &file,
            format!(
                "csr arrays disagree: {} ids, indptr {}, indices {}, data {}",
                nr,
                indptr.len(),
                indices.len(),
                data.len()
            ),
        )
        .at_column("observation/matrix")
        .into_io());
    }
    let mut entries = Vec::with_capacity(data.len());
    for r in 0..nr {
        let (a, b) = (indptr[r], indptr[r + 1]);
        if a < 0 || b < a || b as usize > data.len() {
            return Err(
                TableError::new(&file, format!("indptr entry {r} is out of range"))
                    .at_column("observation/matrix/indptr")
                    .into_io(),
            );
        }
        for k in a as usize..b as usize {
            let c = indices[k];
            if c < 0 || c as usize >= nc {
                return Err(TableError::new(
                    &file,
                    format!("index {c} at position {k} is outside {nc} samples"),
                )
                .at_column("observation/matrix/indices")
                .into_io());
            }
            entries.push((r, c as usize, data[k]));
        }
    }
    Ok(Biom {
        container: "hdf5",
        id: attr_text("id"),
        kind: attr_text("type").unwrap_or_default(),
        generated_by: attr_text("generated-by").unwrap_or_default(),
        observation_metadata: vec![Value::Null; nr],
        sample_metadata: vec![Value::Null; nc],
        observation_ids,
        sample_ids,
        entries,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dense_json_and_clr() {
        let j = br#"{"id":null,"format":"Biological Observation Matrix 1.0.0","type":"OTU table","generated_by":"t",
            "rows":[{"id":"o1","metadata":{"taxonomy":["d__Bacteria","p__Firmicutes"]}},{"id":"o2","metadata":null}],
            "columns":[{"id":"s1","metadata":null},{"id":"s2","metadata":null}],
            "matrix_type":"dense","matrix_element_type":"int","shape":[2,2],"data":[[1,0],[3,4]]}"#;
        let b = Biom::from_json(j, "t").unwrap();
        assert_eq!(b.dense(), [1.0, 0.0, 3.0, 4.0]);
        assert_eq!(b.relative_abundance(), [0.25, 0.75, 0.0, 1.0]);
        let c = b.clr(ZeroReplacement::Pseudocount(1.0), 2.0);
        assert!((c[0] - (-0.5)).abs() < 1e-12);
        let tax = parse_taxonomy(&b.observation_metadata[0]["taxonomy"]);
        assert_eq!(tax[1], ("p".to_string(), "Firmicutes".to_string()));
    }
}
