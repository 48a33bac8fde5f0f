//! Streaming the tables: the output does not depend on the read batch, and a table larger than
//! one row group holds the same rows as one written at once.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use arrow_array::{
    Array, ArrayRef, BooleanArray, FixedSizeListArray, Float32Array, RecordBatch, StringArray,
};
use arrow_schema::{DataType, Field, Schema};
use bomdata_schemas::manifest::{Counts, DatasetKind, Manifest, TableEntry};
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use super::transform::{Microbiome, Transforms};
use super::{Limits, carry_with};
use crate::build::{BuildOptions, SPLITS};

fn list(values: Vec<f32>, width: i32) -> ArrayRef {
    let item = Arc::new(Field::new("item", DataType::Float32, true));
    Arc::new(FixedSizeListArray::new(
        item,
        width,
        Arc::new(Float32Array::from(values)),
        None,
    ))
}

/// A list-layout part of `features` with a `detp` mask and a `batch` text column.
fn list_part(path: &Path, features: &[String], keys: &[(String, String)], seed: f32) {
    let w = features.len();
    let width = i32::try_from(w).unwrap();
    let n = keys.len();
    let vals: Vec<f32> = (0..n * w)
        .map(|i| {
            if i % 17 == 3 {
                f32::NAN
            } else {
                (i as f32 * 0.37 + seed).fract()
            }
        })
        .collect();
    let mask: Vec<bool> = (0..n * w).map(|i| i % 5 == 0).collect();
    let bitem = Arc::new(Field::new("item", DataType::Boolean, true));
    let cols: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from_iter_values(keys.iter().map(|k| &k.0))),
        Arc::new(StringArray::from_iter_values(keys.iter().map(|k| &k.1))),
        list(vals, width),
        Arc::new(FixedSizeListArray::new(
            bitem.clone(),
            width,
            Arc::new(BooleanArray::from(mask)),
            None,
        )),
        Arc::new(StringArray::from_iter(
            (0..n).map(|i| (i % 3 != 0).then(|| format!("b{i}"))),
        )),
    ];
    let item = Arc::new(Field::new("item", DataType::Float32, true));
    let fields = vec![
        Field::new("subject", DataType::Utf8, false),
        Field::new("session", DataType::Utf8, false),
        Field::new("values", DataType::FixedSizeList(item, width), false),
        Field::new("mask.detp", DataType::FixedSizeList(bitem, width), false),
        Field::new("batch", DataType::Utf8, true),
    ];
    let meta = [
        (
            "bomdata.features".to_string(),
            serde_json::to_string(features).unwrap(),
        ),
        ("bomdata.value".to_string(), "\"beta\"".to_string()),
    ];
    let schema = Arc::new(
        Schema::new(fields).with_metadata(
            meta.into_iter()
                .collect::<std::collections::HashMap<_, _>>(),
        ),
    );
    write(path, RecordBatch::try_new(schema, cols).unwrap());
}

/// A wide part: one Float32 column per feature.
fn wide_part(path: &Path, features: &[&str], keys: &[(String, String)]) {
    let mut fields = vec![
        Field::new("subject", DataType::Utf8, false),
        Field::new("session", DataType::Utf8, false),
    ];
    let mut cols: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from_iter_values(keys.iter().map(|k| &k.0))),
        Arc::new(StringArray::from_iter_values(keys.iter().map(|k| &k.1))),
    ];
    for (j, f) in features.iter().enumerate() {
        fields.push(Field::new(*f, DataType::Float32, true));
        cols.push(Arc::new(Float32Array::from_iter_values(
            (0..keys.len()).map(|i| ((i * 7 + j) % 11) as f32),
        )));
    }
    write(
        path,
        RecordBatch::try_new(Arc::new(Schema::new(fields)), cols).unwrap(),
    );
}

fn write(path: &Path, b: RecordBatch) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let mut w =
        ArrowWriter::try_new(std::fs::File::create(path).unwrap(), b.schema(), None).unwrap();
    w.write(&b).unwrap();
    w.close().unwrap();
}

fn keys(subjects: impl Iterator<Item = usize>, session: &str) -> Vec<(String, String)> {
    subjects
        .map(|i| (format!("s{i:02}"), session.to_string()))
        .collect()
}

/// Every file under `dir` (relative name → bytes).
fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let rel = p.strip_prefix(dir).unwrap().to_string_lossy().into_owned();
                out.insert(rel, std::fs::read(&p).unwrap());
            }
        }
    }
    out
}

/// The rows of a Parquet table, as one batch, and its row-group count.
fn rows(bytes: &[u8]) -> (RecordBatch, usize) {
    let mut f = tempfile::tempfile().unwrap();
    std::io::Write::write_all(&mut f, bytes).unwrap();
    let b = ParquetRecordBatchReaderBuilder::try_new(f).unwrap();
    let groups = b.metadata().num_row_groups();
    let mut batches: Vec<RecordBatch> = b
        .with_batch_size(1 << 20)
        .build()
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(batches.len(), 1);
    (batches.remove(0), groups)
}

#[test]
fn streamed_tables_do_not_depend_on_the_bounds() {
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("in");
    let fa: Vec<String> = (0..10).map(|i| format!("cg{i:03}")).collect();
    let fb: Vec<String> = (5..15).map(|i| format!("cg{i:03}")).collect();
    list_part(
        &input.join("tables/methylation/part-000.parquet"),
        &fa,
        &keys(0..40, "v1"),
        0.1,
    );
    // Out of order, and subject visits that part-000 also has (part order kept among equals).
    let mut kb = keys((0..40).rev().step_by(3), "v1");
    kb.extend(keys(10..20, "v2"));
    list_part(
        &input.join("tables/methylation/part-001.parquet"),
        &fb,
        &kb,
        0.5,
    );
    wide_part(
        &input.join("tables/microbiome/part-000.parquet"),
        &["t1", "t2", "t3"],
        &keys(0..30, ""),
    );
    let names = [
        "tables/methylation/part-000.parquet",
        "tables/methylation/part-001.parquet",
        "tables/microbiome/part-000.parquet",
    ];
    let manifest = Manifest {
        layout_version: String::new(),
        kind: DatasetKind::Canonical,
        tool: String::new(),
        sources: vec!["src".into()],
        profile: None,
        tokenizer: None,
        counts: Counts::default(),
        shards: Vec::new(),
        tables: names
            .iter()
            .map(|n| TableEntry {
                name: (*n).to_string(),
                rows: 0,
                checksum: String::new(),
            })
            .collect(),
    };
    let split = |s: &str| SPLITS[usize::from(s.as_bytes()[s.len() - 1]) % 3];
    let transforms = Transforms {
        microbiome: Microbiome::Clr { pseudocount: 1.0 },
        ..Transforms::default()
    };
    let opts = BuildOptions::default();
    let run = |name: &str, limits: Limits| {
        let out = tmp.path().join(name);
        std::fs::create_dir_all(&out).unwrap();
        let c = carry_with(&input, &out, &manifest, &split, &opts, &transforms, limits).unwrap();
        (files(&out), c)
    };
    let whole = Limits {
        batch_values: usize::MAX / 4,
        group_values: usize::MAX / 4,
    };
    let (a, ca) = run("whole", whole);
    let (b, cb) = run("default", Limits::default());
    // One row per read batch: the same bytes.
    let (c, cc) = run(
        "batch1",
        Limits {
            batch_values: 1,
            ..whole
        },
    );
    assert!(a.keys().any(|k| k.ends_with(".tar")) && a.contains_key("tables/pairs.json"));
    assert!(
        !a.keys().any(|k| k.ends_with(".tmp")),
        "spill files are removed"
    );
    assert_eq!(a, b);
    assert_eq!(a, c);
    assert_eq!(ca.tables, cb.tables);
    assert_eq!((ca.samples, &ca.subjects), (cc.samples, &cc.subjects));
    // Row groups of 2 rows: every file but the split tables has the same bytes, and the split
    // tables hold the same rows.
    let (d, cd) = run(
        "group2",
        Limits {
            batch_values: 1,
            group_values: 2 * 10 * 3,
        },
    );
    assert_eq!(a.keys().collect::<Vec<_>>(), d.keys().collect::<Vec<_>>());
    for (k, v) in &a {
        if k.ends_with(".parquet") && !k.ends_with("features.json") {
            let ((ra, ga), (rd, gd)) = (rows(v), rows(&d[k]));
            assert_eq!(ra, rd, "{k}");
            assert_eq!(ga, 1);
            if k.starts_with("tables/methylation/") {
                assert!(gd > 1, "{k}: {gd} row groups");
            }
        } else {
            assert_eq!(v, &d[k], "{k}");
        }
    }
    assert_eq!(ca.samples, cd.samples);
    assert_eq!(ca.samples, 40 + 14 + 10 + 30);
    // Rows in (subject, session) order, part order kept among equals.
    let (t, _) = rows(&a["tables/methylation/train.parquet"]);
    let subj = t.column(0).as_any().downcast_ref::<StringArray>().unwrap();
    let ses = t.column(1).as_any().downcast_ref::<StringArray>().unwrap();
    let k: Vec<(&str, &str)> = (0..t.num_rows())
        .map(|i| (subj.value(i), ses.value(i)))
        .collect();
    assert!(k.is_sorted());
    assert!(t.column(2).len() == t.num_rows());
}
