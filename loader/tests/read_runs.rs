//! Pread mode reads members in runs (one `preadv` per run of adjacent members): its batches
//! equal the map-copy mode's, byte for byte, whatever the order, batch size, field selection
//! (skipped members leave gaps in a run) and member sizes (large bytes members and first rows
//! are read on their own).
#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;
use std::sync::Arc;

use bomdata_loader::{
    BufferSize, Dataset, Loader, LoaderOptions, Mixture, OrderOptions, Partition, Planner,
    ReadMode, Shuffle, Units,
};
use bomdata_shard::Sample;
use bomdata_shard::npy;
use bomdata_shard::writer::{Compression, ShardWriter, WriterOptions};

fn write(dir: &Path, n: usize) {
    let opts = WriterOptions {
        max_bytes: 1 << 30,
        max_samples: 9,
        compression: Compression::None,
        split: Some("train".into()),
        durable: false,
        defer_commit: false,
    };
    let mut w = ShardWriter::create(dir, "runs", opts).unwrap();
    for i in 0..n {
        let mut s = Sample::new(format!("src_s{i}_eeg_{i:06}"));
        let a: Vec<f32> = (0..300).map(|k| (i * 1000 + k) as f32).collect();
        s.push("a.npy", npy::encode_f32(&[3, 100], &a));
        // a bytes member, large (past the run's scratch bound) for every third sample
        let big = if i % 3 == 0 { 70_000 } else { 10 + i };
        s.push("blob.bin", vec![(i % 251) as u8; big]);
        s.push("meta.json", format!("{{\"i\":{i}}}").into_bytes());
        s.push("y.npy", npy::encode_i64(&[2], &[i as i64, -(i as i64)]));
        w.write(&s).unwrap();
    }
    let entries = w.finish().unwrap();
    common::write_training_manifest(dir, "src", n, entries);
}

type Dump = Vec<Vec<(String, Vec<usize>, Vec<Vec<u8>>)>>;

fn epoch(
    dir: &Path,
    read: ReadMode,
    shuffle: Shuffle,
    batch: usize,
    fields: Option<&[&str]>,
) -> Dump {
    let ds = Dataset::open(dir).unwrap();
    let order = OrderOptions {
        seed: 5,
        shuffle,
        shuffle_shards: false,
    };
    let p = Planner::new(Mixture::single(ds), order, Units::Samples).unwrap();
    let opts = LoaderOptions {
        batch_size: batch,
        threads: 2,
        read,
        fields: fields.map(|f| f.iter().map(|s| s.to_string()).collect()),
        ..LoaderOptions::default()
    };
    let mut l = Loader::new(Arc::new(p), Partition::single(), opts).unwrap();
    l.epoch()
        .map(|b| {
            let b = b.unwrap();
            b.fields()
                .iter()
                .map(|f| {
                    let rows = (0..b.rows()).map(|r| f.row(r).to_vec()).collect();
                    (f.name().to_string(), f.shape(), rows)
                })
                .collect()
        })
        .collect()
}

#[test]
fn pread_runs_equal_map_copies() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), 31);
    let sel: &[&str] = &["a.npy", "meta.json", "y.npy"];
    for shuffle in [Shuffle::None, Shuffle::Buffer(BufferSize::Samples(4))] {
        for batch in [1, 4, 10] {
            for fields in [None, Some(sel)] {
                let want = epoch(dir.path(), ReadMode::Mmap, shuffle, batch, fields);
                let got = epoch(dir.path(), ReadMode::Pread, shuffle, batch, fields);
                assert_eq!(got, want, "{shuffle:?} batch {batch} fields {fields:?}");
                let rows: usize = want.iter().map(|b| b[0].2.len()).sum();
                assert_eq!(rows, 31);
            }
        }
    }
}
