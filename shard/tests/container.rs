//! Round trips of the shard container: determinism, rollover, compression, verify.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions

use bomdata_schemas::manifest::{Counts, DatasetKind, Manifest};
use bomdata_shard::writer::{Compression, ShardWriter, WriterOptions};
use bomdata_shard::{Sample, dataset, npy, reader::ShardReader, verify};

fn samples(n: usize) -> Vec<Sample> {
    (0..n)
        .map(|i| {
            let v: Vec<f32> = (0..1000).map(|j| (i * 1000 + j) as f32 * 0.5).collect();
            Sample::new(format!("src_subj{:02}_{i:06}", i % 3))
                .with_subject(format!("subj{:02}", i % 3))
                .with("signal.npy", npy::encode_f32(&[10, 100], &v))
                .with("meta.json", format!("{{\"i\":{i}}}").into_bytes())
        })
        .collect()
}

fn write(dir: &std::path::Path, opts: WriterOptions) -> Manifest {
    let mut w = ShardWriter::create(dir, "t", opts).unwrap();
    for s in samples(25) {
        w.write(&s).unwrap();
    }
    let shards = w.finish().unwrap();
    let m = Manifest {
        layout_version: bomdata_schemas::LAYOUT_VERSION.into(),
        kind: DatasetKind::Canonical,
        tool: "test".into(),
        sources: vec!["src".into()],
        profile: None,
        tokenizer: None,
        counts: Counts {
            samples: shards.iter().map(|s| s.samples).sum(),
            shards: shards.len() as u64,
            ..Counts::default()
        },
        shards,
        tables: vec![],
    };
    dataset::write_manifest(dir, &m).unwrap();
    m
}

#[test]
fn same_samples_give_identical_bytes_and_roll_over() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    let opts = WriterOptions {
        max_samples: 10,
        ..WriterOptions::default()
    };
    let ma = write(a.path(), opts.clone());
    let mb = write(b.path(), opts);
    assert_eq!(ma.shards.len(), 3);
    assert_eq!(ma.shards, mb.shards);
    for s in &ma.shards {
        let x = std::fs::read(dataset::shard_path(a.path(), s)).unwrap();
        let y = std::fs::read(dataset::shard_path(b.path(), s)).unwrap();
        assert_eq!(x, y);
        // The tar parses and holds <key>.<field>.<ext> members, adjacent per sample.
        let e = bomdata_shard::tar::entries(&x).unwrap();
        assert_eq!(e.len() as u64, s.samples * 2);
        assert!(e[0].name.ends_with(".signal.npy"));
    }
}

#[test]
fn roll_over_by_bytes() {
    let d = tempfile::tempdir().unwrap();
    let m = write(
        d.path(),
        WriterOptions {
            max_bytes: 20_000,
            ..WriterOptions::default()
        },
    );
    assert!(m.shards.len() > 3);
    for s in &m.shards {
        assert!(s.size <= 20_000 || s.samples == 1);
    }
}

#[test]
fn every_compression_reads_back() {
    for c in [
        Compression::None,
        Compression::Member(3),
        Compression::Shard(3),
    ] {
        let d = tempfile::tempdir().unwrap();
        let m = write(
            d.path(),
            WriterOptions {
                compression: c,
                max_samples: 7,
                ..WriterOptions::default()
            },
        );
        let mut back = Vec::new();
        for e in &m.shards {
            for s in ShardReader::open(d.path(), e).unwrap() {
                back.push(s.unwrap());
            }
        }
        assert_eq!(back, samples(25), "{c:?}");
        let problems = verify::verify(d.path(), &m).unwrap().problems;
        assert!(problems.is_empty(), "{c:?}: {problems:?}");
    }
}

#[test]
fn verify_names_the_key_of_a_flipped_byte() {
    let d = tempfile::tempdir().unwrap();
    let m = write(d.path(), WriterOptions::default());
    let e = &m.shards[0];
    let idx = dataset::read_index(d.path(), e).unwrap();
    let path = dataset::shard_path(d.path(), e);
    let orig = std::fs::read(&path).unwrap();
    // Flip one byte in member data, in a header and in padding/end marker.
    let s7 = &idx.samples[7];
    let targets = [
        (s7.members[0].offset + 100, Some(s7.key.clone())),
        (s7.offset + 3, Some(s7.key.clone())),
        (orig.len() as u64 - 5, None),
    ];
    for (pos, key) in targets {
        let mut b = orig.clone();
        b[pos as usize] ^= 0x01;
        std::fs::write(&path, &b).unwrap();
        let r = verify::verify(d.path(), &m).unwrap();
        assert!(!r.problems.is_empty(), "flip at {pos} not detected");
        assert_eq!(r.problems[0].key, key, "flip at {pos}");
    }
}

#[test]
fn large_members_read_back_through_recycled_buffers() {
    // Members above the buffer pool's threshold: each sample read is given back, so later
    // reads land in buffers still holding an earlier sample's bytes, of another length.
    use bomdata_shard::buffers;
    let big = |i: usize, n: usize| -> Sample {
        let v: Vec<u8> = (0..n).map(|j| ((i * 31 + j * 7) % 251) as u8).collect();
        Sample::new(format!("src_subj00_{i:06}"))
            .with_subject("subj00")
            .with("signal.bin", v)
    };
    let sizes = [
        buffers::MIN_POOLED + 4096,
        buffers::MIN_POOLED + 100,
        buffers::MIN_POOLED + 9000,
        buffers::MIN_POOLED,
    ];
    let d = tempfile::tempdir().unwrap();
    let mut w = ShardWriter::create(d.path(), "t", WriterOptions::default()).unwrap();
    for (i, &n) in sizes.iter().enumerate() {
        w.write(&big(i, n)).unwrap();
    }
    let shards = w.finish().unwrap();
    for _round in 0..2 {
        let mut i = 0;
        for e in &shards {
            for s in ShardReader::open(d.path(), e).unwrap() {
                let s = s.unwrap();
                assert_eq!(s, big(i, sizes[i]), "sample {i}");
                buffers::give_sample(s);
                i += 1;
            }
        }
        assert_eq!(i, sizes.len());
    }
}

#[test]
fn checksums_of_members_written_in_pieces_equal_the_one_shot_hashes() {
    // Members of several write pieces (256 KiB) plus a remainder, small ones between them:
    // the index's member checksums are XXH3-64 of each member's bytes, the manifest's shard
    // checksum XXH3-128 of the whole file, as computed in one call.
    let d = tempfile::tempdir().unwrap();
    let mut w = ShardWriter::create(d.path(), "t", WriterOptions::default()).unwrap();
    let mut datas = Vec::new();
    for (i, n) in [(1usize << 20) + 77, 3, (256 << 10) * 2, 100_000]
        .into_iter()
        .enumerate()
    {
        let v: Vec<u8> = (0..n).map(|j| ((i * 131 + j * 17) % 253) as u8).collect();
        datas.push(v.clone());
        w.write(
            &Sample::new(format!("src_subj00_{i:06}"))
                .with("x.bin", v)
                .with("meta.json", b"{}".to_vec()),
        )
        .unwrap();
    }
    let shards = w.finish().unwrap();
    assert_eq!(shards.len(), 1);
    let dir = d.path().join("shards");
    let idx: bomdata_schemas::manifest::ShardIndex =
        serde_json::from_slice(&std::fs::read(dir.join(&shards[0].index)).unwrap()).unwrap();
    for (s, v) in idx.samples.iter().zip(&datas) {
        assert_eq!(s.members[0].checksum, dataset::checksum64(v), "{}", s.key);
        assert_eq!(s.members[1].checksum, dataset::checksum64(b"{}"));
    }
    assert_eq!(
        shards[0].checksum,
        dataset::checksum_file(&dir.join(&shards[0].name)).unwrap()
    );
}
