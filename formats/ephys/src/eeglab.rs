//! EEGLAB datasets: `.set` MATLAB v5 MAT-files (own parser, compressed elements included) with
//! the data inline or in a `.fdt` file (float32, channels × samples, channel fastest), and
//! `.set` MATLAB v7.3 (HDF5) files with the `hdf5` cargo feature.
//!
//! Both layouts EEGLAB writes are read: one `EEG` struct variable, or the struct's fields as
//! top-level variables (EEGLAB 2021 and later). Epoched data (`trials` > 1) are reported as the
//! epochs concatenated. Values are µV (`"uV"`). Event onset = (latency − 1) / srate, duration =
//! duration / srate. Channel names come from `chanlocs.labels`, else `EEG 000`, `EEG 001`, ...
//! (as MNE names them). There is no recording date in EEGLAB files: `start` is `None`.

use std::fs::File;
use std::io::{self, BufReader};
use std::path::{Path, PathBuf};

use crate::brainvision;
use crate::mat::{self, Value};
use crate::{Annotation, ChannelInfo, Error, Recording, SignalReader, invalid};

/// Largest `.set` file read into memory (bytes).
const MAX_SET: u64 = 8 << 30;

/// Where the samples are.
#[derive(Clone, Debug, PartialEq)]
pub enum DataSource {
    /// Inline in the `.set` file: values (µV), channel fastest.
    Inline(Vec<f64>),
    /// A float32 little-endian file (`.fdt`/`.dat`), channel fastest.
    File(PathBuf),
}

/// The fields of an EEGLAB dataset this crate uses.
#[derive(Clone, Debug, PartialEq)]
pub struct Dataset {
    /// Number of channels.
    pub nbchan: usize,
    /// Samples per epoch.
    pub pnts: usize,
    /// Number of epochs (1 for continuous data).
    pub trials: usize,
    /// Samples per second.
    pub srate: f64,
    /// Channel labels.
    pub labels: Vec<String>,
    /// Channel types (`chanlocs.type`), empty when absent.
    pub types: Vec<String>,
    /// Channel positions `chanlocs.X/Y/Z`, when all three are given.
    pub positions: Vec<Option<[f64; 3]>>,
    /// Events (onset and duration in seconds).
    pub events: Vec<Annotation>,
    /// The samples.
    pub data: DataSource,
}

fn num_field(v: Option<&Value>, name: &str) -> io::Result<f64> {
    v.and_then(Value::as_f64).ok_or_else(|| {
        invalid(
            Error::Eeglab,
            format!("eeglab set: field {name} missing or not numeric"),
        )
    })
}

fn text_of(v: &Value) -> Option<String> {
    match v {
        Value::Char { .. } => v.as_str(),
        Value::Num { data, .. } if data.len() == 1 => {
            let x = data[0];
            Some(if x.fract() == 0.0 && x.abs() < 1e15 {
                format!("{}", x as i64)
            } else {
                format!("{x}")
            })
        }
        _ => None,
    }
}

/// Checks `nbchan`, `pnts`, `trials` (whole, not negative) and `srate` (positive) and
/// returns the counts, `trials` at least 1.
fn counts(nbchan: f64, pnts: f64, trials: f64, srate: f64) -> io::Result<(usize, usize, usize)> {
    for (n, v) in [("nbchan", nbchan), ("pnts", pnts), ("trials", trials)] {
        if !(v >= 0.0 && v.fract() == 0.0 && v < 1e12) {
            return Err(invalid(
                Error::Eeglab,
                format!("eeglab set: field {n} = {v} is not a count"),
            ));
        }
    }
    if !(srate.is_finite() && srate > 0.0) {
        return Err(invalid(
            Error::Eeglab,
            format!("eeglab set: field srate = {srate} is not positive"),
        ));
    }
    Ok((nbchan as usize, pnts as usize, trials.max(1.0) as usize))
}

/// Checks that an external data file holds at least `total` float32 values.
fn check_data_file(data: &DataSource, total: usize) -> io::Result<()> {
    if let DataSource::File(f) = data {
        let len = std::fs::metadata(f)
            .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", f.display())))?
            .len();
        let need = (total as u64).saturating_mul(4);
        if len < need {
            return Err(invalid(
                Error::Eeglab,
                format!(
                    "eeglab data file {}: {len} bytes, nbchan × pnts × trials needs {need}",
                    f.display()
                ),
            ));
        }
    }
    Ok(())
}

/// Reads the dataset description from a parsed MAT-file; `dir` resolves the `.fdt` file.
pub fn dataset_from_mat(m: &mat::MatFile, dir: &Path) -> io::Result<Dataset> {
    // One EEG struct, or its fields at top level.
    let eeg = m.get("EEG").filter(|v| matches!(v, Value::Struct { .. }));
    let get = |name: &str| -> Option<&Value> {
        match eeg {
            Some(s) => s.field(0, name),
            None => m.get(name),
        }
    };
    let nbchan = num_field(get("nbchan"), "nbchan")?;
    let pnts = num_field(get("pnts"), "pnts")?;
    let trials = get("trials").and_then(Value::as_f64).unwrap_or(1.0);
    let srate = num_field(get("srate"), "srate")?;
    let (nbchan, pnts, trials) = counts(nbchan, pnts, trials, srate)?;
    let total = nbchan
        .checked_mul(pnts)
        .and_then(|x| x.checked_mul(trials))
        .ok_or_else(|| {
            invalid(
                Error::Eeglab,
                "eeglab set: nbchan × pnts × trials overflows",
            )
        })?;
    if nbchan > 1 << 20 {
        return Err(invalid(
            Error::Eeglab,
            format!("eeglab set: nbchan = {nbchan} is more than accepted"),
        ));
    }
    let data = match get("data") {
        Some(Value::Num { data, .. }) => {
            if data.len() != total {
                return Err(invalid(
                    Error::Eeglab,
                    format!(
                        "eeglab set: inline data holds {} values, nbchan × pnts × trials = {total}",
                        data.len()
                    ),
                ));
            }
            DataSource::Inline(data.clone())
        }
        Some(v @ Value::Char { .. }) => {
            let name = v.as_str().unwrap_or_default();
            DataSource::File(dir.join(name.trim()))
        }
        _ => match get("datfile").and_then(Value::as_str) {
            Some(name) if !name.trim().is_empty() => DataSource::File(dir.join(name.trim())),
            _ => return Err(invalid(Error::Eeglab, "eeglab set: field data missing")),
        },
    };
    check_data_file(&data, total)?;
    let mut labels: Vec<String> = (0..nbchan).map(|i| format!("EEG {i:03}")).collect();
    let mut types = vec![String::new(); nbchan];
    let mut positions = vec![None; nbchan];
    if let Some(ch @ Value::Struct { elems, .. }) = get("chanlocs")
        && elems.len() == nbchan
    {
        for i in 0..nbchan {
            if let Some(l) = ch.field(i, "labels").and_then(text_of) {
                labels[i] = l;
            }
            if let Some(t) = ch.field(i, "type").and_then(Value::as_str) {
                types[i] = t;
            }
            let c = |k| ch.field(i, k).and_then(Value::as_f64);
            if let (Some(x), Some(y), Some(z)) = (c("X"), c("Y"), c("Z")) {
                positions[i] = Some([x, y, z]);
            }
        }
    }
    let mut events = Vec::new();
    if let Some(ev @ Value::Struct { elems, .. }) = get("event") {
        for i in 0..elems.len() {
            let Some(lat) = ev.field(i, "latency").and_then(Value::as_f64) else {
                continue;
            };
            let text = ev.field(i, "type").and_then(text_of).unwrap_or_default();
            let duration = ev
                .field(i, "duration")
                .and_then(Value::as_f64)
                .filter(|d| d.is_finite())
                .map(|d| d / srate);
            events.push(Annotation {
                onset: (lat - 1.0) / srate,
                duration,
                text,
            });
        }
    }
    crate::sort_annotations(&mut events);
    Ok(Dataset {
        nbchan,
        pnts,
        trials,
        srate,
        labels,
        types,
        positions,
        events,
        data,
    })
}

/// Reads the dataset description of a `.set` file (v5, or v7.3 with the `hdf5` feature).
pub fn read_dataset(path: &Path) -> io::Result<Dataset> {
    load(path).map(|(d, _)| d)
}

#[cfg(feature = "hdf5")]
type Stream = Option<v73::Hdf5Data>;
#[cfg(not(feature = "hdf5"))]
type Stream = Option<std::convert::Infallible>;

fn load(path: &Path) -> io::Result<(Dataset, Stream)> {
    let dir = path.parent().unwrap_or(Path::new("."));
    if crate::probe::is_hdf5(path) {
        #[cfg(feature = "hdf5")]
        return v73::read_dataset(path, dir);
        #[cfg(not(feature = "hdf5"))]
        return Err(invalid(
            Error::Eeglab,
            format!(
                "{}: eeglab v7.3 (hdf5) file; this build lacks the hdf5 feature",
                path.display()
            ),
        ));
    }
    let bytes = crate::read_small(path, MAX_SET, "eeglab set file")?;
    let m = mat::parse(&bytes)?;
    Ok((dataset_from_mat(&m, dir)?, None))
}

#[cfg(feature = "hdf5")]
pub mod v73;

/// Streams the samples of a dataset.
#[derive(Debug)]
pub enum Reader {
    /// Inline values.
    Inline {
        /// Values, channel fastest.
        data: Vec<f64>,
        /// Channel count.
        nch: usize,
        /// Next sample.
        pos: usize,
    },
    /// A float32 data file, read like multiplexed BrainVision data.
    File(brainvision::Reader<BufReader<File>>),
    /// Data kept in a v7.3 (HDF5) `.set` file.
    #[cfg(feature = "hdf5")]
    Hdf5(v73::Hdf5Data),
}

impl SignalReader for Reader {
    fn read_chunk(&mut self, max_samples: usize, out: &mut Vec<Vec<f64>>) -> io::Result<usize> {
        match self {
            Reader::File(r) => r.read_chunk(max_samples, out),
            #[cfg(feature = "hdf5")]
            Reader::Hdf5(r) => r.read_chunk(max_samples, out),
            Reader::Inline { data, nch, pos } => {
                out.resize_with(*nch, Vec::new);
                out.iter_mut().for_each(Vec::clear);
                if *nch == 0 {
                    return Ok(0);
                }
                let total = data.len() / *nch;
                let n = (total - *pos).min(max_samples);
                for s in *pos..*pos + n {
                    for (c, o) in out.iter_mut().enumerate() {
                        o.push(data[s * *nch + c]);
                    }
                }
                *pos += n;
                Ok(n)
            }
        }
    }
}

/// Opens a `.set` file: the recording view and a streaming reader.
pub fn open(path: &Path) -> io::Result<(Recording, Reader)> {
    let (ds, stream) = load(path)?;
    let n_samples = (ds.pnts * ds.trials) as u64;
    let channels = (0..ds.nbchan)
        .map(|i| ChannelInfo {
            name: ds.labels[i].clone(),
            unit: "uV".into(),
            sampling_rate: ds.srate,
            n_samples,
            kind: Some(if ds.types[i].trim().is_empty() {
                "eeg".into()
            } else {
                ds.types[i].trim().to_ascii_lowercase()
            }),
            position: ds.positions[i],
            offset_s: 0.0,
        })
        .collect();
    let rec = Recording {
        format: "eeglab",
        channels,
        start: None,
        annotations: ds.events.clone(),
        epochs: (ds.trials > 1).then_some(ds.trials as u64),
    };
    #[cfg(feature = "hdf5")]
    if let Some(s) = stream {
        return Ok((rec, Reader::Hdf5(s)));
    }
    #[cfg(not(feature = "hdf5"))]
    let _ = stream;
    let reader = match ds.data {
        DataSource::Inline(data) => Reader::Inline {
            data,
            nch: ds.nbchan,
            pos: 0,
        },
        DataSource::File(f) => {
            let len = std::fs::metadata(&f)
                .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", f.display())))?
                .len();
            let need = n_samples * ds.nbchan as u64 * 4;
            if len < need {
                return Err(invalid(
                    Error::Eeglab,
                    format!(
                        "eeglab data file {}: {len} bytes, nbchan × pnts × trials needs {need}",
                        f.display()
                    ),
                ));
            }
            let header = brainvision::Header {
                data_file: f.clone(),
                marker_file: None,
                binary_format: brainvision::BinaryFormat::Float32,
                orientation: brainvision::Orientation::Multiplexed,
                big_endian: false,
                sampling_interval_us: 1e6 / ds.srate,
                channels: ds
                    .labels
                    .iter()
                    .map(|l| brainvision::Channel {
                        name: l.clone(),
                        reference: String::new(),
                        resolution: 1.0,
                        unit: "uV".into(),
                    })
                    .collect(),
            };
            Reader::File(brainvision::Reader::new(
                BufReader::new(File::open(&f)?),
                header,
                need,
            )?)
        }
    };
    Ok((rec, reader))
}
