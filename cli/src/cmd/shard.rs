//! `bomdata shard`: canonical dataset in, training shards out, by a profile or, with
//! `--tokens TOKENIZER`, as packed token sequences (see `bomdata_profiles::tokens`).

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use bomdata_profiles::build::{self, BuildOptions};
use bomdata_profiles::tokens::{self, TokenOptions};
use bomdata_profiles::{Params, registry};
use bomdata_shard::writer::WriterOptions;

/// Arguments of `bomdata shard`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The canonical dataset written by `bomdata ingest`.
    pub dataset: PathBuf,
    /// Where to write the training shards: a new or empty folder (URLs are refused).
    #[arg(long)]
    pub out: PathBuf,
    /// Remove the earlier bomdata dataset in --out first (never mixes two outputs).
    #[arg(long)]
    pub overwrite: bool,
    /// Profile (see `bomdata profiles`).
    #[arg(long, default_value = "canonical")]
    pub profile: String,
    /// Profile parameter `key=value` (repeatable). With --tokens: only `case=upper` (upper-case
    /// soft-masked bases before a DNA tokenizer) or `case=as_is`.
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
    /// This process's rank in a distributed build (default: from SLURM_ARRAY_TASK_ID or
    /// SLURM_PROCID, else 0); see `bomdata merge`.
    #[arg(long)]
    pub rank: Option<usize>,
    /// Number of processes sharing the build (default: from SLURM_ARRAY_TASK_COUNT or
    /// SLURM_NTASKS, else 1). Above 1, each rank writes its part and `bomdata merge OUT` then
    /// writes the shards and manifest one process would.
    #[arg(long)]
    pub world_size: Option<usize>,
    /// Log progress and the summary as JSON lines on stderr.
    #[arg(long)]
    pub json: bool,
    /// The token options (--tokens and what goes with it).
    #[command(flatten)]
    pub tok: super::token_args::TokenArgs,
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

/// Reads the input dataset's manifest, saying plainly when the folder is not a dataset.
fn read_input(dataset: &Path) -> anyhow::Result<bomdata_schemas::manifest::Manifest> {
    if !dataset.join(bomdata_shard::dataset::MANIFEST).is_file() {
        bail!(
            "{}: not a bomdata dataset: no manifest.json (run `bomdata ingest` on a source tree first)",
            dataset.display()
        );
    }
    bomdata_shard::dataset::read_manifest(dataset)
        .with_context(|| format!("reading {}", dataset.display()))
}

/// Locks the output folder and checks that it is new or empty; with `overwrite`, an earlier
/// bomdata dataset in it is removed first. A folder holding anything else is refused.
fn prepare_output(out: &Path, overwrite: bool) -> anyhow::Result<bomdata_shard::lock::RunLock> {
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let lock = bomdata_shard::lock::RunLock::exclusive(out, "shard")?;
    let mut entries: Vec<PathBuf> = std::fs::read_dir(out)
        .with_context(|| format!("reading {}", out.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| !p.ends_with(bomdata_shard::lock::STATE_DIR))
        .collect();
    entries.sort();
    if entries.is_empty() {
        return Ok(lock);
    }
    let is_dataset = out.join(bomdata_shard::dataset::MANIFEST).is_file();
    if !overwrite || !is_dataset {
        let names: Vec<String> = entries
            .iter()
            .filter_map(|p| p.file_name().map(|n| super::escape(&n.to_string_lossy())))
            .collect();
        bail!(
            "{} is not empty (it holds {}); give a new or empty --out{}",
            out.display(),
            names.join(", "),
            if is_dataset {
                ", or --overwrite to replace the bomdata dataset in it"
            } else {
                ""
            }
        );
    }
    for p in entries {
        let r = if p.is_dir() {
            std::fs::remove_dir_all(&p)
        } else {
            std::fs::remove_file(&p)
        };
        r.with_context(|| format!("removing {}", p.display()))?;
    }
    Ok(lock)
}

/// Runs `bomdata shard`; the summary line goes to stderr.
#[allow(clippy::print_stderr)]
pub fn run(a: &Args) -> anyhow::Result<i32> {
    let tok_opts = match &a.tok.tokens {
        Some(_) if a.profile != "canonical" => {
            bail!("--tokens replaces the profile: drop --profile")
        }
        Some(spec) => Some(super::token_args::token_options(&a.tok, &a.params, spec)?),
        None => None,
    };
    let params = parse_params(&a.params)?;
    let fr: Vec<f64> = a
        .split
        .split(',')
        .map(|s| s.trim().parse::<f64>())
        .collect::<Result<_, _>>()
        .with_context(|| format!("--split {:?}: three numbers expected", a.split))?;
    if fr.len() != 3 || fr.iter().any(|f| *f < 0.0) || fr.iter().sum::<f64>() <= 0.0 {
        bail!("--split {:?}: three non-negative numbers expected", a.split);
    }
    super::check_local_path(&a.out)?;
    let input_manifest = read_input(&a.dataset)?;
    let (rank, world) = super::ranks::resolve(a.rank, a.world_size)?;
    if world > 1 {
        let opts = build_options(a, &input_manifest, &fr)?;
        return super::shard_rank::run(a, (rank, world), &params, &opts, tok_opts.is_some());
    }
    let existed = a.out.exists();
    let r = build_into(a, &input_manifest, &params, &fr, tok_opts.as_ref());
    if r.is_err() && !existed {
        // A refused or failed build leaves no folder it created: no half-written output.
        // Best effort: the build's error is the one to report.
        let _ = std::fs::remove_dir_all(&a.out);
    }
    r
}

/// The build options of `a` (the shard name defaults to the input's first source).
pub(super) fn build_options(
    a: &Args,
    input_manifest: &bomdata_schemas::manifest::Manifest,
    fr: &[f64],
) -> anyhow::Result<BuildOptions> {
    let name = a
        .name
        .clone()
        .or_else(|| input_manifest.sources.first().cloned())
        .unwrap_or_else(|| "data".into());
    Ok(BuildOptions {
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
    })
}

/// Locks and prepares `--out`, then writes the token shards or the profile's shards into it.
#[allow(clippy::print_stderr)]
fn build_into(
    a: &Args,
    input_manifest: &bomdata_schemas::manifest::Manifest,
    params: &Params,
    fr: &[f64],
    tok_opts: Option<&TokenOptions>,
) -> anyhow::Result<i32> {
    let _lock = prepare_output(&a.out, a.overwrite)?;
    let opts = build_options(a, input_manifest, fr)?;
    if let Some(t) = tok_opts {
        let progress = crate::progress::Progress::counting(a.json, "samples");
        let s = tokens::build_tokens_observed(&a.dataset, &a.out, t, &opts, &progress);
        progress.finish();
        let s = s?;
        if a.json {
            crate::progress::token_summary_json(&t.tokenizer_id, t.seq_len, &s, &a.out);
            return Ok(0);
        }
        eprintln!(
            "bomdata: tokens {}: {} documents, {} tokens ({}) in {} sequences of {}, {} shards, {} skipped -> {}",
            t.tokenizer_id,
            s.documents,
            s.tokens,
            s.dtype.name(),
            s.sequences,
            t.seq_len,
            s.manifest.counts.shards,
            s.skipped,
            a.out.join("manifest.json").display()
        );
        if let Some(l) = &s.lowercase {
            eprintln!(
                "bomdata: tokens {}: {} lower-case bases in {} documents: {}",
                t.tokenizer_id,
                l.bases,
                l.documents,
                l.effect.name()
            );
        }
        return Ok(super::outcome::shard_exit(&a.out, &s.manifest));
    }
    let profile = registry::create(&a.profile, params)?;
    let progress = crate::progress::Progress::counting(a.json, "samples");
    let m = build::build_observed(&a.dataset, &a.out, profile.as_ref(), &opts, &progress);
    progress.finish();
    let m = m?;
    crate::progress::shard_summary(a.json, profile.name(), &m, &a.out);
    Ok(super::outcome::shard_exit(&a.out, &m))
}
