//! JPEG extended sequential DCT with 12-bit samples (process 4, Huffman coded), which
//! `jpeg-decoder` lacks: one grey component (the DICOM case: MONOCHROME images of 12 bits
//! stored), baseline or extended Huffman tables, 8- or 16-bit quantisation tables, restart
//! intervals. Written for this crate from ITU-T T.81 (F.2: Huffman decoding) with the integer
//! inverse DCT that the IJG library uses by default (and so DCMTK, which wrote most such
//! files): T.81 leaves the IDCT's arithmetic open, this one matches theirs. Anything else
//! (colour, hierarchical, arithmetic coding) is left to the caller to refuse.
//!
//! The output grows block row by block row; nothing is allocated from the frame header alone.

use crate::error::DicomError;

fn err(frame: usize, what: &'static str) -> DicomError {
    DicomError::Jpeg12 { frame, what }
}

/// Natural (row-major) index of the k-th coefficient in zig-zag order.
const ZIGZAG: [usize; 64] = [
    0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5, 12, 19, 26, 33, 40, 48, 41, 34, 27, 20,
    13, 6, 7, 14, 21, 28, 35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51, 58, 59,
    52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55, 62, 63,
];

/// A Huffman table in the form of T.81 F.2.2.3 (MAXCODE, VALPTR, MINCODE per code length).
#[derive(Clone)]
struct Huffman {
    maxcode: [i32; 17],
    mincode: [i32; 17],
    valptr: [usize; 17],
    values: Vec<u8>,
}

impl Huffman {
    fn new(counts: &[u8], values: &[u8]) -> Huffman {
        let mut h = Huffman {
            maxcode: [-1; 17],
            mincode: [0; 17],
            valptr: [0; 17],
            values: values.to_vec(),
        };
        let (mut code, mut k) = (0i32, 0usize);
        for l in 1..=16 {
            let n = usize::from(counts[l - 1]);
            if n > 0 {
                h.valptr[l] = k;
                h.mincode[l] = code;
                code += n as i32;
                k += n;
                h.maxcode[l] = code - 1;
            }
            code <<= 1;
        }
        h
    }
}

/// Entropy-coded data bits: FF00 is a data FF; any other marker ends the data.
struct Bits<'a> {
    b: &'a [u8],
    pos: usize,
    cur: u32,
    n: u32,
}

const TRUNCATED: &str = "entropy-coded data ends early (truncated or damaged)";

impl Bits<'_> {
    fn bit(&mut self) -> Result<i32, &'static str> {
        if self.n == 0 {
            let b = *self.b.get(self.pos).ok_or(TRUNCATED)?;
            if b == 0xFF {
                match self.b.get(self.pos + 1) {
                    Some(0) => self.pos += 1,
                    _ => return Err(TRUNCATED),
                }
            }
            self.pos += 1;
            self.cur = u32::from(b);
            self.n = 8;
        }
        self.n -= 1;
        Ok(((self.cur >> self.n) & 1) as i32)
    }

    fn bits(&mut self, s: u32) -> Result<i32, &'static str> {
        let mut v = 0;
        for _ in 0..s {
            v = (v << 1) | self.bit()?;
        }
        Ok(v)
    }

    fn decode(&mut self, h: &Huffman) -> Result<u8, &'static str> {
        let mut code = self.bit()?;
        for l in 1..=16 {
            if code <= h.maxcode[l] {
                let i = usize::try_from(code - h.mincode[l])
                    .ok()
                    .and_then(|d| d.checked_add(h.valptr[l]));
                return i
                    .and_then(|i| h.values.get(i).copied())
                    .ok_or("bad Huffman code");
            }
            code = (code << 1) | self.bit()?;
        }
        Err("bad Huffman code")
    }

    /// RECEIVE and EXTEND (F.2.2.1).
    fn extend(&mut self, s: u8) -> Result<i32, &'static str> {
        if s == 0 {
            return Ok(0);
        }
        if s > 16 {
            return Err("coefficient magnitude category above 16");
        }
        let v = self.bits(u32::from(s))?;
        Ok(if v < 1 << (s - 1) {
            v - (1 << s) + 1
        } else {
            v
        })
    }
}

/// The tables and frame parameters read from the markers before the scan.
#[derive(Default)]
struct Tables {
    quant: [Option<[u16; 64]>; 4],
    dc: [Option<Huffman>; 4],
    ac: [Option<Huffman>; 4],
    restart: usize,
    /// (precision, height, width, quantisation table).
    frame: Option<(u8, usize, usize, usize)>,
}

fn u16_at(b: &[u8], p: usize) -> Result<usize, &'static str> {
    let hi = *b.get(p).ok_or(TRUNCATED)?;
    let lo = *b.get(p + 1).ok_or(TRUNCATED)?;
    Ok(usize::from(hi) << 8 | usize::from(lo))
}

fn dqt(s: &[u8], t: &mut Tables) -> Result<(), &'static str> {
    let mut p = 0;
    while p < s.len() {
        let (pq, tq) = (s[p] >> 4, usize::from(s[p] & 15));
        p += 1;
        let mut q = [0u16; 64];
        for v in &mut q {
            *v = if pq == 0 {
                let x = *s.get(p).ok_or(TRUNCATED)?;
                p += 1;
                u16::from(x)
            } else {
                let x = u16_at(s, p)? as u16;
                p += 2;
                x
            };
        }
        *t.quant.get_mut(tq).ok_or("bad quantisation table id")? = Some(q);
    }
    Ok(())
}

fn dht(s: &[u8], t: &mut Tables) -> Result<(), &'static str> {
    let mut p = 0;
    while p < s.len() {
        let (class, id) = (s[p] >> 4, usize::from(s[p] & 15));
        let counts = s.get(p + 1..p + 17).ok_or(TRUNCATED)?;
        let n: usize = counts.iter().map(|&c| usize::from(c)).sum();
        let values = s.get(p + 17..p + 17 + n).ok_or(TRUNCATED)?;
        let h = Huffman::new(counts, values);
        let slot = match class {
            0 => t.dc.get_mut(id),
            1 => t.ac.get_mut(id),
            _ => None,
        };
        *slot.ok_or("bad Huffman table id")? = Some(h);
        p += 17 + n;
    }
    Ok(())
}

/// Decodes one single-component codestream of `rows` × `columns` samples to native
/// little-endian 16-bit samples.
pub fn decode_frame(
    stream: &[u8],
    rows: usize,
    columns: usize,
    frame: usize,
) -> Result<Vec<u8>, DicomError> {
    let samples = decode(stream).map_err(|what| err(frame, what))?;
    if (samples.1, samples.2) != (rows, columns) {
        return Err(err(frame, "jpeg size differs from Rows × Columns"));
    }
    Ok(samples.0.iter().flat_map(|v| v.to_le_bytes()).collect())
}

/// The samples, height and width of a codestream.
fn decode(b: &[u8]) -> Result<(Vec<u16>, usize, usize), &'static str> {
    if b.get(..2) != Some(&[0xFF, 0xD8][..]) {
        return Err("no SOI marker");
    }
    let mut t = Tables::default();
    let mut p = 2;
    loop {
        while b.get(p) == Some(&0xFF) && b.get(p + 1) == Some(&0xFF) {
            p += 1;
        }
        if b.get(p) != Some(&0xFF) {
            return Err("marker expected");
        }
        let m = *b.get(p + 1).ok_or(TRUNCATED)?;
        let len = u16_at(b, p + 2)?;
        let seg = b.get(p + 4..p + 2 + len).ok_or(TRUNCATED)?;
        p += 2 + len;
        match m {
            0xDB => dqt(seg, &mut t)?,
            0xC4 => dht(seg, &mut t)?,
            0xDD => t.restart = u16_at(seg, 0)?,
            0xC0 | 0xC1 => {
                if seg.len() < 9 || seg[5] != 1 {
                    return Err("only single-component 12-bit JPEG is decoded");
                }
                let (h, w) = (u16_at(seg, 1)?, u16_at(seg, 3)?);
                if h == 0 || w == 0 {
                    return Err("empty image or DNL marker");
                }
                t.frame = Some((seg[0], h, w, usize::from(seg[8] & 3)));
            }
            0xC2 | 0xC3 | 0xC5..=0xC7 | 0xC9..=0xCB | 0xCD..=0xCF => {
                return Err("not a sequential Huffman DCT frame");
            }
            0xDA => return scan(b, p, seg, &t),
            0xD9 => return Err("no scan"),
            _ => {}
        }
    }
}

/// One 8-point inverse DCT in the LL&M integer form with 13-bit constants (the "islow" method of
/// the IJG library and so of DCMTK; T.81 A.3.3 does not fix the arithmetic): `x[k * step]`
/// in, the eight outputs (scaled by 2^13) returned.
fn idct8(x: [i64; 8]) -> [i64; 8] {
    const C: i64 = 13;
    let (z2, z3) = (x[2], x[6]);
    let z1 = (z2 + z3) * 4433;
    let tmp2 = z1 - z3 * 15137;
    let tmp3 = z1 + z2 * 6270;
    let tmp0 = (x[0] + x[4]) << C;
    let tmp1 = (x[0] - x[4]) << C;
    let (t10, t13, t11, t12) = (tmp0 + tmp3, tmp0 - tmp3, tmp1 + tmp2, tmp1 - tmp2);
    let (mut o0, mut o1, mut o2, mut o3) = (x[7], x[5], x[3], x[1]);
    let (z1, z2, z3, z4) = (o0 + o3, o1 + o2, o0 + o2, o1 + o3);
    let z5 = (z3 + z4) * 9633;
    o0 *= 2446;
    o1 *= 16819;
    o2 *= 25172;
    o3 *= 12299;
    let (z1, z2) = (z1 * -7373, z2 * -20995);
    let (z3, z4) = (z3 * -16069 + z5, z4 * -3196 + z5);
    o0 += z1 + z3;
    o1 += z2 + z4;
    o2 += z2 + z3;
    o3 += z1 + z4;
    [
        t10 + o3,
        t11 + o2,
        t12 + o1,
        t13 + o0,
        t13 - o0,
        t12 - o1,
        t11 - o2,
        t10 - o3,
    ]
}

/// DESCALE: `x / 2^n`, rounded half up.
fn descale(x: i64, n: u32) -> i64 {
    (x + (1 << (n - 1))) >> n
}

/// The inverse DCT of a dequantised block (natural order), level-shifted and clamped.
fn idct(coef: &[i64; 64], pass1_bits: u32, centre: i64, max: i64, out: &mut [i64; 64]) {
    let mut ws = [0i64; 64];
    for col in 0..8 {
        let v = idct8(std::array::from_fn(|k| coef[k * 8 + col]));
        for (k, x) in v.into_iter().enumerate() {
            ws[k * 8 + col] = descale(x, 13 - pass1_bits);
        }
    }
    for row in 0..8 {
        let v = idct8(std::array::from_fn(|k| ws[row * 8 + k]));
        for (k, x) in v.into_iter().enumerate() {
            out[row * 8 + k] = (descale(x, 13 + pass1_bits + 3) + centre).clamp(0, max);
        }
    }
}

fn scan(
    b: &[u8],
    start: usize,
    sos: &[u8],
    t: &Tables,
) -> Result<(Vec<u16>, usize, usize), &'static str> {
    let (precision, h, w, tq) = t.frame.ok_or("scan before the frame header")?;
    if !matches!(precision, 8 | 12) {
        return Err("sample precision is neither 8 nor 12");
    }
    if sos.len() < 6 || sos[0] != 1 || sos[3] != 0 || sos[4] != 63 || sos[5] != 0 {
        return Err("not a sequential single-component scan");
    }
    let (td, ta) = (usize::from(sos[2] >> 4), usize::from(sos[2] & 15));
    let dc =
        t.dc.get(td)
            .and_then(Option::as_ref)
            .ok_or("missing DC table")?;
    let ac =
        t.ac.get(ta)
            .and_then(Option::as_ref)
            .ok_or("missing AC table")?;
    let q = t.quant[tq].as_ref().ok_or("missing quantisation table")?;
    let (bw, bh) = (w.div_ceil(8), h.div_ceil(8));
    let max = (1i64 << precision) - 1;
    let centre = 1i64 << (precision - 1);
    // The IJG library keeps 2 extra bits through the first pass for 8-bit samples, 1 for 12.
    let pass1_bits = if precision == 8 { 2 } else { 1 };
    let mut bits = Bits {
        b,
        pos: start,
        cur: 0,
        n: 0,
    };
    let mut out: Vec<u16> = Vec::new();
    let mut pred = 0i32;
    let mut rst = 0u8;
    let mut row = vec![0u16; bw * 8 * 8];
    for by in 0..bh {
        for bx in 0..bw {
            let mcu = by * bw + bx;
            if t.restart > 0 && mcu > 0 && mcu % t.restart == 0 {
                let mut p = bits.pos;
                while b.get(p) == Some(&0xFF) && b.get(p + 1) == Some(&0xFF) {
                    p += 1;
                }
                if b.get(p..p + 2) != Some(&[0xFF, 0xD0 + rst][..]) {
                    return Err("restart marker missing or out of order");
                }
                rst = (rst + 1) % 8;
                bits.pos = p + 2;
                bits.n = 0;
                pred = 0;
            }
            let mut coef = [0i64; 64];
            let s = bits.decode(dc)?;
            pred = pred.wrapping_add(bits.extend(s)?);
            coef[0] = i64::from(pred) * i64::from(q[0]);
            let mut k = 1;
            while k < 64 {
                let rs = bits.decode(ac)?;
                let (r, s) = (usize::from(rs >> 4), rs & 15);
                if s == 0 {
                    if r != 15 {
                        break;
                    }
                    k += 16;
                    continue;
                }
                k += r;
                if k > 63 {
                    return Err("coefficient index past 63");
                }
                coef[ZIGZAG[k]] = i64::from(bits.extend(s)?) * i64::from(q[k]);
                k += 1;
            }
            let mut px = [0i64; 64];
            idct(&coef, pass1_bits, centre, max, &mut px);
            for y in 0..8 {
                for x in 0..8 {
                    row[(y * bw + bx) * 8 + x] = px[y * 8 + x] as u16;
                }
            }
        }
        for y in 0..8 {
            if by * 8 + y < h {
                out.extend_from_slice(&row[y * bw * 8..y * bw * 8 + w]);
            }
        }
    }
    Ok((out, h, w))
}
