//! Property tests of orders, partitions and resume, on plan-only (synthetic) datasets driven
//! through the real threaded loader.
#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::sync::Arc;

use bomdata_loader::{
    BufferSize, Dataset, Loader, LoaderOptions, LoaderState, Mixture, OrderOptions, Partition,
    Planner, Remainder, Remaining, SampleId, Shuffle, Split, Units,
};
use proptest::prelude::*;

fn planner(shards: &[usize], seed: u64, shuffle: Shuffle) -> Arc<Planner> {
    let ds = Dataset::synthetic(shards, 1000);
    let order = OrderOptions {
        seed,
        shuffle,
        shuffle_shards: true,
    };
    Arc::new(Planner::new(Mixture::single(ds), order, Units::Samples).unwrap())
}

fn shuffle_strategy() -> impl Strategy<Value = Shuffle> {
    prop_oneof![
        Just(Shuffle::None),
        (1usize..40).prop_map(|k| Shuffle::Buffer(BufferSize::Samples(k))),
        (1u64..20_000).prop_map(|b| Shuffle::Buffer(BufferSize::Bytes(b))),
        Just(Shuffle::Global),
    ]
}

fn split_strategy() -> impl Strategy<Value = Split> {
    prop_oneof![Just(Split::Blocks), Just(Split::Interleave)]
}

fn remainder_strategy() -> impl Strategy<Value = Remainder> {
    prop_oneof![
        Just(Remainder::Drop),
        Just(Remainder::Pad),
        Just(Remainder::Uneven)
    ]
}

fn opts(batch: usize, threads: usize) -> LoaderOptions {
    LoaderOptions {
        batch_size: batch,
        threads,
        prefetch: 3,
        ..LoaderOptions::default()
    }
}

/// Reads up to `max_batches` batches of one rank from `state`; returns ids and the state after.
fn read(
    p: &Arc<Planner>,
    part: Partition,
    o: &LoaderOptions,
    state: LoaderState,
    max_batches: usize,
) -> (Vec<SampleId>, LoaderState) {
    let mut l = Loader::new(p.clone(), part, o.clone()).unwrap();
    l.set_state(state).unwrap();
    let mut ids = Vec::new();
    {
        let mut it = l.epoch();
        for _ in 0..max_batches {
            match it.next() {
                Some(b) => ids.extend_from_slice(b.unwrap().ids()),
                None => break,
            }
        }
    }
    (ids, l.state())
}

fn start_state(p: &Planner, epoch: u64) -> LoaderState {
    LoaderState {
        epoch,
        fingerprint: p.fingerprint(),
        ..LoaderState::default()
    }
}

fn counts(ids: &[SampleId]) -> HashMap<SampleId, usize> {
    let mut m = HashMap::new();
    for &i in ids {
        *m.entry(i).or_insert(0) += 1;
    }
    m
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, .. ProptestConfig::default() })]

    /// Every sample exactly once per epoch across ranks and (process-style) workers; Drop and
    /// Pad as documented; thread count irrelevant.
    #[test]
    fn exactly_once(
        shards in prop::collection::vec(0usize..30, 1..8),
        world in 1usize..9,
        workers in 1usize..5,
        threads in 1usize..4,
        batch in 1usize..5,
        rem in remainder_strategy(),
        split in split_strategy(),
        shuffle in shuffle_strategy(),
        seed in any::<u64>(),
        epoch in 0u64..3,
    ) {
        let all_left = Remaining::from_position(shards.iter().sum::<usize>() as u64, 0);
        let p = planner(&shards, seed, shuffle);
        let n: usize = shards.iter().sum();
        let plan = p.epoch(epoch);
        prop_assert_eq!(plan.len(), n);
        // plan-level worker split
        let mut all = Vec::new();
        let mut per_rank = Vec::new();
        for r in 0..world {
            let part = Partition::new(r, world, rem).unwrap().with_split(split);
            let mut mine = Vec::new();
            for w in 0..workers {
                mine.extend(part.worker_positions(n as u64, &all_left, w, workers));
            }
            mine.sort();
            let direct: Vec<u64> = part.positions(n as u64, &all_left).collect();
            prop_assert_eq!(&mine, &direct);
            per_rank.push(direct.len());
            all.extend(direct.into_iter().map(|pos| plan.unit(Partition::unit_at(pos, n as u64))[0]));
        }
        let c = counts(&all);
        match rem {
            Remainder::Uneven => {
                prop_assert_eq!(all.len(), n);
                prop_assert!(c.values().all(|&k| k == 1));
                let (lo, hi) = (per_rank.iter().min().unwrap(), per_rank.iter().max().unwrap());
                prop_assert!(hi - lo <= 1);
            }
            Remainder::Drop => {
                prop_assert_eq!(all.len(), n / world * world);
                prop_assert!(c.values().all(|&k| k == 1));
                prop_assert!(per_rank.iter().all(|&k| k == n / world));
            }
            Remainder::Pad => {
                prop_assert_eq!(all.len(), n.div_ceil(world) * world);
                prop_assert_eq!(c.len(), n);
                prop_assert!(per_rank.iter().all(|&k| k == n.div_ceil(world)));
                // padding wraps around the epoch: every unit 1x, the first ones once more
                // (several times more when there are fewer units than ranks)
                let total = n.div_ceil(world) * world;
                let (lo, hi) = (total / n.max(1), total.div_ceil(n.max(1)));
                prop_assert!(c.values().all(|&k| k == lo || k == hi));
            }
        }
        // the threaded loader yields exactly the plan's share, whatever the thread count
        let mut got = Vec::new();
        for r in 0..world {
            let part = Partition::new(r, world, rem).unwrap().with_split(split);
            let (ids, st) = read(&p, part, &opts(batch, threads), start_state(&p, epoch), usize::MAX);
            let want: Vec<SampleId> = part
                .positions(n as u64, &all_left)
                .map(|pos| plan.unit(Partition::unit_at(pos, n as u64))[0])
                .collect();
            prop_assert_eq!(&ids, &want);
            prop_assert_eq!((st.epoch, st.position), (epoch + 1, 0));
            got.extend(ids);
        }
        prop_assert_eq!(counts(&got), c);
    }

    /// Resuming from the state saved after every k-th batch reproduces the uninterrupted
    /// sequence, also with another thread count.
    #[test]
    fn resume_equals_uninterrupted(
        shards in prop::collection::vec(0usize..25, 1..6),
        world in 1usize..5,
        batch in 1usize..4,
        k in 1usize..4,
        rem in remainder_strategy(),
        split in split_strategy(),
        shuffle in shuffle_strategy(),
        seed in any::<u64>(),
    ) {
        let p = planner(&shards, seed, shuffle);
        for r in 0..world {
            let part = Partition::new(r, world, rem).unwrap().with_split(split);
            let full = read(&p, part, &opts(batch, 2), start_state(&p, 1), usize::MAX).0;
            let mut state = start_state(&p, 1);
            let mut pieced = Vec::new();
            let mut threads = 1;
            loop {
                let (ids, st) = read(&p, part, &opts(batch, threads), state, k);
                pieced.extend(ids);
                threads = threads % 3 + 1;
                // the state round-trips through JSON as a checkpoint would
                state = LoaderState::from_json(&st.to_json()).unwrap();
                if state.epoch != 1 {
                    break;
                }
            }
            prop_assert_eq!(&pieced, &full);
        }
    }

    /// Same seed → same order; another epoch (or seed) → another order.
    #[test]
    fn seed_and_epoch(
        shards in prop::collection::vec(5usize..30, 2..6),
        seed in any::<u64>(),
        shuffle in prop_oneof![
            (8usize..64).prop_map(|k| Shuffle::Buffer(BufferSize::Samples(k))),
            Just(Shuffle::Global),
        ],
    ) {
        let a = planner(&shards, seed, shuffle);
        let b = planner(&shards, seed, shuffle);
        prop_assert_eq!(a.epoch(3), b.epoch(3));
        prop_assert_ne!(a.epoch(3).ids, a.epoch(4).ids);
        let c = planner(&shards, seed ^ 1, shuffle);
        prop_assert_ne!(a.epoch(3).ids, c.epoch(3).ids);
    }
}

/// Elastic resume: 4 ranks read part of the epoch, the job restarts on 3, then on 6; nothing is
/// lost or repeated, for many shard layouts and cut points.
#[test]
fn world_size_change_4_3_6() {
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig::with_cases(64));
    let strat = (
        prop::collection::vec(1usize..40, 1..8),
        1usize..4,
        0.0f64..1.0,
        0.0f64..1.0,
        shuffle_strategy(),
        any::<u64>(),
        split_strategy(),
        split_strategy(),
    );
    runner
        .run(
            &strat,
            |(shards, batch, f1, f2, shuffle, seed, split_a, split_b)| {
                let p = planner(&shards, seed, shuffle);
                let n = shards.iter().sum::<usize>() as u64;
                let mut state = start_state(&p, 0);
                let mut seen = Vec::new();
                let phases = [(4usize, f1, split_a), (3, f2, split_b), (6, 2.0, split_a)];
                for (world, frac, split) in phases {
                    // lockstep: every rank reads the same number of batches (the minimum any rank
                    // has left), a fraction of it in the first two phases.
                    let min_batches = (0..world)
                        .map(|r| {
                            Partition::new(r, world, Remainder::Uneven)
                                .unwrap()
                                .with_split(split)
                                .count(state.remaining(n).len())
                                .div_ceil(batch as u64) as usize
                        })
                        .min()
                        .unwrap_or(0);
                    let k = if frac > 1.0 {
                        usize::MAX
                    } else {
                        ((min_batches as f64) * frac).floor() as usize
                    };
                    let mut states = Vec::new();
                    for r in 0..world {
                        let part = Partition::new(r, world, Remainder::Uneven)
                            .unwrap()
                            .with_split(split);
                        let (ids, st) = read(&p, part, &opts(batch, 2), state.clone(), k);
                        seen.extend(ids);
                        states.push(st);
                    }
                    if k != usize::MAX {
                        // all ranks agree on the state to checkpoint
                        prop_assert!(states.windows(2).all(|w| w[0] == w[1]), "{states:?}");
                    }
                    // the checkpoint stays small: a few numbers, not a range per rank
                    prop_assert!(states[0].to_json().len() < 400, "{}", states[0].to_json());
                    state = states[0].clone();
                }
                prop_assert_eq!(state.epoch, 1);
                let c = counts(&seen);
                prop_assert_eq!(seen.len() as u64, n);
                prop_assert!(c.values().all(|&k| k == 1));
                Ok(())
            },
        )
        .unwrap();
}

#[test]
fn mixture_weights_and_groups() {
    let a = Dataset::synthetic(&[30, 30], 10);
    let b = Dataset::synthetic(&[10], 10);
    let mix = Mixture::weighted(vec![(a, 1.0), (b, 3.0)])
        .unwrap()
        .with_epoch_len(80);
    let p = Planner::new(mix, OrderOptions::default(), Units::Samples).unwrap();
    let plan = p.epoch(0);
    let from_b = plan.ids.iter().filter(|i| i.dataset() == 1).count();
    assert_eq!(plan.len(), 80);
    assert_eq!(from_b, 60); // 3/4 of 80: dataset b (10 samples) cycled 6 times
    let cb = counts(
        &plan
            .ids
            .iter()
            .copied()
            .filter(|i| i.dataset() == 1)
            .collect::<Vec<_>>(),
    );
    assert!(cb.values().all(|&k| k == 6));

    // group batches: all samples of a unit share the group (shard number here)
    let ds = Dataset::synthetic(&[7, 5, 9], 10);
    let mut key = |s: &bomdata_loader::SampleInfo<'_>| Ok(s.loc.shard.to_string());
    let p = Planner::with_groups(
        Mixture::single(ds),
        OrderOptions::default(),
        4,
        false,
        &mut key,
    )
    .unwrap();
    let plan = p.epoch(2);
    let m = p.mixture();
    let mut total = 0;
    for u in 0..plan.len() {
        let slots: Vec<_> = plan.unit(u).iter().filter(|i| !i.is_missing()).collect();
        total += slots.len();
        let g: Vec<u32> = slots
            .iter()
            .map(|&&i| m.info(i).unwrap().loc.shard)
            .collect();
        assert!(g.windows(2).all(|w| w[0] == w[1]));
    }
    assert_eq!(total, 21);
    assert_eq!(plan.len(), 2 + 2 + 3); // ceil(7/4) + ceil(5/4) + ceil(9/4)
}

/// The default block split keeps each rank on shards of its own: with 8 shards of 10 samples,
/// 4 ranks and a 5-sample shuffle buffer, a rank touches its 2 shards plus at most the buffer's
/// spill from its neighbours; the interleaved split touches every shard from every rank.
#[test]
fn blocks_keep_ranks_on_their_shards() {
    let ds = Dataset::synthetic(&[10; 8], 100);
    let order = OrderOptions {
        seed: 7,
        shuffle: Shuffle::Buffer(BufferSize::Samples(5)),
        shuffle_shards: true,
    };
    let locs: Vec<u32> = ds.selection().iter().map(|l| l.shard).collect();
    let p = Planner::new(Mixture::single(ds), order, Units::Samples).unwrap();
    let plan = p.epoch(0);
    let all = Remaining::from_position(80, 0);
    let shards_of = |split: Split, r: usize| {
        let part = Partition::new(r, 4, Remainder::Uneven)
            .unwrap()
            .with_split(split);
        let mut s: Vec<u32> = part
            .positions(80, &all)
            .map(|pos| {
                let id = plan.unit(Partition::unit_at(pos, 80))[0];
                locs[id.index()]
            })
            .collect();
        s.sort();
        s.dedup();
        s.len()
    };
    for r in 0..4 {
        assert!(shards_of(Split::Blocks, r) <= 4, "rank {r}");
        assert_eq!(shards_of(Split::Interleave, r), 8, "rank {r}");
    }
}
