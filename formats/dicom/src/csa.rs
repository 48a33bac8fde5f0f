//! Siemens CSA headers: the binary blob of (0029,xx10) "CSA Image Header Info" and (0029,xx20)
//! "CSA Series Header Info" under the private creator `SIEMENS CSA HEADER`, in the CSA2 layout
//! (all little endian):
//!
//! - `SV10`, four unused bytes, the number of tags (u32, 1..=128), one unused u32;
//! - per tag: its name (64 bytes, NUL-terminated), VM (i32), VR (4 bytes), SyngoDT (i32), the
//!   number of items (u32), one unused u32;
//! - per item: four u32, the second being the item's length; then that many bytes, padded to a
//!   multiple of 4.
//!
//! Every length is checked against the bytes left before it is used, and nothing is allocated
//! from a count in the header: the tags are collected as they are read, each taking at least 84
//! bytes of the blob.

use crate::parse::File;
use crate::sequence::Dataset;

/// The private creator of the CSA headers (group 0029).
pub const CREATOR: &str = "SIEMENS CSA HEADER";

/// Why a CSA header could not be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CsaError {
    /// The blob does not start with `SV10` (CSA1 and other layouts are not read).
    #[error("CSA header does not start with SV10 (only the CSA2 layout is read)")]
    NotCsa2,
    /// The tag count is outside 1..=128.
    #[error("CSA header declares {0} tags (expected 1 to 128)")]
    TagCount(u32),
    /// A tag, item header or item runs past the end of the blob.
    #[error("CSA header truncated at byte {offset} of {len} (reading {what})")]
    Truncated {
        /// Where the read started.
        offset: usize,
        /// The blob's length.
        len: usize,
        /// What was being read.
        what: &'static str,
    },
}

/// One CSA tag: its name, VR and item values (as stored, unpadded).
#[derive(Clone, Debug)]
pub struct Tag<'a> {
    /// The name (e.g. `NumberOfImagesInMosaic`).
    pub name: String,
    /// The VR (`IS`, `FD`, `DS`, ...).
    pub vr: String,
    /// The items' bytes.
    pub items: Vec<&'a [u8]>,
}

impl Tag<'_> {
    /// The items as numbers (text, NULs and spaces trimmed); empty items are skipped and an
    /// item that is not a number makes the whole `None`.
    pub fn numbers(&self) -> Option<Vec<f64>> {
        self.items
            .iter()
            .map(|b| crate::parse::text(b))
            .filter(|s| !s.trim_matches(char::from(0)).trim().is_empty())
            .map(|s| s.trim_matches(char::from(0)).trim().parse::<f64>().ok())
            .collect()
    }
}

fn u32_at(b: &[u8], at: usize, what: &'static str) -> Result<u32, CsaError> {
    b.get(at..at.saturating_add(4))
        .and_then(|s| <[u8; 4]>::try_from(s).ok())
        .map(u32::from_le_bytes)
        .ok_or(CsaError::Truncated {
            offset: at,
            len: b.len(),
            what,
        })
}

fn name_of(b: &[u8]) -> String {
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    String::from_utf8_lossy(&b[..end]).trim().to_string()
}

/// Parses a CSA2 blob into its tags.
pub fn parse(b: &[u8]) -> Result<Vec<Tag<'_>>, CsaError> {
    if !b.starts_with(b"SV10") {
        return Err(CsaError::NotCsa2);
    }
    let n = u32_at(b, 8, "the tag count")?;
    if !(1..=128).contains(&n) {
        return Err(CsaError::TagCount(n));
    }
    let mut at = 16;
    let mut tags = Vec::new();
    for _ in 0..n {
        let head = b.get(at..at + 84).ok_or(CsaError::Truncated {
            offset: at,
            len: b.len(),
            what: "a tag header",
        })?;
        let name = name_of(&head[..64]);
        let vr = name_of(&head[68..72]);
        let nitems = u32_at(head, 76, "the item count")?;
        at += 84;
        let mut items = Vec::new();
        for _ in 0..nitems {
            let len = u32_at(b, at + 4, "an item header")? as usize;
            u32_at(b, at + 12, "an item header")?;
            at += 16;
            let value = b
                .get(at..at.saturating_add(len))
                .ok_or(CsaError::Truncated {
                    offset: at,
                    len: b.len(),
                    what: "an item value",
                })?;
            items.push(value);
            at = at.saturating_add(len.div_ceil(4).saturating_mul(4));
        }
        tags.push(Tag { name, vr, items });
    }
    Ok(tags)
}

/// The CSA Image Header Info blob of an instance ((0029,xx10) under [`CREATOR`]), if any.
pub fn image_header(f: &File) -> Option<&[u8]> {
    let block = Dataset::top(f).private_block(0x0029, CREATOR)?;
    f.bytes(0x0029_0000 | (block << 8) | 0x10)
}

/// What a mosaic needs from the CSA image header.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct MosaicInfo {
    /// NumberOfImagesInMosaic.
    pub images: Option<usize>,
    /// SliceNormalVector (patient LPS).
    pub slice_normal: Option<[f64; 3]>,
}

/// Reads NumberOfImagesInMosaic and SliceNormalVector from a CSA image header blob.
pub fn mosaic_info(blob: &[u8]) -> Result<MosaicInfo, CsaError> {
    let mut out = MosaicInfo::default();
    for t in parse(blob)? {
        match t.name.as_str() {
            "NumberOfImagesInMosaic" => {
                out.images = t
                    .numbers()
                    .and_then(|v| v.first().copied())
                    .filter(|n| n.is_finite() && *n >= 1.0 && n.fract() == 0.0)
                    .map(|n| n as usize);
            }
            "SliceNormalVector" => {
                out.slice_normal = t
                    .numbers()
                    .and_then(|v| <[f64; 3]>::try_from(v).ok())
                    .filter(|v| v.iter().all(|x| x.is_finite()));
            }
            _ => {}
        }
    }
    Ok(out)
}
