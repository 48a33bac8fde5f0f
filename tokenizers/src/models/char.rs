//! HyenaDNA / Caduceus character tokenizer.
//!
//! Follows HyenaDNA's `CharacterTokenizer` (`hg38_char_tokenizer.py`): `list(text)`, each
//! character looked up in a fixed vocabulary, anything else `[UNK]`. The Caduceus profile
//! upper-cases first (`CaduceusTokenizer._tokenize`) and its dataset replaces `N` by `[PAD]`.
//! Python works on code points, so a non-ASCII character (several UTF-8 bytes) is one `[UNK]`
//! here too.

use crate::config::{CasePolicy, CharConfig, SpecialToken};
use crate::error::{Error, Result};
use crate::tokenizer::{Tokenizer, resolve_specials};

/// Names of the fixed special ids 0..=6.
pub const SPECIALS: [&str; 7] = [
    "[CLS]",
    "[SEP]",
    "[BOS]",
    "[MASK]",
    "[PAD]",
    "[RESERVED]",
    "[UNK]",
];
/// `[PAD]` id.
pub const PAD_ID: u32 = 4;
/// `[UNK]` id.
pub const UNK_ID: u32 = 6;
/// Marker in the lookup table for UTF-8 continuation bytes (they add no token).
const SKIP: u32 = u32::MAX;

/// The built character tokenizer.
#[derive(Clone, Debug)]
pub struct CharTokenizer {
    lut: [u32; 256],
    characters: Vec<u8>,
    prepend: Vec<u32>,
    append: Vec<u32>,
}

fn special(token: SpecialToken) -> Option<u32> {
    Some(match token {
        SpecialToken::Cls => 0,
        SpecialToken::Sep | SpecialToken::Eos => 1,
        SpecialToken::Bos => 2,
        SpecialToken::Mask => 3,
        SpecialToken::Pad => PAD_ID,
        SpecialToken::Unk => UNK_ID,
    })
}

impl CharTokenizer {
    /// Builds the tokenizer; `characters` must be distinct ASCII characters.
    pub fn new(cfg: &CharConfig) -> Result<Self> {
        let characters = cfg.characters.as_bytes().to_vec();
        if !cfg.characters.is_ascii() {
            return Err(Error::InvalidConfig(
                "char: characters must be ascii".into(),
            ));
        }
        let mut lut = [UNK_ID; 256];
        lut[0x80..=0xBF].fill(SKIP);
        let mut seen = [false; 128];
        for (i, &c) in characters.iter().enumerate() {
            if seen[c as usize] {
                return Err(Error::InvalidConfig(format!(
                    "char: character {:?} appears twice",
                    c as char
                )));
            }
            seen[c as usize] = true;
            let id = if cfg.n_to_pad && c == b'N' {
                PAD_ID
            } else {
                7 + i as u32
            };
            lut[c as usize] = id;
        }
        if cfg.case == CasePolicy::Upper {
            for c in b'a'..=b'z' {
                lut[c as usize] = lut[c.to_ascii_uppercase() as usize];
            }
        }
        Ok(Self {
            lut,
            characters,
            prepend: resolve_specials(&cfg.prepend, "char", special)?,
            append: resolve_specials(&cfg.append, "char", special)?,
        })
    }

    /// Maps `input` to ids without special tokens, appending to `out`.
    pub fn encode_body(&self, input: &[u8], out: &mut Vec<u32>) {
        if input.is_ascii() {
            // A slice iterator mapped is TrustedLen: `extend` reserves once and writes without
            // per-element capacity checks, a tight table lookup (the >= 1 GB/s path).
            let lut = &self.lut;
            out.extend(input.iter().map(|&b| lut[b as usize]));
        } else {
            out.extend(
                input
                    .iter()
                    .map(|&b| self.lut[b as usize])
                    .filter(|&id| id != SKIP),
            );
        }
    }
}

impl Tokenizer for CharTokenizer {
    fn encode_into(&self, input: &[u8], out: &mut Vec<u32>) -> Result<()> {
        out.reserve(input.len() + self.prepend.len() + self.append.len());
        out.extend_from_slice(&self.prepend);
        self.encode_body(input, out);
        out.extend_from_slice(&self.append);
        Ok(())
    }

    fn id_to_token(&self, id: u32) -> Option<String> {
        match id {
            0..=6 => Some(SPECIALS[id as usize].to_string()),
            _ => self
                .characters
                .get(id as usize - 7)
                .map(|&c| (c as char).to_string()),
        }
    }

    fn vocab_size(&self) -> usize {
        7 + self.characters.len()
    }

    fn special_id(&self, token: SpecialToken) -> Option<u32> {
        special(token)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(case: CasePolicy, n_to_pad: bool) -> CharConfig {
        CharConfig {
            characters: "ACGTN".into(),
            case,
            n_to_pad,
            prepend: vec![],
            append: vec![SpecialToken::Sep],
        }
    }

    #[test]
    fn hyena_ids() {
        let t = CharTokenizer::new(&cfg(CasePolicy::AsIs, false)).unwrap();
        assert_eq!(
            t.encode(b"ACGTNacgn.").unwrap(),
            [7, 8, 9, 10, 11, 6, 6, 6, 6, 6, 1]
        );
        assert_eq!(t.vocab_size(), 12);
        assert_eq!(t.id_to_token(9).as_deref(), Some("G"));
        assert_eq!(t.id_to_token(4).as_deref(), Some("[PAD]"));
        assert_eq!(t.id_to_token(12), None);
        // One [UNK] per code point, as in Python.
        assert_eq!(t.encode("Aé€A".as_bytes()).unwrap(), [7, 6, 6, 7, 1]);
    }

    #[test]
    fn caduceus_upper_and_n_to_pad() {
        let t = CharTokenizer::new(&cfg(CasePolicy::Upper, true)).unwrap();
        assert_eq!(t.encode(b"aCgTnN").unwrap(), [7, 8, 9, 10, 4, 4, 1]);
    }
}
