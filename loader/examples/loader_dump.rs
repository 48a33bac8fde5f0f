//! Dumps the batches the Rust loader yields, for the Python package's byte-identity tests
//! (`python/tests/test_loader_py.py`), and writes the synthetic source trees those tests shard.
//!
//! `loader_dump trees OUT`: writes one synthetic tree per family (`mri`, `eeg` (three 30 s
//! 19-electrode recordings), `genome`, `olink`) under `OUT/<family>` (the generators of the
//! golden e2e test).
//!
//! `loader_dump dump OUT key=value...`: builds a loader straight from the crate's API and
//! writes every batch of one epoch: `OUT/index.jsonl` (one line per batch: rows, positions,
//! ids, and per field its slot, name, kind, dtype, shape, row offsets and data file) and the raw
//! field buffers `OUT/b<batch>_s<slot>_<name>`. Keys: `datasets` (comma-separated paths),
//! `weights`, `epoch_len`, `split`, `fields`, `batch_size`, `seed`, `shuffle_buffer` (0: no
//! shuffle), `rank`, `world`, `threads`, `drop_last`, `epoch`, `state` (a JSON file of a
//! saved `LoaderState`), `shapes` (`field:policy,...`, e.g. `volume.npy:pad_masked`; with a
//! `bucket` field the planner is `Planner::with_buckets` of bucket size `batch_size`, the
//! loader's batch size 1). List fields get a `row_shapes` entry per field.
//!
//! `loader_dump tokens OUT key=value...`: the same for token batches (`TokenLoader`): keys
//! `datasets`, `split`, `mode` (`budget`/`packed`), `max_tokens`, `seq_len`, `batch_size`,
//! `split_long`, `seed`, `rank`, `world`, `epoch`, `state`; per batch one index line (rows,
//! seq_len, max_seqlen, positions, spans) and the files `b<batch>_input_ids`,
//! `b<batch>_position_ids` (i64 LE) and `b<batch>_cu_seqlens` (i32 LE).
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use bomdata_loader::{
    Batch, BufferSize, Dataset, FieldKind, Loader, LoaderOptions, LoaderState, Mixture,
    OrderOptions, Partition, Planner, Remainder, ShapePolicy, Shuffle, TokenBatch, TokenLoader,
    TokenOptions, TokenPlanner, Units,
};

type Res<T> = Result<T, Box<dyn std::error::Error>>;

/// A family's name and its tree generator.
type Family = (&'static str, fn(&Path));

fn trees(out: &Path) {
    use bomdata_testdata::{eeg, genome, mri, tables};
    let make: [Family; 4] = [
        ("mri", mri::bids_recordings),
        ("eeg", |root| eeg::tueg_long_tree(root, 3, 30)),
        ("genome", genome::assembly_tree),
        ("olink", tables::olink_tree),
    ];
    for (name, f) in make {
        let d = out.join(name);
        if std::fs::create_dir_all(&d).is_ok() {
            f(&d);
        }
    }
}

fn list(v: Option<&String>) -> Vec<String> {
    v.map(|s| {
        s.split(',')
            .filter(|x| !x.is_empty())
            .map(String::from)
            .collect()
    })
    .unwrap_or_default()
}

fn num<T: std::str::FromStr>(kv: &BTreeMap<String, String>, k: &str, default: T) -> Res<T> {
    match kv.get(k) {
        None => Ok(default),
        Some(v) => v
            .parse()
            .map_err(|_| format!("{k}={v:?}: not a number").into()),
    }
}

/// `field:policy,...` → the shape policies.
fn shapes(kv: &BTreeMap<String, String>) -> Res<BTreeMap<String, ShapePolicy>> {
    let mut out = BTreeMap::new();
    for item in list(kv.get("shapes")) {
        let (field, policy) = item
            .split_once(':')
            .ok_or_else(|| format!("shapes: {item:?} is not field:policy"))?;
        let p: ShapePolicy = serde_json::from_value(serde_json::Value::String(policy.into()))?;
        out.insert(field.to_string(), p);
    }
    Ok(out)
}

fn mixture(kv: &BTreeMap<String, String>) -> Res<Mixture> {
    let mut parts = Vec::new();
    let weights = list(kv.get("weights"));
    for (i, p) in list(kv.get("datasets")).iter().enumerate() {
        let mut ds = Dataset::open(p)?;
        if let Some(s) = kv.get("split") {
            ds.retain_split(s);
        }
        let w = match weights.get(i) {
            Some(w) => w.parse()?,
            None => 1.0,
        };
        parts.push((ds, w));
    }
    let mut mix = Mixture::weighted(parts)?;
    if let Some(n) = kv.get("epoch_len") {
        mix = mix.with_epoch_len(n.parse()?);
    }
    Ok(mix)
}

fn build(kv: &BTreeMap<String, String>) -> Res<Loader> {
    let mix = mixture(kv)?;
    let buffer: usize = num(kv, "shuffle_buffer", 4096)?;
    let order = OrderOptions {
        seed: num(kv, "seed", 0)?,
        shuffle: if buffer == 0 {
            Shuffle::None
        } else {
            Shuffle::Buffer(BufferSize::Samples(buffer))
        },
        shuffle_shards: buffer != 0,
    };
    let shapes = shapes(kv)?;
    let bucket: Vec<String> = shapes
        .iter()
        .filter(|(_, p)| **p == ShapePolicy::Bucket)
        .map(|(f, _)| f.clone())
        .collect();
    let batch_size = num(kv, "batch_size", 1)?;
    let planner = if bucket.is_empty() {
        Planner::new(mix, order, Units::Samples)?
    } else {
        Planner::with_buckets(mix, order, &bucket, batch_size, false)?
    };
    let fields = list(kv.get("fields"));
    let part = Partition::new(num(kv, "rank", 0)?, num(kv, "world", 1)?, Remainder::Uneven)?;
    let opts = LoaderOptions {
        batch_size: if bucket.is_empty() { batch_size } else { 1 },
        shapes,
        drop_last: num(kv, "drop_last", false)?,
        threads: num(kv, "threads", 2)?,
        fields: (!fields.is_empty()).then_some(fields),
        ..LoaderOptions::default()
    };
    let mut loader = Loader::new(Arc::new(planner), part, opts)?;
    loader.set_epoch(num(kv, "epoch", 0)?);
    if let Some(f) = kv.get("state") {
        loader.set_state(LoaderState::from_json(&std::fs::read_to_string(f)?)?)?;
    }
    Ok(loader)
}

fn write_batch(out: &Path, i: usize, b: &Batch, index: &mut impl Write) -> Res<()> {
    let mut fields = Vec::new();
    for f in b.fields() {
        let file = format!("b{i}_s{}_{}", f.slot(), f.name());
        std::fs::write(out.join(&file), f.data())?;
        let offsets = || {
            let mut offs = vec![0usize];
            for r in 0..b.rows() {
                offs.push(offs[r] + f.row(r).len());
            }
            offs
        };
        let (kind, dtype, offsets) = match f.kind() {
            FieldKind::Tensor { dtype, .. } => ("tensor", dtype.descr(), Vec::new()),
            FieldKind::Bytes => ("bytes", "", offsets()),
            FieldKind::List { dtype } => ("list", dtype.descr(), offsets()),
        };
        let row_shapes: Vec<Option<&[usize]>> = match f.kind() {
            FieldKind::List { .. } => (0..b.rows()).map(|r| f.row_shape(r)).collect(),
            _ => Vec::new(),
        };
        fields.push(serde_json::json!({
            "slot": f.slot(), "name": f.name(), "kind": kind, "dtype": dtype,
            "shape": f.shape(), "offsets": offsets, "file": file, "row_shapes": row_shapes,
        }));
    }
    let ids: Vec<u64> = b.ids().iter().map(|i| i.0).collect();
    let line = serde_json::json!({
        "batch": i, "rows": b.rows(), "positions": b.positions(), "ids": ids, "fields": fields,
    });
    writeln!(index, "{line}")?;
    Ok(())
}

fn dump(out: &Path, kv: &BTreeMap<String, String>) -> Res<()> {
    let mut loader = build(kv)?;
    std::fs::create_dir_all(out)?;
    let mut index = std::io::BufWriter::new(std::fs::File::create(out.join("index.jsonl"))?);
    for (i, b) in loader.epoch().enumerate() {
        write_batch(out, i, &b?, &mut index)?;
    }
    index.flush()?;
    std::fs::write(out.join("state.json"), loader.state().to_json())?;
    Ok(())
}

fn token_loader(kv: &BTreeMap<String, String>) -> Res<TokenLoader> {
    let d = TokenOptions::default();
    let mode = kv.get("mode").map_or("budget", String::as_str);
    let opts = TokenOptions {
        mode: serde_json::from_value(serde_json::Value::String(mode.into()))?,
        seed: num(kv, "seed", 0)?,
        seq_len: num(kv, "seq_len", d.seq_len)?,
        batch_size: num(kv, "batch_size", d.batch_size)?,
        max_tokens: num(kv, "max_tokens", d.max_tokens)?,
        split_long: num(kv, "split_long", false)?,
        drop_last: num(kv, "drop_last", false)?,
        ..d
    };
    let planner = Arc::new(TokenPlanner::new(mixture(kv)?, opts)?);
    let part = Partition::new(num(kv, "rank", 0)?, num(kv, "world", 1)?, Remainder::Uneven)?;
    let mut loader = TokenLoader::new(planner, part)?;
    loader.set_epoch(num(kv, "epoch", 0)?);
    if let Some(f) = kv.get("state") {
        loader.set_state(LoaderState::from_json(&std::fs::read_to_string(f)?)?)?;
    }
    Ok(loader)
}

fn write_tokens(out: &Path, i: usize, b: &TokenBatch, index: &mut impl Write) -> Res<()> {
    let le64 = |v: &[i64]| v.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<u8>>();
    std::fs::write(out.join(format!("b{i}_input_ids")), le64(&b.input_ids))?;
    std::fs::write(
        out.join(format!("b{i}_position_ids")),
        le64(&b.position_ids),
    )?;
    let cu: Vec<u8> = b.cu_seqlens.iter().flat_map(|x| x.to_le_bytes()).collect();
    std::fs::write(out.join(format!("b{i}_cu_seqlens")), cu)?;
    let spans: Vec<[u64; 3]> = b
        .spans
        .iter()
        .map(|s| [s.doc.into(), s.from, s.to])
        .collect();
    let line = serde_json::json!({
        "batch": i, "rows": b.rows, "seq_len": b.seq_len, "max_seqlen": b.max_seqlen,
        "positions": b.positions, "spans": spans,
    });
    writeln!(index, "{line}")?;
    Ok(())
}

fn dump_tokens(out: &Path, kv: &BTreeMap<String, String>) -> Res<()> {
    let mut loader = token_loader(kv)?;
    std::fs::create_dir_all(out)?;
    let mut index = std::io::BufWriter::new(std::fs::File::create(out.join("index.jsonl"))?);
    for (i, b) in loader.epoch()?.enumerate() {
        write_tokens(out, i, &b?, &mut index)?;
    }
    index.flush()?;
    std::fs::write(out.join("state.json"), loader.state().to_json())?;
    Ok(())
}

/// Errors print with their message (naming the dataset and filter of an empty selection) and
/// exit 1.
fn main() {
    if let Err(e) = run() {
        eprintln!("loader_dump: {e}");
        std::process::exit(1);
    }
}

fn run() -> Res<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.as_slice() {
        [cmd, out] if cmd == "trees" => {
            trees(Path::new(out));
            Ok(())
        }
        [cmd, out, rest @ ..] if cmd == "dump" || cmd == "tokens" => {
            let kv: BTreeMap<String, String> = rest
                .iter()
                .filter_map(|a| a.split_once('='))
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            if cmd == "tokens" {
                dump_tokens(Path::new(out), &kv)
            } else {
                dump(Path::new(out), &kv)
            }
        }
        _ => Err("usage: loader_dump trees OUT | loader_dump dump|tokens OUT key=value...".into()),
    }
}
