//! EEGLAB `.set` saved as MATLAB v7.3 (HDF5 after a 512-byte user block).
//!
//! MATLAB stores each variable as a dataset (numeric, or `uint16` code units for `char`, marked
//! by the `MATLAB_class` attribute) or a group (`struct`). Dimensions are reversed: a MATLAB
//! `nbchan × pnts × trials` array is the HDF5 dataset `[trials, pnts, nbchan]`, so reading it in
//! HDF5 order gives the channel-fastest layout of the v5 files. Struct arrays (`chanlocs`,
//! `event`) are groups whose fields are datasets of object references, one per element.
//! Empty arrays carry `MATLAB_empty`. The data stream from the file chunk by chunk.

use std::io;
use std::path::Path;

use crate::nwb::hdf5;
use hdf5::types::{FixedAscii, TypeDescriptor};

use super::{DataSource, Dataset};
use crate::{Annotation, Error, invalid};

fn err(path: &Path) -> impl Fn(hdf5::Error) -> io::Error + '_ {
    move |e| {
        invalid(
            Error::Eeglab,
            format!("eeglab v7.3 {}: {e}", path.display()),
        )
    }
}

fn matlab_class(loc: &hdf5::Location) -> String {
    loc.attr("MATLAB_class")
        .ok()
        .and_then(|a| a.read_scalar::<FixedAscii<64>>().ok())
        .map(|s| s.as_str().to_string())
        .unwrap_or_default()
}

fn is_empty(ds: &hdf5::Dataset) -> bool {
    ds.attr("MATLAB_empty").is_ok() || ds.size() == 0
}

/// A field value: text, numbers, or nothing.
enum Cell {
    Text(String),
    Num(Vec<f64>),
    Empty,
}

fn value_of(ds: &hdf5::Dataset) -> Cell {
    if is_empty(ds) {
        return Cell::Empty;
    }
    if matlab_class(ds) == "char" {
        return match ds.read_raw::<u16>() {
            Ok(u) => Cell::Text(String::from_utf16_lossy(&u)),
            Err(_) => Cell::Empty,
        };
    }
    match ds.read_raw::<f64>() {
        Ok(v) => Cell::Num(v),
        Err(_) => Cell::Empty,
    }
}

fn is_reference(ds: &hdf5::Dataset) -> bool {
    matches!(
        ds.dtype().and_then(|d| d.to_descriptor()),
        Ok(TypeDescriptor::Reference(_))
    )
}

/// The values of one field of a struct array group, one per element.
fn field(f: &hdf5::File, g: &hdf5::Group, name: &str, max: usize) -> Vec<Cell> {
    let Ok(ds) = g.dataset(name) else {
        return Vec::new();
    };
    if !is_reference(&ds) {
        return vec![value_of(&ds)];
    }
    if ds.size() > max {
        return Vec::new();
    }
    let Ok(refs) = ds.read_raw::<hdf5::ObjectReference1>() else {
        return Vec::new();
    };
    refs.iter()
        .map(|r| match f.dereference(r) {
            Ok(hdf5::ReferencedObject::Dataset(d)) => value_of(&d),
            _ => Cell::Empty,
        })
        .collect()
}

fn scalar(base: &hdf5::Group, name: &str, path: &Path) -> io::Result<f64> {
    let ds = base.dataset(name).map_err(|_| {
        invalid(
            Error::Eeglab,
            format!("eeglab v7.3 {}: field {name} missing", path.display()),
        )
    })?;
    match value_of(&ds) {
        Cell::Num(v) if !v.is_empty() => Ok(v[0]),
        _ => Err(invalid(
            Error::Eeglab,
            format!(
                "eeglab v7.3 {}: field {name} is not numeric",
                path.display()
            ),
        )),
    }
}

/// The data of a v7.3 file kept in the HDF5 file and read by chunk.
#[derive(Debug)]
pub struct Hdf5Data {
    ds: hdf5::Dataset,
    nch: usize,
    pnts: usize,
    trials: usize,
    pos: usize,
}

impl Hdf5Data {
    pub(super) fn read_chunk(&mut self, max: usize, out: &mut Vec<Vec<f64>>) -> io::Result<usize> {
        out.resize_with(self.nch, Vec::new);
        out.iter_mut().for_each(Vec::clear);
        let total = self.pnts * self.trials;
        let mut done = 0;
        while done < max && self.pos < total {
            let (e, p) = (self.pos / self.pnts, self.pos % self.pnts);
            let k = (self.pnts - p).min(max - done);
            let e_err = |e: hdf5::Error| invalid(Error::Eeglab, format!("eeglab v7.3 data: {e}"));
            let vals = if self.ds.ndim() == 3 {
                self.ds
                    .read_slice_2d::<f64, _>((e, p..p + k, ..))
                    .map_err(e_err)?
            } else {
                self.ds
                    .read_slice_2d::<f64, _>((self.pos..self.pos + k, ..))
                    .map_err(e_err)?
            };
            for (i, v) in vals.iter().enumerate() {
                out[i % self.nch].push(*v);
            }
            done += k;
            self.pos += k;
        }
        Ok(done)
    }
}

/// Per-channel labels, types and positions.
type Chanlocs = (Vec<String>, Vec<String>, Vec<Option<[f64; 3]>>);

/// Channel labels, types and positions (from `chanlocs` when it holds one entry per channel).
fn read_chanlocs(f: &hdf5::File, base: &hdf5::Group, nbchan: usize) -> Chanlocs {
    let mut labels: Vec<String> = (0..nbchan).map(|i| format!("EEG {i:03}")).collect();
    let mut types = vec![String::new(); nbchan];
    let mut positions = vec![None; nbchan];
    if let Ok(ch) = base.group("chanlocs") {
        let l = field(f, &ch, "labels", nbchan);
        if l.len() == nbchan {
            for (i, c) in l.into_iter().enumerate() {
                if let Cell::Text(t) = c {
                    labels[i] = t;
                }
            }
        }
        let t = field(f, &ch, "type", nbchan);
        if t.len() == nbchan {
            for (i, c) in t.into_iter().enumerate() {
                if let Cell::Text(s) = c {
                    types[i] = s;
                }
            }
        }
        let (x, y, z) = (
            field(f, &ch, "X", nbchan),
            field(f, &ch, "Y", nbchan),
            field(f, &ch, "Z", nbchan),
        );
        if x.len() == nbchan && y.len() == nbchan && z.len() == nbchan {
            for i in 0..nbchan {
                if let (Cell::Num(a), Cell::Num(b), Cell::Num(c)) = (&x[i], &y[i], &z[i])
                    && let (Some(a), Some(b), Some(c)) = (a.first(), b.first(), c.first())
                {
                    positions[i] = Some([*a, *b, *c]);
                }
            }
        }
    }
    (labels, types, positions)
}

/// The events (`event.latency/type/duration`) as annotations in seconds, in file order.
fn read_events(f: &hdf5::File, base: &hdf5::Group, srate: f64) -> Vec<Annotation> {
    let mut events = Vec::new();
    if let Ok(ev) = base.group("event") {
        let max = 1 << 24;
        let lat = field(f, &ev, "latency", max);
        let ty = field(f, &ev, "type", max);
        let dur = field(f, &ev, "duration", max);
        for (i, l) in lat.iter().enumerate() {
            let Cell::Num(l) = l else { continue };
            let Some(&l) = l.first() else { continue };
            let text = match ty.get(i) {
                Some(Cell::Text(t)) => t.clone(),
                Some(Cell::Num(n)) if !n.is_empty() => {
                    if n[0].fract() == 0.0 {
                        format!("{}", n[0] as i64)
                    } else {
                        format!("{}", n[0])
                    }
                }
                _ => String::new(),
            };
            let duration = match dur.get(i) {
                Some(Cell::Num(d)) => d
                    .first()
                    .copied()
                    .filter(|d| d.is_finite())
                    .map(|d| d / srate),
                _ => None,
            };
            events.push(Annotation {
                onset: (l - 1.0) / srate,
                duration,
                text,
            });
        }
    }
    events
}

pub(super) fn read_dataset(path: &Path, dir: &Path) -> io::Result<(Dataset, Option<Hdf5Data>)> {
    let f = hdf5::File::open(path).map_err(err(path))?;
    let base: hdf5::Group = match f.group("EEG") {
        Ok(g) => g,
        Err(_) => f.group("/").map_err(err(path))?,
    };
    let nbchan = scalar(&base, "nbchan", path)?;
    let pnts = scalar(&base, "pnts", path)?;
    let trials = scalar(&base, "trials", path).unwrap_or(1.0);
    let srate = scalar(&base, "srate", path)?;
    let (nbchan, pnts, trials) = super::counts(nbchan, pnts, trials, srate)?;
    if nbchan > 1 << 20 {
        return Err(invalid(
            Error::Eeglab,
            format!("eeglab set: nbchan = {nbchan} is more than accepted"),
        ));
    }
    let ds = base.dataset("data").map_err(|_| {
        invalid(
            Error::Eeglab,
            format!("eeglab v7.3 {}: field data missing", path.display()),
        )
    })?;
    let (data, stream) = if matlab_class(&ds) == "char" {
        match value_of(&ds) {
            Cell::Text(name) => (DataSource::File(dir.join(name.trim())), None),
            _ => {
                return Err(invalid(
                    Error::Eeglab,
                    "eeglab v7.3: data file name unreadable",
                ));
            }
        }
    } else {
        let shape = ds.shape();
        let want3 = [trials, pnts, nbchan];
        let ok = match shape.as_slice() {
            [p, c] => trials == 1 && *p == pnts && *c == nbchan,
            [t, p, c] => [*t, *p, *c] == want3,
            _ => false,
        };
        if !ok {
            return Err(invalid(
                Error::Eeglab,
                format!(
                    "eeglab v7.3 data: shape {shape:?} does not match trials {trials} × pnts {pnts} × nbchan {nbchan}"
                ),
            ));
        }
        (
            DataSource::Inline(Vec::new()),
            Some(Hdf5Data {
                ds,
                nch: nbchan,
                pnts,
                trials,
                pos: 0,
            }),
        )
    };
    let (labels, types, positions) = read_chanlocs(&f, &base, nbchan);
    let mut events = read_events(&f, &base, srate);
    crate::sort_annotations(&mut events);
    Ok((
        Dataset {
            nbchan,
            pnts,
            trials,
            srate,
            labels,
            types,
            positions,
            events,
            data,
        },
        stream,
    ))
}
