//! Writes a bomdata dataset holding the samples of a loader-bench `raw` layout
//! (`data.bin` + `index.json` + `meta.jsonl`, from `bench/loader` harness `make_data.py`), in the
//! same order: members `x.npy` (the float16 array) and `meta.json`.
//!
//! `cargo run --release -p bomdata-loader --example bench_loader_write -- RAW_DIR OUT_DIR [none|zstd] [SHARD_MB]`
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::io::{BufRead, Read};
use std::path::Path;

use bomdata_schemas::manifest::{Counts, DatasetKind, Manifest};
use bomdata_shard::writer::{Compression, ShardWriter, WriterOptions};
use bomdata_shard::{Sample, npy};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 3 {
        eprintln!("usage: bench_loader_write RAW_DIR OUT_DIR [none|zstd] [SHARD_MB]");
        std::process::exit(2);
    }
    let raw = Path::new(&args[1]);
    let out = Path::new(&args[2]);
    let compression = match args.get(3).map(String::as_str) {
        Some("zstd") => Compression::Member(3),
        _ => Compression::None,
    };
    let shard_mb: u64 = args.get(4).map(|s| s.parse()).transpose()?.unwrap_or(128);
    let index: serde_json::Value = serde_json::from_slice(&std::fs::read(raw.join("index.json"))?)?;
    let shape: Vec<usize> = index["shape"]
        .as_array()
        .ok_or("index.json: no shape")?
        .iter()
        .map(|v| v.as_u64().unwrap_or(0) as usize)
        .collect();
    let rec = index["record_bytes"]
        .as_u64()
        .ok_or("index.json: no record_bytes")? as usize;
    let n = index["n"].as_u64().ok_or("index.json: no n")? as usize;
    let metas = std::io::BufReader::new(std::fs::File::open(raw.join("meta.jsonl"))?);
    let mut data =
        std::io::BufReader::with_capacity(1 << 22, std::fs::File::open(raw.join("data.bin"))?);
    if out.exists() {
        std::fs::remove_dir_all(out)?;
    }
    std::fs::create_dir_all(out)?;
    let opts = WriterOptions {
        max_bytes: shard_mb * 1_000_000,
        max_samples: u64::MAX,
        compression,
        split: None,
        durable: false,
        defer_commit: false,
    };
    let t0 = std::time::Instant::now();
    let mut w = ShardWriter::create(out, "bench", opts)?;
    let mut buf = vec![0u8; rec];
    let mut header = npy::header(npy::Dtype::F16, &shape);
    let hlen = header.len();
    for (i, meta) in metas.lines().enumerate().take(n) {
        data.read_exact(&mut buf)?;
        header.truncate(hlen);
        header.extend_from_slice(&buf);
        let mut s = Sample::new(format!("bench_{i:09}"));
        s.push("x.npy", header.clone());
        s.push("meta.json", meta?.into_bytes());
        w.write(&s)?;
    }
    let shards = w.finish()?;
    let m = Manifest {
        layout_version: bomdata_schemas::LAYOUT_VERSION.to_string(),
        kind: DatasetKind::Training,
        tool: "bench_loader_write".into(),
        sources: vec!["bench".into()],
        profile: None,
        tokenizer: None,
        counts: Counts {
            samples: n as u64,
            shards: shards.len() as u64,
            bytes: shards.iter().map(|s| s.size).sum(),
            ..Counts::default()
        },
        shards,
        tables: Vec::new(),
    };
    bomdata_shard::dataset::write_manifest(out, &m)?;
    println!(
        "{{\"written\": {:?}, \"samples\": {n}, \"shards\": {}, \"bytes\": {}, \"seconds\": {:.1}}}",
        out.display().to_string(),
        m.counts.shards,
        m.counts.bytes,
        t0.elapsed().as_secs_f64()
    );
    Ok(())
}
