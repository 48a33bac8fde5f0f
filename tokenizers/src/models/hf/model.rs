//! The HF model: a loaded `tokenizer.json`.
//!
//! Ids equal Python `tokenizers.Tokenizer.from_file(path).encode(text, add_special_tokens).ids`
//! for the same file and library version (0.22).

use std::str::FromStr;

use crate::config::{HfConfig, SpecialToken};
use crate::error::{Error, Result};
use crate::tokenizer::Tokenizer;

/// A loaded HF tokenizer.
pub struct HfTokenizer {
    inner: tokenizers::Tokenizer,
    add_special_tokens: bool,
}

impl std::fmt::Debug for HfTokenizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HfTokenizer")
            .field("vocab_size", &self.inner.get_vocab_size(true))
            .field("add_special_tokens", &self.add_special_tokens)
            .finish()
    }
}

impl HfTokenizer {
    /// Builds the tokenizer from the embedded `tokenizer.json`.
    pub fn new(cfg: &HfConfig) -> Result<Self> {
        let text = serde_json::to_string(&cfg.tokenizer)?;
        let inner = tokenizers::Tokenizer::from_str(&text).map_err(Error::Hf)?;
        Ok(Self {
            inner,
            add_special_tokens: cfg.add_special_tokens,
        })
    }

    /// The underlying HF tokenizer.
    pub fn inner(&self) -> &tokenizers::Tokenizer {
        &self.inner
    }
}

fn utf8(input: &[u8]) -> Result<&str> {
    std::str::from_utf8(input).map_err(|e| Error::InvalidUtf8 {
        offset: e.valid_up_to(),
    })
}

fn candidates(token: SpecialToken) -> &'static [&'static str] {
    match token {
        SpecialToken::Cls => &["[CLS]", "<cls>", "<s>"],
        SpecialToken::Sep => &["[SEP]", "<sep>", "</s>"],
        SpecialToken::Bos => &["[BOS]", "<bos>", "<s>", "<|begin_of_text|>"],
        SpecialToken::Eos => &["[EOS]", "<eos>", "</s>", "<|endoftext|>", "<|end_of_text|>"],
        SpecialToken::Pad => &["[PAD]", "<pad>", "<|pad|>"],
        SpecialToken::Mask => &["[MASK]", "<mask>"],
        SpecialToken::Unk => &["[UNK]", "<unk>"],
    }
}

impl Tokenizer for HfTokenizer {
    fn encode_into(&self, input: &[u8], out: &mut Vec<u32>) -> Result<()> {
        let enc = self
            .inner
            .encode_fast(utf8(input)?, self.add_special_tokens)
            .map_err(Error::Hf)?;
        out.extend_from_slice(enc.get_ids());
        Ok(())
    }

    fn encode_with_tokens(&self, input: &[u8]) -> Result<(Vec<u32>, Vec<String>)> {
        let enc = self
            .inner
            .encode(utf8(input)?, self.add_special_tokens)
            .map_err(Error::Hf)?;
        Ok((enc.get_ids().to_vec(), enc.get_tokens().to_vec()))
    }

    fn id_to_token(&self, id: u32) -> Option<String> {
        self.inner.id_to_token(id)
    }

    fn vocab_size(&self) -> usize {
        // Added tokens may sit above the model's vocabulary; the dtype must cover them.
        let n = self.inner.get_vocab_size(true);
        let max_id = self.inner.get_vocab(true).values().copied().max();
        max_id.map_or(n, |m| n.max(m as usize + 1))
    }

    fn special_id(&self, token: SpecialToken) -> Option<u32> {
        if token == SpecialToken::Pad
            && let Some(p) = self.inner.get_padding()
        {
            return Some(p.pad_id);
        }
        candidates(token)
            .iter()
            .find_map(|s| self.inner.token_to_id(s))
    }
}
