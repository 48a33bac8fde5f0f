//! A `shard` build shared by several processes (the tasks of a Slurm array, say), then merged
//! into exactly the bytes one process writes.
//!
//! Every rank computes the same plan from the canonical dataset ([`crate::build`] steps 1–3:
//! splits, seeded order). The planned samples, split after split, form one sequence that is cut
//! into `world` contiguous blocks of (nearly) equal length; rank `R` applies the profile to block
//! `R` only and writes its outputs, in plan order, as one plain *part* per split under
//! `OUT/.ingest/shard/rank-R/`, then commits the rank by writing `rank-R/done.json` (the parts'
//! entries and the rank's rejections) last. The output shards themselves roll over by output
//! bytes and sample counts, which only exist once the profile has run, so no rank can know
//! where a shard starts; [`merge`] (`bomdata merge OUT`) therefore streams the parts, split by
//! split and rank by rank, through the same [`ShardWriter`] a one-process build uses — the
//! same samples in the same order, hence byte-identical shards, indexes, `subjects.parquet`,
//! `report.jsonl` and manifest — and removes the parts. The profile's work (decoding,
//! resampling, filtering) is what the ranks share; the merge only copies bytes.
//!
//! The ranks share the output folder's lock ([`bomdata_shard::lock::RunLock::rank`]); a rank
//! that failed or was killed is simply run again (its earlier part is discarded first), and
//! the merge refuses, naming the ranks to rerun, until every rank has committed. The options
//! of the run (input, profile, parameters, seed, split, shard limits, world size) are recorded
//! by the first rank in `OUT/.ingest/shard/run.json`; a rank started with other options is
//! refused.

use std::path::{Path, PathBuf};

use bomdata_schemas::manifest::{Manifest, ShardEntry};
use bomdata_schemas::report::{Outcome, ReportEntry};
use bomdata_shard::dataset;
use bomdata_shard::reader::ShardReader;
use bomdata_shard::writer::{Compression, ShardWriter, WriterOptions};
use rayon::prelude::*;

use crate::build::{self, BuildOptions, Located, SPLITS};
use crate::profile::{Params, Profile};
use crate::{Error, Result};

/// Folder of a distributed shard run's state, under the output folder's `.ingest`.
pub const RUN_DIR: &str = "shard";
/// The run record written by the first rank.
pub const RUN_FILE: &str = "run.json";
/// The commit record of one rank.
pub const DONE_FILE: &str = "done.json";

/// The options every rank of one run must share.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RunRecord {
    /// `bomdata <version>`.
    pub tool: String,
    /// The canonical dataset (absolute when it could be resolved).
    pub input: PathBuf,
    /// Checksum of the input's `manifest.json`.
    pub input_manifest: String,
    /// Profile name.
    pub profile: String,
    /// Profile parameters as given.
    pub params: Params,
    /// Shard name prefix.
    pub name: String,
    /// Seed of the split and the shuffle.
    pub seed: u64,
    /// Split fractions.
    pub fractions: [f64; 3],
    /// `--max-shard-bytes`.
    pub max_bytes: u64,
    /// `--max-shard-samples`.
    pub max_samples: u64,
    /// Compression of the output shards.
    pub compression: Compression,
    /// Number of ranks.
    pub world: usize,
}

/// What one rank committed.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
struct RankDone {
    rank: usize,
    world: usize,
    /// Per split (in [`SPLITS`] order, only the splits this rank has samples of): the part's
    /// shard entries and the rejections, in plan order.
    parts: Vec<SplitPart>,
}

#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
struct SplitPart {
    split: String,
    shards: Vec<ShardEntry>,
    report: Vec<ReportEntry>,
}

/// What [`run_rank`] did.
#[derive(Clone, Debug)]
pub struct RankSummary {
    /// Input samples this rank applied the profile to.
    pub inputs: u64,
    /// Output samples it wrote.
    pub samples: u64,
    /// Samples the profile rejected.
    pub rejected: u64,
    /// Input samples of the whole plan.
    pub planned: u64,
}

fn run_dir(out: &Path) -> PathBuf {
    out.join(bomdata_shard::lock::STATE_DIR).join(RUN_DIR)
}

fn rank_dir(out: &Path, rank: usize) -> PathBuf {
    run_dir(out).join(format!("rank-{rank}"))
}

/// Whether `out` holds (the state of) a distributed shard run.
pub fn is_run(out: &Path) -> bool {
    run_dir(out).join(RUN_FILE).is_file()
}

/// The record of the run of `input` with `opts` over `world` ranks.
pub fn record(
    input: &Path,
    profile: &dyn Profile,
    params: &Params,
    opts: &BuildOptions,
    world: usize,
) -> Result<RunRecord> {
    let manifest_path = input.join(dataset::MANIFEST);
    Ok(RunRecord {
        tool: format!("bomdata {}", env!("CARGO_PKG_VERSION")),
        input: std::fs::canonicalize(input).unwrap_or_else(|_| input.to_path_buf()),
        input_manifest: dataset::checksum_file(&manifest_path)?,
        profile: profile.name().to_string(),
        params: params.clone(),
        name: opts.name.clone(),
        seed: opts.seed,
        fractions: opts.fractions,
        max_bytes: opts.writer.max_bytes,
        max_samples: opts.writer.max_samples,
        compression: opts.writer.compression,
        world,
    })
}

/// Records the run (first rank) or checks that it is the run already recorded (other ranks).
fn check_and_record(out: &Path, rec: &RunRecord, rank: usize) -> Result<()> {
    let dir = run_dir(out);
    std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
    let path = dir.join(RUN_FILE);
    if !path.is_file() {
        // Written under a name of this process, then linked into place: of ranks starting
        // together exactly one link succeeds, and every other rank compares with it.
        let tmp = dataset::temp_path(&path);
        let mut data = serde_json::to_vec_pretty(rec).map_err(|source| Error::Encode {
            what: "the distributed run record",
            source,
        })?;
        data.push(b'\n');
        std::fs::write(&tmp, &data).map_err(|e| Error::io(&tmp, e))?;
        let linked = std::fs::hard_link(&tmp, &path);
        let _ = std::fs::remove_file(&tmp);
        match linked {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(Error::io(&path, e)),
        }
    }
    let found: RunRecord = dataset::read_json(&path)?;
    if &found != rec {
        return Err(Error::RunMismatch { path, rank });
    }
    Ok(())
}

/// Refuses an output folder holding anything but this run's state (the merged output included:
/// a finished run is not rerun into).
fn check_output(out: &Path) -> Result<()> {
    let rd = match std::fs::read_dir(out) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(Error::io(out, e)),
    };
    let mut others: Vec<String> = rd
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n != bomdata_shard::lock::STATE_DIR)
        .collect();
    if others.is_empty() {
        return Ok(());
    }
    others.sort();
    Err(Error::OutputInUse {
        path: out.to_path_buf(),
        entries: others,
    })
}

/// The input samples of rank `rank`: `(split, first, end)` ranges of each split's ordered list.
fn block(lens: &[usize], rank: usize, world: usize) -> Vec<(usize, usize, usize)> {
    let total: usize = lens.iter().sum();
    let (lo, hi) = (total * rank / world, total * (rank + 1) / world);
    let mut out = Vec::new();
    let mut start = 0;
    for (i, &n) in lens.iter().enumerate() {
        let (a, b) = (lo.max(start), hi.min(start + n));
        if a < b {
            out.push((i, a - start, b - start));
        }
        start += n;
    }
    out
}

/// The ordered plan: each split's samples in the order a one-process build writes them.
fn ordered(input: &Path, opts: &BuildOptions) -> Result<(build::Planned, Vec<Vec<Located>>)> {
    let mut planned = build::plan(input, opts.seed, &opts.fractions)?;
    let mut lists = Vec::with_capacity(SPLITS.len());
    for split in SPLITS {
        let mut list = planned.by_split.remove(split).unwrap_or_default();
        build::order(&mut list, opts.seed, split);
        lists.push(list);
    }
    Ok((planned, lists))
}

/// Runs rank `rank` of `world`: applies `profile` to this rank's block of the plan and commits
/// its parts. `progress` is called with the input samples done after each batch. The caller
/// holds the rank's lock ([`bomdata_shard::lock::RunLock::rank`]).
pub fn run_rank(
    input: &Path,
    out: &Path,
    profile: &dyn Profile,
    params: &Params,
    opts: &BuildOptions,
    (rank, world): (usize, usize),
    progress: &dyn Fn(u64),
) -> Result<RankSummary> {
    if world == 0 || rank >= world {
        return Err(Error::RankRange { rank, world });
    }
    check_output(out)?;
    let rec = record(input, profile, params, opts, world)?;
    check_and_record(out, &rec, rank)?;
    let dir = rank_dir(out, rank);
    if dir.exists() {
        // A rank run before (failed, killed, or finished): its part is written anew.
        std::fs::remove_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
    }
    std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
    let (_, lists) = ordered(input, opts)?;
    let lens: Vec<usize> = lists.iter().map(Vec::len).collect();
    let mut summary = RankSummary {
        inputs: 0,
        samples: 0,
        rejected: 0,
        planned: lens.iter().sum::<usize>() as u64,
    };
    let pool = build::pool(opts.jobs)?;
    let mut parts = Vec::new();
    for (i, a, b) in block(&lens, rank, world) {
        let part = write_part(
            &dir,
            SPLITS[i],
            &lists[i][a..b],
            profile,
            opts,
            &pool,
            |n| {
                progress(summary.inputs + n);
            },
        )?;
        summary.inputs += (b - a) as u64;
        summary.samples += part.shards.iter().map(|s| s.samples).sum::<u64>();
        summary.rejected += part.report.len() as u64;
        parts.push(part);
    }
    let done = RankDone { rank, world, parts };
    dataset::write_json_atomic(&dir.join(DONE_FILE), &done)?;
    dataset::sync_dir(&dir)?;
    Ok(summary)
}

/// Applies the profile to `list` (in order) and writes the outputs as one plain part.
fn write_part(
    dir: &Path,
    split: &str,
    list: &[Located],
    profile: &dyn Profile,
    opts: &BuildOptions,
    pool: &rayon::ThreadPool,
    progress: impl Fn(u64),
) -> Result<SplitPart> {
    let mut writer = ShardWriter::create(
        dir,
        split,
        WriterOptions {
            max_bytes: u64::MAX / 2,
            max_samples: u64::MAX,
            compression: Compression::None,
            split: Some(split.to_string()),
            durable: true,
            defer_commit: true,
        },
    )?;
    let mut report = Vec::new();
    let batch = (opts.jobs.max(1) * 4).max(8);
    let mut done = 0u64;
    for chunk in list.chunks(batch) {
        let results: Vec<Result<(String, crate::profile::Applied)>> =
            pool.install(|| chunk.par_iter().map(|loc| apply(profile, loc)).collect());
        for r in results {
            let (key, applied) = match r {
                Ok(x) => x,
                Err(e) => {
                    writer.abort();
                    return Err(e);
                }
            };
            for reason in applied.rejected {
                report.push(ReportEntry {
                    outcome: Outcome::Skipped,
                    unit: key.clone(),
                    path: key.clone(),
                    reason: reason.into(),
                });
            }
            for s in applied.samples {
                writer.write(&s)?;
                bomdata_shard::buffers::give_sample(s);
            }
        }
        done += chunk.len() as u64;
        progress(done);
    }
    Ok(SplitPart {
        split: split.to_string(),
        shards: writer.finish()?,
        report,
    })
}

/// The profile applied to one located sample, its outputs carrying the input's subject.
fn apply(profile: &dyn Profile, loc: &Located) -> Result<(String, crate::profile::Applied)> {
    let sample = build::load(loc)?;
    let key = sample.key.clone();
    let subject = sample.subject.clone();
    let mut applied = profile.apply(sample)?;
    for s in &mut applied.samples {
        if s.subject.is_none() {
            s.subject = subject.clone();
        }
    }
    Ok((key, applied))
}

/// The committed ranks of a run, in rank order; the ranks still missing make an error.
fn committed(out: &Path, world: usize) -> Result<Vec<RankDone>> {
    let mut done = Vec::with_capacity(world);
    let mut missing = Vec::new();
    for r in 0..world {
        match dataset::read_json::<RankDone>(&rank_dir(out, r).join(DONE_FILE)) {
            Ok(d) if d.rank == r && d.world == world => done.push(d),
            _ => missing.push(r),
        }
    }
    if !missing.is_empty() {
        return Err(Error::RanksMissing { missing, world });
    }
    Ok(done)
}

/// Merges a finished distributed run in `out` into the training dataset a one-process build
/// writes (see the module documentation) and removes the ranks' parts; the profile is made
/// again from the recorded name and parameters. The caller holds the folder's lock exclusively.
pub fn merge(out: &Path) -> Result<Manifest> {
    if out.join(dataset::MANIFEST).exists() {
        return Err(Error::OutputInUse {
            path: out.to_path_buf(),
            entries: vec![dataset::MANIFEST.to_string()],
        });
    }
    let rec: RunRecord = dataset::read_json(&run_dir(out).join(RUN_FILE))?;
    let done = committed(out, rec.world)?;
    let profile = crate::registry::create(&rec.profile, &rec.params)?;
    let input = rec.input.as_path();
    if dataset::checksum_file(&input.join(dataset::MANIFEST))? != rec.input_manifest {
        return Err(Error::InputChanged {
            path: input.to_path_buf(),
        });
    }
    let opts = BuildOptions {
        name: rec.name.clone(),
        seed: rec.seed,
        fractions: rec.fractions,
        writer: WriterOptions {
            max_bytes: rec.max_bytes,
            max_samples: rec.max_samples,
            compression: rec.compression,
            ..WriterOptions::default()
        },
        jobs: 1,
    };
    let (planned, lists) = ordered(input, &opts)?;
    let mut shards = Vec::new();
    let mut report = Vec::new();
    let mut samples_out = 0u64;
    for (split, list) in SPLITS.iter().zip(&lists) {
        if list.is_empty() {
            continue;
        }
        let mut writer = ShardWriter::create(
            out,
            &format!("{}-{split}", opts.name),
            WriterOptions {
                split: Some((*split).to_string()),
                ..opts.writer.clone()
            },
        )?;
        for d in &done {
            for part in d.parts.iter().filter(|p| p.split == *split) {
                samples_out += copy_part(&rank_dir(out, d.rank), part, &mut writer)?;
                report.extend(part.report.iter().cloned());
            }
        }
        shards.extend(writer.finish()?);
    }
    let m = build::finish(
        input,
        out,
        &planned,
        profile.as_ref(),
        &opts,
        build::Written {
            shards,
            report,
            samples: samples_out,
        },
    )?;
    let dir = run_dir(out);
    std::fs::remove_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
    Ok(m)
}

/// Streams one part's samples into `writer`; returns how many.
fn copy_part(dir: &Path, part: &SplitPart, writer: &mut ShardWriter) -> Result<u64> {
    let mut n = 0;
    for entry in &part.shards {
        let mut reader = ShardReader::open(dir, entry)?.with_raw_members();
        while let Some(s) = reader.read_next()? {
            writer.write(&s)?;
            bomdata_shard::buffers::give_sample(s);
            n += 1;
        }
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::block;

    #[test]
    fn blocks_cover_the_plan_once_in_order() {
        for lens in [vec![0, 0, 0], vec![5, 0, 2], vec![1, 1, 1], vec![17, 3, 4]] {
            for world in 1..6 {
                let mut seen = Vec::new();
                for rank in 0..world {
                    for (i, a, b) in block(&lens, rank, world) {
                        seen.extend((a..b).map(|k| (i, k)));
                    }
                }
                let all: Vec<(usize, usize)> = lens
                    .iter()
                    .enumerate()
                    .flat_map(|(i, &n)| (0..n).map(move |k| (i, k)))
                    .collect();
                assert_eq!(seen, all, "{lens:?} over {world}");
            }
        }
    }
}
