//! Olink NPX long tables (`*.csv`/`*.tsv`/`*.parquet`) → one proteomics sample per sample row.
//!
//! Members: `values.npy` (float32 NPX per OlinkID, NaN when absent), `qc_warning.npy`,
//! `assay_warning.npy`, `below_lod.npy` (uint8 masks), `meta.json` ([`OmicsRow`]). Control and
//! bridge samples are dropped and counted in `meta.json`; a repeated (SampleID, OlinkID) fails
//! the unit (the runtime reports it). The SampleID is the subject ID (pseudonymised).

use std::path::{Path, PathBuf};

use bomdata_schemas::Modality;
use bomdata_schemas::key::{KeyParts, make, sanitize};
use bomdata_schemas::omics::{Dropped, OmicsRow, ValueKind};
use bomdata_schemas::subjects::SubjectRow;
use bomdata_shard::{Sample, npy};
use bomdata_table::olink;

use crate::{Error, Result, SampleSink, Source, Unit, UnitContext};

/// Lists one unit per file under `root` that `keep` accepts (by `bomdata_table::probe::detect`).
pub(crate) fn plan_files(root: &Path, keep: &dyn Fn(&Path) -> bool) -> Result<Vec<Unit>> {
    let mut units = Vec::new();
    for e in walkdir::WalkDir::new(root).sort_by_file_name() {
        let e = e.map_err(|e| Error::input(root, e))?;
        if !e.file_type().is_file() || !keep(e.path()) {
            continue;
        }
        let rel: PathBuf = e
            .path()
            .strip_prefix(root)
            .unwrap_or(e.path())
            .to_path_buf();
        let id: String = rel
            .to_string_lossy()
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || "_.-".contains(c) {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        units.push(Unit {
            id,
            subject: None,
            session: None,
            bytes: e.metadata().map(|m| m.len()).unwrap_or(0),
            inputs: vec![rel],
            detail: serde_json::Value::Null,
        });
    }
    units.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(units)
}

/// The subject-table row of one written sample.
pub(crate) fn subject_row(
    ctx: &UnitContext<'_>,
    pseudo: &str,
    session: &str,
    modality: Modality,
) -> SubjectRow {
    SubjectRow {
        subject: pseudo.to_string(),
        source: ctx.source.to_string(),
        session: session.to_string(),
        modalities: vec![modality],
        n_samples: 1,
        split: String::new(),
    }
}

/// Encodes a boolean mask as uint8 `[n]`.
pub(crate) fn mask_npy(mask: &[bool]) -> Vec<u8> {
    let v: Vec<u8> = mask.iter().map(|&b| u8::from(b)).collect();
    npy::encode_u8(&[v.len()], &v)
}

/// The Olink NPX adapter.
#[derive(Clone, Copy, Debug, Default)]
pub struct Olink;

impl Source for Olink {
    fn name(&self) -> &'static str {
        "olink"
    }

    fn modalities(&self) -> &'static [Modality] {
        &[Modality::Proteomics]
    }

    fn plan(&self, root: &Path) -> Result<Vec<Unit>> {
        plan_files(root, &|p| {
            bomdata_table::probe::detect(p) == Some("olink_npx")
                && !p.to_string_lossy().ends_with(".xlsx")
        })
    }

    fn convert(&self, unit: &Unit, ctx: &UnitContext<'_>, sink: &mut dyn SampleSink) -> Result<()> {
        let rel = unit
            .inputs
            .first()
            .ok_or_else(|| Error::Other(format!("unit {} has no input", unit.id)))?;
        let path = ctx.path(rel);
        let t = bomdata_table::table::read_path(&path).map_err(|e| Error::io(&path, e))?;
        let w =
            olink::pivot(&t, &olink::PivotOptions::default()).map_err(|e| Error::io(&path, e))?;
        let na = w.olink_ids.len();
        let mut meta = OmicsRow::new(Modality::Proteomics, ValueKind::Npx);
        meta.features = w.olink_ids.clone();
        meta.n_features = na as u64;
        meta.masks = vec![
            "qc_warning".into(),
            "assay_warning".into(),
            "below_lod".into(),
        ];
        meta.platform = w.platform.as_str().to_string();
        meta.dropped = Dropped {
            control_samples: w.dropped_controls.len() as u64,
            bridge_samples: w.dropped_bridges.len() as u64,
            rows: w.dropped_rows as u64,
            duplicates_resolved: w.duplicates_resolved as u64,
            duplicates_policy: "error".into(),
        };
        meta.provenance = Some(bomdata_schemas::Provenance {
            source: ctx.source.to_string(),
            file: rel.to_string_lossy().into_owned(),
            part: None,
            reader: format!("bomdata-table {}", env!("CARGO_PKG_VERSION")),
        });
        for (i, sid) in w.sample_ids.iter().enumerate() {
            let pseudo = ctx.pseudonym(sid);
            let run = sanitize(&unit.id);
            let key = make(&KeyParts {
                source: ctx.source,
                subject: &pseudo,
                session: None,
                run: Some(&run),
                modality: Some(Modality::Proteomics),
                index: None,
            });
            let row = i * na..(i + 1) * na;
            let values: Vec<f32> = w.npx[row.clone()].iter().map(|&v| v as f32).collect();
            let mut s = Sample::new(key).with_subject(pseudo.clone());
            s.push("values.npy", npy::encode_f32(&[na], &values));
            s.push("qc_warning.npy", mask_npy(&w.qc_warning[row.clone()]));
            s.push("assay_warning.npy", mask_npy(&w.assay_warning[row.clone()]));
            s.push("below_lod.npy", mask_npy(&w.below_lod[row]));
            s.push_json("meta", &meta)?;
            sink.write_sample(s)?;
            sink.subject(subject_row(ctx, &pseudo, "", Modality::Proteomics))?;
        }
        if !w.dropped_controls.is_empty() || !w.dropped_bridges.is_empty() {
            sink.skipped(
                &path,
                &format!(
                    "{} control and {} bridge samples dropped ({} rows)",
                    w.dropped_controls.len(),
                    w.dropped_bridges.len(),
                    w.dropped_rows
                ),
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sink::MemSink;

    #[test]
    fn npx_samples() {
        let root = std::env::temp_dir().join(format!("bomdata-olink-test-{}", std::process::id()));
        std::fs::create_dir_all(&root).unwrap();
        std::fs::write(
            root.join("npx.csv"),
            "SampleID;OlinkID;NPX;QC_Warning;LOD\nS1;OID2;1.0;Pass;0.5\nS1;OID1;0.2;Warning;0.5\nCONTROL_1;OID1;3;Pass;0.5\nS2;OID1;2.0;Pass;0.5\n",
        )
        .unwrap();
        let units = Olink.plan(&root).unwrap();
        assert_eq!(units.len(), 1);
        let p = crate::Pseudonymizer::new(b"k".to_vec());
        let ctx = UnitContext::new(&root, "test", &p);
        let mut sink = MemSink::default();
        Olink.convert(&units[0], &ctx, &mut sink).unwrap();
        let _ = std::fs::remove_dir_all(&root);
        assert_eq!(sink.samples.len(), 2);
        let meta: OmicsRow = serde_json::from_slice(&sink.samples[0].members[4].data).unwrap();
        assert_eq!(meta.features, ["OID1", "OID2"]);
        assert_eq!(meta.dropped.control_samples, 1);
        let qc = &sink.samples[0].members[1].data;
        assert_eq!(&qc[qc.len() - 2..], &[1, 0]);
    }
}
