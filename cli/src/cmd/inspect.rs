//! `bomdata inspect`.

use std::collections::BTreeMap;
use std::path::PathBuf;

use bomdata_schemas::report::{Outcome, ReportEntry};
use bomdata_shard::dataset;

/// Arguments of `bomdata inspect`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The dataset directory.
    pub dataset: PathBuf,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// Runs `bomdata inspect`.
pub fn run(a: &Args) -> anyhow::Result<i32> {
    let m = dataset::read_manifest(&a.dataset)?;
    let mut by_split: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    for s in &m.shards {
        let e = by_split
            .entry(s.split.clone().unwrap_or_else(|| "-".into()))
            .or_default();
        e.0 += s.samples;
        e.1 += s.size;
    }
    let mut by_modality: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    let mut by_source: BTreeMap<String, u64> = BTreeMap::new();
    let rows = if a.dataset.join(dataset::SUBJECTS).is_file() {
        bomdata_shard::subjects::read(&a.dataset)?
    } else {
        vec![]
    };
    let mut subjects_per_modality: BTreeMap<String, std::collections::BTreeSet<String>> =
        BTreeMap::new();
    for r in &rows {
        *by_source.entry(r.source.clone()).or_default() += r.n_samples;
        for md in &r.modalities {
            let e = by_modality.entry(md.to_string()).or_default();
            e.0 += 1;
            subjects_per_modality
                .entry(md.to_string())
                .or_default()
                .insert(r.subject.clone());
        }
    }
    for (md, subs) in &subjects_per_modality {
        if let Some(e) = by_modality.get_mut(md) {
            e.1 = subs.len() as u64;
        }
    }
    // Table parts (`tables/<modality>/part-*.parquet`): parts and rows per modality.
    let mut tables: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    for t in &m.tables {
        let mut path = t.name.split('/');
        if path.next() != Some(bomdata_ingest::tables::TABLES) {
            continue;
        }
        let e = tables
            .entry(path.next().unwrap_or_default().to_string())
            .or_default();
        e.0 += 1;
        e.1 += t.rows;
    }
    let report_path = a.dataset.join(dataset::REPORT);
    let mut failed = Vec::new();
    let mut skipped = 0;
    let mut entries = Vec::new();
    if let Ok(text) = std::fs::read_to_string(&report_path) {
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            if let Ok(r) = serde_json::from_str::<ReportEntry>(line) {
                match r.outcome {
                    Outcome::Failed => failed.push(r.clone()),
                    Outcome::Skipped => skipped += 1,
                }
                entries.push(r);
            }
        }
    }
    let skip_reasons = bomdata_schemas::report::summarize(&entries, Outcome::Skipped);
    let v = serde_json::json!({
        "kind": m.kind,
        "tool": m.tool,
        "sources": m.sources,
        "profile": m.profile,
        "counts": m.counts,
        "splits": by_split.iter().map(|(k, (n, b))| (k.clone(), serde_json::json!({"samples": n, "bytes": b}))).collect::<serde_json::Map<_, _>>(),
        "samples_by_source": by_source,
        "modalities": by_modality.iter().map(|(k, (sessions, subjects))| (k.clone(), serde_json::json!({"sessions": sessions, "subjects": subjects}))).collect::<serde_json::Map<_, _>>(),
        "tables": tables.iter().map(|(k, (parts, rows))| (k.clone(), serde_json::json!({"parts": parts, "rows": rows}))).collect::<serde_json::Map<_, _>>(),
        "failed": failed.iter().map(|r| serde_json::json!({"path": r.path, "reason": r.reason})).collect::<Vec<_>>(),
        "skipped": skipped,
        "skipped_by_reason": skip_reasons.iter().map(|(k, n)| serde_json::json!({"reason": k, "count": n})).collect::<Vec<_>>(),
    });
    if a.json {
        super::print_json(&v, false)?;
        return Ok(0);
    }
    outln!("dataset     {}", a.dataset.display());
    outln!("kind        {:?}  ({})", m.kind, m.tool);
    outln!("sources     {}", m.sources.join(", "));
    if let Some(p) = &m.profile {
        outln!("profile     {} {}", p.name, p.params);
    }
    outln!(
        "samples     {} in {} shards, {:.2} MB; {} subjects; {} units, {} failed, {} skipped inputs",
        m.counts.samples,
        m.counts.shards,
        m.counts.bytes as f64 / 1e6,
        m.counts.subjects,
        m.counts.units,
        m.counts.failed_units,
        skipped
    );
    for (split, (n, b)) in &by_split {
        outln!(
            "split       {split:<6} {n} samples, {:.2} MB",
            *b as f64 / 1e6
        );
    }
    for (md, (sessions, subjects)) in &by_modality {
        outln!("modality    {md:<14} {subjects} subjects, {sessions} sessions");
    }
    for (md, (parts, rows)) in &tables {
        outln!("table       {md:<14} {rows} rows in {parts} parts");
    }
    for (reason, n) in &skip_reasons {
        outln!("skipped     {n} × {reason}");
    }
    for r in &failed {
        outln!("failed      {}: {}", r.path, r.reason);
    }
    Ok(0)
}
