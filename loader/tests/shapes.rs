//! Variable-shape fields: the pad, list and bucket policies on a dataset whose `v.npy` holds
//! 2-D and 3-D arrays, written with the real shard writer; exactly-once and resume under each
//! policy with world sizes 1 to 4.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Arc;

use bomdata_loader::{
    Batch, BufferSize, Dataset, Error, FieldKind, Loader, LoaderOptions, LoaderState, Mixture,
    OrderOptions, Partition, Planner, Remainder, SampleId, ShapePolicy, Shuffle, Units,
};
use bomdata_shard::writer::Compression;
use common::{f32s, index_of, var_shape, var_values, write_varshape};
use proptest::prelude::*;

fn order(seed: u64) -> OrderOptions {
    OrderOptions {
        seed,
        shuffle: Shuffle::Buffer(BufferSize::Samples(6)),
        shuffle_shards: true,
    }
}

fn samples_planner(dir: &Path, seed: u64) -> Arc<Planner> {
    let ds = Dataset::open(dir).unwrap();
    Arc::new(Planner::new(Mixture::single(ds), order(seed), Units::Samples).unwrap())
}

fn bucket_planner(dir: &Path, seed: u64, size: usize) -> Arc<Planner> {
    let ds = Dataset::open(dir).unwrap();
    let fields = ["v.npy".to_string()];
    Arc::new(Planner::with_buckets(Mixture::single(ds), order(seed), &fields, size, false).unwrap())
}

fn opts(batch: usize, policy: ShapePolicy) -> LoaderOptions {
    LoaderOptions {
        batch_size: batch,
        threads: 2,
        shapes: BTreeMap::from([("v.npy".to_string(), policy)]),
        ..LoaderOptions::default()
    }
}

fn all_batches(l: &mut Loader) -> Vec<Batch> {
    l.epoch().map(|b| b.unwrap()).collect()
}

#[test]
fn stacking_mixed_shapes_names_the_option() {
    let dir = tempfile::tempdir().unwrap();
    write_varshape(dir.path(), 6, Compression::None);
    let p = samples_planner(dir.path(), 0);
    let mut l = Loader::new(p, Partition::single(), opts(6, ShapePolicy::Stack)).unwrap();
    let err = l.epoch().find_map(|b| b.err()).unwrap().to_string();
    assert!(err.contains("LoaderOptions::shapes[\"v.npy\"]"), "{err}");
    assert!(
        err.contains("pad") && err.contains("bucket") && err.contains("list"),
        "{err}"
    );
}

#[test]
fn pad_masked_rows_hold_the_written_arrays() {
    for compression in [Compression::None, Compression::Member(3)] {
        let dir = tempfile::tempdir().unwrap();
        write_varshape(dir.path(), 17, compression);
        let p = samples_planner(dir.path(), 1);
        let mut l = Loader::new(p, Partition::single(), opts(4, ShapePolicy::PadMasked)).unwrap();
        let mut seen = 0;
        for b in all_batches(&mut l) {
            let v = b.field("v.npy").unwrap();
            let shape = b.field("v.shape").unwrap();
            let mask = b.field("v.mask").unwrap();
            let FieldKind::Tensor { sample_shape, .. } = v.kind() else {
                panic!("padded field is not a tensor")
            };
            let ndim = sample_shape.len();
            assert_eq!(shape.shape(), vec![b.rows(), ndim]);
            assert_eq!(mask.shape()[1..], sample_shape[..]);
            let meta = b.field("meta.json").unwrap();
            for r in 0..b.rows() {
                let i = index_of(meta.row(r));
                let mut want = var_shape(i);
                want.resize(ndim, 1);
                let got: Vec<usize> = shape
                    .row(r)
                    .chunks_exact(8)
                    .map(|c| i64::from_le_bytes(c.try_into().unwrap()) as usize)
                    .collect();
                assert_eq!(got, want);
                assert_eq!(v.row_shape(r).unwrap(), var_shape(i).as_slice());
                // the real elements, read back through the mask, are the written values
                let row = f32s(v.row(r));
                let real: Vec<f32> = row
                    .iter()
                    .zip(mask.row(r))
                    .filter(|(_, m)| **m == 1)
                    .map(|(x, _)| *x)
                    .collect();
                assert_eq!(real, var_values(i));
                let zeros = row.iter().zip(mask.row(r)).filter(|(_, m)| **m == 0);
                assert!(zeros.clone().all(|(x, _)| *x == 0.0));
                seen += 1;
            }
        }
        assert_eq!(seen, 17);
    }
}

#[test]
fn list_rows_keep_their_shapes() {
    let dir = tempfile::tempdir().unwrap();
    write_varshape(dir.path(), 9, Compression::Member(1));
    let p = samples_planner(dir.path(), 2);
    let mut l = Loader::new(p, Partition::single(), opts(4, ShapePolicy::List)).unwrap();
    let mut seen = 0;
    for b in all_batches(&mut l) {
        let v = b.field("v.npy").unwrap();
        assert!(matches!(v.kind(), FieldKind::List { .. }));
        assert!(b.field("v.shape").is_none());
        let meta = b.field("meta.json").unwrap();
        for r in 0..b.rows() {
            let i = index_of(meta.row(r));
            assert_eq!(v.row_shape(r).unwrap(), var_shape(i).as_slice());
            assert_eq!(f32s(v.row(r)), var_values(i));
            seen += 1;
        }
    }
    assert_eq!(seen, 9);
}

#[test]
fn bucket_batches_hold_one_shape() {
    let dir = tempfile::tempdir().unwrap();
    write_varshape(dir.path(), 20, Compression::None);
    // a bucket field needs a bucket planner, read one bucket batch at a time
    let err = Loader::new(
        samples_planner(dir.path(), 3),
        Partition::single(),
        opts(1, ShapePolicy::Bucket),
    )
    .unwrap_err();
    assert!(matches!(err, Error::Buckets { .. }), "{err}");
    let p = bucket_planner(dir.path(), 3, 4);
    let err = Loader::new(p.clone(), Partition::single(), opts(2, ShapePolicy::Bucket));
    assert!(matches!(err, Err(Error::Buckets { .. })));
    let mut l = Loader::new(p, Partition::single(), opts(1, ShapePolicy::Bucket)).unwrap();
    let mut seen = Vec::new();
    for b in all_batches(&mut l) {
        assert!(b.rows() <= 4 && b.rows() >= 1);
        assert_eq!(b.units(), 1);
        let v = b.field("v.npy").unwrap();
        let meta = b.field("meta.json").unwrap();
        let first = var_shape(index_of(meta.row(0)));
        let mut want = vec![b.rows()];
        want.extend(&first);
        assert_eq!(v.shape(), want);
        for r in 0..b.rows() {
            let i = index_of(meta.row(r));
            assert_eq!(var_shape(i), first);
            assert_eq!(f32s(v.row(r)), var_values(i));
            seen.push(i);
        }
    }
    seen.sort_unstable();
    assert_eq!(seen, (0..20).collect::<Vec<_>>());
}

/// Reads up to `max` batches of one rank from `state`: the sample ids and the state after.
fn read(
    p: &Arc<Planner>,
    part: Partition,
    o: &LoaderOptions,
    state: LoaderState,
    max: usize,
) -> (Vec<SampleId>, LoaderState) {
    let mut l = Loader::new(p.clone(), part, o.clone()).unwrap();
    l.set_state(state).unwrap();
    let mut ids = Vec::new();
    for b in l.epoch().take(max) {
        ids.extend(b.unwrap().ids().iter().filter(|i| !i.is_missing()));
    }
    (ids, l.state())
}

/// The dataset every proptest case reads (written once).
fn shared_dir() -> &'static Path {
    static DIR: std::sync::OnceLock<tempfile::TempDir> = std::sync::OnceLock::new();
    DIR.get_or_init(|| {
        let d = tempfile::tempdir().unwrap();
        write_varshape(d.path(), 23, Compression::Member(1));
        d
    })
    .path()
}

fn policy_strategy() -> impl Strategy<Value = ShapePolicy> {
    prop_oneof![
        Just(ShapePolicy::Pad),
        Just(ShapePolicy::PadMasked),
        Just(ShapePolicy::List),
        Just(ShapePolicy::Bucket),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, .. ProptestConfig::default() })]

    /// Under each policy and world sizes 1..4: a run stopped after `k` batches per rank and
    /// resumed (as a checkpoint would, through JSON) on another world size reads every sample
    /// exactly once; and a rank resumed on the same world size continues its own sequence.
    #[test]
    fn exactly_once_and_resume(
        policy in policy_strategy(),
        w1 in 1usize..5,
        w2 in 1usize..5,
        batch in 1usize..5,
        k in 0usize..4,
        seed in any::<u64>(),
    ) {
        let dir = shared_dir();
        let (p, o) = if policy == ShapePolicy::Bucket {
            (bucket_planner(dir, seed, batch), opts(1, policy))
        } else {
            (samples_planner(dir, seed), opts(batch, policy))
        };
        let start = LoaderState { epoch: 2, fingerprint: p.fingerprint(), ..LoaderState::default() };
        let mut seen = Vec::new();
        let mut states = Vec::new();
        for r in 0..w1 {
            let part = Partition::new(r, w1, Remainder::Uneven).unwrap();
            let full = read(&p, part, &o, start.clone(), usize::MAX).0;
            let (ids, st) = read(&p, part, &o, start.clone(), k);
            let st = LoaderState::from_json(&st.to_json()).unwrap();
            let rest = if st.epoch == 2 {
                read(&p, part, &o, st.clone(), usize::MAX).0
            } else {
                Vec::new()
            };
            prop_assert_eq!([ids.clone(), rest].concat(), full);
            seen.extend(ids);
            states.push(st);
        }
        // lockstep ranks agree on the checkpoint, except a rank that finished its share
        let mid = states.iter().find(|s| s.epoch == 2).cloned();
        let mid = mid.unwrap_or_else(|| states[0].clone());
        if mid.epoch == 2 {
            for r in 0..w2 {
                let part = Partition::new(r, w2, Remainder::Uneven).unwrap();
                seen.extend(read(&p, part, &o, mid.clone(), usize::MAX).0);
            }
        }
        let mut c: HashMap<SampleId, usize> = HashMap::new();
        for i in &seen {
            *c.entry(*i).or_default() += 1;
        }
        prop_assert_eq!(seen.len(), 23);
        prop_assert!(c.values().all(|&n| n == 1));
    }
}
