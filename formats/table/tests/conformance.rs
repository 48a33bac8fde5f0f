//! `probe` against the reference readers' `*.expected.json` for every Olink, methylation and BIOM
//! fixture and every BIDS `participants.tsv`.
//!
//! Statistics convention: the fixtures' `n` counts every value (NaN included, numpy `a.size`),
//! `bomdata_format_core::Stats` counts finite values in `n`; so expected `n` == ours `n + n_nonfinite`.
//! Column names of empty header cells follow pandas (`Unnamed: <i>`, repeats `.1`), which is what
//! `Table::column_names` does, so names compare exactly.

#![allow(clippy::unwrap_used, clippy::panic)]

use std::path::{Path, PathBuf};

use bomdata_format_core::ProbeOptions;
use bomdata_table::probe;
use serde_json::Value;

fn expected(path: &Path) -> Value {
    let p = PathBuf::from(format!("{}.expected.json", path.display()));
    let text = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    serde_json::from_str(&text).unwrap()
}

fn close(a: f64, b: f64) -> bool {
    a == b || (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1e-12)
}

fn num(v: &Value) -> f64 {
    match v {
        Value::Number(n) => n.as_f64().unwrap(),
        Value::String(s) if s == "NaN" => f64::NAN,
        other => panic!("not a number: {other}"),
    }
}

fn check_stats(what: &str, exp: &Value, got: &Value) {
    let n = got["n"].as_u64().unwrap() + got["n_nonfinite"].as_u64().unwrap();
    assert_eq!(exp["n"].as_u64().unwrap(), n, "{what}: n");
    assert_eq!(
        exp["n_nonfinite"], got["n_nonfinite"],
        "{what}: n_nonfinite"
    );
    for k in ["sum", "mean", "std", "min", "max"] {
        if let Some(e) = exp.get(k) {
            let (e, g) = (num(e), num(&got[k]));
            assert!(close(e, g), "{what}: {k} expected {e}, got {g}");
        }
    }
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| !p.to_string_lossy().ends_with(".expected.json"))
        .collect();
    v.sort();
    assert!(!v.is_empty(), "{} is empty", dir.display());
    v
}

fn check_table(path: &Path, exp: &Value, got: &Value) {
    let what = path.display().to_string();
    assert_eq!(exp["shape"], got["shape"], "{what}: shape");
    assert_eq!(exp["columns"], got["columns"], "{what}: columns");
    assert_eq!(exp["na_counts"], got["na_counts"], "{what}: na_counts");
    let es = exp["numeric_column_stats"].as_object().unwrap();
    // The fixtures truncate to the first 60 numeric columns; every one of them must match, and we
    // must not call a column numeric that pandas did not (compare the dtypes for the rest).
    for (c, e) in es {
        let g = got["numeric_column_stats"]
            .get(c)
            .unwrap_or_else(|| panic!("{what}: {c} not numeric"));
        check_stats(&format!("{what}: {c}"), e, g);
    }
    for (c, t) in exp["dtypes"].as_object().unwrap() {
        let pandas_numeric =
            t.as_str().unwrap().starts_with("int") || t.as_str().unwrap().starts_with("float");
        let ours = got["numeric_column_stats"].get(c).is_some();
        assert_eq!(
            pandas_numeric, ours,
            "{what}: column {c} numeric? pandas {t}"
        );
    }
    for (k, v) in exp.as_object().unwrap() {
        if k.starts_with("n_unique_")
            || k == "wide_pivot_mean_NPX_shape"
            || k == "probe_id_column"
            || k == "n_probes"
            || k == "first_5_probe_ids"
            || k == "probe_prefix_counts"
        {
            assert_eq!(v, &got[k], "{what}: {k}");
        }
        if k == "wide_pivot_mean_NPX_stats" || k == "all_float_values_stats" {
            check_stats(&format!("{what}: {k}"), v, &got[k]);
        }
    }
}

#[test]
fn olink_fixtures() {
    let root = bomdata_testdata::require_fixtures();
    for p in files(&root.join("olink")) {
        let exp = expected(&p);
        let got = probe::probe(&p, &ProbeOptions::default())
            .unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        assert_eq!(got["format"], "olink_npx", "{}", p.display());
        check_table(&p, &exp, &got);
    }
}

#[test]
fn methylation_fixtures() {
    let root = bomdata_testdata::require_fixtures();
    for p in files(&root.join("methylation")) {
        let exp = expected(&p);
        let got = probe::probe(&p, &ProbeOptions::default())
            .unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        // The fixtures call it "methylation_table"; PROBE.md names the format "methylation".
        assert_eq!(got["format"], "methylation");
        check_table(&p, &exp, &got);
        // And the matrix reader takes it: 200 probes × 200 samples, index columns skipped.
        let t = bomdata_table::table::read_path(&p).unwrap();
        let m = bomdata_table::methylation::beta_matrix(&t).unwrap();
        assert_eq!(
            m.probe_ids.len(),
            exp["n_probes"].as_u64().unwrap() as usize
        );
        assert_eq!(
            m.sample_ids.len(),
            exp["shape"][1].as_u64().unwrap() as usize - 3
        );
    }
}

fn check_biom(p: &Path, exp: &Value) {
    let what = p.display().to_string();
    let got = probe::probe(p, &ProbeOptions::default()).unwrap_or_else(|e| panic!("{what}: {e}"));
    assert_eq!(got["format"], "biom");
    assert_eq!(exp["container"], got["container"], "{what}");
    assert_eq!(exp["shape_obs_by_samples"], got["shape"], "{what}");
    assert_eq!(exp["sample_ids"], got["columns"], "{what}");
    assert_eq!(exp["observation_ids"], got["observation_ids"], "{what}");
    assert_eq!(exp["nnz"], got["nnz"], "{what}");
    assert_eq!(exp["type"], got["type"], "{what}");
    assert_eq!(exp["generated_by"], got["generated_by"], "{what}");
    // biom-format drops a v1 JSON table's `id` (it reports null for rich_sparse_otu_table.biom,
    // whose `id` is "w00asdt"); the BIOM 1.0 spec defines `id` as the table's ID, so we report it.
    if exp["container"] == "hdf5" || got["table_id"].is_null() {
        assert_eq!(exp["table_id"], got["table_id"], "{what}");
    }
    assert!(close(num(&exp["total_sum"]), num(&got["total_sum"])));
    assert_eq!(exp["sample_sums"], got["sample_sums"], "{what}");
    assert_eq!(exp["observation_sums"], got["observation_sums"], "{what}");
    let b = bomdata_table::biom::Biom::read(p).unwrap();
    let dense: Vec<f64> = exp["dense_matrix_obs_by_samples"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| r.as_array().unwrap().iter().map(num))
        .collect();
    assert_eq!(b.dense(), dense, "{what}: dense");
    for (i, md) in exp["observation_metadata_first3"]
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
    {
        assert_eq!(
            &b.observation_metadata[i], md,
            "{what}: observation metadata {i}"
        );
    }
    for (i, md) in exp["sample_metadata_first3"]
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
    {
        assert_eq!(&b.sample_metadata[i], md, "{what}: sample metadata {i}");
    }
}

#[test]
fn biom_fixtures() {
    let root = bomdata_testdata::require_fixtures();
    for p in files(&root.join("biom")) {
        let exp = expected(&p);
        if exp["container"] == "hdf5" && !cfg!(feature = "hdf5") {
            // Without the feature the file must be refused clearly, never misread.
            let e = probe::probe(&p, &ProbeOptions::default()).unwrap_err();
            assert!(e.to_string().contains("`hdf5` feature"), "{e}");
            continue;
        }
        check_biom(&p, &exp);
    }
}

#[test]
fn bids_participants() {
    let root = bomdata_testdata::require_fixtures();
    let mut n = 0;
    for ds in std::fs::read_dir(root.join("bids")).unwrap() {
        let ds = ds.unwrap().path();
        let p = ds.join("participants.tsv");
        if !p.is_file() {
            continue;
        }
        n += 1;
        let exp = expected(Path::new(&format!("{}", ds.display())));
        let exp = &exp["tsv"]["participants.tsv"];
        let got = probe::probe(&p, &ProbeOptions::default())
            .unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        assert_eq!(got["format"], "table");
        assert_eq!(exp["shape"], got["shape"]);
        assert_eq!(exp["columns"], got["columns"]);
        // The reference read BIDS with `n/a` as the only NA token; PROBE.md's tokens apply here.
        // The two agree on files without either kind of missing cell.
        let na: u64 = got["na_counts"]
            .as_object()
            .unwrap()
            .values()
            .map(|v| v.as_u64().unwrap())
            .sum();
        assert_eq!(exp["n_na"].as_u64().unwrap(), na);
        let t = bomdata_table::table::read_path(&p).unwrap();
        let ids: Vec<Value> = t
            .text_column(0)
            .into_iter()
            .map(|s| Value::String(s.unwrap()))
            .collect();
        assert_eq!(exp["participant_ids"], Value::Array(ids));
    }
    assert!(n > 0, "no participants.tsv in the fixtures");
}

#[test]
fn detect_by_content() {
    let root = bomdata_testdata::require_fixtures();
    assert_eq!(
        probe::detect(&root.join("olink/npx_data_v3.csv")),
        Some("olink_npx")
    );
    assert_eq!(
        probe::detect(&root.join("methylation/GSE111165_test.csv")),
        Some("methylation")
    );
    assert_eq!(
        probe::detect(&root.join("biom/min_sparse_otu_table.biom")),
        Some("biom")
    );
    assert_eq!(probe::detect(Path::new("x.nii.gz")), None);
}
