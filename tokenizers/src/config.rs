//! Serialisable tokenizer configurations and their stable hash.
//!
//! A [`TokenizerConfig`] is a serde-tagged enum (`{"type": "char", ...}`) that fully determines the
//! ids a tokenizer produces, so it can be stored beside token shards and rebuilt by the loader.
//! [`TokenizerConfig::hash`] is the sha256 of its canonical JSON (object keys sorted, no whitespace).

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::tokenizer::Tokenizer;

/// A special token a profile may prepend or append to every encoded sequence.
///
/// Each model maps these to its own ids; asking for one the model lacks is
/// [`Error::MissingSpecial`] at build time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SpecialToken {
    /// Classification token (`[CLS]`, `<cls>`).
    Cls,
    /// Separator (`[SEP]`).
    Sep,
    /// Beginning of sequence (`[BOS]`, `<bos>`).
    Bos,
    /// End of sequence (`<eos>`; HyenaDNA's eos is `[SEP]`, Evo's is byte 0).
    Eos,
    /// Padding (`[PAD]`, `<pad>`).
    Pad,
    /// Mask for MLM (`[MASK]`, `<mask>`).
    Mask,
    /// Unknown (`[UNK]`, `<unk>`).
    Unk,
}

impl std::fmt::Display for SpecialToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = match self {
            Self::Cls => "cls",
            Self::Sep => "sep",
            Self::Bos => "bos",
            Self::Eos => "eos",
            Self::Pad => "pad",
            Self::Mask => "mask",
            Self::Unk => "unk",
        };
        f.write_str(s)
    }
}

/// What to do with lower-case (soft-masked) bases.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CasePolicy {
    /// Keep the case: lower-case bases are not in the vocabulary (HyenaDNA training → `[UNK]`).
    #[default]
    AsIs,
    /// Upper-case ASCII first (Caduceus's `CaduceusTokenizer`).
    Upper,
}

impl CasePolicy {
    /// Parses a policy name as written in a config (`as_is`, `upper`).
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "as_is" => Some(CasePolicy::AsIs),
            "upper" => Some(CasePolicy::Upper),
            _ => None,
        }
    }
}

/// What to do with a symbol (or k-mer) that is not in the vocabulary.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UnknownPolicy {
    /// Fail with [`Error::UnknownSymbol`] (Nucleotide Transformer raises).
    #[default]
    Error,
    /// Emit the unknown token.
    Unk,
}

/// Character tokenizer (HyenaDNA / Caduceus).
///
/// Vocabulary: `[CLS]0 [SEP]1 [BOS]2 [MASK]3 [PAD]4 [RESERVED]5 [UNK]6`, then one id per
/// character of `characters` from 7 (`ACGTN` → `A7 C8 G9 T10 N11`). Any other character is
/// `[UNK]`. `eos` maps to `[SEP]` as in HyenaDNA.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CharConfig {
    /// The ASCII characters that get ids, in order from 7.
    pub characters: String,
    /// Lower-case handling.
    pub case: CasePolicy,
    /// Replace the id of `N` by `[PAD]` (Caduceus; excludes N from the loss).
    #[serde(default)]
    pub n_to_pad: bool,
    /// Special tokens put before the sequence.
    #[serde(default)]
    pub prepend: Vec<SpecialToken>,
    /// Special tokens put after the sequence.
    #[serde(default)]
    pub append: Vec<SpecialToken>,
}

/// Which Nucleotide Transformer vocabulary layout a k-mer tokenizer uses.
///
/// Source: instadeepai/nucleotide-transformer, `nucleotide_transformer/tokenizers.py`
/// (`FixedSizeNucleotidesKmersTokenizer` for v1; `compute_tokens_to_ids_v2`, which
/// `pretrained.py` uses for every model whose name contains `v2`, and SegmentNT).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KmerVocab {
    /// NT v1 (500M/2B5 models): `<unk>0 <pad>1 <mask>2 <cls>3`, k-mers from 4, `A T C G N`,
    /// then `<eos> <bos>` last.
    #[default]
    V1,
    /// NT v2 (`*_v2` models, SegmentNT, codon models): `<unk>0 <pad>1 <mask>2 <cls>3 <eos>4
    /// <bos>5`, k-mers from 6, then `A T C G N`: every k-mer and nucleotide id 2 higher.
    V2,
}

impl KmerVocab {
    /// Whether this is the v1 layout (the default, left out of the stored config).
    pub fn is_v1(&self) -> bool {
        *self == Self::V1
    }
}

/// Non-overlapping k-mer tokenizer (Nucleotide Transformer).
///
/// Vocabulary (NT v1 order): `<unk>0 <pad>1 <mask>2 <cls>3`, the 4^k k-mers over `A T C G` in
/// lexicographic order of that alphabet, the single nucleotides `A T C G N`, then `<eos> <bos>`
/// (4,107 ids for k = 6); [`KmerVocab::V2`] moves `<eos> <bos>` to ids 4 and 5. Sequences are split at `N`; each piece is cut into k-mers from its start
/// and a tail shorter than k becomes single nucleotides; every `N` is its own token.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KmerConfig {
    /// k (1..=12).
    pub k: usize,
    /// Lower-case handling (NT itself has no lower case in its vocabulary).
    pub case: CasePolicy,
    /// Symbols outside `ACGTN` (after the case policy): NT raises.
    pub unknown: UnknownPolicy,
    /// Vocabulary layout (NT v1 or v2); absent in a stored config = v1.
    #[serde(default, skip_serializing_if = "KmerVocab::is_v1")]
    pub vocab: KmerVocab,
    /// Special tokens put before the sequence (NT prepends `cls`).
    #[serde(default)]
    pub prepend: Vec<SpecialToken>,
    /// Special tokens put after the sequence.
    #[serde(default)]
    pub append: Vec<SpecialToken>,
}

/// Byte tokenizer (Evo `CharLevelTokenizer`): id = byte value, case-sensitive.
///
/// `eos` is 0 and `pad` is 1 as in Evo; no other special tokens exist.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ByteConfig {
    /// Declared vocabulary size (Evo: 512); at least 256.
    pub vocab_size: u32,
    /// Special tokens put before the sequence.
    #[serde(default)]
    pub prepend: Vec<SpecialToken>,
    /// Special tokens put after the sequence.
    #[serde(default)]
    pub append: Vec<SpecialToken>,
}

/// A Hugging Face `tokenizer.json` (BPE, WordPiece, Unigram, ...), stored inline.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HfConfig {
    /// Whether to run the tokenizer's post-processor (its `[CLS] ... [SEP]` template etc.).
    #[serde(default)]
    pub add_special_tokens: bool,
    /// The whole `tokenizer.json` document.
    pub tokenizer: serde_json::Value,
}

impl HfConfig {
    /// Reads a `tokenizer.json` file.
    pub fn from_file(path: &std::path::Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Ok(Self {
            add_special_tokens: false,
            tokenizer: serde_json::from_str(&text)?,
        })
    }

    /// Writes the embedded `tokenizer.json` (pretty-printed) to `path`.
    pub fn write_tokenizer_json(&self, path: &std::path::Path) -> Result<()> {
        let text = serde_json::to_string_pretty(&self.tokenizer)?;
        std::fs::write(path, text).map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })
    }
}

/// A complete tokenizer configuration, serialised as `{"type": "<kind>", ...}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum TokenizerConfig {
    /// [`CharConfig`].
    Char(CharConfig),
    /// [`KmerConfig`].
    Kmer(KmerConfig),
    /// [`ByteConfig`].
    Byte(ByteConfig),
    /// [`HfConfig`] (needs the `hf` feature to build).
    Hf(HfConfig),
}

impl TokenizerConfig {
    /// The model kind: `char`, `kmer`, `byte` or `hf`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Char(_) => "char",
            Self::Kmer(_) => "kmer",
            Self::Byte(_) => "byte",
            Self::Hf(_) => "hf",
        }
    }

    /// Builds the tokenizer this config describes.
    pub fn build(&self) -> Result<Box<dyn Tokenizer>> {
        Ok(match self {
            Self::Char(c) => Box::new(crate::models::char::CharTokenizer::new(c)?),
            Self::Kmer(c) => Box::new(crate::models::kmer::KmerTokenizer::new(c)?),
            Self::Byte(c) => Box::new(crate::models::byte::ByteTokenizer::new(c)?),
            #[cfg(feature = "hf")]
            Self::Hf(c) => Box::new(crate::models::hf::HfTokenizer::new(c)?),
            #[cfg(not(feature = "hf"))]
            Self::Hf(_) => return Err(Error::HfDisabled),
        })
    }

    /// The canonical JSON: object keys sorted, no insignificant whitespace.
    pub fn canonical_json(&self) -> Result<String> {
        let value = serde_json::to_value(self)?;
        let mut out = String::new();
        write_canonical(&value, &mut out)?;
        Ok(out)
    }

    /// The lower-case policy of a DNA tokenizer (character or k-mer); `None` for the others.
    pub fn case(&self) -> Option<CasePolicy> {
        match self {
            TokenizerConfig::Char(c) => Some(c.case),
            TokenizerConfig::Kmer(k) => Some(k.case),
            _ => None,
        }
    }

    /// Sets the lower-case policy; `false` (nothing changed) for a tokenizer without one.
    pub fn set_case(&mut self, case: CasePolicy) -> bool {
        match self {
            TokenizerConfig::Char(c) => c.case = case,
            TokenizerConfig::Kmer(k) => k.case = case,
            _ => return false,
        }
        true
    }

    /// Stable identity of the config: lower-case hex sha256 of [`Self::canonical_json`].
    pub fn hash(&self) -> Result<String> {
        let json = self.canonical_json()?;
        Ok(hex::encode(Sha256::digest(json.as_bytes())))
    }

    /// The reference stored beside token shards (`manifest.tokenizer`):
    /// `{"id": id, "config_hash": ..., "config": {...}}`.
    pub fn reference(&self, id: &str) -> Result<serde_json::Value> {
        Ok(serde_json::json!({
            "id": id,
            "config_hash": self.hash()?,
            "config": serde_json::to_value(self)?,
        }))
    }
}

fn write_canonical(value: &serde_json::Value, out: &mut String) -> Result<()> {
    use serde_json::Value;
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&serde_json::to_string(k)?);
                out.push(':');
                if let Some(v) = map.get(k) {
                    write_canonical(v, out)?;
                }
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(v, out)?;
            }
            out.push(']');
        }
        other => out.push_str(&serde_json::to_string(other)?),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tagged_roundtrip_and_stable_hash() {
        let cfg = TokenizerConfig::Kmer(KmerConfig {
            k: 6,
            case: CasePolicy::AsIs,
            unknown: UnknownPolicy::Error,
            vocab: KmerVocab::V1,
            prepend: vec![SpecialToken::Cls],
            append: vec![],
        });
        let json = serde_json::to_string(&cfg).unwrap();
        assert!(json.starts_with(r#"{"type":"kmer""#), "{json}");
        let back: TokenizerConfig = serde_json::from_str(&json).unwrap();
        assert_eq!(back, cfg);
        assert_eq!(
            cfg.canonical_json().unwrap(),
            r#"{"append":[],"case":"as_is","k":6,"prepend":["cls"],"type":"kmer","unknown":"error"}"#
        );
        // Key order of the stored document does not change the hash.
        let shuffled = r#"{"unknown":"error","k":6,"type":"kmer","prepend":["cls"],"case":"as_is","append":[]}"#;
        let again: TokenizerConfig = serde_json::from_str(shuffled).unwrap();
        assert_eq!(again.hash().unwrap(), cfg.hash().unwrap());
        assert_eq!(cfg.hash().unwrap().len(), 64);
    }
}
