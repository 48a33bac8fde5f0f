//! BPE training on DNA with the HF trainer.

use tokenizers::models::bpe::{BPE, BpeTrainerBuilder};
use tokenizers::normalizers::{Replace, Sequence};
use tokenizers::processors::template::TemplateProcessing;
use tokenizers::{
    AddedToken, DecoderWrapper, NormalizerWrapper, PostProcessorWrapper, PreTokenizerWrapper,
    TokenizerImpl,
};

use crate::config::HfConfig;
use crate::error::{Error, Result};

/// Settings for [`train_dna_bpe`].
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct BpeTrainConfig {
    /// Target vocabulary size, special tokens included (DNABERT-2: 4096).
    pub vocab_size: usize,
    /// Minimum pair frequency for a merge.
    pub min_frequency: u64,
    /// Special tokens, given ids 0.. in this order; `[UNK]` among them becomes the BPE unk.
    pub special_tokens: Vec<String>,
    /// Training sequences are cut into pieces of this many bases (BPE words).
    pub chunk_len: usize,
    /// Upper-case `acgtn` before training and, through a normalizer stored in the
    /// `tokenizer.json`, before applying (soft-masking ignored).
    pub upper_case: bool,
    /// Add a `[CLS] $A [SEP]` post-processor (needs both among `special_tokens`).
    pub cls_sep_template: bool,
}

impl Default for BpeTrainConfig {
    fn default() -> Self {
        Self {
            vocab_size: 4096,
            min_frequency: 2,
            special_tokens: ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
                .map(String::from)
                .to_vec(),
            chunk_len: 1000,
            upper_case: true,
            cls_sep_template: true,
        }
    }
}

type BpeImpl = TokenizerImpl<
    BPE,
    NormalizerWrapper,
    PreTokenizerWrapper,
    PostProcessorWrapper,
    DecoderWrapper,
>;

/// Trains a BPE model on DNA sequences and returns it as a `tokenizer.json` config.
///
/// Each sequence is cut into `chunk_len` pieces, each one BPE word (no pre-tokenizer, no
/// normalizer), so applying the tokenizer to a sequence runs BPE over the whole input. The
/// resulting JSON loads in Python `tokenizers` 0.22 and gives the same ids.
pub fn train_dna_bpe<I, S>(sequences: I, cfg: &BpeTrainConfig) -> Result<HfConfig>
where
    I: IntoIterator<Item = S>,
    S: AsRef<[u8]>,
{
    if cfg.chunk_len == 0 {
        return Err(Error::InvalidConfig("bpe: chunk_len is 0".into()));
    }
    let mut chunks: Vec<String> = Vec::new();
    for (index, seq) in sequences.into_iter().enumerate() {
        let seq = seq.as_ref();
        let text = std::str::from_utf8(seq).map_err(|e| {
            Error::InvalidConfig(format!(
                "bpe: training sequence {index} is not utf-8 at byte {}",
                e.valid_up_to()
            ))
        })?;
        // The normalizer upper-cases during training too.
        let mut rest = text;
        while !rest.is_empty() {
            let mut cut = cfg.chunk_len.min(rest.len());
            while !rest.is_char_boundary(cut) {
                cut += 1;
            }
            let (head, tail) = rest.split_at(cut);
            chunks.push(head.to_string());
            rest = tail;
        }
    }
    let mut trainer = BpeTrainerBuilder::new()
        .vocab_size(cfg.vocab_size)
        .min_frequency(cfg.min_frequency)
        .show_progress(false)
        .special_tokens(
            cfg.special_tokens
                .iter()
                .map(|s| AddedToken::from(s.clone(), true))
                .collect(),
        )
        .build();
    let mut model = BPE::builder();
    if cfg.special_tokens.iter().any(|s| s == "[UNK]") {
        model = model.unk_token("[UNK]".to_string());
    }
    let model = model.build().map_err(Error::Hf)?;
    let mut tk: BpeImpl = TokenizerImpl::new(model);
    if cfg.upper_case {
        let rules = ["a", "c", "g", "t", "n"]
            .into_iter()
            .map(|c| {
                Replace::new(c, c.to_ascii_uppercase())
                    .map(NormalizerWrapper::from)
                    .map_err(Error::Hf)
            })
            .collect::<Result<Vec<_>>>()?;
        tk.with_normalizer(Some(Sequence::new(rules)));
    }
    tk.train(&mut trainer, chunks.into_iter())
        .map_err(Error::Hf)?;
    if cfg.cls_sep_template {
        let id = |s: &str| {
            tk.token_to_id(s).ok_or_else(|| {
                Error::InvalidConfig(format!("bpe: cls_sep_template needs special token {s}"))
            })
        };
        let (cls, sep) = (id("[CLS]")?, id("[SEP]")?);
        let template = TemplateProcessing::builder()
            .try_single("[CLS] $A [SEP]")
            .map_err(|e| Error::InvalidConfig(format!("bpe: template: {e}")))?
            .special_tokens(vec![("[CLS]", cls), ("[SEP]", sep)])
            .build()
            .map_err(|e| Error::Hf(Box::new(e)))?;
        tk.with_post_processor(Some(template));
    }
    let json = tk.to_string(false).map_err(Error::Hf)?;
    Ok(HfConfig {
        add_special_tokens: cfg.cls_sep_template,
        tokenizer: serde_json::from_str(&json)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::SpecialToken;
    use crate::models::hf::HfTokenizer;
    use crate::tokenizer::Tokenizer;

    #[test]
    fn train_and_apply() {
        let seqs = ["ACGTACGTACGTTTGACAACGTACGT", "acgtacgtnnACGTTTGA"];
        let cfg = BpeTrainConfig {
            vocab_size: 30,
            min_frequency: 1,
            ..BpeTrainConfig::default()
        };
        let hf = train_dna_bpe(seqs, &cfg).unwrap();
        let t = HfTokenizer::new(&hf).unwrap();
        let ids = t.encode(b"ACGTACGT").unwrap();
        assert_eq!(ids.first(), t.special_id(SpecialToken::Cls).as_ref());
        assert_eq!(ids.last(), t.special_id(SpecialToken::Sep).as_ref());
        assert!(ids.len() < 10, "{ids:?}");
        assert!(t.vocab_size() <= 30);
        assert!(matches!(
            t.encode(b"\xff"),
            Err(Error::InvalidUtf8 { offset: 0 })
        ));
    }
}
