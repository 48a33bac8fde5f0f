//! The PS3.10 file: preamble, file meta group, and the data set in its transfer syntax.
//!
//! Every length is checked against the bytes that remain before anything is sliced; nothing is
//! allocated from a length read in the file.

use std::collections::BTreeMap;
use std::io::Read;
use std::ops::Range;

use crate::error::DicomError;

/// `(group << 16) | element`.
pub type Tag = u32;

const ITEM: Tag = 0xFFFE_E000;
const ITEM_DELIM: Tag = 0xFFFE_E00D;
const SEQ_DELIM: Tag = 0xFFFE_E0DD;
/// The pixel data element (7FE0,0010).
pub const PIXEL_DATA: Tag = 0x7FE0_0010;
const UNDEFINED: u32 = 0xFFFF_FFFF;
const MAX_DEPTH: usize = 64;

/// How the data set is encoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Encoding {
    /// Explicit VR (else implicit).
    pub explicit: bool,
    /// Big endian (else little).
    pub big: bool,
}

/// How the pixel data is encoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PixelCoding {
    /// Native (uncompressed) pixel data in the data set's byte order.
    Native,
    /// Encapsulated RLE Lossless.
    Rle,
    /// Encapsulated JPEG baseline, extended (8-bit) or lossless (feature `jpeg`).
    Jpeg,
    /// Encapsulated JPEG 2000, lossless or lossy (feature `jpeg2000`).
    Jpeg2000,
    /// Encapsulated JPEG-LS, lossless or near-lossless (feature `jpegls`).
    JpegLs,
    /// Encapsulated with a codec this build lacks (the UID).
    Unsupported(String),
}

/// The data set's encoding (after inflation, for [`DEFLATED`]) and the pixel coding of a
/// transfer syntax UID.
fn syntax(uid: &str) -> Result<(Encoding, PixelCoding), DicomError> {
    let le = Encoding {
        explicit: true,
        big: false,
    };
    Ok(match uid {
        "1.2.840.10008.1.2" => (
            Encoding {
                explicit: false,
                big: false,
            },
            PixelCoding::Native,
        ),
        "1.2.840.10008.1.2.1" | DEFLATED => (le, PixelCoding::Native),
        "1.2.840.10008.1.2.2" => (
            Encoding {
                explicit: true,
                big: true,
            },
            PixelCoding::Native,
        ),
        "1.2.840.10008.1.2.5" => (le, PixelCoding::Rle),
        "1.2.840.10008.1.2.4.50"
        | "1.2.840.10008.1.2.4.51"
        | "1.2.840.10008.1.2.4.57"
        | "1.2.840.10008.1.2.4.70"
            if cfg!(feature = "jpeg") =>
        {
            (le, PixelCoding::Jpeg)
        }
        "1.2.840.10008.1.2.4.90" | "1.2.840.10008.1.2.4.91" if cfg!(feature = "jpeg2000") => {
            (le, PixelCoding::Jpeg2000)
        }
        "1.2.840.10008.1.2.4.80" | "1.2.840.10008.1.2.4.81" if cfg!(feature = "jpegls") => {
            (le, PixelCoding::JpegLs)
        }
        u if u.starts_with("1.2.840.10008.1.2.4.") => (le, PixelCoding::Unsupported(u.to_string())),
        u => return Err(DicomError::UnsupportedTransferSyntax(u.to_string())),
    })
}

/// Deflated explicit VR little endian.
pub const DEFLATED: &str = "1.2.840.10008.1.2.1.99";

/// One element: its VR (`b"UN"` when implicit and unknown) and where its value lies.
#[derive(Clone, Debug)]
pub struct Element {
    /// Value representation as stored (explicit) or `*b"UN"` (implicit).
    pub vr: [u8; 2],
    /// The value's bytes in [`File::data`] (for an undefined-length sequence: its items without
    /// the sequence delimiter; empty for encapsulated pixel data).
    pub value: Range<usize>,
    /// For encapsulated pixel data: the fragments (the basic offset table excluded).
    pub fragments: Option<Vec<Range<usize>>>,
}

/// A parsed DICOM file.
#[derive(Debug)]
pub struct File {
    /// The transfer syntax UID of the file meta.
    pub transfer_syntax_uid: String,
    /// The data set's encoding.
    pub encoding: Encoding,
    /// The pixel coding.
    pub pixel_coding: PixelCoding,
    /// The file meta elements' values (group 0002).
    pub meta: BTreeMap<Tag, Vec<u8>>,
    /// The bytes of the data set (inflated when deflated).
    pub data: Vec<u8>,
    /// The top-level elements of the data set.
    pub elements: BTreeMap<Tag, Element>,
}

/// A cursor over a data set's bytes in one encoding (shared with [`crate::sequence`]).
pub(crate) struct Cur<'a> {
    pub(crate) b: &'a [u8],
    pub(crate) enc: Encoding,
    /// Stop the top level at the PixelData element (planning reads headers only).
    pub(crate) header_only: bool,
}

impl Cur<'_> {
    pub(crate) fn u16(&self, p: usize) -> Option<u16> {
        let s: [u8; 2] = self.b.get(p..p.checked_add(2)?)?.try_into().ok()?;
        Some(if self.enc.big {
            u16::from_be_bytes(s)
        } else {
            u16::from_le_bytes(s)
        })
    }
    pub(crate) fn u32(&self, p: usize) -> Option<u32> {
        let s: [u8; 4] = self.b.get(p..p.checked_add(4)?)?.try_into().ok()?;
        Some(if self.enc.big {
            u32::from_be_bytes(s)
        } else {
            u32::from_le_bytes(s)
        })
    }
    pub(crate) fn tag(&self, p: usize) -> Option<Tag> {
        Some((u32::from(self.u16(p)?) << 16) | u32::from(self.u16(p.checked_add(2)?)?))
    }
}

pub(crate) fn split(t: Tag) -> (u16, u16) {
    ((t >> 16) as u16, (t & 0xFFFF) as u16)
}

pub(crate) fn truncated(t: Tag, offset: usize) -> DicomError {
    let (group, element) = split(t);
    DicomError::Truncated {
        group,
        element,
        offset,
    }
}

fn long_length(vr: [u8; 2]) -> bool {
    matches!(
        &vr,
        b"OB"
            | b"OD"
            | b"OF"
            | b"OL"
            | b"OV"
            | b"OW"
            | b"SQ"
            | b"SV"
            | b"UC"
            | b"UN"
            | b"UR"
            | b"UT"
            | b"UV"
    )
}

/// An element header at `p`: (tag, vr, length, header size).
pub(crate) fn header(c: &Cur, p: usize) -> Result<(Tag, [u8; 2], u32, usize), DicomError> {
    let tag = c.tag(p).ok_or(truncated(0, p))?;
    if !c.enc.explicit || tag >> 16 == 0xFFFE {
        let len = c.u32(p + 4).ok_or(truncated(tag, p))?;
        return Ok((tag, *b"UN", len, 8));
    }
    let vr: [u8; 2] =
        c.b.get(p + 4..p + 6)
            .and_then(|s| s.try_into().ok())
            .ok_or(truncated(tag, p))?;
    if long_length(vr) {
        let len = c.u32(p + 8).ok_or(truncated(tag, p))?;
        Ok((tag, vr, len, 12))
    } else {
        let len = c.u16(p + 6).ok_or(truncated(tag, p))?;
        Ok((tag, vr, u32::from(len), 8))
    }
}

pub(crate) fn bounded(
    tag: Tag,
    at: usize,
    start: usize,
    len: u32,
    end: usize,
) -> Result<Range<usize>, DicomError> {
    let left = end.saturating_sub(start);
    if len as usize > left {
        let (group, element) = split(tag);
        return Err(DicomError::Length {
            group,
            element,
            offset: at,
            length: u64::from(len),
            left,
        });
    }
    Ok(start..start + len as usize)
}

/// Reads elements from `p` to `end` (or to an item delimiter when `in_item`), returning the
/// position after them; top-level elements go into `out`.
fn elements(
    c: &Cur,
    mut p: usize,
    end: usize,
    depth: usize,
    in_item: bool,
    mut out: Option<&mut BTreeMap<Tag, Element>>,
) -> Result<usize, DicomError> {
    while p < end {
        if c.header_only && depth == 0 && c.tag(p) == Some(PIXEL_DATA) {
            return Ok(p);
        }
        let (tag, vr, len, hl) = header(c, p)?;
        if tag == ITEM_DELIM {
            p += 8;
            if in_item {
                return Ok(p);
            }
            continue;
        }
        let start = p + hl;
        let mut el = Element {
            vr,
            value: start..start,
            fragments: None,
        };
        if len == UNDEFINED {
            if tag == PIXEL_DATA && depth == 0 {
                let (frags, next) = fragments(c, start, end)?;
                el.fragments = Some(frags);
                p = next;
            } else if !c.enc.explicit || &vr == b"SQ" || &vr == b"UN" {
                // An undefined-length UN holds implicit VR little endian items (PS3.5 6.2.2).
                let inner = if &vr == b"UN" && c.enc.explicit {
                    Cur {
                        b: c.b,
                        enc: Encoding {
                            explicit: false,
                            big: false,
                        },
                        header_only: false,
                    }
                } else {
                    Cur {
                        b: c.b,
                        enc: c.enc,
                        header_only: false,
                    }
                };
                p = sequence(&inner, start, end, depth + 1)?;
                // The items without the sequence delimiter, for [`File::item`].
                el.value = start..p.saturating_sub(8).max(start);
            } else {
                let (group, element) = split(tag);
                return Err(DicomError::UndefinedLength {
                    group,
                    element,
                    offset: p,
                });
            }
        } else {
            el.value = bounded(tag, p, start, len, end)?;
            p = el.value.end;
        }
        if let Some(m) = out.as_deref_mut() {
            m.insert(tag, el);
        }
    }
    if in_item {
        return Err(truncated(ITEM_DELIM, p));
    }
    Ok(p)
}

/// Skips an undefined-length sequence starting at `p` (its first item), returning the position
/// after its delimiter.
fn sequence(c: &Cur, mut p: usize, end: usize, depth: usize) -> Result<usize, DicomError> {
    if depth > MAX_DEPTH {
        return Err(DicomError::TooDeep(MAX_DEPTH));
    }
    loop {
        let tag = c.tag(p).ok_or(truncated(SEQ_DELIM, p))?;
        let len = c.u32(p + 4).ok_or(truncated(tag, p))?;
        match tag {
            SEQ_DELIM => return Ok(p + 8),
            ITEM if len == UNDEFINED => p = elements(c, p + 8, end, depth, true, None)?,
            ITEM => p = bounded(tag, p, p + 8, len, end)?.end,
            _ => {
                let (group, element) = split(tag);
                return Err(DicomError::NotAnItem {
                    group,
                    element,
                    offset: p,
                });
            }
        }
    }
}

/// Encapsulated pixel data from `p`: the fragments after the basic offset table, and the
/// position after the sequence delimiter.
fn fragments(c: &Cur, mut p: usize, end: usize) -> Result<(Vec<Range<usize>>, usize), DicomError> {
    let mut out = Vec::new();
    let mut first = true;
    loop {
        let tag = c.tag(p).ok_or(truncated(SEQ_DELIM, p))?;
        let len = c.u32(p + 4).ok_or(truncated(tag, p))?;
        match tag {
            SEQ_DELIM => return Ok((out, p + 8)),
            ITEM => {
                let r = bounded(tag, p, p + 8, len, end)?;
                p = r.end;
                if !std::mem::take(&mut first) {
                    out.push(r);
                }
            }
            _ => {
                let (group, element) = split(tag);
                return Err(DicomError::NotAnItem {
                    group,
                    element,
                    offset: p,
                });
            }
        }
    }
}

/// Trims a text value's padding (trailing spaces and NULs, leading spaces).
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes)
        .trim_end_matches(['\0', ' '])
        .trim_start()
        .to_string()
}

fn meta(bytes: &[u8]) -> Result<(BTreeMap<Tag, Vec<u8>>, usize), DicomError> {
    if bytes.get(128..132) != Some(b"DICM") {
        return Err(DicomError::Magic);
    }
    let c = Cur {
        b: bytes,
        enc: Encoding {
            explicit: true,
            big: false,
        },
        header_only: false,
    };
    let mut m = BTreeMap::new();
    let mut p = 132;
    while c.tag(p).is_some_and(|t| t >> 16 == 0x0002) {
        let (tag, _, len, hl) = header(&c, p)?;
        if len == UNDEFINED {
            let (group, element) = split(tag);
            return Err(DicomError::UndefinedLength {
                group,
                element,
                offset: p,
            });
        }
        let r = bounded(tag, p, p + hl, len, bytes.len())?;
        p = r.end;
        m.insert(tag, bytes[r].to_vec());
    }
    Ok((m, p))
}

/// Parses a whole DICOM file held in memory.
pub fn parse(bytes: Vec<u8>) -> Result<File, DicomError> {
    parse_with(bytes, false).map(|(f, _)| f)
}

/// Parses the data set up to (not including) the PixelData element: the file's attributes
/// without reading or decoding pixels. `bytes` may be the file's first part only; the flag
/// says whether PixelData was reached (else the part may have ended early).
pub fn parse_header(bytes: Vec<u8>) -> Result<(File, bool), DicomError> {
    parse_with(bytes, true)
}

/// As [`parse_header`], and where the PixelData element (its tag) starts in `bytes` when it was
/// reached in a data set that is not deflated (`None` otherwise).
pub fn parse_header_at(bytes: Vec<u8>) -> Result<(File, Option<usize>), DicomError> {
    let (file, stop, start) = parse_at(bytes, true)?;
    let at = stop.filter(|_| file.transfer_syntax_uid != DEFLATED);
    Ok((file, at.map(|p| p + start)))
}

fn parse_with(bytes: Vec<u8>, header_only: bool) -> Result<(File, bool), DicomError> {
    let (file, stop, _) = parse_at(bytes, header_only)?;
    Ok((file, stop.is_some()))
}

/// The file, where a header-only parse stopped at PixelData in [`File::data`] (`None` when not
/// reached), and where the data set starts in `bytes`.
fn parse_at(
    mut bytes: Vec<u8>,
    header_only: bool,
) -> Result<(File, Option<usize>, usize), DicomError> {
    let (meta, start) = meta(&bytes)?;
    let uid = meta
        .get(&0x0002_0010)
        .map(|v| text(v))
        .ok_or(DicomError::NoTransferSyntax)?;
    let (encoding, pixel_coding) = syntax(&uid)?;
    let data = if uid == DEFLATED {
        inflate(&bytes[start..])?
    } else {
        bytes.drain(..start);
        bytes
    };
    let mut els = BTreeMap::new();
    let stop = elements(
        &Cur {
            b: &data,
            enc: encoding,
            header_only,
        },
        0,
        data.len(),
        0,
        false,
        Some(&mut els),
    )?;
    let reached = (header_only && stop < data.len()).then_some(stop);
    Ok((
        File {
            transfer_syntax_uid: uid,
            encoding,
            pixel_coding,
            meta,
            data,
            elements: els,
        },
        reached,
        start,
    ))
}

fn inflate(z: &[u8]) -> Result<Vec<u8>, DicomError> {
    // Deflate expands at most 1032:1; the bound keeps a damaged stream from growing forever.
    let limit = (z.len() as u64).saturating_mul(1032).saturating_add(1024);
    let mut out = Vec::new();
    flate2::read::DeflateDecoder::new(z)
        .take(limit)
        .read_to_end(&mut out)
        .map_err(|e| DicomError::Inflate(e.to_string()))?;
    Ok(out)
}

impl File {
    /// The value bytes of a top-level element.
    pub fn bytes(&self, tag: Tag) -> Option<&[u8]> {
        self.elements
            .get(&tag)
            .and_then(|e| self.data.get(e.value.clone()))
    }
    /// A text element's value (padding trimmed); `None` when absent or empty.
    pub fn text(&self, tag: Tag) -> Option<String> {
        self.bytes(tag).map(text).filter(|s| !s.is_empty())
    }
    /// An unsigned short (US) element's first value.
    pub fn us(&self, tag: Tag) -> Option<u16> {
        let b = self.bytes(tag)?;
        let c = Cur {
            b,
            enc: self.encoding,
            header_only: false,
        };
        c.u16(0)
    }
    /// A decimal or integer string's values (DS/IS, backslash-separated).
    pub fn numbers(&self, tag: Tag) -> Option<Vec<f64>> {
        let t = self.text(tag)?;
        t.split('\\')
            .map(|s| s.trim().parse::<f64>().ok())
            .collect()
    }
    /// The first value of a DS/IS element.
    pub fn number(&self, tag: Tag) -> Option<f64> {
        self.numbers(tag)?.first().copied()
    }
}

/// The elements of one sequence item ([`File::item`]), read with the same accessors as a file.
#[derive(Debug)]
pub struct Item<'a> {
    data: &'a [u8],
    encoding: Encoding,
    elements: BTreeMap<Tag, Element>,
}

impl File {
    /// The first item of the top-level sequence `seq` (e.g. RadiopharmaceuticalInformation
    /// Sequence), or `None` when absent, empty or not a well-formed sequence.
    pub fn item(&self, seq: Tag) -> Option<Item<'_>> {
        let el = self.elements.get(&seq)?;
        let implicit_un = &el.vr == b"UN" && self.encoding.explicit;
        let enc = if implicit_un {
            Encoding {
                explicit: false,
                big: false,
            }
        } else {
            self.encoding
        };
        let c = Cur {
            b: &self.data,
            enc,
            header_only: false,
        };
        let (p, end) = (el.value.start, el.value.end);
        if c.tag(p)? != ITEM {
            return None;
        }
        let len = c.u32(p + 4)?;
        let mut out = BTreeMap::new();
        if len == UNDEFINED {
            elements(&c, p + 8, end, 1, true, Some(&mut out)).ok()?;
        } else {
            let r = bounded(ITEM, p, p + 8, len, end).ok()?;
            elements(&c, r.start, r.end, 1, false, Some(&mut out)).ok()?;
        }
        Some(Item {
            data: &self.data,
            encoding: enc,
            elements: out,
        })
    }
}

impl Item<'_> {
    /// A text element's value (padding trimmed); `None` when absent or empty.
    pub fn text(&self, tag: Tag) -> Option<String> {
        let e = self.elements.get(&tag)?;
        self.data
            .get(e.value.clone())
            .map(text)
            .filter(|s| !s.is_empty())
    }
    /// The first value of a DS/IS element.
    pub fn number(&self, tag: Tag) -> Option<f64> {
        self.text(tag)?.split('\\').next()?.trim().parse().ok()
    }
    /// The encoding the item was read with.
    pub fn encoding(&self) -> Encoding {
        self.encoding
    }
}
