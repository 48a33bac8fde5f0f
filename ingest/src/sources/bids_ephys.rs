//! BIDS EEG / iEEG / MEG datasets (HBN-EEG, PEERS, OpenNeuro): one unit per recording.
//!
//! Recordings are `sub-<label>/[ses-<label>/]{eeg,ieeg,meg}/sub-<label>[_<key>-<value>...]_{eeg,ieeg,meg}.{edf,bdf,vhdr,set,fif,nwb}`
//! where the suffix matches the folder (BrainVision `.eeg`/`.vmrk` and EEGLAB `.fdt` files are
//! inputs of their header's unit, not units). The tree is walked recursively, so one root may
//! hold several datasets (HBN releases R1..R11); `derivatives/`, `sourcedata/`, `code/` and hidden
//! folders are not entered. The modality is the folder (`eeg`, `ieeg`, `meg`).
//!
//! Sidecars are found by the BIDS inheritance principle: the nearest folder (the recording's,
//! then each parent up to the root) holding a file `<entities>_<suffix>` whose entities are a
//! subset of the recording's; the most specific one there wins (values are not merged across
//! levels). Read:
//! - `_channels.tsv`: `name`, `type` (EEG/ECOG/SEEG/DBS → eeg, EOG/HEOG/VEOG, ECG, EMG,
//!   TRIG → stim, MEGMAG/MEGGRADAXIAL → mag, MEGGRADPLANAR → grad, MEGREF* → ref_meg, everything
//!   else → misc), `units` (used when the file states none),
//!   `status` (`bad` channels are left out and reported as skipped);
//! - `_electrodes.tsv` (any `space-`) with the `_coordsystem.json` of the same space: x, y, z
//!   scaled from `<Modality>CoordinateUnits` (m, cm, mm) to mm, frame `bids:<CoordinateSystem>`;
//!   `n/a` or unknown units → NaN. Without usable electrodes, EEG channels get standard 10-05
//!   positions by name and iEEG/MEG channels NaN;
//! - `_<modality>.json`: `PowerLineFrequency`, `EEGReference`/`iEEGReference` (an electrode name,
//!   average, linked ears or bipolar; else the reference is inferred from the labels),
//!   `SamplingFrequency` (checked against the file; the file wins, a mismatch is logged);
//! - `_events.tsv`: `onset`, `duration`, `trial_type` and `value` (joined with `/` when both are
//!   given) become the annotations, replacing the file's own markers.
//!
//! Samples: see [`crate::canonical::eeg`]. Keys carry the session and the other entities
//! (`task-rest_run-1`) as run; the provenance path has `sub-<label>` replaced by the pseudonym.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use bomdata_schemas::Modality;
use bomdata_schemas::eeg::{self, ChannelType, Reference};

use super::common::main_input;
use super::common::{file_size, unit_id};
use crate::canonical::Target;
use crate::canonical::eeg::{
    self as ephys, ChannelHint, Positions, kind_type, normalize, parse_reference,
};
use crate::source::{SampleSink, Source, Unit, UnitContext};
use crate::{Error, Result};

/// The BIDS electrophysiology adapter (`adapter = "bids_ephys"`).
#[derive(Clone, Copy, Debug, Default)]
pub struct BidsEphys;

const EXTENSIONS: [&str; 6] = ["edf", "bdf", "vhdr", "set", "fif", "nwb"];
const MODALITIES: [&str; 3] = ["eeg", "ieeg", "meg"];
/// Largest sidecar read (TSV/JSON), bytes.
const MAX_SIDECAR: u64 = 64 << 20;

/// BIDS entities of a file name (`sub-01_ses-2_task-rest_eeg.edf`) in order, and its suffix
/// (`eeg`); `None` when a part before the suffix is not `key-value`.
///
/// ```
/// use bomdata_ingest::sources::bids_ephys::entities;
/// let (e, suffix) = entities("sub-01_task-rest_run-2_eeg.vhdr").unwrap();
/// assert_eq!(e, [("sub".to_string(), "01".to_string()), ("task".into(), "rest".into()), ("run".into(), "2".into())]);
/// assert_eq!(suffix, "eeg");
/// assert!(entities("task-rest_eeg.json").is_some());
/// assert!(entities("sub01_eeg.edf").is_none());
/// ```
pub fn entities(name: &str) -> Option<(Vec<(String, String)>, String)> {
    let stem = name.split('.').next().unwrap_or(name);
    let mut parts: Vec<&str> = stem.split('_').collect();
    let suffix = parts.pop()?.to_string();
    if suffix.is_empty() || suffix.contains('-') {
        return None;
    }
    let mut out = Vec::new();
    for p in parts {
        let (k, v) = p.split_once('-')?;
        if k.is_empty() || v.is_empty() {
            return None;
        }
        out.push((k.to_string(), v.to_string()));
    }
    Some((out, suffix))
}

fn get<'a>(e: &'a [(String, String)], k: &str) -> Option<&'a str> {
    e.iter().find(|(a, _)| a == k).map(|(_, v)| v.as_str())
}

/// Files of the tree by folder (relative), names sorted.
type Tree = BTreeMap<PathBuf, Vec<String>>;

/// Rows of a TSV file, column → value.
type Rows = Vec<BTreeMap<String, String>>;

/// The sidecar `<entities>_<suffix>.<ext>` that applies to a recording (inheritance principle).
fn find_sidecar(
    tree: &Tree,
    dir: &Path,
    rec: &[(String, String)],
    suffix_ext: &str,
    ignore: &[&str],
) -> Option<PathBuf> {
    let mut d = Some(dir);
    while let Some(here) = d {
        if let Some(names) = tree.get(here) {
            let mut best: Option<(usize, &String)> = None;
            for n in names {
                let matches_name =
                    n.ends_with(&format!("_{suffix_ext}")) || n.as_str() == suffix_ext;
                if !matches_name {
                    continue;
                }
                let ents = if n.as_str() == suffix_ext {
                    Vec::new()
                } else {
                    match entities(n) {
                        Some((e, _)) => e,
                        None => continue,
                    }
                };
                let ok = ents
                    .iter()
                    .filter(|(k, _)| !ignore.contains(&k.as_str()))
                    .all(|(k, v)| get(rec, k) == Some(v.as_str()));
                if ok && best.is_none_or(|(s, _)| ents.len() > s) {
                    best = Some((ents.len(), n));
                }
            }
            if let Some((_, n)) = best {
                return Some(here.join(n));
            }
        }
        d = here.parent();
    }
    None
}

fn skip_dir(name: &str) -> bool {
    name.starts_with('.') || matches!(name, "derivatives" | "sourcedata" | "code")
}

/// Whether `rel` is a recording: `.../sub-X/[ses-Y/]<mod>/sub-X..._<mod>.<ext>`; returns the
/// modality folder name.
fn recording_modality(rel: &Path) -> Option<&'static str> {
    let name = rel.file_name()?.to_str()?;
    let (stem, ext) = name.rsplit_once('.')?;
    if !EXTENSIONS.contains(&ext.to_ascii_lowercase().as_str()) || !name.starts_with("sub-") {
        return None;
    }
    let folder = rel.parent()?.file_name()?.to_str()?;
    let m = MODALITIES.iter().find(|m| **m == folder)?;
    if !stem.ends_with(&format!("_{m}")) {
        return None;
    }
    let up = rel.parent()?.parent()?;
    let up_name = up.file_name()?.to_str()?;
    let sub_ok = if up_name.starts_with("ses-") {
        up.parent()?.file_name()?.to_str()?.starts_with("sub-")
    } else {
        up_name.starts_with("sub-")
    };
    sub_ok.then_some(*m)
}

fn modality_of(m: &str) -> Modality {
    match m {
        "ieeg" => Modality::Ieeg,
        "meg" => Modality::Meg,
        _ => Modality::Eeg,
    }
}

/// The channel type of a BIDS `channels.tsv` `type` value.
///
/// ```
/// use bomdata_ingest::sources::bids_ephys::bids_type;
/// use bomdata_schemas::eeg::ChannelType;
/// assert_eq!(bids_type("SEEG"), ChannelType::Eeg);
/// assert_eq!(bids_type("VEOG"), ChannelType::Eog);
/// assert_eq!(bids_type("TRIG"), ChannelType::Stim);
/// assert_eq!(bids_type("MEGMAG"), ChannelType::Mag);
/// assert_eq!(bids_type("MEGGRADPLANAR"), ChannelType::Grad);
/// assert_eq!(bids_type("MEGREFMAG"), ChannelType::RefMeg);
/// assert_eq!(bids_type("MEGOTHER"), ChannelType::Misc);
/// ```
pub fn bids_type(t: &str) -> ChannelType {
    let t = t.trim();
    match t.to_ascii_uppercase().as_str() {
        // MNE types axial gradiometers (CTF, values in T) as magnetometers.
        "MEGMAG" | "MEGGRADAXIAL" => ChannelType::Mag,
        "MEGGRADPLANAR" => ChannelType::Grad,
        u if u.starts_with("MEGREF") => ChannelType::RefMeg,
        _ => kind_type(t).unwrap_or(ChannelType::Misc),
    }
}

fn read_text(path: &Path) -> Result<String> {
    let len = std::fs::metadata(path)
        .map_err(|e| Error::io(path, e))?
        .len();
    if len > MAX_SIDECAR {
        return Err(Error::input(
            path,
            format!("sidecar is {len} bytes, more than the {MAX_SIDECAR} accepted"),
        ));
    }
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// Rows of a TSV file as column → value maps (header row first; `\r` trimmed).
pub fn read_tsv(path: &Path) -> Result<Vec<BTreeMap<String, String>>> {
    let text = read_text(path)?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    let mut lines = text.lines().map(|l| l.trim_end_matches('\r'));
    let header: Vec<String> = match lines.next() {
        Some(h) => h
            .split('\t')
            .map(|s| s.trim().to_ascii_lowercase())
            .collect(),
        None => return Ok(Vec::new()),
    };
    Ok(lines
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            header
                .iter()
                .cloned()
                .zip(l.split('\t').map(|s| s.trim().to_string()))
                .collect()
        })
        .collect())
}

fn read_json(path: &Path) -> Result<serde_json::Value> {
    serde_json::from_str(&read_text(path)?).map_err(|e| Error::input(path, e))
}

fn na(s: Option<&String>) -> Option<&str> {
    s.map(|s| s.as_str())
        .filter(|s| !s.is_empty() && !s.eq_ignore_ascii_case("n/a"))
}

/// Annotations of a BIDS `_events.tsv` (seconds from the first sample).
pub fn parse_events(path: &Path) -> Result<Vec<eeg::Annotation>> {
    let mut out = Vec::new();
    for (i, row) in read_tsv(path)?.iter().enumerate() {
        let Some(onset) = na(row.get("onset")) else {
            continue;
        };
        let onset: f64 = onset.parse().map_err(|_| {
            Error::input(
                path,
                format!("row {}: onset {onset:?} is not a number", i + 2),
            )
        })?;
        let duration = match na(row.get("duration")) {
            Some(d) => Some(d.parse::<f64>().map_err(|_| {
                Error::input(
                    path,
                    format!("row {}: duration {d:?} is not a number", i + 2),
                )
            })?),
            None => None,
        };
        let text: Vec<&str> = [na(row.get("trial_type")), na(row.get("value"))]
            .into_iter()
            .flatten()
            .collect();
        out.push(eeg::Annotation {
            onset_s: onset,
            duration_s: duration,
            text: if text.is_empty() {
                "event".to_string()
            } else {
                text.join("/")
            },
        });
    }
    Ok(out)
}

/// Millimetres per unit of a BIDS coordinate unit.
fn mm_per(unit: &str) -> Option<f64> {
    match unit.trim() {
        "m" => Some(1000.0),
        "cm" => Some(10.0),
        "mm" => Some(1.0),
        _ => None,
    }
}

fn rel_str(p: &Path) -> Option<String> {
    Some(p.to_str()?.replace('\\', "/"))
}

/// Finds a row of `rows` (keyed by `name`) for a file channel label: exact, case-insensitive,
/// then by normalised EEG name.
fn find_row<'a>(
    rows: &'a [BTreeMap<String, String>],
    label: &str,
) -> Option<&'a BTreeMap<String, String>> {
    let name = |r: &BTreeMap<String, String>| r.get("name").cloned().unwrap_or_default();
    rows.iter()
        .find(|r| name(r) == label)
        .or_else(|| {
            rows.iter()
                .find(|r| name(r).eq_ignore_ascii_case(label.trim()))
        })
        .or_else(|| {
            let n = normalize(label).name;
            rows.iter().find(|r| normalize(&name(r)).name == n)
        })
}

impl Source for BidsEphys {
    fn name(&self) -> &'static str {
        "bids_ephys"
    }

    fn free_session_labels(&self) -> bool {
        true
    }

    fn modalities(&self) -> &'static [Modality] {
        &[Modality::Eeg, Modality::Ieeg, Modality::Meg]
    }

    fn plan(&self, root: &Path) -> Result<Vec<Unit>> {
        let mut tree: Tree = BTreeMap::new();
        let walk = walkdir::WalkDir::new(root)
            .sort_by_file_name()
            .into_iter()
            .filter_entry(|e| {
                e.depth() == 0
                    || !e.file_type().is_dir()
                    || !e.file_name().to_str().is_some_and(skip_dir)
            });
        let mut recordings = Vec::new();
        for entry in walk {
            let entry = entry.map_err(|e| Error::input(root, e))?;
            if !entry.file_type().is_file() {
                continue;
            }
            let p = entry.path();
            let rel = p.strip_prefix(root).unwrap_or(p).to_path_buf();
            let name = entry.file_name().to_string_lossy().into_owned();
            tree.entry(rel.parent().map(Path::to_path_buf).unwrap_or_default())
                .or_default()
                .push(name);
            if let Some(m) = recording_modality(&rel) {
                recordings.push((rel, m));
            }
        }
        let mut units = Vec::new();
        for (rel, m) in recordings {
            let name = rel.file_name().and_then(|n| n.to_str()).unwrap_or_default();
            let Some((ents, _)) = entities(name) else {
                continue;
            };
            let Some(subject) = get(&ents, "sub") else {
                continue;
            };
            let dir = rel.parent().unwrap_or(Path::new(""));
            let side =
                |suffix: &str, ignore: &[&str]| find_sidecar(&tree, dir, &ents, suffix, ignore);
            let channels = side("channels.tsv", &[]);
            let events = side("events.tsv", &[]);
            let sidecar = side(&format!("{m}.json"), &[]);
            let electrodes = side("electrodes.tsv", &["space"]);
            let coordsystem = electrodes.as_ref().and_then(|e| {
                let space = e
                    .file_name()
                    .and_then(|n| n.to_str())
                    .and_then(entities)
                    .and_then(|(e, _)| get(&e, "space").map(str::to_string));
                let mut with = ents.clone();
                if let Some(s) = space {
                    with.push(("space".into(), s));
                }
                find_sidecar(&tree, dir, &with, "coordsystem.json", &[])
            });
            let run: Vec<String> = ents
                .iter()
                .filter(|(k, _)| k != "sub" && k != "ses")
                .map(|(k, v)| format!("{k}-{v}"))
                .collect();
            let mut inputs = vec![rel.clone()];
            // BrainVision data/markers and EEGLAB .fdt of the same stem.
            let stem = name.rsplit_once('.').map_or(name, |(s, _)| s);
            if let Some(names) = tree.get(dir) {
                for n in names {
                    if let Some((s, ext)) = n.rsplit_once('.')
                        && s == stem
                        && matches!(ext, "eeg" | "vmrk" | "fdt")
                    {
                        inputs.push(dir.join(n));
                    }
                }
            }
            for s in [&channels, &electrodes, &coordsystem, &sidecar, &events]
                .into_iter()
                .flatten()
            {
                inputs.push(s.clone());
            }
            let bytes = inputs.iter().map(|r| file_size(&root.join(r))).sum();
            let path_json = |p: &Option<PathBuf>| -> serde_json::Value {
                p.as_deref()
                    .and_then(rel_str)
                    .map_or(serde_json::Value::Null, serde_json::Value::String)
            };
            let run = (!run.is_empty()).then(|| run.join("_"));
            units.push(Unit {
                id: unit_id("bids_", &rel),
                subject: Some(subject.to_string()),
                session: get(&ents, "ses").map(str::to_string),
                inputs,
                bytes,
                detail: serde_json::json!({
                    "modality": m,
                    "run": run,
                    "channels": path_json(&channels),
                    "electrodes": path_json(&electrodes),
                    "coordsystem": path_json(&coordsystem),
                    "sidecar": path_json(&sidecar),
                    "events": path_json(&events),
                }),
            });
        }
        units.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(units)
    }

    fn convert(&self, unit: &Unit, ctx: &UnitContext<'_>, sink: &mut dyn SampleSink) -> Result<()> {
        let rel = main_input(unit)?;
        let path = ctx.path(rel);
        let d = &unit.detail;
        let m = d["modality"].as_str().unwrap_or("eeg");
        let modality = modality_of(m);
        let side = |k: &str| d[k].as_str().map(|s| ctx.path(Path::new(s)));

        let opened = ephys::open(&path)?;
        for note in &opened.left_out {
            sink.skipped(&path, note);
        }
        let chans = match side("channels") {
            Some(p) => read_tsv(&p)?,
            None => Vec::new(),
        };
        // Electrodes with known units give positions in their frame.
        let mut electrodes: Option<(Rows, f64, String)> = None;
        if let (Some(ep), Some(cp)) = (side("electrodes"), side("coordsystem")) {
            let cs = read_json(&cp)?;
            let prefix = match modality {
                Modality::Ieeg => "iEEG",
                Modality::Meg => "MEG",
                _ => "EEG",
            };
            let field = |k: &str| {
                cs[format!("{prefix}{k}")]
                    .as_str()
                    .or_else(|| cs[format!("EEG{k}")].as_str())
                    .map(str::to_string)
            };
            if let Some(f) = field("CoordinateUnits").as_deref().and_then(mm_per) {
                let system = field("CoordinateSystem").unwrap_or_else(|| "Other".into());
                electrodes = Some((read_tsv(&ep)?, f, format!("bids:{system}")));
            }
        }
        let hints: Vec<ChannelHint> = opened
            .recording
            .channels
            .iter()
            .map(|c| {
                let mut h = ChannelHint::default();
                if let Some(row) = find_row(&chans, &c.name) {
                    h.channel_type = na(row.get("type")).map(bids_type);
                    h.unit = na(row.get("units")).map(str::to_string);
                    h.bad = na(row.get("status")).is_some_and(|s| s.eq_ignore_ascii_case("bad"));
                }
                if let Some((rows, f, _)) = &electrodes {
                    let xyz = find_row(rows, &c.name).map(|r| {
                        ["x", "y", "z"].map(|k| {
                            na(r.get(k))
                                .and_then(|v| v.parse::<f64>().ok())
                                .map_or(f64::NAN, |v| v * f)
                        })
                    });
                    h.xyz_mm = xyz;
                }
                h
            })
            .collect();
        let positions = match &electrodes {
            Some((_, _, frame)) => Positions::Given(frame.clone()),
            None if modality == Modality::Eeg => Positions::Standard,
            None => Positions::Unknown,
        };
        let mut layout =
            ephys::layout(&path, &opened.recording, modality, &hints, &positions, sink)?;
        if let Some(p) = side("sidecar") {
            let j = read_json(&p)?;
            layout.meta.power_line_hz = j["PowerLineFrequency"].as_f64();
            let reference = j["EEGReference"]
                .as_str()
                .or_else(|| j["iEEGReference"].as_str())
                .map(parse_reference)
                .unwrap_or(Reference::Unknown);
            if reference != Reference::Unknown {
                layout.meta.reference = reference;
            }
            if let Some(fs) = j["SamplingFrequency"].as_f64()
                && (fs - layout.meta.sampling_rate).abs() > 1e-6 * fs.abs().max(1.0)
            {
                tracing::warn!(
                    path = %path.display(),
                    sidecar = fs,
                    file = layout.meta.sampling_rate,
                    "SamplingFrequency of the sidecar differs from the file; the file's rate is used"
                );
            }
        }
        if let Some(p) = side("events") {
            layout.annotations = parse_events(&p)?;
        }
        let subject = unit.subject.as_deref().unwrap_or("unknown");
        let target = Target::new(rel, subject, unit.session.as_deref(), d["run"].as_str());
        ephys::write_chunks(&path, opened, layout, &target, ctx, sink).map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recordings_by_layout() {
        let ok = |p: &str| recording_modality(Path::new(p));
        assert_eq!(ok("sub-01/eeg/sub-01_task-rest_eeg.edf"), Some("eeg"));
        assert_eq!(
            ok("ds1/sub-01/ses-1/ieeg/sub-01_ses-1_ieeg.vhdr"),
            Some("ieeg")
        );
        assert_eq!(ok("sub-01/meg/sub-01_task-x_meg.fif"), Some("meg"));
        assert_eq!(ok("sub-01/eeg/sub-01_task-rest_eeg.eeg"), None);
        assert_eq!(ok("sub-01/eeg/sub-01_task-rest_ieeg.edf"), None);
        assert_eq!(ok("sub-01/anat/sub-01_T1w.nii"), None);
        assert_eq!(ok("x/eeg/sub-01_eeg.edf"), None);
    }

    #[test]
    fn inheritance() {
        let mut tree: Tree = BTreeMap::new();
        tree.insert(PathBuf::new(), vec!["task-rest_eeg.json".into()]);
        tree.insert(
            PathBuf::from("sub-01/eeg"),
            vec![
                "sub-01_electrodes.tsv".into(),
                "sub-01_space-CapTrak_electrodes.tsv".into(),
                "sub-01_task-rest_run-1_channels.tsv".into(),
                "sub-01_task-rest_run-2_channels.tsv".into(),
            ],
        );
        let (e, _) = entities("sub-01_task-rest_run-2_eeg.edf").unwrap();
        let dir = Path::new("sub-01/eeg");
        assert_eq!(
            find_sidecar(&tree, dir, &e, "channels.tsv", &[]),
            Some(PathBuf::from(
                "sub-01/eeg/sub-01_task-rest_run-2_channels.tsv"
            ))
        );
        assert_eq!(
            find_sidecar(&tree, dir, &e, "eeg.json", &[]),
            Some(PathBuf::from("task-rest_eeg.json"))
        );
        assert_eq!(
            find_sidecar(&tree, dir, &e, "electrodes.tsv", &["space"]),
            Some(PathBuf::from(
                "sub-01/eeg/sub-01_space-CapTrak_electrodes.tsv"
            ))
        );
        assert_eq!(find_sidecar(&tree, dir, &e, "events.tsv", &[]), None);
    }
}
