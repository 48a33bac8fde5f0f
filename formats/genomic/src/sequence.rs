//! Sequence primitives: random access to the bases of a sequence file ([`SequenceSource`], for
//! FASTA and 2bit), complement and reverse complement (case kept; IUPAC codes kept or
//! complemented, by [`ComplementTable`]), and the packed
//! soft-mask and N bit masks of a run of bases.
//!
//! Bit masks are packed little-endian bit order: base `i` is bit `i % 8` of byte `i / 8`
//! (NumPy `np.unpackbits(m, bitorder="little")[:len]`).
//!
//! ```
//! use bomdata_genomic::sequence::{masks_counts, reverse_complement};
//! let mut s = b"ACGTacgtNN".to_vec();
//! let (mut soft, mut n) = (Vec::new(), Vec::new());
//! assert_eq!(masks_counts(&s, &mut soft, &mut n), (2, 4));
//! assert_eq!(soft, vec![0b1111_0000, 0]);
//! reverse_complement(&mut s);
//! assert_eq!(s, b"NNacgtACGT");
//! ```

use std::io;

use crate::fasta::IndexedFasta;
use crate::twobit::TwoBit;

/// A sequence file with random access to its bases (FASTA with an index, 2bit).
pub trait SequenceSource {
    /// (name, length) of every sequence, in file order.
    fn sequence_list(&self) -> Vec<(String, u64)>;
    /// Bases `[start, end)` of `name`, as stored, into `out` (cleared first).
    fn fetch_into(&mut self, name: &str, start: u64, end: u64, out: &mut Vec<u8>)
    -> io::Result<()>;
    /// True when fetching each short range by itself is as cheap as reading big chunks (random
    /// access with its own caching): callers may then fetch every range straight into its own
    /// buffer instead of copying it out of a larger chunk.
    fn prefers_window_fetch(&self) -> bool {
        false
    }
}

impl SequenceSource for IndexedFasta {
    fn sequence_list(&self) -> Vec<(String, u64)> {
        self.sequences()
            .iter()
            .map(|r| (r.name.clone(), r.length))
            .collect()
    }
    fn fetch_into(
        &mut self,
        name: &str,
        start: u64,
        end: u64,
        out: &mut Vec<u8>,
    ) -> io::Result<()> {
        self.fetch(name, start, end, out)
    }
    fn prefers_window_fetch(&self) -> bool {
        true
    }
}

impl SequenceSource for TwoBit {
    fn sequence_list(&self) -> Vec<(String, u64)> {
        self.sequences()
            .iter()
            .map(|s| (s.name.clone(), s.length))
            .collect()
    }
    fn fetch_into(
        &mut self,
        name: &str,
        start: u64,
        end: u64,
        out: &mut Vec<u8>,
    ) -> io::Result<()> {
        self.fetch(name, start, end, out)
    }
}

/// Complement of a base, case kept; IUPAC codes complemented, anything else unchanged.
pub fn complement(b: u8) -> u8 {
    match b {
        b'A' => b'T',
        b'T' => b'A',
        b'C' => b'G',
        b'G' => b'C',
        b'a' => b't',
        b't' => b'a',
        b'c' => b'g',
        b'g' => b'c',
        b'R' => b'Y',
        b'Y' => b'R',
        b'K' => b'M',
        b'M' => b'K',
        b'B' => b'V',
        b'V' => b'B',
        b'D' => b'H',
        b'H' => b'D',
        b'r' => b'y',
        b'y' => b'r',
        b'k' => b'm',
        b'm' => b'k',
        b'b' => b'v',
        b'v' => b'b',
        b'd' => b'h',
        b'h' => b'd',
        other => other,
    }
}

/// Reverse-complements `seq` in place with the IUPAC table ([`complement`]).
pub fn reverse_complement(seq: &mut [u8]) {
    reverse_complement_with(seq, ComplementTable::Iupac);
}

/// Complement of a base with only `ACGTacgt` complemented (case kept); every other byte,
/// IUPAC ambiguity codes included, unchanged — what HyenaDNA's and Caduceus's data loaders do.
pub fn complement_acgt(b: u8) -> u8 {
    match b {
        b'A' => b'T',
        b'T' => b'A',
        b'C' => b'G',
        b'G' => b'C',
        b'a' => b't',
        b't' => b'a',
        b'c' => b'g',
        b'g' => b'c',
        other => other,
    }
}

/// Which bytes a reverse complement complements.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ComplementTable {
    /// `ACGTacgt` only, everything else kept (HyenaDNA, Caduceus): `AC.-GRKn` → `nKRC-.GT`.
    #[default]
    Acgt,
    /// IUPAC codes complemented too (R↔Y, K↔M, B↔V, D↔H; S, W, N kept), as samtools does:
    /// `AC.-GRKn` → `nMYC-.GT`.
    Iupac,
}

impl ComplementTable {
    /// Parses a table name: `acgt` or `iupac`.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "acgt" => Some(ComplementTable::Acgt),
            "iupac" => Some(ComplementTable::Iupac),
            _ => None,
        }
    }

    /// The table's name, as [`ComplementTable::parse`] reads it.
    pub fn name(self) -> &'static str {
        match self {
            ComplementTable::Acgt => "acgt",
            ComplementTable::Iupac => "iupac",
        }
    }

    /// The complement of one byte under this table.
    pub fn complement(self, b: u8) -> u8 {
        match self {
            ComplementTable::Acgt => complement_acgt(b),
            ComplementTable::Iupac => complement(b),
        }
    }
}

/// Reverse-complements `seq` in place with `table`.
pub fn reverse_complement_with(seq: &mut [u8], table: ComplementTable) {
    seq.reverse();
    for b in seq.iter_mut() {
        *b = table.complement(*b);
    }
}

/// Packs the soft-mask and N masks of `seq` (little-endian bit order); returns the N count.
pub fn masks(seq: &[u8], softmask: &mut Vec<u8>, nmask: &mut Vec<u8>) -> u64 {
    masks_counts(seq, softmask, nmask).0
}

/// Packs the soft-mask and N masks of `seq`; returns (N count, lowercase count).
pub fn masks_counts(seq: &[u8], softmask: &mut Vec<u8>, nmask: &mut Vec<u8>) -> (u64, u64) {
    softmask.clear();
    nmask.clear();
    let nbytes = seq.len().div_ceil(8);
    softmask.resize(nbytes, 0);
    nmask.resize(nbytes, 0);
    #[cfg(target_arch = "x86_64")]
    let ((mut n_count, mut low_count), done) = {
        let popcnt = std::arch::is_x86_feature_detected!("popcnt");
        let (mut counts, mut done) = ((0u64, 0u64), 0usize);
        if popcnt
            && std::arch::is_x86_feature_detected!("avx512f")
            && std::arch::is_x86_feature_detected!("avx512bw")
        {
            done = seq.len() / 64 * 64;
            // SAFETY: AVX-512F/BW and POPCNT were detected at run time.
            counts = unsafe {
                masks64_avx512(
                    &seq[..done],
                    &mut softmask[..done / 8],
                    &mut nmask[..done / 8],
                )
            };
        }
        let (lo, (n, l)) = if popcnt && std::arch::is_x86_feature_detected!("avx2") {
            let full = done + (seq.len() - done) / 32 * 32;
            // SAFETY: AVX2 and POPCNT were detected at run time.
            let c = unsafe {
                masks32_avx2(
                    &seq[done..full],
                    &mut softmask[done / 8..full / 8],
                    &mut nmask[done / 8..full / 8],
                )
            };
            (full, c)
        } else {
            let full = done + (seq.len() - done) / 16 * 16;
            let c = masks16_sse2(
                &seq[done..full],
                &mut softmask[done / 8..full / 8],
                &mut nmask[done / 8..full / 8],
            );
            (full, c)
        };
        ((counts.0 + n, counts.1 + l), lo)
    };
    #[cfg(not(target_arch = "x86_64"))]
    let ((mut n_count, mut low_count), done) = ((0u64, 0u64), 0usize);
    let mut chunks = seq[done..].chunks_exact(8);
    let mut k = done / 8;
    for c in &mut chunks {
        let x = u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
        let lower = lowercase_bits(x);
        // N or n: (b | 0x20) == b'n'; exact zero-byte detection on the xor
        let y = (x | 0x2020_2020_2020_2020) ^ 0x6e6e_6e6e_6e6e_6e6e;
        let t = (y & 0x7f7f_7f7f_7f7f_7f7f).wrapping_add(0x7f7f_7f7f_7f7f_7f7f);
        let isn = !(t | y | 0x7f7f_7f7f_7f7f_7f7f) >> 7;
        let pack = |v: u64| -> u8 { (v.wrapping_mul(0x0102_0408_1020_4080) >> 56) as u8 };
        let sb = pack(lower);
        softmask[k] = sb;
        low_count += u64::from(sb.count_ones());
        let nb = pack(isn);
        n_count += u64::from(nb.count_ones());
        nmask[k] = nb;
        k += 1;
    }
    let rem = chunks.remainder();
    if !rem.is_empty() {
        let (mut s, mut n) = (0u8, 0u8);
        for (i, &b) in rem.iter().enumerate() {
            s |= u8::from(b.is_ascii_lowercase()) << i;
            low_count += u64::from(b.is_ascii_lowercase());
            let isn = b == b'N' || b == b'n';
            n |= u8::from(isn) << i;
            n_count += u64::from(isn);
        }
        softmask[k] = s;
        nmask[k] = n;
    }
    (n_count, low_count)
}

/// Bit 0 of each byte of the result: whether that byte of `x` is an ASCII lowercase letter
/// (`a`..=`z`; `.`, `-`, digits and bytes ≥ 0x80 are not). Without carries between bytes:
/// each low-7-bit value plus 0x1f (≥ 0x61) or 0x05 (≥ 0x7b) stays below 0x100.
fn lowercase_bits(x: u64) -> u64 {
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let x7 = x & !HIGH;
    let ge_a = x7 + 0x1f1f_1f1f_1f1f_1f1f;
    let ge_brace = x7 + 0x0505_0505_0505_0505;
    ((ge_a & !ge_brace & !x & HIGH) >> 7) & 0x0101_0101_0101_0101
}

/// AVX-512BW: 64 bases per step, each mask straight from a compare into a 64-bit mask
/// register. `seq.len()` is a multiple of 64 and the masks hold `seq.len() / 8` bytes.
///
/// # Safety
/// The CPU must support AVX-512F, AVX-512BW and POPCNT.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,popcnt")]
unsafe fn masks64_avx512(seq: &[u8], soft: &mut [u8], nmask: &mut [u8]) -> (u64, u64) {
    use std::arch::x86_64::{
        __m512i, _mm512_cmpeq_epi8_mask, _mm512_cmplt_epu8_mask, _mm512_loadu_si512,
        _mm512_or_si512, _mm512_set1_epi8, _mm512_sub_epi8,
    };
    let (mut n_count, mut low_count) = (0u64, 0u64);
    for ((c, s), n) in seq
        .chunks_exact(64)
        .zip(soft.chunks_exact_mut(8))
        .zip(nmask.chunks_exact_mut(8))
    {
        // SAFETY: `c` is 64 readable bytes and the load is unaligned.
        let v = unsafe { _mm512_loadu_si512(c.as_ptr().cast::<__m512i>()) };
        // a..=z: (b - 'a') as unsigned < 26
        let sm = _mm512_cmplt_epu8_mask(
            _mm512_sub_epi8(v, _mm512_set1_epi8(b'a' as i8)),
            _mm512_set1_epi8(26),
        );
        let low = _mm512_or_si512(v, _mm512_set1_epi8(0x20));
        let nm = _mm512_cmpeq_epi8_mask(low, _mm512_set1_epi8(b'n' as i8));
        s.copy_from_slice(&sm.to_le_bytes());
        n.copy_from_slice(&nm.to_le_bytes());
        n_count += u64::from(nm.count_ones());
        low_count += u64::from(sm.count_ones());
    }
    (n_count, low_count)
}

/// AVX2: 32 bases per step. `seq.len()` is a multiple of 32 and the masks hold
/// `seq.len() / 8` bytes.
///
/// # Safety
/// The CPU must support AVX2 and POPCNT.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,popcnt")]
unsafe fn masks32_avx2(seq: &[u8], soft: &mut [u8], nmask: &mut [u8]) -> (u64, u64) {
    use std::arch::x86_64::{
        __m256i, _mm256_add_epi8, _mm256_cmpeq_epi8, _mm256_cmpgt_epi8, _mm256_loadu_si256,
        _mm256_movemask_epi8, _mm256_or_si256, _mm256_set1_epi8,
    };
    let (mut n_count, mut low_count) = (0u64, 0u64);
    for ((c, s), n) in seq
        .chunks_exact(32)
        .zip(soft.chunks_exact_mut(4))
        .zip(nmask.chunks_exact_mut(4))
    {
        // SAFETY: `c` is 32 readable bytes and the load is unaligned.
        let v = unsafe { _mm256_loadu_si256(c.as_ptr().cast::<__m256i>()) };
        // a..=z: b + 31 lands on -128..=-103 (signed) for exactly those bytes
        let t = _mm256_add_epi8(v, _mm256_set1_epi8(LOWER_SHIFT));
        let sm = _mm256_movemask_epi8(_mm256_cmpgt_epi8(_mm256_set1_epi8(LOWER_BOUND), t)) as u32;
        let low = _mm256_or_si256(v, _mm256_set1_epi8(0x20));
        let nm = _mm256_movemask_epi8(_mm256_cmpeq_epi8(low, _mm256_set1_epi8(b'n' as i8))) as u32;
        s.copy_from_slice(&sm.to_le_bytes());
        n.copy_from_slice(&nm.to_le_bytes());
        n_count += u64::from(nm.count_ones());
        low_count += u64::from(sm.count_ones());
    }
    (n_count, low_count)
}

/// Added to each byte so that `a`..=`z` (0x61..=0x7a) become 0x80..=0x99, the 26 smallest
/// signed bytes (SSE2/AVX2 have signed byte compares only).
#[cfg(target_arch = "x86_64")]
const LOWER_SHIFT: i8 = (0x80 - b'a') as i8;
/// The signed bytes below this one are the shifted lowercase letters.
#[cfg(target_arch = "x86_64")]
const LOWER_BOUND: i8 = -128 + 26;

/// SSE2 (always present on x86_64): 16 bases per step. `seq.len()` is a multiple of 16 and the
/// masks hold `seq.len() / 8` bytes.
#[cfg(target_arch = "x86_64")]
fn masks16_sse2(seq: &[u8], soft: &mut [u8], nmask: &mut [u8]) -> (u64, u64) {
    use std::arch::x86_64::{
        __m128i, _mm_add_epi8, _mm_cmpeq_epi8, _mm_cmpgt_epi8, _mm_loadu_si128, _mm_movemask_epi8,
        _mm_or_si128, _mm_set1_epi8,
    };
    let (mut n_count, mut low_count) = (0u64, 0u64);
    for ((c, s), n) in seq
        .chunks_exact(16)
        .zip(soft.chunks_exact_mut(2))
        .zip(nmask.chunks_exact_mut(2))
    {
        // SAFETY: SSE2 is part of the x86_64 baseline; `c` is 16 readable bytes and the load is
        // unaligned.
        let (sm, nm) = unsafe {
            let v = _mm_loadu_si128(c.as_ptr().cast::<__m128i>());
            // a..=z: b + 31 lands on -128..=-103 (signed) for exactly those bytes
            let t = _mm_add_epi8(v, _mm_set1_epi8(LOWER_SHIFT));
            let sm = _mm_movemask_epi8(_mm_cmpgt_epi8(_mm_set1_epi8(LOWER_BOUND), t)) as u32;
            let low = _mm_or_si128(v, _mm_set1_epi8(0x20));
            let nm = _mm_movemask_epi8(_mm_cmpeq_epi8(low, _mm_set1_epi8(b'n' as i8))) as u32;
            (sm, nm)
        };
        s.copy_from_slice(&(sm as u16).to_le_bytes());
        n.copy_from_slice(&(nm as u16).to_le_bytes());
        n_count += u64::from(nm.count_ones());
        low_count += u64::from(sm.count_ones());
    }
    (n_count, low_count)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_match_a_plain_loop() {
        let seq: Vec<u8> = (0..1000u32)
            .map(|i| b"ACGTNacgtnRYM"[(i * 7 % 13) as usize])
            .collect();
        // lengths around every SIMD width (64, 32, 16 bytes) and the scalar tail
        for len in [
            0, 1, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 95, 96, 111, 127, 128, 129, 200,
            513, 1000,
        ] {
            let s = &seq[..len];
            let (mut a, mut b) = (Vec::new(), Vec::new());
            let (n, low) = masks_counts(s, &mut a, &mut b);
            assert_eq!(
                low as usize,
                s.iter().filter(|c| c.is_ascii_lowercase()).count()
            );
            for (i, &c) in s.iter().enumerate() {
                assert_eq!(
                    (a[i / 8] >> (i % 8)) & 1 == 1,
                    c.is_ascii_lowercase(),
                    "{len} {i}"
                );
                assert_eq!(
                    (b[i / 8] >> (i % 8)) & 1 == 1,
                    c == b'N' || c == b'n',
                    "{len} {i}"
                );
            }
            assert_eq!(
                n as usize,
                s.iter().filter(|&&c| c == b'N' || c == b'n').count()
            );
        }
        // bytes that look like 'n' with the high bit or neighbours set must not count
        let tricky = [0xee, b'o', b'm', 0x4e, 0x6e, 0xce, b'N', 0];
        let (mut a, mut b) = (Vec::new(), Vec::new());
        masks(&tricky, &mut a, &mut b);
        assert_eq!(b[0], 0b0101_1000);
    }

    /// Every byte value, at every position of every kernel's block: the soft mask marks exactly
    /// `a`..=`z` and the N mask exactly `N`/`n`, in the scalar code and in each SIMD kernel the
    /// CPU has.
    #[test]
    fn masks_of_all_256_byte_values() {
        let want_soft = |b: u8| b.is_ascii_lowercase();
        let want_n = |b: u8| b == b'N' || b == b'n';
        // 256 values at 3 rotations: each value meets every bit position in 64-byte blocks.
        let mut seq = Vec::new();
        for r in [0usize, 1, 37] {
            seq.extend((0..256usize).map(|i| ((i + r) % 256) as u8));
        }
        seq.truncate(seq.len() / 64 * 64);
        let check = |what: &str, soft: &[u8], nmask: &[u8], counts: (u64, u64), s: &[u8]| {
            for (i, &b) in s.iter().enumerate() {
                assert_eq!(
                    (soft[i / 8] >> (i % 8)) & 1 == 1,
                    want_soft(b),
                    "{what} soft {b:#04x}"
                );
                assert_eq!(
                    (nmask[i / 8] >> (i % 8)) & 1 == 1,
                    want_n(b),
                    "{what} n {b:#04x}"
                );
            }
            let n = s.iter().filter(|&&b| want_n(b)).count() as u64;
            let low = s.iter().filter(|&&b| want_soft(b)).count() as u64;
            assert_eq!(counts, (n, low), "{what} counts");
        };
        let (mut soft, mut nm) = (Vec::new(), Vec::new());
        // The dispatching entry point (best kernel + scalar tail) at a length with a tail.
        let c = masks_counts(&seq[..seq.len() - 5], &mut soft, &mut nm);
        check("dispatch", &soft, &nm, c, &seq[..seq.len() - 5]);
        // The scalar SWAR path alone: lengths below every SIMD width.
        for chunk in seq.chunks(15) {
            let c = masks_counts(chunk, &mut soft, &mut nm);
            check("scalar", &soft, &nm, c, chunk);
        }
        assert_eq!(
            (0..=255u8).filter(|&b| want_soft(b)).count(),
            26,
            "only a..=z"
        );
        #[cfg(target_arch = "x86_64")]
        {
            let mut soft = vec![0u8; seq.len() / 8];
            let mut nm = vec![0u8; seq.len() / 8];
            let c = masks16_sse2(&seq, &mut soft, &mut nm);
            check("sse2", &soft, &nm, c, &seq);
            if std::arch::is_x86_feature_detected!("avx2")
                && std::arch::is_x86_feature_detected!("popcnt")
            {
                // SAFETY: AVX2 and POPCNT were detected.
                let c = unsafe { masks32_avx2(&seq, &mut soft, &mut nm) };
                check("avx2", &soft, &nm, c, &seq);
            }
            if std::arch::is_x86_feature_detected!("avx512f")
                && std::arch::is_x86_feature_detected!("avx512bw")
                && std::arch::is_x86_feature_detected!("popcnt")
            {
                // SAFETY: AVX-512F/BW and POPCNT were detected.
                let c = unsafe { masks64_avx512(&seq, &mut soft, &mut nm) };
                check("avx512", &soft, &nm, c, &seq);
            }
        }
    }

    /// The issue's reproduction: `.` and `-` are not soft-masked.
    #[test]
    fn dots_and_dashes_are_not_soft_masked() {
        let (mut soft, mut nm) = (Vec::new(), Vec::new());
        let (_, low) = masks_counts(b"AC.-GRKn", &mut soft, &mut nm);
        assert_eq!(low, 1);
        assert_eq!(soft, vec![0b1000_0000]);
    }

    /// The issue's reproduction: the models' table keeps IUPAC codes, the IUPAC table (opt-in)
    /// complements them.
    #[test]
    fn complement_tables_on_iupac_codes() {
        let mut s = b"AC.-GRKn".to_vec();
        reverse_complement_with(&mut s, ComplementTable::default());
        assert_eq!(s, b"nKRC-.GT");
        let mut s = b"AC.-GRKn".to_vec();
        reverse_complement_with(&mut s, ComplementTable::Iupac);
        assert_eq!(s, b"nMYC-.GT");
        for b in 0..=255u8 {
            let c = complement_acgt(b);
            assert_eq!(complement_acgt(c), b);
            assert_eq!(c != b, b"ACGTacgt".contains(&b), "{b:#04x}");
        }
        assert_eq!(
            ComplementTable::parse("iupac"),
            Some(ComplementTable::Iupac)
        );
        assert_eq!(
            ComplementTable::parse("acgt").map(ComplementTable::name),
            Some("acgt")
        );
        assert_eq!(ComplementTable::parse("IUPAC"), None);
    }

    #[test]
    fn reverse_complement_keeps_case_and_n() {
        let mut s = b"ACGTacgtNn".to_vec();
        reverse_complement(&mut s);
        assert_eq!(s, b"nNacgtACGT");
    }
}
