//! Named tokenizer profiles and name-or-path resolution.

use std::path::Path;

use crate::config::{
    ByteConfig, CasePolicy, CharConfig, HfConfig, KmerConfig, SpecialToken, TokenizerConfig,
    UnknownPolicy,
};
use crate::error::{Error, Result};

/// The built-in profile names.
pub const BUILTIN_NAMES: [&str; 4] = ["hyena-char", "caduceus-char", "nt-6mer", "evo-byte"];

/// A built-in profile by name.
///
/// * `hyena-char`: HyenaDNA training tokenizer: `ACGTN`, lower case → `[UNK]`, `[SEP]` appended
///   (its `add_eos`).
/// * `caduceus-char`: Caduceus pre-training: same ids, upper-cased, `N` → `[PAD]`, `[SEP]`
///   appended (`CaduceusTokenizer.build_inputs_with_special_tokens`).
/// * `nt-6mer`: Nucleotide Transformer: 6-mers, `<cls>` prepended, error on symbols outside
///   `ACGTN` (lower case included), as NT raises.
/// * `evo-byte`: Evo: bytes, vocabulary 512, no special tokens added.
pub fn builtin(name: &str) -> Option<TokenizerConfig> {
    Some(match name {
        "hyena-char" => TokenizerConfig::Char(CharConfig {
            characters: "ACGTN".into(),
            case: CasePolicy::AsIs,
            n_to_pad: false,
            prepend: vec![],
            append: vec![SpecialToken::Sep],
        }),
        "caduceus-char" => TokenizerConfig::Char(CharConfig {
            characters: "ACGTN".into(),
            case: CasePolicy::Upper,
            n_to_pad: true,
            prepend: vec![],
            append: vec![SpecialToken::Sep],
        }),
        "nt-6mer" => TokenizerConfig::Kmer(KmerConfig {
            k: 6,
            case: CasePolicy::AsIs,
            unknown: UnknownPolicy::Error,
            prepend: vec![SpecialToken::Cls],
            append: vec![],
        }),
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
}
