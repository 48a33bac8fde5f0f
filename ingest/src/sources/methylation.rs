//! DNA methylation tables → subject-keyed table parts, one row per sample column.
//!
//! Beta matrices (either orientation) give the beta values (float32 per probe, NaN = NA or
//! masked). GEO signal tables give beta (offset 100, Illumina) and M-values (log2, alpha 1),
//! probes failing detection p ≤ 0.01 NaN.
//!
//! Each file becomes table parts (see [`crate::tables`]): the beta values (and, for signal
//! tables, the M-values) as one row per (pseudonymous subject, visit) — one Float32 column per
//! probe, or one fixed-size list column with the probe names in the schema metadata for an
//! array-sized file — with the transform, value kind and array in the Parquet schema metadata,
//! and a subject-table row per sample column. Like the other table adapters (Olink, microbiome),
//! methylation writes no per-sample canonical samples: `bomdata shard` carries the parts into
//! training, where each row is a sample. Original sample IDs are never written.
//!
//! A probes × samples beta matrix in delimited text with a named probe-ID column (`ID_REF`, ...)
//! runs on the streaming converter ([`bomdata_table::matrix`]): the text is parsed into a raw
//! float32 scratch file, read back a part's samples at a time, so memory stays flat in
//! probes × samples; its table parts hold at most [`PART_VALUES`] values each (several parts of
//! whole rows for a large matrix). Signal tables, transposed matrices and spreadsheets are read
//! whole.

use std::io::{BufRead, BufReader};
use std::path::Path;

use bomdata_schemas::Modality;
use bomdata_schemas::omics::{Transform, ValueKind, columns};
use bomdata_table::TableError;
use bomdata_table::delimited;
use bomdata_table::matrix;
use bomdata_table::methylation::{self, ArrayVersion, BetaMatrix, SignalOptions};

use super::olink::{plan_files, table_subject_row};
use crate::tables::{self, TablePart};
use crate::{Error, Result, SampleSink, Source, Unit, UnitContext};

/// Parquet schema-metadata key of a table part holding the value kind (`"beta"`, `"m_value"`).
pub const VALUE_KEY: &str = "bomdata.value";
/// Parquet schema-metadata key of a table part holding the array (`"epic_v1"`, ...).
pub const PLATFORM_KEY: &str = "bomdata.platform";
/// Parquet schema-metadata key of a table part holding the `datasets.toml` source entry.
pub const SOURCE_KEY: &str = "bomdata.source";

fn to_json<T: serde::Serialize>(v: &T) -> Result<String> {
    serde_json::to_string(v).map_err(|e| Error::Other(e.to_string()))
}

/// The schema metadata of a methylation table part.
type PartMeta = [(String, String); 5];

/// The methylation adapter.
#[derive(Clone, Copy, Debug, Default)]
pub struct Methylation;

/// Most float values of one table part (64 MiB): a matrix with more samples than fit is cut
/// into several parts of whole rows, so memory stays flat in the number of samples.
pub const PART_VALUES: usize = 16 << 20;

impl Source for Methylation {
    fn name(&self) -> &'static str {
        "methylation"
    }

    fn modalities(&self) -> &'static [Modality] {
        &[Modality::Methylation]
    }

    fn plan(&self, root: &Path) -> Result<Vec<Unit>> {
        plan_files(root, &|p| {
            bomdata_table::probe::detect(p) == Some("methylation")
        })
    }

    fn convert(&self, unit: &Unit, ctx: &UnitContext<'_>, sink: &mut dyn SampleSink) -> Result<()> {
        let rel = unit
            .inputs
            .first()
            .ok_or_else(|| Error::Other(format!("unit {} has no input", unit.id)))?;
        let path = ctx.path(rel);
        let out = Output { unit, ctx };
        if streamable(&path)? {
            convert_streamed(&out, &path, sink)
        } else {
            convert_whole(&out, &path, sink)
        }
    }
}

/// Any methylation table read whole through the generic table reader.
fn convert_whole(out: &Output<'_>, path: &Path, sink: &mut dyn SampleSink) -> Result<()> {
    let ctx = out.ctx;
    let t = bomdata_table::table::read_path(path).map_err(|e| Error::io(path, e))?;
    let (beta, beta_t, mvals) = if methylation::is_signal_table(&t.column_names()) {
        let opts = SignalOptions::default();
        let r = methylation::from_signals(&t, &opts).map_err(|e| Error::io(path, e))?;
        let m = Transform::MValue {
            alpha: opts.m_alpha,
            log_base: opts.log_base,
        };
        let b = Transform::Beta {
            offset: opts.beta_offset,
        };
        (r.beta, b, Some((r.m_values, m)))
    } else {
        let m = methylation::beta_matrix(&t).map_err(|e| Error::io(path, e))?;
        (m, Transform::None, None)
    };
    // A row per (subject, visit), a column per probe.
    let subjects: Vec<String> = beta.sample_ids.iter().map(|s| ctx.pseudonym(s)).collect();
    for s in &subjects {
        out.subject_row(sink, s)?;
    }
    let part = |m: &BetaMatrix, kind: ValueKind, transform: &Transform| {
        let ns = m.sample_ids.len();
        out.part(&subjects, &m.probe_ids, m.array, (kind, transform), |i| {
            m.values[i * ns..(i + 1) * ns].to_vec()
        })
    };
    sink.write_table(part(&beta, ValueKind::Beta, &beta_t)?)?;
    if let Some((m, t)) = &mvals {
        sink.write_table(part(m, ValueKind::MValue, t)?)?;
    }
    Ok(())
}

/// What every sample and table part of one file shares.
struct Output<'a> {
    unit: &'a Unit,
    ctx: &'a UnitContext<'a>,
}

impl Output<'_> {
    /// The subject-table row of one sample column (its pseudonym `pseudo`, the unit's visit).
    fn subject_row(&self, sink: &mut dyn SampleSink, pseudo: &str) -> Result<()> {
        let session = self.unit.session.as_deref().unwrap_or_default();
        sink.subject(table_subject_row(
            self.ctx,
            pseudo,
            session,
            Modality::Methylation,
        ))
    }

    /// A wide table part: a row per subject (the unit's visit), `feature(i)` the values of
    /// probe `i` in row order.
    fn part(
        &self,
        subjects: &[String],
        probe_ids: &[String],
        array: ArrayVersion,
        kind: (ValueKind, &Transform),
        feature: impl Fn(usize) -> Vec<f32>,
    ) -> Result<TablePart> {
        let (sessions, metadata) = self.part_meta(subjects.len(), array, kind)?;
        let batch = tables::wide_f32(subjects, &sessions, probe_ids, feature, metadata)?;
        TablePart::new(Modality::Methylation, batch)
    }

    /// [`Self::part`] from the rows' values (`rows[r]`: row `r`'s values in probe order).
    fn part_rows(
        &self,
        subjects: &[String],
        probe_ids: &[String],
        array: ArrayVersion,
        kind: (ValueKind, &Transform),
        rows: &[Vec<f32>],
    ) -> Result<TablePart> {
        let (sessions, metadata) = self.part_meta(subjects.len(), array, kind)?;
        let batch = tables::wide_f32_rows(subjects, &sessions, probe_ids, rows, metadata)?;
        TablePart::new(Modality::Methylation, batch)
    }

    /// The sessions (the unit's visit) and schema metadata of a part of `n` rows.
    fn part_meta(
        &self,
        n: usize,
        array: ArrayVersion,
        (kind, transform): (ValueKind, &Transform),
    ) -> Result<(Vec<String>, PartMeta)> {
        let ctx = self.ctx;
        let sessions = vec![self.unit.session.clone().unwrap_or_default(); n];
        let metadata = [
            (
                columns::SCHEMA_KEY.to_string(),
                bomdata_schemas::omics::VERSION.to_string(),
            ),
            (columns::TRANSFORM_KEY.to_string(), to_json(transform)?),
            (VALUE_KEY.to_string(), to_json(&kind)?),
            (PLATFORM_KEY.to_string(), array.as_str().to_string()),
            (SOURCE_KEY.to_string(), ctx.source.to_string()),
        ];
        Ok((sessions, metadata))
    }
}

/// Whether `path` is a probes × samples beta matrix in delimited text with a named probe-ID
/// column (the layout of GEO series matrices and EPIC exports): such files go through the
/// streaming converter. Signal tables, transposed matrices and spreadsheets are read whole.
fn streamable(path: &Path) -> Result<bool> {
    let lower = path.to_string_lossy().to_lowercase();
    if lower.ends_with(".xlsx") || lower.ends_with(".parquet") {
        return Ok(false);
    }
    let (r, _) = bomdata_format_core::compression::open(path).map_err(|e| Error::io(path, e))?;
    let mut input = BufReader::with_capacity(1 << 16, r);
    let head = input.fill_buf().map_err(|e| Error::io(path, e))?;
    let d = delimited::sniff_delimiter(head);
    let mut reader = delimited::Reader::new(&mut input, d, path.display().to_string());
    let mut rec = delimited::Record::default();
    if reader
        .read_record(&mut rec)
        .map_err(|e| Error::io(path, e))?
        == 0
    {
        return Ok(false);
    }
    let header: Vec<String> = rec.iter().map(str::to_string).collect();
    Ok(!methylation::is_signal_table(&header)
        && methylation::PROBE_ID_COLUMNS
            .iter()
            .any(|c| header.iter().any(|h| h == c)))
}

/// A probes × samples beta matrix through the streaming converter: the text is parsed into a
/// raw float32 scratch copy in a temporary file (memory: a few blocks of text), read back a part's
/// samples at a time (memory: those samples' values), so memory does not grow with
/// probes × samples. Subject rows and table parts are the same as from the whole-file reader;
/// a matrix of more than [`PART_VALUES`] values has several table parts.
fn convert_streamed(out: &Output<'_>, path: &Path, sink: &mut dyn SampleSink) -> Result<()> {
    let err = |e| Error::io(path, e);
    let tmp = tempfile::tempfile().map_err(err)?;
    let scratch = matrix::scratch::convert_file_to_scratch(path, tmp).map_err(err)?;
    let summary = scratch.summary();
    let probe_ids = scratch.probe_ids();
    check_probe_ids(path, &summary.probe_id_column, probe_ids)?;
    let array = ArrayVersion::detect(probe_ids.iter().map(String::as_str));
    let ids = &summary.sample_ids;
    let np = probe_ids.len();
    let per_part = (PART_VALUES / np.max(1)).max(1);
    let kind = (ValueKind::Beta, &Transform::None);
    // A list layout's schema (the probe names' JSON) is built once for all parts of the file.
    let list = if np > tables::MAX_FEATURE_COLUMNS {
        Some(tables::WideList::new(
            probe_ids,
            out.part_meta(0, array, kind)?.1,
        )?)
    } else {
        None
    };
    let subjects: Vec<String> = ids.iter().map(|s| out.ctx.pseudonym(s)).collect();
    for s in &subjects {
        out.subject_row(sink, s)?;
    }
    // A file cut into several parts is cut in subject order, so that its parts are disjoint
    // subject ranges, each in order (`bomdata shard` then reads each part once, front to
    // back); a file of one part keeps the file's order.
    let mut order: Vec<usize> = (0..ids.len()).collect();
    if ids.len() > per_part {
        order.sort_by(|&a, &b| subjects[a].cmp(&subjects[b]));
    }
    let mut flat = Vec::new();
    for chunk in order.chunks(per_part) {
        scratch.read_samples_into(chunk, &mut flat).map_err(err)?;
        let subj: Vec<String> = chunk.iter().map(|&j| subjects[j].clone()).collect();
        let part = if let Some(list) = &list {
            let sessions = out.part_meta(subj.len(), array, kind)?.0;
            let values = std::mem::take(&mut flat);
            TablePart::new(Modality::Methylation, list.batch(&subj, &sessions, values)?)?
        } else {
            let rows: Vec<Vec<f32>> = (0..chunk.len())
                .map(|k| flat[k * np..(k + 1) * np].to_vec())
                .collect();
            out.part_rows(&subj, probe_ids, array, kind, &rows)?
        };
        sink.write_table(part)?;
    }
    Ok(())
}

/// Probe IDs must be present and unique (as the whole-file reader requires).
fn check_probe_ids(path: &Path, column: &str, probe_ids: &[String]) -> Result<()> {
    if let Some((r, why)) = bomdata_table::methylation::bad_probe_id(probe_ids) {
        let e = TableError::new(path.display().to_string(), why)
            .at_row(r as u64 + 2)
            .at_column(column.to_string());
        return Err(Error::io(path, e.into_io()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sink::MemSink;

    #[test]
    fn streamed_and_whole_file_outputs_are_equal() {
        // A column per probe, and the list layout (more than MAX_FEATURE_COLUMNS probes).
        let wide = u32::try_from(tables::MAX_FEATURE_COLUMNS).unwrap() + 50;
        for n in [300, wide] {
            streamed_equals_whole(n);
        }
    }

    fn streamed_equals_whole(n: u32) {
        let root =
            std::env::temp_dir().join(format!("bomdata-meth-stream-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&root).unwrap();
        let mut text = String::from(",ID_REF,S1,S2,S3\n");
        for i in 0..n {
            text.push_str(&format!("{i},cg{i:08},0.{i},NA,{}\n", f64::from(i) / 7.0));
        }
        std::fs::write(root.join("m_beta.csv"), text).unwrap();
        let units = Methylation.plan(&root).unwrap();
        let path = root.join("m_beta.csv");
        assert!(streamable(&path).unwrap());
        let p = crate::Pseudonymizer::new(b"k".to_vec());
        let ctx = UnitContext::new(&root, "test", &p);
        let out = Output {
            unit: &units[0],
            ctx: &ctx,
        };
        let (mut a, mut b) = (MemSink::default(), MemSink::default());
        convert_streamed(&out, &path, &mut a).unwrap();
        convert_whole(&out, &path, &mut b).unwrap();
        let _ = std::fs::remove_dir_all(&root);
        assert!(a.samples.is_empty() && b.samples.is_empty());
        assert_eq!(a.subjects.len(), 3);
        assert_eq!(a.subjects, b.subjects);
        assert_eq!(a.tables, b.tables);
    }

    #[test]
    fn beta_and_signal_tables() {
        let root =
            std::env::temp_dir().join(format!("bomdata-methylation-test-{}", std::process::id()));
        std::fs::create_dir_all(&root).unwrap();
        std::fs::write(
            root.join("beta.csv"),
            ",ID_REF,S1,S2\n0,cg00000029,0.5,NA\n1,cg00000108,0.25,0.75\n",
        )
        .unwrap();
        std::fs::write(
            root.join("signals.txt"),
            "ID_REF\tS3 Methylated Signal\tS3 Unmethylated Signal\tS3 Detection Pval\ncg00000029\t900\t0\t0.001\ncg00000108\t100\t100\t0.5\n",
        )
        .unwrap();
        let units = Methylation.plan(&root).unwrap();
        assert_eq!(units.len(), 2);
        let p = crate::Pseudonymizer::new(b"k".to_vec());
        let ctx = UnitContext::new(&root, "test", &p);
        let mut sink = MemSink::default();
        for u in &units {
            Methylation.convert(u, &ctx, &mut sink).unwrap();
        }
        let _ = std::fs::remove_dir_all(&root);
        // No canonical samples: a subject row per sample column, and the table parts.
        assert!(sink.samples.is_empty());
        assert_eq!(sink.subjects.len(), 3);
        assert!(sink.subjects.iter().all(|s| s.n_samples == 0));
        // Table parts: beta of each file, M-values of the signal table; rows = samples.
        assert_eq!(sink.tables.len(), 3);
        let rows: Vec<usize> = sink.tables.iter().map(|t| t.rows()).collect();
        assert_eq!(rows, [2, 1, 1]);
        assert_eq!(sink.tables[0].batch.num_columns(), 2 + 2);
        assert_eq!(sink.tables[0].batch.schema().field(2).name(), "cg00000029");
        let meta = |t: &TablePart, k: &str| t.batch.schema().metadata()[k].clone();
        let sig = &sink.tables[1];
        assert_eq!(meta(sig, VALUE_KEY), "\"beta\"");
        assert_eq!(
            meta(sig, columns::TRANSFORM_KEY),
            to_json(&Transform::Beta { offset: 100.0 }).unwrap()
        );
        assert_eq!(meta(&sink.tables[2], VALUE_KEY), "\"m_value\"");
        let col = sig.batch.column(3);
        let last = col
            .as_any()
            .downcast_ref::<bomdata_table::arrow_array::Float32Array>()
            .unwrap()
            .value(0);
        assert!(last.is_nan(), "detection-masked probe");
    }
}
