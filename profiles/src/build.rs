//! `bomdata shard`: canonical dataset in, model-ready training shards out.
//!
//! Steps, all deterministic in (input, profile, options):
//! 1. list every canonical sample from the shard indexes, with its pseudonymous subject;
//! 2. assign each subject (never each sample) to train/valid/test by a keyed hash of the seed
//!    and the subject, so all of a subject's samples, of every modality, share one split;
//! 3. shuffle each split's sample list with a seeded permutation;
//! 4. apply the profile to samples in that order (in parallel, output order preserved) and
//!    write `<name>-<split>-NNNNNN.tar` shards with indexes, `subjects.parquet` (with the
//!    split), `report.jsonl` (rejections) and the manifest (profile parameters included).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use bomdata_schemas::manifest::{
    Counts, DatasetKind, IndexSample, Manifest, ProfileRecord, TableEntry,
};
use bomdata_schemas::report::{Outcome, ReportEntry};
use rayon::prelude::*;

use crate::profile::Profile;
use crate::{Error, Result};
use bomdata_shard::Sample;
use bomdata_shard::dataset::{self, SHARDS};
use bomdata_shard::reader;
use bomdata_shard::writer::{ShardWriter, WriterOptions};

/// The three splits, in output order.
pub const SPLITS: [&str; 3] = ["train", "valid", "test"];

/// Options of a shard build.
#[derive(Clone, Debug)]
pub struct BuildOptions {
    /// Name prefix of the output shards.
    pub name: String,
    /// Seed of the split assignment and the shuffle.
    pub seed: u64,
    /// Fractions of subjects in train, valid, test (normalised to sum 1).
    pub fractions: [f64; 3],
    /// Shard limits and compression.
    pub writer: WriterOptions,
    /// Worker threads for the profile.
    pub jobs: usize,
}

impl Default for BuildOptions {
    fn default() -> Self {
        BuildOptions {
            name: "data".into(),
            seed: 0,
            fractions: [0.8, 0.1, 0.1],
            writer: WriterOptions::default(),
            jobs: 1,
        }
    }
}

/// The split of a subject: XXH3-64 of (seed, subject) mapped to [0, 1) and cut by fractions.
pub fn split_of(seed: u64, subject: &str, fractions: &[f64; 3]) -> &'static str {
    let mut key = seed.to_le_bytes().to_vec();
    key.extend_from_slice(subject.as_bytes());
    let u = (xxhash_rust::xxh3::xxh3_64(&key) >> 11) as f64 / (1u64 << 53) as f64;
    let total: f64 = fractions.iter().sum();
    let mut acc = 0.0;
    for (i, f) in fractions.iter().enumerate() {
        acc += f / total;
        if u < acc {
            return SPLITS[i];
        }
    }
    SPLITS[2]
}

/// A seeded Fisher–Yates permutation (SplitMix64 stream), stable across platforms and versions.
pub fn shuffle<T>(items: &mut [T], seed: u64) {
    let mut state = seed ^ 0x5851_F42D_4C95_7F2D;
    let mut next = || {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    };
    for i in (1..items.len()).rev() {
        let j = (next() % (i as u64 + 1)) as usize;
        items.swap(i, j);
    }
}

/// A canonical sample located in its input shard.
pub(crate) struct Located {
    pub(crate) shard: PathBuf,
    pub(crate) compressed: bool,
    pub(crate) entry: IndexSample,
}

/// The samples of a canonical dataset grouped by the split of their subject.
pub(crate) struct Planned {
    /// The input manifest.
    pub(crate) manifest: Manifest,
    /// Samples per split, in index order.
    pub(crate) by_split: BTreeMap<&'static str, Vec<Located>>,
    /// The split of every subject seen.
    pub(crate) subject_split: BTreeMap<String, &'static str>,
}

/// Steps 1 and 2: lists every canonical sample and assigns each subject (a sample without one
/// is its own subject) to a split.
pub(crate) fn plan(input: &Path, seed: u64, fractions: &[f64; 3]) -> Result<Planned> {
    let manifest = dataset::read_manifest(input)?;
    let mut by_split: BTreeMap<&'static str, Vec<Located>> = BTreeMap::new();
    let mut subject_split: BTreeMap<String, &'static str> = BTreeMap::new();
    for e in &manifest.shards {
        let idx = dataset::read_index(input, e)?;
        for s in idx.samples {
            let subject = s.subject.clone().unwrap_or_else(|| s.key.clone());
            let split = *subject_split
                .entry(subject.clone())
                .or_insert_with(|| split_of(seed, &subject, fractions));
            by_split.entry(split).or_default().push(Located {
                shard: input.join(SHARDS).join(&e.name),
                compressed: e.compression.is_some(),
                entry: s,
            });
        }
    }
    Ok(Planned {
        manifest,
        by_split,
        subject_split,
    })
}

/// Step 3: sorts a split's samples by key, then applies the seeded shuffle of that split.
pub(crate) fn order(list: &mut [Located], seed: u64, split: &str) {
    list.sort_by(|a, b| a.entry.key.cmp(&b.entry.key));
    shuffle(list, seed ^ xxhash_rust::xxh3::xxh3_64(split.as_bytes()));
}

/// A worker pool of `jobs` threads (at least one).
pub(crate) fn pool(jobs: usize) -> Result<rayon::ThreadPool> {
    rayon::ThreadPoolBuilder::new()
        .num_threads(jobs.max(1))
        .build()
        .map_err(Error::Pool)
}

/// The subjects table of the input (when it has one), each row with its split, written to `out`.
pub(crate) fn write_subjects(
    input: &Path,
    out: &Path,
    subject_split: &BTreeMap<String, &'static str>,
    seed: u64,
    fractions: &[f64; 3],
) -> Result<Vec<TableEntry>> {
    let mut tables = Vec::new();
    if input.join(dataset::SUBJECTS).is_file() {
        let mut rows = bomdata_shard::subjects::read(input)?;
        for r in &mut rows {
            r.split = subject_split
                .get(&r.subject)
                .copied()
                .unwrap_or_else(|| split_of(seed, &r.subject, fractions))
                .to_string();
        }
        tables.push(bomdata_shard::subjects::write(out, &rows)?);
    }
    Ok(tables)
}

/// Writes `report.jsonl` (one entry a line) atomically.
pub(crate) fn write_report(out: &Path, report: &[ReportEntry]) -> Result<()> {
    let mut lines = Vec::new();
    for r in report {
        serde_json::to_writer(&mut lines, r).map_err(|source| Error::Encode {
            what: "a report entry",
            source,
        })?;
        lines.push(b'\n');
    }
    Ok(dataset::write_atomic(&out.join(dataset::REPORT), &lines)?)
}

/// Builds training shards from a canonical dataset. Returns the written manifest.
pub fn build(
    input: &Path,
    out: &Path,
    profile: &dyn Profile,
    opts: &BuildOptions,
) -> Result<Manifest> {
    let Planned {
        manifest,
        mut by_split,
        subject_split,
    } = plan(input, opts.seed, &opts.fractions)?;
    std::fs::create_dir_all(out).map_err(|e| Error::io(out, e))?;
    let mut shards = Vec::new();
    let mut report = Vec::new();
    let mut samples_out = 0u64;
    let pool = pool(opts.jobs)?;
    for split in SPLITS {
        let Some(mut list) = by_split.remove(split) else {
            continue;
        };
        order(&mut list, opts.seed, split);
        let mut writer = ShardWriter::create(
            out,
            &format!("{}-{split}", opts.name),
            WriterOptions {
                split: Some(split.to_string()),
                ..opts.writer.clone()
            },
        )?;
        // Work in batches so memory stays bounded while the profile runs in parallel.
        let batch = (opts.jobs.max(1) * 4).max(8);
        for chunk in list.chunks(batch) {
            let results: Vec<Result<(String, crate::profile::Applied)>> = pool.install(|| {
                chunk
                    .par_iter()
                    .map(|loc| {
                        let sample = load(loc)?;
                        let key = sample.key.clone();
                        let subject = sample.subject.clone();
                        let mut applied = profile.apply(sample)?;
                        for s in &mut applied.samples {
                            if s.subject.is_none() {
                                s.subject = subject.clone();
                            }
                        }
                        Ok((key, applied))
                    })
                    .collect()
            });
            for r in results {
                let (key, applied) = r?;
                for reason in applied.rejected {
                    report.push(ReportEntry {
                        outcome: Outcome::Skipped,
                        unit: key.clone(),
                        path: key.clone(),
                        reason,
                    });
                }
                for s in applied.samples {
                    writer.write(&s)?;
                    samples_out += 1;
                    // Written: large member buffers serve the next samples read.
                    bomdata_shard::buffers::give_sample(s);
                }
            }
        }
        shards.extend(writer.finish()?);
    }
    // Subjects table: the canonical rows, with their split.
    let tables = write_subjects(input, out, &subject_split, opts.seed, &opts.fractions)?;
    write_report(out, &report)?;
    let subjects: BTreeSet<&String> = subject_split.keys().collect();
    let mut params = profile.params();
    if let serde_json::Value::Object(m) = &mut params {
        m.insert("seed".into(), opts.seed.into());
        m.insert("split_fractions".into(), serde_json::json!(opts.fractions));
    }
    let m = Manifest {
        layout_version: bomdata_schemas::LAYOUT_VERSION.to_string(),
        kind: DatasetKind::Training,
        tool: format!("bomdata {}", env!("CARGO_PKG_VERSION")),
        sources: manifest.sources.clone(),
        profile: Some(ProfileRecord {
            name: profile.name().to_string(),
            params,
        }),
        tokenizer: None,
        counts: Counts {
            samples: samples_out,
            shards: shards.len() as u64,
            bytes: shards.iter().map(|s| s.size).sum(),
            units: manifest.counts.samples,
            failed_units: 0,
            subjects: subjects.len() as u64,
        },
        shards,
        tables,
    };
    dataset::write_manifest(out, &m)?;
    Ok(m)
}

/// Reads one located sample (members decoded).
pub(crate) fn load(loc: &Located) -> Result<Sample> {
    if !loc.compressed {
        return Ok(reader::read_sample_at(&loc.shard, &loc.entry, true)?);
    }
    // Whole-shard zstd: stream to the sample (slow path; canonical data is normally plain).
    let f = std::fs::File::open(&loc.shard).map_err(|e| Error::io(&loc.shard, e))?;
    let mut d = zstd::stream::read::Decoder::new(f).map_err(|e| Error::io(&loc.shard, e))?;
    std::io::copy(
        &mut std::io::Read::take(&mut d, loc.entry.offset),
        &mut std::io::sink(),
    )
    .map_err(|e| Error::io(&loc.shard, e))?;
    let mut buf = vec![0u8; loc.entry.size as usize];
    std::io::Read::read_exact(&mut d, &mut buf).map_err(|e| Error::io(&loc.shard, e))?;
    Ok(reader::sample_from_slice(&loc.shard, &loc.entry, &buf)?)
}
