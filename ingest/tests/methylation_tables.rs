//! End to end: the methylation adapter through the ingest runtime writes wide table parts
//! (`tables/methylation/part-*.parquet`) beside the shards, listed in the manifest, readable by
//! pyarrow, identical on rerun, free of original sample IDs, and absent for failed units.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use std::path::{Path, PathBuf};

use bomdata_ingest::registry::Registry;
use bomdata_ingest::run::{self, Quiet, RunOptions};
use bomdata_ingest::sources::methylation::Methylation;
use bomdata_ingest::{Pseudonymizer, Source};
use bomdata_shard::dataset;
use bomdata_shard::writer::WriterOptions;
use bomdata_testdata::TempDir;

use bomdata_testdata::tables::{
    METHYLATION_IDS as ORIGINAL_IDS, methylation_tree, methylation_wide,
};

fn options(root: &Path, out: &Path, jobs: usize) -> RunOptions {
    let registry = Registry::builtin().unwrap();
    RunOptions {
        root: root.to_path_buf(),
        out: out.to_path_buf(),
        state: bomdata_ingest::run::private_dir(out),
        entry: registry.get("illumina_epic").unwrap().clone(),
        jobs,
        rank: 0,
        world: 1,
        pseudonymizer: Pseudonymizer::new(b"table-test-key".to_vec()),
        keep_identity: false,
        keep_free_text: false,
        allow_terms: Vec::new(),
        chunk_seconds: 0.0,
        allow_burned_in: false,
        float16: false,
        writer: WriterOptions::default(),
        overwrite: false,
        transform: None,
    }
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = walk(dir);
    v.sort();
    v
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

const READ: &str = r#"
import json, sys
import pyarrow.parquet as pq
out = []
for path in sys.argv[1:]:
    t = pq.read_table(path)
    meta = {k.decode(): v.decode() for k, v in (t.schema.metadata or {}).items() if not k.startswith(b"ARROW")}
    out.append({
        "columns": t.column_names,
        "types": [str(f.type) for f in t.schema],
        "rows": {k: ["NaN" if isinstance(x, float) and x != x else x for x in v]
                 for k, v in t.to_pydict().items()},
        "meta": meta,
    })
print(json.dumps(out))
"#;

#[test]
fn methylation_table_parts_end_to_end() {
    let tmp = TempDir::new("methylation-tables");
    let root = tmp.0.join("src");
    std::fs::create_dir_all(&root).unwrap();
    methylation_tree(&root);
    let out = tmp.0.join("out");
    let opts = options(&root, &out, 2);
    let summary = run::run(&opts, &Methylation, &Quiet).unwrap();
    assert_eq!(summary.planned, 3);
    assert_eq!(summary.failed.len(), 1, "{:?}", summary.failed);
    let manifest = summary.manifest.unwrap();
    let parts: Vec<_> = manifest
        .tables
        .iter()
        .filter(|t| t.name.starts_with("tables/"))
        .collect();
    // Beta of the beta file; beta and M-values of the signal file.
    assert_eq!(parts.len(), 3, "{:?}", manifest.tables);
    for p in &parts {
        assert!(
            p.name.starts_with("tables/methylation/part-u"),
            "{}",
            p.name
        );
        assert_eq!(
            dataset::checksum_file(&out.join(&p.name)).unwrap(),
            p.checksum
        );
    }
    let on_disk: Vec<PathBuf> = files(&out.join("tables"));
    assert_eq!(
        on_disk.len(),
        3,
        "no temporary or failed-unit parts: {on_disk:?}"
    );

    // No original sample ID anywhere in the output bytes.
    for f in files(&out) {
        let bytes = std::fs::read(&f).unwrap();
        for id in ORIGINAL_IDS {
            assert!(
                !bytes.windows(id.len()).any(|w| w == id.as_bytes()),
                "{id} found in {}",
                f.display()
            );
        }
    }

    // pyarrow reads what was written.
    let py = bomdata_testdata::require_python();
    let mut cmd = std::process::Command::new(py);
    cmd.arg("-c").arg(READ);
    for p in &parts {
        cmd.arg(out.join(&p.name));
    }
    let o = cmd.output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let got: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let tables = got.as_array().unwrap();
    let pseudo = |id: &str| opts.pseudonymizer.pseudonym(opts.entry.namespace(), id);
    let beta = tables
        .iter()
        .find(|t| t["columns"].as_array().unwrap().len() == 5)
        .unwrap();
    assert_eq!(
        beta["columns"],
        serde_json::json!([
            "subject",
            "session",
            "cg00000029",
            "cg00000108",
            "cg00000109"
        ])
    );
    assert_eq!(beta["types"][2], "float");
    let rows = &beta["rows"];
    assert_eq!(
        rows["subject"],
        serde_json::json!([pseudo(ORIGINAL_IDS[0]), pseudo(ORIGINAL_IDS[1])])
    );
    assert_eq!(rows["session"], serde_json::json!(["", ""]));
    assert_eq!(rows["cg00000108"], serde_json::json!([0.25, 0.75]));
    assert_eq!(rows["cg00000109"], serde_json::json!([0.125, 1.0]));
    // NA is NaN, not null.
    assert_eq!(rows["cg00000029"], serde_json::json!([0.5, "NaN"]));
    assert_eq!(beta["meta"]["bomdata.schema"], "omics/1");
    assert_eq!(beta["meta"]["bomdata.value"], "\"beta\"");
    let kinds: Vec<&str> = tables
        .iter()
        .map(|t| t["meta"]["bomdata.value"].as_str().unwrap())
        .collect();
    assert!(kinds.contains(&"\"m_value\""), "{kinds:?}");
    let m = tables
        .iter()
        .find(|t| t["meta"]["bomdata.value"] == "\"m_value\"")
        .unwrap();
    assert!(
        m["meta"]["bomdata.transform"]
            .as_str()
            .unwrap()
            .contains("log_base"),
        "{m}"
    );
    let want = (901f32).log2() as f64;
    assert!((m["rows"]["cg00000029"][0].as_f64().unwrap() - want).abs() < 1e-5);

    // A second run finds every good unit done; a fresh run with one job writes identical bytes.
    let again = run::run(&opts, &Methylation, &Quiet).unwrap();
    assert_eq!(again.already_done, 2);
    assert_eq!(again.manifest.unwrap().tables, manifest.tables);
    let out2 = tmp.0.join("out2");
    let fresh = run::run(&options(&root, &out2, 1), &Methylation, &Quiet).unwrap();
    assert_eq!(fresh.manifest.unwrap().tables, manifest.tables);
    for p in &parts {
        assert_eq!(
            std::fs::read(out.join(&p.name)).unwrap(),
            std::fs::read(out2.join(&p.name)).unwrap()
        );
    }
}

#[test]
fn sinks_without_tables_refuse_parts() {
    // The default `write_table` refuses: a sink that keeps no tables says so.
    struct NoTables;
    impl bomdata_ingest::SampleSink for NoTables {
        fn write_sample(&mut self, _: bomdata_shard::Sample) -> bomdata_ingest::Result<()> {
            Ok(())
        }
        fn subject(
            &mut self,
            _: bomdata_schemas::subjects::SubjectRow,
        ) -> bomdata_ingest::Result<()> {
            Ok(())
        }
        fn skipped(&mut self, _: &Path, _: &str) {}
    }
    let tmp = TempDir::new("methylation-notables");
    std::fs::write(tmp.0.join("x_beta.csv"), "ID_REF,S1\ncg00000029,0.5\n").unwrap();
    let units = Methylation.plan(&tmp.0).unwrap();
    let p = Pseudonymizer::new(b"k".to_vec());
    let ctx = bomdata_ingest::UnitContext::new(&tmp.0, "t", &p);
    let e = Methylation
        .convert(&units[0], &ctx, &mut NoTables)
        .unwrap_err();
    assert!(e.to_string().contains("does not keep tables"), "{e}");
}

const READ_LIST: &str = r#"
import json, sys
import pyarrow.parquet as pq
t = pq.read_table(sys.argv[1])
meta = t.schema.metadata
feats = json.loads(meta[b"bomdata.features"])
vals = t.column("values").to_pylist()
print(json.dumps({
    "columns": t.column_names,
    "type": str(t.schema.field("values").type),
    "n_features": len(feats),
    "first": feats[0],
    "last": feats[-1],
    "row0_last": vals[0][-1],
    "row1_first": vals[1][0],
}))
"#;

#[test]
fn epic_wide_part_is_one_list_column() {
    // More probes than MAX_FEATURE_COLUMNS: one `values` list column, probe names in metadata.
    let tmp = TempDir::new("methylation-wide");
    let root = tmp.0.join("src");
    std::fs::create_dir_all(&root).unwrap();
    let n = bomdata_ingest::tables::MAX_FEATURE_COLUMNS + 1;
    methylation_wide(&root, n);
    let out = tmp.0.join("out");
    let s = run::run(&options(&root, &out, 1), &Methylation, &Quiet).unwrap();
    let m = s.manifest.unwrap();
    let part = m
        .tables
        .iter()
        .find(|t| t.name.starts_with("tables/"))
        .unwrap();
    assert_eq!(part.rows, 2);
    let o = std::process::Command::new(bomdata_testdata::require_python())
        .arg("-c")
        .arg(READ_LIST)
        .arg(out.join(&part.name))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let got: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        got["columns"],
        serde_json::json!(["subject", "session", "values"])
    );
    assert!(
        got["type"].as_str().unwrap().starts_with("fixed_size_list"),
        "{got}"
    );
    assert_eq!(got["n_features"], n);
    assert_eq!(got["first"], "cg00000000");
    assert_eq!(got["last"], format!("cg{:08}", n - 1));
    assert_eq!(got["row0_last"], 0.0);
    assert_eq!(got["row1_first"], 0.5);
}
