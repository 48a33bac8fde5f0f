//! The ingest runtime: plan, run units in parallel (skipping finished ones), finalise.
//!
//! The run's private state (which names source paths and original subject IDs) lives in a
//! state folder *outside* the shareable dataset folder — `OUT.private/` beside `OUT` by default
//! ([`private_dir`]), or `--state-dir` — so that a killed run resumes where it stopped and the
//! dataset folder can be copied as it is:
//!
//! ```text
//! STATE/lock                    the run lock (see [`bomdata_shard::lock`]; OUT itself is
//!                               flock-ed too, so two runs with different state folders are
//!                               still refused)
//! STATE/run.json                the run fingerprint (see [`crate::state`])
//! STATE/plan.json               the planned units (IDs, bytes) of the last run
//! STATE/units/<h>.json          one record per finished unit: its shards, subjects, failures
//! STATE/report.jsonl            failures and skips with source paths and unit IDs
//! OUT/report.jsonl              the same entries with pseudonyms: unit `u<h>`, paths and
//!                               reasons scrubbed of subject IDs and session labels
//! OUT/shards/u<h>-NNNNNN.tar     the unit's shards (+ .idx.json), renamed into place only
//!                                when the whole unit succeeded
//! OUT/tables/<modality>/part-u<h>-NNN.parquet   table parts of the unit (same rule), see
//!                                [`crate::tables`]
//! OUT/manifest.json ...          written once every planned unit has a record
//! ```
//!
//! `<h>` is the XXH3-64 of the unit ID, so no file name carries an original subject ID. Because
//! every unit's output depends only on its inputs, the finished dataset is byte-identical
//! whatever the number of jobs, ranks or interruptions. Failed units are recorded and retried
//! by the next run.

use std::collections::BTreeSet;
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};

use bomdata_schemas::manifest::{Counts, DatasetKind, Manifest, ShardEntry, TableEntry};
use bomdata_schemas::report::{Outcome, ReportEntry};
use bomdata_schemas::subjects::SubjectRow;
use bomdata_shard::DatasetDir;
use bomdata_shard::Sample;
use bomdata_shard::dataset;
use bomdata_shard::writer::{ShardWriter, WriterOptions};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::privacy::SessionMap;
use crate::registry::Entry;
use crate::source::{SampleSink, Source, Unit, UnitContext};
use crate::tables::{PartWriter, TablePart};
use crate::{Error, Pseudonymizer, Result};

/// Folder of a shard run's lock inside its output directory (ingest keeps its state outside
/// the dataset folder, see [`private_dir`]).
pub const STATE_DIR: &str = bomdata_shard::lock::STATE_DIR;

/// The default private state folder of the dataset folder `out`: its sibling `OUT.private`.
pub fn private_dir(out: &Path) -> PathBuf {
    let abs = std::path::absolute(out).unwrap_or_else(|_| out.to_path_buf());
    let mut norm = PathBuf::new();
    for c in abs.components() {
        match c {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                norm.pop();
            }
            other => norm.push(other),
        }
    }
    let name = norm
        .file_name()
        .map_or_else(|| "dataset".into(), |n| n.to_string_lossy().into_owned());
    norm.with_file_name(format!("{name}.private"))
}

/// Everything an ingest run needs.
#[derive(Clone, Debug)]
pub struct RunOptions {
    /// The source tree.
    pub root: PathBuf,
    /// The dataset directory to write.
    pub out: PathBuf,
    /// The private state folder (plan, unit records, fingerprint, lock, raw-path report);
    /// [`private_dir`] of `out` by default.
    pub state: PathBuf,
    /// The registry entry of the source.
    pub entry: Entry,
    /// Worker threads.
    pub jobs: usize,
    /// This process's rank among `world` processes sharing the work.
    pub rank: usize,
    /// Number of processes sharing the work.
    pub world: usize,
    /// Keyed hash of subject IDs.
    pub pseudonymizer: Pseudonymizer,
    /// Keep identity header text and original session labels (explicit flag only).
    pub keep_identity: bool,
    /// Keep annotation free text the allow-list would drop (explicit flag only).
    pub keep_free_text: bool,
    /// Extra annotation terms the allow-list keeps (see [`crate::privacy::read_terms`]).
    pub allow_terms: Vec<String>,
    /// Split continuous signals into chunks of at most this many seconds (0 = never).
    pub chunk_seconds: f64,
    /// Store canonical volumes as float16 instead of float32.
    pub float16: bool,
    /// Accept DICOM series with burned-in annotation (explicit flag only).
    pub allow_burned_in: bool,
    /// Shard size limits and compression.
    pub writer: WriterOptions,
    /// Remove an earlier dataset in `out` first (single-process runs only).
    pub overwrite: bool,
    /// A profile run on each sample before it is written (`ingest --profile`, see
    /// [`crate::transform`]); `None` writes canonical samples.
    pub transform: Option<crate::transform::Transform>,
}

/// The saved plan.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    /// Registry entry ID.
    pub source: String,
    /// Adapter name.
    pub adapter: String,
    /// Units in order: (unit hash, unit ID, bytes).
    pub units: Vec<PlannedUnit>,
}

/// One planned unit as saved in `plan.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PlannedUnit {
    /// XXH3-64 of the unit ID, hex; names the unit's files.
    pub hash: String,
    /// Unit ID.
    pub id: String,
    /// Input bytes.
    pub bytes: u64,
}

/// The record of a finished (or failed) unit.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct UnitRecord {
    /// Unit ID.
    pub id: String,
    /// Whether the unit succeeded.
    pub ok: bool,
    /// Samples written.
    pub samples: u64,
    /// Shards written.
    pub shards: Vec<ShardEntry>,
    /// Subject rows.
    pub subjects: Vec<SubjectRow>,
    /// Failures and skipped inputs.
    pub report: Vec<ReportEntry>,
    /// Table parts written (`tables/<modality>/part-*.parquet`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tables: Vec<TableEntry>,
    /// `report` as the shareable dataset's `report.jsonl` shows it (pseudonyms only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub shared_report: Vec<ReportEntry>,
}

/// What happened to one unit in this run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UnitOutcome {
    /// Finished in an earlier run.
    AlreadyDone,
    /// Converted now.
    Done {
        /// Samples written.
        samples: u64,
    },
    /// Failed now, with the reason.
    Failed(String),
}

/// Callbacks for progress display.
pub trait Observer: Sync {
    /// The plan of this rank is known.
    fn planned(&self, _units: &[Unit]) {}
    /// A unit ended.
    fn finished(&self, _unit: &Unit, _outcome: &UnitOutcome) {}
}

/// An observer that shows nothing.
pub struct Quiet;
impl Observer for Quiet {}

/// The result of [`run`].
#[derive(Clone, Debug)]
pub struct Summary {
    /// Units in the whole plan.
    pub planned: usize,
    /// Units of this rank.
    pub mine: usize,
    /// Units of this rank already finished earlier.
    pub already_done: usize,
    /// Units converted now.
    pub converted: usize,
    /// Units of this rank that failed now.
    pub failed: Vec<(String, String)>,
    /// The manifest, when every unit of every rank has a record.
    pub manifest: Option<Manifest>,
}

impl Summary {
    /// Why a finished run wrote nothing, for the caller to fail with (exit 1) rather than report
    /// success: no unit planned under the source tree, or every unit done with 0 samples in the
    /// shards and 0 rows in table parts (with the first failure, or the skipped inputs and their
    /// reasons from the report). `None` while other ranks are still running or when anything
    /// was written.
    pub fn empty_reason(&self, opts: &RunOptions, adapter: &str) -> Option<String> {
        let root = &opts.root;
        let m = self.manifest.as_ref()?;
        if self.planned == 0 {
            return Some(format!(
                "0 units: the {adapter} adapter found no input it takes under {}",
                root.display()
            ));
        }
        let rows: u64 = m
            .tables
            .iter()
            .filter(|t| t.name.starts_with(crate::tables::TABLES))
            .map(|t| t.rows)
            .sum();
        if m.counts.samples > 0 || rows > 0 {
            return None;
        }
        let mut why = Vec::new();
        let skipped = self.skip_counts(opts);
        if !skipped.is_empty() {
            why.push(bomdata_schemas::report::summary_line(&skipped));
        }
        if let Some((id, r)) = self.failed.first() {
            why.push(format!("first failure: {id}: {r}"));
        }
        let why = if why.is_empty() {
            String::new()
        } else {
            format!(": {}", why.join("; "))
        };
        Some(format!(
            "0 samples and 0 table rows from {} units ({} failed){why}",
            m.counts.units, m.counts.failed_units
        ))
    }

    /// The skipped inputs of a finished run counted by reason (see
    /// [`bomdata_schemas::report::summarize`]); empty while other ranks are still running.
    pub fn skip_counts(&self, opts: &RunOptions) -> Vec<(String, u64)> {
        if self.manifest.is_none() {
            return vec![];
        }
        bomdata_schemas::report::summarize(&read_report(&opts.out), Outcome::Skipped)
    }
}

/// The entries of a finished dataset's report (empty when it has none).
fn read_report(out: &Path) -> Vec<ReportEntry> {
    let Ok(text) = std::fs::read_to_string(out.join(dataset::REPORT)) else {
        return vec![];
    };
    text.lines()
        .filter_map(|l| serde_json::from_str::<ReportEntry>(l).ok())
        .collect()
}

/// XXH3-64 of a unit ID, hex.
pub fn unit_hash(id: &str) -> String {
    format!("{:016x}", xxhash_rust::xxh3::xxh3_64(id.as_bytes()))
}

fn record_path(state: &Path, hash: &str) -> PathBuf {
    state.join("units").join(format!("{hash}.json"))
}

/// Plans the units of a source tree (sorted by ID, IDs checked unique).
pub fn plan(source: &dyn Source, root: &Path) -> Result<Vec<Unit>> {
    let mut units = source.plan(root)?;
    units.sort_by(|a, b| a.id.cmp(&b.id));
    for w in units.windows(2) {
        if w[0].id == w[1].id {
            return Err(Error::Other(format!(
                "adapter {} planned unit {} twice",
                source.name(),
                w[0].id
            )));
        }
    }
    Ok(units)
}

/// Runs (or resumes) an ingest.
pub fn run(opts: &RunOptions, source: &dyn Source, observer: &dyn Observer) -> Result<Summary> {
    run_with(opts, source, observer, None)
}

/// [`run`], each finished unit handed to `publisher` as soon as its files are complete (see
/// [`crate::publish`]).
pub fn run_with(
    opts: &RunOptions,
    source: &dyn Source,
    observer: &dyn Observer,
    publisher: Option<&dyn crate::publish::UnitPublisher>,
) -> Result<Summary> {
    if opts.world == 0 || opts.rank >= opts.world {
        return Err(Error::Other(format!(
            "rank {} is not below world size {}",
            opts.rank, opts.world
        )));
    }
    if opts.overwrite && opts.world > 1 {
        return Err(Error::Other(
            "--overwrite cannot be used with several ranks: clear the folder before starting them"
                .into(),
        ));
    }
    let _lock = bomdata_shard::lock::RunLock::rank_in(
        &opts.state,
        &opts.out,
        "ingest",
        opts.rank,
        opts.world,
    )?;
    if opts.overwrite {
        crate::state::overwrite(&opts.out, &opts.state)?;
    }
    crate::state::check_and_record(
        &opts.out,
        &opts.state,
        &crate::state::Fingerprint::of(opts, source.name()),
        opts.world <= 1,
    )?;
    let units = plan(source, &opts.root)?;
    let sessions = if opts.keep_identity {
        SessionMap::default()
    } else {
        SessionMap::of(&units, source.free_session_labels())
    };
    let units_dir = opts.state.join("units");
    std::fs::create_dir_all(&units_dir).map_err(|e| Error::io(&units_dir, e))?;
    let saved = Plan {
        source: opts.entry.id.clone(),
        adapter: source.name().to_string(),
        units: units
            .iter()
            .map(|u| PlannedUnit {
                hash: unit_hash(&u.id),
                id: u.id.clone(),
                bytes: u.bytes,
            })
            .collect(),
    };
    let plan_path = opts.state.join("plan.json");
    // Written once: the ranks of one run plan the same units, so a rank that finds the plan
    // already there leaves it alone (a changed tree is planned anew).
    if dataset::read_json::<Plan>(&plan_path).ok().as_ref() != Some(&saved) {
        dataset::write_json_atomic(&plan_path, &saved)?;
    }

    if let Some(t) = &opts.transform {
        if let Some(check) = t.0.input_check() {
            crate::precheck::run(opts, source, &units, check)?;
        }
        t.0.write_files(&opts.out)?;
    }
    let mine: Vec<&Unit> = units
        .iter()
        .enumerate()
        .filter(|(i, _)| i % opts.world == opts.rank)
        .map(|(_, u)| u)
        .collect();
    observer.planned(&mine.iter().map(|u| (*u).clone()).collect::<Vec<_>>());

    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(opts.jobs.max(1))
        .build()
        .map_err(|e| Error::Other(e.to_string()))?;
    let outcomes: Vec<(String, UnitOutcome)> = pool.install(|| {
        mine.par_iter()
            .map(|u| {
                let outcome = run_unit(opts, source, u, &sessions, publisher);
                observer.finished(u, &outcome);
                (u.id.clone(), outcome)
            })
            .collect()
    });
    let mut summary = Summary {
        planned: units.len(),
        mine: mine.len(),
        already_done: 0,
        converted: 0,
        failed: Vec::new(),
        manifest: None,
    };
    for (id, o) in outcomes {
        match o {
            UnitOutcome::AlreadyDone => summary.already_done += 1,
            UnitOutcome::Done { .. } => summary.converted += 1,
            UnitOutcome::Failed(r) => summary.failed.push((id, r)),
        }
    }
    summary.manifest = finalize_run(&opts.out, &opts.state, opts.world <= 1)?;
    Ok(summary)
}

/// The context of one unit: the run's options, and the session rename of the unit.
pub(crate) fn unit_context<'a>(
    opts: &'a RunOptions,
    session_rename: Option<(&'a str, &'a str)>,
) -> UnitContext<'a> {
    UnitContext {
        root: &opts.root,
        source: &opts.entry.id,
        subject_namespace: opts.entry.namespace(),
        pseudonymizer: &opts.pseudonymizer,
        keep_identity: opts.keep_identity,
        chunk_seconds: opts.chunk_seconds,
        float16: opts.float16,
        allow_burned_in: opts.allow_burned_in,
        keep_free_text: opts.keep_free_text,
        allow_terms: &opts.allow_terms,
        session_rename,
    }
}

fn run_unit(
    opts: &RunOptions,
    source: &dyn Source,
    unit: &Unit,
    sessions: &SessionMap,
    publisher: Option<&dyn crate::publish::UnitPublisher>,
) -> UnitOutcome {
    let hash = unit_hash(&unit.id);
    let rec_path = record_path(&opts.state, &hash);
    if let Ok(rec) = dataset::read_json::<UnitRecord>(&rec_path)
        && rec.ok
        && rec.id == unit.id
        && match publisher {
            None => outputs_present(&opts.out, &rec),
            Some(p) => p.published(&crate::publish::UnitFiles::of(
                &hash,
                &rec.shards,
                &rec.tables,
            )),
        }
    {
        return UnitOutcome::AlreadyDone;
    }
    // The unit as the adapter sees it: its session label replaced by the ordinal.
    let rename = unit
        .session
        .as_deref()
        .and_then(|s| Some((s, sessions.get(unit.subject.as_deref(), s)?)));
    let renamed = match rename {
        Some((_, ordinal)) => Unit {
            session: Some(ordinal.to_string()),
            ..unit.clone()
        },
        None => unit.clone(),
    };
    let ctx = unit_context(opts, rename);
    let mut record = match std::panic::catch_unwind(AssertUnwindSafe(|| {
        convert_unit(opts, &ctx, source, &renamed, &hash)
    })) {
        Ok(Ok(rec)) => rec,
        Ok(Err(e)) => failed_record(unit, crate::error::chain(&e)),
        Err(p) => {
            let msg = p
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "unknown panic".into());
            failed_record(unit, format!("internal error (panic): {msg}"))
        }
    };
    record.shared_report = record
        .report
        .iter()
        .map(|e| shared_entry(&ctx, unit, &hash, e))
        .collect();
    let outcome = if record.ok {
        UnitOutcome::Done {
            samples: record.samples,
        }
    } else {
        UnitOutcome::Failed(
            record
                .report
                .first()
                .map(|r| r.reason.clone())
                .unwrap_or_default(),
        )
    };
    if record.ok
        && let Some(p) = publisher
    {
        let files = crate::publish::UnitFiles::of(&hash, &record.shards, &record.tables);
        if let Err(e) = p.publish(&opts.out, &files) {
            return UnitOutcome::Failed(format!("publishing the unit: {e}"));
        }
    }
    if let Err(e) = dataset::write_json_atomic(&rec_path, &record) {
        return UnitOutcome::Failed(format!("cannot record unit: {}", crate::error::chain(&e)));
    }
    outcome
}

/// Whether the files a unit record names are on disk with the sizes and checksums it records:
/// a finished unit is trusted on resume only when its bytes are the ones it wrote.
fn outputs_present(out: &Path, rec: &UnitRecord) -> bool {
    let same = |p: PathBuf, size: Option<u64>, sum: Option<&str>| {
        std::fs::metadata(&p).is_ok_and(|m| m.is_file() && size.is_none_or(|s| s == m.len()))
            && sum.is_none_or(|c| dataset::checksum_file(&p).is_ok_and(|h| h == c))
    };
    rec.shards.iter().all(|s| {
        same(dataset::shard_path(out, s), Some(s.size), Some(&s.checksum))
            && same(
                DatasetDir::new(out).index_path(s),
                None,
                s.index_checksum.as_deref(),
            )
    }) && rec
        .tables
        .iter()
        .all(|t| same(out.join(&t.name), None, Some(&t.checksum)))
}

/// A report entry as the shareable dataset shows it: the unit named by its hash, the source
/// root left out, subject IDs and session labels replaced (all kept with `--keep-identity`).
fn shared_entry(ctx: &UnitContext<'_>, unit: &Unit, hash: &str, e: &ReportEntry) -> ReportEntry {
    if ctx.keep_identity {
        return e.clone();
    }
    let root = ctx.root.display().to_string();
    let subject = unit.subject.as_deref().unwrap_or("");
    let scrub = |s: &str| {
        let s = if root.is_empty() {
            s.to_string()
        } else {
            s.replace(&format!("{root}/"), "").replace(&root, "")
        };
        crate::privacy::scrub_dates(&ctx.scrub_path(&s, subject))
    };
    ReportEntry {
        outcome: e.outcome,
        unit: format!("u{hash}"),
        path: scrub(&e.path),
        reason: scrub(&e.reason),
    }
}

fn failed_record(unit: &Unit, reason: String) -> UnitRecord {
    let path = unit
        .inputs
        .first()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    UnitRecord {
        id: unit.id.clone(),
        ok: false,
        samples: 0,
        shards: vec![],
        subjects: vec![],
        report: vec![ReportEntry {
            outcome: Outcome::Failed,
            unit: unit.id.clone(),
            path,
            reason: one_line(&reason),
        }],
        tables: vec![],
        shared_report: vec![],
    }
}

fn one_line(s: &str) -> String {
    s.split('\n').map(str::trim).collect::<Vec<_>>().join(" ")
}

pub(crate) struct UnitSink<'a> {
    writer: Option<ShardWriter>,
    /// Writers of the samples a transform assigned to a split, one per split, created on first
    /// use (`u<hash>-<split>-NNNNNN.tar`).
    split_writers: std::collections::BTreeMap<String, ShardWriter>,
    /// Where and how the split writers write.
    out: &'a Path,
    prefix: String,
    writer_opts: WriterOptions,
    unit: &'a Unit,
    source: &'a str,
    subject: Option<String>,
    samples: u64,
    subjects: Vec<SubjectRow>,
    report: Vec<ReportEntry>,
    root: &'a Path,
    tables: PartWriter,
    transform: Option<&'a dyn crate::transform::SampleTransform>,
}

impl UnitSink<'_> {
    /// Writes one sample as it is.
    pub(crate) fn write_one(&mut self, sample: Sample) -> Result<()> {
        let w = self
            .writer
            .as_mut()
            .ok_or_else(|| Error::Other("sink closed".into()))?;
        w.write(&sample)?;
        self.samples += 1;
        // Written: its large buffers serve the unit's (or the next unit's) next samples.
        bomdata_shard::buffers::give_sample(sample);
        Ok(())
    }

    /// Writes one sample into the unit's shards of `split`.
    pub(crate) fn write_split(&mut self, split: &str, sample: Sample) -> Result<()> {
        if !self.split_writers.contains_key(split) {
            let opts = WriterOptions {
                split: Some(split.to_string()),
                ..self.writer_opts.clone()
            };
            let w = ShardWriter::create(self.out, &format!("{}-{split}", self.prefix), opts)?;
            self.split_writers.insert(split.to_string(), w);
        }
        if let Some(w) = self.split_writers.get_mut(split) {
            w.write(&sample)?;
        }
        self.samples += 1;
        bomdata_shard::buffers::give_sample(sample);
        Ok(())
    }

    /// Publishes every writer's shards (the unit's own, then one set per split in name order).
    fn finish_writers(&mut self) -> Result<Vec<ShardEntry>> {
        let mut shards = match self.writer.take() {
            Some(w) => w.finish()?,
            None => vec![],
        };
        for (_, w) in std::mem::take(&mut self.split_writers) {
            shards.extend(w.finish()?);
        }
        Ok(shards)
    }

    /// Drops everything the writers wrote.
    fn abort_writers(&mut self) {
        if let Some(w) = self.writer.take() {
            w.abort();
        }
        for (_, w) in std::mem::take(&mut self.split_writers) {
            w.abort();
        }
    }
}

impl SampleSink for UnitSink<'_> {
    fn write_sample(&mut self, mut sample: Sample) -> Result<()> {
        if sample.subject.is_none() {
            sample.subject = self.subject.clone();
        }
        if let Some(t) = self.transform {
            return crate::transform::write_through(self, t, sample);
        }
        self.write_one(sample)
    }

    fn subject(&mut self, mut row: SubjectRow) -> Result<()> {
        if row.source.is_empty() {
            row.source = self.source.to_string();
        }
        self.subjects.push(row);
        Ok(())
    }

    fn skipped(&mut self, path: &Path, reason: &str) {
        let rel = path.strip_prefix(self.root).unwrap_or(path);
        self.report.push(ReportEntry {
            outcome: Outcome::Skipped,
            unit: self.unit.id.clone(),
            path: rel.display().to_string(),
            reason: one_line(reason),
        });
    }

    fn write_table(&mut self, part: TablePart) -> Result<()> {
        self.tables.write(&part)
    }

    fn eeg_input_channels(&self, channels: &[bomdata_schemas::eeg::Channel]) -> Option<Vec<usize>> {
        self.transform?.eeg_input_channels(channels)
    }
}

fn convert_unit(
    opts: &RunOptions,
    ctx: &UnitContext<'_>,
    source: &dyn Source,
    unit: &Unit,
    hash: &str,
) -> Result<UnitRecord> {
    let writer_opts = WriterOptions {
        defer_commit: true,
        split: None,
        ..opts.writer.clone()
    };
    let writer = ShardWriter::create(&opts.out, &format!("u{hash}"), writer_opts.clone())?;
    let mut sink = UnitSink {
        writer: Some(writer),
        split_writers: std::collections::BTreeMap::new(),
        out: &opts.out,
        prefix: format!("u{hash}"),
        writer_opts,
        unit,
        source: &opts.entry.id,
        subject: unit.subject.as_deref().map(|s| ctx.pseudonym(s)),
        samples: 0,
        subjects: vec![],
        report: vec![],
        root: &opts.root,
        tables: PartWriter::new(&opts.out, &format!("u{hash}")),
        transform: opts.transform.as_ref().map(|t| &*t.0),
    };
    let res = source.convert(unit, ctx, &mut sink);
    let tables = std::mem::take(&mut sink.tables);
    match res {
        Ok(()) => {
            let shards = sink.finish_writers()?;
            let tables = tables.commit()?;
            let mut subjects = SubjectRow::merge_rows(sink.subjects);
            if subjects.len() == 1 && (subjects[0].n_samples == 0 || opts.transform.is_some()) {
                subjects[0].n_samples = sink.samples;
            }
            Ok(UnitRecord {
                id: unit.id.clone(),
                ok: true,
                samples: sink.samples,
                shards,
                subjects,
                report: sink.report,
                tables,
                shared_report: vec![],
            })
        }
        Err(e) => {
            sink.abort_writers();
            tables.abort();
            Err(e)
        }
    }
}

/// Writes the manifest, `subjects.parquet` and `report.jsonl` when every planned unit has a
/// record; returns `None` (and writes nothing) while some are missing (other ranks still
/// running). This is what `bomdata merge` calls with the run's state folder: it takes the
/// folder's lock exclusively, so it is refused while a rank still runs.
pub fn finalize(out: &Path, state: &Path) -> Result<Option<Manifest>> {
    if !state.join("plan.json").is_file() {
        return Err(Error::Other(format!(
            "{}: no ingest state of {} there (no plan.json; give the run's --state-dir)",
            state.display(),
            out.display()
        )));
    }
    let _lock = bomdata_shard::lock::RunLock::rank_in(state, out, "merge", 0, 1)?;
    finalize_run(out, state, true)
}

/// [`finalize`] without taking the lock; `cleanup` removes leftover temporaries (only safe when
/// no other process writes into the folder).
fn finalize_run(out: &Path, state: &Path, cleanup: bool) -> Result<Option<Manifest>> {
    let plan: Plan = dataset::read_json(&state.join("plan.json"))?;
    let mut records = Vec::with_capacity(plan.units.len());
    for u in &plan.units {
        match dataset::read_json::<UnitRecord>(&record_path(state, &u.hash)) {
            Ok(r) if r.id == u.id => records.push(r),
            _ => return Ok(None),
        }
    }
    let mut shards = Vec::new();
    let mut parts = Vec::new();
    let mut subjects = Vec::new();
    let mut report = Vec::new();
    let mut shared = Vec::new();
    let mut failed = 0;
    for r in records {
        if !r.ok {
            failed += 1;
        }
        shards.extend(r.shards);
        parts.extend(r.tables);
        subjects.extend(r.subjects);
        report.extend(r.report);
        shared.extend(r.shared_report);
    }
    let subjects = SubjectRow::merge_rows(subjects);
    dataset::write_atomic(&state.join(dataset::REPORT), &json_lines(&report)?)?;
    dataset::write_atomic(&out.join(dataset::REPORT), &json_lines(&shared)?)?;
    let table = bomdata_shard::subjects::write(out, &subjects)?;
    let distinct: BTreeSet<&str> = subjects.iter().map(|s| s.subject.as_str()).collect();
    // `ingest --profile`: the profile recorded in the run's fingerprint (see crate::transform).
    let (profile, tokenizer) =
        dataset::read_json::<crate::state::Fingerprint>(&state.join(crate::state::FINGERPRINT))
            .map_or((None, None), |f| (f.profile, f.tokenizer));
    let manifest = Manifest {
        layout_version: bomdata_schemas::LAYOUT_VERSION.to_string(),
        kind: if profile.is_some() {
            DatasetKind::Training
        } else {
            DatasetKind::Canonical
        },
        tool: format!("bomdata {}", env!("CARGO_PKG_VERSION")),
        sources: vec![plan.source.clone()],
        profile,
        tokenizer,
        counts: Counts {
            samples: shards.iter().map(|s| s.samples).sum(),
            shards: shards.len() as u64,
            bytes: shards.iter().map(|s| s.size).sum(),
            units: plan.units.len() as u64,
            failed_units: failed,
            subjects: distinct.len() as u64,
        },
        shards,
        tables: std::iter::once(table).chain(parts).collect(),
    };
    if cleanup {
        dataset::remove_temporaries(&out.join(dataset::SHARDS))?;
        crate::tables::remove_temporaries(out)?;
    }
    dataset::write_manifest(out, &manifest)?;
    Ok(Some(manifest))
}

/// Report entries as JSON lines.
fn json_lines(entries: &[ReportEntry]) -> Result<Vec<u8>> {
    let mut lines = Vec::new();
    for r in entries {
        serde_json::to_writer(&mut lines, r).map_err(|e| Error::Other(e.to_string()))?;
        lines.push(b'\n');
    }
    Ok(lines)
}
