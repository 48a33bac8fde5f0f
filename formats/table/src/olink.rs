//! Olink NPX long format and its pivot to one row per sample.
//!
//! Column variants (matched by name, case as Olink writes it):
//!
//! | role | Target 96 | Explore 1536/384 | Explore 3072 / HT |
//! |---|---|---|---|
//! | sample | `SampleID` | `SampleID` | `SampleID` |
//! | assay | `OlinkID` | `OlinkID` | `OlinkID` |
//! | value | `NPX` | `NPX` | `NPX` |
//! | sample QC | `QC_Warning` | `QC_Warning` | `SampleQC` |
//! | assay QC | — | `Assay_Warning` | `AssayQC` |
//! | sample type | — | `Sample_Type` | `SampleType` |
//! | LOD | `LOD` | `LOD` / `PlateLOD` / `MaxLOD` | `LOD` (when present) |
//!
//! The pivot has one column per **OlinkID** (never per `Assay`: one gene symbol can sit on several
//! panels), rows and columns sorted. QC flags and below-LOD are parallel boolean masks. Control
//! samples (a sample type other than `SAMPLE`, or a SampleID containing `control`/`ctrl`) and
//! bridge samples (listed by the caller, or with `bridge` in the SampleID) are dropped and counted.
//! A (SampleID, OlinkID) pair seen more than once is resolved by [`Duplicates`], never silently.

use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::sync::Arc;

use arrow_array::{ArrayRef, BooleanArray, Float64Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema};

use crate::{Table, TableError};

/// The Olink platform, from the columns present.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Platform {
    /// Target 96 (no assay warning, no sample type).
    Target96,
    /// Explore 1536 / 384 (`Assay_Warning`, `Sample_Type`).
    Explore,
    /// Explore 3072 / HT (`SampleQC`, `AssayQC`, `SampleType`).
    Explore3072,
}

impl Platform {
    /// A short name for metadata.
    pub fn as_str(self) -> &'static str {
        match self {
            Platform::Target96 => "target96",
            Platform::Explore => "explore",
            Platform::Explore3072 => "explore3072",
        }
    }
}

/// What to do when a (SampleID, OlinkID) pair occurs more than once.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Duplicates {
    /// Refuse the file, naming the first repeated pair and its lines.
    #[default]
    Error,
    /// Average the NPX values (as `pandas.pivot_table(aggfunc="mean")`); masks are OR-ed.
    Mean,
    /// Keep the first occurrence in file order.
    First,
}

/// Pivot options.
#[derive(Clone, Debug)]
pub struct PivotOptions {
    /// Repeated (SampleID, OlinkID) policy.
    pub duplicates: Duplicates,
    /// Drop control samples (default true).
    pub drop_controls: bool,
    /// SampleIDs of bridge samples to drop (besides IDs containing `bridge`).
    pub bridge_ids: Vec<String>,
}

impl Default for PivotOptions {
    fn default() -> Self {
        PivotOptions {
            duplicates: Duplicates::Error,
            drop_controls: true,
            bridge_ids: Vec::new(),
        }
    }
}

/// The located columns of a long NPX table.
#[derive(Clone, Debug)]
pub struct Columns {
    /// `SampleID`.
    pub sample_id: usize,
    /// `OlinkID`.
    pub olink_id: usize,
    /// `NPX`.
    pub npx: usize,
    /// `QC_Warning` / `SampleQC`.
    pub sample_qc: Option<usize>,
    /// `Assay_Warning` / `AssayQC`.
    pub assay_qc: Option<usize>,
    /// `Sample_Type` / `SampleType`.
    pub sample_type: Option<usize>,
    /// `LOD` / `PlateLOD` / `MaxLOD`.
    pub lod: Option<usize>,
    /// The platform these columns indicate.
    pub platform: Platform,
}

/// Whether a header looks like Olink NPX long format.
pub fn is_long_npx(columns: &[String]) -> bool {
    ["SampleID", "OlinkID", "NPX"]
        .iter()
        .all(|c| columns.iter().any(|h| h == c))
}

/// Locates the NPX columns, or says which required one is missing.
pub fn locate(table: &Table) -> io::Result<Columns> {
    let find = |names: &[&str]| names.iter().find_map(|n| table.column_index(n));
    let need = |n: &str| {
        table.column_index(n).ok_or_else(|| {
            TableError::new(
                &table.name,
                format!("not olink npx long format: no {n} column"),
            )
            .into_io()
        })
    };
    let sample_id = need("SampleID")?;
    let olink_id = need("OlinkID")?;
    let npx = need("NPX")?;
    let sample_qc = find(&["QC_Warning", "SampleQC"]);
    let assay_qc = find(&["Assay_Warning", "AssayQC"]);
    let sample_type = find(&["Sample_Type", "SampleType"]);
    let lod = find(&["LOD", "PlateLOD", "MaxLOD"]);
    let platform =
        if table.column_index("SampleQC").is_some() || table.column_index("AssayQC").is_some() {
            Platform::Explore3072
        } else if assay_qc.is_some() || sample_type.is_some() {
            Platform::Explore
        } else {
            Platform::Target96
        };
    Ok(Columns {
        sample_id,
        olink_id,
        npx,
        sample_qc,
        assay_qc,
        sample_type,
        lod,
        platform,
    })
}

/// One row per sample, one column per OlinkID.
#[derive(Clone, Debug, PartialEq)]
pub struct NpxWide {
    /// Platform of the source.
    pub platform: Platform,
    /// Sorted sample IDs (rows).
    pub sample_ids: Vec<String>,
    /// Sorted OlinkIDs (columns).
    pub olink_ids: Vec<String>,
    /// NPX, row-major samples × assays; NaN where the pair is absent or NA.
    pub npx: Vec<f64>,
    /// Sample QC warning (anything but PASS), same layout.
    pub qc_warning: Vec<bool>,
    /// Assay QC warning (anything but PASS), same layout.
    pub assay_warning: Vec<bool>,
    /// NPX below the LOD given on its row, same layout.
    pub below_lod: Vec<bool>,
    /// Control sample IDs dropped.
    pub dropped_controls: Vec<String>,
    /// Bridge sample IDs dropped.
    pub dropped_bridges: Vec<String>,
    /// Rows dropped with them.
    pub dropped_rows: usize,
    /// Repeated (SampleID, OlinkID) pairs resolved by the duplicates policy.
    pub duplicates_resolved: usize,
}

fn is_warning(v: Option<&str>) -> bool {
    match v {
        None => false,
        Some(s) => !s.trim().eq_ignore_ascii_case("pass"),
    }
}

/// Whether a SampleID / sample type marks a control sample.
pub fn is_control(sample_id: &str, sample_type: Option<&str>) -> bool {
    if let Some(t) = sample_type
        && !t.trim().eq_ignore_ascii_case("sample")
    {
        return true;
    }
    let l = sample_id.to_ascii_lowercase();
    l.contains("control") || l.contains("ctrl")
}

/// (sum of finite NPX, their count, flags, first row) of one (sample, assay) cell.
type Acc = (f64, usize, [bool; 3], usize);

/// The distinct sample ids and olink ids of `cells`, each sorted.
fn sorted_ids(cells: &BTreeMap<(String, String), Acc>) -> (Vec<String>, Vec<String>) {
    let sample_ids: Vec<String> = cells
        .keys()
        .map(|k| k.0.clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let olink_ids: Vec<String> = cells
        .keys()
        .map(|k| k.1.clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    (sample_ids, olink_ids)
}

/// Writes each cell's mean NPX and flags into `w`, whose id lists hold every cell's ids.
fn fill_cells(w: &mut NpxWide, cells: &BTreeMap<(String, String), Acc>) {
    let si: BTreeMap<&str, usize> = w
        .sample_ids
        .iter()
        .enumerate()
        .map(|(i, s)| (s.as_str(), i))
        .collect();
    let oi: BTreeMap<&str, usize> = w
        .olink_ids
        .iter()
        .enumerate()
        .map(|(i, s)| (s.as_str(), i))
        .collect();
    for ((s, o), (sum, cnt, flags, _)) in cells {
        let k = si[s.as_str()] * w.olink_ids.len() + oi[o.as_str()];
        w.npx[k] = if *cnt > 0 {
            sum / *cnt as f64
        } else {
            f64::NAN
        };
        w.qc_warning[k] = flags[0];
        w.assay_warning[k] = flags[1];
        w.below_lod[k] = flags[2];
    }
}

/// Pivots a long NPX table.
pub fn pivot(table: &Table, opts: &PivotOptions) -> io::Result<NpxWide> {
    let c = locate(table)?;
    let sid = table.text_column(c.sample_id);
    let oid = table.text_column(c.olink_id);
    let npx = table.require_numeric(c.npx)?;
    let text = |i: Option<usize>| i.map(|i| table.text_column(i));
    let sqc = text(c.sample_qc);
    let aqc = text(c.assay_qc);
    let styp = text(c.sample_type);
    let lod = match c.lod {
        Some(i) => Some(table.require_numeric(i)?),
        None => None,
    };
    let n = table.num_rows();
    let mut controls = BTreeSet::new();
    let mut bridges = BTreeSet::new();
    let mut dropped_rows = 0;
    // (sample, assay) -> (sum, count, flags, first row)
    let mut cells: BTreeMap<(String, String), Acc> = BTreeMap::new();
    let mut duplicates = 0;
    let line = |r: usize| table.source_rows.get(r).copied().unwrap_or(r as u64 + 2);
    for r in 0..n {
        let Some(s) = sid[r].as_deref() else {
            return Err(TableError::new(&table.name, "sampleid is missing")
                .at_row(line(r))
                .at_column("SampleID")
                .into_io());
        };
        let Some(o) = oid[r].as_deref() else {
            return Err(TableError::new(&table.name, "olinkid is missing")
                .at_row(line(r))
                .at_column("OlinkID")
                .into_io());
        };
        let st = styp.as_ref().and_then(|v| v[r].as_deref());
        if opts.drop_controls && is_control(s, st) {
            controls.insert(s.to_string());
            dropped_rows += 1;
            continue;
        }
        if opts.bridge_ids.iter().any(|b| b == s) || s.to_ascii_lowercase().contains("bridge") {
            bridges.insert(s.to_string());
            dropped_rows += 1;
            continue;
        }
        let v = npx[r];
        let flags = [
            is_warning(sqc.as_ref().and_then(|v| v[r].as_deref())),
            is_warning(aqc.as_ref().and_then(|v| v[r].as_deref())),
            lod.as_ref()
                .is_some_and(|l| v.is_finite() && l[r].is_finite() && v < l[r]),
        ];
        let key = (s.to_string(), o.to_string());
        match cells.get_mut(&key) {
            None => {
                let (sum, cnt) = if v.is_finite() { (v, 1) } else { (0.0, 0) };
                cells.insert(key, (sum, cnt, flags, r));
            }
            Some(e) => {
                duplicates += 1;
                match opts.duplicates {
                    Duplicates::Error => {
                        return Err(TableError::new(
                            &table.name,
                            format!(
                                "sampleid {s:?} has olinkid {o:?} again (first on line {})",
                                line(e.3)
                            ),
                        )
                        .at_row(line(r))
                        .at_column("SampleID")
                        .into_io());
                    }
                    Duplicates::First => {}
                    Duplicates::Mean => {
                        if v.is_finite() {
                            e.0 += v;
                            e.1 += 1;
                        }
                        for (a, b) in e.2.iter_mut().zip(flags) {
                            *a |= b;
                        }
                    }
                }
            }
        }
    }
    let (sample_ids, olink_ids) = sorted_ids(&cells);
    let size = sample_ids.len() * olink_ids.len();
    let mut w = NpxWide {
        platform: c.platform,
        npx: vec![f64::NAN; size],
        qc_warning: vec![false; size],
        assay_warning: vec![false; size],
        below_lod: vec![false; size],
        sample_ids,
        olink_ids,
        dropped_controls: controls.into_iter().collect(),
        dropped_bridges: bridges.into_iter().collect(),
        dropped_rows,
        duplicates_resolved: duplicates,
    };
    fill_cells(&mut w, &cells);
    Ok(w)
}

/// Labels of the footer rows of an Olink NPX Manager wide workbook (after the samples).
const WIDE_FOOTERS: [&str; 3] = ["LOD", "Missing Data freq.", "Normalization"];

/// One wide-workbook cell as text (`None` when empty or an NA token); numbers formatted as
/// [`crate::table::build`] formats them.
fn wide_text(d: &calamine::Data) -> Option<String> {
    use calamine::Data;
    match d {
        Data::String(s) if !crate::table::is_na(s) => Some(s.trim().to_string()),
        Data::Float(f) => Some(if f.fract() == 0.0 && f.abs() < 1e15 {
            format!("{}", *f as i64)
        } else {
            format!("{f}")
        }),
        Data::Int(i) => Some(i.to_string()),
        _ => None,
    }
}

/// One wide-workbook cell as a long-table cell: numbers stay numbers, text stays text (the
/// long table's typing then decides, as for any file).
fn wide_cell(d: &calamine::Data) -> crate::table::Cell {
    use crate::table::Cell;
    match d {
        calamine::Data::Float(f) => Cell::Number(*f),
        calamine::Data::Int(i) => Cell::Number(*i as f64),
        other => wide_text(other).map_or(Cell::Na, Cell::Text),
    }
}

/// Reads the first sheet of an Olink NPX Manager *wide* workbook (the classic `.xlsx` export: a
/// title block, then rows labelled `Panel`, `Assay`, `Uniprot ID`, `OlinkID` in the first
/// column, one row per sample below them, `Plate ID` and `QC Warning` columns per panel at the
/// right, and `LOD` / `Missing Data freq.` rows after the samples) as the equivalent long table:
/// columns `SampleID`, `OlinkID`, `NPX`, then `QC_Warning` (the warning of the assay's panel)
/// and `LOD` when the workbook has them, one row per (sample, assay) in sheet order. [`pivot`]
/// then treats it as any long file. `Ok(None)` when the sheet has no `OlinkID` row in its first
/// column (not the wide layout).
pub fn read_wide_xlsx(path: &std::path::Path) -> io::Result<Option<Table>> {
    use crate::table::Cell;
    use calamine::{Data, Reader as _};
    let name = path.display().to_string();
    let err = |e: String| TableError::new(&name, e.to_lowercase()).into_io();
    let mut wb: calamine::Xlsx<_> =
        calamine::open_workbook(path).map_err(|e: calamine::XlsxError| err(e.to_string()))?;
    let range = wb
        .worksheet_range_at(0)
        .ok_or_else(|| err("workbook has no sheet".into()))?
        .map_err(|e| err(e.to_string()))?;
    let (r0, c0) = range.start().unwrap_or((0, 0));
    let rows: Vec<&[Data]> = range.rows().collect();
    let label = |r: &[Data]| r.first().and_then(wide_text).unwrap_or_default();
    let Some(oid_row) = rows.iter().position(|r| c0 == 0 && label(r) == "OlinkID") else {
        return Ok(None);
    };
    let above = |l: &str| rows[..oid_row].iter().rev().find(|r| label(r) == l);
    let (panel_row, assay_row) = (above("Panel"), above("Assay"));
    let at = |r: Option<&&[Data]>, c: usize| r.and_then(|r| r.get(c)).and_then(wide_text);
    // Assay columns (an OlinkID), and the QC-warning column of each panel.
    let mut assays = Vec::new();
    let mut qc_of_panel: Vec<(Option<String>, usize)> = Vec::new();
    for (c, cell) in rows[oid_row].iter().enumerate().skip(1) {
        if let Some(o) = wide_text(cell) {
            assays.push((c, o, at(panel_row, c)));
        } else if at(assay_row, c).as_deref() == Some("QC Warning") {
            qc_of_panel.push((at(panel_row, c), c));
        }
    }
    let qc_col = |panel: &Option<String>| {
        qc_of_panel
            .iter()
            .find(|(p, _)| p == panel || p.is_none())
            .or_else(|| (qc_of_panel.len() == 1).then(|| &qc_of_panel[0]))
            .map(|(_, c)| *c)
    };
    let mut samples = Vec::new();
    let mut lod_row = None;
    for (i, r) in rows.iter().enumerate().skip(oid_row + 1) {
        let l = label(r);
        if WIDE_FOOTERS.contains(&l.as_str()) {
            if l == "LOD" {
                lod_row = Some(*r);
            }
        } else if !l.is_empty() && lod_row.is_none() {
            samples.push((i, l));
        }
    }
    let n = samples.len() * assays.len();
    let (mut sid, mut oid, mut npx) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    let (mut qc, mut lod, mut src) = (Vec::new(), Vec::new(), Vec::with_capacity(n));
    let has_qc = !qc_of_panel.is_empty();
    for (i, s) in &samples {
        for (c, o, panel) in &assays {
            let cell = rows[*i].get(*c).unwrap_or(&Data::Empty);
            sid.push(Cell::Text(s.clone()));
            oid.push(Cell::Text(o.clone()));
            npx.push(wide_cell(cell));
            if has_qc {
                let q = qc_col(panel)
                    .and_then(|qc| rows[*i].get(qc))
                    .and_then(wide_text);
                qc.push(q.map_or(Cell::Na, Cell::Text));
            }
            if let Some(l) = lod_row {
                lod.push(l.get(*c).map_or(Cell::Na, wide_cell));
            }
            src.push((r0 as usize + i + 1) as u64);
        }
    }
    let mut header = vec!["SampleID".to_string(), "OlinkID".into(), "NPX".into()];
    let mut columns = vec![sid, oid, npx];
    if has_qc {
        header.push("QC_Warning".into());
        columns.push(qc);
    }
    if lod_row.is_some() {
        header.push("LOD".into());
        columns.push(lod);
    }
    crate::table::build(&name, header, columns, src, None).map(Some)
}

impl NpxWide {
    fn schema(&self, value: DataType) -> Arc<Schema> {
        let mut fields = vec![Field::new("SampleID", DataType::Utf8, false)];
        fields.extend(
            self.olink_ids
                .iter()
                .map(|o| Field::new(o, value.clone(), true)),
        );
        Arc::new(Schema::new(fields))
    }

    /// NPX as a batch: `SampleID` then one Float64 column per OlinkID (null where absent).
    pub fn npx_batch(&self) -> io::Result<RecordBatch> {
        let na = self.olink_ids.len();
        let mut cols: Vec<ArrayRef> = vec![Arc::new(StringArray::from(self.sample_ids.clone()))];
        for j in 0..na {
            let a: Float64Array = (0..self.sample_ids.len())
                .map(|i| Some(self.npx[i * na + j]).filter(|v| !v.is_nan()))
                .collect();
            cols.push(Arc::new(a));
        }
        RecordBatch::try_new(self.schema(DataType::Float64), cols).map_err(io::Error::other)
    }

    /// A mask (`qc_warning`, `assay_warning` or `below_lod`) as a batch of Boolean columns laid out
    /// as [`NpxWide::npx_batch`].
    pub fn mask_batch(&self, mask: &[bool]) -> io::Result<RecordBatch> {
        let na = self.olink_ids.len();
        let mut cols: Vec<ArrayRef> = vec![Arc::new(StringArray::from(self.sample_ids.clone()))];
        for j in 0..na {
            let a: BooleanArray = (0..self.sample_ids.len())
                .map(|i| Some(mask.get(i * na + j).copied().unwrap_or(false)))
                .collect();
            cols.push(Arc::new(a));
        }
        RecordBatch::try_new(self.schema(DataType::Boolean), cols).map_err(io::Error::other)
    }
}
