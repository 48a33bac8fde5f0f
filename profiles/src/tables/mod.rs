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
//! Every file is listed with its checksum in the manifest (`tables`, `shards`), so `verify` checks
//! it. Features are aligned over a modality's parts (the union, first-seen order; a feature a part
//! lacks is NaN with `na` set). The transforms are chosen by the `tables` profile
//! ([`transform`]) and recorded in the manifest's profile parameters under `tables`.
//! Memory: one modality's rows at a time.

pub mod read;
pub mod transform;

use std::path::Path;
use std::sync::Arc;

use arrow_array::{
    ArrayRef, BooleanArray, FixedSizeListArray, Float32Array, RecordBatch, StringArray,
};
use arrow_schema::{DataType, Field, Schema};
use bomdata_schemas::Modality;
use bomdata_schemas::key::{KeyParts, make};
use bomdata_schemas::manifest::{Manifest, ShardEntry, TableEntry};
use bomdata_shard::writer::{ShardWriter, WriterOptions};
use bomdata_shard::{Sample, dataset, npy};

use crate::build::{BuildOptions, SPLITS, shuffle};
use crate::{Error, Result};
use read::{Row, Rows};
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

/// A table-row sample waiting for its shard.
struct Pending {
    split: &'static str,
    sample: Sample,
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
    let names: Vec<String> = manifest.tables.iter().map(|t| t.name.clone()).collect();
    if !names.iter().any(|n| n.starts_with("tables/")) {
        return Ok(Carried::default());
    }
    let source = manifest.sources.first().map_or("data", String::as_str);
    let mut carried = Carried {
        record: Some(transforms.to_json()),
        ..Carried::default()
    };
    let mut pending = Vec::new();
    let mut pairs = Vec::new();
    for mut rows in read::read_modalities(input, &names)? {
        transforms.apply(&mut rows);
        let value = transforms.value_kind(&rows);
        let dir = format!("tables/{}", rows.modality);
        let features = serde_json::to_vec(&rows.features).map_err(|source| Error::Encode {
            what: "a feature list",
            source,
        })?;
        carried.tables.push(write_file(
            out,
            &format!("{dir}/features.json"),
            &features,
            rows.features.len(),
        )?);
        for split in SPLITS {
            let subset: Vec<&Row> = rows
                .rows
                .iter()
                .filter(|r| split_of(&r.subject) == split)
                .collect();
            if subset.is_empty() {
                continue;
            }
            let bytes = parquet_bytes(&rows, &subset, &value, transforms)?;
            carried.tables.push(write_file(
                out,
                &format!("{dir}/{split}.parquet"),
                &bytes,
                subset.len(),
            )?);
        }
        let modality: Option<Modality> = rows.modality.parse().ok();
        let mut last: Option<(&str, &str)> = None;
        let mut n = 0u64;
        for r in &rows.rows {
            n = if last == Some((&r.subject, &r.session)) {
                n + 1
            } else {
                0
            };
            last = Some((&r.subject, &r.session));
            let key = make(&KeyParts {
                source,
                subject: &r.subject,
                session: (!r.session.is_empty()).then_some(r.session.as_str()),
                run: None,
                modality,
                index: Some(n),
            });
            let sample = row_sample(&rows, r, &key, &value)?;
            pairs.push(PairRow {
                key,
                subject: r.subject.clone(),
                session: r.session.clone(),
                modality: rows.modality.clone(),
            });
            carried.subjects.insert(r.subject.clone());
            pending.push(Pending {
                split: split_of(&r.subject),
                sample,
            });
        }
    }
    pairs.sort_by(|a, b| a.key.cmp(&b.key));
    let json = serde_json::to_vec(&pairs).map_err(|source| Error::Encode {
        what: "the pairing rows",
        source,
    })?;
    carried
        .tables
        .push(write_file(out, "tables/pairs.json", &json, pairs.len())?);
    let (shards, samples) = write_shards(out, pending, opts)?;
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
fn clinical_text(rows: &Rows, r: &Row) -> String {
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
fn row_sample(rows: &Rows, r: &Row, key: &str, value: &str) -> Result<Sample> {
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

/// The training Parquet table of one modality and split.
fn parquet_bytes(rows: &Rows, subset: &[&Row], value: &str, t: &Transforms) -> Result<Vec<u8>> {
    let nf = rows.features.len();
    let mut fields = vec![
        Field::new("subject", DataType::Utf8, false),
        Field::new("session", DataType::Utf8, false),
    ];
    let mut cols: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from_iter_values(
            subset.iter().map(|r| &r.subject),
        )),
        Arc::new(StringArray::from_iter_values(
            subset.iter().map(|r| &r.session),
        )),
    ];
    let width = i32::try_from(nf).map_err(|_| Error::TableLayout {
        name: rows.modality.clone(),
        what: "too many features for one list column",
    })?;
    let arrow = |e| Error::TableArrow {
        name: rows.modality.clone(),
        source: e,
    };
    if nf > 0 {
        let item = Arc::new(Field::new("item", DataType::Float32, false));
        let flat: Vec<f32> = subset
            .iter()
            .flat_map(|r| r.values.iter().copied())
            .collect();
        let l = FixedSizeListArray::try_new(
            item.clone(),
            width,
            Arc::new(Float32Array::from(flat)),
            None,
        )
        .map_err(arrow)?;
        fields.push(Field::new(
            "values",
            DataType::FixedSizeList(item, width),
            false,
        ));
        cols.push(Arc::new(l));
        let masks = std::iter::once(("na".to_string(), None)).chain(
            rows.masks
                .iter()
                .enumerate()
                .map(|(k, m)| (m.clone(), Some(k))),
        );
        for (name, k) in masks {
            let item = Arc::new(Field::new("item", DataType::Boolean, false));
            let flat: Vec<bool> = subset
                .iter()
                .flat_map(|r| match k {
                    None => r.na.iter().copied(),
                    Some(k) => r.masks[k].iter().copied(),
                })
                .collect();
            let l = FixedSizeListArray::try_new(
                item.clone(),
                width,
                Arc::new(BooleanArray::from(flat)),
                None,
            )
            .map_err(arrow)?;
            fields.push(Field::new(
                format!("mask.{name}"),
                DataType::FixedSizeList(item, width),
                false,
            ));
            cols.push(Arc::new(l));
        }
    }
    for (k, c) in rows.scalars.iter().enumerate() {
        let a: StringArray = subset.iter().map(|r| r.scalars[k].clone()).collect();
        fields.push(Field::new(c, DataType::Utf8, true));
        cols.push(Arc::new(a));
    }
    let features = serde_json::to_string(&rows.features).map_err(|source| Error::Encode {
        what: "a feature list",
        source,
    })?;
    let transform = t.to_json()[rows.modality.as_str()].to_string();
    let metadata: std::collections::HashMap<String, String> = [
        ("bomdata.features", features),
        ("bomdata.modality", rows.modality.clone()),
        ("bomdata.value", value.to_string()),
        ("bomdata.transform", transform),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let schema = Arc::new(Schema::new(fields).with_metadata(metadata));
    let batch = RecordBatch::try_new(schema.clone(), cols).map_err(arrow)?;
    let mut buf = Vec::new();
    let props = parquet::file::properties::WriterProperties::builder()
        .set_compression(parquet::basic::Compression::ZSTD(Default::default()))
        .set_dictionary_enabled(false)
        .set_created_by("bomdata".to_string())
        .build();
    let parquet_err = |source| Error::TableRead {
        name: rows.modality.clone(),
        source,
    };
    let mut w =
        parquet::arrow::ArrowWriter::try_new(&mut buf, schema, Some(props)).map_err(parquet_err)?;
    w.write(&batch).map_err(parquet_err)?;
    w.close().map_err(parquet_err)?;
    Ok(buf)
}

/// Writes the table-row samples, split by split, sorted by key then shuffled by the seed.
fn write_shards(
    out: &Path,
    pending: Vec<Pending>,
    opts: &BuildOptions,
) -> Result<(Vec<ShardEntry>, u64)> {
    let mut shards = Vec::new();
    let mut n = 0;
    for split in SPLITS {
        let mut list: Vec<&Sample> = pending
            .iter()
            .filter(|p| p.split == split)
            .map(|p| &p.sample)
            .collect();
        if list.is_empty() {
            continue;
        }
        list.sort_by(|a, b| a.key.cmp(&b.key));
        let tag = format!("tables-{split}");
        shuffle(
            &mut list,
            opts.seed ^ xxhash_rust::xxh3::xxh3_64(tag.as_bytes()),
        );
        let mut w = ShardWriter::create(
            out,
            &format!("{}-tables-{split}", opts.name),
            WriterOptions {
                split: Some(split.to_string()),
                ..opts.writer.clone()
            },
        )?;
        for s in list {
            w.write(s)?;
            n += 1;
        }
        shards.extend(w.finish()?);
    }
    Ok((shards, n))
}
