//! JPEG-LS decoder (ITU-T T.87 | ISO/IEC 14495-1), written for this crate: lossless and
//! near-lossless, 2 to 16 bits, one or more components with interleave modes none, line and
//! sample, restart markers, LSE preset coding parameters and oversize image dimensions. Mapping
//! tables (palettes) and the HP colour transforms (a non-standard extension) are refused.
//!
//! Each frame is decoded line by line into buffers that grow with the decoded data, so nothing
//! is allocated from the frame header alone (rows × columns are also checked against the DICOM
//! image attributes before decoding). Any damage is an error naming what went wrong, never a
//! panic.

use std::ops::Range;

use crate::error::DicomError;
use crate::pixels::Image;

/// An error in frame `frame`.
fn err(frame: usize, what: &'static str) -> DicomError {
    DicomError::JpegLs { frame, what }
}

/// The run-length order table J (T.87 A.7.1.1).
const J: [u32; 32] = [
    0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 9, 10, 11, 12, 13,
    14, 15,
];

/// Whether a fragment ends a codestream (EOI, before any trailing padding byte).
fn ends_frame(b: &[u8]) -> bool {
    let end = b.iter().rposition(|&x| x != 0).map_or(0, |p| p + 1);
    end >= 2 && b[end - 2..end] == [0xFF, 0xD9]
}

/// The codestream of each frame: one fragment per frame when the counts agree, else
/// fragments joined up to each EOI marker.
fn frames(data: &[u8], frags: &[Range<usize>], n: usize) -> Result<Vec<Vec<u8>>, DicomError> {
    let parts: Vec<&[u8]> = frags.iter().filter_map(|r| data.get(r.clone())).collect();
    if parts.len() == n {
        return Ok(parts.into_iter().map(<[u8]>::to_vec).collect());
    }
    let mut out: Vec<Vec<u8>> = vec![Vec::new()];
    for p in parts {
        if let Some(cur) = out.last_mut() {
            cur.extend_from_slice(p);
        }
        if ends_frame(p) {
            out.push(Vec::new());
        }
    }
    out.retain(|f| !f.is_empty());
    if out.len() != n {
        return Err(err(0, "the fragments do not hold one codestream per frame"));
    }
    Ok(out)
}

/// Decodes every frame to native little-endian bytes (one byte a sample when BitsAllocated
/// is 8, else two), samples of a pixel interleaved.
pub fn decode(data: &[u8], frags: &[Range<usize>], img: &Image) -> Result<Vec<u8>, DicomError> {
    let parts = frames(data, frags, img.frames)?;
    if !matches!(img.bits_allocated, 8 | 16) {
        return Err(err(0, "JPEG-LS pixel data needs BitsAllocated 8 or 16"));
    }
    let wide = img.bits_allocated == 16;
    let mut out = Vec::new();
    for (k, stream) in parts.iter().enumerate() {
        // DCMTK up to at least 3.6.7 bundles CharLS 1.0, whose default thresholds for
        // MAXVAL < 128 differ from T.87's: such a stream that fails is tried that way too.
        let d = decode_stream(stream, false)
            .or_else(|what| decode_stream(stream, true).map_err(|_| what))
            .map_err(|what| err(k, what))?;
        if (d.height, d.width) != (img.rows, img.columns) {
            return Err(err(k, "codestream size differs from Rows × Columns"));
        }
        if d.planes.len() != img.samples {
            return Err(err(
                k,
                "codestream component count differs from SamplesPerPixel",
            ));
        }
        if u16::from(d.precision) > img.bits_allocated {
            return Err(err(k, "codestream precision exceeds BitsAllocated"));
        }
        let n = d.width * d.height;
        for i in 0..n {
            for plane in &d.planes {
                let v = plane[i];
                if wide {
                    out.extend_from_slice(&v.to_le_bytes());
                } else {
                    out.push(v as u8);
                }
            }
        }
    }
    Ok(out)
}

/// A decoded frame: each component's samples in raster order.
pub(crate) struct Decoded {
    /// Samples per line.
    pub width: usize,
    /// Lines.
    pub height: usize,
    /// Sample precision P.
    pub precision: u8,
    /// One plane per component, in frame header order.
    pub planes: Vec<Vec<u16>>,
}

/// The frame header (SOF55).
struct Frame {
    precision: u8,
    height: usize,
    width: usize,
    ids: Vec<u8>,
}

/// LSE preset coding parameters (0: the default).
#[derive(Clone, Copy, Default)]
struct Preset {
    maxval: i32,
    t1: i32,
    t2: i32,
    t3: i32,
    reset: i32,
}

/// Byte reader over the marker segments.
struct Bytes<'a> {
    b: &'a [u8],
    pos: usize,
}

impl Bytes<'_> {
    fn u8(&mut self) -> Result<u8, &'static str> {
        let v = *self.b.get(self.pos).ok_or("codestream ends early")?;
        self.pos += 1;
        Ok(v)
    }

    fn u16(&mut self) -> Result<u16, &'static str> {
        Ok(u16::from(self.u8()?) << 8 | u16::from(self.u8()?))
    }

    fn uint(&mut self, n: usize) -> Result<u32, &'static str> {
        let mut v = 0u32;
        for _ in 0..n {
            v = v.checked_shl(8).ok_or("oversize field")? | u32::from(self.u8()?);
        }
        Ok(v)
    }

    /// The next marker code, skipping fill bytes (FF).
    fn marker(&mut self) -> Result<u8, &'static str> {
        if self.u8()? != 0xFF {
            return Err("marker expected");
        }
        loop {
            match self.u8()? {
                0xFF => {}
                m => return Ok(m),
            }
        }
    }

    /// A marker segment's payload (after its length field).
    fn segment(&mut self) -> Result<&[u8], &'static str> {
        let len = usize::from(self.u16()?);
        let body = len
            .checked_sub(2)
            .and_then(|n| self.b.get(self.pos..self.pos + n))
            .ok_or("marker segment runs past the codestream")?;
        self.pos += len - 2;
        Ok(body)
    }
}

/// Decodes one JPEG-LS codestream; `legacy`: CharLS 1.0's default thresholds for MAXVAL < 128
/// (T.87's otherwise).
pub(crate) fn decode_stream(stream: &[u8], legacy: bool) -> Result<Decoded, &'static str> {
    let mut r = Bytes { b: stream, pos: 0 };
    if r.marker()? != 0xD8 {
        return Err("no SOI marker: not a JPEG-LS codestream");
    }
    let mut frame: Option<Frame> = None;
    let mut preset = Preset::default();
    let mut restart = 0usize;
    let mut planes: Vec<Option<Vec<u16>>> = Vec::new();
    loop {
        match r.marker()? {
            0xF7 => {
                if frame.is_some() {
                    return Err("second frame header");
                }
                let f = sof(r.segment()?)?;
                planes = vec![None; f.ids.len()];
                frame = Some(f);
            }
            0xF8 => lse(r.segment()?, &mut preset, frame.as_mut())?,
            0xDD => {
                let s = r.segment()?;
                if s.is_empty() || s.len() > 4 {
                    return Err("bad DRI segment");
                }
                restart = s.iter().fold(0usize, |v, &b| v << 8 | usize::from(b));
            }
            0xDA => {
                let f = frame.as_ref().ok_or("scan before the frame header")?;
                let header = sos(r.segment()?, f)?;
                let params = Params::new(f.precision, header.near, preset, legacy)?;
                let (decoded, end) = scan(stream, r.pos, f, &header, &params, restart)?;
                r.pos = end;
                for (c, plane) in header.comps.iter().zip(decoded) {
                    if planes[*c].replace(plane).is_some() {
                        return Err("component coded twice");
                    }
                }
            }
            0xD9 => break,
            0xC0..=0xC3 | 0xC5..=0xC7 | 0xC9..=0xCB | 0xCD..=0xCF => {
                return Err("a JPEG (not JPEG-LS) frame header");
            }
            0xE8 => {
                let s = r.segment()?;
                if s.len() >= 5 && &s[..4] == b"mrfx" && s[4] != 0 {
                    return Err("HP colour transform (non-standard) is not supported");
                }
            }
            0xD0..=0xD7 | 0x01 => return Err("marker without a scan"),
            _ => {
                r.segment()?;
            }
        }
    }
    let f = frame.ok_or("no frame header")?;
    let planes = planes
        .into_iter()
        .collect::<Option<Vec<_>>>()
        .ok_or("a component has no scan")?;
    Ok(Decoded {
        width: f.width,
        height: f.height,
        precision: f.precision,
        planes,
    })
}

fn sof(s: &[u8]) -> Result<Frame, &'static str> {
    let mut r = Bytes { b: s, pos: 0 };
    let precision = r.u8()?;
    let height = usize::from(r.u16()?);
    let width = usize::from(r.u16()?);
    let n = usize::from(r.u8()?);
    if !(2..=16).contains(&precision) {
        return Err("sample precision outside 2..16");
    }
    if n == 0 || n > 4 {
        return Err("component count outside 1..4");
    }
    let mut ids = Vec::with_capacity(n);
    for _ in 0..n {
        let id = r.u8()?;
        let sampling = r.u8()?;
        r.u8()?;
        if sampling != 0x11 {
            return Err("subsampled components are not supported");
        }
        if ids.contains(&id) {
            return Err("duplicate component id");
        }
        ids.push(id);
    }
    Ok(Frame {
        precision,
        height,
        width,
        ids,
    })
}

fn lse(s: &[u8], preset: &mut Preset, frame: Option<&mut Frame>) -> Result<(), &'static str> {
    let mut r = Bytes { b: s, pos: 0 };
    match r.u8()? {
        1 => {
            let mut v = [0i32; 5];
            for x in &mut v {
                *x = i32::from(r.u16()?);
            }
            *preset = Preset {
                maxval: v[0],
                t1: v[1],
                t2: v[2],
                t3: v[3],
                reset: v[4],
            };
            Ok(())
        }
        2 | 3 => Err("JPEG-LS mapping tables are not supported"),
        4 => {
            let f = frame.ok_or("oversize dimensions before the frame header")?;
            let w = usize::from(r.u8()?);
            if !(2..=4).contains(&w) {
                return Err("bad oversize dimension width");
            }
            f.height = r.uint(w)? as usize;
            f.width = r.uint(w)? as usize;
            // DICOM Rows and Columns are 16-bit: a larger image cannot be this one (and its line
            // buffers are not allocated on the header's word).
            if f.height > 0xFFFF || f.width > 0xFFFF {
                return Err("oversize dimensions beyond 65535");
            }
            Ok(())
        }
        _ => Err("unknown LSE segment"),
    }
}

/// A scan header.
struct ScanHeader {
    /// Frame component indices, in scan order.
    comps: Vec<usize>,
    near: i32,
    ilv: u8,
}

fn sos(s: &[u8], f: &Frame) -> Result<ScanHeader, &'static str> {
    let mut r = Bytes { b: s, pos: 0 };
    let n = usize::from(r.u8()?);
    if n == 0 || n > f.ids.len() {
        return Err("bad scan component count");
    }
    let mut comps = Vec::with_capacity(n);
    for _ in 0..n {
        let id = r.u8()?;
        let table = r.u8()?;
        if table != 0 {
            return Err("JPEG-LS mapping tables are not supported");
        }
        let c = f
            .ids
            .iter()
            .position(|&x| x == id)
            .ok_or("scan names an unknown component")?;
        comps.push(c);
    }
    let near = i32::from(r.u8()?);
    let ilv = r.u8()?;
    let point = r.u8()?;
    if point & 0x0F != 0 {
        return Err("point transform is not supported");
    }
    match (ilv, n) {
        (0, 1) | (1 | 2, 2..) => {}
        (0, _) => return Err("non-interleaved scan with several components"),
        (1 | 2, _) => {}
        _ => return Err("bad interleave mode"),
    }
    Ok(ScanHeader { comps, near, ilv })
}

/// Coding parameters of a scan (T.87 C.2.4.1 and A.2.1).
struct Params {
    maxval: i32,
    near: i32,
    range: i32,
    qbpp: u32,
    limit: u32,
    t1: i32,
    t2: i32,
    t3: i32,
    reset: i32,
}

fn ceil_log2(v: i32) -> u32 {
    let mut k = 0;
    while (1i64 << k) < i64::from(v) {
        k += 1;
    }
    k
}

impl Params {
    fn new(precision: u8, near: i32, p: Preset, legacy: bool) -> Result<Params, &'static str> {
        let maxval = if p.maxval == 0 {
            (1 << precision) - 1
        } else {
            p.maxval
        };
        if maxval < 1 || maxval > (1 << precision) - 1 {
            return Err("MAXVAL does not fit the sample precision");
        }
        if near > (maxval / 2).min(255) {
            return Err("NEAR is too large for MAXVAL");
        }
        let range = (maxval + 2 * near) / (2 * near + 1) + 1;
        let bpp = ceil_log2(maxval + 1).max(2);
        let limit = 2 * (bpp + bpp.max(8));
        let clamp = |i: i32, j: i32| if i > maxval || i < j { j } else { i };
        let (d1, d2, d3) = if maxval >= 128 || legacy {
            let factor = (maxval.min(4095) + 128) / 256;
            // BASIC_T1..T3 = 3, 7, 21 (C.2.4.1.1.1); FACTOR × (BASIC_T1 − 2) = FACTOR.
            let t1 = clamp(factor + 2 + 3 * near, near + 1);
            let t2 = clamp(factor * (7 - 3) + 3 + 5 * near, t1);
            (t1, t2, clamp(factor * (21 - 4) + 4 + 7 * near, t2))
        } else {
            let factor = 256 / (maxval + 1);
            let t1 = clamp((3 / factor).max(2) + 3 * near, near + 1);
            let t2 = clamp((7 / factor).max(3) + 5 * near, t1);
            (t1, t2, clamp((21 / factor).max(4) + 7 * near, t2))
        };
        let pick = |given: i32, default: i32| if given == 0 { default } else { given };
        let (t1, t2, t3) = (pick(p.t1, d1), pick(p.t2, d2), pick(p.t3, d3));
        if !(near < t1 && t1 <= t2 && t2 <= t3 && t3 <= maxval) {
            return Err("thresholds T1..T3 are out of order");
        }
        let reset = pick(p.reset, 64);
        if reset < 3 {
            return Err("RESET is below 3");
        }
        Ok(Params {
            maxval,
            near,
            range,
            qbpp: ceil_log2(range),
            limit,
            t1,
            t2,
            t3,
            reset,
        })
    }

    /// Gradient quantisation (A.3.3).
    fn quantise(&self, d: i32) -> i32 {
        if d <= -self.t3 {
            -4
        } else if d <= -self.t2 {
            -3
        } else if d <= -self.t1 {
            -2
        } else if d < -self.near {
            -1
        } else if d <= self.near {
            0
        } else if d < self.t1 {
            1
        } else if d < self.t2 {
            2
        } else if d < self.t3 {
            3
        } else {
            4
        }
    }

    /// Reconstructed value from a prediction and a scaled error (modulo reduction, clamp).
    fn fix(&self, v: i32) -> i32 {
        let step = self.range * (2 * self.near + 1);
        let v = if v < -self.near {
            v + step
        } else if v > self.maxval + self.near {
            v - step
        } else {
            v
        };
        v.clamp(0, self.maxval)
    }
}

/// Scan data bits: a byte after FF carries 7 bits; FF followed by a byte ≥ 0x80 is a marker
/// and ends the data.
struct Bits<'a> {
    b: &'a [u8],
    pos: usize,
    /// Unread bits, most significant first; the bits below `n` are zero.
    cache: u64,
    n: u32,
    after_ff: bool,
}

const TRUNCATED: &str = "scan data ends early (truncated or damaged codestream)";

impl Bits<'_> {
    fn fill(&mut self) {
        while self.n <= 56 {
            let Some(&b) = self.b.get(self.pos) else {
                return;
            };
            if self.after_ff {
                if b & 0x80 != 0 {
                    return;
                }
                self.cache |= u64::from(b) << (57 - self.n);
                self.n += 7;
                self.after_ff = false;
            } else {
                if b == 0xFF && self.b.get(self.pos + 1).is_none_or(|&x| x & 0x80 != 0) {
                    return;
                }
                self.cache |= u64::from(b) << (56 - self.n);
                self.n += 8;
                self.after_ff = b == 0xFF;
            }
            self.pos += 1;
        }
    }

    fn read(&mut self, k: u32) -> Result<i32, &'static str> {
        if k == 0 {
            return Ok(0);
        }
        if self.n < k {
            self.fill();
            if self.n < k {
                return Err(TRUNCATED);
            }
        }
        let v = (self.cache >> (64 - k)) as i32;
        self.cache <<= k;
        self.n -= k;
        Ok(v)
    }

    fn bit(&mut self) -> Result<bool, &'static str> {
        Ok(self.read(1)? == 1)
    }

    /// Zero bits before the next one bit (which is consumed); more than `max` is an error.
    fn zeros(&mut self, max: u32) -> Result<u32, &'static str> {
        let mut count = 0;
        loop {
            if self.n == 0 {
                self.fill();
                if self.n == 0 {
                    return Err(TRUNCATED);
                }
            }
            let lz = self.cache.leading_zeros().min(self.n);
            if lz < self.n {
                count += lz;
                self.cache <<= lz + 1;
                self.n -= lz + 1;
                return if count > max {
                    Err("Golomb code is too long (damaged codestream)")
                } else {
                    Ok(count)
                };
            }
            count += self.n;
            self.cache = 0;
            self.n = 0;
            if count > max {
                return Err("Golomb code is too long (damaged codestream)");
            }
        }
    }

    /// Drops the bits left before the next marker; returns the marker's offset (its last FF).
    fn skip_to_marker(&mut self) -> usize {
        self.cache = 0;
        self.n = 0;
        self.after_ff = false;
        let mut p = self.pos;
        while p < self.b.len() {
            if self.b[p] == 0xFF && self.b.get(p + 1).is_none_or(|&x| x & 0x80 != 0) {
                // Fill bytes (FF) may precede the marker.
                while self.b.get(p + 1) == Some(&0xFF) {
                    p += 1;
                }
                return p;
            }
            p += 1;
        }
        p
    }
}

/// Context variables of a scan (A.2.2), regular contexts 0..365 and the two run contexts.
struct Contexts {
    a: [i64; 365],
    b: [i32; 365],
    c: [i32; 365],
    n: [i32; 365],
    ra: [i64; 2],
    rn: [i32; 2],
    rnn: [i32; 2],
}

impl Contexts {
    fn new(p: &Params) -> Contexts {
        let a = i64::from(((p.range + 32) / 64).max(2));
        Contexts {
            a: [a; 365],
            b: [0; 365],
            c: [0; 365],
            n: [1; 365],
            ra: [a; 2],
            rn: [1; 2],
            rnn: [0; 2],
        }
    }
}

/// The decoding state of one scan.
struct Coder<'a, 'p> {
    p: &'p Params,
    ctx: Contexts,
    bits: Bits<'a>,
}

/// Median edge detector prediction (A.4.1).
fn predict(ra: i32, rb: i32, rc: i32) -> i32 {
    if rc >= ra.max(rb) {
        ra.min(rb)
    } else if rc <= ra.min(rb) {
        ra.max(rb)
    } else {
        ra + rb - rc
    }
}

impl Coder<'_, '_> {
    /// A limited-length Golomb code (A.5.3).
    fn golomb(&mut self, k: u32, limit: u32) -> Result<i32, &'static str> {
        let escape = limit.saturating_sub(self.p.qbpp + 1);
        let high = self.bits.zeros(escape)?;
        if high == escape {
            return Ok(self.bits.read(self.p.qbpp)? + 1);
        }
        Ok(((high as i32) << k) + self.bits.read(k)?)
    }

    fn golomb_k(n: i32, a: i64) -> Result<u32, &'static str> {
        let mut k = 0;
        while (i64::from(n) << k) < a {
            k += 1;
            if k > 24 {
                return Err("context statistics out of range (damaged codestream)");
            }
        }
        Ok(k)
    }

    /// A sample in regular mode from its context number `q` (signed) and neighbours.
    fn regular(&mut self, q: i32, ra: i32, rb: i32, rc: i32) -> Result<i32, &'static str> {
        let p = self.p;
        let sign = if q < 0 { -1 } else { 1 };
        let i = q.unsigned_abs() as usize;
        let c = &mut self.ctx;
        let px = (predict(ra, rb, rc) + sign * c.c[i]).clamp(0, p.maxval);
        let k = Self::golomb_k(c.n[i], c.a[i])?;
        let m = self.golomb(k, p.limit)?;
        let c = &mut self.ctx;
        let mut e = if m & 1 == 0 { m >> 1 } else { -((m + 1) >> 1) };
        if p.near == 0 && k == 0 && 2 * c.b[i] + c.n[i] - 1 < 0 {
            e = -e - 1;
        }
        // Context update (A.6.1) and bias correction (A.6.2).
        c.b[i] += e * (2 * p.near + 1);
        c.a[i] += i64::from(e.abs());
        if c.n[i] == p.reset {
            c.a[i] >>= 1;
            c.b[i] >>= 1;
            c.n[i] >>= 1;
        }
        c.n[i] += 1;
        if c.b[i] <= -c.n[i] {
            c.b[i] += c.n[i];
            if c.c[i] > -128 {
                c.c[i] -= 1;
            }
            if c.b[i] <= -c.n[i] {
                c.b[i] = -c.n[i] + 1;
            }
        } else if c.b[i] > 0 {
            c.b[i] -= c.n[i];
            if c.c[i] < 127 {
                c.c[i] += 1;
            }
            if c.b[i] > 0 {
                c.b[i] = 0;
            }
        }
        Ok(p.fix(px + sign * e * (2 * p.near + 1)))
    }

    /// The error of a run interruption sample (A.7.2), in run context `t` (RItype).
    fn ri_error(&mut self, t: usize, run_index: usize) -> Result<i32, &'static str> {
        let (a, n, nn) = (self.ctx.ra[t], self.ctx.rn[t], self.ctx.rnn[t]);
        let k = Self::golomb_k(n, a + i64::from((n >> 1) * t as i32))?;
        let limit = self.p.limit.saturating_sub(J[run_index] + 1);
        let m = self.golomb(k, limit)?;
        let temp = m + t as i32;
        let map = temp & 1 == 1;
        let abs = (temp + i32::from(map)) / 2;
        let e = if (k != 0 || 2 * nn >= n) == map {
            -abs
        } else {
            abs
        };
        let c = &mut self.ctx;
        if e < 0 {
            c.rnn[t] += 1;
        }
        c.ra[t] += i64::from((m + 1 - t as i32) >> 1);
        if c.rn[t] == self.p.reset {
            c.ra[t] >>= 1;
            c.rn[t] >>= 1;
            c.rnn[t] >>= 1;
        }
        c.rn[t] += 1;
        Ok(e)
    }

    /// The run length from `x` in a line of `width` samples (A.7.1.2); updates the run index.
    fn run_length(
        &mut self,
        x: usize,
        width: usize,
        ri: &mut usize,
    ) -> Result<usize, &'static str> {
        let left = width - x;
        let mut len = 0usize;
        while self.bits.bit()? {
            let seg = 1usize << J[*ri];
            let count = seg.min(left - len);
            len += count;
            if count == seg {
                *ri = (*ri + 1).min(31);
            }
            if len == left {
                return Ok(len);
            }
        }
        len += self.bits.read(J[*ri])? as usize;
        if len >= left {
            return Err("run is longer than the line (damaged codestream)");
        }
        Ok(len)
    }

    /// One line of one component. `prev` and `cur` hold the samples at 1..=width, with the
    /// edge samples already set at 0 (and at width + 1 for `prev`).
    fn line(&mut self, prev: &[i32], cur: &mut [i32], ri: &mut usize) -> Result<(), &'static str> {
        let width = cur.len() - 2;
        let p = self.p;
        let mut x = 0;
        while x < width {
            let (ra, rb, rc, rd) = (cur[x], prev[x + 1], prev[x], prev[x + 2]);
            let q = (p.quantise(rd - rb) * 9 + p.quantise(rb - rc)) * 9 + p.quantise(rc - ra);
            if q != 0 {
                cur[x + 1] = self.regular(q, ra, rb, rc)?;
                x += 1;
                continue;
            }
            let len = self.run_length(x, width, ri)?;
            cur[x + 1..x + 1 + len].fill(ra);
            x += len;
            if x == width {
                break;
            }
            let rb = prev[x + 1];
            cur[x + 1] = if (ra - rb).abs() <= p.near {
                let e = self.ri_error(1, *ri)?;
                p.fix(ra + e * (2 * p.near + 1))
            } else {
                let e = self.ri_error(0, *ri)?;
                let sign = if rb < ra { -1 } else { 1 };
                p.fix(rb + sign * e * (2 * p.near + 1))
            };
            *ri = ri.saturating_sub(1);
            x += 1;
        }
        Ok(())
    }

    /// One line of all components, sample-interleaved (as CharLS codes it: run mode when every
    /// component's gradients are within NEAR; run interruption always in run context 0).
    fn line_interleaved(
        &mut self,
        prev: &[Vec<i32>],
        cur: &mut [Vec<i32>],
        ri: &mut usize,
    ) -> Result<(), &'static str> {
        let width = cur[0].len() - 2;
        let p = self.p;
        let mut x = 0;
        let mut qs = [0i32; 4];
        while x < width {
            for (c, q) in qs.iter_mut().enumerate().take(cur.len()) {
                let (ra, rb, rc, rd) = (cur[c][x], prev[c][x + 1], prev[c][x], prev[c][x + 2]);
                *q = (p.quantise(rd - rb) * 9 + p.quantise(rb - rc)) * 9 + p.quantise(rc - ra);
            }
            if qs.iter().any(|&q| q != 0) {
                for (c, &q) in qs.iter().enumerate().take(cur.len()) {
                    let (ra, rb, rc) = (cur[c][x], prev[c][x + 1], prev[c][x]);
                    cur[c][x + 1] = self.regular(q, ra, rb, rc)?;
                }
                x += 1;
                continue;
            }
            let len = self.run_length(x, width, ri)?;
            for line in cur.iter_mut() {
                let ra = line[x];
                line[x + 1..x + 1 + len].fill(ra);
            }
            x += len;
            if x == width {
                break;
            }
            for c in 0..cur.len() {
                let (ra, rb) = (cur[c][x], prev[c][x + 1]);
                let e = self.ri_error(0, *ri)?;
                let sign = if rb < ra { -1 } else { 1 };
                cur[c][x + 1] = p.fix(rb + sign * e * (2 * p.near + 1));
            }
            *ri = ri.saturating_sub(1);
            x += 1;
        }
        Ok(())
    }
}

/// Decodes the scan data starting at `start`: the planes of the scan's components, and the
/// offset of the marker after the data.
fn scan(
    stream: &[u8],
    start: usize,
    f: &Frame,
    h: &ScanHeader,
    p: &Params,
    restart: usize,
) -> Result<(Vec<Vec<u16>>, usize), &'static str> {
    if f.width == 0 || f.height == 0 {
        return Err("empty image");
    }
    let nc = h.comps.len();
    let mut coder = Coder {
        p,
        ctx: Contexts::new(p),
        bits: Bits {
            b: stream,
            pos: start,
            cache: 0,
            n: 0,
            after_ff: false,
        },
    };
    let w = f.width;
    let mut prev = vec![vec![0i32; w + 2]; nc];
    let mut cur = vec![vec![0i32; w + 2]; nc];
    let mut ri = vec![0usize; nc];
    let mut planes: Vec<Vec<u16>> = vec![Vec::new(); nc];
    let mut next_rst = 0u8;
    for y in 0..f.height {
        if restart > 0 && y > 0 && y % restart == 0 {
            let at = coder.bits.skip_to_marker();
            if stream.get(at..at + 2) != Some(&[0xFF, 0xD0 + next_rst][..]) {
                return Err("restart marker missing or out of order");
            }
            next_rst = (next_rst + 1) % 8;
            coder.bits.pos = at + 2;
            coder.ctx = Contexts::new(p);
            ri.fill(0);
            for l in prev.iter_mut().chain(cur.iter_mut()) {
                l.fill(0);
            }
        }
        for c in 0..nc {
            prev[c][w + 1] = prev[c][w];
            cur[c][0] = prev[c][1];
        }
        if h.ilv == 2 {
            coder.line_interleaved(&prev, &mut cur, &mut ri[0])?;
        } else {
            for c in 0..nc {
                coder.line(&prev[c], &mut cur[c], &mut ri[c])?;
            }
        }
        for c in 0..nc {
            planes[c].extend(cur[c][1..=w].iter().map(|&v| v as u16));
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    let end = coder.bits.skip_to_marker();
    Ok((planes, end))
}
