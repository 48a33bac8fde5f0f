//! `bomdata shard --tokens` end to end: token counts, document boundaries, dtypes, the
//! tokenizer written beside the shards, reproducibility, and a Python reader.
//!
//! The canonical inputs are written here with the shard writer (no ingest adapter involved);
//! the expected ids of each document come from `bomdata tokenize --json`, run on that document
//! alone.

// Helpers below are test code too: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use bomdata_profiles::tokens::{self, SequenceMeta};
use bomdata_schemas::Modality;
use bomdata_schemas::manifest::{Counts, DatasetKind, Manifest};
use bomdata_schemas::subjects::SubjectRow;
use bomdata_shard::reader::ShardReader;
use bomdata_shard::writer::{ShardWriter, WriterOptions};
use bomdata_shard::{Sample, dataset, npy};
use bomdata_tests::{cmd, run, tree};

/// One canonical document: key, subject, the member holding it, its bytes.
pub(crate) struct Doc {
    pub(crate) key: String,
    pub(crate) subject: String,
    pub(crate) bytes: Vec<u8>,
}

pub(crate) fn dna(rng: &mut bomdata_testdata::Rng, n: usize) -> Vec<u8> {
    let alphabet = b"ACGTACGTACGTacgtNn";
    (0..n)
        .map(|_| alphabet[rng.below(alphabet.len() as u64) as usize])
        .collect()
}

/// Writes a canonical dataset of `samples` (built by `make` from each document) plus its
/// subjects table and manifest.
pub(crate) fn write_canonical(dir: &Path, docs: &[Doc], make: impl Fn(usize, &Doc) -> Sample) {
    let mut w = ShardWriter::create(
        dir,
        "canon",
        WriterOptions {
            max_samples: 7,
            ..WriterOptions::default()
        },
    )
    .unwrap();
    let mut rows: BTreeMap<String, SubjectRow> = BTreeMap::new();
    for (i, d) in docs.iter().enumerate() {
        w.write(&make(i, d).with_subject(d.subject.clone()))
            .unwrap();
        rows.entry(d.subject.clone())
            .or_insert_with(|| SubjectRow {
                subject: d.subject.clone(),
                source: "synthetic".into(),
                session: String::new(),
                modalities: vec![Modality::Dna],
                n_samples: 0,
                split: String::new(),
            })
            .n_samples += 1;
    }
    let shards = w.finish().unwrap();
    let rows: Vec<SubjectRow> = rows.into_values().collect();
    let table = bomdata_shard::subjects::write(dir, &rows).unwrap();
    let m = Manifest {
        layout_version: bomdata_schemas::LAYOUT_VERSION.into(),
        kind: DatasetKind::Canonical,
        tool: "test".into(),
        sources: vec!["synthetic".into()],
        profile: None,
        tokenizer: None,
        counts: Counts {
            samples: shards.iter().map(|s| s.samples).sum(),
            shards: shards.len() as u64,
            subjects: rows.len() as u64,
            ..Counts::default()
        },
        shards,
        tables: vec![table],
    };
    dataset::write_manifest(dir, &m).unwrap();
}

/// The ids of one document by `bomdata tokenize --json`.
fn tokenize(tokenizer: &str, bytes: &[u8], scratch: &Path) -> Vec<u32> {
    let f = scratch.join("doc.bin");
    std::fs::write(&f, bytes).unwrap();
    let mut c = cmd();
    c.arg("tokenize")
        .args(["--tokenizer", tokenizer, "--json", "--file"])
        .arg(&f);
    let o = run(c);
    assert!(o.status.success(), "tokenize failed");
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    v["ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap() as u32)
        .collect()
}

/// Every token sequence of a token dataset, in shard order: (split, key, meta, ids, offsets).
pub(crate) struct Seq {
    split: String,
    key: String,
    meta: SequenceMeta,
    ids: Vec<u32>,
    offsets: Vec<u32>,
    dtype: npy::Dtype,
    subject: Option<String>,
}

pub(crate) fn read_all(out: &Path) -> (Manifest, Vec<Seq>) {
    let m = dataset::read_manifest(out).unwrap();
    let mut seqs = Vec::new();
    for e in &m.shards {
        for s in ShardReader::open(out, e).unwrap() {
            let s = s.unwrap();
            let packed = tokens::read_sequence(&s).unwrap();
            let meta: SequenceMeta =
                serde_json::from_slice(&s.member("meta.json").unwrap().data).unwrap();
            let dtype = npy::decode(&s.member("input_ids.npy").unwrap().data)
                .unwrap()
                .dtype;
            seqs.push(Seq {
                split: e.split.clone().unwrap(),
                key: s.key.clone(),
                meta,
                ids: packed.ids,
                offsets: packed.doc_offsets,
                dtype,
                subject: s.subject.clone(),
            });
        }
    }
    (m, seqs)
}

/// Rebuilds every document from the segments (by the keys in `meta.json`), checking that
/// segments of one document are contiguous and in order.
pub(crate) fn unpack(seqs: &[Seq]) -> BTreeMap<String, Vec<u32>> {
    let mut docs: BTreeMap<String, Vec<u32>> = BTreeMap::new();
    for s in seqs {
        assert_eq!(s.meta.keys.len() + 1, s.offsets.len(), "{}", s.key);
        assert_eq!(s.meta.doc_starts.len(), s.meta.keys.len());
        for (i, w) in s.offsets.windows(2).enumerate() {
            let seg = &s.ids[w[0] as usize..w[1] as usize];
            let doc = docs.entry(s.meta.keys[i].clone()).or_default();
            assert_eq!(
                doc.len() as u64,
                s.meta.doc_starts[i],
                "{}: segment {i} out of order",
                s.key
            );
            assert_eq!(
                i == 0 && s.meta.continues,
                s.meta.doc_starts[i] > 0,
                "{}",
                s.key
            );
            doc.extend_from_slice(seg);
        }
    }
    docs
}

/// Checks a token dataset against per-document tokenization; returns the sequences.
fn check(
    out: &Path,
    docs: &[Doc],
    tokenizer: &str,
    id: &str,
    seq_len: usize,
    pad_id: u32,
    dtype: npy::Dtype,
) -> Vec<Seq> {
    let scratch = tempfile::tempdir().unwrap();
    let expected: BTreeMap<String, Vec<u32>> = docs
        .iter()
        .map(|d| (d.key.clone(), tokenize(tokenizer, &d.bytes, scratch.path())))
        .collect();
    let (m, seqs) = read_all(out);
    let total: u64 = expected.values().map(|v| v.len() as u64).sum();
    // Token count: the sum over the inputs, in the sequences and in the manifest.
    let stored: u64 = seqs.iter().map(|s| s.meta.n_tokens).sum();
    assert_eq!(stored, total);
    let from_offsets: u64 = seqs
        .iter()
        .map(|s| u64::from(s.offsets.last().unwrap() - s.offsets[0]))
        .sum();
    assert_eq!(from_offsets, total);
    let t = m.tokenizer.as_ref().unwrap();
    assert_eq!(t["tokens"], total);
    assert_eq!(t["documents"], docs.len());
    assert_eq!(t["id"], id);
    assert_eq!(t["config_hash"].as_str().unwrap().len(), 64);
    assert_eq!(m.counts.samples as usize, seqs.len());
    // Boundaries round-trip: the documents come back exactly.
    assert_eq!(unpack(&seqs), expected);
    // Every sequence is seq_len long, in the smallest dtype, padded with the pad id outside
    // the real tokens.
    for s in &seqs {
        assert!(s.meta.sequences >= 1);
        assert_eq!(
            s.ids.len(),
            seq_len * s.meta.sequences as usize,
            "{}",
            s.key
        );
        assert_eq!(s.dtype, dtype);
        let (a, b) = (s.offsets[0] as usize, *s.offsets.last().unwrap() as usize);
        assert!(
            s.ids[..a].iter().chain(&s.ids[b..]).all(|&i| i == pad_id),
            "{}",
            s.key
        );
    }
    // Subject split: all documents of a subject in one split, and a sequence never mixes splits.
    let subject_of: BTreeMap<&str, &str> = docs
        .iter()
        .map(|d| (d.key.as_str(), d.subject.as_str()))
        .collect();
    let mut split_of: BTreeMap<&str, &str> = BTreeMap::new();
    for s in &seqs {
        assert_eq!(s.meta.split, s.split);
        for k in &s.meta.keys {
            let subj = subject_of[k.as_str()];
            let prev = split_of.insert(subj, &s.split);
            assert!(
                prev.is_none() || prev == Some(&s.split),
                "subject {subj} in two splits"
            );
        }
        let subjects: std::collections::BTreeSet<&str> =
            s.meta.keys.iter().map(|k| subject_of[k.as_str()]).collect();
        if subjects.len() == 1 {
            assert_eq!(s.subject.as_deref(), subjects.first().copied());
        } else {
            assert!(s.subject.is_none());
        }
    }
    let rows = bomdata_shard::subjects::read(out).unwrap();
    for r in rows {
        assert_eq!(
            split_of.get(r.subject.as_str()).copied(),
            Some(r.split.as_str())
        );
    }
    // The stored tokenizer config rebuilds the same tokenizer.
    let cfg = out.join(tokens::TOKENIZER_CONFIG);
    for d in docs.iter().take(3) {
        assert_eq!(
            tokenize(cfg.to_str().unwrap(), &d.bytes, scratch.path()),
            expected[&d.key]
        );
    }
    seqs
}

pub(crate) fn shard_tokens(canon: &Path, out: &Path, args: &[&str]) {
    let mut c = cmd();
    c.arg("shard").arg(canon).arg("--out").arg(out).args(args);
    let o = run(c);
    assert!(o.status.success(), "bomdata shard --tokens failed");
}

pub(crate) fn dna_docs() -> Vec<Doc> {
    let mut rng = bomdata_testdata::Rng::new(11);
    (0..24)
        .map(|i| {
            let n = 1 + rng.below(300) as usize;
            Doc {
                key: format!("synthetic_subj{:02}_chr1_dna_{i:06}", i % 6),
                subject: format!("subj{:02}", i % 6),
                bytes: dna(&mut rng, n),
            }
        })
        .collect()
}

#[test]
fn dna_token_shards_pack_and_roundtrip() {
    let d = tempfile::tempdir().unwrap();
    let canon = d.path().join("canon");
    let docs = dna_docs();
    // Half the windows as seq.txt, half as seq.npy (uint8 ASCII), as the genome adapter writes.
    write_canonical(&canon, &docs, |i, doc| {
        let s = Sample::new(doc.key.clone());
        let s = if i % 2 == 0 {
            s.with("seq.txt", doc.bytes.clone())
        } else {
            s.with("seq.npy", npy::encode_u8(&[doc.bytes.len()], &doc.bytes))
        };
        s.with("nmask.npy", npy::encode_u8(&[1], &[0]))
            .with("meta.json", b"{}".to_vec())
    });
    let mut trees = Vec::new();
    for jobs in ["1", "2"] {
        let out = d.path().join(format!("tok{jobs}"));
        shard_tokens(
            &canon,
            &out,
            &[
                "--tokens",
                "caduceus-pretrain",
                "--seq-len",
                "64",
                "--tokens-per-shard",
                "300",
                "--seed",
                "5",
                "--split",
                "0.5,0.25,0.25",
                "--jobs",
                jobs,
            ],
        );
        trees.push(tree(&out));
    }
    // Byte-reproducible, whatever the number of jobs.
    assert_eq!(trees[0], trees[1]);
    let out = d.path().join("tok1");
    let seqs = check(
        &out,
        &docs,
        "caduceus-pretrain",
        "caduceus-pretrain",
        64,
        4,
        npy::Dtype::U8,
    );
    // Packing: documents share sequences, and some continue into the next one.
    assert!(seqs.iter().any(|s| s.meta.keys.len() > 1));
    assert!(seqs.iter().any(|s| s.meta.continues));
    // Rollover by tokens: 300 / 64 → 4 sequences per shard, stored as one sample of 4.
    let m = dataset::read_manifest(&out).unwrap();
    assert!(m.shards.iter().all(|s| s.samples == 1));
    assert!(seqs.iter().all(|s| s.meta.sequences <= 4));
    assert!(seqs.iter().any(|s| s.meta.sequences == 4));
    assert_eq!(m.profile.as_ref().unwrap().name, "tokens");
    assert_eq!(m.tokenizer.as_ref().unwrap()["dtype"], "u8");
    assert!(out.join(tokens::TOKENIZER_CONFIG).is_file());
    let mut v = cmd();
    v.arg("verify").arg(&out);
    assert!(run(v).status.success());

    // The 6-mer tokenizer raises on lower case (as NT does): the build is refused before any
    // output, naming a sample and the way out (issue 20 item 7).
    let mut c = cmd();
    c.arg("shard")
        .arg(&canon)
        .arg("--out")
        .arg(d.path().join("nt"))
        .args(["--tokens", "nt-6mer-v1"]);
    let o = c.output().unwrap();
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("refuses lower-case bases") && err.contains("case=upper"),
        "{err}"
    );
    assert!(!d.path().join("nt").exists());
    // The retired plain name is an error that lists the NT vocabularies (issue 20 item 6).
    let mut c = cmd();
    c.arg("shard")
        .arg(&canon)
        .arg("--out")
        .arg(d.path().join("nt-plain"))
        .args(["--tokens", "nt-6mer"]);
    let o = c.output().unwrap();
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("nt-6mer-v1") && err.contains("nt-6mer-v2"),
        "{err}"
    );

    // Python reads input_ids back unchanged (plain tarfile + numpy).
    python_reads_back(&out, &seqs);
}

#[test]
fn dna_token_shards_pad_mode_kmer() {
    let d = tempfile::tempdir().unwrap();
    let canon = d.path().join("canon");
    let mut docs = dna_docs();
    for doc in &mut docs {
        doc.bytes.make_ascii_uppercase();
    }
    write_canonical(&canon, &docs, |_, doc| {
        Sample::new(doc.key.clone()).with("seq.txt", doc.bytes.clone())
    });
    let out = d.path().join("tok");
    shard_tokens(
        &canon,
        &out,
        &[
            "--tokens",
            "nt-6mer-v1",
            "--pad",
            "--pad-side",
            "left",
            "--seq-len",
            "16",
            "--tokens-per-shard",
            "64",
        ],
    );
    // NT 6-mer: vocabulary 4,107 → uint16; <pad> is 1.
    let seqs = check(
        &out,
        &docs,
        "nt-6mer-v1",
        "nt-6mer-v1",
        16,
        1,
        npy::Dtype::U16,
    );
    // Pad mode: one document per sequence (long ones continue in the next sequences).
    assert!(seqs.iter().all(|s| s.meta.keys.len() == 1));
    assert!(seqs.iter().any(|s| s.meta.continues));
    assert!(seqs.iter().any(|s| s.offsets[0] > 0), "left padding");
}

/// A WordLevel `tokenizer.json` with 300 words plus `[UNK]` and `[PAD]` (vocabulary > 256).
pub(crate) fn word_level_json() -> serde_json::Value {
    let mut vocab = serde_json::Map::new();
    vocab.insert("[UNK]".into(), 0.into());
    vocab.insert("[PAD]".into(), 1.into());
    for i in 0..300 {
        vocab.insert(format!("w{i}"), (i + 2).into());
    }
    let added = |id: u32, content: &str| {
        serde_json::json!({"id": id, "content": content, "single_word": false, "lstrip": false,
            "rstrip": false, "normalized": false, "special": true})
    };
    serde_json::json!({
        "version": "1.0",
        "truncation": null,
        "padding": null,
        "added_tokens": [added(0, "[UNK]"), added(1, "[PAD]")],
        "normalizer": null,
        "pre_tokenizer": {"type": "Whitespace"},
        "post_processor": null,
        "decoder": null,
        "model": {"type": "WordLevel", "vocab": vocab, "unk_token": "[UNK]"}
    })
}

#[test]
fn text_token_shards_with_a_tokenizer_json() {
    let d = tempfile::tempdir().unwrap();
    let canon = d.path().join("canon");
    let mut rng = bomdata_testdata::Rng::new(3);
    let mut docs: Vec<Doc> = (0..15)
        .map(|i| {
            let n = 1 + rng.below(40);
            let words: Vec<String> = (0..n)
                .map(|_| match rng.below(10) {
                    0 => "unknown!".to_string(),
                    _ => format!("w{}", rng.below(300)),
                })
                .collect();
            Doc {
                key: format!("synthetic_p{:02}_note_{i:06}", i % 5),
                subject: format!("p{:02}", i % 5),
                bytes: words.join(" ").into_bytes(),
            }
        })
        .collect();
    let tok_dir = d.path().join("wordlevel");
    std::fs::create_dir_all(&tok_dir).unwrap();
    let tok_path = tok_dir.join("tokenizer.json");
    std::fs::write(&tok_path, serde_json::to_vec(&word_level_json()).unwrap()).unwrap();
    // A sample without text is skipped and reported, not tokenized.
    write_canonical(&canon, &docs, |_, doc| {
        Sample::new(doc.key.clone())
            .with("note.txt", doc.bytes.clone())
            .with("meta.json", b"{}".to_vec())
    });
    let out = d.path().join("tok");
    let tok_s = tok_path.to_str().unwrap();
    shard_tokens(
        &canon,
        &out,
        &[
            "--tokens",
            tok_s,
            "--seq-len",
            "32",
            "--tokens-field",
            "note",
        ],
    );
    let seqs = check(&out, &docs, tok_s, "wordlevel", 32, 1, npy::Dtype::U16);
    assert!(!seqs.is_empty());
    // The HF tokenizer.json is written beside the shards and tokenizes the same.
    let hf = out.join(tokens::HF_TOKENIZER);
    let written: serde_json::Value = serde_json::from_slice(&std::fs::read(&hf).unwrap()).unwrap();
    assert_eq!(written, word_level_json());
    let scratch = tempfile::tempdir().unwrap();
    assert_eq!(
        tokenize(hf.to_str().unwrap(), &docs[0].bytes, scratch.path()),
        tokenize(tok_s, &docs[0].bytes, scratch.path())
    );

    // Samples without the field are skipped and reported.
    let canon2 = d.path().join("canon2");
    docs.truncate(6);
    write_canonical(&canon2, &docs, |i, doc| {
        let s = Sample::new(doc.key.clone()).with("meta.json", b"{}".to_vec());
        if i == 0 {
            s
        } else {
            s.with("note.txt", doc.bytes.clone())
        }
    });
    let out2 = d.path().join("tok2");
    shard_tokens(&canon2, &out2, &["--tokens", tok_s, "--seq-len", "32"]);
    let m2 = dataset::read_manifest(&out2).unwrap();
    assert_eq!(m2.tokenizer.as_ref().unwrap()["documents"], 5);
    let report = std::fs::read_to_string(out2.join("report.jsonl")).unwrap();
    assert_eq!(report.lines().count(), 1);
    assert!(report.contains(&docs[0].key));
}

/// Reads every shard with Python's `tarfile` and numpy, and compares `input_ids` and
/// `doc_offsets` with what Rust read.
fn python_reads_back(out: &Path, seqs: &[Seq]) {
    let py = bomdata_testdata::require_python();
    let script = r#"
import io, json, sys, tarfile, pathlib
import numpy as np
root = pathlib.Path(sys.argv[1])
m = json.loads((root / "manifest.json").read_text())
out = {}
for e in m["shards"]:
    with tarfile.open(root / "shards" / e["name"]) as t:
        for member in t.getmembers():
            key, field = member.name.split(".", 1)
            if field in ("input_ids.npy", "doc_offsets.npy"):
                a = np.load(io.BytesIO(t.extractfile(member).read()))
                out.setdefault(key, {})[field] = {"dtype": str(a.dtype), "values": a.tolist()}
json.dump(out, sys.stdout)
"#;
    let o = std::process::Command::new(py)
        .arg("-c")
        .arg(script)
        .arg(out)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "python reader failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v.as_object().unwrap().len(), seqs.len());
    for s in seqs {
        let e = &v[&s.key];
        assert_eq!(e["input_ids.npy"]["dtype"], s.dtype.name(), "{}", s.key);
        assert_eq!(
            e["input_ids.npy"]["values"],
            serde_json::json!(s.ids),
            "{}",
            s.key
        );
        assert_eq!(e["doc_offsets.npy"]["dtype"], "uint32");
        assert_eq!(
            e["doc_offsets.npy"]["values"],
            serde_json::json!(s.offsets),
            "{}",
            s.key
        );
    }
}

/// The windows of a `genome/2` block as documents (keyed as the windows).
fn window_docs(s: &Sample) -> Vec<Doc> {
    let b: bomdata_schemas::genome::WindowBlock =
        serde_json::from_slice(&s.member("meta.json").unwrap().data).unwrap();
    let seq = &s.member("seq.txt").unwrap().data;
    let offs = b.offsets();
    assert_eq!(*offs.last().unwrap(), seq.len() as u64);
    (0..b.windows())
        .map(|i| Doc {
            key: bomdata_schemas::genome::WindowBlock::window_key(&s.key, b.first_index, i as u64),
            subject: s.subject.clone().unwrap(),
            bytes: seq[offs[i] as usize..offs[i + 1] as usize].to_vec(),
        })
        .collect()
}

/// `shard --tokens` options of the FASTA fixture tests: HyenaDNA characters packed into
/// 512-token sequences, 8192 tokens per shard.
pub(crate) const HYENA_PACKED_512: [&str; 6] = [
    "--tokens",
    "hyena-char",
    "--seq-len",
    "512",
    "--tokens-per-shard",
    "8192",
];

/// `<dir>/genome`: a genome source of the FASTA fixture `volvox.fa` (soft-masked, two
/// chromosomes) in 700-base windows.
pub(crate) fn volvox_genome(dir: &Path) -> PathBuf {
    let fixtures = bomdata_testdata::require_fixtures();
    let src = dir.join("genome");
    std::fs::create_dir_all(&src).unwrap();
    std::fs::copy(fixtures.join("fasta/volvox.fa"), src.join("volvox.fa")).unwrap();
    std::fs::write(src.join("genome.toml"), "window = 700\nstride = 700\n").unwrap();
    src
}

/// A FASTA fixture through the genome adapter (`seq.txt` windows in blocks, soft-masked lower case), then
/// HyenaDNA character tokens: the documents come back exactly and the token count adds up.
#[test]
fn genome_windows_from_a_fasta_fixture() {
    let d = tempfile::tempdir().unwrap();
    let src = volvox_genome(d.path());
    let canon = d.path().join("canon");
    let mut c = cmd();
    c.arg("ingest")
        .arg(&src)
        .arg("--out")
        .arg(&canon)
        .args(["--source", "t2t_chm13"]);
    assert!(run(c).status.success(), "ingest of volvox.fa failed");
    let m = dataset::read_manifest(&canon).unwrap();
    let mut docs = Vec::new();
    for e in &m.shards {
        for s in ShardReader::open(&canon, e).unwrap() {
            docs.extend(window_docs(&s.unwrap()));
        }
    }
    assert!(docs.len() > 10);
    assert!(
        docs.iter()
            .any(|d| d.bytes.iter().any(u8::is_ascii_lowercase))
    );
    let out = d.path().join("tok");
    shard_tokens(&canon, &out, &HYENA_PACKED_512);
    // [PAD] is 4 in the HyenaDNA vocabulary (12 ids → uint8).
    check(
        &out,
        &docs,
        "hyena-char",
        "hyena-char",
        512,
        4,
        npy::Dtype::U8,
    );
}

/// Issue 20, item 7: a soft-masked assembly through DNA tokenizers. NT k-mers refuse lower case
/// before anything is written (no output folder left), `--param case=upper` is the way out,
/// and every build records the lower-case bases and what the tokenizer did with them.
#[test]
fn lowercase_input_is_checked_and_counted() {
    let d = tempfile::tempdir().unwrap();
    let src = d.path().join("src");
    std::fs::create_dir_all(&src).unwrap();
    bomdata_testdata::genome::assembly_tree(&src);
    let canon = d.path().join("canon");
    let mut c = cmd();
    c.arg("ingest")
        .arg(&src)
        .arg("--out")
        .arg(&canon)
        .args(["--source", "t2t_chm13"]);
    assert!(run(c).status.success(), "ingest failed");
    // The lower-case bases of the canonical windows.
    let m = dataset::read_manifest(&canon).unwrap();
    let mut lower = 0u64;
    for e in &m.shards {
        for s in ShardReader::open(&canon, e).unwrap() {
            let s = s.unwrap();
            let seq = &s.member("seq.txt").unwrap().data;
            lower += seq.iter().filter(|b| b.is_ascii_lowercase()).count() as u64;
        }
    }
    assert!(lower > 0, "the fixture is soft-masked");

    // Refused: exit 2, the count and the way out in the message, no output folder.
    let out = d.path().join("nt");
    let mut c = cmd();
    c.arg("shard").arg(&canon).arg("--out").arg(&out).args([
        "--tokens",
        "nt-6mer-v1",
        "--seq-len",
        "64",
    ]);
    let o = run(c);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("case=upper"), "{err}");
    assert!(err.contains(&format!("{lower} in")), "{err}");
    assert!(!out.exists(), "a refused build left {}", out.display());

    // The way out, and the counts for each policy.
    for (name, args, effect) in [
        (
            "nt-upper",
            &["--tokens", "nt-6mer-v1", "--param", "case=upper"][..],
            "upper_cased",
        ),
        ("hyena", &["--tokens", "hyena-char"][..], "unk"),
        ("evo", &["--tokens", "evo-byte"][..], "kept"),
    ] {
        let out = d.path().join(name);
        let mut c = cmd();
        c.arg("shard")
            .arg(&canon)
            .arg("--out")
            .arg(&out)
            .args(args)
            .args(["--seq-len", "64"]);
        let o = run(c);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(o.status.success(), "{name}: {err}");
        assert!(
            err.contains(&format!("{lower} lower-case bases")) && err.contains(effect),
            "{name}: {err}"
        );
        let m = dataset::read_manifest(&out).unwrap();
        let l = &m.tokenizer.unwrap()["lowercase"];
        assert_eq!(l["effect"], effect, "{name}");
        assert_eq!(l["bases"], lower, "{name}");
    }
}
