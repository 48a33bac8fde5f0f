//! Named tokenizer profiles and name-or-path resolution.

use std::path::Path;

use crate::config::{
    ByteConfig, CasePolicy, CharConfig, HfConfig, KmerConfig, KmerVocab, SpecialToken,
    TokenizerConfig, UnknownPolicy,
};
use crate::error::{Error, Result};

/// The built-in profile names.
pub const BUILTIN_NAMES: [&str; 6] = [
    "hyena-char",
    "caduceus-pretrain",
    "caduceus-char",
    "nt-6mer-v1",
    "nt-6mer-v2",
    "evo-byte",
];

/// Retired names that stand for several variants, with the variants (for the error).
const AMBIGUOUS: [(&str, &[&str]); 1] = [(
    "nt-6mer",
    &[
        "nt-6mer-v1 (NT v1 vocabulary: the 500M and 2B5 models)",
        "nt-6mer-v2 (NT v2 vocabulary, ids 2 higher: the *_v2 models, SegmentNT, codon models)",
    ],
)];

fn kmer6(vocab: KmerVocab) -> TokenizerConfig {
    TokenizerConfig::Kmer(KmerConfig {
        k: 6,
        case: CasePolicy::AsIs,
        unknown: UnknownPolicy::Error,
        vocab,
        prepend: vec![SpecialToken::Cls],
        append: vec![],
    })
}

/// A built-in profile by name.
///
/// * `hyena-char`: HyenaDNA training tokenizer: `ACGTN`, lower case → `[UNK]`, `[SEP]` appended
///   (its `add_eos`).
/// * `caduceus-pretrain`: the Caduceus pre-training pipeline: same ids, upper-cased, `N` →
///   `[PAD]`, `[SEP]` appended (`CaduceusTokenizer.build_inputs_with_special_tokens`).
/// * `caduceus-char`: the `CharacterTokenizer` of Caduceus's downstream loaders (HyenaDNA's):
///   no upper-casing (lower case → `[UNK]`), `N` keeps its id, `[SEP]` appended.
/// * `nt-6mer-v1`: Nucleotide Transformer v1 vocabulary (500M/2B5 models): 6-mers, `<cls>`
///   prepended, error on symbols outside `ACGTN` (lower case included), as NT raises.
/// * `nt-6mer-v2`: the same with the v2 vocabulary (`*_v2` models, SegmentNT, codon models;
///   see [`KmerVocab::V2`]).
/// * `evo-byte`: Evo: bytes, vocabulary 512, no special tokens added.
///
/// The retired `nt-6mer` is not a built-in: [`resolve`] refuses it and lists the variants.
pub fn builtin(name: &str) -> Option<TokenizerConfig> {
    let hyena_like = |case, n_to_pad| {
        TokenizerConfig::Char(CharConfig {
            characters: "ACGTN".into(),
            case,
            n_to_pad,
            prepend: vec![],
            append: vec![SpecialToken::Sep],
        })
    };
    Some(match name {
        "hyena-char" | "caduceus-char" => hyena_like(CasePolicy::AsIs, false),
        "caduceus-pretrain" => hyena_like(CasePolicy::Upper, true),
        "nt-6mer-v1" => kmer6(KmerVocab::V1),
        "nt-6mer-v2" => kmer6(KmerVocab::V2),
        "evo-byte" => TokenizerConfig::Byte(ByteConfig {
            vocab_size: 512,
            prepend: vec![],
            append: vec![],
        }),
        _ => return None,
    })
}

/// A built-in name, or a path to either a HF `tokenizer.json` or a stored bomdata config
/// (`{"type": "char", ...}`).
pub fn resolve(name_or_path: &str) -> Result<TokenizerConfig> {
    if let Some(cfg) = builtin(name_or_path) {
        return Ok(cfg);
    }
    let path = Path::new(name_or_path);
    if let Some((name, variants)) = AMBIGUOUS.iter().find(|(n, _)| *n == name_or_path)
        && !path.is_file()
    {
        return Err(Error::AmbiguousName {
            name: (*name).to_string(),
            variants,
        });
    }
    if !path.is_file() {
        return Err(Error::UnknownName(name_or_path.to_string()));
    }
    let hf = HfConfig::from_file(path)?;
    let is_bomdata = hf
        .tokenizer
        .get("type")
        .and_then(|t| t.as_str())
        .is_some_and(|t| ["char", "kmer", "byte", "hf"].contains(&t));
    if is_bomdata {
        Ok(serde_json::from_value(hf.tokenizer)?)
    } else {
        Ok(TokenizerConfig::Hf(hf))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_builtins_build() {
        for name in BUILTIN_NAMES {
            let cfg = builtin(name).unwrap();
            cfg.build().unwrap();
            assert_eq!(resolve(name).unwrap(), cfg);
        }
        assert!(matches!(resolve("no-such"), Err(Error::UnknownName(_))));
    }

    /// Issue 20 item 6: the NT vocabularies and the two Caduceus pipelines are named apart;
    /// the plain `nt-6mer` is an error that lists the variants.
    #[test]
    fn variants_are_named_apart() {
        let e = resolve("nt-6mer").unwrap_err().to_string();
        assert!(e.contains("nt-6mer-v1") && e.contains("nt-6mer-v2"), "{e}");
        assert!(builtin("caduceus-char").is_some());
        let enc = |name: &str, s: &[u8]| builtin(name).unwrap().build().unwrap().encode(s).unwrap();
        // v1: <cls>3, k-mers from 4 (AAAAAA 4), then A T C G N; v2: <eos>4 <bos>5 first, so
        // every k-mer and nucleotide id is 2 higher.
        assert_eq!(enc("nt-6mer-v1", b"AAAAAAN"), [3, 4, 4 + 4096 + 4]);
        assert_eq!(enc("nt-6mer-v2", b"AAAAAAN"), [3, 6, 6 + 4096 + 4]);
        // Caduceus pre-training upper-cases and pads N; the downstream CharacterTokenizer
        // does neither (lower case is [UNK] 6, N is 11).
        assert_eq!(enc("caduceus-pretrain", b"aN"), [7, 4, 1]);
        assert_eq!(enc("caduceus-char", b"aN"), [6, 11, 1]);
    }
}
