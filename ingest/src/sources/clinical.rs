//! Clinical tables and biomarkers → a clinical table part per file and a clinical-text sample per
//! row.
//!
//! A table `X.csv` (or `.tsv`, `.txt`) is taken when a mapping `X.mapping.tsv` sits beside it
//! (format: `bomdata_table::clinical`). Per file, one table part (see [`crate::tables`]) with a row
//! per table row: `subject` (pseudonymous), `session` (the visit), `values` (fixed-size list of
//! Float32 numeric variables in canonical units, NaN when missing), `mask.out_of_range` (values
//! are flagged, never clipped), then one Utf8 column per categorical variable (recoded by
//! `levels`) and per date variable (shifted). The numeric variable names are in the schema
//! metadata ([`tables::FEATURES_KEY`]), their canonical units under [`UNITS_KEY`]. Free-text
//! variables are left out of the part unless `ctx.keep_identity`. Per row, one
//! `<key>_clinical_text` sample: `text.txt` (`instrument: <table>; <variable>: <value>; ...` of
//! the structured fields: numeric values and categorical variables, no free text, dates or
//! identifiers; with `keep_identity`, every mapped variable as `variable: value` lines) and
//! `meta.json` ([`TextRecord`]).
//!
//! Identifier columns are never written. Names, phone numbers and original IDs found on the row
//! are scrubbed from text; dates (also a visit label that is a date) are shifted by a per-subject
//! number of days derived from the subject's pseudonym (so they stay consistent across visits and
//! tables), never written verbatim; long digit runs are removed. Unless `ctx.keep_identity`,
//! nothing identifying leaves the adapter.

use std::path::{Path, PathBuf};

use std::sync::Arc;

use bomdata_schemas::Modality;
use bomdata_schemas::key::{KeyParts, make, sanitize};
use bomdata_schemas::omics::{TextRecord, Transform, ValueKind, columns};
use bomdata_shard::Sample;
use bomdata_table::arrow_array::{ArrayRef, StringArray};
use bomdata_table::arrow_schema::{DataType, Field};
use bomdata_table::clinical::{self, Kind, Scrubber};

use super::methylation::{SOURCE_KEY, VALUE_KEY};
use super::olink::{plan_files, subject_row, to_json};
use crate::tables::{self, ListPart, ListValues, TablePart};
use crate::{Error, Result, SampleSink, Source, Unit, UnitContext};

/// The clinical-table adapter.
#[derive(Clone, Copy, Debug, Default)]
pub struct Clinical;

/// The `X.mapping.tsv` beside a clinical table `X.csv`, when there is one.
pub(crate) fn mapping_for(table: &Path) -> Option<PathBuf> {
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
        let provenance = bomdata_schemas::Provenance {
            source: ctx.source.to_string(),
            file: rel.to_string_lossy().into_owned(),
            part: None,
            reader: format!("bomdata-table {}", env!("CARGO_PKG_VERSION")),
        };
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
        let rows = Rows {
            table: &t,
            vars: &vars,
            recs: &recs,
            scrubber_for: &scrubber_for,
        };
        let sessions: Vec<String> = (0..recs.len()).map(|r| rows.session(r)).collect();
        let part = rows.part(ctx, &sessions)?;
        let run = sanitize(&unit.id);
        let instrument = path
            .file_stem()
            .map_or_else(|| run.clone(), |s| sanitize(&s.to_string_lossy()));
        let categories = rows.categories()?;
        for (row, (r, subject)) in recs.iter().zip(&part.subjects).enumerate() {
            let session = (!sessions[row].is_empty()).then_some(sessions[row].as_str());
            let key = make(&KeyParts {
                source: ctx.source,
                subject,
                session,
                run: Some(&run),
                modality: Some(Modality::ClinicalText),
                index: Some(row as u64),
            });
            let mut s = Sample::new(key).with_subject(subject.clone());
            let text = if keep {
                r.text.clone()
            } else {
                structured_text(&instrument, r, &categories, row)
            };
            s.push("text.txt", text.into_bytes());
            s.push_json("meta", &text_meta)?;
            sink.write_sample(s)?;
            let mut sr = subject_row(ctx, subject, &sessions[row], Modality::ClinicalTable);
            sr.modalities.push(Modality::ClinicalText);
            sink.subject(sr)?;
        }
        sink.write_table(TablePart::new(Modality::ClinicalTable, part.build()?)?)
    }
}

/// The text of one row: `instrument: <table>; <variable>: <value>; ...` of the numeric values
/// present (canonical units) and the categorical variables (recoded) — structured fields only:
/// no free text, no dates, no identifiers.
fn structured_text(
    instrument: &str,
    rec: &clinical::ClinicalRecord,
    categories: &[(String, Vec<Option<String>>)],
    row: usize,
) -> String {
    let mut parts = vec![format!("instrument: {instrument}")];
    for (variable, value, _) in &rec.numeric {
        if value.is_finite() {
            parts.push(format!("{variable}: {value}"));
        }
    }
    for (variable, cells) in categories {
        if let Some(v) = cells.get(row).and_then(Option::as_deref) {
            parts.push(format!("{variable}: {v}"));
        }
    }
    parts.join("; ")
}

/// Schema-metadata key of a clinical part holding the canonical unit of each numeric variable
/// (JSON array, in list order).
pub const UNITS_KEY: &str = "bomdata.units";

/// The converted rows of one clinical table, with what the part needs besides them.
struct Rows<'a> {
    table: &'a bomdata_table::Table,
    vars: &'a [clinical::Variable],
    recs: &'a [clinical::ClinicalRecord],
    scrubber_for: &'a dyn Fn(&str, usize) -> Scrubber,
}

impl Rows<'_> {
    /// The session of row `r`: its visit label, shifted as the subject's dates when it is a date.
    fn session(&self, r: usize) -> String {
        let rec = &self.recs[r];
        let sc = (self.scrubber_for)(&rec.subject, r);
        sc.shift_date(rec.visit.trim())
            .unwrap_or_else(|| rec.visit.clone())
    }

    /// The text cells of variable `v` (categorical recoded by `levels`, dates shifted, text
    /// scrubbed), one per row, as [`clinical::convert`] writes them into the text record.
    fn strings(&self, v: &clinical::Variable) -> Result<Vec<Option<String>>> {
        let i = self.table.column_index(&v.column).ok_or_else(|| {
            Error::input(
                &self.table.name,
                format!("mapped column {:?} is absent", v.column),
            )
        })?;
        let cells = self.table.text_column(i);
        Ok(cells
            .iter()
            .enumerate()
            .map(|(r, c)| {
                let c = c.as_deref()?;
                let sc = (self.scrubber_for)(&self.recs[r].subject, r);
                match v.kind {
                    Kind::Date => sc.shift_date(c.trim()),
                    Kind::Categorical => {
                        let rec = v
                            .levels
                            .iter()
                            .find(|(a, _)| a == c)
                            .map(|(_, b)| b.as_str());
                        Some(sc.scrub(rec.unwrap_or(c)))
                    }
                    _ => Some(sc.scrub(c)),
                }
            })
            .collect())
    }

    /// The categorical variables other than the visit, recoded, one cell per row.
    fn categories(&self) -> Result<Vec<(String, Vec<Option<String>>)>> {
        self.vars
            .iter()
            .filter(|v| v.kind == Kind::Categorical && v.variable != "visit")
            .map(|v| Ok((v.variable.clone(), self.strings(v)?)))
            .collect()
    }

    /// The table part: numeric values and out-of-range flags as lists, categorical and date
    /// variables (and free text with `keep_identity`) as Utf8 columns.
    fn part(&self, ctx: &UnitContext<'_>, sessions: &[String]) -> Result<ListPart> {
        let numeric: Vec<&clinical::Variable> = self
            .vars
            .iter()
            .filter(|v| v.kind == Kind::Numeric)
            .collect();
        let values = self
            .recs
            .iter()
            .flat_map(|r| r.numeric.iter().map(|x| x.1 as f32))
            .collect();
        let oor = self
            .recs
            .iter()
            .flat_map(|r| r.numeric.iter().map(|x| x.2))
            .collect();
        let mut scalars: Vec<(Field, ArrayRef)> = Vec::new();
        for v in self.vars {
            let wanted = match v.kind {
                Kind::Categorical => v.variable != "visit",
                Kind::Date => true,
                Kind::Text => ctx.keep_identity,
                Kind::Numeric | Kind::Identifier => false,
            };
            if wanted {
                let a: StringArray = self.strings(v)?.into_iter().collect();
                scalars.push((Field::new(&v.variable, DataType::Utf8, true), Arc::new(a)));
            }
        }
        let metadata = [
            (
                columns::SCHEMA_KEY,
                bomdata_schemas::omics::VERSION.to_string(),
            ),
            (columns::TRANSFORM_KEY, to_json(&Transform::None)?),
            (VALUE_KEY, to_json(&ValueKind::Clinical)?),
            (SOURCE_KEY, ctx.source.to_string()),
            (
                UNITS_KEY,
                to_json(
                    &numeric
                        .iter()
                        .map(|v| &v.canonical_unit)
                        .collect::<Vec<_>>(),
                )?,
            ),
        ];
        Ok(ListPart {
            subjects: self
                .recs
                .iter()
                .map(|r| ctx.pseudonym(&r.subject))
                .collect(),
            sessions: sessions.to_vec(),
            features: numeric.iter().map(|v| v.variable.clone()).collect(),
            lists: vec![
                (tables::VALUES.to_string(), ListValues::F32(values)),
                (tables::mask_column("out_of_range"), ListValues::Bool(oor)),
            ],
            scalars,
            metadata: metadata
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect(),
        })
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
        tables: usize,
        part: Option<crate::tables::TablePart>,
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
        fn write_table(&mut self, part: crate::tables::TablePart) -> Result<()> {
            // Every text the part holds: its metadata, column names and string cells.
            use bomdata_table::arrow_array::Array;
            self.tables += 1;
            let b = &part.batch;
            for (k, v) in b.schema().metadata() {
                self.bytes.extend_from_slice(k.as_bytes());
                self.bytes.extend_from_slice(v.as_bytes());
            }
            for (f, c) in b.schema().fields().iter().zip(b.columns()) {
                self.bytes.extend_from_slice(f.name().as_bytes());
                if let Some(s) = c.as_any().downcast_ref::<StringArray>() {
                    for i in 0..s.len() {
                        if s.is_valid(i) {
                            self.bytes.extend_from_slice(s.value(i).as_bytes());
                            self.bytes.push(b'\n');
                        }
                    }
                }
            }
            self.part = Some(part);
            Ok(())
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
        // One text sample per row; the numbers, categories and dates in one table part.
        assert_eq!(sink.n, 2);
        assert_eq!(sink.tables, 1);
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
        // Structured fields only: instrument, numeric values, categories; no free text.
        let text = String::from_utf8_lossy(out);
        assert!(
            text.contains("instrument: visits; nfl_plasma: 12.5; mmse: 27; diagnosis: MCI"),
            "{text}"
        );
        assert!(!text.contains("note") && !text.contains("called"), "{text}");
        let b = &sink.part.as_ref().unwrap().batch;
        let names = crate::tables::column_names(b);
        assert_eq!(
            names,
            [
                "subject",
                "session",
                "values",
                "mask.out_of_range",
                "birth_date",
                "exam_date",
                "diagnosis"
            ],
            "identifiers and free text (note) are not columns"
        );
        assert_eq!(
            b.schema().metadata()[crate::tables::FEATURES_KEY],
            r#"["nfl_plasma","mmse"]"#
        );
    }
}
