//! Raw DEFLATE (RFC 1951) decoder tuned for BGZF blocks of DNA text.
//!
//! The literal/length table's main part is indexed by the next [`LIT_BITS`] input bits and
//! its entries are pre-combined sequences, so one lookup does as much as the bits allow:
//! - up to three consecutive literals (one 4-byte store, the pointer advanced by the count);
//! - a whole match: length code, length extra bits and distance code together, with the
//!   distance extra bits counted in the entry's bit count (one shift per match). zlib's
//!   level 6 on DNA text emits mostly short matches (a 32 KiB window holds most 6-mers), so
//!   this is the common case there.
//!
//! Anything longer (long codes, long length extra bits) goes through the ordinary
//! one-symbol entries and subtables. The main table is 10 bits of u64 entries (8 KiB): on
//! the benchmark genome this covers 97.5% of the matches and measured faster than 11 or 12
//! bits, whose tables cost more to build per 64 KiB block and crowd the window out of L1.
//!
//! The hot loop (`fast_loop`) runs while 16 input and 290 output bytes are left, with raw
//! pointers (its bounds argument is in its docs), a 64-bit bit buffer refilled branch-free
//! 8 bytes at a time, and software pipelining: the entry after a match is looked up before
//! that match is copied, so lookups overlap the copies. It is compiled twice, with and
//! without BMI2 (shifts by register), and picked at run time. Near the ends of the buffers a
//! safe loop with a check per symbol finishes the block.
//!
//! The decoder follows libdeflate's acceptance rules: over-subscribed codes are rejected,
//! incomplete codes only when empty or made of one codeword of length 1 (that symbol then
//! gets both one-bit codewords); litlen symbols 286/287 decode as length 258 and distance
//! symbols 30/31 as distance base 24577 with 13 extra bits, as libdeflate does.
//!
//! The whole stream must be in memory (one call per stream); no zlib or gzip framing.

use std::fmt;

/// Main literal/length table index width in bits.
pub const LIT_BITS: u32 = 10;
const LIT_MAIN: usize = 1 << LIT_BITS;
const LIT_MASK: u64 = (LIT_MAIN as u64) - 1;
/// Main table plus the most subtable space a litlen code can need: at most 288 subtables
/// (one per long codeword, at worst) of at most `2^(15 - LIT_BITS)` entries.
const LIT_SIZE: usize = LIT_MAIN + (288 << (15 - LIT_BITS));
const DIST_BITS: u32 = 8;
const DIST_MAIN: usize = 1 << DIST_BITS;
const DIST_MASK: u64 = (DIST_MAIN as u64) - 1;
const DIST_SIZE: usize = DIST_MAIN + (32 << (15 - DIST_BITS));
const PRE_BITS: u32 = 7;
/// Most main-table slot runs a code can have: one per codeword plus one per subtable.
const LIST_MAX: usize = 2 * 288;

// Entry layout (u64), all tables:
//   bits 0..6    number of bits the entry consumes (a shift by the whole entry, masked to
//                6 bits as x86 shifts do anyway, consumes them)
//   bits 6..8    literal count (0 = not literals; 1..=3 literal bytes in bits 16..40)
//   bit  8       subtable pointer: bits 16..32 subtable start, bits 32..36 subtable bits
//   bit  9       end of block
//   bit  10      whole match (litlen main table only): bits 12..21 length, bits 24..30
//                bits before the distance extra bits, bits 32..36 distance extra bit count,
//                bits 48..64 distance base; bit 11 set when the length is at most 16 and
//                the distance at least 16 (one 16-byte copy does it)
//   otherwise    a length or distance symbol: bits 16..32 base, bits 32..36 extra bits
//   precode entries: bits 16..24 the symbol
const NBITS: u64 = 0x3F;
const LITS: u64 = 0xC0;
const LIT1: u64 = 0x40;
const SUB: u64 = 0x100;
const EOB: u64 = 0x200;
const MATCH: u64 = 0x400;
const COPY16: u64 = 0x800;

/// Output bytes the fast loop may write past `o` before it checks the space again: a match
/// of up to 258 bytes with its copy overshoot (under 16 bytes) after up to 6 literals, or
/// literal stores of 4 bytes.
const FAST_OUT_SLACK: usize = 258 + 16 + 16;
/// Input bytes the fast loop needs: two branchless refills (each reads 8 bytes and
/// advances at most 7).
const FAST_IN_SLACK: usize = 16;

/// Why a DEFLATE stream could not be decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InflateError {
    /// The decoded data would not fit in the output buffer.
    OutputTooSmall,
    /// The input ended before the final block did.
    Truncated,
    /// A block header has the reserved type 3.
    BadBlockType,
    /// A stored block's LEN is not the complement of its NLEN.
    StoredLength,
    /// A Huffman code's lengths are over-subscribed, incomplete, or repeat past the end.
    BadCodeLengths,
    /// A match reaches back before the start of the output.
    BadDistance,
}

impl fmt::Display for InflateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            InflateError::OutputTooSmall => "deflate output exceeds the output buffer",
            InflateError::Truncated => "deflate stream is truncated",
            InflateError::BadBlockType => "deflate block has reserved type 3",
            InflateError::StoredLength => "deflate stored block len does not match nlen",
            InflateError::BadCodeLengths => "deflate huffman code lengths are invalid",
            InflateError::BadDistance => "deflate match distance is beyond the output start",
        })
    }
}

impl std::error::Error for InflateError {}

const LEN_BASE: [u16; 31] = [
    3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131,
    163, 195, 227, 258, 258, 258,
];
const LEN_EXTRA: [u8; 31] = [
    0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0, 0, 0,
];
const DIST_BASE: [u16; 32] = [
    1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537,
    2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577, 24577, 24577,
];
const DIST_EXTRA: [u8; 32] = [
    0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13,
    13, 13, 13,
];
/// Order in which precode lengths are stored.
const PRE_ORDER: [usize; 19] = [
    16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15,
];

fn lit_result(sym: usize) -> u64 {
    match sym {
        0..=255 => LIT1 | ((sym as u64) << 16),
        256 => EOB,
        _ => {
            let i = sym - 257;
            (u64::from(LEN_BASE[i]) << 16) | (u64::from(LEN_EXTRA[i]) << 32)
        }
    }
}

fn dist_result(sym: usize) -> u64 {
    (u64::from(DIST_BASE[sym]) << 16) | (u64::from(DIST_EXTRA[sym]) << 32)
}

fn pre_result(sym: usize) -> u64 {
    (sym as u64) << 16
}

/// Number of codewords of each length 1..16 in `lens` (index 0, the unused symbols, is 0).
#[inline]
fn length_counts(lens: &[u8]) -> [u16; 16] {
    // four histograms, so that runs of equal lengths do not wait on one counter
    let mut counts = [[0u16; 16]; 4];
    let mut chunks = lens.chunks_exact(4);
    for c in &mut chunks {
        for k in 0..4 {
            counts[k][usize::from(c[k] & 15)] += 1;
        }
    }
    for &l in chunks.remainder() {
        counts[0][usize::from(l & 15)] += 1;
    }
    let mut count = [0u16; 16];
    for (len, c) in count.iter_mut().enumerate() {
        *c = counts[0][len] + counts[1][len] + counts[2][len] + counts[3][len];
    }
    count[0] = 0;
    count
}

/// The used symbols of `lens` sorted by (length, symbol), and how many there are.
#[inline]
fn sort_symbols(lens: &[u8], count: &[u16; 16]) -> ([u16; 288], usize) {
    let mut offs = [0u16; 17];
    for len in 1..16 {
        offs[len + 1] = offs[len] + count[len];
    }
    let mut sorted = [0u16; 288];
    for (sym, &l) in lens.iter().enumerate() {
        if l != 0 {
            let o = &mut offs[usize::from(l)];
            sorted[usize::from(*o)] = sym as u16;
            *o += 1;
        }
    }
    let n = lens.len() - lens.iter().filter(|&&l| l == 0).count();
    (sorted, n)
}

/// Builds a (single-symbol) decode table with a `bits`-bit main part and subtables after it.
///
/// Every main-table slot run it writes is also listed in `list` (when given) as the entry
/// with its first index in bits 48..64: one item per codeword of at most `bits` bits (its
/// slots are that index plus every multiple of `2^len`) and one per subtable pointer.
/// Returns the number of items listed.
fn build_table(
    lens: &[u8],
    bits: u32,
    table: &mut [u64],
    result: fn(usize) -> u64,
    mut list: Option<&mut [u64; LIST_MAX]>,
) -> Result<usize, InflateError> {
    let main = 1usize << bits;
    let mut n_list = 0usize;
    let mut push = |item: u64| {
        if let Some(l) = list.as_deref_mut() {
            l[n_list] = item;
        }
        n_list += 1;
    };
    let count = length_counts(lens);
    // codespace used, in units of 2^-15
    let mut used = 0u32;
    for (len, &c) in count.iter().enumerate().skip(1) {
        used += u32::from(c) << (15 - len);
    }
    if used > 1 << 15 {
        return Err(InflateError::BadCodeLengths);
    }
    if used < 1 << 15 {
        // incomplete: only the empty code and a single one-bit codeword are accepted, and
        // the (or an arbitrary) symbol takes the whole code space, as libdeflate does
        let sym = if used == 0 {
            0
        } else if used == 1 << 14 && count[1] == 1 {
            lens.iter()
                .position(|&l| l == 1)
                .ok_or(InflateError::BadCodeLengths)?
        } else {
            return Err(InflateError::BadCodeLengths);
        };
        table[..main].fill(result(sym) | 1);
        push(result(sym) | 1);
        push(result(sym) | 1 | (1 << 48));
        return Ok(n_list);
    }
    let (sorted, n) = sort_symbols(lens, &count);
    let mut left = count;
    let mut code = 0u32;
    let mut len = 1u32;
    let mut next_sub = main;
    let mut cur_prefix = u32::MAX;
    let mut sub_start = 0usize;
    let mut sub_bits = 0u32;
    // The main table is filled by doubling: codewords of length `len` are written in the
    // first `2^len` slots, which are then copied up as `len` grows (a codeword's slots are
    // all those equal to it modulo `2^len`; prefix-freeness keeps later writes off them).
    let double = |table: &mut [u64], len: u32| {
        if len <= bits {
            let half = 1usize << (len - 1);
            table.copy_within(0..half, half);
        }
    };
    for &sym in &sorted[..n] {
        let sym = usize::from(sym);
        let l = u32::from(lens[sym]);
        while len < l {
            code <<= 1;
            len += 1;
            double(table, len);
        }
        let rev = (code.reverse_bits() >> (32 - l)) as usize;
        let entry = result(sym);
        if l <= bits {
            table[rev] = entry | u64::from(l);
            push(entry | u64::from(l) | ((rev as u64) << 48));
        } else {
            let prefix = code >> (l - bits);
            if prefix != cur_prefix {
                cur_prefix = prefix;
                // size the subtable to hold the remaining codes with this prefix
                let mut s = l - bits;
                let mut room = 1i32 << s;
                while s + bits < 15 {
                    room -= i32::from(left[(s + bits) as usize]);
                    if room <= 0 {
                        break;
                    }
                    s += 1;
                    room <<= 1;
                }
                sub_start = next_sub;
                sub_bits = s;
                next_sub += 1 << s;
                if next_sub > table.len() {
                    return Err(InflateError::BadCodeLengths);
                }
                let rp = (prefix.reverse_bits() >> (32 - bits)) as usize;
                table[rp] =
                    SUB | u64::from(bits) | ((sub_start as u64) << 16) | (u64::from(s) << 32);
                push(table[rp] | ((rp as u64) << 48));
            }
            let step = 1usize << (l - bits);
            let mut j = rev >> bits;
            while j < 1 << sub_bits {
                table[sub_start + j] = entry | u64::from(l - bits);
                j += step;
            }
        }
        left[l as usize] -= 1;
        code += 1;
    }
    while len < bits {
        len += 1;
        double(table, len);
    }
    Ok(n_list)
}

/// Writes the litlen main table `lit` from the one-symbol table `single` (built with
/// `list`): entries become sequences, up to three literals per entry and whole matches
/// (length code + extra bits + distance code, the distance extra bits counted in the
/// entry's bit count) where they fit in [`LIT_BITS`]. Runs over each codeword's slots, so
/// the first symbol is known and only the following ones are looked up; the choice between
/// the candidates is branch-free.
fn combine(
    lit: &mut [u64; LIT_MAIN],
    single: &[u64; LIT_SIZE],
    dist: &[u64; DIST_SIZE],
    list: &[u64],
) {
    // the distance part of a whole-match entry for each distance main-table slot (a
    // subtable pointer gets 192 in the bits-before-extra field, bits 24..32, which never
    // fits; real values there stay below 64)
    let mut dpart = [0u64; DIST_MAIN];
    for (dp, &d) in dpart.iter_mut().zip(dist.iter()) {
        let dl = d & NBITS;
        let dx = (d >> 32) & 0xF;
        let dbase = (d >> 16) & 0xFFFF;
        let copy16 = if dbase >= 16 { COPY16 } else { 0 };
        *dp = if d & SUB != 0 {
            0xC0 << 24
        } else {
            (dl + dx) | MATCH | copy16 | (dl << 24) | (dx << 32) | (dbase << 48)
        };
    }
    let lb = u64::from(LIT_BITS);
    for &item in list {
        let e1 = item & ((1 << 48) - 1);
        let first = (item >> 48) as usize;
        let l1 = e1 & NBITS;
        let n = LIT_MAIN >> l1;
        if e1 & (SUB | EOB) != 0 || l1 >= lb {
            lit[first] = e1;
            let mut j = first + (1 << l1);
            while j < LIT_MAIN {
                lit[j] = e1;
                j += 1 << l1;
            }
        } else if e1 & LITS != 0 {
            for j in 0..n {
                let e2 = single[j];
                let l12 = l1 + (e2 & NBITS);
                let e3 = single[(j >> (e2 & NBITS)) & (LIT_MAIN - 1)];
                let l123 = l12 + (e3 & NBITS);
                let two = (e1 & 0xFF_0000) | ((e2 & 0xFF_0000) << 8);
                let lit2 = l12 | (2 * LIT1) | two;
                let lit3 = l123 | (3 * LIT1) | two | ((e3 & 0xFF_0000) << 16);
                let ok2 = (e2 & LITS != 0) & (l12 <= lb);
                let ok3 = ok2 & (e3 & LITS != 0) & (l123 <= lb);
                let mut r = e1;
                r = if ok2 { lit2 } else { r };
                r = if ok3 { lit3 } else { r };
                lit[first | (j << l1)] = r;
            }
        } else {
            // a length symbol: its extra bits value `v`, then the distance code at `r`
            let x = (e1 >> 32) & 0xF;
            let lx = l1 + x;
            let base = (e1 >> 16) & 0xFFFF;
            if lx >= lb {
                // no room for a distance code: the one-symbol entry
                let mut j = first;
                while j < LIT_MAIN {
                    lit[j] = e1;
                    j += 1 << l1;
                }
                continue;
            }
            let nr = n >> x;
            for v in 0..1usize << x {
                let len = base + v as u64;
                let add = lx | (lx << 24) | (len << 12);
                let keep = if len <= 16 { !0 } else { !COPY16 };
                let mut j = first | (v << l1);
                for r in 0..nr {
                    let m = (dpart[r & (DIST_MAIN - 1)] + add) & keep;
                    let okm = (m >> 24) & 0xFF <= lb;
                    lit[j] = if okm { m } else { e1 };
                    j += 1 << lx;
                }
            }
        }
    }
}

/// A reusable raw-DEFLATE decoder (its tables are rebuilt for each block).
pub struct Decoder {
    /// Main litlen table of sequences (see [`combine`]).
    lit: Box<[u64; LIT_MAIN]>,
    /// One-symbol litlen table with its subtables.
    single: Box<[u64; LIT_SIZE]>,
    list: Box<[u64; LIST_MAX]>,
    dist: Box<[u64; DIST_SIZE]>,
    fixed_loaded: bool,
    #[cfg(target_arch = "x86_64")]
    bmi2: bool,
}

impl Default for Decoder {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for Decoder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("inflate::Decoder")
    }
}

/// Decodes one complete raw DEFLATE stream into `out`; returns the number of bytes written.
pub fn inflate(input: &[u8], out: &mut [u8]) -> Result<usize, InflateError> {
    Decoder::new().inflate(input, out)
}

/// Bit reader state: `bb` holds `bl` valid bits (LSB first); bits above `bl` are either zero
/// or the input bytes that follow, at their right place (so OR-ing them in again is harmless).
/// `pos` may run past the input end: those bytes read as zero and are caught by
/// [`Bits::check_overrun`].
struct Bits<'a> {
    input: &'a [u8],
    pos: usize,
    bb: u64,
    bl: u32,
}

impl Bits<'_> {
    /// Fills to at least 56 (at most 63) bits; past the input end with zero bytes.
    #[inline]
    fn refill(&mut self) -> Result<(), InflateError> {
        if self.pos + 8 <= self.input.len() {
            let mut w = [0u8; 8];
            w.copy_from_slice(&self.input[self.pos..self.pos + 8]);
            self.bb |= u64::from_le_bytes(w) << self.bl;
            self.pos += ((63 - self.bl) >> 3) as usize;
            self.bl |= 56;
            return Ok(());
        }
        while self.bl <= 55 {
            let b = self.input.get(self.pos).copied().unwrap_or(0);
            self.bb |= u64::from(b) << self.bl;
            self.pos += 1;
            self.bl += 8;
        }
        self.check_overrun()
    }

    /// Errors when bits beyond the input end have been consumed.
    fn check_overrun(&self) -> Result<(), InflateError> {
        if self.pos * 8 - self.bl as usize > self.input.len() * 8 {
            Err(InflateError::Truncated)
        } else {
            Ok(())
        }
    }

    #[inline(always)]
    fn consume(&mut self, n: u32) {
        self.bb >>= n;
        self.bl -= n;
    }

    /// Takes `n <= bl` bits.
    #[inline(always)]
    fn take(&mut self, n: u32) -> u32 {
        let v = (self.bb & ((1u64 << n) - 1)) as u32;
        self.consume(n);
        v
    }
}

impl Decoder {
    /// A new decoder.
    pub fn new() -> Self {
        Decoder {
            lit: Box::new([0; LIT_MAIN]),
            single: Box::new([0; LIT_SIZE]),
            list: Box::new([0; LIST_MAX]),
            dist: Box::new([0; DIST_SIZE]),
            fixed_loaded: false,
            #[cfg(target_arch = "x86_64")]
            bmi2: std::arch::is_x86_feature_detected!("bmi2"),
        }
    }

    /// Decodes one complete raw DEFLATE stream into `out`; returns the number of bytes
    /// written.
    pub fn inflate(&mut self, input: &[u8], out: &mut [u8]) -> Result<usize, InflateError> {
        let mut br = Bits {
            input,
            pos: 0,
            bb: 0,
            bl: 0,
        };
        let mut o = 0usize;
        loop {
            br.refill()?;
            let last = br.take(1);
            match br.take(2) {
                0 => o = stored(&mut br, out, o)?,
                1 if br.bb & 0x7F == 0 => {
                    // a fixed-code block that is just its end-of-block code (as in the BGZF
                    // end-of-file block): no tables needed
                    br.consume(7);
                }
                1 => {
                    if !self.fixed_loaded {
                        let mut lens = [0u8; 288 + 32];
                        lens[..144].fill(8);
                        lens[144..256].fill(9);
                        lens[256..280].fill(7);
                        lens[280..288].fill(8);
                        lens[288..].fill(5);
                        self.build(&lens[..288], &lens[288..])?;
                        self.fixed_loaded = true;
                    }
                    o = self.huffman(&mut br, out, o)?;
                }
                2 => {
                    self.fixed_loaded = false;
                    self.read_dynamic(&mut br)?;
                    o = self.huffman(&mut br, out, o)?;
                }
                _ => return Err(InflateError::BadBlockType),
            }
            if last == 1 {
                break;
            }
        }
        br.check_overrun()?;
        Ok(o)
    }

    fn build(&mut self, lit_lens: &[u8], dist_lens: &[u8]) -> Result<(), InflateError> {
        build_table(dist_lens, DIST_BITS, &mut self.dist[..], dist_result, None)?;
        let n = build_table(
            lit_lens,
            LIT_BITS,
            &mut self.single[..],
            lit_result,
            Some(&mut self.list),
        )?;
        combine(&mut self.lit, &self.single, &self.dist, &self.list[..n]);
        Ok(())
    }

    fn read_dynamic(&mut self, br: &mut Bits<'_>) -> Result<(), InflateError> {
        br.refill()?;
        let nlit = br.take(5) as usize + 257;
        let ndist = br.take(5) as usize + 1;
        let npre = br.take(4) as usize + 4;
        let mut pre_lens = [0u8; 19];
        for &k in &PRE_ORDER[..npre] {
            if br.bl < 3 {
                br.refill()?;
            }
            pre_lens[k] = br.take(3) as u8;
        }
        let mut pre = [0u64; 1 << PRE_BITS];
        build_table(&pre_lens, PRE_BITS, &mut pre, pre_result, None)?;
        let total = nlit + ndist;
        let mut lens = [0u8; 288 + 32];
        let mut i = 0usize;
        while i < total {
            if br.bl < 14 {
                br.refill()?;
            }
            let e = pre[(br.bb & ((1 << PRE_BITS) - 1)) as usize];
            br.consume((e & NBITS) as u32);
            let sym = (e >> 16) as u8;
            let (val, rep) = match sym {
                0..=15 => (sym, 1),
                16 => {
                    if i == 0 {
                        return Err(InflateError::BadCodeLengths);
                    }
                    (lens[i - 1], 3 + br.take(2) as usize)
                }
                17 => (0, 3 + br.take(3) as usize),
                _ => (0, 11 + br.take(7) as usize),
            };
            if i + rep > total {
                return Err(InflateError::BadCodeLengths);
            }
            lens[i..i + rep].fill(val);
            i += rep;
        }
        self.build(&lens[..nlit], &lens[nlit..total])
    }

    /// Decodes one Huffman block's symbols up to its end-of-block code.
    fn huffman(
        &mut self,
        br: &mut Bits<'_>,
        out: &mut [u8],
        mut o: usize,
    ) -> Result<usize, InflateError> {
        let lit = &*self.lit;
        let single = &*self.single;
        let dist = &*self.dist;
        let mut st = Fast {
            bb: br.bb,
            bl: br.bl,
            pos: br.pos,
            o,
        };
        #[cfg(target_arch = "x86_64")]
        let eob = if self.bmi2 {
            // SAFETY: `bmi2` is only set when the CPU has BMI2 (checked in `Decoder::new`).
            unsafe { fast_bmi2(lit, single, dist, br.input, out, &mut st) }
        } else {
            fast_plain(lit, single, dist, br.input, out, &mut st)
        }?;
        #[cfg(not(target_arch = "x86_64"))]
        let eob = fast_plain(lit, single, dist, br.input, out, &mut st)?;
        (br.bb, br.bl, br.pos) = (st.bb, st.bl, st.pos);
        o = st.o;
        if eob {
            return Ok(o);
        }
        // slow loop: exact checks for each entry
        loop {
            br.refill()?;
            let mut e = lit[(br.bb & LIT_MASK) as usize];
            let (len, dd) = if e & MATCH != 0 {
                let old = br.bb;
                br.consume((e & NBITS) as u32);
                let (len, dd) = match_fields(e, old);
                (len, dd)
            } else {
                if e & SUB != 0 {
                    br.consume(LIT_BITS);
                    let start = ((e >> 16) & 0xFFFF) as usize;
                    let mask = (1u64 << ((e >> 32) & 0xF)) - 1;
                    e = single[start + (br.bb & mask) as usize];
                }
                br.consume((e & NBITS) as u32);
                let n = ((e >> 6) & 3) as usize;
                if n != 0 {
                    if n > out.len() - o {
                        return Err(InflateError::OutputTooSmall);
                    }
                    out[o..o + n].copy_from_slice(&((e >> 16) as u32).to_le_bytes()[..n]);
                    o += n;
                    continue;
                }
                if e & EOB != 0 {
                    br.check_overrun()?;
                    return Ok(o);
                }
                let len =
                    ((e >> 16) & 0xFFFF) as usize + br.take(((e >> 32) & 0xF) as u32) as usize;
                br.refill()?;
                let mut d = dist[(br.bb & DIST_MASK) as usize];
                if d & SUB != 0 {
                    br.consume(DIST_BITS);
                    let start = ((d >> 16) & 0xFFFF) as usize;
                    let mask = (1u64 << ((d >> 32) & 0xF)) - 1;
                    d = dist[start + (br.bb & mask) as usize];
                }
                br.consume((d & NBITS) as u32);
                let dd = ((d >> 16) & 0xFFFF) as usize + br.take(((d >> 32) & 0xF) as u32) as usize;
                (len, dd)
            };
            if dd > o {
                return Err(InflateError::BadDistance);
            }
            if len > out.len() - o {
                return Err(InflateError::OutputTooSmall);
            }
            for k in o..o + len {
                out[k] = out[k - dd];
            }
            o += len;
        }
    }
}

/// A whole-match entry's (length, distance); `old` is the bit buffer before the entry.
#[inline(always)]
fn match_fields(e: u64, old: u64) -> (usize, usize) {
    let len = ((e >> 12) & 0x1FF) as usize;
    let extra = (old >> ((e >> 24) & 63)) & ((1u64 << ((e >> 32) & 0xF)) - 1);
    (len, (e >> 48) as usize + extra as usize)
}

/// Fast-loop state: bit reader and output position.
struct Fast {
    bb: u64,
    bl: u32,
    pos: usize,
    o: usize,
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "bmi1,bmi2")]
fn fast_bmi2(
    lit: &[u64; LIT_MAIN],
    single: &[u64; LIT_SIZE],
    dist: &[u64; DIST_SIZE],
    input: &[u8],
    out: &mut [u8],
    st: &mut Fast,
) -> Result<bool, InflateError> {
    fast_loop(lit, single, dist, input, out, st)
}

fn fast_plain(
    lit: &[u64; LIT_MAIN],
    single: &[u64; LIT_SIZE],
    dist: &[u64; DIST_SIZE],
    input: &[u8],
    out: &mut [u8],
    st: &mut Fast,
) -> Result<bool, InflateError> {
    fast_loop(lit, single, dist, input, out, st)
}

/// Decodes while at least [`FAST_IN_SLACK`] input and [`FAST_OUT_SLACK`] output bytes are
/// left; returns true at the end of the block, false when it stops early (the caller's exact
/// loop goes on from `st`).
///
/// Bounds: each iteration starts with `pos + FAST_IN_SLACK <= input.len()` and
/// `o + FAST_OUT_SLACK <= out.len()`. Within one iteration:
/// - input: at most two refills, each reading 8 bytes at `pos` and advancing `pos` by at most
///   7, so every read lies in `pos..pos + 15`;
/// - output: a match writes below `o + len + 16` (`len <= 258`), then advances `o` by `len`;
///   a literal entry is a 4-byte store at `o`, advancing it by at most 3. An iteration does
///   one match, or up to three literal entries, or two literal entries then a match, or a
///   match then one literal entry, or two matches with the space checked again in between:
///   everything stays below `o + FAST_OUT_SLACK`;
/// - a match reads from `o - dd >= 0` (checked) up to below `o - dd + len + 16`, all in `out`;
/// - table indexes are masked to the main table size, or are subtable slots that
///   `build_table` checked against the table size when it wrote the pointer entry.
#[inline(always)]
#[allow(clippy::too_many_lines)] // the DEFLATE hot loop: one body keeps bit-buffer state in registers
fn fast_loop(
    lit: &[u64; LIT_MAIN],
    single: &[u64; LIT_SIZE],
    dist: &[u64; DIST_SIZE],
    input: &[u8],
    out: &mut [u8],
    st: &mut Fast,
) -> Result<bool, InflateError> {
    let (mut bb, mut bl, mut pos, mut o) = (st.bb, st.bl, st.pos, st.o);
    let inp = input.as_ptr();
    let outp = out.as_mut_ptr();
    let litp = lit.as_ptr();
    let singlep = single.as_ptr();
    let distp = dist.as_ptr();
    // no fast loop at all when either buffer is smaller than its slack
    let (Some(out_end), Some(in_end)) = (
        out.len().checked_sub(FAST_OUT_SLACK),
        input.len().checked_sub(FAST_IN_SLACK),
    ) else {
        return Ok(false);
    };
    macro_rules! refill {
        () => {{
            // SAFETY: `pos + 8 <= input.len()` (see the bounds above).
            let w = unsafe { inp.add(pos).cast::<u64>().read_unaligned() };
            bb |= u64::from_le(w) << (bl & 63);
            pos += (((63 - (bl & 63)) >> 3) as usize);
            bl |= 56;
        }};
    }
    macro_rules! lookup {
        ($t:expr, $i:expr) => {{
            // SAFETY: a masked main-table index or a checked subtable slot (see above).
            unsafe { *$t.add($i) }
        }};
    }
    // `bl` is only ever used modulo 64 here, so an entry's whole value can be subtracted
    macro_rules! consume {
        ($n:expr) => {{
            let n = $n;
            bb >>= n & 63;
            bl = bl.wrapping_sub(n as u32);
        }};
    }
    macro_rules! take {
        ($n:expr) => {{
            let n = $n as u32;
            let v = (bb & ((1u64 << n) - 1)) as usize;
            bb >>= n;
            bl = bl.wrapping_sub(n);
            v
        }};
    }
    macro_rules! lits {
        ($e:expr) => {{
            let e = $e;
            // SAFETY: 4 bytes below `o + FAST_OUT_SLACK` (see above).
            unsafe { outp.add(o).cast::<u32>().write_unaligned(((e >> 16) as u32).to_le()) };
            o += ((e >> 6) & 3) as usize;
            consume!(e);
        }};
    }
    macro_rules! copy_match {
        ($len:expr, $dd:expr) => {{
            let (len, dd): (usize, usize) = ($len, $dd);
            if dd > o {
                return Err(InflateError::BadDistance);
            }
            // SAFETY: reads below `o + len + 16` from `o - dd`, writes below `o + len + 16`
            // from `o`, all inside `out` (see above); each chunk is read before it is
            // written and, with `dd` >= the chunk size, only reads bytes already final.
            unsafe {
                let dst = outp.add(o);
                let src = dst.sub(dd);
                if dd >= 16 {
                    dst.cast::<[u8; 16]>()
                        .write_unaligned(src.cast::<[u8; 16]>().read_unaligned());
                    let mut k = 16;
                    while k < len {
                        dst.add(k)
                            .cast::<[u8; 16]>()
                            .write_unaligned(src.add(k).cast::<[u8; 16]>().read_unaligned());
                        k += 16;
                    }
                } else if dd >= 8 {
                    let mut k = 0;
                    while k < len {
                        dst.add(k)
                            .cast::<u64>()
                            .write_unaligned(src.add(k).cast::<u64>().read_unaligned());
                        k += 8;
                    }
                } else if dd == 1 {
                    let v = u64::from(*src) * 0x0101_0101_0101_0101;
                    let mut k = 0;
                    while k < len {
                        dst.add(k).cast::<u64>().write_unaligned(v);
                        k += 8;
                    }
                } else {
                    // the bytes repeat with period `dd`, so also with the multiple `p` of it
                    // that is at least 8: write the first `p` bytes one by one, then copy
                    // 8-byte chunks from `p` back (all below `o + len + 16` as above)
                    let p = dd * 8usize.div_ceil(dd);
                    for k in 0..p {
                        *dst.add(k) = *src.add(k);
                    }
                    let mut k = p;
                    while k < len {
                        dst.add(k)
                            .cast::<u64>()
                            .write_unaligned(dst.add(k - p).cast::<u64>().read_unaligned());
                        k += 8;
                    }
                }
            }
            o += len;
        }};
    }
    // the copy of a whole-match entry `e` whose bits (`old`, before) are consumed
    macro_rules! copy_entry {
        ($e:expr, $old:expr) => {{
            let e = $e;
            let (len, dd) = match_fields(e, $old);
            if e & COPY16 != 0 {
                if dd > o {
                    return Err(InflateError::BadDistance);
                }
                // SAFETY: reads 16 bytes from `o - dd` (>= 0, checked; `dd >= 16` so it
                // ends at or before `o`), writes 16 bytes at `o`, all inside `out` (see above).
                unsafe {
                    let dst = outp.add(o);
                    dst.cast::<[u8; 16]>()
                        .write_unaligned(dst.sub(dd).cast::<[u8; 16]>().read_unaligned());
                }
                o += len;
            } else {
                copy_match!(len, dd);
            }
        }};
    }
    if o > out_end || pos > in_end {
        return Ok(false);
    }
    // Software-pipelined: each iteration starts refilled (at least 56 bits) with `e` the
    // entry at the current bits, and ends by refilling and looking up the next one, so the
    // lookup overlaps the copies. `e` is only consumed inside an iteration.
    refill!();
    let mut e = lookup!(litp, (bb & LIT_MASK) as usize);
    macro_rules! next {
        () => {{
            refill!();
            e = lookup!(litp, (bb & LIT_MASK) as usize);
            continue;
        }};
    }
    while o <= out_end && pos <= in_end {
        if e & MATCH != 0 {
            // a whole match uses at most LIT_BITS + 13 <= 24 bits: two fit in one refill;
            // the next entry is looked up before this match's copy
            let old = bb;
            consume!(e);
            let second = lookup!(litp, (bb & LIT_MASK) as usize);
            copy_entry!(e, old);
            e = second;
            if e & MATCH != 0 {
                if o > out_end {
                    break;
                }
                let old = bb;
                consume!(e);
                refill!();
                let third = lookup!(litp, (bb & LIT_MASK) as usize);
                copy_entry!(e, old);
                e = third;
                continue;
            } else if e & LITS != 0 {
                lits!(e);
            }
            next!();
        }
        if e & LITS != 0 {
            // up to three literal entries (at most 3 * LIT_BITS bits), or two and a match
            lits!(e);
            e = lookup!(litp, (bb & LIT_MASK) as usize);
            if e & LITS != 0 {
                lits!(e);
                e = lookup!(litp, (bb & LIT_MASK) as usize);
                if e & LITS != 0 {
                    lits!(e);
                    next!();
                }
            }
            // at least 56 - 2 * LIT_BITS >= 36 bits left: room for a whole match
            if e & MATCH != 0 {
                let old = bb;
                consume!(e);
                refill!();
                let after = lookup!(litp, (bb & LIT_MASK) as usize);
                copy_entry!(e, old);
                e = after;
                continue;
            }
            next!();
        }
        // anything else, with at least 56 bits
        if e & SUB != 0 {
            consume!(LIT_BITS);
            let start = ((e >> 16) & 0xFFFF) as usize;
            let mask = (1u64 << ((e >> 32) & 0xF)) - 1;
            e = lookup!(singlep, start + (bb & mask) as usize);
            consume!(e & NBITS);
            if e & LITS != 0 {
                // SAFETY: below `o + FAST_OUT_SLACK` (see above).
                unsafe { *outp.add(o) = (e >> 16) as u8 };
                o += 1;
                next!();
            }
        } else {
            consume!(e & NBITS);
        }
        if e & EOB != 0 {
            (st.bb, st.bl, st.pos, st.o) = (bb, bl & 63, pos, o);
            return Ok(true);
        }
        let len = ((e >> 16) & 0xFFFF) as usize + take!((e >> 32) & 0xF);
        refill!();
        let mut d = lookup!(distp, (bb & DIST_MASK) as usize);
        if d & SUB != 0 {
            consume!(DIST_BITS);
            let start = ((d >> 16) & 0xFFFF) as usize;
            let mask = (1u64 << ((d >> 32) & 0xF)) - 1;
            d = lookup!(distp, start + (bb & mask) as usize);
        }
        consume!(d & NBITS);
        let dd = ((d >> 16) & 0xFFFF) as usize + take!((d >> 32) & 0xF);
        copy_match!(len, dd);
        next!();
    }
    (st.bb, st.bl, st.pos, st.o) = (bb, bl & 63, pos, o);
    Ok(false)
}

/// Copies a stored block; `br` is just past its 3 header bits.
fn stored(br: &mut Bits<'_>, out: &mut [u8], o: usize) -> Result<usize, InflateError> {
    // align to a byte, then give back the whole bytes still in the bit buffer
    let drop = br.bl & 7;
    br.consume(drop);
    br.pos -= (br.bl / 8) as usize;
    br.bb = 0;
    br.bl = 0;
    let input = br.input;
    let p = br.pos;
    if p + 4 > input.len() {
        return Err(InflateError::Truncated);
    }
    let len = usize::from(u16::from_le_bytes([input[p], input[p + 1]]));
    let nlen = u16::from_le_bytes([input[p + 2], input[p + 3]]);
    if len as u16 != !nlen {
        return Err(InflateError::StoredLength);
    }
    if len > out.len() - o {
        return Err(InflateError::OutputTooSmall);
    }
    if len > input.len() - (p + 4) {
        return Err(InflateError::Truncated);
    }
    out[o..o + len].copy_from_slice(&input[p + 4..p + 4 + len]);
    br.pos = p + 4 + len;
    Ok(o + len)
}
