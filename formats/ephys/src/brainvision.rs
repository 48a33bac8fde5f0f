//! BrainVision Core Data Format 1.0: a text header (`.vhdr`), a marker file (`.vmrk`) and a
//! binary data file (`.eeg`).
//!
//! Binary formats `INT_16`, `INT_32` and `IEEE_FLOAT_32`, little or big endian, multiplexed or
//! vectorized orientation. Physical value = stored value × the channel's resolution, in the
//! channel's unit (default µV, reported as `"uV"`). Marker onset = (position − 1) / rate; the
//! first `New Segment` marker's date gives the start and is not an annotation.

use std::fs::File;
use std::io::{self, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use crate::{Annotation, ChannelInfo, DateTime, Error, Recording, SignalReader, invalid};

/// Largest header or marker file accepted (bytes).
const MAX_TEXT: u64 = 64 << 20;

/// Sample encoding in the binary file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinaryFormat {
    /// Signed 16-bit integers.
    Int16,
    /// Signed 32-bit integers.
    Int32,
    /// IEEE 754 single precision.
    Float32,
}

impl BinaryFormat {
    /// Bytes per sample.
    pub fn size(self) -> usize {
        match self {
            BinaryFormat::Int16 => 2,
            _ => 4,
        }
    }
}

/// Data layout in the binary file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Orientation {
    /// Sample-major: all channels of sample 1, then of sample 2, ...
    Multiplexed,
    /// Channel-major: all samples of channel 1, then of channel 2, ...
    Vectorized,
}

/// One channel line of the header.
#[derive(Clone, Debug, PartialEq)]
pub struct Channel {
    /// Label.
    pub name: String,
    /// Reference channel name (may be empty).
    pub reference: String,
    /// Resolution: physical units per stored unit.
    pub resolution: f64,
    /// Unit, normalised (`µ` written `u`).
    pub unit: String,
}

/// A parsed `.vhdr` file.
#[derive(Clone, Debug, PartialEq)]
pub struct Header {
    /// The data file, resolved relative to the header.
    pub data_file: PathBuf,
    /// The marker file, resolved relative to the header, when named.
    pub marker_file: Option<PathBuf>,
    /// Sample encoding.
    pub binary_format: BinaryFormat,
    /// Layout.
    pub orientation: Orientation,
    /// Big-endian samples (`UseBigEndianOrder=YES`).
    pub big_endian: bool,
    /// Sampling interval in microseconds.
    pub sampling_interval_us: f64,
    /// Channels in file order.
    pub channels: Vec<Channel>,
}

impl Header {
    /// Samples per second.
    pub fn sampling_rate(&self) -> f64 {
        1e6 / self.sampling_interval_us
    }
}

/// A marker of the `.vmrk` file.
#[derive(Clone, Debug, PartialEq)]
pub struct Marker {
    /// Marker type (`Stimulus`, `Response`, `New Segment`, ...).
    pub kind: String,
    /// Description.
    pub description: String,
    /// 1-based position in data points.
    pub position: i64,
    /// Size in data points.
    pub size: i64,
    /// Channel number (0 = all channels).
    pub channel: i64,
    /// Date field of `New Segment` markers (`yyyymmddhhmmssuuuuuu`).
    pub date: Option<String>,
}

/// Decodes header text: UTF-8 when valid, else Latin-1 (the `ANSI` code page); the BOM removed.
fn decode_text(bytes: &[u8]) -> String {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    match std::str::from_utf8(bytes) {
        Ok(s) => s.to_string(),
        Err(_) => bytes.iter().map(|&b| b as char).collect(),
    }
}

/// Sections of an INI-like file: (lower-case section name, [(key, value, line number)]).
type Sections = Vec<(String, Vec<(String, String, usize)>)>;

fn parse_ini(text: &str) -> Sections {
    let mut out: Sections = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim_end_matches('\r');
        let t = line.trim();
        if t.is_empty() || t.starts_with(';') {
            continue;
        }
        if t.starts_with('[') && t.ends_with(']') {
            out.push((t[1..t.len() - 1].trim().to_ascii_lowercase(), Vec::new()));
            continue;
        }
        if let Some((k, v)) = line.split_once('=')
            && let Some(last) = out.last_mut()
        {
            last.1.push((k.trim().to_string(), v.to_string(), i + 1));
        }
    }
    out
}

fn section<'a>(s: &'a Sections, name: &str) -> &'a [(String, String, usize)] {
    s.iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_slice())
        .unwrap_or(&[])
}

fn key<'a>(entries: &'a [(String, String, usize)], k: &str) -> Option<&'a str> {
    entries
        .iter()
        .find(|(n, _, _)| n.eq_ignore_ascii_case(k))
        .map(|(_, v, _)| v.trim())
}

/// Normalises a unit string: `µV`/`μV` (and their mis-decoded forms) → `uV`; empty → `uV`.
pub fn normalise_unit(u: &str) -> String {
    let u = u.trim();
    if u.is_empty() {
        return "uV".into();
    }
    u.replace("Âµ", "u").replace(['µ', 'μ'], "u")
}

/// The `[Channel Infos]` entries `Ch1`..`Ch<n_channels>` (each must be present once).
fn parse_channels(
    ch_section: &[(String, String, usize)],
    n_channels: usize,
) -> io::Result<Vec<Channel>> {
    let mut channels: Vec<Option<Channel>> = vec![None; n_channels];
    for (k, v, line) in ch_section {
        let Some(idx) = k
            .strip_prefix("Ch")
            .or_else(|| k.strip_prefix("ch"))
            .and_then(|n| n.parse::<usize>().ok())
        else {
            continue;
        };
        if idx == 0 || idx > n_channels {
            return Err(invalid(
                Error::BrainVision,
                format!("vhdr line {line}: channel number {idx} outside 1..={n_channels}"),
            ));
        }
        let fields: Vec<String> = v.split(',').map(|f| f.replace("\\1", ",")).collect();
        let name = fields.first().cloned().unwrap_or_default();
        let reference = fields.get(1).cloned().unwrap_or_default();
        let res_text = fields.get(2).map(|r| r.trim()).unwrap_or("");
        let resolution = if res_text.is_empty() {
            1.0
        } else {
            res_text.parse::<f64>().map_err(|_| {
                invalid(
                    Error::BrainVision,
                    format!("vhdr line {line}: resolution {res_text:?} is not a number"),
                )
            })?
        };
        let unit = normalise_unit(fields.get(3).map(|s| s.as_str()).unwrap_or(""));
        channels[idx - 1] = Some(Channel {
            name,
            reference,
            resolution,
            unit,
        });
    }
    channels
        .into_iter()
        .enumerate()
        .map(|(i, c)| {
            c.ok_or_else(|| {
                invalid(
                    Error::BrainVision,
                    format!("vhdr [channel infos]: Ch{} missing", i + 1),
                )
            })
        })
        .collect::<io::Result<Vec<_>>>()
}

/// Parses a `.vhdr` text; `dir` resolves the data and marker file names, `stem` (the header's
/// file name without extension) replaces `$b` in them.
pub fn parse_header(bytes: &[u8], dir: &Path, stem: &str) -> io::Result<Header> {
    let text = decode_text(bytes);
    let first = text.lines().next().unwrap_or("").trim();
    if !(first.starts_with("Brain Vision Data Exchange Header File")
        || first.starts_with("BrainVision Data Exchange Header File"))
    {
        return Err(invalid(
            Error::BrainVision,
            "vhdr line 1: not a brainvision data exchange header",
        ));
    }
    let s = parse_ini(&text);
    let common = section(&s, "common infos");
    let need = |k: &str| -> io::Result<&str> {
        key(common, k).ok_or_else(|| {
            invalid(
                Error::BrainVision,
                format!("vhdr [common infos]: {k} missing"),
            )
        })
    };
    // `$b` stands for the header's base name (BrainVision Recorder templates).
    let base = |name: &str| name.replace("$b", stem);
    let data_file = dir.join(base(need("DataFile")?));
    let marker_file = key(common, "MarkerFile")
        .filter(|m| !m.is_empty())
        .map(|m| dir.join(base(m)));
    let fmt = key(common, "DataFormat").unwrap_or("BINARY");
    if !fmt.eq_ignore_ascii_case("BINARY") {
        return Err(invalid(
            Error::BrainVision,
            format!("vhdr DataFormat: {fmt} is not supported (only BINARY)"),
        ));
    }
    let orientation = match key(common, "DataOrientation")
        .unwrap_or("MULTIPLEXED")
        .to_ascii_uppercase()
        .as_str()
    {
        "MULTIPLEXED" => Orientation::Multiplexed,
        "VECTORIZED" => Orientation::Vectorized,
        o => {
            return Err(invalid(
                Error::BrainVision,
                format!("vhdr DataOrientation: unknown value {o}"),
            ));
        }
    };
    let n_channels: usize = need("NumberOfChannels")?
        .parse()
        .map_err(|_| invalid(Error::BrainVision, "vhdr NumberOfChannels: not an integer"))?;
    if n_channels == 0 || n_channels > 100_000 {
        return Err(invalid(
            Error::BrainVision,
            format!("vhdr NumberOfChannels: {n_channels} is out of range"),
        ));
    }
    let sampling_interval_us: f64 = need("SamplingInterval")?
        .parse()
        .map_err(|_| invalid(Error::BrainVision, "vhdr SamplingInterval: not a number"))?;
    if !(sampling_interval_us.is_finite() && sampling_interval_us > 0.0) {
        return Err(invalid(
            Error::BrainVision,
            "vhdr SamplingInterval: must be positive",
        ));
    }
    let binary = section(&s, "binary infos");
    let binary_format = match key(binary, "BinaryFormat")
        .unwrap_or("")
        .to_ascii_uppercase()
        .as_str()
    {
        "INT_16" => BinaryFormat::Int16,
        "INT_32" => BinaryFormat::Int32,
        "IEEE_FLOAT_32" => BinaryFormat::Float32,
        "" => {
            return Err(invalid(
                Error::BrainVision,
                "vhdr [binary infos]: BinaryFormat missing",
            ));
        }
        o => {
            return Err(invalid(
                Error::BrainVision,
                format!("vhdr BinaryFormat: {o} is not supported"),
            ));
        }
    };
    let big_endian =
        key(binary, "UseBigEndianOrder").is_some_and(|v| v.eq_ignore_ascii_case("YES"));
    let ch_section = section(&s, "channel infos");
    let channels = parse_channels(ch_section, n_channels)?;
    Ok(Header {
        data_file,
        marker_file,
        binary_format,
        orientation,
        big_endian,
        sampling_interval_us,
        channels,
    })
}

/// Parses a `.vmrk` text.
pub fn parse_markers(bytes: &[u8]) -> io::Result<Vec<Marker>> {
    let text = decode_text(bytes);
    let first = text.lines().next().unwrap_or("").trim();
    if !(first.starts_with("Brain Vision Data Exchange Marker File")
        || first.starts_with("BrainVision Data Exchange Marker File"))
    {
        return Err(invalid(
            Error::BrainVision,
            "vmrk line 1: not a brainvision marker file",
        ));
    }
    let s = parse_ini(&text);
    let mut out = Vec::new();
    for (k, v, line) in section(&s, "marker infos") {
        if !k.to_ascii_lowercase().starts_with("mk") {
            continue;
        }
        let f: Vec<String> = v.split(',').map(|x| x.replace("\\1", ",")).collect();
        if f.len() < 3 {
            return Err(invalid(
                Error::BrainVision,
                format!("vmrk line {line}: fewer than 3 marker fields"),
            ));
        }
        let int = |i: usize, name: &str, default: i64| -> io::Result<i64> {
            match f.get(i).map(|x| x.trim()) {
                None | Some("") => Ok(default),
                Some(t) => t.parse().map_err(|_| {
                    invalid(
                        Error::BrainVision,
                        format!("vmrk line {line}: {name} {t:?} is not an integer"),
                    )
                }),
            }
        };
        out.push(Marker {
            kind: f[0].clone(),
            description: f[1].clone(),
            position: int(2, "position", 0)?,
            size: int(3, "size", 1)?,
            channel: int(4, "channel", 0)?,
            date: f
                .get(5)
                .map(|d| d.trim().to_string())
                .filter(|d| !d.is_empty()),
        });
    }
    Ok(out)
}

/// Parses a `New Segment` date `yyyymmddhhmmss[uuuuuu]`; all zeros → `None`.
pub fn parse_segment_date(d: &str) -> Option<DateTime> {
    if d.len() < 14 || !d.bytes().all(|b| b.is_ascii_digit()) || d.bytes().all(|b| b == b'0') {
        return None;
    }
    let n = |r: std::ops::Range<usize>| d.get(r).and_then(|x| x.parse::<u32>().ok());
    let mut us = d.get(14..).unwrap_or("").to_string();
    us.truncate(6);
    while us.len() < 6 {
        us.push('0');
    }
    let dt = DateTime {
        year: d.get(0..4)?.parse().ok()?,
        month: n(4..6)?,
        day: n(6..8)?,
        hour: n(8..10)?,
        minute: n(10..12)?,
        second: n(12..14)?,
        microsecond: us.parse().ok()?,
        utc_offset_s: None,
    };
    if !(1..=12).contains(&dt.month) || !(1..=31).contains(&dt.day) || dt.hour > 23 {
        return None;
    }
    Some(dt)
}

/// Streaming reader over the binary data file.
#[derive(Debug)]
pub struct Reader<R> {
    inner: R,
    header: Header,
    n_samples: u64,
    pos: u64,
    buf: Vec<u8>,
}

impl<R: Read + Seek> Reader<R> {
    /// Wraps the data file; `data_len` is its size in bytes (checked against the header).
    /// [`open`] refuses an empty `.eeg` file before it gets here.
    pub fn new(inner: R, header: Header, data_len: u64) -> io::Result<Self> {
        let frame = (header.channels.len() * header.binary_format.size()) as u64;
        if frame == 0 {
            return Err(invalid(
                Error::BrainVision,
                "brainvision header: no channels",
            ));
        }
        let n_samples = data_len / frame;
        if header.orientation == Orientation::Vectorized && !data_len.is_multiple_of(frame) {
            return Err(invalid(
                Error::BrainVision,
                format!(
                    "eeg data file: {data_len} bytes is not a whole number of {}-channel vectors",
                    header.channels.len()
                ),
            ));
        }
        Ok(Reader {
            inner,
            header,
            n_samples,
            pos: 0,
            buf: Vec::new(),
        })
    }

    /// The header.
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// Samples per channel (a partial last multiplexed frame is dropped).
    pub fn n_samples(&self) -> u64 {
        self.n_samples
    }

    /// Unwraps the inner reader.
    pub fn into_inner(self) -> R {
        self.inner
    }

    fn decode(&self, bytes: &[u8], out: &mut Vec<f64>, res: f64) {
        let be = self.header.big_endian;
        match self.header.binary_format {
            BinaryFormat::Int16 => out.extend(bytes.chunks_exact(2).map(|c| {
                let a = [c[0], c[1]];
                (if be {
                    i16::from_be_bytes(a)
                } else {
                    i16::from_le_bytes(a)
                }) as f64
                    * res
            })),
            BinaryFormat::Int32 => out.extend(bytes.chunks_exact(4).map(|c| {
                let a = [c[0], c[1], c[2], c[3]];
                (if be {
                    i32::from_be_bytes(a)
                } else {
                    i32::from_le_bytes(a)
                }) as f64
                    * res
            })),
            BinaryFormat::Float32 => out.extend(bytes.chunks_exact(4).map(|c| {
                let a = [c[0], c[1], c[2], c[3]];
                (if be {
                    f32::from_be_bytes(a)
                } else {
                    f32::from_le_bytes(a)
                }) as f64
                    * res
            })),
        }
    }
}

impl<R: Read + Seek> SignalReader for Reader<R> {
    fn read_chunk(&mut self, max_samples: usize, out: &mut Vec<Vec<f64>>) -> io::Result<usize> {
        let nch = self.header.channels.len();
        out.resize_with(nch, Vec::new);
        out.iter_mut().for_each(Vec::clear);
        let n = (self.n_samples - self.pos).min(max_samples as u64) as usize;
        if n == 0 {
            return Ok(0);
        }
        let bps = self.header.binary_format.size();
        match self.header.orientation {
            Orientation::Multiplexed => {
                let frame = nch * bps;
                self.inner.seek(SeekFrom::Start(self.pos * frame as u64))?;
                let mut buf = std::mem::take(&mut self.buf);
                buf.resize(n * frame, 0);
                self.inner.read_exact(&mut buf)?;
                for o in out.iter_mut() {
                    o.reserve(n);
                }
                let mut tmp = Vec::with_capacity(nch);
                for f in buf.chunks_exact(frame) {
                    tmp.clear();
                    self.decode(f, &mut tmp, 1.0);
                    for (c, v) in tmp.iter().enumerate() {
                        out[c].push(v * self.header.channels[c].resolution);
                    }
                }
                self.buf = buf;
            }
            Orientation::Vectorized => {
                let mut buf = std::mem::take(&mut self.buf);
                buf.resize(n * bps, 0);
                for (c, o) in out.iter_mut().enumerate() {
                    let off = (c as u64 * self.n_samples + self.pos) * bps as u64;
                    self.inner.seek(SeekFrom::Start(off))?;
                    self.inner.read_exact(&mut buf)?;
                    self.decode(&buf, o, self.header.channels[c].resolution);
                }
                self.buf = buf;
            }
        }
        self.pos += n as u64;
        Ok(n)
    }
}

/// Refuses a 0-byte data file (a git-annex placeholder in many BIDS datasets): every
/// reference reader (MNE, EEGLAB's bva-io) refuses it rather than read 0 samples.
fn refuse_empty(header: &Header, data_len: u64) -> io::Result<()> {
    if data_len == 0 {
        return Err(invalid(
            Error::BrainVision,
            format!(
                "{}: data file is empty (0 bytes; a git-annex placeholder?)",
                header.data_file.display()
            ),
        ));
    }
    Ok(())
}

/// Reads the header and markers of a `.vhdr` file and builds the recording view.
///
/// Errors: a missing or empty (0-byte) data file, besides a malformed header or marker file.
pub fn read_recording(path: &Path) -> io::Result<(Recording, Header, u64)> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("");
    let header = parse_header(&crate::read_small(path, MAX_TEXT, "vhdr file")?, dir, stem)?;
    let data_len = std::fs::metadata(&header.data_file)
        .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", header.data_file.display())))?
        .len();
    refuse_empty(&header, data_len)?;
    let frame = (header.channels.len() * header.binary_format.size()) as u64;
    let n_samples = data_len / frame;
    let rate = header.sampling_rate();
    let markers = match &header.marker_file {
        Some(m) if m.exists() => parse_markers(&crate::read_small(m, MAX_TEXT, "vmrk file")?)?,
        _ => Vec::new(),
    };
    let mut start = None;
    let mut annotations = Vec::new();
    for m in &markers {
        if m.kind.eq_ignore_ascii_case("New Segment") {
            if start.is_none() {
                // The first segment's date is the recording start; its position is sample 1.
                start = m
                    .date
                    .as_deref()
                    .and_then(parse_segment_date)
                    .map(|d| d.add_seconds((m.position - 1) as f64 / rate));
            }
            continue;
        }
        annotations.push(Annotation {
            onset: (m.position - 1) as f64 / rate,
            duration: Some(m.size as f64 / rate),
            text: format!("{}/{}", m.kind, m.description),
        });
    }
    crate::sort_annotations(&mut annotations);
    let channels = header
        .channels
        .iter()
        .map(|c| ChannelInfo {
            name: c.name.clone(),
            unit: c.unit.clone(),
            sampling_rate: rate,
            n_samples,
            kind: None,
            position: None,
            offset_s: 0.0,
        })
        .collect();
    Ok((
        Recording {
            format: "brainvision",
            channels,
            start,
            annotations,
            epochs: None,
        },
        header,
        data_len,
    ))
}

/// Opens a `.vhdr` file: the recording view and a streaming reader over its data file.
pub fn open(path: &Path) -> io::Result<(Recording, Reader<BufReader<File>>)> {
    let (rec, header, data_len) = read_recording(path)?;
    let f = BufReader::new(File::open(&header.data_file)?);
    let r = Reader::new(f, header, data_len)?;
    Ok((rec, r))
}
