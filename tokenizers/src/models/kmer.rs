//! Nucleotide Transformer non-overlapping k-mer tokenizer.
//!
//! Follows `NucleotidesKmersTokenizer.tokenize` (instadeepai/nucleotide-transformer
//! `tokenizers.py`): split the sequence at every `N`; cut each piece into k-mers from its start;
//! a tail shorter than k becomes single nucleotides; each `N` is one token. NT raises on any
//! token missing from its vocabulary (lower case, IUPAC codes other than N): that is
//! [`UnknownPolicy::Error`]; [`UnknownPolicy::Unk`] emits `<unk>` for the k-mer or nucleotide
//! instead.

use crate::config::{CasePolicy, KmerConfig, KmerVocab, SpecialToken, UnknownPolicy};
use crate::error::{Error, Result};
use crate::tokenizer::{Tokenizer, resolve_specials};

/// NT nucleotide order; k-mer ids enumerate `itertools.product` over it.
const NUCLEOTIDES: [u8; 4] = [b'A', b'T', b'C', b'G'];
const SPECIALS_1: [&str; 4] = ["<unk>", "<pad>", "<mask>", "<cls>"];
const CODE_N: u8 = 4;
const CODE_BAD: u8 = 5;
/// Largest supported k (4^12 k-mers, ids still fit u32 comfortably).
pub const MAX_K: usize = 12;

/// The built k-mer tokenizer.
#[derive(Clone, Debug)]
pub struct KmerTokenizer {
    k: usize,
    codes: [u8; 256],
    unknown: UnknownPolicy,
    prepend: Vec<u32>,
    append: Vec<u32>,
    n_kmers: u32,
    /// Id of the first k-mer: 4 (v1) or 6 (v2, after `<eos> <bos>`).
    base: u32,
}

impl KmerTokenizer {
    /// Builds the tokenizer; `k` must be in `1..=12`.
    pub fn new(cfg: &KmerConfig) -> Result<Self> {
        if !(1..=MAX_K).contains(&cfg.k) {
            return Err(Error::InvalidConfig(format!(
                "kmer: k = {} is outside 1..={MAX_K}",
                cfg.k
            )));
        }
        let mut codes = [CODE_BAD; 256];
        for (i, &c) in NUCLEOTIDES.iter().enumerate() {
            codes[c as usize] = i as u8;
        }
        codes[b'N' as usize] = CODE_N;
        if cfg.case == CasePolicy::Upper {
            for c in b'a'..=b'z' {
                codes[c as usize] = codes[c.to_ascii_uppercase() as usize];
            }
        }
        let n_kmers = 4u32.pow(cfg.k as u32);
        let base = match cfg.vocab {
            KmerVocab::V1 => 4,
            KmerVocab::V2 => 6,
        };
        let lookup = |t| special(n_kmers, base, t);
        Ok(Self {
            k: cfg.k,
            codes,
            unknown: cfg.unknown,
            prepend: resolve_specials(&cfg.prepend, "kmer", lookup)?,
            append: resolve_specials(&cfg.append, "kmer", lookup)?,
            n_kmers,
            base,
        })
    }

    /// Id of the single nucleotide with code `c` (0..4 = A T C G, 4 = N).
    fn single_id(&self, c: u8) -> u32 {
        self.base + self.n_kmers + u32::from(c)
    }

    fn unknown(&self, input: &[u8], offset: usize) -> Result<u32> {
        match self.unknown {
            UnknownPolicy::Unk => Ok(0),
            UnknownPolicy::Error => Err(Error::UnknownSymbol {
                offset,
                byte: input[offset],
            }),
        }
    }

    /// Emits bytes one token each: a nucleotide, `N`, or unknown.
    fn singles(&self, input: &[u8], start: usize, end: usize, out: &mut Vec<u32>) -> Result<()> {
        for (off, &b) in input[start..end].iter().enumerate() {
            let c = self.codes[b as usize];
            out.push(if c <= CODE_N {
                self.single_id(c)
            } else {
                self.unknown(input, start + off)?
            });
        }
        Ok(())
    }

    /// Maps `input` to ids without special tokens, appending to `out`.
    pub fn encode_body(&self, input: &[u8], out: &mut Vec<u32>) -> Result<()> {
        let k = self.k;
        // `pos` is always at the start of an N-free piece or k-aligned within one.
        let mut pos = 0;
        while pos + k <= input.len() {
            let chunk = &input[pos..pos + k];
            let mut acc = 0u32;
            let mut flags = 0u8;
            for &b in chunk {
                let c = self.codes[b as usize];
                flags |= c;
                acc = (acc << 2) | u32::from(c & 3);
            }
            // Codes 4 (N) and 5 (other) are the only ones with bit 2 set.
            if flags & 4 == 0 {
                out.push(self.base + acc);
                pos += k;
                continue;
            }
            match chunk.iter().position(|&b| self.codes[b as usize] == CODE_N) {
                Some(j) => {
                    // A piece shorter than k ends at this N: single nucleotides, then N.
                    self.singles(input, pos, pos + j + 1, out)?;
                    pos += j + 1;
                }
                None => {
                    let bad = chunk
                        .iter()
                        .position(|&b| self.codes[b as usize] == CODE_BAD)
                        .unwrap_or(0);
                    out.push(self.unknown(input, pos + bad)?);
                    pos += k;
                }
            }
        }
        // Fewer than k bytes remain: every piece in them is a tail of single tokens.
        self.singles(input, pos, input.len(), out)
    }
}

/// Id of a special token; `base` is the first k-mer id (4: v1, `<eos> <bos>` last; 6: v2,
/// `<eos>4 <bos>5`).
fn special(n_kmers: u32, base: u32, token: SpecialToken) -> Option<u32> {
    let v2 = base == 6;
    match token {
        SpecialToken::Unk => Some(0),
        SpecialToken::Pad => Some(1),
        SpecialToken::Mask => Some(2),
        SpecialToken::Cls => Some(3),
        SpecialToken::Eos if v2 => Some(4),
        SpecialToken::Bos if v2 => Some(5),
        SpecialToken::Eos => Some(base + n_kmers + 5),
        SpecialToken::Bos => Some(base + n_kmers + 6),
        SpecialToken::Sep => None,
    }
}

impl Tokenizer for KmerTokenizer {
    fn encode_into(&self, input: &[u8], out: &mut Vec<u32>) -> Result<()> {
        out.reserve(input.len() / self.k + 8);
        out.extend_from_slice(&self.prepend);
        self.encode_body(input, out)?;
        out.extend_from_slice(&self.append);
        Ok(())
    }

    fn id_to_token(&self, id: u32) -> Option<String> {
        let n = self.n_kmers;
        let b = self.base;
        if id >= 4 && Some(id) == self.special_id(SpecialToken::Eos) {
            return Some("<eos>".to_string());
        }
        if id >= 4 && Some(id) == self.special_id(SpecialToken::Bos) {
            return Some("<bos>".to_string());
        }
        match id {
            0..=3 => Some(SPECIALS_1[id as usize].to_string()),
            _ if id < b + n => {
                let mut v = id - b;
                let mut s = vec![b'A'; self.k];
                for slot in s.iter_mut().rev() {
                    *slot = NUCLEOTIDES[(v & 3) as usize];
                    v >>= 2;
                }
                Some(String::from_utf8_lossy(&s).into_owned())
            }
            _ if id < b + n + 4 => Some((NUCLEOTIDES[(id - b - n) as usize] as char).to_string()),
            _ if id == b + n + 4 => Some("N".to_string()),
            _ => None,
        }
    }

    fn vocab_size(&self) -> usize {
        self.n_kmers as usize + 4 + 5 + 2
    }

    fn special_id(&self, token: SpecialToken) -> Option<u32> {
        special(self.n_kmers, self.base, token)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nt(k: usize, unknown: UnknownPolicy) -> KmerTokenizer {
        KmerTokenizer::new(&KmerConfig {
            k,
            case: CasePolicy::AsIs,
            unknown,
            vocab: KmerVocab::V1,
            prepend: vec![],
            append: vec![],
        })
        .unwrap()
    }

    fn toks(t: &KmerTokenizer, s: &[u8]) -> Vec<String> {
        t.encode(s)
            .unwrap()
            .into_iter()
            .map(|id| t.id_to_token(id).unwrap())
            .collect()
    }

    #[test]
    fn nt_docstring_examples() {
        let t = nt(5, UnknownPolicy::Error);
        assert_eq!(
            toks(&t, b"ATCGAATGGCGATGCAC"),
            ["ATCGA", "ATGGC", "GATGC", "A", "C"]
        );
        assert_eq!(
            toks(&t, b"ATCGAATNGGCGATGCAC"),
            ["ATCGA", "A", "T", "N", "GGCGA", "TGCAC"]
        );
    }

    #[test]
    fn six_mer_vocabulary() {
        let t = nt(6, UnknownPolicy::Error);
        assert_eq!(t.vocab_size(), 4107);
        assert_eq!(t.encode(b"AAAAAA").unwrap(), [4]);
        assert_eq!(t.encode(b"GGGGGG").unwrap(), [4099]);
        assert_eq!(t.encode(b"ATCGN").unwrap(), [4100, 4101, 4102, 4103, 4104]);
        assert_eq!(t.id_to_token(4105).as_deref(), Some("<eos>"));
        assert_eq!(t.id_to_token(4107), None);
        assert_eq!(t.encode(b"NN").unwrap(), [4104, 4104]);
    }

    #[test]
    fn unknown_policies() {
        let err = nt(6, UnknownPolicy::Error).encode(b"ACGTAcGT").unwrap_err();
        assert!(
            matches!(
                err,
                Error::UnknownSymbol {
                    offset: 5,
                    byte: b'c'
                }
            ),
            "{err}"
        );
        let t = nt(6, UnknownPolicy::Unk);
        assert_eq!(t.encode(b"ACGTAcGTR").unwrap(), [0, 4103, 4101, 0]);
    }

    /// NT's algorithm written naively (split at N, chunk, fallback), as an oracle.
    fn naive(t: &KmerTokenizer, s: &[u8]) -> Vec<u32> {
        let mut out = Vec::new();
        let pieces: Vec<&[u8]> = s.split(|&b| b == b'N').collect();
        for (i, piece) in pieces.iter().enumerate() {
            let full = piece.len() / t.k * t.k;
            for chunk in piece[..full].chunks(t.k) {
                let mut acc = 0u32;
                let mut ok = true;
                for &b in chunk {
                    match NUCLEOTIDES.iter().position(|&n| n == b) {
                        Some(c) => acc = acc * 4 + c as u32,
                        None => ok = false,
                    }
                }
                out.push(if ok { 4 + acc } else { 0 });
            }
            for &b in &piece[full..] {
                out.push(match NUCLEOTIDES.iter().position(|&n| n == b) {
                    Some(c) => t.single_id(c as u8),
                    None => 0,
                });
            }
            if i + 1 < pieces.len() {
                out.push(t.single_id(CODE_N));
            }
        }
        out
    }

    #[test]
    fn matches_naive_on_random_input() {
        let mut state = 0x2545_f491_4f6c_dd1du64;
        for k in [1, 2, 3, 5, 6, 7] {
            let t = nt(k, UnknownPolicy::Unk);
            for len in 0..200 {
                let s: Vec<u8> = (0..len)
                    .map(|_| {
                        state ^= state << 13;
                        state ^= state >> 7;
                        state ^= state << 17;
                        b"ACGTACGTACGTNNaR"[(state % 16) as usize]
                    })
                    .collect();
                assert_eq!(t.encode(&s).unwrap(), naive(&t, &s), "k={k} {s:?}");
            }
        }
    }
}
