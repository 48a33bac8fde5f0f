//! Opening a recording of any supported format as a [`SignalReader`].

use std::collections::BTreeMap;
use std::io;
use std::path::Path;

use bomdata_edf as edf;
use bomdata_ephys::SignalReader;
use bomdata_schemas::eeg::ChannelType;

use super::infer_type;
use crate::{Error, Result};

/// An opened recording: its format-independent view and a streaming reader.
pub struct Opened {
    /// Channels, start, annotations (onsets from the first sample).
    pub recording: bomdata_ephys::Recording,
    /// Samples per channel, in `recording.channels` order, with the recording's gaps.
    pub reader: Box<dyn SignalReader>,
    /// Reader and version for provenance (`bomdata-ephys 0.1.0 (brainvision)`).
    pub reader_name: String,
    /// Signals of the file that the view leaves out, with the reason (EDF signals at a rate
    /// other than the recording's).
    pub left_out: Vec<String>,
    /// MEG sensor geometry per channel of `recording` (FIF files); empty for other formats.
    pub sensors: Vec<Option<bomdata_ephys::fif::Sensor>>,
}

impl std::fmt::Debug for Opened {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Opened")
            .field("recording", &self.recording)
            .field("reader_name", &self.reader_name)
            .finish_non_exhaustive()
    }
}

fn is_edf(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("edf") || e.eq_ignore_ascii_case("bdf"))
}

/// Opens an EDF/BDF (by extension) or any file `bomdata_ephys::open` reads.
pub fn open(path: &Path) -> Result<Opened> {
    if is_edf(path) {
        return open_edf(path);
    }
    if bomdata_ephys::detect(path) == Some("fif") {
        let (recording, reader) =
            bomdata_ephys::fif::open(path).map_err(|e| Error::input(path, e))?;
        let sensors = bomdata_ephys::fif::sensors(reader.header());
        return Ok(Opened {
            reader_name: format!(
                "bomdata-ephys {} ({})",
                env!("CARGO_PKG_VERSION"),
                recording.format
            ),
            recording,
            reader: Box::new(reader),
            left_out: Vec::new(),
            sensors,
        });
    }
    let (recording, reader) = bomdata_ephys::open(path).map_err(|e| Error::input(path, e))?;
    let reader_name = format!(
        "bomdata-ephys {} ({})",
        env!("CARGO_PKG_VERSION"),
        recording.format
    );
    Ok(Opened {
        recording,
        reader,
        reader_name,
        left_out: Vec::new(),
        sensors: Vec::new(),
    })
}

/// The samples per record of an EDF's recording rate: the most common among its EEG signals
/// (else among all data signals), the higher one on a tie.
fn recording_spr(header: &edf::Header, data: &[usize]) -> usize {
    let mut votes: BTreeMap<usize, (usize, usize)> = BTreeMap::new();
    for &i in data {
        let s = &header.signals[i];
        let e = votes.entry(s.samples_per_record).or_default();
        e.1 += 1;
        if infer_type(&s.label) == ChannelType::Eeg {
            e.0 += 1;
        }
    }
    votes
        .iter()
        .max_by_key(|(spr, v)| (v.0, v.1, **spr))
        .map(|(spr, _)| *spr)
        .unwrap_or(0)
}

/// An EDF/BDF file's data signals at the recording rate, gaps of EDF+D files as segments;
/// the signals at other rates are listed in [`Opened::left_out`].
fn open_edf(path: &Path) -> Result<Opened> {
    let bad = |e: io::Error| Error::input(path, e);
    let anns = edf::fs::read_annotations(path).map_err(bad)?;
    let (reader, header) = edf::fs::open(path).map_err(bad)?;
    let dur = header.record_duration;
    let data: Vec<usize> = (0..header.signals.len())
        .filter(|&i| !header.signals[i].is_annotation() && header.signals[i].samples_per_record > 0)
        .collect();
    if data.is_empty() || dur <= 0.0 {
        return Err(Error::input(path, "no data signals (annotation-only file)"));
    }
    let len = std::fs::metadata(path)
        .map_err(|e| Error::io(path, e))?
        .len();
    let n_records = header.records_in_file(len).map_err(bad)?;
    let spr = recording_spr(&header, &data);
    let rate = spr as f64 / dur;
    let (kept, other): (Vec<usize>, Vec<usize>) = data
        .into_iter()
        .partition(|&i| header.signals[i].samples_per_record == spr);
    let left_out = other
        .iter()
        .map(|&i| {
            let s = &header.signals[i];
            format!(
                "signal {:?} at {} Hz left out: the recording's rate is {rate} Hz",
                s.label,
                s.samples_per_record as f64 / dur
            )
        })
        .collect();
    let recording = edf::signal::recording(&header, &kept, n_records, &anns);
    let segments = edf::signal::segments(&header, spr, n_records, &anns);
    Ok(Opened {
        recording,
        reader: Box::new(edf::signal::Signals::new(reader, header, kept, segments)),
        reader_name: format!("bomdata-edf {}", env!("CARGO_PKG_VERSION")),
        left_out,
        sensors: Vec::new(),
    })
}
