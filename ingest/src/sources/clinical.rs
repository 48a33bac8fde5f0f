//! Clinical tables and biomarkers → a clinical-table sample and a clinical-text sample per row.
//!
//! A table `X.csv` (or `.tsv`, `.txt`) is taken when a mapping `X.mapping.tsv` sits beside it
//! (format: `bomdata_table::clinical`). Per row (subject, visit):
//! - `<key>_clinical_table`: `values.npy` (float32 numeric variables in canonical units),
//!   `out_of_range.npy` (uint8; values are flagged, never clipped), `meta.json` ([`OmicsRow`]);
//! - `<key>_clinical_text`: `text.txt` (`variable: value` lines) and `meta.json` ([`TextRecord`]).
//!
//! Identifier columns are never written. Names, phone numbers and original IDs found on the row
//! are scrubbed from text; dates are shifted by a per-subject number of days derived from the
//! subject's pseudonym (so they stay consistent across visits and tables); long digit runs are
//! removed. Unless `ctx.keep_identity`, nothing identifying leaves the adapter.

use std::path::{Path, PathBuf};

use bomdata_schemas::Modality;
use bomdata_schemas::key::{KeyParts, make, sanitize};
use bomdata_schemas::omics::{OmicsRow, TextRecord, ValueKind};
use bomdata_shard::{Sample, npy};
use bomdata_table::clinical::{self, Kind, Scrubber};

use super::olink::{mask_npy, plan_files, subject_row};
use crate::{Error, Result, SampleSink, Source, Unit, UnitContext};

/// The clinical-table adapter.
#[derive(Clone, Copy, Debug, Default)]
pub struct Clinical;

fn mapping_for(table: &Path) -> Option<PathBuf> {
    let name = table.file_name()?.to_string_lossy().into_owned();
    if name.ends_with(".mapping.tsv") {
        return None;
    }
    let stem = name.rsplit_once('.').map(|(s, _)| s.to_string())?;
    let m = table.with_file_name(format!("{stem}.mapping.tsv"));
    m.is_file().then_some(m)
}

impl Source for Clinical {
    fn name(&self) -> &'static str {
        "clinical"
    }

    fn modalities(&self) -> &'static [Modality] {
        &[Modality::ClinicalTable, Modality::ClinicalText]
    }

    fn plan(&self, root: &Path) -> Result<Vec<Unit>> {
        plan_files(root, &|p| mapping_for(p).is_some())
    }

    fn convert(&self, unit: &Unit, ctx: &UnitContext<'_>, sink: &mut dyn SampleSink) -> Result<()> {
        let rel = unit
            .inputs
            .first()
            .ok_or_else(|| Error::Other(format!("unit {} has no input", unit.id)))?;
        let path = ctx.path(rel);
        let mpath = mapping_for(&path)
            .ok_or_else(|| Error::input(&path, "no .mapping.tsv beside the table"))?;
        let t = bomdata_table::table::read_path(&path).map_err(|e| Error::io(&path, e))?;
        let m = bomdata_table::table::read_path(&mpath).map_err(|e| Error::io(&mpath, e))?;
        let vars = clinical::read_mapping(&m).map_err(|e| Error::io(&mpath, e))?;
        // Every identifier column's value on a row is a string to scrub from that row's text.
        let id_cols: Vec<Vec<Option<String>>> = vars
            .iter()
            .filter(|v| v.kind == Kind::Identifier)
            .filter_map(|v| t.column_index(&v.column).map(|i| t.text_column(i)))
            .collect();
        let keep = ctx.keep_identity;
        let scrubber_for = |subject: &str, row: usize| {
            let mut known: Vec<String> = id_cols.iter().filter_map(|c| c[row].clone()).collect();
            known.push(subject.to_string());
            let pseudo = ctx.pseudonym(subject);
            let seed = u64::from_str_radix(pseudo.get(..16).unwrap_or("0"), 16).unwrap_or(7);
            Scrubber::new(
                if keep { Vec::new() } else { known },
                clinical::shift_from_seed(seed),
            )
        };
        let recs = clinical::convert(&t, &vars, &scrubber_for).map_err(|e| Error::io(&path, e))?;
        let numeric: Vec<&clinical::Variable> =
            vars.iter().filter(|v| v.kind == Kind::Numeric).collect();
        let mut meta = OmicsRow::new(Modality::ClinicalTable, ValueKind::Clinical);
        meta.features = numeric.iter().map(|v| v.variable.clone()).collect();
        meta.units = numeric.iter().map(|v| v.canonical_unit.clone()).collect();
        meta.n_features = numeric.len() as u64;
        meta.masks = vec!["out_of_range".into()];
        let provenance = bomdata_schemas::Provenance {
            source: ctx.source.to_string(),
            file: rel.to_string_lossy().into_owned(),
            part: None,
            reader: format!("bomdata-table {}", env!("CARGO_PKG_VERSION")),
        };
        meta.provenance = Some(provenance.clone());
        let text_meta = TextRecord {
            schema: bomdata_schemas::omics::VERSION.to_string(),
            instrument: sanitize(&unit.id),
            source_fields: vars
                .iter()
                .filter(|v| v.kind != Kind::Identifier)
                .map(|v| v.column.clone())
                .collect(),
            scrubbed: if keep {
                Vec::new()
            } else {
                vec![
                    "names".into(),
                    "dates_shifted".into(),
                    "phone".into(),
                    "ids".into(),
                ]
            },
            provenance: Some(provenance),
        };
        let run = sanitize(&unit.id);
        for (row, r) in recs.iter().enumerate() {
            let pseudo = ctx.pseudonym(&r.subject);
            let session = (!r.visit.is_empty()).then_some(r.visit.as_str());
            let key = |m: Modality| {
                make(&KeyParts {
                    source: ctx.source,
                    subject: &pseudo,
                    session,
                    run: Some(&run),
                    modality: Some(m),
                    index: Some(row as u64),
                })
            };
            let values: Vec<f32> = r.numeric.iter().map(|x| x.1 as f32).collect();
            let oor: Vec<bool> = r.numeric.iter().map(|x| x.2).collect();
            let mut s = Sample::new(key(Modality::ClinicalTable)).with_subject(pseudo.clone());
            s.push("values.npy", npy::encode_f32(&[values.len()], &values));
            s.push("out_of_range.npy", mask_npy(&oor));
            s.push_json("meta", &meta)?;
            sink.write_sample(s)?;
            let mut s = Sample::new(key(Modality::ClinicalText)).with_subject(pseudo.clone());
            s.push("text.txt", r.text.clone().into_bytes());
            s.push_json("meta", &text_meta)?;
            sink.write_sample(s)?;
            let mut sr = subject_row(ctx, &pseudo, &r.visit, Modality::ClinicalTable);
            sr.modalities.push(Modality::ClinicalText);
            sr.n_samples = 2;
            sink.subject(sr)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bomdata_schemas::subjects::SubjectRow;

    #[derive(Default)]
    struct Collect {
        bytes: Vec<u8>,
        n: usize,
    }

    impl SampleSink for Collect {
        fn write_sample(&mut self, sample: Sample) -> Result<()> {
            self.n += 1;
            self.bytes.extend_from_slice(sample.key.as_bytes());
            for m in sample.members {
                self.bytes.extend_from_slice(m.name.as_bytes());
                self.bytes.extend_from_slice(&m.data);
            }
            Ok(())
        }
        fn subject(&mut self, row: SubjectRow) -> Result<()> {
            self.bytes
                .extend_from_slice(serde_json::to_string(&row).unwrap_or_default().as_bytes());
            Ok(())
        }
        fn skipped(&mut self, path: &Path, reason: &str) {
            self.bytes
                .extend_from_slice(path.to_string_lossy().as_bytes());
            self.bytes.extend_from_slice(reason.as_bytes());
        }
    }

    #[test]
    fn deidentified_outputs() {
        // (ingest has no tempfile dev-dependency: a unique folder under the system temp dir)
        let root =
            std::env::temp_dir().join(format!("bomdata-clinical-test-{}", std::process::id()));
        std::fs::create_dir_all(&root).unwrap();
        struct Dir(PathBuf);
        impl Drop for Dir {
            fn drop(&mut self) {
                let _ = std::fs::remove_dir_all(&self.0);
            }
        }
        let dir = Dir(root);
        let dir = &dir;
        std::fs::write(
            dir.0.as_path().join("visits.csv"),
            "PTID,NAME,DOB,PHONE,VISCODE,EXAMDATE,NFL,MMSE,DX,NOTE\n\
             SUBJ-0042-1234,Ada Lovelace,1815-12-10,+44 20 7946 0958,bl,2019-03-14,12.5,27,MCI,Ada Lovelace called 020 7946 0958 on 14/03/2019 re SUBJ-0042-1234\n\
             SUBJ-0099-5678,Charles Babbage,26/12/1791,(555) 123-4567,bl,2019-05-02,15,30,NL,Mr Babbage (MRN 77881234) well\n",
        )
        .unwrap();
        std::fs::write(
            dir.0.as_path().join("visits.mapping.tsv"),
            "column\tvariable\ttype\tunit\tcanonical_unit\tmin\tmax\tlevels\n\
             PTID\tsubject_id\tidentifier\t\t\t\t\t\n\
             NAME\tname\tidentifier\t\t\t\t\t\n\
             PHONE\tphone\tidentifier\t\t\t\t\t\n\
             DOB\tbirth_date\tdate\t\t\t\t\t\n\
             VISCODE\tvisit\tcategorical\t\t\t\t\t\n\
             EXAMDATE\texam_date\tdate\t\t\t\t\t\n\
             NFL\tnfl_plasma\tnumeric\tpg/mL\tng/L\t0\t1000\t\n\
             MMSE\tmmse\tnumeric\t\t\t0\t30\t\n\
             DX\tdiagnosis\tcategorical\t\t\t\t\tNL=CN\n\
             NOTE\tnote\ttext\t\t\t\t\t\n",
        )
        .unwrap();
        let src = Clinical;
        let units = src.plan(dir.0.as_path()).unwrap();
        assert_eq!(units.len(), 1);
        let p = crate::Pseudonymizer::new(b"test-key".to_vec());
        let ctx = UnitContext::new(dir.0.as_path(), "adni", &p);
        let mut sink = Collect::default();
        src.convert(&units[0], &ctx, &mut sink).unwrap();
        assert_eq!(sink.n, 4);
        let out = &sink.bytes;
        for secret in [
            "Ada",
            "Lovelace",
            "Charles",
            "Babbage",
            "1815-12-10",
            "26/12/1791",
            "+44 20 7946 0958",
            "7946",
            "0958",
            "(555) 123-4567",
            "123-4567",
            "SUBJ-0042-1234",
            "SUBJ-0099-5678",
            "0042",
            "77881234",
            "2019-03-14",
            "14/03/2019",
            "2019-05-02",
        ] {
            let hit = out
                .windows(secret.len())
                .any(|w| w.eq_ignore_ascii_case(secret.as_bytes()));
            assert!(
                !hit,
                "{secret:?} appears in the output:\n{}",
                String::from_utf8_lossy(out)
            );
        }
        assert!(String::from_utf8_lossy(out).contains("diagnosis: CN"));
    }
}
