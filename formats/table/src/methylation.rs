//! DNA methylation tables: beta matrices and GEO signal tables.
//!
//! - Beta matrices: probes × samples (a probe-ID column such as `ID_REF`, `IlmnID`, `TargetID`,
//!   `ProbeID`, then one numeric column per sample) or the transpose (probe IDs in the header, one
//!   row per sample). Unnamed integer index columns (`Unnamed: 0`, written by pandas) are skipped;
//!   any other column that is not entirely numeric is an error naming the cell.
//! - GEO signal tables: per sample `<s> Methylated Signal`, `<s> Unmethylated Signal` and
//!   optionally `<s> Detection Pval` (separators ` `, `_`, `.`; any case) → beta
//!   `M / (M + U + offset)` and M-value `log_base((M + alpha) / (U + alpha))`, the offset, alpha and
//!   base recorded in [`SignalOptions`]; probes failing detection are NaN.
//! - EPIC v2 names carry a design suffix (`cg00000029_TC21`); [`probe_base_id`] strips it to the
//!   v1 name. [`ArrayVersion::detect`] guesses the array from the names and the probe count.

use std::collections::{BTreeMap, HashSet};
use std::io;
use std::sync::Arc;

use arrow_array::{ArrayRef, Float32Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema};

use crate::{Table, TableError};

/// Names of probe-ID columns, in order of preference.
pub const PROBE_ID_COLUMNS: [&str; 6] = [
    "ID_REF", "IlmnID", "TargetID", "ProbeID", "probe_id", "Probe_ID",
];

/// The Illumina array, guessed from probe names and count.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArrayVersion {
    /// HumanMethylation450 (≤ 500k probes, v1 naming).
    Hm450,
    /// EPIC v1 (v1 naming, more than 500k probes).
    EpicV1,
    /// EPIC v2 (names with a `_TC11`/`_BO21`-style suffix).
    EpicV2,
    /// Too few probes to tell (a subset), v1 naming.
    Unknown,
}

impl ArrayVersion {
    /// Guesses the array from probe IDs.
    pub fn detect<'a>(ids: impl IntoIterator<Item = &'a str>) -> ArrayVersion {
        let mut n = 0usize;
        let mut v2 = 0usize;
        for id in ids {
            n += 1;
            if probe_suffix(id).is_some() {
                v2 += 1;
            }
        }
        if n > 0 && v2 * 2 > n {
            ArrayVersion::EpicV2
        } else if n > 500_000 {
            ArrayVersion::EpicV1
        } else if n > 400_000 {
            ArrayVersion::Hm450
        } else {
            ArrayVersion::Unknown
        }
    }

    /// A short name for metadata.
    pub fn as_str(self) -> &'static str {
        match self {
            ArrayVersion::Hm450 => "450k",
            ArrayVersion::EpicV1 => "epic_v1",
            ArrayVersion::EpicV2 => "epic_v2",
            ArrayVersion::Unknown => "unknown",
        }
    }
}

fn probe_suffix(id: &str) -> Option<&str> {
    let (_, suf) = id.rsplit_once('_')?;
    let b = suf.as_bytes();
    (b.len() == 4
        && matches!(b[0], b'T' | b'B')
        && matches!(b[1], b'C' | b'O')
        && b[2].is_ascii_digit()
        && b[3].is_ascii_digit())
    .then_some(suf)
}

/// The EPIC v1 / 450k name of a probe (`cg00000029_TC21` → `cg00000029`).
pub fn probe_base_id(id: &str) -> &str {
    match probe_suffix(id) {
        Some(s) => &id[..id.len() - s.len() - 1],
        None => id,
    }
}

/// Whether a name looks like an Illumina methylation probe (`cg`, `ch`, `rs`, `nv` prefixes).
pub fn looks_like_probe(id: &str) -> bool {
    let b = id.as_bytes();
    b.len() >= 4
        && matches!(&b[..2], b"cg" | b"ch" | b"rs" | b"nv")
        && b[2..].iter().any(|c| c.is_ascii_digit())
}

/// A beta (or M-value) matrix, probes × samples.
#[derive(Clone, Debug, PartialEq)]
pub struct BetaMatrix {
    /// Probe IDs as written (rows).
    pub probe_ids: Vec<String>,
    /// Sample IDs (columns).
    pub sample_ids: Vec<String>,
    /// Values, row-major probes × samples; NaN for NA and masked probes.
    pub values: Vec<f32>,
    /// The array guessed from the probe IDs.
    pub array: ArrayVersion,
}

impl BetaMatrix {
    /// Sets every value of the listed probes to NaN (quality / detection masks).
    pub fn mask_probes(&mut self, masked: &HashSet<String>) -> usize {
        let ns = self.sample_ids.len();
        let mut n = 0;
        for (i, p) in self.probe_ids.iter().enumerate() {
            if masked.contains(p) || masked.contains(probe_base_id(p)) {
                self.values[i * ns..(i + 1) * ns].fill(f32::NAN);
                n += 1;
            }
        }
        n
    }

    /// As a batch: `probe_id` then one Float32 column per sample (NaN kept as NaN, not null).
    pub fn to_batch(&self) -> io::Result<RecordBatch> {
        let ns = self.sample_ids.len();
        let mut fields = vec![Field::new("probe_id", DataType::Utf8, false)];
        fields.extend(
            self.sample_ids
                .iter()
                .map(|s| Field::new(s, DataType::Float32, false)),
        );
        let mut cols: Vec<ArrayRef> = vec![Arc::new(StringArray::from(self.probe_ids.clone()))];
        for j in 0..ns {
            let v: Vec<f32> = (0..self.probe_ids.len())
                .map(|i| self.values[i * ns + j])
                .collect();
            cols.push(Arc::new(Float32Array::from(v)));
        }
        RecordBatch::try_new(Arc::new(Schema::new(fields)), cols).map_err(io::Error::other)
    }
}

fn is_index_column(name: &str) -> bool {
    name.starts_with("Unnamed: ")
}

/// Reads a beta matrix from a table (either orientation).
pub fn beta_matrix(table: &Table) -> io::Result<BetaMatrix> {
    let names = table.column_names();
    if let Some(d) = table.duplicate_header() {
        return Err(TableError::new(
            &table.name,
            format!("sample id {d:?} is repeated in the header"),
        )
        .at_row(1)
        .into_io());
    }
    let probe_col = PROBE_ID_COLUMNS.iter().find_map(|c| table.column_index(c));
    let header_probes = names.iter().filter(|n| looks_like_probe(n)).count();
    if probe_col.is_none() && header_probes * 2 > names.len() {
        return transposed(table, &names);
    }
    let probe_col = match probe_col {
        Some(i) => i,
        None => (0..names.len())
            .find(|&i| table.numeric_column(i).is_none())
            .ok_or_else(|| TableError::new(&table.name, "no probe id column").into_io())?,
    };
    let probe_ids: Vec<String> = table
        .text_column(probe_col)
        .into_iter()
        .map(|p| p.unwrap_or_default())
        .collect();
    if let Some((r, why)) = bad_probe_id(&probe_ids) {
        return Err(TableError::new(&table.name, why)
            .at_row(table.source_rows.get(r).copied().unwrap_or(0))
            .at_column(names[probe_col].clone())
            .into_io());
    }
    let mut sample_ids = Vec::new();
    let mut cols = Vec::new();
    for (i, n) in names.iter().enumerate() {
        if i == probe_col || (is_index_column(n) && table.numeric_column(i).is_some()) {
            continue;
        }
        cols.push(table.require_numeric(i)?);
        sample_ids.push(n.clone());
    }
    let np = probe_ids.len();
    let ns = sample_ids.len();
    let mut values = vec![0f32; np * ns];
    for (j, c) in cols.iter().enumerate() {
        for i in 0..np {
            values[i * ns + j] = c[i] as f32;
        }
    }
    Ok(BetaMatrix::with_array(probe_ids, sample_ids, values))
}

impl BetaMatrix {
    /// A matrix whose array version is detected from its probe ids.
    fn with_array(probe_ids: Vec<String>, sample_ids: Vec<String>, values: Vec<f32>) -> Self {
        let array = ArrayVersion::detect(probe_ids.iter().map(|s| s.as_str()));
        BetaMatrix {
            probe_ids,
            sample_ids,
            values,
            array,
        }
    }
}

fn transposed(table: &Table, names: &[String]) -> io::Result<BetaMatrix> {
    let id_col = (0..names.len())
        .find(|&i| !looks_like_probe(&names[i]))
        .ok_or_else(|| TableError::new(&table.name, "no sample id column").into_io())?;
    let sample_ids: Vec<String> = table
        .text_column(id_col)
        .into_iter()
        .map(|s| s.unwrap_or_default())
        .collect();
    let mut seen = HashSet::new();
    for (r, s) in sample_ids.iter().enumerate() {
        if !seen.insert(s.as_str()) {
            return Err(
                TableError::new(&table.name, format!("sample id {s:?} is repeated"))
                    .at_row(table.source_rows.get(r).copied().unwrap_or(0))
                    .at_column(names[id_col].clone())
                    .into_io(),
            );
        }
    }
    let mut probe_ids = Vec::new();
    let mut cols = Vec::new();
    for (i, n) in names.iter().enumerate() {
        if i == id_col || (is_index_column(n) && table.numeric_column(i).is_some()) {
            continue;
        }
        cols.push(table.require_numeric(i)?);
        probe_ids.push(n.clone());
    }
    let ns = sample_ids.len();
    let mut values = vec![0f32; probe_ids.len() * ns];
    for (i, c) in cols.iter().enumerate() {
        for j in 0..ns {
            values[i * ns + j] = c[j] as f32;
        }
    }
    Ok(BetaMatrix::with_array(probe_ids, sample_ids, values))
}

/// How signal intensities become beta and M-values.
#[derive(Clone, Debug, PartialEq)]
pub struct SignalOptions {
    /// Beta offset: `M / (M + U + offset)`; 100 is the Illumina/GenomeStudio convention, 0 minfi's default.
    pub beta_offset: f64,
    /// M-value offset `alpha` in `log((M + alpha) / (U + alpha))`.
    pub m_alpha: f64,
    /// Log base of the M-value (2 as minfi and lumi).
    pub log_base: f64,
    /// Probes with a detection p-value above this are NaN (None = no detection mask).
    pub detection_p: Option<f64>,
}

impl Default for SignalOptions {
    fn default() -> Self {
        SignalOptions {
            beta_offset: 100.0,
            m_alpha: 1.0,
            log_base: 2.0,
            detection_p: Some(0.01),
        }
    }
}

/// Beta and M-values computed from a signal table, with the options used.
#[derive(Clone, Debug, PartialEq)]
pub struct SignalResult {
    /// Beta values.
    pub beta: BetaMatrix,
    /// M-values (same layout).
    pub m_values: BetaMatrix,
    /// The options used (record them with the output).
    pub options: SignalOptions,
    /// Number of (probe, sample) values set to NaN by the detection mask.
    pub n_detection_masked: usize,
}

#[derive(Default)]
struct SampleCols {
    meth: Option<usize>,
    unmeth: Option<usize>,
    pval: Option<usize>,
}

fn split_signal(name: &str) -> Option<(String, usize)> {
    let norm: String = name
        .chars()
        .map(|c| {
            if matches!(c, '_' | '.' | ' ') {
                ' '
            } else {
                c.to_ascii_lowercase()
            }
        })
        .collect();
    for (suffix, kind) in [
        (" unmethylated signal", 1usize),
        (" methylated signal", 0),
        (" detection pval", 2),
        (" detection p value", 2),
        (" detection p", 2),
    ] {
        if let Some(p) = norm.strip_suffix(suffix) {
            return Some((name[..p.len()].to_string(), kind));
        }
    }
    None
}

/// Whether a header looks like a GEO signal table.
pub fn is_signal_table(columns: &[String]) -> bool {
    columns
        .iter()
        .any(|c| split_signal(c).is_some_and(|(_, k)| k == 1))
}

/// Computes beta and M-values from a GEO signal table.
pub fn from_signals(table: &Table, opts: &SignalOptions) -> io::Result<SignalResult> {
    let names = table.column_names();
    let probe_col = PROBE_ID_COLUMNS
        .iter()
        .find_map(|c| table.column_index(c))
        .or_else(|| (0..names.len()).find(|&i| table.numeric_column(i).is_none()))
        .ok_or_else(|| TableError::new(&table.name, "no probe id column").into_io())?;
    let mut samples: BTreeMap<String, SampleCols> = BTreeMap::new();
    let mut order = Vec::new();
    for (i, n) in names.iter().enumerate() {
        if let Some((s, k)) = split_signal(n) {
            if !samples.contains_key(&s) {
                order.push(s.clone());
            }
            let e = samples.entry(s).or_default();
            match k {
                0 => e.meth = Some(i),
                1 => e.unmeth = Some(i),
                _ => e.pval = Some(i),
            }
        }
    }
    let probe_ids: Vec<String> = table
        .text_column(probe_col)
        .into_iter()
        .map(|p| p.unwrap_or_default())
        .collect();
    let np = probe_ids.len();
    let ns = order.len();
    let mut beta = vec![f32::NAN; np * ns];
    let mut mv = vec![f32::NAN; np * ns];
    let mut masked = 0;
    let ln_base = opts.log_base.ln();
    for (j, s) in order.iter().enumerate() {
        let c = &samples[s];
        let (Some(mi), Some(ui)) = (c.meth, c.unmeth) else {
            return Err(TableError::new(
                &table.name,
                format!("sample {s:?} lacks a methylated or unmethylated signal column"),
            )
            .into_io());
        };
        let m = table.require_numeric(mi)?;
        let u = table.require_numeric(ui)?;
        let p = match c.pval {
            Some(pi) => Some(table.require_numeric(pi)?),
            None => None,
        };
        for i in 0..np {
            if let (Some(th), Some(p)) = (opts.detection_p, p.as_ref())
                && p[i]
                    .partial_cmp(&th)
                    .is_none_or(|o| o == std::cmp::Ordering::Greater)
            {
                masked += 1;
                continue;
            }
            let (mm, uu) = (m[i].max(0.0), u[i].max(0.0));
            beta[i * ns + j] = (mm / (mm + uu + opts.beta_offset)) as f32;
            mv[i * ns + j] = (((mm + opts.m_alpha) / (uu + opts.m_alpha)).ln() / ln_base) as f32;
        }
    }
    let array = ArrayVersion::detect(probe_ids.iter().map(|s| s.as_str()));
    let b = BetaMatrix {
        probe_ids,
        sample_ids: order,
        values: beta,
        array,
    };
    let mut m = b.clone();
    m.values = mv;
    Ok(SignalResult {
        beta: b,
        m_values: m,
        options: opts.clone(),
        n_detection_masked: masked,
    })
}

pub use crate::matrix::{
    ConvertSummary, MatrixOptions, convert_to_parquet, convert_to_parquet_with,
};

/// The first probe id that is missing or repeated, as (its index in `probe_ids`, why); `None`
/// when every id is present and unique (what a beta matrix requires).
pub fn bad_probe_id(probe_ids: &[String]) -> Option<(usize, String)> {
    let mut seen = crate::names::name_set(probe_ids.len());
    for (r, p) in probe_ids.iter().enumerate() {
        if p.is_empty() {
            return Some((r, "probe id is missing".to_string()));
        }
        if !seen.insert(p.as_str()) {
            return Some((r, format!("probe id {p:?} is repeated")));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probe_names() {
        assert_eq!(probe_base_id("cg00000029_TC21"), "cg00000029");
        assert_eq!(probe_base_id("cg00000029"), "cg00000029");
        assert_eq!(
            ArrayVersion::detect(["cg1_TC21", "cg2_BO11"]),
            ArrayVersion::EpicV2
        );
        assert!(looks_like_probe("cg00000029"));
        assert!(!looks_like_probe("200607090061_R03C01"));
    }

    #[test]
    fn streamed_crlf_blank_and_unterminated() {
        let text = "ID_REF,s1,s2\r\ncg1,0.5,1\r\n\r\ncg2,NA,0.25";
        let s = convert_to_parquet(text.as_bytes(), "x", Vec::new(), 1).unwrap();
        assert_eq!(s.n_probes, 2);
        assert_eq!(s.sample_ids, ["s1", "s2"]);
        let e = convert_to_parquet(
            "ID_REF,s1\ncg1,0.5\n\ncg2,x\n".as_bytes(),
            "x",
            Vec::new(),
            8,
        )
        .unwrap_err();
        assert_eq!(crate::TableError::from_io(&e).unwrap().row, Some(4));
    }

    #[test]
    fn signals() {
        let text = "ID_REF,S1 Methylated Signal,S1 Unmethylated Signal,S1 Detection Pval\ncg1,900,0,0.001\ncg2,100,100,0.5\n";
        let t = crate::table::read_delimited(text.as_bytes(), "s", None).unwrap();
        let r = from_signals(&t, &SignalOptions::default()).unwrap();
        assert!((r.beta.values[0] - 0.9).abs() < 1e-6);
        assert!((r.m_values.values[0] - (901f32).log2()).abs() < 1e-4);
        assert!(r.beta.values[1].is_nan());
        assert_eq!(r.n_detection_masked, 1);
    }
}
