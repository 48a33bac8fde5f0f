//! The loader on real `bomdata shard` output (issue 17): `--profile volume` datasets holding
//! 3-D and 4-D volumes in one field, batched under each shape policy, and `shard --tokens`
//! datasets (DNA characters, a word-level `tokenizer.json`) as packed sequences and
//! token-budget batches; every sample or token exactly once over world sizes 1 to 4 with a
//! resume in between.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bomdata_loader::{
    Batch, Dataset, FieldKind, Loader, LoaderOptions, LoaderState, Mixture, OrderOptions,
    Partition, Planner, Remainder, SampleId, ShapePolicy, Span, TokenLoader, TokenMode,
    TokenOptions, TokenPlanner, Units,
};
use bomdata_shard::npy;
use bomdata_shard::{Sample, member};
use bomdata_testdata::mri;
use bomdata_tests::{cmd, run};

use crate::tokens::{
    Doc, dna_docs, read_all, shard_tokens, unpack, word_level_json, write_canonical,
};

const FIELD: &str = "volume.npy";

/// Ingests the synthetic BIDS tree (T1w/FLAIR 3-D, BOLD/DWI/PET 4-D) and shards it with the
/// volume profile on a small grid.
fn volume_dataset(work: &Path) -> PathBuf {
    let src = work.join("src");
    mri::bids_recordings(&src);
    let canon = work.join("canon");
    let mut c = cmd();
    c.arg("ingest").arg(&src).arg("--out").arg(&canon).args([
        "--source",
        "openneuro",
        "--compress",
        "member",
    ]);
    assert!(run(c).status.success(), "ingest failed");
    let out = work.join("volume");
    let mut c = cmd();
    c.arg("shard").arg(&canon).arg("--out").arg(&out).args([
        "--profile",
        "volume",
        "--param",
        "target=[6,5,4]",
        "--compress",
        "member",
    ]);
    assert!(run(c).status.success(), "shard --profile volume failed");
    out
}

/// The stored array of every sample: (shape, data bytes), by selection index.
fn stored(dir: &Path) -> Vec<(Vec<usize>, Vec<u8>)> {
    let ds = Dataset::open(dir).unwrap();
    ds.infos()
        .map(|info| {
            let name = info
                .sample
                .members
                .iter()
                .find(|m| member::logical_name(&m.name).0 == FIELD)
                .unwrap()
                .name
                .clone();
            let bytes = info.member(&name).unwrap();
            let v = npy::decode(&bytes).unwrap();
            (v.shape.clone(), v.data.to_vec())
        })
        .collect()
}

fn planner(dir: &Path, policy: ShapePolicy, seed: u64, size: usize) -> Arc<Planner> {
    let ds = Dataset::open(dir).unwrap();
    let order = OrderOptions {
        seed,
        ..OrderOptions::default()
    };
    let p = if policy == ShapePolicy::Bucket {
        Planner::with_buckets(Mixture::single(ds), order, &[FIELD.into()], size, false)
    } else {
        Planner::new(Mixture::single(ds), order, Units::Samples)
    };
    Arc::new(p.unwrap())
}

fn options(policy: ShapePolicy, size: usize) -> LoaderOptions {
    LoaderOptions {
        batch_size: if policy == ShapePolicy::Bucket {
            1
        } else {
            size
        },
        shapes: BTreeMap::from([(FIELD.to_string(), policy)]),
        ..LoaderOptions::default()
    }
}

/// Checks every row of a batch against the stored arrays under `policy`.
fn check_batch(b: &Batch, policy: ShapePolicy, want: &[(Vec<usize>, Vec<u8>)]) {
    let f = b.field(FIELD).unwrap();
    let ids: Vec<SampleId> = b.ids().to_vec();
    let es = match f.kind() {
        FieldKind::Tensor { dtype, .. } | FieldKind::List { dtype } => dtype.size(),
        FieldKind::Bytes => panic!("volume is not an array"),
    };
    for (r, id) in ids.iter().enumerate() {
        let (shape, data) = &want[id.index()];
        assert_eq!(f.row_shape(r).unwrap(), shape.as_slice());
        let row = f.row(r);
        match (policy, f.kind()) {
            (ShapePolicy::Pad | ShapePolicy::PadMasked, FieldKind::Tensor { sample_shape, .. }) => {
                let want_row = padded(data, shape, sample_shape, es);
                assert_eq!(row, want_row.as_slice());
                if policy == ShapePolicy::PadMasked {
                    let mask = b.field("volume.mask").unwrap().row(r);
                    let ones = padded(&vec![1u8; data.len() / es], shape, sample_shape, 1);
                    assert_eq!(mask, ones.as_slice());
                }
            }
            _ => assert_eq!(row, data.as_slice()),
        }
    }
    if policy == ShapePolicy::Bucket {
        let first = &want[ids[0].index()].0;
        assert!(ids.iter().all(|i| &want[i.index()].0 == first));
    }
}

/// `data` (an array of `shape`, elements of `es` bytes) zero-padded to `outer`, lower ranks
/// taken as trailing 1s.
fn padded(data: &[u8], shape: &[usize], outer: &[usize], es: usize) -> Vec<u8> {
    let total: usize = outer.iter().product();
    let mut out = vec![0u8; total * es];
    let mut s = shape.to_vec();
    s.resize(outer.len(), 1);
    let n: usize = s.iter().product();
    for i in 0..n {
        // multi-index of element i in `s`, then its flat index in `outer`
        let (mut rem, mut flat) = (i, 0);
        let mut idx = vec![0; s.len()];
        for d in (0..s.len()).rev() {
            idx[d] = rem % s[d];
            rem /= s[d];
        }
        for d in 0..s.len() {
            flat = flat * outer[d] + idx[d];
        }
        out[flat * es..(flat + 1) * es].copy_from_slice(&data[i * es..(i + 1) * es]);
    }
    out
}

fn read(
    p: &Arc<Planner>,
    part: Partition,
    o: &LoaderOptions,
    state: LoaderState,
    max: usize,
    check: &dyn Fn(&Batch),
) -> (Vec<SampleId>, LoaderState) {
    let mut l = Loader::new(p.clone(), part, o.clone()).unwrap();
    l.set_state(state).unwrap();
    let mut ids = Vec::new();
    for b in l.epoch().take(max) {
        let b = b.unwrap();
        check(&b);
        ids.extend(b.ids().iter().filter(|i| !i.is_missing()));
    }
    (ids, l.state())
}

#[test]
fn volume_profile_output_under_every_shape_policy() {
    let work = tempfile::tempdir().unwrap();
    let dir = volume_dataset(work.path());
    let want = stored(&dir);
    let n = want.len();
    let ndims: std::collections::BTreeSet<usize> = want.iter().map(|w| w.0.len()).collect();
    assert_eq!(ndims, [3, 4].into(), "3-D and 4-D volumes in one dataset");

    // stacking them fails and the error names the option
    let p = planner(&dir, ShapePolicy::Stack, 0, n);
    let mut l = Loader::new(p, Partition::single(), options(ShapePolicy::Stack, n)).unwrap();
    let err = l.epoch().find_map(|b| b.err()).unwrap().to_string();
    assert!(
        err.contains("LoaderOptions::shapes[\"volume.npy\"]"),
        "{err}"
    );

    for policy in [
        ShapePolicy::Pad,
        ShapePolicy::PadMasked,
        ShapePolicy::List,
        ShapePolicy::Bucket,
    ] {
        for (w1, w2) in [(1, 4), (2, 3), (3, 1), (4, 2)] {
            let p = planner(&dir, policy, w1 as u64, 2);
            let o = options(policy, 2);
            let check = |b: &Batch| check_batch(b, policy, &want);
            let start = LoaderState {
                fingerprint: p.fingerprint(),
                ..LoaderState::default()
            };
            // every rank reads one batch, the job restarts on another world size
            let mut seen = Vec::new();
            let mut mid = None;
            for r in 0..w1 {
                let part = Partition::new(r, w1, Remainder::Uneven).unwrap();
                let (ids, st) = read(&p, part, &o, start.clone(), 1, &check);
                seen.extend(ids);
                if st.epoch == 0 {
                    mid = Some(st);
                }
            }
            if let Some(mid) = mid {
                let mid = LoaderState::from_json(&mid.to_json()).unwrap();
                for r in 0..w2 {
                    let part = Partition::new(r, w2, Remainder::Uneven).unwrap();
                    seen.extend(read(&p, part, &o, mid.clone(), usize::MAX, &check).0);
                }
            }
            seen.sort_unstable();
            let all: Vec<SampleId> = (0..n).map(|i| SampleId::new(0, i)).collect();
            assert_eq!(seen, all, "{policy:?} {w1}->{w2}");
        }
    }
}

/// Reads a rank's batches, checking each span's ids against the documents; returns the spans.
fn read_tokens(
    p: &Arc<TokenPlanner>,
    part: Partition,
    state: LoaderState,
    max: usize,
    docs: &BTreeMap<String, Vec<u32>>,
) -> (Vec<Span>, LoaderState) {
    let mut l = TokenLoader::new(p.clone(), part).unwrap();
    l.set_state(state).unwrap();
    let mut spans = Vec::new();
    for b in l.epoch().unwrap().take(max) {
        let b = b.unwrap();
        assert_eq!(b.input_ids.len(), b.rows * b.seq_len);
        for (i, s) in b.spans.iter().enumerate() {
            let doc = &docs[p.document_key(s.doc)];
            let (a, e) = (b.cu_seqlens[i] as usize, b.cu_seqlens[i + 1] as usize);
            let want: Vec<i64> = doc[s.from as usize..s.to as usize]
                .iter()
                .map(|&x| i64::from(x))
                .collect();
            assert_eq!(b.input_ids[a..e], want[..]);
            assert!(b.position_ids[a..e].iter().copied().eq(0..(e - a) as i64));
        }
        let o = p.options();
        if o.mode == TokenMode::Budget {
            assert!(b.input_ids.len() <= o.max_tokens);
        }
        spans.extend(b.spans);
    }
    (spans, l.state())
}

/// Every document of `docs` exactly once, whole.
fn assert_tiles(p: &TokenPlanner, spans: &[Span], docs: &BTreeMap<String, Vec<u32>>) {
    let mut per: HashMap<u32, Vec<(u64, u64)>> = HashMap::new();
    for s in spans {
        per.entry(s.doc).or_default().push((s.from, s.to));
    }
    assert_eq!(per.len(), docs.len());
    for (d, mut v) in per {
        v.sort_unstable();
        let mut at = 0;
        for (a, b) in v {
            assert_eq!(a, at);
            at = b;
        }
        assert_eq!(at as usize, docs[p.document_key(d)].len());
    }
}

fn token_runs(dir: &Path) {
    let (_, seqs) = read_all(dir);
    let docs = unpack(&seqs);
    let longest = docs.values().map(Vec::len).max().unwrap();
    let modes = [
        (TokenMode::Budget, longest, false),
        (TokenMode::Budget, longest / 3 + 1, true),
        (TokenMode::Packed, 50, false),
    ];
    for (mode, size, split_long) in modes {
        for (w1, w2) in [(1, 3), (2, 4), (3, 2), (4, 1)] {
            let opts = TokenOptions {
                mode,
                seed: w1 as u64,
                seq_len: size,
                batch_size: 2,
                max_tokens: size,
                split_long,
                ..TokenOptions::default()
            };
            let ds = Dataset::open(dir).unwrap();
            let p = Arc::new(TokenPlanner::new(Mixture::single(ds), opts).unwrap());
            assert_eq!(p.documents(), docs.len());
            let start = LoaderState {
                fingerprint: p.fingerprint(),
                ..LoaderState::default()
            };
            let mut seen = Vec::new();
            let mut mid = None;
            for r in 0..w1 {
                let part = Partition::new(r, w1, Remainder::Uneven).unwrap();
                let (spans, st) = read_tokens(&p, part, start.clone(), 2, &docs);
                seen.extend(spans);
                if st.epoch == 0 {
                    mid = Some(st);
                }
            }
            if let Some(mid) = mid {
                for r in 0..w2 {
                    let part = Partition::new(r, w2, Remainder::Uneven).unwrap();
                    seen.extend(read_tokens(&p, part, mid.clone(), usize::MAX, &docs).0);
                }
            }
            assert_tiles(&p, &seen, &docs);
        }
    }
}

#[test]
fn token_batches_from_shard_tokens_output() {
    let d = tempfile::tempdir().unwrap();
    // DNA characters, packed (documents continue across stored sequences)
    let canon = d.path().join("canon-dna");
    let docs = dna_docs();
    write_canonical(&canon, &docs, |_, doc| {
        Sample::new(doc.key.clone()).with("seq.txt", doc.bytes.clone())
    });
    let out = d.path().join("tok-dna");
    let args = [
        "--tokens",
        "hyena-char",
        "--seq-len",
        "64",
        "--tokens-per-shard",
        "256",
    ];
    shard_tokens(&canon, &out, &args);
    token_runs(&out);

    // a word-level tokenizer.json, pad mode (one document per stored sequence)
    let canon = d.path().join("canon-text");
    let mut rng = bomdata_testdata::Rng::new(5);
    let text: Vec<Doc> = (0..12)
        .map(|i| Doc {
            key: format!("synthetic_p{:02}_note_{i:06}", i % 4),
            subject: format!("p{:02}", i % 4),
            bytes: (0..1 + rng.below(50))
                .map(|_| format!("w{}", rng.below(300)))
                .collect::<Vec<_>>()
                .join(" ")
                .into_bytes(),
        })
        .collect();
    write_canonical(&canon, &text, |_, doc| {
        Sample::new(doc.key.clone()).with("note.txt", doc.bytes.clone())
    });
    let tok = d.path().join("tokenizer.json");
    std::fs::write(&tok, serde_json::to_vec(&word_level_json()).unwrap()).unwrap();
    let out = d.path().join("tok-text");
    let args = [
        "--tokens",
        tok.to_str().unwrap(),
        "--seq-len",
        "16",
        "--pad",
    ];
    shard_tokens(&canon, &out, &args);
    token_runs(&out);
}
