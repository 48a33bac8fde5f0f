//! `bomdata shard`: canonical dataset in, model-ready training shards out.
//!
//! Steps, all deterministic in (input, profile, options):
//! 1. list every canonical sample from the shard indexes, with its pseudonymous subject;
//! 2. assign each subject to train/valid/test by a keyed hash of the seed and the subject, so
//!    all of a subject's samples, of every modality, share one split — except a sample that
//!    declares its own split (`split` in its `meta.json`, as DNA windows of held-out
//!    chromosomes or Basenji-style intervals do): the declared split wins, so a held-out
//!    region never reaches `train`;
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
use crate::tables::transform::TablesProfile;
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

/// Steps 1 and 2: lists every canonical sample and assigns it to the split it declares, else
/// to the split of its subject (a sample without one is its own subject). Samples of a modality
/// that the input's tables carry (`tables/<modality>/`) are left out: their rows reach the
/// training output as table rows ([`crate::tables`]), once (their subjects keep their split).
pub(crate) fn plan(input: &Path, seed: u64, fractions: &[f64; 3]) -> Result<Planned> {
    let manifest = dataset::read_manifest(input)?;
    let tabled = crate::tables::tabled_modalities(&manifest);
    let mut by_split: BTreeMap<&'static str, Vec<Located>> = BTreeMap::new();
    let mut subject_split: BTreeMap<String, &'static str> = BTreeMap::new();
    for e in &manifest.shards {
        let idx = dataset::read_index(input, e)?;
        let mut metas = MetaReader::new(input.join(SHARDS).join(&e.name), e.compression.is_some());
        for s in idx.samples {
            let subject = s.subject.clone().unwrap_or_else(|| s.key.clone());
            let subject_split = *subject_split
                .entry(subject.clone())
                .or_insert_with(|| split_of(seed, &subject, fractions));
            let loc = Located {
                shard: metas.path.clone(),
                compressed: metas.compressed,
                entry: s,
            };
            let declared = metas.declared(&loc)?;
            if declared.modality.is_some_and(|m| tabled.contains(&m)) {
                continue;
            }
            let split = declared.split.unwrap_or(subject_split);
            by_split.entry(split).or_default().push(loc);
        }
    }
    Ok(Planned {
        manifest,
        by_split,
        subject_split,
    })
}

/// The largest `meta.json` read to find a declared split.
const META_LIMIT: u64 = 16 << 20;

/// The fields of a sample's `meta.json` that the plan reads.
#[derive(serde::Deserialize)]
struct Declared {
    /// The sample's own split, when it has one (DNA windows).
    #[serde(default)]
    split: Option<String>,
    /// The sample's modality (`methylation`, ...), when it names one.
    #[serde(default)]
    modality: serde_json::Value,
}

/// What a sample's `meta.json` declares: its split and modality.
struct DeclaredMeta {
    split: Option<&'static str>,
    modality: Option<String>,
}

/// Reads the `meta.json` members of one input shard (plain shards: by offset, the file opened
/// once; whole-shard zstd: the sample is loaded).
struct MetaReader {
    path: PathBuf,
    compressed: bool,
    file: Option<std::fs::File>,
}

impl MetaReader {
    fn new(path: PathBuf, compressed: bool) -> Self {
        MetaReader {
            path,
            compressed,
            file: None,
        }
    }

    /// The bytes of the sample's `meta.json` (decoded when stored as `meta.json.zst`), if any.
    fn meta_bytes(&mut self, loc: &Located) -> Result<Option<Vec<u8>>> {
        let key = &loc.entry.key;
        let Some(m) = loc
            .entry
            .members
            .iter()
            .find(|m| m.name == "meta.json" || m.name == "meta.json.zst")
        else {
            return Ok(None);
        };
        if m.size > META_LIMIT {
            return Err(Error::MetaTooLarge {
                key: key.clone(),
                size: m.size,
                limit: META_LIMIT,
            });
        }
        if self.compressed {
            let sample = load(loc)?;
            return Ok(sample.member("meta.json").map(|x| x.data.clone()));
        }
        if self.file.is_none() {
            let f = std::fs::File::open(&self.path).map_err(|e| Error::io(&self.path, e))?;
            self.file = Some(f);
        }
        let Some(f) = self.file.as_mut() else {
            return Ok(None);
        };
        use std::io::{Read, Seek, SeekFrom};
        let mut buf = Vec::new();
        f.seek(SeekFrom::Start(m.offset))
            .and_then(|_| f.by_ref().take(m.size).read_to_end(&mut buf))
            .map_err(|e| Error::io(&self.path, e))?;
        if m.name.ends_with(".zst") {
            buf = zstd::stream::decode_all(buf.as_slice()).map_err(|e| Error::io(&self.path, e))?;
        }
        Ok(Some(buf))
    }

    /// The split (empty: none) and modality the sample declares in its `meta.json`, if any.
    fn declared(&mut self, loc: &Located) -> Result<DeclaredMeta> {
        let none = DeclaredMeta {
            split: None,
            modality: None,
        };
        let Some(bytes) = self.meta_bytes(loc)? else {
            return Ok(none);
        };
        // Metadata that does not parse declares nothing (the profile judges the sample).
        let Ok(d) = serde_json::from_slice::<Declared>(&bytes) else {
            return Ok(none);
        };
        let modality = d.modality.as_str().map(str::to_string);
        match d.split.as_deref() {
            None | Some("") => Ok(DeclaredMeta { modality, ..none }),
            Some(label) => match SPLITS.iter().find(|s| **s == label) {
                Some(s) => Ok(DeclaredMeta {
                    split: Some(*s),
                    modality,
                }),
                None => Err(Error::DeclaredSplit {
                    key: loc.entry.key.clone(),
                    split: label.to_string(),
                }),
            },
        }
    }
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
    build_observed(input, out, profile, opts, &crate::progress::Silent)
}

/// [`build`], reporting its progress to `obs`.
pub fn build_observed(
    input: &Path,
    out: &Path,
    profile: &dyn Profile,
    opts: &BuildOptions,
    obs: &dyn crate::progress::BuildObserver,
) -> Result<Manifest> {
    let Planned {
        manifest,
        mut by_split,
        subject_split,
    } = plan(input, opts.seed, &opts.fractions)?;
    let located = by_split.values().flatten();
    obs.planned(
        located.clone().count() as u64,
        located.map(|l| l.entry.size).sum(),
    );
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
            for (r, loc) in results.into_iter().zip(chunk) {
                let (key, applied) = r?;
                obs.sample_done(
                    loc.entry.size,
                    applied.samples.len() as u64,
                    applied.rejected.len() as u64,
                );
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
                    samples_out += 1;
                    // Written: large member buffers serve the next samples read.
                    bomdata_shard::buffers::give_sample(s);
                }
            }
        }
        shards.extend(writer.finish()?);
    }
    finish(
        input,
        out,
        &Planned {
            manifest,
            by_split,
            subject_split,
        },
        profile,
        opts,
        Written {
            shards,
            report,
            samples: samples_out,
        },
    )
}

/// What step 4 wrote: the shards in order, the rejections and the number of samples.
pub(crate) struct Written {
    pub(crate) shards: Vec<bomdata_schemas::manifest::ShardEntry>,
    pub(crate) report: Vec<ReportEntry>,
    pub(crate) samples: u64,
}

/// After the shards: `subjects.parquet`, `report.jsonl` and the manifest (shared by [`build`]
/// and the merge of a distributed build, [`crate::distributed::merge`]).
pub(crate) fn finish(
    input: &Path,
    out: &Path,
    planned: &Planned,
    profile: &dyn Profile,
    opts: &BuildOptions,
    written: Written,
) -> Result<Manifest> {
    let Planned {
        manifest,
        subject_split,
        ..
    } = planned;
    let Written {
        mut shards,
        report,
        samples: mut samples_out,
    } = written;
    // Tables (omics, clinical) by the same subject split, then the subjects table.
    let split = |s: &str| split_of(opts.seed, s, &opts.fractions);
    let split = |s: &str| subject_split.get(s).copied().unwrap_or_else(|| split(s));
    let transforms = TablesProfile::transforms_of(profile.name(), &profile.params());
    let carried = crate::tables::carry(input, out, manifest, &split, opts, &transforms)?;
    shards.extend(carried.shards);
    samples_out += carried.samples;
    let mut tables = write_subjects(input, out, subject_split, opts.seed, &opts.fractions)?;
    tables.extend(carried.tables);
    write_report(out, &report)?;
    let mut subjects: BTreeSet<&String> = subject_split.keys().collect();
    subjects.extend(&carried.subjects);
    let mut params = profile.params();
    if let serde_json::Value::Object(m) = &mut params {
        m.insert("seed".into(), opts.seed.into());
        m.insert("split_fractions".into(), serde_json::json!(opts.fractions));
        if let Some(t) = carried.record {
            m.insert("tables".into(), t);
        }
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
    // Grown as the bytes arrive: the index's size is not trusted for an allocation.
    let mut buf = Vec::new();
    std::io::Read::read_to_end(&mut std::io::Read::take(&mut d, loc.entry.size), &mut buf)
        .map_err(|e| Error::io(&loc.shard, e))?;
    if buf.len() as u64 != loc.entry.size {
        let e = std::io::Error::from(std::io::ErrorKind::UnexpectedEof);
        return Err(Error::io(&loc.shard, e));
    }
    Ok(reader::sample_from_slice(&loc.shard, &loc.entry, &buf)?)
}
