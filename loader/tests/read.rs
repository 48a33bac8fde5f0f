//! Reads real datasets written with the shard writer: tensors equal what was written, member
//! compression, filters, group batches, pairing, read modes, stats, resume.
#![allow(clippy::unwrap_used)]

mod common;

use common::{f32s, index_of, values, write_dataset};
use std::sync::Arc;

use bomdata_loader::{
    BufferSize, Dataset, FieldKind, Loader, LoaderOptions, Mixture, OrderOptions, PairRow,
    Partition, Planner, ReadMode, Remainder, Shuffle, Units,
};
use bomdata_shard::writer::Compression;

fn loader(ds: Dataset, batch: usize, threads: usize, read: ReadMode) -> Loader {
    let p = Planner::new(
        Mixture::single(ds),
        OrderOptions {
            seed: 7,
            shuffle: Shuffle::Buffer(BufferSize::Samples(5)),
            shuffle_shards: true,
        },
        Units::Samples,
    )
    .unwrap();
    Loader::new(
        Arc::new(p),
        Partition::single(),
        LoaderOptions {
            batch_size: batch,
            threads,
            prefetch: 2,
            read,
            ..LoaderOptions::default()
        },
    )
    .unwrap()
}

#[test]
fn tensors_equal_what_was_written() {
    for compression in [Compression::None, Compression::Member(3)] {
        for read in [ReadMode::Mmap, ReadMode::Pread] {
            let dir = tempfile::tempdir().unwrap();
            write_dataset(dir.path(), 40, "eeg", compression);
            let ds = Dataset::open(dir.path()).unwrap();
            assert_eq!(ds.len(), 40);
            let mut l = loader(ds, 6, 3, read);
            let mut seen = [0; 40];
            for b in l.epoch() {
                let b = b.unwrap();
                let x = b.field("x.npy").unwrap();
                let meta = b.field("meta.json").unwrap();
                assert_eq!(x.shape(), vec![b.rows(), 3, 4]);
                assert!(matches!(x.kind(), FieldKind::Tensor { .. }));
                assert_eq!(x.data().len(), b.rows() * 48);
                for r in 0..b.rows() {
                    let i = index_of(meta.row(r));
                    assert_eq!(f32s(x.row(r)), values(i), "{compression:?} {read:?}");
                    seen[i] += 1;
                }
            }
            assert!(seen.iter().all(|&k| k == 1));
            let st = l.last_stats().unwrap();
            assert_eq!(st.samples, 40);
            assert_eq!(st.batches, 7);
            assert!(st.bytes_out >= 40 * 48);
            assert_eq!(l.state().epoch, 1);
        }
    }
}

#[test]
fn filters_and_zero_copy_views() {
    let dir = tempfile::tempdir().unwrap();
    write_dataset(dir.path(), 40, "eeg", Compression::None);
    let mut ds = Dataset::open(dir.path()).unwrap();
    ds.retain_split("train");
    assert_eq!(ds.len(), 30);
    ds.retain_meta(|m| m["site"] == "site0").unwrap();
    assert_eq!(ds.len(), 10);
    ds.retain_modalities(&[bomdata_schemas::Modality::Eeg]);
    assert_eq!(ds.len(), 10);
    ds.retain_source("src");
    assert_eq!(ds.len(), 10);
    let info = ds.info(0).unwrap();
    assert_eq!(info.modality(), Some(bomdata_schemas::Modality::Eeg));
    let v = ds.npy(info.loc, "x.npy").unwrap();
    assert_eq!(v.shape, vec![3, 4]);
    // the view points into the mapped shard
    let map = ds
        .shard_file(info.loc.shard as usize)
        .unwrap()
        .bytes()
        .as_ptr_range();
    assert!(map.contains(&v.data.as_ptr()));
    ds.retain_modalities(&[bomdata_schemas::Modality::Fmri]);
    assert!(ds.is_empty());
}

#[test]
fn group_batches_share_a_site() {
    let dir = tempfile::tempdir().unwrap();
    write_dataset(dir.path(), 40, "eeg", Compression::Member(1));
    let ds = Dataset::open(dir.path()).unwrap();
    let mut key = |s: &bomdata_loader::SampleInfo<'_>| Ok(s.meta()?["site"].to_string());
    let p = Planner::with_groups(
        Mixture::single(ds),
        OrderOptions::default(),
        4,
        true,
        &mut key,
    )
    .unwrap();
    let mut l = Loader::new(Arc::new(p), Partition::single(), LoaderOptions::default()).unwrap();
    let mut n = 0;
    for b in l.epoch() {
        let b = b.unwrap();
        assert_eq!((b.rows(), b.width()), (1, 4));
        let sites: Vec<usize> = (0..4)
            .map(|s| index_of(b.field_in(s, "meta.json").unwrap().row(0)) % 3)
            .collect();
        assert!(sites.windows(2).all(|w| w[0] == w[1]), "{sites:?}");
        n += 4;
    }
    assert_eq!(n, 36); // 14/13/13 per site, short batches dropped: 12 + 12 + 12
}

#[test]
fn subject_pairing_with_mask() {
    let d1 = tempfile::tempdir().unwrap();
    let d2 = tempfile::tempdir().unwrap();
    write_dataset(d1.path(), 8, "smri", Compression::None);
    write_dataset(d2.path(), 12, "fmri", Compression::None);
    let a = Dataset::open(d1.path()).unwrap();
    let b = Dataset::open(d2.path()).unwrap();
    let mut rows = Vec::new();
    for ds in [&a, &b] {
        for s in ds.infos() {
            let parts: Vec<&str> = s.key().split('_').collect();
            rows.push(PairRow {
                key: s.key().to_string(),
                subject: parts[1].to_string(),
                session: parts[2].to_string(),
                modality: parts[3].to_string(),
            });
        }
    }
    let mix = Mixture::weighted(vec![(a, 1.0), (b, 1.0)])
        .unwrap()
        .with_epoch_len(20);
    let units = Units::Pairs {
        modalities: vec!["smri".into(), "fmri".into()],
        rows,
    };
    let p = Planner::new(mix, OrderOptions::default(), units).unwrap();
    let mut l = Loader::new(
        Arc::new(p),
        Partition::new(0, 1, Remainder::Uneven).unwrap(),
        LoaderOptions {
            batch_size: 3,
            ..LoaderOptions::default()
        },
    )
    .unwrap();
    let (mut units, mut both) = (0, 0);
    for b in l.epoch() {
        let b = b.unwrap();
        let mask = b.mask();
        for r in 0..b.rows() {
            units += 1;
            let (s, f) = (mask[r * 2], mask[r * 2 + 1]);
            assert!(s || f);
            let sm = b.field_in(0, "x.npy").unwrap();
            let fm = b.field_in(1, "x.npy").unwrap();
            assert_eq!(sm.present(r), s);
            if !s {
                assert!(sm.row(r).iter().all(|&x| x == 0));
            }
            if s && f {
                both += 1;
                // same subject: sample i of each dataset has subject i/4
                let si = index_of(b.field_in(0, "meta.json").unwrap().row(r));
                let fi = index_of(b.field_in(1, "meta.json").unwrap().row(r));
                assert_eq!(si / 4, fi / 4);
                assert_eq!(f32s(fm.row(r)), values(fi));
            }
        }
    }
    // subjects 0,1 have 4 smri + 4 fmri (4 units each); subject 2 has 4 fmri only
    assert_eq!(units, 12);
    assert_eq!(both, 8);
}

#[test]
fn resume_mid_epoch_on_real_shards() {
    let dir = tempfile::tempdir().unwrap();
    write_dataset(dir.path(), 30, "eeg", Compression::None);
    let full: Vec<usize> = {
        let mut l = loader(Dataset::open(dir.path()).unwrap(), 4, 2, ReadMode::Mmap);
        l.epoch()
            .flat_map(|b| {
                let b = b.unwrap();
                let m = b.field("meta.json").unwrap();
                (0..b.rows())
                    .map(|r| index_of(m.row(r)))
                    .collect::<Vec<_>>()
            })
            .collect()
    };
    let mut l = loader(Dataset::open(dir.path()).unwrap(), 4, 2, ReadMode::Mmap);
    let mut got = Vec::new();
    let state = {
        let mut it = l.epoch();
        for _ in 0..3 {
            let b = it.next().unwrap().unwrap();
            let m = b.field("meta.json").unwrap();
            got.extend((0..b.rows()).map(|r| index_of(m.row(r))));
        }
        it.state()
    };
    let mut l2 = loader(Dataset::open(dir.path()).unwrap(), 4, 1, ReadMode::Pread);
    l2.set_state(state.clone()).unwrap();
    for b in l2.epoch() {
        let b = b.unwrap();
        let m = b.field("meta.json").unwrap();
        got.extend((0..b.rows()).map(|r| index_of(m.row(r))));
    }
    assert_eq!(got, full);

    // an iterator owning its loader (bindings): the same batches; stopped after 3, the loader it
    // gives back stands where the borrowing iterator's state did, and resumes the rest
    let mut owned = loader(Dataset::open(dir.path()).unwrap(), 4, 2, ReadMode::Pread).into_epoch();
    let mut got = Vec::new();
    for _ in 0..3 {
        let b = owned.next().unwrap().unwrap();
        let m = b.field("meta.json").unwrap();
        got.extend((0..b.rows()).map(|r| index_of(m.row(r))));
    }
    let l3 = owned.into_loader().unwrap();
    assert_eq!(l3.state(), state);
    let mut rest = l3.into_epoch();
    for b in rest.by_ref() {
        let b = b.unwrap();
        let m = b.field("meta.json").unwrap();
        got.extend((0..b.rows()).map(|r| index_of(m.row(r))));
    }
    assert_eq!(got, full);
    assert_eq!(rest.into_loader().unwrap().state().epoch, 1);
}

#[cfg(feature = "object-store")]
#[test]
fn object_store_through_bounded_cache() {
    use bomdata_loader::remote::{Cache, open_cached};
    use object_store::memory::InMemory;
    let dir = tempfile::tempdir().unwrap();
    write_dataset(dir.path(), 20, "eeg", Compression::None);
    let store = InMemory::new();
    upload(&store, dir.path(), "bucket/ds1");
    let cache_dir = tempfile::tempdir().unwrap();
    let cache = Cache {
        dir: cache_dir.path().to_path_buf(),
        max_bytes: 1 << 30,
    };
    let ds = open_cached(&store, "bucket/ds1", &cache, |s| {
        s.split.as_deref() == Some("train")
    })
    .unwrap();
    assert_eq!(ds.len(), 15);
    let mut l = loader(ds, 4, 2, ReadMode::Pread);
    let mut n = 0;
    for b in l.epoch() {
        let b = b.unwrap();
        let x = b.field("x.npy").unwrap();
        let meta = b.field("meta.json").unwrap();
        for r in 0..b.rows() {
            assert_eq!(f32s(x.row(r)), values(index_of(meta.row(r))));
            n += 1;
        }
    }
    assert_eq!(n, 15);
    // a budget smaller than the selection is refused
    let small = Cache {
        dir: cache_dir.path().to_path_buf(),
        max_bytes: 1000,
    };
    assert!(open_cached(&store, "bucket/ds1", &small, |_| true).is_err());
    // a second dataset that only fits once the first is evicted
    upload(&store, dir.path(), "bucket/ds2");
    let one: u64 = walk(&cache_dir.path().join("bucket_ds1"))
        .iter()
        .map(|p| std::fs::metadata(p).unwrap().len())
        .sum();
    let tight = Cache {
        dir: cache_dir.path().to_path_buf(),
        max_bytes: one + one / 2,
    };
    let ds2 = open_cached(&store, "bucket/ds2", &tight, |s| {
        s.split.as_deref() == Some("train")
    })
    .unwrap();
    assert_eq!(ds2.len(), 15);
    assert!(!cache_dir.path().join("bucket_ds1").exists());
}

#[cfg(feature = "object-store")]
#[test]
fn object_store_rank_fetches_only_its_shards() {
    use bomdata_loader::remote;
    use object_store::memory::InMemory;
    let dir = tempfile::tempdir().unwrap();
    write_dataset(dir.path(), 40, "eeg", Compression::None); // 6 shards of <= 7 samples
    let store = InMemory::new();
    upload(&store, dir.path(), "bucket/ds");
    let store: Arc<dyn object_store::ObjectStore> = Arc::new(store);
    let total: u64 = Dataset::open(dir.path())
        .unwrap()
        .manifest()
        .unwrap()
        .shards
        .iter()
        .map(|s| s.size)
        .sum();
    let read = |ds: Dataset, rank: usize| -> Vec<usize> {
        let p = Planner::new(
            Mixture::single(ds),
            OrderOptions {
                seed: 3,
                shuffle: Shuffle::Buffer(BufferSize::Samples(4)),
                shuffle_shards: true,
            },
            Units::Samples,
        )
        .unwrap();
        let part = Partition::new(rank, 2, Remainder::Uneven).unwrap();
        let opts = LoaderOptions {
            batch_size: 3,
            threads: 2,
            ..LoaderOptions::default()
        };
        let mut l = Loader::new(Arc::new(p), part, opts).unwrap();
        let pre = remote::prefetch(&l, u64::MAX);
        let mut got = Vec::new();
        for b in l.epoch() {
            let b = b.unwrap();
            let x = b.field("x.npy").unwrap();
            let m = b.field("meta.json").unwrap();
            for r in 0..b.rows() {
                assert_eq!(f32s(x.row(r)), values(index_of(m.row(r))));
                got.push(index_of(m.row(r)));
            }
        }
        pre.join().unwrap().unwrap();
        got
    };
    let mut all = Vec::new();
    for rank in 0..2 {
        let cache = tempfile::tempdir().unwrap();
        let (ds, fetched) = remote::open(store.clone(), "bucket/ds", cache.path(), None).unwrap();
        let remote_order = read(ds, rank);
        // the same units in the same order as from the local folder
        assert_eq!(remote_order, read(Dataset::open(dir.path()).unwrap(), rank));
        let shard_bytes: u64 = walk(&cache.path().join("shards"))
            .iter()
            .filter(|p| p.extension().is_some_and(|e| e == "tar"))
            .map(|p| std::fs::metadata(p).unwrap().len())
            .sum();
        assert!(
            shard_bytes < total,
            "rank {rank} fetched {shard_bytes} of {total}"
        );
        assert!(fetched.bytes_fetched() >= shard_bytes);
        all.extend(remote_order);
    }
    all.sort_unstable();
    assert_eq!(all, (0..40).collect::<Vec<_>>()); // exactly once over the ranks
}

/// Ranged reads (`remote::open_ranged` + `read_ahead`): no shard file copied, the same units
/// in the same order as local, each sample's bytes fetched once over the ranks (whatever the
/// window: a window smaller than one sample still makes progress), member compression and both
/// read modes.
#[cfg(feature = "object-store")]
#[test]
fn object_store_ranged_reads() {
    use bomdata_loader::ReadMode;
    use bomdata_loader::remote::{self, ReadAheadOptions};
    use object_store::memory::InMemory;
    for (compression, read_mode, window) in [
        (Compression::None, ReadMode::Pread, 1u64 << 30),
        (Compression::None, ReadMode::Mmap, 1),
        (Compression::Member(3), ReadMode::Pread, 4096),
    ] {
        let dir = tempfile::tempdir().unwrap();
        write_dataset(dir.path(), 40, "eeg", compression);
        let store = InMemory::new();
        upload(&store, dir.path(), "bucket/ds");
        let store: Arc<dyn object_store::ObjectStore> = Arc::new(store);
        let meta_bytes: u64 = walk(dir.path())
            .iter()
            .filter(|p| p.extension().is_none_or(|e| e != "tar"))
            .map(|p| std::fs::metadata(p).unwrap().len())
            .sum();
        let sample_bytes: u64 = {
            let ds = Dataset::open(dir.path()).unwrap();
            ds.infos().map(|i| i.sample.size).sum()
        };
        let loader = |ds: Dataset, rank: usize| {
            let p = Planner::new(
                Mixture::single(ds),
                OrderOptions {
                    seed: 3,
                    shuffle: Shuffle::Buffer(BufferSize::Samples(4)),
                    shuffle_shards: true,
                },
                Units::Samples,
            )
            .unwrap();
            let part = Partition::new(rank, 2, Remainder::Uneven).unwrap();
            let opts = LoaderOptions {
                batch_size: 3,
                threads: 2,
                read: read_mode,
                ..LoaderOptions::default()
            };
            Loader::new(Arc::new(p), part, opts).unwrap()
        };
        let epoch = |l: &mut Loader| -> Vec<(usize, Vec<u8>)> {
            let mut got = Vec::new();
            for b in l.epoch() {
                let b = b.unwrap();
                let x = b.field("x.npy").unwrap();
                let m = b.field("meta.json").unwrap();
                for r in 0..b.rows() {
                    assert_eq!(f32s(x.row(r)), values(index_of(m.row(r))));
                    got.push((index_of(m.row(r)), x.row(r).to_vec()));
                }
            }
            got
        };
        let (mut all, mut fetched) = (Vec::new(), 0);
        for rank in 0..2 {
            let cache = tempfile::tempdir().unwrap();
            let (ds, src) =
                remote::open_ranged(store.clone(), "bucket/ds", cache.path(), None).unwrap();
            let mut l = loader(ds, rank);
            let ahead = remote::read_ahead(
                &l,
                &src,
                ReadAheadOptions {
                    batches: 2,
                    max_bytes: window,
                },
            );
            let got = epoch(&mut l);
            ahead.finish().unwrap();
            let local = epoch(&mut loader(Dataset::open(dir.path()).unwrap(), rank));
            assert_eq!(got, local, "{compression:?} {read_mode:?} window {window}");
            assert!(
                walk(cache.path())
                    .iter()
                    .all(|p| p.extension().is_none_or(|e| e != "tar")),
                "a shard file was copied"
            );
            assert!(src.peak_window_bytes() <= window.max(1 << 20));
            fetched += src.bytes_fetched();
            all.extend(got.into_iter().map(|g| g.0));
        }
        all.sort_unstable();
        assert_eq!(all, (0..40).collect::<Vec<_>>());
        // every sample's span once (and the small gaps between samples of a shard fetched in
        // one request), plus each rank's manifest and indexes
        let spans = fetched - 2 * meta_bytes;
        assert!(
            spans >= sample_bytes && spans <= sample_bytes + sample_bytes / 4,
            "{compression:?}: fetched {spans} bytes of samples, they hold {sample_bytes}"
        );
    }
}

/// Puts every file under `dir` into `store` under `prefix`.
#[cfg(feature = "object-store")]
fn upload(store: &object_store::memory::InMemory, dir: &std::path::Path, prefix: &str) {
    use object_store::{ObjectStoreExt, PutPayload, path::Path as StorePath};
    for e in walk(dir) {
        let rel = e.strip_prefix(dir).unwrap().to_string_lossy().to_string();
        let data = std::fs::read(&e).unwrap();
        futures::executor::block_on(store.put(
            &StorePath::from(format!("{prefix}/{rel}")),
            PutPayload::from(data),
        ))
        .unwrap();
    }
}

#[cfg(feature = "object-store")]
fn walk(d: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(d).unwrap().flatten() {
        if e.path().is_dir() {
            out.extend(walk(&e.path()));
        } else {
            out.push(e.path());
        }
    }
    out
}

fn vm_locked_kb() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with("VmLck:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Page-locked batch buffers (`mlock`): same values as pageable ones; while batches are alive
/// their pages are locked (or the refusal is counted, e.g. under a small `RLIMIT_MEMLOCK`).
#[test]
fn page_locked_buffers() {
    let dir = tempfile::tempdir().unwrap();
    write_dataset(dir.path(), 40, "eeg", Compression::None);
    let ds = Dataset::open(dir.path()).unwrap();
    let p = Planner::new(Mixture::single(ds), OrderOptions::default(), Units::Samples).unwrap();
    let opts = LoaderOptions {
        batch_size: 8,
        threads: 2,
        page_lock: Some(Arc::new(bomdata_loader::OsLock)),
        ..LoaderOptions::default()
    };
    let mut l = Loader::new(Arc::new(p), Partition::single(), opts).unwrap();
    let mut seen = 0;
    let mut locked_seen = false;
    let before = vm_locked_kb();
    let mut it = l.epoch();
    for b in it.by_ref() {
        let b = b.unwrap();
        let x = b.field("x.npy").unwrap();
        for r in 0..b.rows() {
            let i = index_of(b.field("meta.json").unwrap().row(r));
            assert_eq!(f32s(x.row(r)), values(i));
            seen += 1;
        }
        if x.buffer().is_locked() {
            locked_seen = true;
            if let (Some(a), Some(now)) = (before, vm_locked_kb()) {
                assert!(
                    now > a,
                    "VmLck {a} kB -> {now} kB with a locked batch alive"
                );
            }
        }
    }
    let failures = it.stats().lock_failures;
    drop(it);
    assert_eq!(seen, 40);
    assert!(locked_seen || failures > 0, "neither locked nor refused");
}
