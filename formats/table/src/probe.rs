//! `bomdata probe` for tables: Olink NPX, methylation matrices, BIOM and plain tables.

use std::io::{self, Read};
use std::path::Path;

use arrow_array::Array;
use arrow_schema::DataType;
use bomdata_format_core::{ProbeOptions, Stats, json_f64};
use serde_json::{Map, Value, json};

use crate::biom::Biom;
use crate::{Table, methylation, olink, table};

fn lower_name(path: &Path) -> String {
    let s = path.to_string_lossy().to_lowercase();
    for ext in [".gz", ".bgz", ".zst"] {
        if let Some(t) = s.strip_suffix(ext) {
            return t.to_string();
        }
    }
    s
}

fn header_of(path: &Path) -> Option<(Vec<String>, Option<String>)> {
    let head = table::head_bytes(path, 1 << 16).ok()?;
    let d = crate::delimited::sniff_delimiter(&head);
    let mut r = crate::delimited::Reader::new(&head[..], d, "");
    let mut rec = crate::delimited::Record::default();
    r.read_record(&mut rec).ok()?;
    let header = rec.iter().map(|s| s.to_string()).collect();
    let first = if r.read_record(&mut rec).ok()? > 0 {
        rec.get(0).map(|s| s.to_string())
    } else {
        None
    };
    Some((header, first))
}

fn classify(header: &[String], first_cell: Option<&str>) -> &'static str {
    if olink::is_long_npx(header) {
        "olink_npx"
    } else if header
        .iter()
        .any(|h| methylation::PROBE_ID_COLUMNS.contains(&h.as_str()))
        || methylation::is_signal_table(header)
        || header
            .iter()
            .filter(|h| methylation::looks_like_probe(h))
            .count()
            * 2
            > header.len().max(1)
        || first_cell.is_some_and(methylation::looks_like_probe)
    {
        "methylation"
    } else {
        "table"
    }
}

fn xlsx_is_olink(path: &Path) -> bool {
    use calamine::{Data, Reader as _};
    let Ok(mut wb) = calamine::open_workbook::<calamine::Xlsx<_>, _>(path) else {
        return false;
    };
    let Some(Ok(range)) = wb.worksheet_range_at(0) else {
        return false;
    };
    range.rows().take(10).flatten().any(|d| match d {
        Data::String(s) => {
            s == "NPX" || s == "OlinkID" || s.starts_with("NPX ") || s.starts_with("Olink")
        }
        _ => false,
    })
}

/// The probe format name when this crate handles the file: `"biom"`, `"olink_npx"`,
/// `"methylation"` or `"table"`; by extension and, for text, by the header line.
pub fn detect(path: &Path) -> Option<&'static str> {
    let name = lower_name(path);
    let ext = name.rsplit_once('.').map(|(_, e)| e).unwrap_or("");
    match ext {
        "biom" => Some("biom"),
        "xlsx" => Some(if xlsx_is_olink(path) {
            "olink_npx"
        } else {
            "table"
        }),
        "parquet" => {
            let t = table::read_parquet(path).ok()?;
            Some(classify(&t.column_names(), None))
        }
        "csv" | "tsv" | "txt" | "tab" => {
            let (h, first) = header_of(path)?;
            Some(classify(&h, first.as_deref()))
        }
        "json" => {
            let mut head = vec![0u8; 4096];
            let n = std::fs::File::open(path)
                .and_then(|mut f| f.read(&mut head))
                .ok()?;
            let s = String::from_utf8_lossy(&head[..n]);
            s.contains("Biological Observation Matrix")
                .then_some("biom")
        }
        _ => None,
    }
}

fn dtype_name(t: &DataType) -> &'static str {
    match t {
        DataType::Int64 => "int64",
        DataType::Float64 => "float64",
        DataType::Float32 => "float32",
        DataType::Boolean => "bool",
        _ => "str",
    }
}

/// Shape, columns, dtypes, NA counts and numeric column statistics of a table.
pub fn table_summary(t: &Table) -> Map<String, Value> {
    let mut m = Map::new();
    let b = &t.batch;
    m.insert("shape".into(), json!([b.num_rows(), b.num_columns()]));
    m.insert("columns".into(), json!(t.column_names()));
    let schema = b.schema();
    let mut dtypes = Map::new();
    let mut na = Map::new();
    let mut stats = Map::new();
    for (i, f) in schema.fields().iter().enumerate() {
        dtypes.insert(f.name().clone(), json!(dtype_name(f.data_type())));
        na.insert(f.name().clone(), json!(b.column(i).null_count()));
        if let Some(v) = t.numeric_column(i) {
            let mut s = Stats::default();
            s.extend(v);
            stats.insert(f.name().clone(), s.to_json());
        }
    }
    m.insert("dtypes".into(), Value::Object(dtypes));
    m.insert("na_counts".into(), Value::Object(na));
    m.insert("numeric_column_stats".into(), Value::Object(stats));
    if let Some(d) = t.delimiter {
        m.insert("delimiter".into(), json!((d as char).to_string()));
    }
    m
}

/// The probe report (PROBE.md, Tables).
pub fn probe(path: &Path, _opts: &ProbeOptions) -> io::Result<Value> {
    let format = detect(path).unwrap_or("table");
    let mut m = Map::new();
    m.insert("format".into(), json!(format));
    m.insert("path".into(), json!(path.to_string_lossy()));
    if format == "biom" {
        let b = Biom::read(path)?;
        m.insert("container".into(), json!(b.container));
        m.insert("shape".into(), json!(b.shape()));
        m.insert("columns".into(), json!(b.sample_ids));
        m.insert("observation_ids".into(), json!(b.observation_ids));
        m.insert("type".into(), json!(b.kind));
        m.insert("generated_by".into(), json!(b.generated_by));
        m.insert("table_id".into(), json!(b.id));
        m.insert("nnz".into(), json!(b.nnz()));
        let dense = b.dense();
        let mut s = Stats::default();
        s.extend(dense.iter().copied());
        m.insert("total_sum".into(), json_f64(s.sum()));
        m.insert("stats".into(), s.to_json());
        m.insert("sample_sums".into(), json!(b.sample_sums()));
        m.insert("observation_sums".into(), json!(b.observation_sums()));
        m.insert("na_counts".into(), json!({}));
        m.insert("numeric_column_stats".into(), json!({}));
        return Ok(Value::Object(m));
    }
    let t = table::read_path(path)?;
    m.extend(table_summary(&t));
    let names = t.column_names();
    if format == "olink_npx" && olink::is_long_npx(&names) {
        let c = olink::locate(&t)?;
        m.insert("platform".into(), json!(c.platform.as_str()));
        for col in [
            "SampleID", "OlinkID", "Assay", "UniProt", "Panel", "PlateID",
        ] {
            if let Some(i) = t.column_index(col) {
                let u: std::collections::HashSet<_> =
                    t.text_column(i).into_iter().flatten().collect();
                m.insert(format!("n_unique_{col}"), json!(u.len()));
            }
        }
        // The pandas-comparable pivot: every sample, repeats averaged.
        let all = olink::pivot(
            &t,
            &olink::PivotOptions {
                duplicates: olink::Duplicates::Mean,
                drop_controls: false,
                bridge_ids: Vec::new(),
            },
        )?;
        m.insert(
            "wide_pivot_mean_NPX_shape".into(),
            json!([all.sample_ids.len(), all.olink_ids.len()]),
        );
        let mut s = Stats::default();
        s.extend(all.npx.iter().copied());
        m.insert("wide_pivot_mean_NPX_stats".into(), s.to_json());
        // The ingest pivot: controls and bridges dropped.
        let p = olink::pivot(
            &t,
            &olink::PivotOptions {
                duplicates: olink::Duplicates::Mean,
                ..Default::default()
            },
        )?;
        m.insert(
            "pivot".into(),
            json!({
                "shape": [p.sample_ids.len(), p.olink_ids.len()],
                "dropped_control_samples": p.dropped_controls.len(),
                "dropped_bridge_samples": p.dropped_bridges.len(),
                "dropped_rows": p.dropped_rows,
                "duplicates_resolved": p.duplicates_resolved,
                "qc_warning_cells": p.qc_warning.iter().filter(|x| **x).count(),
                "assay_warning_cells": p.assay_warning.iter().filter(|x| **x).count(),
                "below_lod_cells": p.below_lod.iter().filter(|x| **x).count(),
            }),
        );
    }
    if format == "methylation" {
        if let Some(i) = methylation::PROBE_ID_COLUMNS
            .iter()
            .find_map(|c| t.column_index(c))
        {
            let ids: Vec<String> = t
                .text_column(i)
                .into_iter()
                .map(|s| s.unwrap_or_default())
                .collect();
            m.insert("probe_id_column".into(), json!(names[i]));
            m.insert("n_probes".into(), json!(ids.len()));
            m.insert(
                "first_5_probe_ids".into(),
                json!(ids.iter().take(5).collect::<Vec<_>>()),
            );
            let mut pc = Map::new();
            for p in ["cg", "ch", "rs", "nv", "mu"] {
                pc.insert(
                    p.into(),
                    json!(ids.iter().filter(|s| s.starts_with(p)).count()),
                );
            }
            m.insert("probe_prefix_counts".into(), Value::Object(pc));
            m.insert(
                "array_version".into(),
                json!(methylation::ArrayVersion::detect(ids.iter().map(|s| s.as_str())).as_str()),
            );
        }
        let mut s = Stats::default();
        for (i, f) in t.batch.schema().fields().iter().enumerate() {
            if f.data_type() == &DataType::Float64
                && let Some(v) = t.numeric_column(i)
            {
                s.extend(v);
            }
        }
        m.insert("all_float_values_stats".into(), s.to_json());
    }
    Ok(Value::Object(m))
}
