//! `bomdata shard`.

use std::path::PathBuf;

use anyhow::{Context, bail};
use bomdata_shard::build::{self, BuildOptions};
use bomdata_shard::profile::{self, Params};
use bomdata_shard::writer::WriterOptions;

/// Arguments of `bomdata shard`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The canonical dataset written by `bomdata ingest`.
    pub dataset: PathBuf,
    /// Where to write the training shards.
    #[arg(long)]
    pub out: PathBuf,
    /// Profile (see `bomdata profiles`).
    #[arg(long, default_value = "canonical")]
    pub profile: String,
    /// Profile parameter `key=value` (repeatable).
    #[arg(long = "param", value_name = "KEY=VALUE")]
    pub params: Vec<String>,
    /// Seed of the subject split and the shuffle.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Fractions of subjects in train,valid,test.
    #[arg(long, default_value = "0.8,0.1,0.1")]
    pub split: String,
    /// Name prefix of the shards (default: the dataset's source).
    #[arg(long)]
    pub name: Option<String>,
    /// Start a new shard before this many bytes.
    #[arg(long, default_value_t = 1 << 30)]
    pub max_shard_bytes: u64,
    /// Start a new shard after this many samples.
    #[arg(long, default_value_t = 10_000)]
    pub max_shard_samples: u64,
    /// Compression: none, member or shard.
    #[arg(long, default_value = "none")]
    pub compress: String,
    /// zstd level for --compress.
    #[arg(long, default_value_t = 3)]
    pub zstd_level: i32,
    /// Worker threads.
    #[arg(long, short = 'j', default_value_t = 1)]
    pub jobs: usize,
}

/// Parses `key=value` pairs into JSON values (numbers and booleans when they parse as such).
pub fn parse_params(list: &[String]) -> anyhow::Result<Params> {
    let mut m = Params::new();
    for p in list {
        let (k, v) = p
            .split_once('=')
            .with_context(|| format!("--param {p:?} is not key=value"))?;
        let value = serde_json::from_str::<serde_json::Value>(v)
            .ok()
            .filter(|j| j.is_number() || j.is_boolean() || j.is_array())
            .unwrap_or_else(|| serde_json::Value::String(v.to_string()));
        m.insert(k.to_string(), value);
    }
    Ok(m)
}

/// Runs `bomdata shard`.
pub fn run(a: &Args) -> anyhow::Result<i32> {
    let params = parse_params(&a.params)?;
    let profile = profile::create(&a.profile, &params)?;
    let fr: Vec<f64> = a
        .split
        .split(',')
        .map(|s| s.trim().parse::<f64>())
        .collect::<Result<_, _>>()
        .with_context(|| format!("--split {:?}: three numbers expected", a.split))?;
    if fr.len() != 3 || fr.iter().any(|f| *f < 0.0) || fr.iter().sum::<f64>() <= 0.0 {
        bail!("--split {:?}: three non-negative numbers expected", a.split);
    }
    let input_manifest = bomdata_shard::dataset::read_manifest(&a.dataset)
        .with_context(|| format!("reading {}", a.dataset.display()))?;
    let name = a
        .name
        .clone()
        .or_else(|| input_manifest.sources.first().cloned())
        .unwrap_or_else(|| "data".into());
    let opts = BuildOptions {
        name: bomdata_schemas::key::sanitize(&name),
        seed: a.seed,
        fractions: [fr[0], fr[1], fr[2]],
        writer: WriterOptions {
            max_bytes: a.max_shard_bytes,
            max_samples: a.max_shard_samples,
            compression: super::ingest::compression(&a.compress, a.zstd_level)?,
            ..WriterOptions::default()
        },
        jobs: a.jobs,
    };
    let m = build::build(&a.dataset, &a.out, profile.as_ref(), &opts)?;
    eprintln!(
        "bomdata: profile {}: {} samples in {} shards ({} subjects) -> {}",
        profile.name(),
        m.counts.samples,
        m.counts.shards,
        m.counts.subjects,
        a.out.join("manifest.json").display()
    );
    Ok(0)
}
