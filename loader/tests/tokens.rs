//! Token batches over a token dataset written in the `shard --tokens` layout: documents joined
//! back across stored sequences, packed sequences and token-budget batches with `cu_seqlens`
//! and `position_ids`, every token exactly once per epoch and exact resume, world sizes 1..4.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use bomdata_loader::{
    Dataset, LoaderState, Mixture, Partition, Remainder, Span, TokenBatch, TokenLoader, TokenMode,
    TokenOptions, TokenPlanner,
};
use bomdata_shard::writer::Compression;
use common::{token, write_tokens};
use proptest::prelude::*;

fn planner(dir: &Path, opts: TokenOptions) -> Arc<TokenPlanner> {
    let ds = Dataset::open(dir).unwrap();
    Arc::new(TokenPlanner::new(Mixture::single(ds), opts).unwrap())
}

/// Checks a batch's layout and token values; returns its spans.
fn check(p: &TokenPlanner, b: &TokenBatch) -> Vec<Span> {
    let o = p.options();
    assert_eq!(b.input_ids.len(), b.rows * b.seq_len);
    assert_eq!(b.position_ids.len(), b.input_ids.len());
    assert_eq!(b.cu_seqlens.len(), b.spans.len() + 1);
    assert_eq!(b.cu_seqlens[0], 0);
    match o.mode {
        TokenMode::Packed => assert_eq!(b.seq_len, o.seq_len),
        TokenMode::Budget => {
            assert_eq!(b.rows, 1);
            assert!(b.input_ids.len() <= o.max_tokens);
            assert_eq!(*b.cu_seqlens.last().unwrap() as usize, b.input_ids.len());
        }
    }
    for (i, s) in b.spans.iter().enumerate() {
        let (a, e) = (b.cu_seqlens[i] as usize, b.cu_seqlens[i + 1] as usize);
        assert_eq!((e - a) as u64, s.to - s.from);
        for (j, q) in (s.from..s.to).enumerate() {
            assert_eq!(b.input_ids[a + j], token(s.doc as usize, q));
            assert_eq!(b.position_ids[a + j], j as i64);
        }
        if !o.split_long && o.mode == TokenMode::Budget {
            assert_eq!((s.from, s.to), (0, p.document_len(s.doc)));
        }
    }
    b.spans.clone()
}

fn read(
    p: &Arc<TokenPlanner>,
    part: Partition,
    state: LoaderState,
    max: usize,
    threads: usize,
) -> (Vec<Span>, LoaderState) {
    let mut l = TokenLoader::new(p.clone(), part)
        .unwrap()
        .with_threads(threads, 3);
    l.set_state(state).unwrap();
    let mut spans = Vec::new();
    for b in l.epoch().unwrap().take(max) {
        spans.extend(check(p, &b.unwrap()));
    }
    (spans, l.state())
}

/// Every token of every document exactly once: the spans of each document tile it.
fn assert_tiles(p: &TokenPlanner, spans: &[Span]) {
    let mut per: BTreeMap<u32, Vec<(u64, u64)>> = BTreeMap::new();
    for s in spans {
        per.entry(s.doc).or_default().push((s.from, s.to));
    }
    assert_eq!(per.len(), p.documents());
    for (d, mut v) in per {
        v.sort_unstable();
        let mut at = 0;
        for (a, b) in v {
            assert_eq!(a, at, "document {d}");
            at = b;
        }
        assert_eq!(at, p.document_len(d), "document {d}");
    }
}

#[test]
fn documents_are_joined_across_sequences() {
    let dir = tempfile::tempdir().unwrap();
    let lens = [5, 40, 3, 16, 17, 1];
    write_tokens(dir.path(), &lens, 16, Compression::Member(3));
    let p = planner(dir.path(), TokenOptions::default());
    assert_eq!(p.documents(), lens.len());
    for (d, &l) in lens.iter().enumerate() {
        assert_eq!(p.document_len(d as u32), l);
    }
}

#[test]
fn budget_refuses_long_documents_unless_split() {
    let dir = tempfile::tempdir().unwrap();
    write_tokens(dir.path(), &[5, 40, 3], 16, Compression::None);
    let opts = TokenOptions {
        max_tokens: 32,
        ..TokenOptions::default()
    };
    let p = planner(dir.path(), opts.clone());
    let mut l = TokenLoader::new(p, Partition::single()).unwrap();
    let err = l.epoch().unwrap_err().to_string();
    assert!(err.contains("split_long"), "{err}");
    let p = planner(
        dir.path(),
        TokenOptions {
            split_long: true,
            ..opts
        },
    );
    let (spans, st) = read(&p, Partition::single(), start(&p), usize::MAX, 2);
    assert_tiles(&p, &spans);
    assert_eq!(st.epoch, 1);
}

fn start(p: &TokenPlanner) -> LoaderState {
    LoaderState {
        fingerprint: p.fingerprint(),
        ..LoaderState::default()
    }
}

fn shared_dir() -> &'static Path {
    static DIR: std::sync::OnceLock<tempfile::TempDir> = std::sync::OnceLock::new();
    DIR.get_or_init(|| {
        let d = tempfile::tempdir().unwrap();
        let lens: Vec<u64> = (0..37).map(|i| 1 + (i * 13 % 29)).collect();
        write_tokens(d.path(), &lens, 16, Compression::Member(1));
        d
    })
    .path()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, .. ProptestConfig::default() })]

    /// Packed and budget batches, world sizes 1..4, a checkpoint after `k` batches per rank
    /// resumed on the same world (same sequence per rank) and on another (every token once);
    /// batches built on the iterating thread or on 1..3 reader threads (the same batches).
    #[test]
    fn exactly_once_and_resume(
        threads in 0usize..4,
        packed in any::<bool>(),
        w1 in 1usize..5,
        w2 in 1usize..5,
        size in 1usize..4,
        k in 0usize..4,
        seed in any::<u64>(),
    ) {
        let opts = if packed {
            TokenOptions { mode: TokenMode::Packed, seq_len: 24, batch_size: size, seed, ..TokenOptions::default() }
        } else {
            TokenOptions { mode: TokenMode::Budget, max_tokens: 30 * size, seed, ..TokenOptions::default() }
        };
        let p = planner(shared_dir(), opts);
        let mut seen = Vec::new();
        let mut mid = None;
        for r in 0..w1 {
            let part = Partition::new(r, w1, Remainder::Uneven).unwrap();
            let full = read(&p, part, start(&p), usize::MAX, 0).0;
            let (spans, st) = read(&p, part, start(&p), k, threads);
            let st = LoaderState::from_json(&st.to_json()).unwrap();
            let rest = if st.epoch == 0 { read(&p, part, st.clone(), usize::MAX, threads).0 } else { Vec::new() };
            prop_assert_eq!([spans.clone(), rest].concat(), full);
            seen.extend(spans);
            if st.epoch == 0 {
                mid = Some(st);
            }
        }
        if let Some(mid) = mid {
            for r in 0..w2 {
                let part = Partition::new(r, w2, Remainder::Uneven).unwrap();
                seen.extend(read(&p, part, mid.clone(), usize::MAX, threads).0);
            }
        }
        assert_tiles(&p, &seen);
    }
}
