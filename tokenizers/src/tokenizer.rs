//! The [`Tokenizer`] trait every model implements.

use crate::config::SpecialToken;
use crate::error::Result;

/// A built tokenizer: bytes in, token ids out.
///
/// DNA tokenizers take any bytes; text tokenizers ([`crate::models::hf`]) require UTF-8.
pub trait Tokenizer: Send + Sync {
    /// Appends the ids of `input` (with the configured special tokens) to `out`.
    ///
    /// `out` is not cleared, so one buffer can collect many documents.
    fn encode_into(&self, input: &[u8], out: &mut Vec<u32>) -> Result<()>;

    /// The ids of `input`, with the configured special tokens.
    fn encode(&self, input: &[u8]) -> Result<Vec<u32>> {
        let mut out = Vec::with_capacity(input.len() + 2);
        self.encode_into(input, &mut out)?;
        Ok(out)
    }

    /// The ids of `input` and their string forms (for display).
    ///
    /// The default uses [`Self::id_to_token`]; HF models give the token text of the
    /// `Encoding`, which differs for unknown pieces (the input text rather than `<unk>`).
    fn encode_with_tokens(&self, input: &[u8]) -> Result<(Vec<u32>, Vec<String>)> {
        let ids = self.encode(input)?;
        let tokens = ids
            .iter()
            .map(|&id| self.id_to_token(id).unwrap_or_else(|| format!("<{id}>")))
            .collect();
        Ok((ids, tokens))
    }

    /// The string form of `id`, if it is in the vocabulary.
    fn id_to_token(&self, id: u32) -> Option<String>;

    /// Number of ids (one more than the largest id); decides the storage dtype.
    fn vocab_size(&self) -> usize;

    /// The id of a special token, if the vocabulary has it.
    fn special_id(&self, token: SpecialToken) -> Option<u32>;
}

/// Resolves a list of special tokens to ids, failing on one the model lacks.
pub(crate) fn resolve_specials(
    tokens: &[SpecialToken],
    model: &'static str,
    lookup: impl Fn(SpecialToken) -> Option<u32>,
) -> Result<Vec<u32>> {
    tokens
        .iter()
        .map(|&t| lookup(t).ok_or(crate::error::Error::MissingSpecial { token: t, model }))
        .collect()
}
