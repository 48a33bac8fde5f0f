//! Readers for electrophysiology recordings other than EDF/BDF: BrainVision, EEGLAB, FIF and NWB.
//!
//! Every format gives the same small signal view ([`Recording`]: channels with name, unit,
//! sampling rate, sample count and type; start time; annotations) and a streaming chunk reader
//! ([`SignalReader`]) that returns physical values (float64, in each channel's declared unit)
//! per channel, so a long recording is never loaded whole.
//!
//! Supported:
//! - [`brainvision`]: `.vhdr`/`.vmrk`/`.eeg`, binary `INT_16`, `INT_32`, `IEEE_FLOAT_32`, little
//!   or big endian, multiplexed and vectorized, per-channel resolution and unit (nV, µV, mV, V),
//!   markers (`New Segment` gives the start time).
//! - [`eeglab`]: `.set` MATLAB v5 MAT-files (own parser, compressed elements included) with
//!   inline data or a `.fdt` file, continuous and epoched (epochs concatenated), chanlocs,
//!   events; `.set` v7.3 (HDF5) with the `hdf5` cargo feature. Values are µV.
//! - [`fif`]: Neuromag/MNE FIF raw files (tag directory, measurement info, raw data buffers with
//!   skips, int16/int32/float32/float64 buffers), calibration `cal × range` applied, and MNE
//!   events files (`-eve.fif`).
//! - [`nwb`] (cargo feature `hdf5`): every `TimeSeries` (incl. `ElectricalSeries`) of an NWB
//!   2.x file, values × `conversion` (+ `offset`), electrode positions x, y, z.
//!
//! Not supported: BrainVision ASCII data and the `UINT_16` binary format, EEGLAB ICA
//! activations, FIF split files (`raw-1.fif` continuation) and compressed DAU packs, NWB 1.x.
//!
//! ```no_run
//! let (rec, mut reader) = bomdata_ephys::open(std::path::Path::new("rec.vhdr"))?;
//! let mut chunk = Vec::new();
//! while reader.read_chunk(4096, &mut chunk)? > 0 {
//!     // chunk[c] holds the next values of channel c, in rec.channels[c].unit
//! }
//! # Ok::<(), std::io::Error>(())
//! ```

use std::io;
use std::path::Path;

pub mod brainvision;
pub mod eeglab;
mod error;
pub mod fif;
mod mat;
#[cfg(feature = "hdf5")]
pub mod nwb;
pub mod probe;

pub use bomdata_format_core::signal::{
    Annotation, ChannelInfo, DateTime, READ_BLOCK, Recording, ScaledBlock, Segment, SignalReader,
};
pub use probe::{detect, probe};

pub use error::Error;
pub(crate) use error::invalid;

/// Opens any supported file (by [`detect`]) and returns its recording view and a chunk reader.
pub fn open(path: &Path) -> io::Result<(Recording, Box<dyn SignalReader>)> {
    match detect(path) {
        Some("brainvision") => {
            let (r, s) = brainvision::open(path)?;
            Ok((r, Box::new(s)))
        }
        Some("eeglab") => {
            let (r, s) = eeglab::open(path)?;
            Ok((r, Box::new(s)))
        }
        Some("fif") => {
            let (r, s) = fif::open(path)?;
            Ok((r, Box::new(s)))
        }
        #[cfg(feature = "hdf5")]
        Some("nwb") => {
            let (r, s) = nwb::open(path)?;
            Ok((r, Box::new(s)))
        }
        _ => Err(Error::NotRecognized {
            path: path.to_path_buf(),
        }
        .into()),
    }
}

/// Sorts annotations by onset, ties kept in file order.
pub(crate) fn sort_annotations(a: &mut [Annotation]) {
    a.sort_by(|x, y| x.onset.total_cmp(&y.onset));
}

/// Reads the whole file only when it is at most `limit` bytes.
pub(crate) fn read_small(path: &Path, limit: u64, what: &str) -> io::Result<Vec<u8>> {
    let len = std::fs::metadata(path)?.len();
    if len > limit {
        return Err(Error::TooLarge {
            what: what.to_string(),
            path: path.to_path_buf(),
            len,
            limit,
        }
        .into());
    }
    std::fs::read(path)
}
