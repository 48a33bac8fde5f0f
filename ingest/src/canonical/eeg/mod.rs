//! Any electrophysiology recording → canonical `eeg/1` samples (the `tueg`, `nsrr`,
//! `bids_ephys` and `ajile12` adapters).
//!
//! One pipeline for every format: [`open`] reads EDF/BDF through `bomdata-edf` and BrainVision,
//! EEGLAB, FIF and NWB (with the `hdf5` feature) through `bomdata-ephys`, both behind the
//! `SignalReader` trait of `bomdata-format-core`; [`layout`] picks the rate and the channels
//! (names, types, units, positions, multipliers) from the file and what the source knows
//! ([`ChannelHint`]); [`write_chunks`] streams the samples into chunks.
//!
//! One sample per chunk of `ctx.chunk_seconds` (the whole recording when 0): `signal.npy`
//! ([`SIGNAL_FIELD`]), float32 `[channels, samples]` (EEG/EOG/ECG/EMG in µV when their unit is
//! a voltage, other channels in their physical unit, e.g. `T` for MEG magnetometers), and
//! `meta.json`, a [`bomdata_schemas::eeg::Recording`]. The gaps of an EDF+D file end a chunk,
//! whichever adapter reads it. The recording start is written only with `ctx.keep_identity`;
//! no header text is ever copied.

mod labels;
mod layout;
mod open;
mod sensors;
mod write;

use std::path::Path;

use bomdata_schemas::Modality;

pub use labels::{Normalized, detect_reference, infer_type, normalize, position_mm, uv_factor};
pub use layout::{ChannelHint, Layout, Parts, Positions, kind_type, layout, parse_reference};
pub use open::{Opened, open};
pub use sensors::attach as attach_sensors;
pub use write::write_chunks;

use super::Target;
use crate::Result;
use crate::source::{SampleSink, UnitContext};

/// Name of the signal member of a canonical EEG sample.
pub const SIGNAL_FIELD: &str = "signal.npy";

/// Opens, lays out (no hints; EEG channels get standard positions for `Modality::Eeg`, none
/// otherwise), lets `adjust` complete the layout (montage, power-line frequency, annotations
/// of a sidecar, provenance naming) and writes a recording. Returns the number of samples
/// written.
pub fn convert(
    path: &Path,
    modality: Modality,
    target: &Target<'_>,
    ctx: &UnitContext<'_>,
    sink: &mut dyn SampleSink,
    adjust: impl FnOnce(&mut Layout),
) -> Result<u64> {
    let opened = open(path)?;
    for note in &opened.left_out {
        sink.skipped(path, note);
    }
    let positions = if modality == Modality::Eeg {
        Positions::Standard
    } else {
        Positions::Unknown
    };
    let mut l = layout(path, &opened.recording, modality, &[], &positions, sink)?;
    adjust(&mut l);
    write_chunks(path, opened, l, target, ctx, sink)
}
