//! `bomdata ingest`.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use bomdata_ingest::registry::{Entry, Registry};
use bomdata_ingest::run::{self, RunOptions};
use bomdata_ingest::{Pseudonymizer, sources};
use bomdata_shard::writer::{Compression, WriterOptions};

use crate::progress::Progress;

/// Arguments of `bomdata ingest`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The source tree to read.
    pub source_dir: PathBuf,
    /// Where each finished unit is committed during the run (`--out s3://…`, set by
    /// `crate::remote::stage`, which points `out` at the local staging folder).
    #[arg(skip)]
    pub publish_to: Option<Box<crate::remote::Remote>>,
    /// The dataset directory to write (created; re-running with the same options resumes it).
    /// It must be empty, new, or this run's own output; a local path (URLs are refused).
    #[arg(long)]
    pub out: PathBuf,
    /// Remove the earlier bomdata dataset in --out first (never mixes two runs' outputs); the
    /// run's private state is cleared too.
    #[arg(long)]
    pub overwrite: bool,
    /// Folder of the run's private state: plan, unit records, fingerprint, lock and the report
    /// that names source paths and original subject IDs (default: OUT.private beside --out).
    /// Keep it with the source data; share only --out.
    #[arg(long)]
    pub state_dir: Option<PathBuf>,
    /// Registry entry to use (default: detected from the tree's layout).
    #[arg(long)]
    pub source: Option<String>,
    /// A registry file instead of the built-in datasets.toml.
    #[arg(long)]
    pub registry: Option<PathBuf>,
    /// Worker threads.
    #[arg(long, short = 'j', default_value_t = default_jobs())]
    pub jobs: usize,
    /// This process's rank (default: from SLURM_ARRAY_TASK_ID or SLURM_PROCID, else 0).
    #[arg(long)]
    pub rank: Option<usize>,
    /// Number of processes sharing the work (default: from SLURM_ARRAY_TASK_COUNT or
    /// SLURM_NTASKS, else 1).
    #[arg(long)]
    pub world_size: Option<usize>,
    /// File holding the secret pseudonymisation key, at least 16 bytes (else the BOMDATA_KEY
    /// variable, also at least 16 bytes).
    #[arg(long)]
    pub key_file: Option<PathBuf>,
    /// Allow a fixed public key (open data only).
    #[arg(long)]
    pub allow_unkeyed: bool,
    /// Write the original-ID → pseudonym mapping of this rank's subjects to this CSV file.
    #[arg(long)]
    pub write_mapping: Option<PathBuf>,
    /// Keep identity in the output: header text (names, recording text, start time) and the
    /// original BIDS session labels. Without it, every session label of BIDS sources (and of
    /// any source whose labels look like dates) becomes an ordinal per subject in natural order
    /// (ses-20240105, ses-20240612 -> ses-1, ses-2) in keys, member names, indexes, meta.json,
    /// subjects.parquet and the dataset's report.
    #[arg(long)]
    pub keep_identity: bool,
    /// Keep annotation free text (events.tsv trial_type/value, EDF+/BrainVision/FIF
    /// annotations). Without it, only numbers, marker codes (S  1, R128), single tokens of
    /// [A-Za-z0-9_.:+-] (at most 32 characters, '/'-separated parts) and a small vocabulary of
    /// protocol terms ("Eyes closed", "Sleep stage W", ...) are kept; other texts become "n/a"
    /// (onset and duration kept), counted in meta.json as free_text_dropped.
    #[arg(long)]
    pub keep_free_text: bool,
    /// Accept DICOM series whose instances say BurnedInAnnotation YES (text such as the
    /// patient's name may be drawn into the pixels). Without it such a series is refused and
    /// listed in the report; give it only after checking the images.
    #[arg(long)]
    pub allow_burned_in: bool,
    /// An allow-list file of extra annotation terms to keep (one per line, case-insensitive,
    /// '#' comments), matched against the whole text or one '/'-separated part; e.g. phrases of
    /// your protocol such as "face famous".
    #[arg(long)]
    pub allow_terms: Option<PathBuf>,
    /// Split continuous signals into chunks of at most this many seconds (0 = never).
    #[arg(long, default_value_t = 3600.0)]
    pub chunk_seconds: f64,
    /// Store canonical volumes as float16 instead of float32 (values rounded to nearest).
    #[arg(long)]
    pub float16: bool,
    /// Run a shard profile on each sample as it is made and write its output instead of the
    /// canonical sample (e.g. `swift`: SwiFT windows straight from the NIfTI runs, the bytes
    /// `bomdata shard --profile swift` writes, without the canonical copy). See `bomdata profiles`.
    #[arg(long, value_name = "NAME")]
    pub profile: Option<String>,
    /// Parameter of --profile, `key=value` (repeatable); with --tokens only `case=as_is|upper`.
    #[arg(long = "param", value_name = "KEY=VALUE")]
    pub params: Vec<String>,
    /// Genome sources: write token shards straight from the source, without the canonical
    /// copy (the documents and token ids per split of `bomdata shard --tokens`, packed per
    /// block and not shuffled; see `bomdata_profiles::tokens::direct`).
    #[command(flatten)]
    pub tok: super::token_args::TokenArgs,
    /// With --tokens: seed of the subject split (as `bomdata shard --seed`).
    #[arg(long, default_value_t = 0, requires = "tokens")]
    pub seed: u64,
    /// With --tokens: fractions of subjects in train,valid,test (as `bomdata shard --split`).
    #[arg(long, default_value = "0.8,0.1,0.1", requires = "tokens")]
    pub split: String,
    /// Start a new shard before this many bytes.
    #[arg(long, default_value_t = 1 << 30)]
    pub max_shard_bytes: u64,
    /// Start a new shard after this many samples.
    #[arg(long, default_value_t = 10_000)]
    pub max_shard_samples: u64,
    /// Compression: none, member (zstd per member) or shard (zstd over the tar).
    #[arg(long, default_value = "none")]
    pub compress: String,
    /// zstd level for --compress.
    #[arg(long, default_value_t = 3)]
    pub zstd_level: i32,
    /// Print the plan and exit.
    #[arg(long)]
    pub dry_run: bool,
    /// Run a source marked `planned` in the registry (its adapter does not read it yet; the
    /// output may be empty or wrong).
    #[arg(long)]
    pub allow_planned: bool,
    /// Log progress as JSON lines on stderr.
    #[arg(long)]
    pub json: bool,
}

fn default_jobs() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Parses `--compress`.
pub fn compression(name: &str, level: i32) -> anyhow::Result<Compression> {
    Ok(match name {
        "none" => Compression::None,
        "member" => Compression::Member(level),
        "shard" => Compression::Shard(level),
        other => bail!("unknown --compress {other:?} (none, member, shard)"),
    })
}

/// Reads the pseudonymisation key.
pub fn key(key_file: Option<&Path>, allow_unkeyed: bool) -> anyhow::Result<Pseudonymizer> {
    if let Some(p) = key_file {
        let k = std::fs::read(p).with_context(|| format!("reading key file {}", p.display()))?;
        let k = k.trim_ascii().to_vec();
        if k.len() < 16 {
            bail!("key file {} holds fewer than 16 bytes", p.display());
        }
        return Ok(Pseudonymizer::new(k));
    }
    if let Some(k) = std::env::var_os("BOMDATA_KEY") {
        let k = k.into_encoded_bytes();
        if k.len() < 16 {
            bail!("BOMDATA_KEY holds fewer than 16 bytes");
        }
        return Ok(Pseudonymizer::new(k));
    }
    if allow_unkeyed {
        return Ok(Pseudonymizer::unkeyed());
    }
    Err(bomdata_ingest::Error::NoKey.into())
}

/// Runs `bomdata ingest`.
pub fn run(a: &Args) -> anyhow::Result<i32> {
    let registry = match &a.registry {
        Some(p) => Registry::load(p)?,
        None => Registry::builtin()?,
    };
    super::check_local_path(&a.out)?;
    if !a.source_dir.is_dir() {
        bail!("{}: not a directory", a.source_dir.display());
    }
    let entry = resolve_entry(a, &registry)?;
    if entry.planned && !a.allow_planned {
        bail!(
            "source {} is marked planned in the registry: adapter {:?} does not read it yet \
             (--allow-planned runs it anyway)",
            entry.id,
            entry.adapter
        );
    }
    let Some(adapter) = sources::by_name(&entry.adapter) else {
        bail!(
            "source {} needs adapter {:?}, which this build does not have yet (planned)",
            entry.id,
            entry.adapter
        );
    };
    let (rank, world) = super::ranks::resolve(a.rank, a.world_size)?;
    if a.dry_run {
        let units = run::plan(adapter.as_ref(), &a.source_dir)?;
        let mine: Vec<_> = units
            .iter()
            .enumerate()
            .filter(|(i, _)| i % world.max(1) == rank)
            .map(|(_, u)| serde_json::json!({"id": u.id, "inputs": u.inputs, "bytes": u.bytes}))
            .collect();
        super::print_json(
            &serde_json::json!({"source": entry.id, "adapter": entry.adapter,
                "rank": rank, "world_size": world, "units": mine}),
            a.json,
        )?;
        return Ok(0);
    }
    let pseudonymizer = key(a.key_file.as_deref(), a.allow_unkeyed)?;
    if !pseudonymizer.is_keyed() {
        eprintln!(
            "bomdata: warning: --allow-unkeyed: pseudonyms use a public key (open data only)"
        );
    }
    let opts = RunOptions {
        root: a.source_dir.clone(),
        out: a.out.clone(),
        state: a
            .state_dir
            .clone()
            .unwrap_or_else(|| run::private_dir(&a.out)),
        entry: entry.clone(),
        jobs: a.jobs,
        rank,
        world,
        pseudonymizer: pseudonymizer.clone(),
        keep_identity: a.keep_identity,
        keep_free_text: a.keep_free_text,
        allow_terms: match &a.allow_terms {
            Some(p) => bomdata_ingest::privacy::read_terms(p)?,
            None => Vec::new(),
        },
        chunk_seconds: a.chunk_seconds,
        allow_burned_in: a.allow_burned_in,
        float16: a.float16,
        writer: WriterOptions {
            max_bytes: a.max_shard_bytes,
            max_samples: a.max_shard_samples,
            compression: compression(&a.compress, a.zstd_level)?,
            ..WriterOptions::default()
        },
        overwrite: a.overwrite,
        transform: match &a.profile {
            Some(_) if a.tok.tokens.is_some() => bail!("--tokens replaces --profile: drop one"),
            Some(name) => Some(super::ingest_profile::transform(
                name,
                &super::shard::parse_params(&a.params)?,
            )?),
            None if !a.params.is_empty() && a.tok.tokens.is_none() => {
                bail!("--param needs --profile or --tokens")
            }
            None => super::ingest_tokens::transform(
                &entry.adapter,
                &a.tok,
                &a.params,
                a.seed,
                &a.split,
            )?,
        },
    };
    std::fs::create_dir_all(&a.out).with_context(|| format!("creating {}", a.out.display()))?;
    if let Some(path) = &a.write_mapping {
        write_mapping(path, adapter.as_ref(), &opts)?;
    }
    let progress = Progress::new(a.json);
    let observer = super::ranks::Faulty::new(&progress, rank);
    let committer = crate::remote::unit_committer(a.publish_to.as_deref())?;
    let publisher = committer.as_deref().map(|c| c.as_publisher());
    let summary = run::run_with(&opts, adapter.as_ref(), &observer, publisher)?;
    progress.finish();
    if let Some(c) = &committer {
        c.report();
    }
    report_summary(a, &entry, rank, world, &summary);
    if let Some(why) = summary.empty_reason(&opts, &entry.adapter) {
        eprintln!("bomdata: error: nothing ingested: {why}");
        return Ok(1);
    }
    report_skips(a.json, &summary.skip_counts(&opts));
    let any_failed = !summary.failed.is_empty()
        || summary
            .manifest
            .as_ref()
            .is_some_and(|m| m.counts.failed_units > 0);
    Ok(if any_failed { 1 } else { 0 })
}

/// The registry entry named by `--source`, or the one detected from the tree's layout
/// (reported on stderr with its evidence).
fn resolve_entry(a: &Args, registry: &Registry) -> anyhow::Result<Entry> {
    Ok(match &a.source {
        Some(id) => registry
            .get(id)
            .with_context(|| format!("no source {id:?} in the registry (see `bomdata sources`)"))?
            .clone(),
        None => {
            let found = registry.detect(&a.source_dir)?;
            let Some(best) = found.first() else {
                bail!(
                    "{}: no registry layout matches this tree; give --source (see `bomdata sources`)",
                    a.source_dir.display()
                );
            };
            let rules: Vec<String> = best
                .evidence
                .iter()
                .map(|(g, p)| format!("{g} matched {}", p.display()))
                .collect();
            eprintln!(
                "bomdata: detected source {} ({})",
                best.source,
                rules.join("; ")
            );
            if found.len() > 1 {
                let others: Vec<&str> = found[1..].iter().map(|d| d.source.as_str()).collect();
                eprintln!(
                    "bomdata: also matching: {} (use --source to choose)",
                    others.join(", ")
                );
            }
            registry
                .get(&best.source)
                .context("detected source vanished from the registry")?
                .clone()
        }
    })
}

/// Prints the end-of-run summary on stderr: one JSON event with `--json`, else one line.
fn report_summary(a: &Args, entry: &Entry, rank: usize, world: usize, summary: &run::Summary) {
    let msg = serde_json::json!({
        "event": "summary",
        "source": entry.id,
        "rank": rank,
        "world_size": world,
        "units_planned": summary.planned,
        "units_mine": summary.mine,
        "already_done": summary.already_done,
        "converted": summary.converted,
        "failed": summary.failed.len(),
        "complete": summary.manifest.is_some(),
        "samples": summary.manifest.as_ref().map(|m| m.counts.samples),
        "table_rows": summary.manifest.as_ref().map(|m| m.tables.iter().filter(|t| t.name.starts_with(bomdata_ingest::tables::TABLES)).map(|t| t.rows).sum::<u64>()),
    });
    if a.json {
        eprintln!("{msg}");
    } else {
        eprintln!(
            "bomdata: {} units of {} ({} converted, {} already done, {} failed){}",
            summary.mine,
            summary.planned,
            summary.converted,
            summary.already_done,
            summary.failed.len(),
            match &summary.manifest {
                Some(m) => format!(
                    "; dataset complete: {} samples in {} shards{}, {}",
                    m.counts.samples,
                    m.counts.shards,
                    table_rows(m),
                    a.out.join("manifest.json").display()
                ),
                None => "; waiting for other ranks (run `bomdata merge` when all are done)".into(),
            }
        );
    }
}

/// Says how many inputs were skipped and why, when some were: one line, or one JSON event.
fn report_skips(json: bool, skipped: &[(String, u64)]) {
    if skipped.is_empty() {
        return;
    }
    let n: u64 = skipped.iter().map(|(_, n)| n).sum();
    if json {
        let by: Vec<_> = skipped
            .iter()
            .map(|(r, n)| serde_json::json!({"reason": r, "count": n}))
            .collect();
        eprintln!(
            "{}",
            serde_json::json!({"event": "skipped", "inputs": n, "by_reason": by})
        );
    } else {
        eprintln!(
            "bomdata: {n} inputs skipped: {}",
            bomdata_schemas::report::summary_line(skipped)
        );
    }
}

/// `", N table rows in P parts"` when the dataset has table parts, else empty.
fn table_rows(m: &bomdata_schemas::manifest::Manifest) -> String {
    let parts: Vec<_> = m
        .tables
        .iter()
        .filter(|t| t.name.starts_with(bomdata_ingest::tables::TABLES))
        .collect();
    if parts.is_empty() {
        return String::new();
    }
    let rows: u64 = parts.iter().map(|t| t.rows).sum();
    format!(", {rows} table rows in {} parts", parts.len())
}

fn write_mapping(
    path: &Path,
    adapter: &dyn bomdata_ingest::Source,
    opts: &RunOptions,
) -> anyhow::Result<()> {
    let units = run::plan(adapter, &opts.root)?;
    let mut seen = std::collections::BTreeMap::new();
    for (i, u) in units.iter().enumerate() {
        if i % opts.world != opts.rank {
            continue;
        }
        if let Some(s) = &u.subject {
            seen.entry(s.clone())
                .or_insert_with(|| opts.pseudonymizer.pseudonym(opts.entry.namespace(), s));
        }
    }
    let mut text = String::from("source,original_id,pseudonym\n");
    for (orig, p) in seen {
        text.push_str(&format!("{},{},{}\n", opts.entry.id, csv_field(&orig), p));
    }
    std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}
