//! A minimal MATLAB Level 5 MAT-file parser: enough for EEGLAB `.set` files.
//!
//! Handles `miMATRIX` elements of classes double, single, int8..uint64, char, logical (as
//! uint8), cell, struct and object (read as struct), small data elements and `miCOMPRESSED`
//! (zlib) elements. Sparse arrays are skipped (read as [`Value::Unsupported`]). Every length read
//! from the file is checked against the bytes really present before anything is allocated.

use std::io::{self, Read};

use crate::{Error, invalid};

/// Decompressed size allowed per compressed element (bytes).
const MAX_INFLATE: u64 = 16 << 30;
/// Nesting depth accepted for cells and structs.
const MAX_DEPTH: usize = 64;

/// A MATLAB value.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// Numeric or logical array (real part, converted to float64), column-major.
    Num {
        /// Dimensions.
        dims: Vec<usize>,
        /// Values.
        data: Vec<f64>,
    },
    /// Char array, rows joined (a 1×n char array is one string).
    Char {
        /// Dimensions.
        dims: Vec<usize>,
        /// The characters, column-major as stored.
        chars: Vec<char>,
    },
    /// Cell array, column-major.
    Cell {
        /// Dimensions.
        dims: Vec<usize>,
        /// Elements.
        items: Vec<Value>,
    },
    /// Struct array: field names and, per element (column-major), one value per field.
    Struct {
        /// Dimensions.
        dims: Vec<usize>,
        /// Field names.
        fields: Vec<String>,
        /// `elems[i][f]`: element i, field f.
        elems: Vec<Vec<Value>>,
    },
    /// A class this parser does not read (sparse, function handle, opaque object).
    Unsupported,
}

impl Value {
    /// The text of a char array (rows of a 2-D array concatenated row by row, trailing spaces kept).
    pub fn as_str(&self) -> Option<String> {
        match self {
            Value::Char { dims, chars } => {
                let rows = dims.first().copied().unwrap_or(0);
                if rows <= 1 {
                    return Some(chars.iter().collect());
                }
                let cols = chars.len() / rows;
                let mut s = String::new();
                for r in 0..rows {
                    for c in 0..cols {
                        s.push(chars[c * rows + r]);
                    }
                }
                Some(s)
            }
            _ => None,
        }
    }

    /// The first element of a numeric array.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Num { data, .. } => data.first().copied(),
            _ => None,
        }
    }

    /// A field of element `i` of a struct array.
    pub fn field(&self, i: usize, name: &str) -> Option<&Value> {
        match self {
            Value::Struct { fields, elems, .. } => {
                let f = fields.iter().position(|n| n == name)?;
                elems.get(i)?.get(f)
            }
            _ => None,
        }
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        match self {
            Value::Num { data, .. } => data.len(),
            Value::Char { chars, .. } => chars.len(),
            Value::Cell { items, .. } => items.len(),
            Value::Struct { elems, .. } => elems.len(),
            Value::Unsupported => 0,
        }
    }

    /// Dimensions (empty for unsupported values).
    pub fn dims(&self) -> &[usize] {
        match self {
            Value::Num { dims, .. }
            | Value::Char { dims, .. }
            | Value::Cell { dims, .. }
            | Value::Struct { dims, .. } => dims,
            Value::Unsupported => &[],
        }
    }
}

/// A parsed MAT-file: its top-level variables in file order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct MatFile {
    /// `(name, value)` pairs.
    pub vars: Vec<(String, Value)>,
}

impl MatFile {
    /// A top-level variable by name.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.vars.iter().find(|(n, _)| n == name).map(|(_, v)| v)
    }
}

struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
    be: bool,
}

impl<'a> Cursor<'a> {
    fn u32(&mut self, what: &str) -> io::Result<u32> {
        let b = self.take(4, what)?;
        let a = [b[0], b[1], b[2], b[3]];
        Ok(if self.be {
            u32::from_be_bytes(a)
        } else {
            u32::from_le_bytes(a)
        })
    }

    fn take(&mut self, n: usize, what: &str) -> io::Result<&'a [u8]> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.buf.len())
            .ok_or_else(|| {
                invalid(
                    Error::Mat,
                    format!(
                        "mat {what} at byte {}: {n} bytes claimed, {} left",
                        self.pos,
                        self.buf.len() - self.pos
                    ),
                )
            })?;
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    /// Reads one data element tag and returns (type, payload); moves past the padding.
    fn element(&mut self) -> io::Result<(u32, &'a [u8])> {
        let at = self.pos;
        let first = self.u32("element tag")?;
        if first >> 16 != 0 {
            // Small data element: 2-byte size, 2-byte type, 4 bytes of data.
            let ty = first & 0xFFFF;
            let n = (first >> 16) as usize;
            if n > 4 {
                return Err(invalid(
                    Error::Mat,
                    format!("mat small element at byte {at}: size {n} > 4"),
                ));
            }
            let d = self.take(4, "small element")?;
            return Ok((ty, &d[..n]));
        }
        let n = self.u32("element size")? as usize;
        let d = self.take(n, "element data")?;
        if first != 15 {
            let pad = (8 - n % 8) % 8;
            let pad = pad.min(self.buf.len() - self.pos);
            self.pos += pad;
        }
        Ok((first, d))
    }
}

/// Parses a whole MAT v5 file held in memory.
pub fn parse(bytes: &[u8]) -> io::Result<MatFile> {
    if bytes.len() < 128 || !bytes.starts_with(b"MATLAB 5.0 MAT-file") {
        return Err(invalid(Error::Mat, "mat header: not a matlab 5.0 mat-file"));
    }
    let be = match &bytes[126..128] {
        b"IM" => false,
        b"MI" => true,
        _ => {
            return Err(invalid(
                Error::Mat,
                "mat header byte 126: bad endian indicator",
            ));
        }
    };
    let mut cur = Cursor {
        buf: bytes,
        pos: 128,
        be,
    };
    let mut out = MatFile::default();
    while cur.pos + 8 <= bytes.len() {
        let at = cur.pos;
        let (ty, data) = cur.element()?;
        match ty {
            14 => {
                let (name, v) = parse_matrix(data, be, 0)?;
                out.vars.push((name, v));
            }
            15 => {
                let plain = inflate(data, at)?;
                let mut c = Cursor {
                    buf: &plain,
                    pos: 0,
                    be,
                };
                let (ty, inner) = c.element()?;
                if ty == 14 {
                    let (name, v) = parse_matrix(inner, be, 0)?;
                    out.vars.push((name, v));
                }
            }
            _ => {}
        }
    }
    Ok(out)
}

fn inflate(data: &[u8], at: usize) -> io::Result<Vec<u8>> {
    let mut out = Vec::new();
    flate2::read::ZlibDecoder::new(data)
        .take(MAX_INFLATE)
        .read_to_end(&mut out)
        .map_err(|e| {
            invalid(
                Error::Mat,
                format!("mat compressed element at byte {at}: {e}"),
            )
        })?;
    Ok(out)
}

fn numbers(ty: u32, d: &[u8], be: bool, at: &str) -> io::Result<Vec<f64>> {
    macro_rules! conv {
        ($t:ty, $n:expr) => {
            d.chunks_exact($n)
                .map(|c| {
                    let mut a = [0u8; $n];
                    a.copy_from_slice(c);
                    (if be {
                        <$t>::from_be_bytes(a)
                    } else {
                        <$t>::from_le_bytes(a)
                    }) as f64
                })
                .collect()
        };
    }
    Ok(match ty {
        1 => d.iter().map(|&b| b as i8 as f64).collect(),
        2 => d.iter().map(|&b| b as f64).collect(),
        3 => conv!(i16, 2),
        4 => conv!(u16, 2),
        5 => conv!(i32, 4),
        6 => conv!(u32, 4),
        7 => conv!(f32, 4),
        9 => conv!(f64, 8),
        12 => conv!(i64, 8),
        13 => conv!(u64, 8),
        _ => {
            return Err(invalid(
                Error::Mat,
                format!("mat {at}: numeric data of element type {ty}"),
            ));
        }
    })
}

/// Reads a struct (class 2) or object (class 3) array's field names and values; `name`,
/// `dims` and `count` come from its header, `data_len` bounds the element count.
fn parse_struct(
    c: &mut Cursor<'_>,
    class: u32,
    name: &str,
    dims: Vec<usize>,
    count: usize,
    data_len: usize,
    depth: usize,
) -> io::Result<Value> {
    if class == 3 {
        let _ = c.element()?; // class name
    }
    let (_, len_raw) = c.element()?;
    let flen = numbers(5, len_raw, c.be, "field name length")?
        .first()
        .copied()
        .unwrap_or(0.0) as usize;
    let (_, names_raw) = c.element()?;
    let fields: Vec<String> = if flen == 0 {
        Vec::new()
    } else {
        names_raw
            .chunks(flen)
            .map(|n| {
                let end = n.iter().position(|&b| b == 0).unwrap_or(n.len());
                String::from_utf8_lossy(&n[..end]).into_owned()
            })
            .collect()
    };
    let total = count
        .checked_mul(fields.len())
        .ok_or_else(|| invalid(Error::Mat, "mat struct: element count overflows"))?;
    if total > data_len / 8 + 1 {
        return Err(invalid(
            Error::Mat,
            format!("mat struct {name:?}: {total} values in {} bytes", data_len),
        ));
    }
    let mut elems = Vec::with_capacity(count);
    for _ in 0..count {
        let mut vals = Vec::with_capacity(fields.len());
        for _ in 0..fields.len() {
            let (ty, d) = c.element()?;
            if ty != 14 {
                return Err(invalid(
                    Error::Mat,
                    format!("mat struct {name:?}: element type {ty}"),
                ));
            }
            vals.push(parse_matrix(d, c.be, depth + 1)?.1);
        }
        elems.push(vals);
    }
    Ok(Value::Struct {
        dims,
        fields,
        elems,
    })
}

fn parse_matrix(data: &[u8], be: bool, depth: usize) -> io::Result<(String, Value)> {
    if depth > MAX_DEPTH {
        return Err(invalid(Error::Mat, "mat: arrays nested more than 64 deep"));
    }
    if data.is_empty() {
        return Ok((
            String::new(),
            Value::Num {
                dims: vec![0, 0],
                data: Vec::new(),
            },
        ));
    }
    let mut c = Cursor {
        buf: data,
        pos: 0,
        be,
    };
    let (_, flags) = c.element()?;
    if flags.len() < 4 {
        return Err(invalid(Error::Mat, "mat array flags: shorter than 4 bytes"));
    }
    let flag_word = if be {
        u32::from_be_bytes([flags[0], flags[1], flags[2], flags[3]])
    } else {
        u32::from_le_bytes([flags[0], flags[1], flags[2], flags[3]])
    };
    let class = flag_word & 0xFF;
    let (dty, dims_raw) = c.element()?;
    if dty != 5 {
        return Err(invalid(
            Error::Mat,
            format!("mat dimensions: element type {dty}, expected int32"),
        ));
    }
    let dims: Vec<usize> = numbers(5, dims_raw, be, "dimensions")?
        .into_iter()
        .map(|d| if d < 0.0 { 0 } else { d as usize })
        .collect();
    let count = dims
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .ok_or_else(|| invalid(Error::Mat, "mat dimensions: element count overflows"))?;
    let (_, name_raw) = c.element()?;
    let name = String::from_utf8_lossy(name_raw).into_owned();
    let value = match class {
        1 => {
            // Each cell element takes at least 8 bytes: check before allocating.
            if count > data.len() / 8 + 1 {
                return Err(invalid(
                    Error::Mat,
                    format!(
                        "mat cell {name:?}: {count} elements in {} bytes",
                        data.len()
                    ),
                ));
            }
            let mut items = Vec::with_capacity(count);
            for _ in 0..count {
                let (ty, d) = c.element()?;
                if ty != 14 {
                    return Err(invalid(
                        Error::Mat,
                        format!("mat cell {name:?}: element type {ty}"),
                    ));
                }
                items.push(parse_matrix(d, be, depth + 1)?.1);
            }
            Value::Cell { dims, items }
        }
        2 | 3 => parse_struct(&mut c, class, name.as_str(), dims, count, data.len(), depth)?,
        4 => {
            let (ty, d) = c.element()?;
            let chars: Vec<char> = match ty {
                16 => String::from_utf8_lossy(d).chars().collect(),
                17 | 4 | 3 => numbers(4, d, be, "char")?
                    .into_iter()
                    .map(|u| char::from_u32(u as u32).unwrap_or('\u{FFFD}'))
                    .collect(),
                18 | 6 | 5 => numbers(6, d, be, "char")?
                    .into_iter()
                    .map(|u| char::from_u32(u as u32).unwrap_or('\u{FFFD}'))
                    .collect(),
                1 | 2 => d.iter().map(|&b| b as char).collect(),
                _ => {
                    return Err(invalid(
                        Error::Mat,
                        format!("mat char {name:?}: element type {ty}"),
                    ));
                }
            };
            Value::Char { dims, chars }
        }
        6..=15 => {
            let (ty, d) = c.element()?;
            let v = numbers(ty, d, be, &format!("array {name:?}"))?;
            if v.len() != count {
                return Err(invalid(
                    Error::Mat,
                    format!(
                        "mat array {name:?}: {} values stored, dimensions say {count}",
                        v.len()
                    ),
                ));
            }
            Value::Num { dims, data: v }
        }
        _ => Value::Unsupported,
    };
    Ok((name, value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_bad_header_and_truncation() {
        assert!(parse(b"hello").is_err());
        let mut b = vec![b' '; 128];
        b[..19].copy_from_slice(b"MATLAB 5.0 MAT-file");
        b[126] = b'I';
        b[127] = b'M';
        // A miMATRIX element claiming 1 GB.
        b.extend_from_slice(&14u32.to_le_bytes());
        b.extend_from_slice(&(1u32 << 30).to_le_bytes());
        let e = parse(&b).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidData);
        assert!(e.to_string().contains("claimed"), "{e}");
    }
}
