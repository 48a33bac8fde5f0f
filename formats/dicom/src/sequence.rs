//! Nested data sets: the items of a sequence (SQ) element and the elements inside them, read
//! lazily from the file's bytes, at any depth (the functional groups of enhanced multi-frame
//! objects, MRDiffusionSequence, ...).
//!
//! Each item is walked once when it is asked for; its elements are ranges into
//! [`crate::File::data`]. Lengths are checked against the bytes that remain; the number of items
//! grows only with the items actually present, never from a count read in the file.

use std::ops::Range;

use crate::error::DicomError;
use crate::parse::{Cur, Encoding, File, Tag, bounded, header, split, truncated};

const ITEM: Tag = 0xFFFE_E000;
const ITEM_DELIM: Tag = 0xFFFE_E00D;
const SEQ_DELIM: Tag = 0xFFFE_E0DD;
const UNDEFINED: u32 = 0xFFFF_FFFF;
const MAX_DEPTH: usize = 64;

/// One element of a [`Dataset`]: its VR (`*b"UN"` when implicit) and value range.
#[derive(Clone, Debug)]
struct El {
    tag: Tag,
    vr: [u8; 2],
    value: Range<usize>,
}

/// A data set (the file's top level or one sequence item) whose elements can be read as text,
/// numbers, binary floats, or further sequences.
#[derive(Clone, Debug)]
pub struct Dataset<'a> {
    data: &'a [u8],
    enc: Encoding,
    depth: usize,
    els: Vec<El>,
}

const IMPLICIT_LE: Encoding = Encoding {
    explicit: false,
    big: false,
};

/// Reads the elements from `p` up to `end` (or an item delimiter when `in_item`): the elements
/// and the position after them (after the delimiter).
fn read_elements(
    c: &Cur,
    mut p: usize,
    end: usize,
    depth: usize,
    in_item: bool,
) -> Result<(Vec<El>, usize), DicomError> {
    if depth > MAX_DEPTH {
        return Err(DicomError::TooDeep(MAX_DEPTH));
    }
    let mut out = Vec::new();
    while p < end {
        let (tag, vr, len, hl) = header(c, p)?;
        if tag == ITEM_DELIM {
            p += 8;
            if in_item {
                return Ok((out, p));
            }
            continue;
        }
        let start = p + hl;
        let value = if len == UNDEFINED {
            let inner = if &vr == b"UN" && c.enc.explicit {
                Cur {
                    b: c.b,
                    enc: IMPLICIT_LE,
                    header_only: false,
                }
            } else {
                Cur {
                    b: c.b,
                    enc: c.enc,
                    header_only: false,
                }
            };
            if !(!c.enc.explicit || &vr == b"SQ" || &vr == b"UN") {
                let (group, element) = split(tag);
                return Err(DicomError::UndefinedLength {
                    group,
                    element,
                    offset: p,
                });
            }
            p = skip_sequence(&inner, start, end, depth + 1)?;
            start..p.saturating_sub(8).max(start)
        } else {
            p = bounded(tag, p, start, len, end)?.end;
            start..p
        };
        out.push(El { tag, vr, value });
    }
    if in_item {
        return Err(truncated(ITEM_DELIM, p));
    }
    Ok((out, p))
}

/// Skips an undefined-length sequence from its first item; the position after its delimiter.
fn skip_sequence(c: &Cur, mut p: usize, end: usize, depth: usize) -> Result<usize, DicomError> {
    if depth > MAX_DEPTH {
        return Err(DicomError::TooDeep(MAX_DEPTH));
    }
    loop {
        let tag = c.tag(p).ok_or(truncated(SEQ_DELIM, p))?;
        let len = c.u32(p + 4).ok_or(truncated(tag, p))?;
        match tag {
            SEQ_DELIM => return Ok(p + 8),
            ITEM if len == UNDEFINED => p = read_elements(c, p + 8, end, depth, true)?.1,
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

impl<'a> Dataset<'a> {
    /// The top level of a parsed file.
    pub fn top(f: &'a File) -> Dataset<'a> {
        Dataset {
            data: &f.data,
            enc: f.encoding,
            depth: 0,
            els: f
                .elements
                .iter()
                .map(|(&tag, e)| El {
                    tag,
                    vr: e.vr,
                    value: e.value.clone(),
                })
                .collect(),
        }
    }

    fn get(&self, tag: Tag) -> Option<&El> {
        self.els.iter().find(|e| e.tag == tag)
    }

    /// Whether the element is present.
    pub fn has(&self, tag: Tag) -> bool {
        self.get(tag).is_some()
    }

    /// The value bytes of an element.
    pub fn bytes(&self, tag: Tag) -> Option<&'a [u8]> {
        let e = self.get(tag)?;
        self.data.get(e.value.clone())
    }

    /// A text element's value (padding trimmed); `None` when absent or empty.
    pub fn text(&self, tag: Tag) -> Option<String> {
        self.bytes(tag)
            .map(crate::parse::text)
            .filter(|s| !s.is_empty())
    }

    /// A DS/IS element's values; `None` when absent, empty or not all numbers.
    pub fn numbers(&self, tag: Tag) -> Option<Vec<f64>> {
        let t = self.text(tag)?;
        t.split('\\')
            .map(|s| s.trim().parse::<f64>().ok())
            .collect()
    }

    /// Numeric values of an element whatever its VR: DS/IS as text, FD/FL/UL/US/SL/SS as
    /// binary; an implicit-VR or `UN` value as the dictionary VR `vr` says (e.g. `*b"FD"`).
    /// `None` when absent or malformed.
    pub fn floats(&self, tag: Tag, vr: [u8; 2]) -> Option<Vec<f64>> {
        let e = self.get(tag)?;
        let b = self.data.get(e.value.clone())?;
        let binary = |w: usize, kind: u8| -> Option<Vec<f64>> {
            if b.is_empty() || b.len() % w != 0 {
                return None;
            }
            Some(
                b.chunks_exact(w)
                    .map(|c| {
                        let mut a = [0u8; 8];
                        a[..w].copy_from_slice(c);
                        if self.enc.big {
                            a[..w].reverse();
                        }
                        match (w, kind) {
                            (8, b'F') => f64::from_le_bytes(a),
                            (4, b'F') => f64::from(f32::from_le_bytes([a[0], a[1], a[2], a[3]])),
                            (4, b'S') => f64::from(i32::from_le_bytes([a[0], a[1], a[2], a[3]])),
                            (4, _) => f64::from(u32::from_le_bytes([a[0], a[1], a[2], a[3]])),
                            (2, b'S') => f64::from(i16::from_le_bytes([a[0], a[1]])),
                            _ => f64::from(u16::from_le_bytes([a[0], a[1]])),
                        }
                    })
                    .collect(),
            )
        };
        let stored = if self.enc.explicit && &e.vr != b"UN" {
            e.vr
        } else {
            vr
        };
        match &stored {
            b"DS" | b"IS" => self.numbers(tag),
            b"FD" => binary(8, b'F'),
            b"FL" => binary(4, b'F'),
            b"UL" => binary(4, b'U'),
            b"SL" => binary(4, b'S'),
            b"US" => binary(2, b'U'),
            b"SS" => binary(2, b'S'),
            _ => None,
        }
    }

    /// Every item of the sequence `tag` (empty when absent); an error when the sequence is
    /// malformed.
    pub fn items(&self, tag: Tag) -> Result<Vec<Dataset<'a>>, DicomError> {
        let Some(e) = self.get(tag) else {
            return Ok(Vec::new());
        };
        let enc = if &e.vr == b"UN" && self.enc.explicit {
            IMPLICIT_LE
        } else {
            self.enc
        };
        let c = Cur {
            b: self.data,
            enc,
            header_only: false,
        };
        let (mut p, end) = (e.value.start, e.value.end.min(self.data.len()));
        let depth = self.depth + 1;
        let mut out = Vec::new();
        while p < end {
            let t = c.tag(p).ok_or(truncated(ITEM, p))?;
            let len = c.u32(p + 4).ok_or(truncated(t, p))?;
            let (els, next) = match t {
                SEQ_DELIM => break,
                ITEM if len == UNDEFINED => read_elements(&c, p + 8, end, depth, true)?,
                ITEM => {
                    let stop = bounded(t, p, p + 8, len, end)?.end;
                    (read_elements(&c, p + 8, stop, depth, false)?.0, stop)
                }
                _ => {
                    let (group, element) = split(t);
                    return Err(DicomError::NotAnItem {
                        group,
                        element,
                        offset: p,
                    });
                }
            };
            out.push(Dataset {
                data: self.data,
                enc,
                depth,
                els,
            });
            p = next;
        }
        Ok(out)
    }

    /// The first item of the sequence `tag`, `None` when absent or empty.
    pub fn item(&self, tag: Tag) -> Result<Option<Dataset<'a>>, DicomError> {
        Ok(self.items(tag)?.into_iter().next())
    }

    /// The private block (`0x10`..=`0xFF`) reserved by `creator` in `group` (its element
    /// `(group,00xx)` holds the creator's name), so that `(group, xxyy)` can be read.
    pub fn private_block(&self, group: u16, creator: &str) -> Option<u32> {
        let g = u32::from(group);
        self.els
            .iter()
            .filter(|e| e.tag >> 16 == g && (0x10..=0xFF).contains(&(e.tag & 0xFFFF)))
            .find(|e| {
                self.data
                    .get(e.value.clone())
                    .is_some_and(|b| crate::parse::text(b).eq_ignore_ascii_case(creator))
            })
            .map(|e| e.tag & 0xFF)
    }
}
