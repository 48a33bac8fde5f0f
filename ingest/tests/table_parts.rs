//! End to end: the Olink, microbiome and clinical adapters through the ingest runtime write
//! subject-keyed table parts (`tables/<modality>/part-*.parquet`) listed with checksums in the
//! manifest, and every value, mask, feature ID, subject and session in them equals what pandas
//! reads from the source file (Olink long CSV, Parquet and the NPX Manager wide xlsx of
//! `tests/fixtures/olink`, the BIOM JSON files of `tests/fixtures/biom`, a clinical
//! table with a mapping). The reference is `tests/py/table_parts_check.py`; pyarrow reads the
//! parts. A tree with nothing an adapter takes is an empty outcome with a reason.

#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use std::path::{Path, PathBuf};
use std::process::Command;

use bomdata_ingest::registry::Registry;
use bomdata_ingest::run::{self, Quiet, RunOptions};
use bomdata_ingest::sources::clinical::Clinical;
use bomdata_ingest::sources::microbiome::Microbiome;
use bomdata_ingest::sources::olink::Olink;
use bomdata_ingest::{Pseudonymizer, Source};
use bomdata_schemas::manifest::Manifest;
use bomdata_shard::dataset;
use bomdata_shard::writer::WriterOptions;
use bomdata_testdata::TempDir;

const CHECK: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/py/table_parts_check.py");

fn options(entry: &str, root: &Path, out: &Path) -> RunOptions {
    let registry = Registry::builtin().unwrap();
    RunOptions {
        root: root.to_path_buf(),
        out: out.to_path_buf(),
        state: bomdata_ingest::run::private_dir(out),
        entry: registry.get(entry).unwrap().clone(),
        jobs: 2,
        rank: 0,
        world: 1,
        pseudonymizer: Pseudonymizer::new(b"table-parts-test-key".to_vec()),
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

/// Runs `source` over `root` and returns the manifest and, per unit, (its input, its part).
fn ingest(source: &dyn Source, opts: &RunOptions) -> (Manifest, Vec<(PathBuf, PathBuf)>) {
    let summary = run::run(opts, source, &Quiet).unwrap();
    assert!(summary.failed.is_empty(), "{:?}", summary.failed);
    assert_eq!(summary.empty_reason(opts, source.name()), None);
    let manifest = summary.manifest.unwrap();
    assert_eq!(manifest.counts.failed_units, 0);
    let parts: Vec<_> = manifest
        .tables
        .iter()
        .filter(|t| t.name.starts_with("tables/"))
        .collect();
    for p in &parts {
        assert_eq!(
            dataset::checksum_file(&opts.out.join(&p.name)).unwrap(),
            p.checksum,
            "{}",
            p.name
        );
    }
    let units = run::plan(source, &opts.root).unwrap();
    assert_eq!(manifest.counts.units, units.len() as u64);
    let pairs: Vec<(PathBuf, PathBuf)> = units
        .iter()
        .filter_map(|u| {
            let h = run::unit_hash(&u.id);
            let part = parts
                .iter()
                .find(|p| p.name.contains(&format!("/part-u{h}-000.parquet")))?;
            Some((opts.root.join(&u.inputs[0]), opts.out.join(&part.name)))
        })
        .collect();
    assert_eq!(
        pairs.len(),
        parts.len(),
        "one part per file that has samples"
    );
    (manifest, pairs)
}

fn python(args: &[&str]) -> String {
    let o = Command::new(bomdata_testdata::require_python())
        .args(args)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "python {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout).unwrap()
}

fn has_openpyxl() -> bool {
    Command::new(bomdata_testdata::require_python())
        .args(["-c", "import openpyxl"])
        .status()
        .is_ok_and(|s| s.success())
}

const CLINICAL: &str = "PTID,NAME,DOB,VISCODE,EXAMDATE,NFL,PTAU,MMSE,DX,NOTE\n\
SUBJ-0042-1234,Ada Lovelace,1815-12-10,bl,2019-03-14,12.5,0.02,27,MCI,Ada Lovelace called on 14/03/2019\n\
SUBJ-0042-1234,Ada Lovelace,1815-12-10,m12,2020-03-20,14,,31,AD,follow-up\n\
SUBJ-0099-5678,Charles Babbage,26/12/1791,2019-05-02,2019-05-02,,0.05,30,NL,Mr Babbage well\n\
SUBJ-0100-0001,Grace Hopper,,bl,2021-01-15,2000,0.01,,,\n";

const MAPPING: &str = "column\tvariable\ttype\tunit\tcanonical_unit\tmin\tmax\tlevels\n\
PTID\tsubject_id\tidentifier\t\t\t\t\t\n\
NAME\tname\tidentifier\t\t\t\t\t\n\
DOB\tbirth_date\tdate\t\t\t\t\t\n\
VISCODE\tvisit\tcategorical\t\t\t\t\t\n\
EXAMDATE\texam_date\tdate\t\t\t\t\t\n\
NFL\tnfl_plasma\tnumeric\tpg/mL\tng/L\t0\t1000\t\n\
PTAU\tptau217\tnumeric\tng/mL\tpg/mL\t0\t40\t\n\
MMSE\tmmse\tnumeric\t\t\t0\t30\t\n\
DX\tdiagnosis\tcategorical\t\t\t\t\tNL=CN|AD=dementia\n\
NOTE\tnote\ttext\t\t\t\t\t\n";

/// Olink: long CSV, the same long table as Parquet (written by pandas), the wide xlsx. Every
/// row of npx_data_v3.csv is a control sample (dropped, no part, a skip with the reason), so a
/// copy with its non-control SampleIDs typed SAMPLE is the long file with values.
fn ingest_olink(tmp: &Path, fixtures: &Path) -> (RunOptions, Vec<(PathBuf, PathBuf)>) {
    let olink = tmp.join("olink");
    std::fs::create_dir_all(&olink).unwrap();
    for f in [
        "npx_data_v3.csv",
        "Example_NPX_Data2_1.csv",
        "npx_data1.xlsx",
    ] {
        std::fs::copy(fixtures.join("olink").join(f), olink.join(f)).unwrap();
    }
    python(&[
        "-c",
        "import sys, pandas as pd\n\
         d = pd.read_csv(sys.argv[1], sep=';')\n\
         d.loc[~d.SampleID.str.lower().str.contains('control'), 'Sample_Type'] = 'SAMPLE'\n\
         d.to_csv(sys.argv[2], sep=';', index=False)\n\
         d.to_parquet(sys.argv[3])",
        olink.join("npx_data_v3.csv").to_str().unwrap(),
        olink.join("samples_npx_v3.csv").to_str().unwrap(),
        olink.join("samples_npx_v3.parquet").to_str().unwrap(),
    ]);
    let o_opts = options("olink", &olink, &tmp.join("out-olink"));
    let (m, olink_pairs) = ingest(&Olink, &o_opts);
    assert_eq!(m.counts.units, 5, "csv, parquet and xlsx are all taken");
    assert_eq!(
        olink_pairs.len(),
        4,
        "all but the all-control file have a part"
    );
    assert_eq!(m.counts.samples, 0, "no per-row samples any more");
    let report = std::fs::read_to_string(o_opts.out.join(dataset::REPORT)).unwrap();
    assert!(
        report.contains("npx_data_v3.csv") && report.contains("0 samples: "),
        "{report}"
    );
    (o_opts, olink_pairs)
}

#[test]
fn table_parts_equal_pandas_reads_of_the_sources() {
    let fixtures = bomdata_testdata::require_fixtures();
    let tmp = TempDir::new("table-parts");
    let with_xlsx = has_openpyxl();
    if !with_xlsx {
        eprintln!(
            "table_parts: the test Python has no openpyxl (python/requirements.txt): \
             the Olink xlsx part is checked for shape only"
        );
    }

    let (o_opts, olink_pairs) = ingest_olink(&tmp.0, &fixtures);

    // BIOM v1 JSON (the HDF5 file needs the hdf5 feature).
    let biom = tmp.0.join("biom");
    std::fs::create_dir_all(&biom).unwrap();
    for f in ["min_sparse_otu_table.biom", "rich_sparse_otu_table.biom"] {
        std::fs::copy(fixtures.join("biom").join(f), biom.join(f)).unwrap();
    }
    let b_opts = options("mgnify", &biom, &tmp.0.join("out-biom"));
    let (_, biom_pairs) = ingest(&Microbiome, &b_opts);

    // Clinical: a table with a mapping beside it.
    let clin = tmp.0.join("clinical");
    std::fs::create_dir_all(&clin).unwrap();
    std::fs::write(clin.join("visits.csv"), CLINICAL).unwrap();
    std::fs::write(clin.join("visits.mapping.tsv"), MAPPING).unwrap();
    let c_opts = options("hrs", &clin, &tmp.0.join("out-clinical"));
    let (m, clin_pairs) = ingest(&Clinical, &c_opts);
    assert_eq!(m.counts.samples, 4, "one clinical-text sample per row");

    let s = |p: &Path| p.to_str().unwrap().to_string();
    let olink_spec: Vec<[String; 2]> = olink_pairs
        .iter()
        .filter(|(src, _)| with_xlsx || !s(src).ends_with(".xlsx"))
        .map(|(a, b)| [s(a), s(b)])
        .collect();
    let mut spec = serde_json::json!({
        "olink": olink_spec,
        "biom": biom_pairs.iter().map(|(a, b)| [s(a), s(b)]).collect::<Vec<_>>(),
        "clinical": clin_pairs.iter().map(|(a, b)| [s(a), s(&clin.join("visits.mapping.tsv")), s(b)]).collect::<Vec<_>>(),
    });
    let spec_path = tmp.0.join("spec.json");
    std::fs::write(&spec_path, spec.to_string()).unwrap();
    let ids: Vec<String> = serde_json::from_str(&python(&[CHECK, "ids", &s(&spec_path)])).unwrap();
    // Pseudonyms in each source's own namespace.
    let mut pseudonyms = serde_json::Map::new();
    for (kind, opts) in [("olink", &o_opts), ("biom", &b_opts), ("clinical", &c_opts)] {
        let map: serde_json::Map<String, serde_json::Value> = ids
            .iter()
            .map(|id| {
                let p = opts.pseudonymizer.pseudonym(opts.entry.namespace(), id);
                (id.clone(), p.into())
            })
            .collect();
        pseudonyms.insert(kind.into(), map.into());
    }
    spec["pseudonyms"] = pseudonyms.into();
    std::fs::write(&spec_path, spec.to_string()).unwrap();
    let counts: serde_json::Value =
        serde_json::from_str(&python(&[CHECK, "check", &s(&spec_path)])).unwrap();
    eprintln!("table_parts: compared {counts}");
    for k in [
        "olink_values",
        "olink_masks",
        "biom_values",
        "clinical_values",
    ] {
        assert!(counts[k].as_u64().unwrap() > 0, "{k}: {counts}");
    }
    if !with_xlsx {
        // Shape only: the wide workbook's samples × assays.
        let xlsx = olink_pairs
            .iter()
            .find(|(a, _)| s(a).ends_with(".xlsx"))
            .unwrap();
        let shape = python(&[
            "-c",
            "import sys, pyarrow.parquet as pq; t = pq.read_table(sys.argv[1]); print(t.num_rows, t.schema.field('values').type.list_size)",
            &s(&xlsx.1),
        ]);
        // 160 sample rows, 4 of them controls (dropped); 184 assays.
        assert_eq!(shape.trim(), "156 184", "{shape}");
    }
}

#[test]
fn a_tree_with_nothing_to_take_is_an_empty_outcome() {
    let tmp = TempDir::new("table-parts-empty");
    let root = tmp.0.join("src");
    std::fs::create_dir_all(&root).unwrap();
    std::fs::write(root.join("notes_NPX.csv"), "a,b\n1,2\n").unwrap();
    let opts = options("olink", &root, &tmp.0.join("out"));
    let summary = run::run(&opts, &Olink, &Quiet).unwrap();
    assert_eq!(summary.planned, 0);
    let why = summary.empty_reason(&opts, "olink").unwrap();
    assert!(why.starts_with("0 units: the olink adapter"), "{why}");
}
