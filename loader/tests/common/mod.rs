//! Test helpers: small datasets written with the real shard writer.
#![allow(clippy::unwrap_used, dead_code)]

use std::path::Path;

use bomdata_schemas::manifest::{Counts, DatasetKind, Manifest};
use bomdata_shard::writer::{Compression, ShardWriter, WriterOptions};
use bomdata_shard::{Sample, npy};

pub fn values(i: usize) -> Vec<f32> {
    (0..12).map(|j| (i * 100 + j) as f32).collect()
}

/// Writes `n` samples `src_subj{i/4}_{ses}_{modality}_{i}` with `x.npy` (f32 [3,4]) and
/// `meta.json` ({"site": i % 3, "index": i}) into `dir` (two splits).
pub fn write_dataset(dir: &Path, n: usize, modality: &str, compression: Compression) {
    let mut entries = Vec::new();
    for (split, range) in [("train", 0..n * 3 / 4), ("val", n * 3 / 4..n)] {
        let opts = WriterOptions {
            max_bytes: 1 << 30,
            max_samples: 7,
            compression,
            split: Some(split.to_string()),
            durable: false,
            defer_commit: false,
        };
        let mut w = ShardWriter::create(dir, &format!("{modality}-{split}"), opts).unwrap();
        for i in range {
            let mut s = Sample::new(format!("src_s{}_1_{modality}_{i:06}", i / 4));
            s.push("x.npy", npy::encode_f32(&[3, 4], &values(i)));
            s.push(
                "meta.json",
                format!("{{\"site\":\"site{}\",\"index\":{i}}}", i % 3).into_bytes(),
            );
            w.write(&s).unwrap();
        }
        entries.extend(w.finish().unwrap());
    }
    write_training_manifest(dir, "src", n, entries);
}

/// Writes the manifest of a training dataset of `samples` samples from source `source` in the
/// shards `entries`.
pub fn write_training_manifest(
    dir: &Path,
    source: &str,
    samples: usize,
    entries: Vec<bomdata_schemas::manifest::ShardEntry>,
) {
    let m = Manifest {
        layout_version: bomdata_schemas::LAYOUT_VERSION.to_string(),
        kind: DatasetKind::Training,
        tool: "test".into(),
        sources: vec![source.into()],
        profile: None,
        tokenizer: None,
        counts: Counts {
            samples: samples as u64,
            shards: entries.len() as u64,
            bytes: entries.iter().map(|e| e.size).sum(),
            ..Counts::default()
        },
        shards: entries,
        tables: Vec::new(),
    };
    bomdata_shard::dataset::write_manifest(dir, &m).unwrap();
}

pub fn index_of(meta: &[u8]) -> usize {
    let v: serde_json::Value = serde_json::from_slice(meta).unwrap();
    v["index"].as_u64().unwrap() as usize
}

pub fn f32s(b: &[u8]) -> Vec<f32> {
    b.chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

/// Shape of sample `i`'s `v.npy` in [`write_varshape`]: `[2,3]`, `[3,2]` or `[2,3,2]`.
pub fn var_shape(i: usize) -> Vec<usize> {
    match i % 3 {
        0 => vec![2, 3],
        1 => vec![3, 2],
        _ => vec![2, 3, 2],
    }
}

/// Values of sample `i`'s `v.npy`: `i * 100 + j`.
pub fn var_values(i: usize) -> Vec<f32> {
    let n: usize = var_shape(i).iter().product();
    (0..n).map(|j| (i * 100 + j) as f32).collect()
}

/// Writes `n` samples with `v.npy` of [`var_shape`] (2-D and 3-D arrays in one field) and
/// `meta.json` (`{"index": i}`), 5 per shard, one split.
pub fn write_varshape(dir: &Path, n: usize, compression: Compression) {
    let opts = WriterOptions {
        max_bytes: 1 << 30,
        max_samples: 5,
        compression,
        split: Some("train".to_string()),
        durable: false,
        defer_commit: false,
    };
    let mut w = ShardWriter::create(dir, "var-train", opts).unwrap();
    for i in 0..n {
        let mut s = Sample::new(format!("src_s{}_1_mri_{i:06}", i / 4));
        s.push("v.npy", npy::encode_f32(&var_shape(i), &var_values(i)));
        s.push("meta.json", format!("{{\"index\":{i}}}").into_bytes());
        w.write(&s).unwrap();
    }
    let entries = w.finish().unwrap();
    write_training_manifest(dir, "src", n, entries);
}

/// Token `pos` of document `doc` in [`write_tokens`].
pub fn token(doc: usize, pos: u64) -> i64 {
    ((doc as u64 * 7919 + pos * 31) % 65_000) as i64
}

/// Writes documents of `lens` tokens as a `shard --tokens` pack-mode dataset: concatenated,
/// cut every `seq_len` ids (`input_ids.npy` uint16, `doc_offsets.npy`, `meta.json` with
/// `continues`), 3 sequences per shard, the last sequence padded with id 0.
pub fn write_tokens(dir: &Path, lens: &[u64], seq_len: usize, compression: Compression) {
    let opts = WriterOptions {
        max_bytes: 1 << 30,
        max_samples: 3,
        compression,
        split: Some("train".to_string()),
        durable: false,
        defer_commit: false,
    };
    let mut w = ShardWriter::create(dir, "tok-train", opts).unwrap();
    let mut seqs: Vec<(Vec<u16>, Vec<u32>, bool)> = Vec::new();
    let (mut ids, mut offs, mut cont) = (Vec::new(), vec![0u32], false);
    for (d, &len) in lens.iter().enumerate() {
        let mut p = 0;
        while p < len {
            let take = (len - p).min((seq_len - ids.len()) as u64);
            ids.extend((p..p + take).map(|q| token(d, q) as u16));
            offs.push(ids.len() as u32);
            p += take;
            if ids.len() == seq_len {
                seqs.push((
                    std::mem::take(&mut ids),
                    std::mem::replace(&mut offs, vec![0]),
                    cont,
                ));
                cont = p < len;
            }
        }
    }
    if !ids.is_empty() {
        ids.resize(seq_len, 0);
        seqs.push((ids, offs, cont));
    }
    for (i, (ids, offs, cont)) in seqs.iter().enumerate() {
        let mut s = Sample::new(format!("tok_s0_1_dna_{i:06}"));
        s.push("input_ids.npy", npy::encode_u16(&[seq_len], ids));
        s.push("doc_offsets.npy", npy::encode_u32(&[offs.len()], offs));
        s.push(
            "meta.json",
            format!("{{\"continues\":{cont}}}").into_bytes(),
        );
        w.write(&s).unwrap();
    }
    let entries = w.finish().unwrap();
    write_training_manifest(dir, "tok", seqs.len(), entries);
}
