//! NSRR sleep cohorts (SHHS, MESA, CFS, ...): EDF polysomnograms plus NSRR XML scored events.
//!
//! Layout: `polysomnography/edfs/<cohort>/<name>.edf` with
//! `polysomnography/annotations-events-nsrr/<cohort>/<name>-nsrr.xml`; the XML is found by name
//! anywhere under the root (`<name>-nsrr.xml`, else `<name>.xml`). The subject is the part of the
//! name after its last `-` (`shhs1-200001` → subject `200001`, session `shhs1`).
//!
//! XML: `PSGAnnotation/ScoredEvents/ScoredEvent` with `EventType`, `EventConcept`, `Start`
//! (or `Starttime`, used by the NSRR translator; both are accepted) and `Duration`, in seconds
//! from the recording start. Sleep stages (`EventType` `Stages|Stages`) become annotations
//! `Sleep stage W/1/2/3/4/R`, `Movement` and `Unscored` (stage 4 is kept apart from 3; AASM
//! merging is a profile's choice); other events keep the concept's name (`Obstructive apnea`).
//! The `Recording Start Time` event is not an annotation.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use bomdata_schemas::Modality;
use bomdata_schemas::eeg::Annotation;

use super::common::main_input;
use super::common::{file_size, unit_id};
use crate::canonical::{Target, eeg};
use crate::source::{SampleSink, Source, Unit, UnitContext};
use crate::{Error, Result};

/// The NSRR adapter (`adapter = "nsrr"`).
#[derive(Clone, Copy, Debug, Default)]
pub struct Nsrr;

fn unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

fn child<'a>(block: &'a str, tag: &str) -> Option<&'a str> {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    let start = block.find(&open)? + open.len();
    let end = block[start..].find(&close)? + start;
    Some(block[start..end].trim())
}

/// The annotation text of an NSRR event concept: sleep stages normalised, else the concept's
/// name before `|`.
///
/// ```
/// use bomdata_ingest::sources::nsrr::stage_text;
/// assert_eq!(stage_text("Stages|Stages", "Stage 2 sleep|2"), "Sleep stage 2");
/// assert_eq!(stage_text("Stages|Stages", "REM sleep|5"), "Sleep stage R");
/// assert_eq!(stage_text("Stages|Stages", "Wake"), "Sleep stage W");
/// assert_eq!(stage_text("Stages|Stages", "NREM3|3"), "Sleep stage 3");
/// assert_eq!(stage_text("Respiratory|Respiratory", "Obstructive apnea|Obstructive Apnea"), "Obstructive apnea");
/// ```
pub fn stage_text(event_type: &str, concept: &str) -> String {
    let name = concept.split('|').next().unwrap_or(concept).trim();
    if !event_type.to_ascii_lowercase().starts_with("stages") {
        return name.to_string();
    }
    let code = concept.split('|').nth(1).map(str::trim);
    let lname = name.to_ascii_lowercase();
    let stage = match code {
        Some("0") => "W",
        Some("1") => "1",
        Some("2") => "2",
        Some("3") => "3",
        Some("4") => "4",
        Some("5") => "R",
        Some("6") => return "Movement".into(),
        Some("9") => return "Unscored".into(),
        _ if lname.starts_with("wake") => "W",
        _ if lname.starts_with("rem") => "R",
        _ if lname.contains("movement") => return "Movement".into(),
        _ => return name.to_string(),
    };
    format!("Sleep stage {stage}")
}

/// Parses the scored events of an NSRR XML file (seconds from the recording start).
pub fn parse_xml(xml: &str, path: &Path) -> Result<Vec<Annotation>> {
    let mut out = Vec::new();
    let mut rest = xml;
    while let Some(i) = rest.find("<ScoredEvent>") {
        let after = &rest[i + "<ScoredEvent>".len()..];
        let end = after
            .find("</ScoredEvent>")
            .ok_or_else(|| Error::input(path, "unclosed <ScoredEvent>"))?;
        let block = &after[..end];
        rest = &after[end..];
        let concept = unescape(child(block, "EventConcept").unwrap_or_default());
        let etype = unescape(child(block, "EventType").unwrap_or_default());
        if concept.starts_with("Recording Start Time") {
            continue;
        }
        let start = child(block, "Start")
            .or_else(|| child(block, "Starttime"))
            .ok_or_else(|| {
                Error::input(
                    path,
                    format!("event {concept:?} has no <Start> or <Starttime>"),
                )
            })?;
        let onset: f64 = start.parse().map_err(|_| {
            Error::input(
                path,
                format!("event {concept:?}: start {start:?} is not a number"),
            )
        })?;
        let duration = match child(block, "Duration") {
            Some(d) => Some(d.parse::<f64>().map_err(|_| {
                Error::input(
                    path,
                    format!("event {concept:?}: duration {d:?} is not a number"),
                )
            })?),
            None => None,
        };
        out.push(Annotation {
            onset_s: onset,
            duration_s: duration,
            text: stage_text(&etype, &concept),
        });
    }
    Ok(out)
}

/// Session and subject of an NSRR file stem: `shhs1-200001` → (`shhs1`, `200001`).
pub fn parse_name(stem: &str) -> (Option<&str>, &str) {
    match stem.rsplit_once('-') {
        Some((a, b)) if !a.is_empty() && !b.is_empty() => (Some(a), b),
        _ => (None, stem),
    }
}

impl Source for Nsrr {
    fn name(&self) -> &'static str {
        "nsrr"
    }

    fn modalities(&self) -> &'static [Modality] {
        &[Modality::Eeg]
    }

    fn plan(&self, root: &Path) -> Result<Vec<Unit>> {
        let mut edfs = Vec::new();
        let mut xmls: BTreeMap<String, PathBuf> = BTreeMap::new();
        for entry in walkdir::WalkDir::new(root).sort_by_file_name() {
            let entry = entry.map_err(|e| Error::input(root, e))?;
            if !entry.file_type().is_file() {
                continue;
            }
            let p = entry.path();
            let rel = p.strip_prefix(root).unwrap_or(p).to_path_buf();
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default();
            let lower = name.to_ascii_lowercase();
            if lower.ends_with(".edf") {
                edfs.push(rel);
            } else if let Some(stem) = lower.strip_suffix("-nsrr.xml") {
                xmls.insert(stem.to_string(), rel);
            } else if let Some(stem) = lower.strip_suffix(".xml") {
                xmls.entry(stem.to_string()).or_insert(rel);
            }
        }
        let mut units = Vec::new();
        for rel in edfs {
            let stem = rel.file_stem().and_then(|s| s.to_str()).unwrap_or_default();
            let (session, subject) = parse_name(stem);
            let mut inputs = vec![rel.clone()];
            if let Some(x) = xmls.get(&stem.to_ascii_lowercase()) {
                inputs.push(x.clone());
            }
            let bytes = inputs.iter().map(|r| file_size(&root.join(r))).sum();
            units.push(Unit {
                id: unit_id("nsrr_", &rel),
                subject: Some(subject.to_string()),
                session: session.map(str::to_string),
                inputs,
                bytes,
                detail: serde_json::Value::Null,
            });
        }
        units.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(units)
    }

    fn convert(&self, unit: &Unit, ctx: &UnitContext<'_>, sink: &mut dyn SampleSink) -> Result<()> {
        let rel = main_input(unit)?;
        let extra = match unit.inputs.get(1) {
            Some(x) => {
                let p = ctx.path(x);
                let text = std::fs::read_to_string(&p).map_err(|e| Error::io(&p, e))?;
                parse_xml(&text, &p)?
            }
            None => Vec::new(),
        };
        let subject = unit.subject.as_deref().unwrap_or("unknown");
        let target = Target::new(rel, subject, unit.session.as_deref(), None);
        eeg::convert(&ctx.path(rel), Modality::Eeg, &target, ctx, sink, |l| {
            l.annotations.extend(extra);
            l.parts = eeg::Parts::Records;
        })
        .map(|_| ())
    }
}
