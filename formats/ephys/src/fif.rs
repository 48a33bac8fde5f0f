//! FIF (Neuromag / MEGIN / MNE) raw files and MNE events files.
//!
//! A FIF file is a sequence of big-endian tags (`kind`, `type`, `size`, `next`, data) nested in
//! blocks (`FIFF_BLOCK_START` / `FIFF_BLOCK_END`). This reader walks the tags once, reading only
//! the headers of data buffers, and keeps:
//! - the measurement info (block 101): channel info structs (name, kind, range, cal, coil, unit,
//!   location), `sfreq`, `meas_date`;
//! - the raw data block (102 raw, 112 continuous or 119 IAS raw): `first_samp`, data buffers
//!   (int16, int32, float32, float64; samples × channels) and skips (`FIFF_DATA_SKIP`,
//!   `FIFF_DATA_SKIP_SAMP`), which read as zeros, as MNE does, and are annotated `BAD_ACQ_SKIP`.
//!
//! Physical value = stored value × cal × range (MNE's `get_data()`); units `V`, `T`, `T/m`, or `""`.
//! `start` = meas_date + first_samp / sfreq. Channel names longer than 15 bytes are taken from
//! the extended channel info blocks (113, `FIFF_CH_DACQ_NAME`). Split recordings are followed
//! through their next-file references. Not supported: compressed (`.fif.gz`), DAU packs.

use std::fs::File;
use std::io::{self, BufReader, Read, Seek, SeekFrom};
use std::path::Path;

use serde_json::json;

use crate::{Annotation, ChannelInfo, DateTime, Error, Recording, SignalReader, invalid};

const BLOCK_START: i32 = 104;
const BLOCK_END: i32 = 105;
const NCHAN: i32 = 200;
const SFREQ: i32 = 201;
const CH_INFO: i32 = 203;
const MEAS_DATE: i32 = 204;
const COORD_TRANS: i32 = 222;
/// `FIFFV_COORD_DEVICE`.
const COORD_DEVICE: i32 = 1;
/// `FIFFV_COORD_HEAD`.
const COORD_HEAD: i32 = 4;
/// Bytes of a coordinate transformation struct (from, to, rot, move, inverse rot, inverse move).
const COORD_TRANS_SIZE: usize = 104;
const FIRST_SAMPLE: i32 = 208;
const DATA_BUFFER: i32 = 300;
const DATA_SKIP: i32 = 301;
const DATA_SKIP_SAMP: i32 = 303;
const MNE_EVENT_LIST: i32 = 3561;
const CH_DACQ_NAME: i32 = 258;
const B_MEAS_INFO: i32 = 101;
const B_CH_INFO: i32 = 113;
const B_REF: i32 = 118;
const REF_ROLE: i32 = 115;
const REF_FILE_NUM: i32 = 117;
const REF_FILE_NAME: i32 = 118;
const ROLE_NEXT_FILE: i32 = 2;
/// Split files followed at most.
const MAX_SPLITS: usize = 1000;
const B_RAW: [i32; 3] = [102, 112, 119];
const B_MNE_EVENTS: i32 = 361;

/// Bytes of a channel info struct.
const CH_INFO_SIZE: usize = 96;
/// Largest metadata tag read into memory (bytes).
const MAX_META_TAG: usize = 256 << 20;

/// One FIFF tag header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tag {
    /// Tag kind.
    pub kind: i32,
    /// Data type.
    pub ty: i32,
    /// Data size in bytes.
    pub size: i32,
    /// Next-tag pointer (0 = sequential, −1 = none).
    pub next: i32,
    /// Byte offset of the data.
    pub data_pos: u64,
}

/// Channel info struct (`fiffChInfoRec`).
#[derive(Clone, Debug, PartialEq)]
pub struct Channel {
    /// Scan number.
    pub scan_no: i32,
    /// Logical number.
    pub log_no: i32,
    /// Channel kind (1 MEG, 2 EEG, 3 stim, 202 EOG, 302 EMG, 402 ECG, 502 misc, ...).
    pub kind: i32,
    /// Range.
    pub range: f32,
    /// Calibration.
    pub cal: f32,
    /// Coil type.
    pub coil_type: i32,
    /// Location (12 floats: position, then coil orientation).
    pub loc: [f32; 12],
    /// Unit code (107 V, 112 T, 201 T/m, ...).
    pub unit: i32,
    /// Unit multiplier exponent.
    pub unit_mul: i32,
    /// Name.
    pub name: String,
}

impl Channel {
    /// Unit text: `V`, `T`, `T/m`, or `""`.
    pub fn unit_text(&self) -> &'static str {
        match self.unit {
            107 => "V",
            112 => "T",
            201 => "T/m",
            _ => "",
        }
    }

    /// Channel type as MNE names it.
    pub fn type_text(&self) -> &'static str {
        match self.kind {
            1 if self.unit == 201 => "grad",
            1 => "mag",
            301 => "ref_meg",
            2 => "eeg",
            3 => "stim",
            202 => "eog",
            302 => "emg",
            402 => "ecg",
            502 => "misc",
            602 => "bio",
            802 => "seeg",
            803 => "dbs",
            902 => "ecog",
            900 => "syst",
            910 => "ias",
            920 => "exci",
            _ => "misc",
        }
    }
}

/// Where the samples of one buffer come from.
#[derive(Clone, Debug, PartialEq)]
pub enum Buffer {
    /// A data buffer tag: file, data offset, element type, samples.
    Data {
        /// Index of the file in a split recording (0 = the file opened).
        file: usize,
        /// Byte offset of the samples.
        pos: u64,
        /// FIFF type (2 int16, 3 int32, 4 float32, 5 float64, 16 DAU_PACK16).
        ty: i32,
        /// Samples in the buffer.
        n: u64,
    },
    /// A skipped span read as zeros.
    Skip {
        /// Samples.
        n: u64,
    },
}

/// What a raw FIF file holds.
#[derive(Clone, Debug, PartialEq)]
pub struct Header {
    /// Channels.
    pub channels: Vec<Channel>,
    /// Samples per second.
    pub sfreq: f64,
    /// Measurement date (UTC), when recorded.
    pub meas_date: Option<DateTime>,
    /// Index of the first sample.
    pub first_samp: i64,
    /// Data buffers and skips, in order.
    pub buffers: Vec<Buffer>,
    /// The next file of a split recording (`FIFFB_REF` with role "next file"), as named there:
    /// a file name, or only a number.
    pub next_file: Option<NextFile>,
    /// The device → head transformation of the measurement info (`FIFF_COORD_TRANS`), when
    /// recorded (an empty-room recording has none).
    pub dev_head_t: Option<Transform>,
}

/// A rigid coordinate transformation: `y = rot · x + move` (metres).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Transform {
    /// Rotation, row major.
    pub rot: [[f64; 3]; 3],
    /// Translation in metres.
    pub translation: [f64; 3],
}

impl Transform {
    /// The transformed point.
    pub fn point(&self, p: [f64; 3]) -> [f64; 3] {
        let v = self.vector(p);
        [0, 1, 2].map(|i| v[i] + self.translation[i])
    }

    /// The rotated vector (no translation).
    pub fn vector(&self, p: [f64; 3]) -> [f64; 3] {
        self.rot
            .map(|row| row[0] * p[0] + row[1] * p[1] + row[2] * p[2])
    }
}

/// Coordinate frame of a sensor's geometry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Frame {
    /// MEG device coordinates (no device → head transformation recorded).
    Device,
    /// Head coordinates (the device → head transformation applied).
    Head,
}

impl Frame {
    /// `device` or `head`.
    pub fn name(self) -> &'static str {
        match self {
            Frame::Device => "device",
            Frame::Head => "head",
        }
    }
}

/// Where an MEG (or reference MEG) sensor sits and how it is oriented.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Sensor {
    /// FIFF coil type (3012 planar gradiometer, 3024 magnetometer, ...).
    pub coil_type: i32,
    /// Frame of `pos` and the axes.
    pub frame: Frame,
    /// Coil position in metres.
    pub pos: [f64; 3],
    /// Coil x axis (for a planar gradiometer, the gradient direction).
    pub ex: [f64; 3],
    /// Coil y axis.
    pub ey: [f64; 3],
    /// Coil z axis (the normal).
    pub ez: [f64; 3],
}

/// `FIFFV_MEG_CH`.
pub const KIND_MEG: i32 = 1;
/// `FIFFV_REF_MEG_CH`.
pub const KIND_REF_MEG: i32 = 301;

/// The geometry of every MEG and reference MEG channel (`None` for the others), in head
/// coordinates when the file has a device → head transformation, else in device coordinates —
/// MNE's `info['chs'][i]['loc']` with `mne.transforms.apply_trans(info['dev_head_t'], ...)`
/// applied to the position (with translation) and the three axes (without).
pub fn sensors(h: &Header) -> Vec<Option<Sensor>> {
    h.channels
        .iter()
        .map(|c| {
            if c.kind != KIND_MEG && c.kind != KIND_REF_MEG {
                return None;
            }
            let v = |i: usize| [0, 1, 2].map(|k| f64::from(c.loc[i + k]));
            let (pos, ex, ey, ez) = (v(0), v(3), v(6), v(9));
            Some(match &h.dev_head_t {
                Some(t) => Sensor {
                    coil_type: c.coil_type,
                    frame: Frame::Head,
                    pos: t.point(pos),
                    ex: t.vector(ex),
                    ey: t.vector(ey),
                    ez: t.vector(ez),
                },
                None => Sensor {
                    coil_type: c.coil_type,
                    frame: Frame::Device,
                    pos,
                    ex,
                    ey,
                    ez,
                },
            })
        })
        .collect()
}

/// Parses a `fiffCoordTransRec` (104 bytes): the device → head transformation when the struct
/// goes that way (or its stored inverse when it goes head → device), `None` otherwise.
fn parse_coord_trans(b: &[u8]) -> Option<Transform> {
    if b.len() < COORD_TRANS_SIZE {
        return None;
    }
    let (from, to) = (be_i32(&b[0..]), be_i32(&b[4..]));
    let at = match (from, to) {
        (COORD_DEVICE, COORD_HEAD) => 8,
        (COORD_HEAD, COORD_DEVICE) => 56,
        _ => return None,
    };
    let f = |i: usize| f64::from(be_f32(&b[at + 4 * i..]));
    Some(Transform {
        rot: [[f(0), f(1), f(2)], [f(3), f(4), f(5)], [f(6), f(7), f(8)]],
        translation: [f(9), f(10), f(11)],
    })
}

/// Reference to the next file of a split recording.
#[derive(Clone, Debug, PartialEq)]
pub struct NextFile {
    /// `FIFF_REF_FILE_NAME`, when given.
    pub name: Option<String>,
    /// `FIFF_REF_FILE_NUM`, when given.
    pub num: Option<i32>,
}

impl NextFile {
    /// The path of the next file, beside `current`, named as MNE names split files
    /// (`x_raw.fif` → `x_raw-1.fif`, `x_raw-1.fif` → `x_raw-2.fif`) when only a number is given.
    pub fn resolve(&self, current: &Path) -> Option<std::path::PathBuf> {
        let dir = current.parent().unwrap_or(Path::new("."));
        if let Some(n) = &self.name {
            return Some(dir.join(n));
        }
        let num = self.num?;
        let base = current.file_name()?.to_str()?;
        let idx = base.find('.')?;
        let stem = &base[..idx];
        let rest = &base[idx + 1..];
        let head = match stem.rfind('-') {
            Some(i) if stem[i + 1..].bytes().all(|b| b.is_ascii_digit()) && i + 1 < stem.len() => {
                &stem[..i]
            }
            _ => stem,
        };
        Some(dir.join(format!("{head}-{num}.{rest}")))
    }
}

impl Header {
    /// Samples per channel, skips included.
    pub fn n_samples(&self) -> u64 {
        self.buffers
            .iter()
            .map(|b| match b {
                Buffer::Data { n, .. } | Buffer::Skip { n } => *n,
            })
            .sum()
    }
}

fn be_i32(b: &[u8]) -> i32 {
    i32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

fn be_f32(b: &[u8]) -> f32 {
    f32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

fn elem_size(ty: i32) -> Option<usize> {
    match ty {
        2 | 16 => Some(2),
        3 | 4 | 8 => Some(4),
        5 => Some(8),
        _ => None,
    }
}

/// Walks every tag header of a FIF stream, calling `f(tag, block stack, reader)` for each tag
/// (block starts included, with the new block already on the stack; block ends excluded).
fn walk<R: Read + Seek>(
    r: &mut R,
    len: u64,
    mut f: impl FnMut(&Tag, &[i32], &mut R) -> io::Result<()>,
) -> io::Result<()> {
    let mut pos = 0u64;
    let mut stack: Vec<i32> = Vec::new();
    let mut idx = 0usize;
    while pos + 16 <= len {
        r.seek(SeekFrom::Start(pos))?;
        let mut h = [0u8; 16];
        r.read_exact(&mut h)?;
        let tag = Tag {
            kind: be_i32(&h[0..4]),
            ty: be_i32(&h[4..8]),
            size: be_i32(&h[8..12]),
            next: be_i32(&h[12..16]),
            data_pos: pos + 16,
        };
        if idx == 0 && tag.kind != 100 {
            return Err(invalid(
                Error::Fif,
                "fif byte 0: first tag is not a file id (100)",
            ));
        }
        if tag.size < 0 || tag.data_pos + tag.size as u64 > len {
            return Err(invalid(
                Error::Fif,
                format!(
                    "fif tag {idx} (kind {}) at byte {pos}: size {} runs past the end of the {len}-byte file",
                    tag.kind, tag.size
                ),
            ));
        }
        match tag.kind {
            BLOCK_START => {
                if tag.size < 4 {
                    return Err(invalid(
                        Error::Fif,
                        format!("fif block start at byte {pos}: no block kind"),
                    ));
                }
                let mut b = [0u8; 4];
                r.read_exact(&mut b)?;
                if stack.len() > 256 {
                    return Err(invalid(
                        Error::Fif,
                        format!("fif byte {pos}: blocks nested too deep"),
                    ));
                }
                stack.push(be_i32(&b));
                f(&tag, &stack, r)?;
            }
            BLOCK_END => {
                stack.pop();
            }
            _ => f(&tag, &stack, r)?,
        }
        idx += 1;
        let seq = tag.data_pos + tag.size as u64;
        pos = if tag.next > 0 && tag.next as u64 > pos {
            tag.next as u64
        } else if tag.next == -1 {
            break;
        } else {
            seq
        };
    }
    Ok(())
}

fn read_data<R: Read>(r: &mut R, tag: &Tag) -> io::Result<Vec<u8>> {
    let n = tag.size as usize;
    if n > MAX_META_TAG {
        return Err(invalid(
            Error::Fif,
            format!(
                "fif tag kind {} at byte {}: {n} bytes of metadata is more than accepted",
                tag.kind, tag.data_pos
            ),
        ));
    }
    let mut b = vec![0u8; n];
    r.read_exact(&mut b)?;
    Ok(b)
}

fn parse_ch_info(b: &[u8], at: u64) -> io::Result<Channel> {
    if b.len() < CH_INFO_SIZE {
        return Err(invalid(
            Error::Fif,
            format!("fif channel info at byte {at}: {} bytes, need 96", b.len()),
        ));
    }
    let mut loc = [0f32; 12];
    for (i, l) in loc.iter_mut().enumerate() {
        *l = be_f32(&b[24 + 4 * i..]);
    }
    let name_raw = &b[80..96];
    let end = name_raw.iter().position(|&c| c == 0).unwrap_or(16);
    Ok(Channel {
        scan_no: be_i32(&b[0..]),
        log_no: be_i32(&b[4..]),
        kind: be_i32(&b[8..]),
        range: be_f32(&b[12..]),
        cal: be_f32(&b[16..]),
        coil_type: be_i32(&b[20..]),
        loc,
        unit: be_i32(&b[72..]),
        unit_mul: be_i32(&b[76..]),
        name: String::from_utf8_lossy(&name_raw[..end]).into_owned(),
    })
}

/// Reads the header of a raw FIF stream of `len` bytes (data buffers are located, not read).
pub fn read_header<R: Read + Seek>(r: &mut R, len: u64) -> io::Result<Header> {
    let mut scan = HeaderScan::default();
    walk(r, len, |tag, stack, r| scan.tag(tag, stack, r))?;
    scan.finish()
}

/// What [`read_header`] gathers from the tags while walking the file.
#[derive(Default)]
struct HeaderScan {
    channels: Vec<Channel>,
    nchan: Option<i64>,
    sfreq: Option<f64>,
    meas_date: Option<DateTime>,
    first_samp: Option<i64>,
    buffers: Vec<Buffer>,
    /// A `DATA_SKIP` count waiting for the next data buffer (it counts in buffers).
    pending_skip: u64,
    saw_raw: bool,
    /// Full channel names of the extended channel info blocks, in channel order.
    ext_names: Vec<Option<String>>,
    /// Reference blocks: role and the file they name.
    refs: Vec<(Option<i32>, NextFile)>,
    /// The device → head transformation of the measurement info.
    dev_head_t: Option<Transform>,
}

/// Text of a tag's bytes up to the first NUL.
fn c_string(b: &[u8]) -> String {
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    String::from_utf8_lossy(&b[..end]).into_owned()
}

impl HeaderScan {
    /// Takes in one tag; `stack` holds the kinds of the blocks it is nested in.
    fn tag<R: Read + Seek>(&mut self, tag: &Tag, stack: &[i32], r: &mut R) -> io::Result<()> {
        let parent = stack.last().copied();
        let grandparent = stack.len().checked_sub(2).map(|i| stack[i]);
        if parent == Some(B_CH_INFO) && grandparent == Some(B_MEAS_INFO) {
            if tag.kind == BLOCK_START {
                self.ext_names.push(None);
            } else if tag.kind == CH_DACQ_NAME {
                let name = c_string(&read_data(r, tag)?);
                if let Some(last) = self.ext_names.last_mut() {
                    *last = Some(name);
                }
            }
            return Ok(());
        }
        if parent == Some(B_REF) {
            return self.reference(tag, r);
        }
        if tag.kind == BLOCK_START {
            return Ok(());
        }
        if parent == Some(B_MEAS_INFO) {
            return self.meas_info(tag, r);
        }
        match parent {
            Some(p) if B_RAW.contains(&p) => {
                self.saw_raw = true;
                self.raw(tag, r)
            }
            _ => Ok(()),
        }
    }

    /// A tag of a reference block (the next file of a split recording).
    fn reference<R: Read + Seek>(&mut self, tag: &Tag, r: &mut R) -> io::Result<()> {
        if tag.kind == BLOCK_START {
            let next = NextFile {
                name: None,
                num: None,
            };
            self.refs.push((None, next));
            return Ok(());
        }
        let b = read_data(r, tag)?;
        if let Some((role, next)) = self.refs.last_mut() {
            match tag.kind {
                REF_ROLE if b.len() >= 4 => *role = Some(be_i32(&b)),
                REF_FILE_NUM if b.len() >= 4 => next.num = Some(be_i32(&b)),
                REF_FILE_NAME => next.name = Some(c_string(&b)),
                _ => {}
            }
        }
        Ok(())
    }

    /// A tag of the measurement info: channels, their count, the rate, the date.
    fn meas_info<R: Read + Seek>(&mut self, tag: &Tag, r: &mut R) -> io::Result<()> {
        match tag.kind {
            CH_INFO => self
                .channels
                .push(parse_ch_info(&read_data(r, tag)?, tag.data_pos)?),
            NCHAN => {
                let b = read_data(r, tag)?;
                let b = b
                    .get(..4)
                    .ok_or_else(|| invalid(Error::Fif, "fif nchan: short tag"))?;
                self.nchan = Some(be_i32(b) as i64);
            }
            SFREQ => {
                let b = read_data(r, tag)?;
                self.sfreq = Some(match (tag.ty, b.len()) {
                    (4, 4..) => be_f32(&b) as f64,
                    (5, 8..) => {
                        f64::from_be_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]])
                    }
                    _ => {
                        return Err(invalid(
                            Error::Fif,
                            format!("fif sfreq at byte {}: type {}", tag.data_pos, tag.ty),
                        ));
                    }
                });
            }
            COORD_TRANS => {
                if let Some(t) = parse_coord_trans(&read_data(r, tag)?) {
                    self.dev_head_t = Some(t);
                }
            }
            MEAS_DATE => {
                let b = read_data(r, tag)?;
                if b.len() >= 8 {
                    let secs = be_i32(&b[0..]) as u32 as i64;
                    let us = be_i32(&b[4..]) as i64;
                    self.meas_date = Some(DateTime::from_unix(secs, us));
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// A tag of a raw data block: first sample, skips and data buffers.
    fn raw<R: Read + Seek>(&mut self, tag: &Tag, r: &mut R) -> io::Result<()> {
        let count = |r: &mut R| -> io::Result<Option<i32>> {
            let b = read_data(r, tag)?;
            Ok((b.len() >= 4).then(|| be_i32(&b)))
        };
        match tag.kind {
            FIRST_SAMPLE => {
                if let Some(v) = count(r)? {
                    self.first_samp = Some(v as i64);
                }
            }
            DATA_SKIP => {
                if let Some(v) = count(r)? {
                    self.pending_skip = v.max(0) as u64;
                }
            }
            DATA_SKIP_SAMP => {
                if let Some(v) = count(r)? {
                    self.buffers.push(Buffer::Skip { n: v.max(0) as u64 });
                }
            }
            DATA_BUFFER => self.data_buffer(tag)?,
            _ => {}
        }
        Ok(())
    }

    /// A data buffer: its sample count from its size, after any pending skip.
    fn data_buffer(&mut self, tag: &Tag) -> io::Result<()> {
        let nch = self.channels.len().max(1) as u64;
        let es = elem_size(tag.ty).ok_or_else(|| {
            invalid(
                Error::Fif,
                format!(
                    "fif data buffer at byte {}: data type {} is not supported",
                    tag.data_pos, tag.ty
                ),
            )
        })? as u64;
        let size = tag.size as u64;
        if !size.is_multiple_of(nch * es) {
            return Err(invalid(
                Error::Fif,
                format!(
                    "fif data buffer at byte {}: {size} bytes is not a whole number of {nch}-channel samples",
                    tag.data_pos
                ),
            ));
        }
        let n = size / (nch * es);
        if self.pending_skip > 0 {
            self.buffers.push(Buffer::Skip {
                n: self.pending_skip * n,
            });
            self.pending_skip = 0;
        }
        self.buffers.push(Buffer::Data {
            file: 0,
            pos: tag.data_pos,
            ty: tag.ty,
            n,
        });
        Ok(())
    }

    /// Checks what was gathered and builds the header.
    fn finish(self) -> io::Result<Header> {
        let mut channels = self.channels;
        if !self.saw_raw {
            return Err(invalid(
                Error::Fif,
                "fif: no raw data block (102, 112 or 119)",
            ));
        }
        if let Some(n) = self.nchan
            && n != channels.len() as i64
        {
            return Err(invalid(
                Error::Fif,
                format!(
                    "fif measurement info: nchan {n} but {} channel info tags",
                    channels.len()
                ),
            ));
        }
        if channels.is_empty() {
            return Err(invalid(Error::Fif, "fif measurement info: no channels"));
        }
        if !self.ext_names.is_empty() {
            // Extended channel info (MNE ≥ 0.23): one block per channel, in channel order, with
            // the full name when it is longer than the 15 bytes of the info struct.
            if self.ext_names.len() != channels.len() {
                return Err(invalid(
                    Error::Fif,
                    format!(
                        "fif measurement info: {} extended channel info blocks for {} channels",
                        self.ext_names.len(),
                        channels.len()
                    ),
                ));
            }
            for (c, n) in channels.iter_mut().zip(self.ext_names) {
                if let Some(n) = n {
                    c.name = n;
                }
            }
        }
        let sfreq = self
            .sfreq
            .ok_or_else(|| invalid(Error::Fif, "fif measurement info: sfreq missing"))?;
        if !(sfreq.is_finite() && sfreq > 0.0) {
            return Err(invalid(
                Error::Fif,
                format!("fif sfreq: {sfreq} is not positive"),
            ));
        }
        Ok(Header {
            channels,
            sfreq,
            meas_date: self.meas_date,
            first_samp: self.first_samp.unwrap_or(0),
            buffers: self.buffers,
            next_file: self
                .refs
                .into_iter()
                .find(|(role, n)| {
                    *role == Some(ROLE_NEXT_FILE) && (n.name.is_some() || n.num.is_some())
                })
                .map(|(_, n)| n),
            dev_head_t: self.dev_head_t,
        })
    }
}

/// Streaming reader of raw FIF samples (physical values: stored × cal × range).
#[derive(Debug)]
pub struct Reader<R> {
    inner: R,
    splits: Vec<BufReader<File>>,
    header: Header,
    scale: Vec<f64>,
    buf_idx: usize,
    in_buf: u64,
    bytes: Vec<u8>,
}

impl<R: Read + Seek> Reader<R> {
    /// A reader over the stream the header was read from.
    pub fn new(inner: R, header: Header) -> Self {
        let scale = header
            .channels
            .iter()
            .map(|c| c.cal as f64 * c.range as f64)
            .collect();
        Reader {
            inner,
            splits: Vec::new(),
            header,
            scale,
            buf_idx: 0,
            in_buf: 0,
            bytes: Vec::new(),
        }
    }

    /// The header.
    pub fn header(&self) -> &Header {
        &self.header
    }
}

impl<R: Read + Seek> SignalReader for Reader<R> {
    fn read_chunk(&mut self, max_samples: usize, out: &mut Vec<Vec<f64>>) -> io::Result<usize> {
        let nch = self.header.channels.len();
        out.resize_with(nch, Vec::new);
        out.iter_mut().for_each(Vec::clear);
        let mut done = 0usize;
        while done < max_samples && self.buf_idx < self.header.buffers.len() {
            let b = self.header.buffers[self.buf_idx].clone();
            let total = match b {
                Buffer::Data { n, .. } | Buffer::Skip { n } => n,
            };
            let k = (total - self.in_buf).min((max_samples - done) as u64) as usize;
            match b {
                Buffer::Skip { .. } => {
                    for o in out.iter_mut() {
                        o.resize(o.len() + k, 0.0);
                    }
                }
                Buffer::Data { file, pos, ty, .. } => {
                    let Some(es) = elem_size(ty) else {
                        return Err(invalid(Error::Fif, format!("fif data buffer: type {ty}")));
                    };
                    let frame = es * nch;
                    let off = pos + self.in_buf * frame as u64;
                    self.bytes.resize(k * frame, 0);
                    if file == 0 {
                        self.inner.seek(SeekFrom::Start(off))?;
                        self.inner.read_exact(&mut self.bytes)?;
                    } else {
                        let f = self.splits.get_mut(file - 1).ok_or_else(|| {
                            invalid(Error::Fif, format!("fif: split file {file} is not open"))
                        })?;
                        f.seek(SeekFrom::Start(off))?;
                        f.read_exact(&mut self.bytes)?;
                    }
                    for s in self.bytes.chunks_exact(frame) {
                        for (c, o) in out.iter_mut().enumerate() {
                            let e = &s[c * es..(c + 1) * es];
                            let v = match ty {
                                2 | 16 => i16::from_be_bytes([e[0], e[1]]) as f64,
                                3 => be_i32(e) as f64,
                                8 => u32::from_be_bytes([e[0], e[1], e[2], e[3]]) as f64,
                                4 => be_f32(e) as f64,
                                _ => f64::from_be_bytes([
                                    e[0], e[1], e[2], e[3], e[4], e[5], e[6], e[7],
                                ]),
                            };
                            o.push(v * self.scale[c]);
                        }
                    }
                }
            }
            done += k;
            self.in_buf += k as u64;
            if self.in_buf == total {
                self.buf_idx += 1;
                self.in_buf = 0;
            }
        }
        Ok(done)
    }
}

/// Builds the recording view of a raw FIF header.
pub fn recording(h: &Header) -> Recording {
    let n = h.n_samples();
    let channels = h
        .channels
        .iter()
        .map(|c| ChannelInfo {
            name: c.name.clone(),
            unit: c.unit_text().into(),
            sampling_rate: h.sfreq,
            n_samples: n,
            kind: Some(c.type_text().into()),
            position: Some([c.loc[0] as f64, c.loc[1] as f64, c.loc[2] as f64]),
            offset_s: 0.0,
        })
        .collect();
    let mut annotations = Vec::new();
    let mut at = 0u64;
    for b in &h.buffers {
        match b {
            Buffer::Skip { n } => {
                annotations.push(Annotation {
                    onset: at as f64 / h.sfreq,
                    duration: Some(*n as f64 / h.sfreq),
                    text: "BAD_ACQ_SKIP".into(),
                });
                at += n;
            }
            Buffer::Data { n, .. } => at += n,
        }
    }
    Recording {
        format: "fif",
        channels,
        start: h
            .meas_date
            .map(|d| d.add_seconds(h.first_samp as f64 / h.sfreq)),
        annotations,
        epochs: None,
    }
}

/// Opens a raw FIF file: the recording view and a streaming reader.
///
/// A split recording (`x_raw.fif`, `x_raw-1.fif`, ...) is followed through its "next file"
/// references and read as one: the later files must have the same channel count and rate.
pub fn open(path: &Path) -> io::Result<(Recording, Reader<BufReader<File>>)> {
    let mut f = BufReader::new(File::open(path)?);
    let len = f.get_ref().metadata()?.len();
    let mut h = read_header(&mut f, len)?;
    let mut splits = Vec::new();
    let mut current = path.to_path_buf();
    let mut next = h.next_file.clone();
    while let Some(n) = next.take() {
        let Some(p) = n.resolve(&current) else { break };
        if splits.len() >= MAX_SPLITS || p == current {
            return Err(invalid(
                Error::Fif,
                format!(
                    "fif split files: more than {MAX_SPLITS} or a loop at {}",
                    p.display()
                ),
            ));
        }
        let mut g = BufReader::new(File::open(&p).map_err(|e| {
            io::Error::new(e.kind(), format!("fif split file {}: {e}", p.display()))
        })?);
        let glen = g.get_ref().metadata()?.len();
        let sh = read_header(&mut g, glen)?;
        if sh.channels.len() != h.channels.len() || sh.sfreq != h.sfreq {
            return Err(invalid(
                Error::Fif,
                format!(
                    "fif split file {}: {} channels at {} Hz, the first file has {} at {} Hz",
                    p.display(),
                    sh.channels.len(),
                    sh.sfreq,
                    h.channels.len(),
                    h.sfreq
                ),
            ));
        }
        let idx = splits.len() + 1;
        h.buffers.extend(sh.buffers.into_iter().map(|b| match b {
            Buffer::Data { pos, ty, n, .. } => Buffer::Data {
                file: idx,
                pos,
                ty,
                n,
            },
            s => s,
        }));
        splits.push(g);
        next = sh.next_file;
        current = p;
    }
    let mut r = Reader::new(f, h);
    r.splits = splits;
    Ok((recording(r.header()), r))
}

/// Reads the events (sample, previous value, event id) of an MNE events file.
pub fn read_events(path: &Path) -> io::Result<Vec<[i64; 3]>> {
    let mut f = BufReader::new(File::open(path)?);
    let len = f.get_ref().metadata()?.len();
    let mut events = Vec::new();
    let mut found = false;
    walk(&mut f, len, |tag, stack, r| {
        if stack.last() == Some(&B_MNE_EVENTS) && tag.kind == MNE_EVENT_LIST {
            found = true;
            let b = read_data(r, tag)?;
            for e in b.chunks_exact(12) {
                let v = |i: usize| {
                    if tag.ty == 8 {
                        u32::from_be_bytes([e[i], e[i + 1], e[i + 2], e[i + 3]]) as i64
                    } else {
                        be_i32(&e[i..]) as i64
                    }
                };
                events.push([v(0), v(4), v(8)]);
            }
        }
        Ok(())
    })?;
    if !found {
        return Err(invalid(
            Error::Fif,
            "fif: no mne event list (block 361, tag 3561)",
        ));
    }
    Ok(events)
}

/// Whether a FIF file is an MNE events file (an event list block and no raw data).
pub fn is_events_file(path: &Path) -> io::Result<bool> {
    let mut f = BufReader::new(File::open(path)?);
    let len = f.get_ref().metadata()?.len();
    let (mut ev, mut raw) = (false, false);
    walk(&mut f, len, |tag, stack, _| {
        if tag.kind == MNE_EVENT_LIST && stack.last() == Some(&B_MNE_EVENTS) {
            ev = true;
        }
        if stack.iter().any(|b| B_RAW.contains(b)) {
            raw = true;
        }
        Ok(())
    })?;
    Ok(ev && !raw)
}

/// The probe object of an events file: no channels, `events` as `[sample, previous, id]`.
pub fn probe_events(path: &Path) -> io::Result<serde_json::Value> {
    let events = read_events(path)?;
    Ok(json!({
        "format": "fif",
        "start": null,
        "duration_s": 0.0,
        "channels": [],
        "annotations": [],
        "events": events,
    }))
}
