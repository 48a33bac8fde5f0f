//! Round trip through Python: Parquet written by this crate read by pyarrow and polars gives the
//! values we wrote; the Olink pivot equals `pandas.pivot_table` of the same file.

#![allow(clippy::unwrap_used, clippy::panic)]

use std::fs::File;
use std::path::Path;
use std::process::Command;

use bomdata_table::{methylation, olink, table};

fn python(script: &str, args: &[&Path]) -> String {
    let py = bomdata_testdata::require_python();
    let out = Command::new(&py)
        .arg("-c")
        .arg(script)
        .args(args)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "python failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

const READ_BOTH: &str = r#"
import json, math, sys
import pyarrow.parquet as pq
import polars as pl
def norm(v):
    if isinstance(v, float) and math.isnan(v):
        return "NaN"
    return v
a = pq.read_table(sys.argv[1]).to_pydict()
b = pl.read_parquet(sys.argv[1]).to_dict(as_series=False)
a = {k: [norm(x) for x in v] for k, v in a.items()}
b = {k: [norm(x) for x in v] for k, v in b.items()}
assert a == b, "pyarrow and polars disagree"
print(json.dumps(a))
"#;

#[test]
fn parquet_read_by_pyarrow_and_polars() {
    let text =
        "id\tage\tscore\tsite\nsub-01\t33\t1.5\tA\nsub-02\tNA\t-2.25\t\nsub-03\t41\tNaN\tC\n";
    let t = table::read_delimited(text.as_bytes(), "p.tsv", None).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.parquet");
    table::write_parquet(&t.batch, File::create(&path).unwrap()).unwrap();
    let got: serde_json::Value = serde_json::from_str(&python(READ_BOTH, &[&path])).unwrap();
    let want = serde_json::json!({
        "id": ["sub-01", "sub-02", "sub-03"],
        "age": [33, null, 41],
        "score": [1.5, -2.25, null],
        "site": ["A", null, "C"],
    });
    assert_eq!(got, want);
    // And our own reader gives the batch back unchanged.
    assert_eq!(table::read_parquet(&path).unwrap().batch, t.batch);
}

#[test]
fn methylation_parquet_read_by_pyarrow_and_polars() {
    let root = bomdata_testdata::require_fixtures();
    let csv = root.join("methylation/GSE111165_test.csv");
    let t = table::read_path(&csv).unwrap();
    let m = methylation::beta_matrix(&t).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("beta.parquet");
    let input = std::io::BufReader::new(File::open(&csv).unwrap());
    let s = methylation::convert_to_parquet(
        input,
        "GSE111165_test.csv",
        File::create(&path).unwrap(),
        64,
    )
    .unwrap();
    assert_eq!(s.sample_ids, m.sample_ids);
    let got: serde_json::Value = serde_json::from_str(&python(READ_BOTH, &[&path])).unwrap();
    let ids: Vec<&str> = got["probe_id"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(ids, m.probe_ids);
    let ns = m.sample_ids.len();
    for (j, sample) in m.sample_ids.iter().enumerate() {
        let col = got[sample].as_array().unwrap();
        for (i, v) in col.iter().enumerate() {
            // Parquet holds float32; Python widens it to float64 exactly.
            assert_eq!(
                v.as_f64().unwrap() as f32,
                m.values[i * ns + j],
                "{sample} row {i}"
            );
        }
    }
}

const PANDAS_PIVOT: &str = r#"
import sys
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
sep = ";"
df = pd.read_csv(sys.argv[1], sep=sep)
w = df.pivot_table(index="SampleID", columns="OlinkID", values="NPX", aggfunc="mean")
ours = pq.read_table(sys.argv[2]).to_pandas().set_index("SampleID")
assert list(ours.index) == list(w.index), (list(ours.index), list(w.index))
assert list(ours.columns) == list(w.columns), "columns differ"
a, b = ours.to_numpy(dtype=float), w.to_numpy(dtype=float)
assert (np.isnan(a) == np.isnan(b)).all(), "missing cells differ"
assert np.allclose(a[~np.isnan(a)], b[~np.isnan(b)], rtol=0, atol=1e-12), "values differ"
print("ok", w.shape[0], w.shape[1])
"#;

#[test]
fn olink_pivot_equals_pandas() {
    let root = bomdata_testdata::require_fixtures();
    for name in ["olink/npx_data_v3.csv", "olink/Example_NPX_Data2_1.csv"] {
        let csv = root.join(name);
        let t = table::read_path(&csv).unwrap();
        // pandas pivots every sample and averages repeats: ask for exactly that.
        let opts = olink::PivotOptions {
            duplicates: olink::Duplicates::Mean,
            drop_controls: false,
            bridge_ids: Vec::new(),
        };
        let w = olink::pivot(&t, &opts).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("npx.parquet");
        table::write_parquet(&w.npx_batch().unwrap(), File::create(&path).unwrap()).unwrap();
        let out = python(PANDAS_PIVOT, &[&csv, &path]);
        assert_eq!(
            out.trim(),
            format!("ok {} {}", w.sample_ids.len(), w.olink_ids.len()),
            "{name}"
        );
    }
}
