//! The adapter contract: how a source lists its work and converts it.

use std::path::{Path, PathBuf};

use bomdata_schemas::Modality;
use bomdata_schemas::subjects::SubjectRow;
use bomdata_shard::Sample;

use crate::{Pseudonymizer, Result};

/// One unit of work: all-or-nothing, idempotent, converted by one thread.
///
/// Units are listed in a deterministic order by [`Source::plan`]; `id` must be unique within the
/// plan and stable across runs (it names the unit's output files).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Unit {
    /// Stable unique ID, `[A-Za-z0-9_.-]` only (e.g. `sub-01_ses-1_anat_T1w`).
    pub id: String,
    /// Original subject ID as found in the tree (pseudonymised before anything is written).
    pub subject: Option<String>,
    /// Session / visit / instance label.
    pub session: Option<String>,
    /// Input files, relative to the source root.
    pub inputs: Vec<PathBuf>,
    /// Total input bytes (for progress and ETA).
    pub bytes: u64,
    /// Adapter-specific detail the convert step needs (e.g. modality, run label, zip member).
    #[serde(default)]
    pub detail: serde_json::Value,
}

/// What a unit's conversion can see besides its inputs.
#[derive(Clone, Debug)]
pub struct UnitContext<'a> {
    /// The source root directory.
    pub root: &'a Path,
    /// The `datasets.toml` entry ID (`"ukb"`, `"hcp"`, ...), used in keys and provenance.
    pub source: &'a str,
    /// Namespace for pseudonyms (usually equal to `source`).
    pub subject_namespace: &'a str,
    /// Keyed hash of subject IDs.
    pub pseudonymizer: &'a Pseudonymizer,
    /// Keep identity header text (only with an explicit flag).
    pub keep_identity: bool,
    /// Longest chunk of a continuous signal, in seconds, before it is split (0 = never).
    pub chunk_seconds: f64,
    /// Store canonical float arrays (volumes) as float16 instead of float32 (`--float16`).
    pub float16: bool,
    /// Accept DICOM series whose instances say BurnedInAnnotation `YES` (`--allow-burned-in`).
    pub allow_burned_in: bool,
    /// Keep annotation free text that the [`crate::privacy`] allow-list would drop
    /// (`--keep-free-text`).
    pub keep_free_text: bool,
    /// Extra annotation terms kept by the allow-list (`--allow-terms FILE`, lower-case).
    pub allow_terms: &'a [String],
    /// The unit's original session label and the ordinal that replaces it (see
    /// [`crate::privacy::SessionMap`]); the unit handed to `convert` already carries the ordinal.
    pub session_rename: Option<(&'a str, &'a str)>,
}

impl<'a> UnitContext<'a> {
    /// A context with defaults: pseudonym namespace = `source`, identity dropped, no chunking,
    /// float32 arrays.
    pub fn new(root: &'a Path, source: &'a str, pseudonymizer: &'a Pseudonymizer) -> Self {
        UnitContext {
            root,
            source,
            subject_namespace: source,
            pseudonymizer,
            keep_identity: false,
            chunk_seconds: 0.0,
            float16: false,
            allow_burned_in: false,
            keep_free_text: false,
            allow_terms: &[],
            session_rename: None,
        }
    }

    /// The pseudonym of an original subject ID.
    pub fn pseudonym(&self, subject: &str) -> String {
        self.pseudonymizer
            .pseudonym(self.subject_namespace, subject)
    }

    /// A source-relative path for provenance with the original subject ID replaced by its
    /// pseudonym (as BIDS `sub-<label>` and, for IDs of 4 or more characters, anywhere) and the
    /// original session label by its ordinal, unless identity is kept. Paths (and messages that
    /// name them) written into shareable outputs go through this.
    pub fn scrub_path(&self, rel: &str, subject: &str) -> String {
        if self.keep_identity {
            return rel.to_string();
        }
        let mut s = rel.to_string();
        if let Some((orig, ordinal)) = self.session_rename {
            s = crate::privacy::rename_session(&s, orig, ordinal);
        }
        if subject.is_empty() {
            return s;
        }
        let p = self.pseudonym(subject);
        let s = s.replace(&format!("sub-{subject}"), &format!("sub-{p}"));
        if subject.chars().count() >= 4 {
            s.replace(subject, &p)
        } else {
            s
        }
    }

    /// The absolute path of a unit input.
    pub fn path(&self, rel: &Path) -> PathBuf {
        self.root.join(rel)
    }
}

/// Where a unit's conversion puts its output.
pub trait SampleSink {
    /// Writes one canonical sample (key plus `<field>.<ext>` members).
    fn write_sample(&mut self, sample: Sample) -> Result<()>;
    /// Records that a subject/session has data of a modality (`n_samples` samples).
    fn subject(&mut self, row: SubjectRow) -> Result<()>;
    /// Records an input that was deliberately left out, with the reason.
    fn skipped(&mut self, path: &Path, reason: &str);
    /// Writes one part of a subject-aligned table (`tables/<modality>/part-*.parquet`, see
    /// [`crate::tables`]), kept only if the whole unit succeeds. Sinks that keep no tables
    /// refuse it (the default).
    fn write_table(&mut self, part: crate::tables::TablePart) -> Result<()> {
        Err(crate::Error::Other(format!(
            "this sink does not keep tables ({} part of {} rows)",
            part.modality,
            part.rows()
        )))
    }
    /// The channels (indexes into `channels`, ascending) that whatever consumes this sink's
    /// EEG samples reads, when that is known before decoding (an `ingest --profile` EEG
    /// profile, see [`crate::transform::SampleTransform::eeg_input_channels`]): a recording
    /// reduced to them gives the same output. `None` (the default): every channel.
    fn eeg_input_channels(&self, channels: &[bomdata_schemas::eeg::Channel]) -> Option<Vec<usize>> {
        let _ = channels;
        None
    }
}

/// A source adapter: one per layout (BIDS, UK Biobank bulk, HCP, TUEG, ...).
pub trait Source: Send + Sync {
    /// The adapter name used in `datasets.toml` (`adapter = "bids"`).
    fn name(&self) -> &'static str;

    /// Modalities this adapter can produce.
    fn modalities(&self) -> &'static [Modality];

    /// Whether the adapter's session labels are free text taken from the tree (BIDS
    /// `ses-<label>`), so that every label becomes an ordinal (see [`crate::privacy`]). Adapters
    /// that build labels from controlled fields keep the default, `false`.
    fn free_session_labels(&self) -> bool {
        false
    }

    /// Walks `root` and lists the units of work, sorted by `id`.
    fn plan(&self, root: &Path) -> Result<Vec<Unit>>;

    /// Converts one unit. On error nothing the unit wrote is kept.
    fn convert(&self, unit: &Unit, ctx: &UnitContext<'_>, sink: &mut dyn SampleSink) -> Result<()>;
}
