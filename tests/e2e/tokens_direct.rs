//! `bomdata ingest <genome source> --tokens` (issue 22, item 2): token samples straight from the
//! FASTA. The output is not byte-identical to `bomdata ingest` + `bomdata shard --tokens`
//! (packed per block, not shuffled, in the ingest units' shards of each split; see
//! `bomdata_profiles::tokens::direct`), but each split holds the same documents with the same
//! token ids, held-out chromosomes included, and no canonical copy is written.

use std::collections::BTreeMap;
use std::path::Path;

use bomdata_profiles::tokens::{self, SequenceMeta};
use bomdata_shard::dataset::read_manifest;
use bomdata_shard::reader::ShardReader;
use bomdata_tests::{cmd, run};

/// split → document key → token ids, rebuilt from the segments of every token sample (checking
/// that a document's segments come in order); also the number of samples.
fn docs_by_split(dir: &Path) -> (BTreeMap<String, BTreeMap<String, Vec<u32>>>, usize) {
    let m = read_manifest(dir).unwrap();
    let mut all: BTreeMap<String, BTreeMap<String, Vec<u32>>> = BTreeMap::new();
    let mut n = 0;
    for e in &m.shards {
        for s in ShardReader::open(dir, e).unwrap() {
            let s = s.unwrap();
            n += 1;
            let names: Vec<&str> = s.members.iter().map(|m| m.name.as_str()).collect();
            assert_eq!(names, ["input_ids.npy", "doc_offsets.npy", "meta.json"]);
            let meta: SequenceMeta =
                serde_json::from_slice(&s.member("meta.json").unwrap().data).unwrap();
            // every shard is of one split, named in the manifest (what the loader filters on)
            let split = e
                .split
                .as_ref()
                .unwrap_or_else(|| panic!("{}: no split", e.name));
            assert_eq!(&meta.split, split, "{}", s.key);
            let seq = tokens::read_sequence(&s).unwrap();
            assert_eq!(meta.keys.len() + 1, seq.doc_offsets.len(), "{}", s.key);
            let docs = all.entry(meta.split.clone()).or_default();
            for (i, w) in seq.doc_offsets.windows(2).enumerate() {
                let doc = docs.entry(meta.keys[i].clone()).or_default();
                assert_eq!(
                    doc.len() as u64,
                    meta.doc_starts[i],
                    "{}: segment {i}",
                    s.key
                );
                doc.extend_from_slice(&seq.ids[w[0] as usize..w[1] as usize]);
            }
        }
    }
    (all, n)
}

/// Runs `bomdata SUB INPUT --out OUT ARGS...`; returns whether it succeeded and its stderr.
fn bomdata(sub: &str, input: &Path, out: &Path, args: &[&str]) -> (bool, String) {
    let mut c = cmd();
    c.arg(sub).arg(input).arg("--out").arg(out).args(args);
    let o = run(c);
    (
        o.status.success(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// Ingest + shard --tokens against ingest --tokens with the same token options.
fn compare(src: &Path, tmp: &Path, tok: &[&str], split: &[&str]) {
    let canon = tmp.join("canon");
    let two = tmp.join("two");
    let direct = tmp.join("direct");
    let ingest = ["--source", "t2t_chm13"];
    for d in [&canon, &two, &direct] {
        let _ = std::fs::remove_dir_all(d);
    }
    let (ok, err) = bomdata("ingest", src, &canon, &ingest);
    assert!(ok, "ingest: {err}");
    let (ok, err) = bomdata("shard", &canon, &two, &[tok, split].concat());
    assert!(ok, "shard --tokens {tok:?}: {err}");
    let (ok, err) = bomdata("ingest", src, &direct, &[&ingest[..], tok, split].concat());
    assert!(ok, "ingest --tokens {tok:?}: {err}");

    let (want, _) = docs_by_split(&two);
    let (got, n) = docs_by_split(&direct);
    assert!(n > 0 && !want.is_empty());
    assert_eq!(
        got.iter().map(|(s, d)| (s, d.len())).collect::<Vec<_>>(),
        want.iter().map(|(s, d)| (s, d.len())).collect::<Vec<_>>(),
        "{tok:?}: documents per split"
    );
    assert_eq!(got, want, "{tok:?}: token ids per split");
    let m = read_manifest(&direct).unwrap();
    let p = m.profile.expect("the token options are recorded");
    assert_eq!(p.name, "tokens");
    assert_eq!(p.params["tokenizer"], tok[1]);
    // The tokenizer files as `shard --tokens` writes them, listed in the manifest.
    let t = m.tokenizer.expect("manifest.tokenizer");
    let t2 = read_manifest(&two).unwrap().tokenizer.unwrap();
    for k in [
        "id",
        "config_hash",
        "config",
        "vocab_size",
        "dtype",
        "files",
    ] {
        assert_eq!(t[k], t2[k], "manifest.tokenizer.{k}");
    }
    for f in t["files"].as_array().unwrap() {
        let f = f.as_str().unwrap();
        assert_eq!(
            std::fs::read(direct.join(f)).unwrap(),
            std::fs::read(two.join(f)).unwrap(),
            "{f}"
        );
    }
    // No canonical copy: every sample is a token sample (checked in docs_by_split).
}

/// The FASTA fixture of the tokens tests (soft-masked, two chromosomes), HyenaDNA characters,
/// pack and pad modes.
#[test]
fn ingest_tokens_matches_ingest_then_shard_tokens() {
    let tmp = tempfile::tempdir().unwrap();
    let src = crate::tokens::volvox_genome(tmp.path());
    let split = ["--seed", "3", "--split", "0.5,0.25,0.25"];
    compare(&src, tmp.path(), &crate::tokens::HYENA_PACKED_512, &split);
    let pad = ["--tokens", "hyena-char", "--seq-len", "300", "--pad"];
    compare(&src, tmp.path(), &pad, &split);
}

/// Held-out chromosomes (`splits = { chr2 = "valid", chr3 = "test" }`) land in their split on
/// the direct path too, with the same documents and ids as the two-step path.
#[test]
fn ingest_tokens_keeps_held_out_chromosomes() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    std::fs::create_dir_all(&src).unwrap();
    bomdata_testdata::genome::assembly_tree(&src);
    let tok = ["--tokens", "hyena-char", "--seq-len", "256"];
    compare(&src, tmp.path(), &tok, &["--seed", "9"]);
    let (got, _) = docs_by_split(&tmp.path().join("direct"));
    assert!(got.contains_key("valid") && got.contains_key("test"));
}

/// A source that is not a genome is refused with a way out, and nothing is written.
#[test]
fn ingest_tokens_refuses_other_sources() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    bomdata_testdata::mri::bids_recordings(&src);
    let out = tmp.path().join("out");
    let args = [
        "--source",
        "openneuro",
        "--allow-unkeyed",
        "--tokens",
        "hyena-char",
    ];
    let (ok, err) = bomdata("ingest", &src, &out, &args);
    assert!(!ok);
    assert!(err.contains("genome source"), "{err}");
    assert!(err.contains("shard --tokens"), "{err}");
    assert!(!out.join("manifest.json").exists());
}

/// A tokenizer that refuses lower case fails on a soft-masked block and names the way out;
/// `--param case=upper` goes through, as with `bomdata shard --tokens`.
#[test]
fn ingest_tokens_lowercase_refused_then_upper_cased() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    std::fs::create_dir_all(&src).unwrap();
    bomdata_testdata::genome::assembly_tree(&src);
    let tok = [
        "--source",
        "t2t_chm13",
        "--tokens",
        "nt-6mer-v1",
        "--seq-len",
        "64",
    ];
    let nt = tmp.path().join("nt");
    let (ok, err) = bomdata("ingest", &src, &nt, &tok);
    assert!(!ok);
    assert!(err.contains("case=upper"), "{err}");
    // Checked over the whole input before any unit wrote: no shard, no manifest.
    assert!(!nt.join("manifest.json").exists());
    let shards = std::fs::read_dir(nt.join("shards")).map_or(0, |d| d.count());
    assert_eq!(shards, 0, "{err}");
    let upper = [&tok[..], &["--param", "case=upper"]].concat();
    compare(&src, tmp.path(), &upper[2..], &[]);
}
