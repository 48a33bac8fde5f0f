//! The sample and dataset contracts of bomdata.
//!
//! Every stage (ingest, shard, loader) reads and writes the types defined here, so they are the
//! one place where the on-disk format is spelled out:
//!
//! - [`Modality`]: the thirteen kinds of data bomdata handles;
//! - [`manifest`]: `manifest.json`, the dataset's table of contents, and the per-shard index;
//! - [`report`]: one line of `report.jsonl` (an input that failed or was skipped);
//! - [`subjects`]: one row of `subjects.parquet`;
//! - [`electrodes`]: the standard 10-05 electrode positions and the old 10-20 names, once;
//! - [`key`]: sample keys derived from pseudonymous identifiers, never original subject IDs;
//! - one module per modality family ([`mri`], [`eeg`], [`genome`], [`omics`]) with the canonical
//!   metadata each sample carries, versioned (`"mri/1"`, `"eeg/1"`, ...).
//!
//! This crate does no I/O.
//!
//! ```
//! use bomdata_schemas::Modality;
//! assert_eq!(Modality::Fmri.as_str(), "fmri");
//! assert_eq!("clinical_text".parse::<Modality>().unwrap(), Modality::ClinicalText);
//! ```

pub mod eeg;
pub mod electrodes;
pub mod genome;
pub mod key;
pub mod manifest;
pub mod mri;
pub mod omics;
pub mod report;
pub mod subjects;

use serde::{Deserialize, Serialize};

/// Version of the dataset layout written by this crate (`manifest.json` `layout_version`).
pub const LAYOUT_VERSION: &str = "bomdata-dataset/1";

/// A kind of data.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Modality {
    /// Functional MRI (BOLD time series).
    Fmri,
    /// Structural MRI (T1w, T2w, FLAIR).
    Smri,
    /// Diffusion MRI.
    Dmri,
    /// Positron emission tomography.
    Pet,
    /// Scalp electroencephalography.
    Eeg,
    /// Magnetoencephalography.
    Meg,
    /// Intracranial EEG (ECoG, sEEG).
    Ieeg,
    /// DNA sequence.
    Dna,
    /// DNA methylation.
    Methylation,
    /// Plasma proteomics.
    Proteomics,
    /// Microbiome abundance tables.
    Microbiome,
    /// Clinical and biomarker tables.
    ClinicalTable,
    /// Clinical and behavioural text.
    ClinicalText,
}

impl Modality {
    /// Every modality, in declaration order.
    pub const ALL: [Modality; 13] = [
        Modality::Fmri,
        Modality::Smri,
        Modality::Dmri,
        Modality::Pet,
        Modality::Eeg,
        Modality::Meg,
        Modality::Ieeg,
        Modality::Dna,
        Modality::Methylation,
        Modality::Proteomics,
        Modality::Microbiome,
        Modality::ClinicalTable,
        Modality::ClinicalText,
    ];

    /// The snake_case name used on disk and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Modality::Fmri => "fmri",
            Modality::Smri => "smri",
            Modality::Dmri => "dmri",
            Modality::Pet => "pet",
            Modality::Eeg => "eeg",
            Modality::Meg => "meg",
            Modality::Ieeg => "ieeg",
            Modality::Dna => "dna",
            Modality::Methylation => "methylation",
            Modality::Proteomics => "proteomics",
            Modality::Microbiome => "microbiome",
            Modality::ClinicalTable => "clinical_table",
            Modality::ClinicalText => "clinical_text",
        }
    }
}

impl std::fmt::Display for Modality {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The error of parsing an unknown modality name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownModality(pub String);

impl std::fmt::Display for UnknownModality {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "unknown modality: {}", self.0)
    }
}

impl std::error::Error for UnknownModality {}

impl std::str::FromStr for Modality {
    type Err = UnknownModality;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Modality::ALL
            .into_iter()
            .find(|m| m.as_str() == s)
            .ok_or_else(|| UnknownModality(s.to_string()))
    }
}

/// Provenance of one canonical sample: where its values came from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Provenance {
    /// Source entry of `datasets.toml` (e.g. `"ukb"`).
    pub source: String,
    /// Path of the input file relative to the source root (inside a zip: `zip!member`).
    pub file: String,
    /// Which part of the file: a volume index range, a byte range, a record range, a chromosome.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub part: Option<String>,
    /// Reader crate and version, e.g. `"bomdata-nifti 0.1.0"`.
    pub reader: String,
}
