//! Omics and clinical tables end to end: a GARD-like cohort (200 subjects, two visits, EPIC beta
//! matrix of 20k probes, Olink long NPX with QC flags, BIOM v2.1, clinical MMSE and diagnosis,
//! modalities missing for some subjects) → `ingest` → `shard --profile tables` → `verify` →
//! loader pairing units of one subject visit. Every batch value equals the source file's value
//! for that subject/visit, the presence masks are right, and no subject is in two splits. With
//! the test Python (`BOMDATA_PYTHON` or `.venv`), `tables_check.py` reads the training tables
//! with pyarrow and polars and compares them with a pandas join of the source files.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;
use std::sync::Arc;

use bomdata_loader::{
    Dataset, Loader, LoaderOptions, Mixture, OrderOptions, PairRow, Partition, Planner, Remainder,
    Units,
};
use bomdata_testdata::gard::{GardOptions, GardTruth, gard_cohort};
use bomdata_tests::{cmd, run};

const MODALITIES: [&str; 4] = ["methylation", "proteomics", "microbiome", "clinical_table"];

fn f32s(b: &[u8]) -> Vec<f32> {
    b.chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

fn same(a: &[f32], b: &[f32]) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .all(|(x, y)| x.to_bits() == y.to_bits() || (x.is_nan() && y.is_nan()))
}

/// The expected values and masks of one modality of a subject visit, if present.
fn expected(t: &GardTruth, m: &str, key: &(String, String)) -> Option<(Vec<f32>, Vec<Vec<u8>>)> {
    let na = |v: &[f32]| v.iter().map(|x| u8::from(x.is_nan())).collect::<Vec<u8>>();
    let b = |v: &[bool]| v.iter().map(|&x| u8::from(x)).collect::<Vec<u8>>();
    match m {
        "methylation" => t.methylation.get(key).map(|v| (v.clone(), vec![na(v)])),
        "microbiome" => t.microbiome.get(key).map(|v| (v.clone(), vec![na(v)])),
        "proteomics" => t.olink.get(key).map(|r| {
            (
                r.npx.clone(),
                vec![na(&r.npx), b(&r.qc_warning), b(&r.below_lod)],
            )
        }),
        _ => t
            .clinical
            .get(key)
            .map(|(mmse, _)| (vec![*mmse], vec![na(&[*mmse])])),
    }
}

/// Mask members per modality, in the order of [`expected`].
fn masks(m: &str) -> &'static [&'static str] {
    match m {
        "proteomics" => &["na.npy", "qc_warning.npy", "below_lod.npy"],
        _ => &["na.npy"],
    }
}

fn pseudonyms(t: &GardTruth) -> HashMap<String, String> {
    let entry = bomdata_ingest::registry::Registry::builtin().unwrap();
    let ns = entry.get("gard").unwrap().namespace().to_string();
    let p = bomdata_ingest::Pseudonymizer::new(b"test-key-0123456789abcdef".to_vec());
    let ids: BTreeSet<&String> = t.clinical.keys().map(|k| &k.0).collect();
    ids.into_iter()
        .map(|id| (p.pseudonym(&ns, id), id.clone()))
        .collect()
}

fn ingest_and_shard(src: &Path, canon: &Path, train: &Path) {
    let mut c = cmd();
    c.arg("ingest").arg(src).arg("--out").arg(canon);
    c.args(["--source", "gard", "--jobs", "2"]);
    assert!(run(c).status.success());
    let mut c = cmd();
    c.arg("shard").arg(canon).arg("--out").arg(train);
    c.args([
        "--profile",
        "tables",
        "--seed",
        "3",
        "--split",
        "0.6,0.2,0.2",
    ]);
    assert!(run(c).status.success());
    let mut c = cmd();
    c.arg("verify").arg(train);
    assert!(run(c).status.success());
}

/// Walks one epoch of pairing units and checks every slot against the truth; returns the
/// (subject, visit, modality) seen.
fn check_batches(
    train: &Path,
    t: &GardTruth,
    orig: &HashMap<String, String>,
) -> BTreeSet<(String, String, String)> {
    let pairs: Vec<PairRow> =
        serde_json::from_slice(&std::fs::read(train.join("tables/pairs.json")).unwrap()).unwrap();
    let ds = Dataset::open(train).unwrap();
    let units = Units::Pairs {
        modalities: MODALITIES.iter().map(|s| s.to_string()).collect(),
        rows: pairs.clone(),
    };
    let planner = Planner::new(Mixture::single(ds), OrderOptions::default(), units).unwrap();
    let part = Partition::new(0, 1, Remainder::Uneven).unwrap();
    let opts = LoaderOptions {
        batch_size: 32,
        ..LoaderOptions::default()
    };
    let planner = Arc::new(planner);
    let mut loader = Loader::new(planner.clone(), part, opts).unwrap();
    let by_key: HashMap<&str, &PairRow> = pairs.iter().map(|p| (p.key.as_str(), p)).collect();
    let mut seen = BTreeSet::new();
    for batch in loader.epoch() {
        let batch = batch.unwrap();
        let w = batch.width();
        let keys: Vec<Option<&str>> = batch
            .ids()
            .iter()
            .map(|id| planner.mixture().info(*id).map(|i| i.key()))
            .collect();
        for r in 0..batch.rows() {
            // The unit's subject visit, from any present slot.
            let visit = (0..w)
                .find_map(|s| keys[r * w + s])
                .map(|k| by_key[k])
                .unwrap();
            let key = (orig[&visit.subject].clone(), visit.session.clone());
            for (s, m) in MODALITIES.iter().enumerate() {
                let want = expected(t, m, &key);
                let present = !batch.ids()[r * w + s].is_missing();
                assert_eq!(present, want.is_some(), "{key:?} {m}: presence");
                let Some((values, want_masks)) = want else {
                    continue;
                };
                let f = batch.field_in(s, "values.npy").unwrap();
                assert!(f.present(r));
                assert!(same(&f32s(f.row(r)), &values), "{key:?} {m}: values");
                for (name, want) in masks(m).iter().zip(want_masks) {
                    let f = batch.field_in(s, name).unwrap();
                    assert_eq!(f.row(r), want.as_slice(), "{key:?} {m}: {name}");
                }
                if *m == "clinical_table" {
                    let text = batch.field_in(s, "text.txt").unwrap().row(r);
                    let dx = &t.clinical[&key].1;
                    let text = String::from_utf8_lossy(text);
                    assert!(text.contains(&format!("diagnosis: {dx}")), "{text}");
                    assert!(!text.contains("GARD-"), "an original ID in {text}");
                }
                assert!(seen.insert((key.0.clone(), key.1.clone(), m.to_string())));
            }
        }
    }
    seen
}

/// Every subject's table rows and samples sit in one split.
fn check_splits(train: &Path) {
    let m = bomdata_shard::dataset::read_manifest(train).unwrap();
    let mut split_of: BTreeMap<String, String> = BTreeMap::new();
    for s in &m.shards {
        for smp in bomdata_shard::dataset::read_index(train, s)
            .unwrap()
            .samples
        {
            let subj = smp.subject.clone().unwrap();
            // Methylation reaches training once: as table rows, not as canonical samples too.
            if smp.key.contains("_methylation") {
                assert!(s.name.contains("-tables-"), "{} in {}", smp.key, s.name);
            }
            let prev = split_of.insert(subj.clone(), s.split.clone().unwrap_or_default());
            assert!(prev.is_none() || prev == s.split, "{subj} in two splits");
        }
    }
    for t in &m.tables {
        if t.name.ends_with(".parquet") && t.name.starts_with("tables/") {
            assert!(t.rows > 0);
        }
    }
    let rec = &m.profile.as_ref().unwrap().params["tables"];
    assert_eq!(rec["methylation"]["value"], "beta");
}

/// A WordLevel `tokenizer.json` over the words of the clinical text.
fn clinical_tokenizer() -> serde_json::Value {
    let mut vocab = serde_json::Map::new();
    let words = [
        "[UNK]",
        "[PAD]",
        "instrument",
        "mmse",
        "diagnosis",
        "CN",
        "MCI",
        "AD",
        ":",
        ";",
    ];
    for (i, w) in words.iter().enumerate() {
        vocab.insert((*w).to_string(), i.into());
    }
    for n in 0..=30 {
        vocab.insert(n.to_string(), (words.len() + n).into());
    }
    let added = |id: u32, content: &str| {
        serde_json::json!({"id": id, "content": content, "single_word": false, "lstrip": false,
            "rstrip": false, "normalized": false, "special": true})
    };
    serde_json::json!({
        "version": "1.0", "truncation": null, "padding": null,
        "added_tokens": [added(0, "[UNK]"), added(1, "[PAD]")],
        "normalizer": null, "pre_tokenizer": {"type": "Whitespace"},
        "post_processor": null, "decoder": null,
        "model": {"type": "WordLevel", "vocab": vocab, "unk_token": "[UNK]"}
    })
}

/// `shard --tokens tokenizer.json` takes one document per clinical row (subject, visit,
/// instrument); the other samples have no text and are reported.
fn check_tokens(canon: &Path, scratch: &Path, rows: usize) {
    let tok = scratch.join("clinical-words/tokenizer.json");
    std::fs::create_dir_all(tok.parent().unwrap()).unwrap();
    std::fs::write(&tok, serde_json::to_vec(&clinical_tokenizer()).unwrap()).unwrap();
    let out = scratch.join("tokens");
    let mut c = cmd();
    c.arg("shard").arg(canon).arg("--out").arg(&out);
    c.arg("--tokens")
        .arg(&tok)
        .args(["--seq-len", "64", "--pad"]);
    assert!(run(c).status.success());
    let m = bomdata_shard::dataset::read_manifest(&out).unwrap();
    let t = m.tokenizer.unwrap();
    assert_eq!(t["documents"], rows as u64, "{t}");
}

/// `--param methylation=m_value --param microbiome=clr`: every methylation and microbiome row
/// sample holds the transform of the source values (M = log2(β/(1−β)); CLR with pseudocount 1).
fn check_transforms(canon: &Path, scratch: &Path, t: &GardTruth, orig: &HashMap<String, String>) {
    let out = scratch.join("train-transformed");
    let mut c = cmd();
    c.arg("shard").arg(canon).arg("--out").arg(&out);
    c.args(["--profile", "tables", "--param", "methylation=m_value"]);
    c.args(["--param", "microbiome=clr"]);
    assert!(run(c).status.success());
    let pairs: Vec<PairRow> =
        serde_json::from_slice(&std::fs::read(out.join("tables/pairs.json")).unwrap()).unwrap();
    let by_key: HashMap<&str, &PairRow> = pairs.iter().map(|p| (p.key.as_str(), p)).collect();
    let ds = Dataset::open(&out).unwrap();
    let close = |a: f32, b: f64| (a.is_nan() && b.is_nan()) || (f64::from(a) - b).abs() < 1e-4;
    let mut n = 0;
    for info in ds.infos() {
        let Some(p) = by_key.get(info.key()) else {
            continue;
        };
        let key = (orig[&p.subject].clone(), p.session.clone());
        let bytes = info.member("values.npy").unwrap();
        let got = f32s(bomdata_shard::npy::decode(&bytes).unwrap().data);
        let want: Vec<f64> = match p.modality.as_str() {
            "methylation" => t.methylation[&key]
                .iter()
                .map(|&b| {
                    let b = f64::from(b).clamp(1e-6, 1.0 - 1e-6);
                    (b / (1.0 - b)).log2()
                })
                .collect(),
            "microbiome" => {
                let l: Vec<f64> = t.microbiome[&key]
                    .iter()
                    .map(|&x| (f64::from(x) + 1.0).ln())
                    .collect();
                let mean = l.iter().sum::<f64>() / l.len() as f64;
                l.iter().map(|x| x - mean).collect()
            }
            _ => continue,
        };
        assert!(
            got.iter().zip(&want).all(|(a, b)| close(*a, *b)),
            "{key:?} {}",
            p.modality
        );
        n += 1;
    }
    assert_eq!(n, t.methylation.len() + t.microbiome.len());
}

#[test]
fn gard_cohort_ingest_shard_loader_batches() {
    let d = tempfile::tempdir().unwrap();
    let (src, canon, train) = (
        d.path().join("src"),
        d.path().join("canon"),
        d.path().join("train"),
    );
    let truth = gard_cohort(&src, &GardOptions::default());
    ingest_and_shard(&src, &canon, &train);
    let orig = pseudonyms(&truth);
    let seen = check_batches(&train, &truth, &orig);
    let mut want = BTreeSet::new();
    for m in MODALITIES {
        for k in truth.clinical.keys() {
            if expected(&truth, m, k).is_some() {
                want.insert((k.0.clone(), k.1.clone(), m.to_string()));
            }
        }
    }
    assert_eq!(seen, want, "every table row of the cohort is read once");
    check_splits(&train);
    check_tokens(&canon, d.path(), truth.clinical.len());
    check_transforms(&canon, d.path(), &truth, &orig);
    if let Some(py) = bomdata_testdata::python() {
        let mut map = String::from("original_id,pseudonym\n");
        for (p, o) in &orig {
            map.push_str(&format!("{o},{p}\n"));
        }
        std::fs::write(d.path().join("mapping.csv"), map).unwrap();
        let script = bomdata_testdata::workspace_root().join("tests/e2e/tables_check.py");
        let out = std::process::Command::new(py)
            .arg(script)
            .arg(&src)
            .arg(&train)
            .arg(d.path().join("mapping.csv"))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        eprintln!("{}", String::from_utf8_lossy(&out.stdout));
    }
}

/// `bomdata probe FILE --json` as JSON (exit 0 expected).
fn probe(path: &Path) -> serde_json::Value {
    let mut c = cmd();
    c.arg("probe").arg(path).arg("--json");
    let out = run(c);
    assert!(out.status.success(), "probe {}", path.display());
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The command line's `probe` reads every Olink, methylation and BIOM fixture (the readers'
/// conformance is `formats/table/tests/conformance.rs`; this checks the dispatch) and plain
/// tables: sniffed delimiters, NA counts, Parquet.
#[test]
fn probe_reads_every_table_fixture_and_plain_tables() {
    let root = bomdata_testdata::require_fixtures();
    for (dir, format) in [
        ("olink", "olink_npx"),
        ("methylation", "methylation"),
        ("biom", "biom"),
    ] {
        let mut n = 0;
        for e in std::fs::read_dir(root.join(dir)).unwrap() {
            let p = e.unwrap().path();
            if p.to_string_lossy().ends_with(".expected.json") {
                continue;
            }
            let exp: serde_json::Value = serde_json::from_slice(
                &std::fs::read(format!("{}.expected.json", p.display())).unwrap(),
            )
            .unwrap();
            let got = probe(&p);
            assert_eq!(got["format"], format, "{}", p.display());
            let shape = if format == "biom" {
                &exp["shape_obs_by_samples"]
            } else {
                &exp["shape"]
            };
            assert_eq!(&got["shape"], shape, "{}", p.display());
            if format != "biom" {
                assert_eq!(got["na_counts"], exp["na_counts"], "{}", p.display());
            }
            n += 1;
        }
        assert!(n > 0, "no {dir} fixtures");
    }
    let d = tempfile::tempdir().unwrap();
    let tsv = d.path().join("visits.tsv");
    std::fs::write(&tsv, "id\tscore\tdx\np1\t27\tMCI\np2\tNA\tCN\np3\t30\t\n").unwrap();
    let got = probe(&tsv);
    assert_eq!(got["format"], "table");
    assert_eq!(got["delimiter"], "\t");
    assert_eq!(got["shape"], serde_json::json!([3, 3]));
    assert_eq!(
        got["na_counts"],
        serde_json::json!({"id": 0, "score": 1, "dx": 1})
    );
    assert_eq!(got["numeric_column_stats"]["score"]["sum"], 57.0);
    let csv = d.path().join("labs.csv");
    std::fs::write(&csv, "id;nfl\np1;12,5\np2;13\n").unwrap();
    let got = probe(&csv);
    assert_eq!(got["delimiter"], ";");
    assert_eq!(got["columns"], serde_json::json!(["id", "nfl"]));
    // Parquet: a subjects table written by the container.
    let rows = vec![bomdata_schemas::subjects::SubjectRow {
        subject: "s1".into(),
        source: "x".into(),
        session: "bl".into(),
        modalities: vec![bomdata_schemas::Modality::Proteomics],
        n_samples: 0,
        split: "train".into(),
    }];
    bomdata_shard::subjects::write(d.path(), &rows).unwrap();
    let got = probe(&d.path().join("subjects.parquet"));
    assert_eq!(got["format"], "table");
    assert_eq!(got["shape"][0], 1);
}
