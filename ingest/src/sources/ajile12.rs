//! AJILE12 (DANDI 000055): long-term naturalistic ECoG with pose, one NWB file per
//! participant-day: `sub-XX/sub-XX_ses-N_behavior+ecephys.nwb`.
//!
//! One unit per NWB file (found anywhere under the root by name: `sub-*` and `.nwb`). The
//! `ElectricalSeries` channels (ECoG, 500 Hz) become canonical `ieeg` chunks
//! ([`crate::canonical::eeg`]): values × the series' `conversion` (and `channel_conversion`)
//! in volts, then × 1e6 → µV; names from the electrodes table (`label` column, else
//! `<series>[i]`); positions are the electrodes table's x, y, z **as given**: the dataset does
//! not state their space or unit in the file, so they are written unchanged (read as mm) with
//! frame `nwb_electrodes_as_given`, NaN where absent. Every other series (pose keypoints at
//! 30 fps, ...) is left out and reported as skipped. The file is streamed chunk by chunk; a
//! 24-hour file (124 × 43 200 000 samples) is never loaded whole unless `chunk_seconds` is 0.
//!
//! NWB needs the `hdf5` cargo feature of this crate; without it every unit fails with a
//! "built without hdf5" error (the plan still lists the units).

use std::path::{Path, PathBuf};

use bomdata_schemas::Modality;

use super::bids_ephys::entities;
use super::common::main_input;
use super::common::{file_size, unit_id};
use crate::source::{SampleSink, Source, Unit, UnitContext};
use crate::{Error, Result};

/// The AJILE12 adapter (`adapter = "ajile12"`).
#[derive(Clone, Copy, Debug, Default)]
pub struct Ajile12;

/// Frame name of AJILE12 electrode positions (x, y, z as stored; space not stated).
pub const FRAME: &str = "nwb_electrodes_as_given";

impl Source for Ajile12 {
    fn name(&self) -> &'static str {
        "ajile12"
    }

    fn free_session_labels(&self) -> bool {
        true
    }

    fn modalities(&self) -> &'static [Modality] {
        &[Modality::Ieeg]
    }

    fn plan(&self, root: &Path) -> Result<Vec<Unit>> {
        let mut units = Vec::new();
        for entry in walkdir::WalkDir::new(root).sort_by_file_name() {
            let entry = entry.map_err(|e| Error::input(root, e))?;
            let name = entry.file_name().to_string_lossy();
            if !entry.file_type().is_file()
                || !name.starts_with("sub-")
                || !name.to_ascii_lowercase().ends_with(".nwb")
            {
                continue;
            }
            let p = entry.path();
            let rel: PathBuf = p.strip_prefix(root).unwrap_or(p).to_path_buf();
            let ents = entities(&name).map(|(e, _)| e).unwrap_or_default();
            let get = |k: &str| {
                ents.iter()
                    .find(|(a, _)| a == k)
                    .map(|(_, v)| v.to_string())
            };
            let subject = get("sub").unwrap_or_else(|| {
                name.trim_start_matches("sub-")
                    .split(['_', '.'])
                    .next()
                    .unwrap_or_default()
                    .to_string()
            });
            units.push(Unit {
                id: unit_id("ajile12_", &rel),
                subject: Some(subject),
                session: get("ses"),
                bytes: file_size(p),
                inputs: vec![rel],
                detail: serde_json::Value::Null,
            });
        }
        units.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(units)
    }

    fn convert(&self, unit: &Unit, ctx: &UnitContext<'_>, sink: &mut dyn SampleSink) -> Result<()> {
        let rel = main_input(unit)?;
        convert_nwb(rel, unit, ctx, sink)
    }
}

#[cfg(feature = "hdf5")]
fn convert_nwb(
    rel: &Path,
    unit: &Unit,
    ctx: &UnitContext<'_>,
    sink: &mut dyn SampleSink,
) -> Result<()> {
    use crate::canonical::Target;
    use crate::canonical::eeg::{self as ephys, ChannelHint, Positions};

    let path = ctx.path(rel);
    let opened = ephys::open(&path)?;
    let hints: Vec<ChannelHint> = opened
        .recording
        .channels
        .iter()
        .map(|c| {
            if c.kind.as_deref() == Some("ElectricalSeries") {
                ChannelHint {
                    channel_type: Some(bomdata_schemas::eeg::ChannelType::Eeg),
                    xyz_mm: Some(c.position.unwrap_or([f64::NAN; 3])),
                    ..ChannelHint::default()
                }
            } else {
                ChannelHint {
                    leave_out: Some(format!(
                        "a {} series, not an ElectricalSeries",
                        c.kind.as_deref().unwrap_or("TimeSeries")
                    )),
                    ..ChannelHint::default()
                }
            }
        })
        .collect();
    if !hints.iter().any(|h| h.leave_out.is_none()) {
        return Err(Error::input(&path, "no ElectricalSeries in the file"));
    }
    let layout = ephys::layout(
        &path,
        &opened.recording,
        Modality::Ieeg,
        &hints,
        &Positions::Given(FRAME.to_string()),
        sink,
    )?;
    let subject = unit.subject.as_deref().unwrap_or("unknown");
    let target = Target::new(rel, subject, unit.session.as_deref(), None);
    ephys::write_chunks(&path, opened, layout, &target, ctx, sink).map(|_| ())
}

#[cfg(not(feature = "hdf5"))]
fn convert_nwb(
    rel: &Path,
    _unit: &Unit,
    ctx: &UnitContext<'_>,
    _sink: &mut dyn SampleSink,
) -> Result<()> {
    Err(Error::input(
        ctx.path(rel),
        "built without hdf5: NWB needs bomdata-ingest's `hdf5` feature",
    ))
}
