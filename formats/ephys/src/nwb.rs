//! NWB 2.x (HDF5) time series, behind the `hdf5` cargo feature.
//!
//! Every group of the file (outside `specifications`) that holds a numeric `data` dataset of 1 or
//! 2 dimensions and a `starting_time` (with a `rate` attribute) or `timestamps` dataset is a
//! series: `TimeSeries`, `ElectricalSeries` and their extensions alike. A 2-D series is split
//! into one channel per column. Values are `data × channel_conversion[c] × conversion + offset`
//! (defaults 1, 1 and 0), in the series' `unit` (`volts` is reported as `V`). `ElectricalSeries` channels take
//! their name (`label` column, else `<series>[<i>]`) and x, y, z from the electrodes table rows
//! the series' `electrodes` region selects. `start` is `session_start_time` with its UTC offset;
//! each channel's `offset_s` is its series' `starting_time` (or first timestamp). With
//! `timestamps`, the rate is (n − 1) / (last − first).

use std::io;
use std::path::Path;

use hdf5::types::{TypeDescriptor, VarLenAscii, VarLenUnicode};
/// The HDF5 binding this module uses (re-exported so tests and writers use the same version).
pub use hdf5_metno as hdf5;

use crate::{ChannelInfo, DateTime, Error, Recording, SignalReader, invalid};

/// Values read per series per chunk at most (bounds memory for wide series).
const MAX_CHUNK_VALUES: usize = 1 << 22;

fn h5err(what: &str) -> impl Fn(hdf5::Error) -> io::Error + '_ {
    move |e| invalid(Error::Nwb, format!("nwb {what}: {e}"))
}

/// Reads a scalar (or first element of a 1-D) string dataset or attribute.
fn read_string(c: &hdf5::Container) -> Option<String> {
    let desc = c.dtype().ok()?.to_descriptor().ok()?;
    let scalar = c.ndim() == 0;
    match desc {
        TypeDescriptor::VarLenUnicode => {
            if scalar {
                c.read_scalar::<VarLenUnicode>()
                    .ok()
                    .map(|s| s.as_str().to_string())
            } else {
                c.read_raw::<VarLenUnicode>()
                    .ok()?
                    .first()
                    .map(|s| s.as_str().to_string())
            }
        }
        TypeDescriptor::VarLenAscii => {
            if scalar {
                c.read_scalar::<VarLenAscii>()
                    .ok()
                    .map(|s| s.as_str().to_string())
            } else {
                c.read_raw::<VarLenAscii>()
                    .ok()?
                    .first()
                    .map(|s| s.as_str().to_string())
            }
        }
        _ => None,
    }
}

fn read_strings(c: &hdf5::Container) -> Option<Vec<String>> {
    match c.dtype().ok()?.to_descriptor().ok()? {
        TypeDescriptor::VarLenUnicode => Some(
            c.read_raw::<VarLenUnicode>()
                .ok()?
                .iter()
                .map(|s| s.as_str().to_string())
                .collect(),
        ),
        TypeDescriptor::VarLenAscii => Some(
            c.read_raw::<VarLenAscii>()
                .ok()?
                .iter()
                .map(|s| s.as_str().to_string())
                .collect(),
        ),
        _ => None,
    }
}

fn attr_f64(loc: &hdf5::Location, name: &str) -> Option<f64> {
    loc.attr(name).ok()?.read_scalar::<f64>().ok()
}

fn attr_string(loc: &hdf5::Location, name: &str) -> Option<String> {
    let a = loc.attr(name).ok()?;
    read_string(&a)
}

fn is_numeric(ds: &hdf5::Dataset) -> bool {
    matches!(
        ds.dtype().and_then(|d| d.to_descriptor()),
        Ok(TypeDescriptor::Integer(_)
            | TypeDescriptor::Unsigned(_)
            | TypeDescriptor::Float(_)
            | TypeDescriptor::Boolean)
    )
}

/// One series found in the file.
#[derive(Clone, Debug)]
pub struct Series {
    /// HDF5 path of the group.
    pub path: String,
    /// `neurodata_type` attribute.
    pub neurodata_type: String,
    /// Unit text as reported (`V` for volts).
    pub unit: String,
    /// `conversion` attribute.
    pub conversion: f64,
    /// `offset` attribute.
    pub offset: f64,
    /// `channel_conversion` (ElectricalSeries, NWB ≥ 2.3): one more factor per channel.
    pub channel_conversion: Option<Vec<f64>>,
    /// Samples per second.
    pub rate: f64,
    /// Seconds from the session start of the first sample.
    pub starting_time: f64,
    /// Rows (samples).
    pub n_samples: u64,
    /// Columns (channels).
    pub n_channels: usize,
    /// Channel names.
    pub names: Vec<String>,
    /// Electrode positions (x, y, z), per channel.
    pub positions: Vec<Option<[f64; 3]>>,
    data: hdf5::Dataset,
}

fn collect(
    g: &hdf5::Group,
    path: &str,
    depth: usize,
    out: &mut Vec<hdf5::Group>,
) -> io::Result<()> {
    if depth > 32 {
        return Ok(());
    }
    let names = g.member_names().map_err(h5err(path))?;
    for n in names {
        if depth == 0 && n == "specifications" {
            continue;
        }
        let Ok(sub) = g.group(&n) else { continue };
        let p = format!("{path}/{n}");
        if sub.link_exists("data")
            && (sub.link_exists("starting_time") || sub.link_exists("timestamps"))
        {
            out.push(sub);
        } else {
            collect(&sub, &p, depth + 1, out)?;
        }
    }
    Ok(())
}

struct Electrodes {
    ids: Vec<i64>,
    xyz: Option<(Vec<f64>, Vec<f64>, Vec<f64>)>,
    labels: Option<Vec<String>>,
}

fn electrodes_table(f: &hdf5::File) -> Option<Electrodes> {
    let t = f.group("general/extracellular_ephys/electrodes").ok()?;
    let col = |n: &str| t.dataset(n).ok().and_then(|d| d.read_raw::<f64>().ok());
    let ids = t.dataset("id").ok()?.read_raw::<i64>().ok()?;
    let xyz = match (col("x"), col("y"), col("z")) {
        (Some(x), Some(y), Some(z))
            if x.len() == ids.len() && y.len() == ids.len() && z.len() == ids.len() =>
        {
            Some((x, y, z))
        }
        _ => None,
    };
    let labels = t
        .dataset("label")
        .ok()
        .and_then(|d| read_strings(&d))
        .filter(|l| l.len() == ids.len());
    Some(Electrodes { ids, xyz, labels })
}

fn series_of(
    f: &hdf5::File,
    g: &hdf5::Group,
    table: &Option<Electrodes>,
) -> io::Result<Option<Series>> {
    let path = g.name();
    let data = g.dataset("data").map_err(h5err(&path))?;
    if !is_numeric(&data) {
        return Ok(None);
    }
    let shape = data.shape();
    let (n_samples, n_channels) = match shape.as_slice() {
        [n] => (*n as u64, 1usize),
        [n, c] => (*n as u64, *c),
        _ => return Ok(None),
    };
    let conversion = attr_f64(&data, "conversion").unwrap_or(1.0);
    let offset = attr_f64(&data, "offset").unwrap_or(0.0);
    let unit_raw = attr_string(&data, "unit").unwrap_or_default();
    let unit = match unit_raw.to_ascii_lowercase().as_str() {
        "volts" | "volt" | "v" => "V".to_string(),
        _ => unit_raw,
    };
    let (rate, starting_time) = if let Ok(st) = g.dataset("starting_time") {
        let t0 = st.read_scalar::<f64>().map_err(h5err(&path))?;
        let rate = attr_f64(&st, "rate").ok_or_else(|| {
            invalid(
                Error::Nwb,
                format!("nwb {path}/starting_time: rate attribute missing"),
            )
        })?;
        (rate, t0)
    } else {
        let ts = g.dataset("timestamps").map_err(h5err(&path))?;
        let n = ts.size();
        if n == 0 {
            (0.0, 0.0)
        } else {
            let first = ts.read_slice_1d::<f64, _>(0..1).map_err(h5err(&path))?[0];
            let last = ts.read_slice_1d::<f64, _>(n - 1..n).map_err(h5err(&path))?[0];
            let rate = if n > 1 && last > first {
                (n - 1) as f64 / (last - first)
            } else {
                0.0
            };
            (rate, first)
        }
    };
    let short = path.rsplit('/').next().unwrap_or(&path).to_string();
    let mut names: Vec<String> = if n_channels == 1 && shape.len() == 1 {
        vec![short.clone()]
    } else {
        (0..n_channels).map(|i| format!("{short}[{i}]")).collect()
    };
    let mut positions = vec![None; n_channels];
    if let (Ok(region), Some(t)) = (g.dataset("electrodes"), table) {
        let rows = region.read_raw::<i64>().map_err(h5err(&path))?;
        if rows.len() == n_channels {
            for (c, &r) in rows.iter().enumerate() {
                let r = usize::try_from(r)
                    .ok()
                    .filter(|&r| r < t.ids.len())
                    .ok_or_else(|| {
                        invalid(
                            Error::Nwb,
                            format!(
                                "nwb {path}/electrodes[{c}]: row {r} outside the electrodes table"
                            ),
                        )
                    })?;
                if let Some((x, y, z)) = &t.xyz {
                    positions[c] = Some([x[r], y[r], z[r]]);
                }
                if let Some(l) = &t.labels {
                    names[c] = l[r].clone();
                }
            }
        }
    }
    let _ = f;
    let channel_conversion = match g.dataset("channel_conversion") {
        Ok(cc) => {
            let v = cc.read_raw::<f64>().map_err(h5err(&path))?;
            if v.len() != n_channels {
                return Err(invalid(
                    Error::Nwb,
                    format!(
                        "nwb {path}/channel_conversion: {} factors for {n_channels} channels",
                        v.len()
                    ),
                ));
            }
            Some(v)
        }
        Err(_) => None,
    };
    Ok(Some(Series {
        channel_conversion,
        neurodata_type: attr_string(g, "neurodata_type").unwrap_or_default(),
        path,
        unit,
        conversion,
        offset,
        rate,
        starting_time,
        n_samples,
        n_channels,
        names,
        positions,
        data,
    }))
}

/// Reads the session start and every series of an NWB file.
pub fn read_series(path: &Path) -> io::Result<(Option<DateTime>, Vec<Series>)> {
    let f = hdf5::File::open(path)
        .map_err(|e| invalid(Error::Nwb, format!("nwb {}: {e}", path.display())))?;
    let start = f
        .dataset("session_start_time")
        .ok()
        .and_then(|d| read_string(&d))
        .and_then(|s| DateTime::parse_iso(&s));
    let mut groups = Vec::new();
    collect(&f, "", 0, &mut groups)?;
    let table = electrodes_table(&f);
    let mut out = Vec::new();
    for g in &groups {
        if let Some(s) = series_of(&f, g, &table)? {
            out.push(s);
        }
    }
    Ok((start, out))
}

/// Streams the series of a file, chunk by chunk, channels in series order.
#[derive(Debug)]
pub struct Reader {
    series: Vec<Series>,
    pos: Vec<u64>,
}

impl SignalReader for Reader {
    fn read_chunk(&mut self, max_samples: usize, out: &mut Vec<Vec<f64>>) -> io::Result<usize> {
        let nch: usize = self.series.iter().map(|s| s.n_channels).sum();
        out.resize_with(nch, Vec::new);
        out.iter_mut().for_each(Vec::clear);
        let mut base = 0;
        let mut most = 0;
        for (s, pos) in self.series.iter().zip(self.pos.iter_mut()) {
            let per = (MAX_CHUNK_VALUES / s.n_channels.max(1)).max(1);
            let k = (s.n_samples - *pos).min(max_samples.min(per) as u64) as usize;
            if k > 0 {
                let a = *pos as usize;
                let vals: Vec<f64> = if s.data.ndim() == 1 {
                    s.data
                        .read_slice_1d::<f64, _>(a..a + k)
                        .map_err(h5err(&s.path))?
                        .iter()
                        .copied()
                        .collect()
                } else {
                    s.data
                        .read_slice_2d::<f64, _>((a..a + k, ..))
                        .map_err(h5err(&s.path))?
                        .iter()
                        .copied()
                        .collect()
                };
                for (i, v) in vals.iter().enumerate() {
                    let c = i % s.n_channels;
                    let cc = s.channel_conversion.as_ref().map_or(1.0, |f| f[c]);
                    out[base + c].push(v * cc * s.conversion + s.offset);
                }
                *pos += k as u64;
                most = most.max(k);
            }
            base += s.n_channels;
        }
        Ok(most)
    }
}

/// Opens an NWB file: the recording view and a streaming reader.
pub fn open(path: &Path) -> io::Result<(Recording, Reader)> {
    let (start, series) = read_series(path)?;
    let mut channels = Vec::new();
    for s in &series {
        for c in 0..s.n_channels {
            channels.push(ChannelInfo {
                name: s.names[c].clone(),
                unit: s.unit.clone(),
                sampling_rate: s.rate,
                n_samples: s.n_samples,
                kind: Some(s.neurodata_type.clone()).filter(|k| !k.is_empty()),
                position: s.positions[c],
                offset_s: s.starting_time,
            });
        }
    }
    let pos = vec![0; series.len()];
    Ok((
        Recording {
            format: "nwb",
            channels,
            start,
            annotations: Vec::new(),
            epochs: None,
        },
        Reader { series, pos },
    ))
}
