//! Evo byte tokenizer: id = UTF-8 byte (`CharLevelTokenizer.tokenize`), case-sensitive.

use crate::config::{ByteConfig, SpecialToken};
use crate::error::{Error, Result};
use crate::tokenizer::{Tokenizer, resolve_specials};

/// The built byte tokenizer.
#[derive(Clone, Debug)]
pub struct ByteTokenizer {
    vocab_size: u32,
    prepend: Vec<u32>,
    append: Vec<u32>,
}

fn special(token: SpecialToken) -> Option<u32> {
    match token {
        SpecialToken::Eos => Some(0),
        SpecialToken::Pad => Some(1),
        _ => None,
    }
}

impl ByteTokenizer {
    /// Builds the tokenizer; `vocab_size` must be at least 256.
    pub fn new(cfg: &ByteConfig) -> Result<Self> {
        if cfg.vocab_size < 256 {
            return Err(Error::InvalidConfig(format!(
                "byte: vocab_size {} is below 256",
                cfg.vocab_size
            )));
        }
        Ok(Self {
            vocab_size: cfg.vocab_size,
            prepend: resolve_specials(&cfg.prepend, "byte", special)?,
            append: resolve_specials(&cfg.append, "byte", special)?,
        })
    }
}

impl Tokenizer for ByteTokenizer {
    fn encode_into(&self, input: &[u8], out: &mut Vec<u32>) -> Result<()> {
        out.reserve(input.len() + self.prepend.len() + self.append.len());
        out.extend_from_slice(&self.prepend);
        out.extend(input.iter().map(|&b| u32::from(b)));
        out.extend_from_slice(&self.append);
        Ok(())
    }

    fn id_to_token(&self, id: u32) -> Option<String> {
        match id {
            0..=255 => Some(
                u8::try_from(id)
                    .ok()
                    .map(|b| {
                        if b.is_ascii_graphic() || b == b' ' {
                            (b as char).to_string()
                        } else {
                            format!("<0x{b:02X}>")
                        }
                    })
                    .unwrap_or_default(),
            ),
            _ if id < self.vocab_size => Some(format!("<{id}>")),
            _ => None,
        }
    }

    fn vocab_size(&self) -> usize {
        self.vocab_size as usize
    }

    fn special_id(&self, token: SpecialToken) -> Option<u32> {
        special(token)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_sensitive_bytes() {
        let t = ByteTokenizer::new(&ByteConfig {
            vocab_size: 512,
            prepend: vec![],
            append: vec![SpecialToken::Eos],
        })
        .unwrap();
        assert_eq!(t.encode(b"Aa").unwrap(), [65, 97, 0]);
        assert_eq!(t.vocab_size(), 512);
        assert!(
            ByteTokenizer::new(&ByteConfig {
                vocab_size: 512,
                prepend: vec![SpecialToken::Cls],
                append: vec![],
            })
            .is_err()
        );
    }
}
