//! TUEG / TUH EEG corpora (TUAB, TUSZ, TUEV, ...): EDF files in a tree whose montage is a
//! folder name (`01_tcp_ar`, `02_tcp_le`, `03_tcp_ar_a`) and whose file names carry subject,
//! session and token: `aaaaamye_s001_t000.edf`.
//!
//! Layouts seen: TUAB `edf/{train,eval}/{normal,abnormal}/01_tcp_ar/<file>.edf`, TUSZ
//! `edf/{dev,train,eval}/<subject>/s001_2002_01_01/02_tcp_le/<file>.edf`, TUEG `edf/NNN/...`.
//! The tree is walked recursively; the montage is the nearest ancestor folder named
//! `NN_tcp_*`. One unit per EDF; each becomes canonical `eeg/1` chunks
//! ([`crate::canonical::eeg::convert`]) with the reference from the montage (AR or LE).
//! TUEV `.rec` event files (CSV) are not EDF and are not read here.

use std::path::{Path, PathBuf};

use bomdata_schemas::Modality;

use super::common::main_input;
use super::common::{file_size, unit_id};
use crate::canonical::{Target, eeg};
use crate::source::{SampleSink, Source, Unit, UnitContext};
use crate::{Error, Result};

/// The TUH EEG adapter (`adapter = "tueg"`).
#[derive(Clone, Copy, Debug, Default)]
pub struct Tueg;

/// Subject, session and token of a TUH file stem `aaaaamye_s001_t000`.
///
/// ```
/// use bomdata_ingest::sources::tueg::parse_name;
/// assert_eq!(parse_name("aaaaamye_s001_t000"), Some(("aaaaamye", "s001", "t000")));
/// assert_eq!(parse_name("notes"), None);
/// ```
pub fn parse_name(stem: &str) -> Option<(&str, &str, &str)> {
    let mut it = stem.split('_');
    let (subject, session, token) = (it.next()?, it.next()?, it.next()?);
    let tagged = |s: &str, c: char| {
        s.strip_prefix(c)
            .is_some_and(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()))
    };
    (it.next().is_none() && !subject.is_empty() && tagged(session, 's') && tagged(token, 't'))
        .then_some((subject, session, token))
}

/// The montage folder (`01_tcp_ar`, ...) nearest to the file, if any.
pub fn montage_of(rel: &Path) -> Option<String> {
    rel.parent()?
        .ancestors()
        .filter_map(|p| p.file_name()?.to_str())
        .find(|n| {
            let b = n.as_bytes();
            b.len() > 7
                && b[0].is_ascii_digit()
                && b[1].is_ascii_digit()
                && n[2..].starts_with("_tcp_")
        })
        .map(str::to_string)
}

impl Source for Tueg {
    fn name(&self) -> &'static str {
        "tueg"
    }

    fn modalities(&self) -> &'static [Modality] {
        &[Modality::Eeg]
    }

    fn plan(&self, root: &Path) -> Result<Vec<Unit>> {
        let mut units = Vec::new();
        for entry in walkdir::WalkDir::new(root).sort_by_file_name() {
            let entry = entry.map_err(|e| Error::input(root, e))?;
            let p = entry.path();
            if !entry.file_type().is_file()
                || !p
                    .extension()
                    .and_then(|e| e.to_str())
                    .is_some_and(|e| e.eq_ignore_ascii_case("edf"))
            {
                continue;
            }
            let rel: PathBuf = p.strip_prefix(root).unwrap_or(p).to_path_buf();
            let stem = p.file_stem().and_then(|s| s.to_str()).unwrap_or_default();
            let (subject, session, token) = match parse_name(stem) {
                Some((a, b, c)) => (a.to_string(), Some(b.to_string()), Some(c.to_string())),
                None => (stem.to_string(), None, None),
            };
            let montage = montage_of(&rel);
            units.push(Unit {
                id: unit_id("tueg_", &rel),
                subject: Some(subject),
                session,
                bytes: file_size(p),
                inputs: vec![rel],
                detail: serde_json::json!({ "token": token, "montage": montage }),
            });
        }
        units.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(units)
    }

    fn convert(&self, unit: &Unit, ctx: &UnitContext<'_>, sink: &mut dyn SampleSink) -> Result<()> {
        let rel = main_input(unit)?;
        let path = ctx.path(rel);
        let subject = unit.subject.as_deref().unwrap_or("unknown");
        let target = Target::new(
            rel,
            subject,
            unit.session.as_deref(),
            unit.detail["token"].as_str(),
        );
        let montage = unit.detail["montage"].as_str();
        eeg::convert(&path, Modality::Eeg, &target, ctx, sink, |l| {
            l.set_montage(montage);
            // TUH recordings come from Temple University Hospital, USA.
            l.meta.power_line_hz = Some(60.0);
            l.parts = eeg::Parts::Records;
        })
        .map(|_| ())
    }
}
