//! Microbiome BIOM tables → one microbiome sample per BIOM sample.
//!
//! `values.npy` holds the counts (float32 per observation), `relative_abundance.npy` counts over
//! the sample total, `clr.npy` the centred log-ratio with pseudocount 0.5 and natural log; both
//! transforms are recorded in `meta.json` (`derived`). Observation IDs are the features; the
//! taxonomy strings are in `meta.json` `taxonomy` (one per feature, `d__...;p__...`) when present.

use std::path::Path;

use bomdata_schemas::Modality;
use bomdata_schemas::key::{KeyParts, make, sanitize};
use bomdata_schemas::omics::{OmicsRow, Transform, ValueKind, ZeroReplacement};
use bomdata_shard::{Sample, npy};
use bomdata_table::biom::{self, Biom};

use super::olink::{plan_files, subject_row};
use crate::{Error, Result, SampleSink, Source, Unit, UnitContext};

/// Pseudocount used before the CLR.
pub const CLR_PSEUDOCOUNT: f64 = 0.5;

/// The BIOM adapter.
#[derive(Clone, Copy, Debug, Default)]
pub struct Microbiome;

impl Source for Microbiome {
    fn name(&self) -> &'static str {
        "microbiome"
    }

    fn modalities(&self) -> &'static [Modality] {
        &[Modality::Microbiome]
    }

    fn plan(&self, root: &Path) -> Result<Vec<Unit>> {
        plan_files(root, &|p| bomdata_table::probe::detect(p) == Some("biom"))
    }

    fn convert(&self, unit: &Unit, ctx: &UnitContext<'_>, sink: &mut dyn SampleSink) -> Result<()> {
        let rel = unit
            .inputs
            .first()
            .ok_or_else(|| Error::Other(format!("unit {} has no input", unit.id)))?;
        let path = ctx.path(rel);
        let b = Biom::read(&path).map_err(|e| Error::io(&path, e))?;
        let no = b.observation_ids.len();
        let counts = b.by_sample();
        let rel_ab = b.relative_abundance();
        let clr = b.clr(
            biom::ZeroReplacement::Pseudocount(CLR_PSEUDOCOUNT),
            std::f64::consts::E,
        );
        let mut meta = OmicsRow::new(Modality::Microbiome, ValueKind::Count);
        meta.features = b.observation_ids.clone();
        meta.n_features = no as u64;
        meta.platform = b.kind.clone();
        meta.derived.insert(
            "relative_abundance.npy".into(),
            Transform::RelativeAbundance,
        );
        meta.derived.insert(
            "clr.npy".into(),
            Transform::Clr {
                zero_replacement: ZeroReplacement::Pseudocount {
                    value: CLR_PSEUDOCOUNT,
                },
                log_base: std::f64::consts::E,
            },
        );
        let taxa: Vec<String> = b
            .observation_metadata
            .iter()
            .map(|m| {
                biom::parse_taxonomy(m.get("taxonomy").unwrap_or(&serde_json::Value::Null))
                    .into_iter()
                    .map(|(r, n)| if r.is_empty() { n } else { format!("{r}__{n}") })
                    .collect::<Vec<_>>()
                    .join(";")
            })
            .collect();
        if taxa.iter().any(|t| !t.is_empty()) {
            meta.taxonomy = taxa;
        }
        meta.provenance = Some(bomdata_schemas::Provenance {
            source: ctx.source.to_string(),
            file: rel.to_string_lossy().into_owned(),
            part: None,
            reader: format!("bomdata-table {}", env!("CARGO_PKG_VERSION")),
        });
        let run = sanitize(&unit.id);
        let f32s = |v: &[f64]| v.iter().map(|&x| x as f32).collect::<Vec<f32>>();
        for (i, sid) in b.sample_ids.iter().enumerate() {
            let pseudo = ctx.pseudonym(sid);
            let key = make(&KeyParts {
                source: ctx.source,
                subject: &pseudo,
                session: None,
                run: Some(&run),
                modality: Some(Modality::Microbiome),
                index: None,
            });
            let row = i * no..(i + 1) * no;
            let mut s = Sample::new(key).with_subject(pseudo.clone());
            s.push(
                "values.npy",
                npy::encode_f32(&[no], &f32s(&counts[row.clone()])),
            );
            s.push(
                "relative_abundance.npy",
                npy::encode_f32(&[no], &f32s(&rel_ab[row.clone()])),
            );
            s.push("clr.npy", npy::encode_f32(&[no], &f32s(&clr[row])));
            s.push_json("meta", &meta)?;
            sink.write_sample(s)?;
            sink.subject(subject_row(ctx, &pseudo, "", Modality::Microbiome))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sink::MemSink;

    #[test]
    fn biom_samples() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/data/biom");
        let units = Microbiome.plan(&root).unwrap();
        assert_eq!(units.len(), 2);
        let p = crate::Pseudonymizer::new(b"k".to_vec());
        let ctx = UnitContext::new(&root, "test", &p);
        let mut sink = MemSink::default();
        Microbiome.convert(&units[1], &ctx, &mut sink).unwrap();
        assert_eq!(sink.samples.len(), 6);
        assert_eq!(sink.subjects.len(), 6);
        let s = &sink.samples[0];
        let names: Vec<&str> = s.members.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "values.npy",
                "relative_abundance.npy",
                "clr.npy",
                "meta.json"
            ]
        );
        assert!(!s.key.contains("Sample1"));
        let meta: OmicsRow = serde_json::from_slice(&s.members[3].data).unwrap();
        assert_eq!(meta.n_features, 5);
        assert!(meta.taxonomy[0].starts_with("k__Bacteria;p__Proteobacteria"));
    }
}
