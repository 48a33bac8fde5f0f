//! Tables into the training output: every canonical table part (`tables/<modality>/part-*.parquet`
//! from ingest) is carried by `bomdata shard` into the split of its subject — the same subject
//! split as every other modality — in two forms:
//!
//! ```text
//! tables/<modality>/<split>.parquet   one row per (subject, visit): subject, session,
//!                                     values (fixed-size list of Float32, one per feature),
//!                                     mask.na and the source's masks (fixed-size lists of
//!                                     Boolean), text columns; feature names, modality, value
//!                                     kind and transform in the schema metadata
//! tables/<modality>/features.json     the feature names (JSON array, the list order)
//! tables/pairs.json                   [{key, subject, session, modality}] of every table-row
//!                                     sample: the loader's `PairRow`s (the loader reads no Parquet)
//! shards/<name>-tables-<split>-NNNNNN.tar
//!                                     one sample per table row, keyed
//!                                     `<source>_<subject>[_<visit>]_<modality>_<n>`:
//!                                     values.npy (float32 [features]), na.npy (uint8, 1 = NA),
//!                                     <mask>.npy (uint8) per source mask, text.txt (clinical
//!                                     rows: `variable: value; ...` of the structured fields)
//!                                     and meta.json (subject, session, modality, value kind)
//! ```
//!
//! The canonical samples of a modality the tables carry (methylation ingest before 2026-12-08
//! kept one sample per sample column beside its parts; it now writes the parts only) are left
//! out of the training shards ([`tabled_modalities`], used by the plan in [`crate::build`]):
//! each row reaches training once, as a table row.
//!
//! Every file is listed with its checksum in the manifest (`tables`, `shards`), so `verify` checks
//! it. Features are aligned over a modality's parts (the union, first-seen order; a feature a part
//! lacks is NaN with `na` set). The transforms are chosen by the `tables` profile
//! ([`transform`]) and recorded in the manifest's profile parameters under `tables`.
//! Memory: bounded by [`Limits`] (one record batch read at a time, whatever the number of parts;
//! a row group per split; a part whose rows are not in (subject, session) order is read a batch
//! of rows at a time by row selection), not by the table: the rows stream through, and the row
//! samples wait for their shuffled order in a spill file per split. What grows with rows is
//! small: the (subject, session) keys, the read order and the pairing rows.

pub mod read;
mod spill;
mod split;
#[cfg(test)]
mod tests;
pub mod transform;

use std::path::Path;

use bomdata_schemas::Modality;
use bomdata_schemas::key::{KeyParts, make};
use bomdata_schemas::manifest::{Manifest, ShardEntry, TableEntry};
use bomdata_shard::{Sample, dataset, npy};

use crate::build::BuildOptions;
use crate::{Error, Result};
use read::{Layout, Row};
use split::SplitTables;
use transform::Transforms;

/// What carrying the tables added to the training output.
#[derive(Debug, Default)]
pub struct Carried {
    /// Parquet tables, feature lists and the pairing rows.
    pub tables: Vec<TableEntry>,
    /// The table-row shards.
    pub shards: Vec<ShardEntry>,
    /// Table-row samples written.
    pub samples: u64,
    /// The transforms, for the manifest (None when the input has no tables).
    pub record: Option<serde_json::Value>,
    /// The subjects of the table rows.
    pub subjects: std::collections::BTreeSet<String>,
}

/// One pairing row (the loader's `PairRow`).
#[derive(serde::Serialize)]
struct PairRow {
    key: String,
    subject: String,
    session: String,
    modality: String,
}

/// Bounds of memory while carrying the tables.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Values (features × (1 + masks)) of the record batch read from the parts (at least one
    /// row).
    pub batch_values: usize,
    /// Values of one row group of a training Parquet table (rows buffered before a write).
    pub group_values: usize,
}

impl Default for Limits {
    /// 4 Mi values a batch, 16 Mi values a row group: with EPIC (~866k probes) 19 rows a group,
    /// and every table of up to 16 Mi values is one row group.
    fn default() -> Self {
        Limits {
            batch_values: 4 << 20,
            group_values: 16 << 20,
        }
    }
}

/// The modalities whose table parts the input lists (`tables/<modality>/*.parquet`): their
/// canonical samples (older methylation ingests kept one per sample column) are left out
/// of the training shards, so each row reaches training once, as a table row.
pub fn tabled_modalities(manifest: &Manifest) -> std::collections::BTreeSet<String> {
    manifest
        .tables
        .iter()
        .filter_map(|t| {
            let mut it = t.name.split('/');
            match (it.next(), it.next(), it.next(), it.next()) {
                (Some("tables"), Some(m), Some(f), None) if f.ends_with(".parquet") => {
                    Some(m.to_string())
                }
                _ => None,
            }
        })
        .collect()
}

/// Carries the input's table parts into `out` (see the module docs); `split_of` gives a subject's
/// split.
pub fn carry(
    input: &Path,
    out: &Path,
    manifest: &Manifest,
    split_of: &dyn Fn(&str) -> &'static str,
    opts: &BuildOptions,
    transforms: &Transforms,
) -> Result<Carried> {
    carry_with(
        input,
        out,
        manifest,
        split_of,
        opts,
        transforms,
        Limits::default(),
    )
}

/// [`carry`] with explicit memory bounds: rows stream from the parts (one batch per part) into
/// the split tables (one row group buffered per split) and a spill file per split, from which the
/// row shards are written in their shuffled order once every modality is done.
pub fn carry_with(
    input: &Path,
    out: &Path,
    manifest: &Manifest,
    split_of: &dyn Fn(&str) -> &'static str,
    opts: &BuildOptions,
    transforms: &Transforms,
    limits: Limits,
) -> Result<Carried> {
    let names: Vec<String> = manifest.tables.iter().map(|t| t.name.clone()).collect();
    if !names.iter().any(|n| n.starts_with("tables/")) {
        return Ok(Carried::default());
    }
    let source = manifest.sources.first().map_or("data", String::as_str);
    let mut carried = Carried {
        record: Some(transforms.to_json()),
        ..Carried::default()
    };
    let mut spill = spill::Spill::new(out)?;
    let mut pairs = Vec::new();
    for planned in read::plan_modalities(input, &names)? {
        let layout = &planned.layout;
        let value = transforms.value_kind(layout);
        let dir = format!("tables/{}", layout.modality);
        let features = serde_json::to_vec(&layout.features).map_err(|source| Error::Encode {
            what: "a feature list",
            source,
        })?;
        carried.tables.push(write_file(
            out,
            &format!("{dir}/features.json"),
            &features,
            layout.features.len(),
        )?);
        let mut tables = SplitTables::new(out, &dir, layout, &value, transforms, limits)?;
        let modality: Option<Modality> = layout.modality.parse().ok();
        let mut last: Option<(String, String)> = None;
        let mut n = 0u64;
        let mut rows = planned.rows(read::ReadLimits {
            batch_values: limits.batch_values,
        })?;
        while let Some(mut r) = rows.next_row()? {
            transforms.apply(layout, &mut r);
            let same = last
                .as_ref()
                .is_some_and(|(s, v)| *s == r.subject && *v == r.session);
            n = if same { n + 1 } else { 0 };
            if !same {
                last = Some((r.subject.clone(), r.session.clone()));
            }
            let key = make(&KeyParts {
                source,
                subject: &r.subject,
                session: (!r.session.is_empty()).then_some(r.session.as_str()),
                run: None,
                modality,
                index: Some(n),
            });
            let split = split_of(&r.subject);
            spill.push(split, &row_sample(layout, &r, &key, &value)?)?;
            pairs.push(PairRow {
                key,
                subject: r.subject.clone(),
                session: r.session.clone(),
                modality: layout.modality.clone(),
            });
            carried.subjects.insert(r.subject.clone());
            tables.push(split, r)?;
        }
        carried.tables.extend(tables.finish()?);
    }
    pairs.sort_by(|a, b| a.key.cmp(&b.key));
    let json = serde_json::to_vec(&pairs).map_err(|source| Error::Encode {
        what: "the pairing rows",
        source,
    })?;
    carried
        .tables
        .push(write_file(out, "tables/pairs.json", &json, pairs.len())?);
    let (shards, samples) = spill.write_shards(out, opts)?;
    carried.shards = shards;
    carried.samples = samples;
    Ok(carried)
}

/// Writes `rel` under `out` atomically and returns its manifest entry.
fn write_file(out: &Path, rel: &str, bytes: &[u8], rows: usize) -> Result<TableEntry> {
    let path = out.join(rel);
    if let Some(d) = path.parent() {
        std::fs::create_dir_all(d).map_err(|e| Error::io(d, e))?;
    }
    dataset::write_atomic(&path, bytes)?;
    Ok(TableEntry {
        name: rel.to_string(),
        rows: rows as u64,
        checksum: dataset::checksum128(bytes),
    })
}

/// The text of a clinical row: `variable: value` of every numeric value present and every text
/// column (structured fields only: the part holds no free text unless ingest kept identity).
fn clinical_text(rows: &Layout, r: &Row) -> String {
    let mut parts = Vec::new();
    for (f, v) in rows.features.iter().zip(&r.values) {
        if v.is_finite() {
            parts.push(format!("{f}: {v}"));
        }
    }
    for (c, v) in rows.scalars.iter().zip(&r.scalars) {
        if let Some(v) = v.as_deref().filter(|v| !v.is_empty()) {
            parts.push(format!("{c}: {v}"));
        }
    }
    parts.join("; ")
}

fn flags(v: &[bool]) -> Vec<u8> {
    v.iter().map(|&b| u8::from(b)).collect()
}

/// The sample of one table row.
fn row_sample(rows: &Layout, r: &Row, key: &str, value: &str) -> Result<Sample> {
    let nf = rows.features.len();
    let mut s = Sample::new(key).with_subject(r.subject.clone());
    s.push("values.npy", npy::encode_f32(&[nf], &r.values));
    s.push("na.npy", npy::encode_u8(&[nf], &flags(&r.na)));
    for (m, v) in rows.masks.iter().zip(&r.masks) {
        s.push(format!("{m}.npy"), npy::encode_u8(&[nf], &flags(v)));
    }
    if rows.modality == Modality::ClinicalTable.as_str() {
        s.push("text.txt", clinical_text(rows, r).into_bytes());
    }
    s.push_json(
        "meta",
        &serde_json::json!({
            "subject": r.subject,
            "session": r.session,
            "modality": rows.modality,
            "value": value,
        }),
    )?;
    Ok(s)
}
