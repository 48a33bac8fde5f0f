//! The dependency table of ARCHITECTURE.md / STYLE.md §2, enforced on `cargo metadata`.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

/// bomdata crate → bomdata crates it may depend on (normal and build dependencies).
fn allowed() -> BTreeMap<&'static str, Vec<&'static str>> {
    let formats = [
        "bomdata-nifti",
        "bomdata-dicom",
        "bomdata-edf",
        "bomdata-ephys",
        "bomdata-genomic",
        "bomdata-table",
    ];
    let mut m = BTreeMap::new();
    m.insert("bomdata-schemas", vec![]);
    m.insert("bomdata-format-core", vec![]);
    m.insert("bomdata-testdata", vec![]);
    for f in formats {
        m.insert(f, vec!["bomdata-format-core"]);
    }
    m.insert("bomdata-tokenizers", vec!["bomdata-schemas"]);
    m.insert("bomdata-shard", vec!["bomdata-schemas"]);
    m.insert(
        "bomdata-profiles",
        vec!["bomdata-shard", "bomdata-schemas", "bomdata-tokenizers"],
    );
    m.insert("bomdata-loader", vec!["bomdata-shard", "bomdata-schemas"]);
    // The Python package wraps the loader (and names its types); it never feeds the others.
    m.insert("bomdata-py", vec!["bomdata-loader"]);
    let mut ingest = vec!["bomdata-format-core", "bomdata-schemas", "bomdata-shard"];
    ingest.extend(formats);
    m.insert("bomdata-ingest", ingest);
    m
}

#[test]
fn crates_depend_only_along_the_data_flow() {
    let root = bomdata_testdata::workspace_root();
    let out = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .current_dir(&root)
        .output()
        .expect("cargo metadata runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let allowed = allowed();
    let mut violations = Vec::new();
    let mut seen = BTreeSet::new();
    for pkg in meta["packages"].as_array().unwrap() {
        let name = pkg["name"].as_str().unwrap();
        seen.insert(name.to_string());
        for dep in pkg["dependencies"].as_array().unwrap() {
            let d = dep["name"].as_str().unwrap();
            if !d.starts_with("bomdata") || dep["kind"].as_str() == Some("dev") {
                continue;
            }
            match name {
                // The CLI and the end-to-end tests may use everything.
                "bomdata" | "bomdata-tests" => {}
                _ => {
                    let ok = allowed.get(name).is_some_and(|a| a.contains(&d));
                    if !ok {
                        violations.push(format!("{name} -> {d}"));
                    }
                }
            }
            if d == "bomdata" {
                violations.push(format!("{name} -> bomdata (nothing may depend on the CLI)"));
            }
        }
        // Ingest writes canonical samples only: no profiles, no tokenizers.
        if name == "bomdata-ingest" {
            for dep in pkg["dependencies"].as_array().unwrap() {
                let d = dep["name"].as_str().unwrap();
                if [
                    "bomdata-profiles",
                    "bomdata-tokenizers",
                    "tokenizers",
                    "realfft",
                ]
                .contains(&d)
                {
                    violations.push(format!("bomdata-ingest -> {d}"));
                }
            }
        }
        // Heavy crates stay out of the loader's normal dependency tree.
        if name == "bomdata-loader" {
            for dep in pkg["dependencies"].as_array().unwrap() {
                let d = dep["name"].as_str().unwrap();
                if ["parquet", "polars", "noodles", "hdf5-metno", "arrow"].contains(&d) {
                    violations.push(format!("bomdata-loader -> {d}"));
                }
                if d == "bomdata-shard" && dep["uses_default_features"].as_bool() != Some(false) {
                    violations.push(
                        "bomdata-loader -> bomdata-shard with default features (write side)".into(),
                    );
                }
            }
        }
    }
    for crate_name in allowed.keys() {
        assert!(seen.contains(*crate_name), "workspace lacks {crate_name}");
    }
    assert!(
        violations.is_empty(),
        "layering violations: {violations:#?}"
    );
}

/// The names of every package in `cargo tree -p <package> -e normal` (offline).
fn normal_tree(package: &str) -> BTreeSet<String> {
    let root = bomdata_testdata::workspace_root();
    let out = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args([
            "tree",
            "-p",
            package,
            "-e",
            "normal",
            "--prefix",
            "none",
            "--format",
            "{p}",
            "--offline",
        ])
        .current_dir(&root)
        .output()
        .expect("cargo tree runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_string)
        .collect()
}

/// The packages of `tree` whose name contains one of `banned`.
fn containing(tree: &BTreeSet<String>, banned: &[&str]) -> Vec<String> {
    tree.iter()
        .filter(|p| banned.iter().any(|b| p.contains(b)))
        .cloned()
        .collect()
}

#[test]
fn ingest_tree_has_no_dsp_or_tokenizer() {
    let tree = normal_tree("bomdata-ingest");
    assert!(tree.contains("bomdata-shard"), "{tree:?}");
    let bad = containing(&tree, &["realfft", "rustfft", "tokenizers"]);
    assert!(bad.is_empty(), "bomdata-ingest compiles {bad:?}");
}

#[test]
fn loader_tree_is_read_side_only() {
    let tree = normal_tree("bomdata-loader");
    assert!(tree.contains("bomdata-shard"), "{tree:?}");
    let bad = containing(&tree, &["parquet", "arrow", "noodles", "hdf5", "realfft"]);
    assert!(bad.is_empty(), "bomdata-loader compiles {bad:?}");
}
