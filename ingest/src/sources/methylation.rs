//! DNA methylation tables → one methylation sample per sample column.
//!
//! Beta matrices (either orientation) give `values.npy` (float32 beta per probe, NaN = NA or
//! masked). GEO signal tables give beta as `values.npy` (offset 100, Illumina) and
//! `m_values.npy` (log2, alpha 1), probes failing detection p ≤ 0.01 NaN; both transforms are in
//! `meta.json`. Probe IDs are listed in `meta.json` up to [`MAX_INLINE_FEATURES`]; above that only
//! their SHA-256 (the ID list must then be kept beside the dataset: see the note in the report).
//!
//! Each file also becomes table parts (see [`crate::tables`]): the beta values (and, for signal
//! tables, the M-values) as one row per (pseudonymous subject, visit) with one Float32 column per
//! probe, the transform and array in the Parquet schema metadata. Original sample IDs are never
//! written.

use std::path::Path;

use bomdata_schemas::Modality;
use bomdata_schemas::key::{KeyParts, make, sanitize};
use bomdata_schemas::omics::{OmicsRow, Transform, ValueKind, columns};
use bomdata_shard::{Sample, npy};
use bomdata_table::methylation::{self, BetaMatrix, SignalOptions};
use sha2::{Digest, Sha256};

use super::olink::{plan_files, subject_row};
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

/// Most probe IDs written into each sample's `meta.json`.
pub const MAX_INLINE_FEATURES: usize = 10_000;

/// The methylation adapter.
#[derive(Clone, Copy, Debug, Default)]
pub struct Methylation;

fn column(m: &BetaMatrix, j: usize) -> Vec<f32> {
    let ns = m.sample_ids.len();
    (0..m.probe_ids.len())
        .map(|i| m.values[i * ns + j])
        .collect()
}

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
        let t = bomdata_table::table::read_path(&path).map_err(|e| Error::io(&path, e))?;
        let mut meta = OmicsRow::new(Modality::Methylation, ValueKind::Beta);
        let (beta, mvals) = if methylation::is_signal_table(&t.column_names()) {
            let opts = SignalOptions::default();
            let r = methylation::from_signals(&t, &opts).map_err(|e| Error::io(&path, e))?;
            meta.transform = Transform::Beta {
                offset: opts.beta_offset,
            };
            meta.derived.insert(
                "m_values.npy".into(),
                Transform::MValue {
                    alpha: opts.m_alpha,
                    log_base: opts.log_base,
                },
            );
            meta.masks = vec![];
            (r.beta, Some(r.m_values))
        } else {
            (
                methylation::beta_matrix(&t).map_err(|e| Error::io(&path, e))?,
                None,
            )
        };
        let np = beta.probe_ids.len();
        meta.n_features = np as u64;
        meta.platform = beta.array.as_str().to_string();
        if np <= MAX_INLINE_FEATURES {
            meta.features = beta.probe_ids.clone();
        } else {
            let mut h = Sha256::new();
            for p in &beta.probe_ids {
                h.update(p.as_bytes());
                h.update(b"\n");
            }
            meta.features_sha256 = Some(hex::encode(h.finalize()));
        }
        meta.provenance = Some(bomdata_schemas::Provenance {
            source: ctx.source.to_string(),
            file: rel.to_string_lossy().into_owned(),
            part: None,
            reader: format!("bomdata-table {}", env!("CARGO_PKG_VERSION")),
        });
        let run = sanitize(&unit.id);
        for (j, sid) in beta.sample_ids.iter().enumerate() {
            let pseudo = ctx.pseudonym(sid);
            let key = make(&KeyParts {
                source: ctx.source,
                subject: &pseudo,
                session: None,
                run: Some(&run),
                modality: Some(Modality::Methylation),
                index: None,
            });
            let mut s = Sample::new(key).with_subject(pseudo.clone());
            s.push("values.npy", npy::encode_f32(&[np], &column(&beta, j)));
            if let Some(m) = &mvals {
                s.push("m_values.npy", npy::encode_f32(&[np], &column(m, j)));
            }
            s.push_json("meta", &meta)?;
            sink.write_sample(s)?;
            sink.subject(subject_row(ctx, &pseudo, "", Modality::Methylation))?;
        }
        // The same values as one wide table: a row per (subject, visit), a column per probe.
        let subjects: Vec<String> = beta.sample_ids.iter().map(|s| ctx.pseudonym(s)).collect();
        let sessions = vec![unit.session.clone().unwrap_or_default(); subjects.len()];
        let part = |m: &BetaMatrix, kind: ValueKind, transform: &Transform| -> Result<TablePart> {
            let ns = m.sample_ids.len();
            let metadata = [
                (
                    columns::SCHEMA_KEY.to_string(),
                    bomdata_schemas::omics::VERSION.to_string(),
                ),
                (columns::TRANSFORM_KEY.to_string(), to_json(transform)?),
                (VALUE_KEY.to_string(), to_json(&kind)?),
                (PLATFORM_KEY.to_string(), m.array.as_str().to_string()),
                (SOURCE_KEY.to_string(), ctx.source.to_string()),
            ];
            let batch = tables::wide_f32(
                &subjects,
                &sessions,
                &m.probe_ids,
                |i| m.values[i * ns..(i + 1) * ns].to_vec(),
                metadata,
            )?;
            TablePart::new(Modality::Methylation, batch)
        };
        sink.write_table(part(&beta, ValueKind::Beta, &meta.transform)?)?;
        if let (Some(m), Some(t)) = (&mvals, meta.derived.get("m_values.npy")) {
            sink.write_table(part(m, ValueKind::MValue, t)?)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sink::MemSink;

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
        assert_eq!(sink.samples.len(), 3);
        // Table parts: beta of each file, M-values of the signal table; rows = samples.
        assert_eq!(sink.tables.len(), 3);
        let rows: Vec<usize> = sink.tables.iter().map(|t| t.rows()).collect();
        assert_eq!(rows, [2, 1, 1]);
        assert_eq!(sink.tables[0].batch.num_columns(), 2 + 2);
        assert_eq!(sink.tables[0].batch.schema().field(2).name(), "cg00000029");
        let sig = sink
            .samples
            .iter()
            .find(|s| s.members.iter().any(|m| m.name == "m_values.npy"))
            .unwrap();
        let meta: OmicsRow = serde_json::from_slice(&sig.members.last().unwrap().data).unwrap();
        assert_eq!(meta.transform, Transform::Beta { offset: 100.0 });
        assert_eq!(meta.features, ["cg00000029", "cg00000108"]);
        let v = &sig.members[0].data;
        let last = f32::from_le_bytes(v[v.len() - 4..].try_into().unwrap());
        assert!(last.is_nan(), "detection-masked probe");
    }
}
