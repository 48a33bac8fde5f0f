//! Canonical metadata of the omics and clinical-table modalities (`omics/1`): DNA methylation,
//! Olink proteomics, microbiome abundance, clinical tables/biomarkers and clinical text.
//!
//! One canonical sample is one (pseudonymous subject, visit) row of one table:
//!
//! | member | content |
//! |---|---|
//! | `values.npy` | float32 `[n_features]`, NaN where missing or masked |
//! | `<mask>.npy` | uint8 `[n_features]`, 1 = flagged; one per [`OmicsRow::masks`] entry |
//! | `meta.json` | a serialised [`OmicsRow`] |
//! | `text.txt` | clinical text only: the scrubbed record ([`TextRecord`] in `meta.json`) |
//!
//! The feature order is the table's: [`OmicsRow::features`] names them (OlinkIDs, probe IDs,
//! taxa, canonical clinical variables) unless the table is too wide, in which case
//! [`OmicsRow::features_sha256`] identifies the list written once beside the dataset in
//! `features/<table>.txt` (one ID per line). Arrow tables use the column names in [`columns`].
//!
//! ```
//! use bomdata_schemas::omics::{OmicsRow, ValueKind, Transform};
//! let mut r = OmicsRow::new(bomdata_schemas::Modality::Proteomics, ValueKind::Npx);
//! r.features = vec!["OID01216".into()];
//! r.masks = vec!["qc_warning".into(), "below_lod".into()];
//! let j = serde_json::to_string(&r).unwrap();
//! assert!(j.contains(r#""schema":"omics/1""#));
//! let back: OmicsRow = serde_json::from_str(&j).unwrap();
//! assert_eq!(back.transform, Transform::None);
//! ```

use serde::{Deserialize, Serialize};

use crate::{Modality, Provenance};

/// Schema version string of this module.
pub const VERSION: &str = "omics/1";

/// Column names of subject-aligned omics Arrow/Parquet tables (`omics/1`).
pub mod columns {
    /// Pseudonymous subject (Utf8, not null).
    pub const SUBJECT: &str = "subject";
    /// Visit / session label (Utf8, empty when the source has none).
    pub const SESSION: &str = "session";
    /// Source entry of `datasets.toml` (Utf8).
    pub const SOURCE: &str = "source";
    /// Probe-ID column of a probes × samples methylation table (Utf8).
    pub const PROBE_ID: &str = "probe_id";
    /// Sample-ID column of an Olink pivot before pseudonymisation (never written to outputs).
    pub const SAMPLE_ID: &str = "SampleID";
    /// Prefix of per-feature mask columns in a mask table: `mask.<name>`.
    pub const MASK_PREFIX: &str = "mask.";
    /// Arrow schema metadata key holding the schema version (`"omics/1"`).
    pub const SCHEMA_KEY: &str = "bomdata.schema";
    /// Arrow schema metadata key holding the serialised [`super::Transform`].
    pub const TRANSFORM_KEY: &str = "bomdata.transform";
}

/// What the values are.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ValueKind {
    /// Olink NPX (log2 relative quantification).
    Npx,
    /// Methylation beta, 0..1.
    Beta,
    /// Methylation M-value.
    MValue,
    /// Raw counts (microbiome).
    Count,
    /// Relative abundance (counts / sample total).
    RelativeAbundance,
    /// Centred log-ratio.
    Clr,
    /// Clinical variables in their canonical units.
    Clinical,
    /// Text (clinical records).
    Text,
}

/// How zeros were replaced before a log-ratio.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "method")]
pub enum ZeroReplacement {
    /// A pseudocount added to every count.
    Pseudocount {
        /// The pseudocount (1, 0.5, 0.1, ...).
        value: f64,
    },
    /// Multiplicative replacement with `delta` on the closed scale.
    Multiplicative {
        /// The replacement value.
        delta: f64,
    },
}

/// The transform that produced the values, with every parameter a reader needs to redo it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Transform {
    /// Values as found in the source.
    #[default]
    None,
    /// `M / (M + U + offset)` from signal intensities.
    Beta {
        /// The offset (100 Illumina, 0 minfi default).
        offset: f64,
    },
    /// `log_base((M + alpha) / (U + alpha))`.
    MValue {
        /// The alpha offset.
        alpha: f64,
        /// The log base.
        log_base: f64,
    },
    /// Counts / sample total.
    RelativeAbundance,
    /// Centred log-ratio.
    Clr {
        /// Zero handling.
        zero_replacement: ZeroReplacement,
        /// The log base.
        log_base: f64,
    },
}

/// Why rows of the source were left out of the table.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dropped {
    /// Control samples (Olink plate / negative controls).
    pub control_samples: u64,
    /// Bridge samples.
    pub bridge_samples: u64,
    /// Source rows dropped with them.
    pub rows: u64,
    /// Repeated (sample, feature) pairs resolved, and how (`"error"`, `"mean"`, `"first"`).
    pub duplicates_resolved: u64,
    /// The duplicates policy.
    pub duplicates_policy: String,
}

/// `meta.json` of one omics / clinical-table sample.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OmicsRow {
    /// Always [`VERSION`].
    pub schema: String,
    /// The modality.
    pub modality: Modality,
    /// What `values.npy` holds.
    pub value: ValueKind,
    /// How the values were derived.
    #[serde(default)]
    pub transform: Transform,
    /// Feature IDs in `values.npy` order (empty when [`OmicsRow::features_sha256`] is set).
    #[serde(default)]
    pub features: Vec<String>,
    /// SHA-256 (hex) of the feature list file when the list is too long to repeat per sample.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub features_sha256: Option<String>,
    /// Number of features.
    pub n_features: u64,
    /// Names of the mask members (`qc_warning`, `assay_warning`, `below_lod`, `detection`, `out_of_range`).
    #[serde(default)]
    pub masks: Vec<String>,
    /// Extra value members (`clr.npy`, `relative_abundance.npy`, `m_values.npy`) and the transform
    /// that made each from the source values; same feature order as `values.npy`.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub derived: std::collections::BTreeMap<String, Transform>,
    /// Platform or array (`"explore3072"`, `"epic_v2"`, `"16s"`, ...).
    #[serde(default)]
    pub platform: String,
    /// Units per feature (clinical), empty otherwise.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub units: Vec<String>,
    /// Taxonomy per feature (microbiome: `d__Bacteria;p__Firmicutes;...`), empty otherwise.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub taxonomy: Vec<String>,
    /// What was left out of the source table.
    #[serde(default)]
    pub dropped: Dropped,
    /// Where it came from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provenance: Option<Provenance>,
}

impl OmicsRow {
    /// An empty row description.
    pub fn new(modality: Modality, value: ValueKind) -> Self {
        OmicsRow {
            schema: VERSION.to_string(),
            modality,
            value,
            transform: Transform::None,
            features: Vec::new(),
            features_sha256: None,
            n_features: 0,
            masks: Vec::new(),
            derived: std::collections::BTreeMap::new(),
            platform: String::new(),
            units: Vec::new(),
            taxonomy: Vec::new(),
            dropped: Dropped::default(),
            provenance: None,
        }
    }
}

/// Type of a clinical variable.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VariableType {
    /// A number in the canonical unit.
    Numeric,
    /// A category (diagnosis CN/MCI/dementia, sex).
    Categorical,
    /// A date (shifted per subject before anything is written).
    Date,
    /// Free text (scrubbed before anything is written).
    Text,
    /// An identifier: never written (only used to find the subject).
    Identifier,
}

/// One line of a source's clinical mapping file: source column → canonical variable.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct VariableMapping {
    /// Column name in the source table.
    pub column: String,
    /// Canonical variable (`"nfl_plasma"`, `"mmse"`, `"cdr_sb"`, `"diagnosis"`, `"age"`).
    pub variable: String,
    /// Type.
    #[serde(rename = "type")]
    pub kind: VariableType,
    /// Unit the source uses (`"pg/mL"`, `"ng/L"`), empty for none.
    #[serde(default)]
    pub unit: String,
    /// Canonical unit; values are converted into it.
    #[serde(default)]
    pub canonical_unit: String,
    /// Plausible range in the canonical unit; values outside are flagged, never clipped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub range: Option<[f64; 2]>,
    /// Category recoding (`{"AD": "dementia"}`), categorical only.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub levels: std::collections::BTreeMap<String, String>,
}

/// `meta.json` of a clinical text sample (`text.txt`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TextRecord {
    /// Always [`VERSION`].
    pub schema: String,
    /// Instrument or form the record comes from (`"mmse"`, `"visit_note"`).
    pub instrument: String,
    /// Source field IDs the text was built from (UKB field IDs, NDA variable names).
    pub source_fields: Vec<String>,
    /// Identifier scrubbing applied (`"names"`, `"dates_shifted"`, `"phone"`, `"ids"`).
    pub scrubbed: Vec<String>,
    /// Where it came from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provenance: Option<Provenance>,
}
