//! Parity with the reference Python tokenizers (`python/tokenizers/reference.py`, HF
//! `tokenizers` 0.22) on the fixture FASTA files (plain and gzip) and a clinical-text sample.

// Test helpers outside #[test] fns: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

use bomdata_tokenizers::Tokenizer;
use bomdata_tokenizers::builtin::{builtin, resolve};
use bomdata_tokenizers::models::hf::{BpeTrainConfig, HfTokenizer, train_dna_bpe};
use bomdata_tokenizers::pack::{PackConfig, PadSide, min_dtype, pack};
use bomdata_tokenizers::{
    CasePolicy, CharConfig, Error, KmerConfig, KmerVocab, SpecialToken, TokenizerConfig,
    UnknownPolicy,
};
use serde_json::Value;

struct Record {
    file: String,
    name: String,
    seq: Vec<u8>,
}

fn fasta_files() -> Vec<PathBuf> {
    let dir = bomdata_testdata::require_fixtures().join("fasta");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let n = p.to_string_lossy();
            [".fa", ".fa.gz", ".fasta", ".fasta.gz"]
                .iter()
                .any(|ext| n.ends_with(ext))
        })
        .collect();
    files.sort();
    assert!(
        files.iter().any(|p| p.to_string_lossy().ends_with(".gz")),
        "no gzip FASTA fixture"
    );
    assert!(files.len() >= 3, "too few FASTA fixtures: {files:?}");
    files
}

/// Same record rule as reference.py: name = first word of the header, sequence lines joined
/// with all whitespace removed.
fn read_fasta(path: &Path) -> Vec<Record> {
    let raw = std::fs::read(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    let text = if path.extension().is_some_and(|e| e == "gz") {
        let mut out = Vec::new();
        flate2::read::MultiGzDecoder::new(&raw[..])
            .read_to_end(&mut out)
            .unwrap_or_else(|e| panic!("gunzip {}: {e}", path.display()));
        out
    } else {
        raw
    };
    let file = path.to_string_lossy().into_owned();
    let mut records: Vec<Record> = Vec::new();
    for line in text.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if let Some(header) = line.strip_prefix(b">") {
            let name = String::from_utf8_lossy(header)
                .split_whitespace()
                .next()
                .unwrap_or("")
                .to_string();
            records.push(Record {
                file: file.clone(),
                name,
                seq: Vec::new(),
            });
        } else if let Some(r) = records.last_mut() {
            r.seq
                .extend(line.iter().filter(|b| !b.is_ascii_whitespace()));
        }
    }
    assert!(!records.is_empty(), "no records in {file}");
    records
}

fn all_records() -> (Vec<String>, Vec<Record>) {
    let files = fasta_files();
    let names = files
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    let records = files.iter().flat_map(|p| read_fasta(p)).collect();
    (names, records)
}

fn reference(args: &[&str]) -> Value {
    let script = bomdata_testdata::workspace_root().join("python/tokenizers/reference.py");
    let out = Command::new(bomdata_testdata::require_python())
        .arg(&script)
        .args(args)
        .output()
        .expect("running reference.py");
    assert!(
        out.status.success(),
        "reference.py {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("reference.py output is json")
}

fn ids_of(v: &Value) -> Vec<u32> {
    v.as_array()
        .expect("ids array")
        .iter()
        .map(|x| x.as_u64().expect("id") as u32)
        .collect()
}

/// Runs `cfg` on every record and compares with the reference's per-record output.
fn compare_dna(cfg: &TokenizerConfig, py_args: &[&str]) -> usize {
    let (files, records) = all_records();
    let mut args: Vec<&str> = py_args.to_vec();
    args.extend(files.iter().map(String::as_str));
    let expected = reference(&args);
    let expected = expected.as_array().expect("list");
    assert_eq!(expected.len(), records.len(), "record count");
    let tok = cfg.build().unwrap();
    let mut compared = 0;
    for (rec, exp) in records.iter().zip(expected) {
        assert_eq!(exp["file"].as_str(), Some(rec.file.as_str()));
        assert_eq!(exp["name"].as_str(), Some(rec.name.as_str()));
        let got = tok.encode(&rec.seq);
        match (&got, exp.get("error")) {
            (Ok(ids), None) => {
                assert_eq!(*ids, ids_of(&exp["ids"]), "{} {}", rec.file, rec.name);
                compared += ids.len();
            }
            (Err(Error::UnknownSymbol { .. }), Some(_)) => {}
            _ => panic!(
                "{} {}: rust {:?} vs python error {:?}",
                rec.file,
                rec.name,
                got.as_ref().map(Vec::len),
                exp.get("error")
            ),
        }
    }
    compared
}

#[test]
fn hyena_char_matches_reference() {
    let cfg = builtin("hyena-char").unwrap();
    assert!(compare_dna(&cfg, &["char", "--append-sep"]) > 100_000);
}

#[test]
fn caduceus_char_matches_reference() {
    let cfg = builtin("caduceus-pretrain").unwrap();
    let n = compare_dna(
        &cfg,
        &["char", "--case", "upper", "--n-to-pad", "--append-sep"],
    );
    assert!(n > 100_000);
    // The downstream loaders' CharacterTokenizer: neither upper case nor N → PAD.
    let cfg = builtin("caduceus-char").unwrap();
    assert!(compare_dna(&cfg, &["char", "--append-sep"]) > 100_000);
    // Without N → PAD and without [SEP].
    let plain = TokenizerConfig::Char(CharConfig {
        characters: "ACGTN".into(),
        case: CasePolicy::Upper,
        n_to_pad: false,
        prepend: vec![],
        append: vec![],
    });
    compare_dna(&plain, &["char", "--case", "upper"]);
}

#[test]
fn nt_6mer_matches_reference() {
    // NT itself: errors on soft-masked records, ids on the rest.
    let nt = builtin("nt-6mer-v1").unwrap();
    assert!(compare_dna(&nt, &["kmer", "--prepend-cls"]) > 1_000);
    // The v2 vocabulary (`*_v2` models, SegmentNT): ids 2 higher.
    let nt2 = builtin("nt-6mer-v2").unwrap();
    assert!(compare_dna(&nt2, &["kmer", "--vocab", "v2", "--prepend-cls"]) > 1_000);
    for (case, case_arg) in [(CasePolicy::Upper, "upper"), (CasePolicy::AsIs, "as_is")] {
        let cfg = TokenizerConfig::Kmer(KmerConfig {
            k: 6,
            case,
            unknown: UnknownPolicy::Unk,
            vocab: KmerVocab::V1,
            prepend: vec![SpecialToken::Cls],
            append: vec![],
        });
        let n = compare_dna(
            &cfg,
            &[
                "kmer",
                "--case",
                case_arg,
                "--unknown",
                "unk",
                "--prepend-cls",
            ],
        );
        assert!(n > 10_000);
    }
    // Another k, to check the k-mer id arithmetic beyond 6.
    let k3 = TokenizerConfig::Kmer(KmerConfig {
        k: 3,
        case: CasePolicy::Upper,
        unknown: UnknownPolicy::Unk,
        vocab: KmerVocab::V1,
        prepend: vec![],
        append: vec![],
    });
    compare_dna(
        &k3,
        &["kmer", "--k", "3", "--case", "upper", "--unknown", "unk"],
    );
}

#[test]
fn dna_bpe_trained_by_bomdata_loads_in_python() {
    let (files, records) = all_records();
    let cfg = BpeTrainConfig {
        vocab_size: 300,
        min_frequency: 2,
        chunk_len: 500,
        ..BpeTrainConfig::default()
    };
    let hf = train_dna_bpe(records.iter().map(|r| &r.seq), &cfg).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tokenizer.json");
    hf.write_tokenizer_json(&path).unwrap();
    let tok = HfTokenizer::new(&hf).unwrap();

    let mut args = vec![
        "hf-encode",
        "--tokenizer",
        path.to_str().unwrap(),
        "--add-special-tokens",
        "--fasta",
    ];
    args.extend(files.iter().map(String::as_str));
    let expected = reference(&args);
    let expected = expected.as_array().unwrap();
    assert_eq!(expected.len(), records.len());
    let mut total = 0;
    for (rec, exp) in records.iter().zip(expected) {
        let text = std::str::from_utf8(&rec.seq).unwrap();
        let (ids, tokens) = tok.encode_with_tokens(text.as_bytes()).unwrap();
        assert_eq!(ids, ids_of(&exp["ids"]), "{} {}", rec.file, rec.name);
        let py_tokens: Vec<&str> = exp["tokens"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t.as_str().unwrap())
            .collect();
        assert_eq!(tokens, py_tokens);
        total += ids.len();
    }
    // BPE merges actually happened: well under one token per base.
    let bases: usize = records.iter().map(|r| r.seq.len()).sum();
    assert!(
        total > 1_000 && total < bases / 2,
        "{total} ids for {bases} bases"
    );
    // The file written also resolves by path, like `bomdata tokenize --tokenizer PATH`.
    let again = resolve(path.to_str().unwrap()).unwrap();
    assert!(matches!(again, TokenizerConfig::Hf(_)));
}

fn clinical_text() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/clinical_note.txt")
}

#[test]
fn hf_text_tokenizers_match_python() {
    let text_path = clinical_text();
    let text = std::fs::read_to_string(&text_path).unwrap();
    let mut units: Vec<&str> = text.split('\n').filter(|l| !l.is_empty()).collect();
    units.push(&text);
    let dir = tempfile::tempdir().unwrap();
    for kind in ["bpe", "wordpiece", "unigram"] {
        let path = dir.path().join(format!("{kind}.json"));
        let path_s = path.to_str().unwrap();
        reference(&[
            "hf-train",
            "--kind",
            kind,
            "--text",
            text_path.to_str().unwrap(),
            "--out",
            path_s,
        ]);
        for special in [false, true] {
            let mut cfg = match resolve(path_s).unwrap() {
                TokenizerConfig::Hf(h) => h,
                other => panic!("{kind}: resolved to {}", other.kind()),
            };
            cfg.add_special_tokens = special;
            let tok = TokenizerConfig::Hf(cfg).build().unwrap();
            let mut args = vec!["hf-encode", "--tokenizer", path_s, "--lines"];
            args.push(text_path.to_str().unwrap());
            if special {
                args.push("--add-special-tokens");
            }
            let expected = reference(&args);
            let expected = expected.as_array().unwrap();
            assert_eq!(expected.len(), units.len());
            for (unit, exp) in units.iter().zip(expected) {
                let ids = tok.encode(unit.as_bytes()).unwrap();
                assert_eq!(ids, ids_of(&exp["ids"]), "{kind} special={special}: {unit}");
                let (ids2, tokens) = tok.encode_with_tokens(unit.as_bytes()).unwrap();
                assert_eq!(ids2, ids);
                let py: Vec<&str> = exp["tokens"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|t| t.as_str().unwrap())
                    .collect();
                assert_eq!(tokens, py, "{kind}");
            }
        }
    }
}

/// Packed ids written as raw little-endian arrays of the smallest dtype read back in Python
/// unchanged: same documents, same total token count.
#[test]
fn packed_ids_read_back_in_python() {
    let (_, records) = all_records();
    let dir = tempfile::tempdir().unwrap();
    for (name, seq_len, mode) in [
        ("hyena-char", 1024, "pack"),
        ("caduceus-pretrain", 777, "pad"),
        ("evo-byte", 4096, "pack"),
    ] {
        let tok = builtin(name).unwrap().build().unwrap();
        let docs: Vec<Vec<u32>> = records
            .iter()
            .map(|r| tok.encode(&r.seq).unwrap())
            .collect();
        let pad = tok.special_id(SpecialToken::Pad).unwrap();
        let cfg = match mode {
            "pack" => PackConfig::packed(seq_len, pad),
            _ => PackConfig {
                pad_side: PadSide::Left,
                ..PackConfig::padded(seq_len, pad)
            },
        };
        let seqs = pack(&docs, &cfg).unwrap();
        let dtype = min_dtype(tok.vocab_size());
        let mut entries = Vec::new();
        for (i, seq) in seqs.iter().enumerate() {
            assert_eq!(seq.ids.len(), seq_len);
            let path = dir.path().join(format!("{name}-{i:05}.bin"));
            std::fs::write(&path, dtype.to_le_bytes(&seq.ids).unwrap()).unwrap();
            entries.push(serde_json::json!({
                "path": path,
                "doc_offsets": seq.doc_offsets,
                "continues": seq.continues,
            }));
        }
        let manifest = dir.path().join(format!("{name}.json"));
        let doc = serde_json::json!({"dtype": dtype.name(), "sequences": entries});
        std::fs::write(&manifest, doc.to_string()).unwrap();
        let back = reference(&["read-packed", manifest.to_str().unwrap()]);
        let total: usize = docs.iter().map(Vec::len).sum();
        assert_eq!(back["total_tokens"].as_u64(), Some(total as u64), "{name}");
        let back_docs: Vec<Vec<u32>> = back["docs"]
            .as_array()
            .unwrap()
            .iter()
            .map(ids_of)
            .collect();
        assert_eq!(back_docs, docs, "{name}");
    }
}
