//! The token options of `bomdata shard --tokens` and `bomdata ingest --tokens` (one set of
//! flags, one meaning).

use std::path::Path;

use anyhow::{Context, bail};
use bomdata_profiles::tokens::TokenOptions;
use bomdata_tokenizers::pack::{Overflow, PadSide};
use bomdata_tokenizers::{CasePolicy, PackMode, TokenizerConfig, builtin};

/// `--tokens TOKENIZER` and the options that go with it.
#[derive(clap::Args, Debug, Clone)]
pub struct TokenArgs {
    /// Write token shards instead of a profile's samples: a built-in tokenizer (hyena-char,
    /// caduceus-pretrain, caduceus-char, nt-6mer-v1, nt-6mer-v2, evo-byte), a HF tokenizer.json
    /// or a bomdata tokenizer config.
    /// Shards then roll over by --tokens-per-shard (--max-shard-samples is not used).
    #[arg(long, value_name = "TOKENIZER")]
    pub tokens: Option<String>,
    /// Member to tokenize: `<field>.<ext>` or a field (`<field>.txt`, else `<field>.npy` of
    /// uint8). Default: seq.txt, seq.npy, text.txt, else the sample's only .txt member.
    #[arg(long, value_name = "FIELD", requires = "tokens")]
    pub tokens_field: Option<String>,
    /// Tokens per training sequence.
    #[arg(long, default_value_t = 1024, requires = "tokens")]
    pub seq_len: usize,
    /// Concatenate documents into sequences, boundaries kept in doc_offsets (the default).
    #[arg(long, conflicts_with = "pad", requires = "tokens")]
    pub pack: bool,
    /// One document per sequence, padded (a longer document continues in the next sequences).
    #[arg(long, requires = "tokens")]
    pub pad: bool,
    /// With --pad: keep only the first --seq-len tokens of a longer document.
    #[arg(long, requires = "pad")]
    pub truncate: bool,
    /// Padding side: right or left.
    #[arg(long, default_value = "right", value_parser = ["right", "left"], requires = "tokens")]
    pub pad_side: String,
    /// Padding id (default: the tokenizer's pad token).
    #[arg(long, requires = "tokens")]
    pub pad_id: Option<u32>,
    /// Token ids per shard, padding included (at least one sequence per shard).
    #[arg(long, default_value_t = 1 << 26, requires = "tokens")]
    pub tokens_per_shard: u64,
    /// Tokenizer id recorded in the manifest (default: the built-in name, or the name of the
    /// tokenizer file's folder or file).
    #[arg(long, requires = "tokens")]
    pub tokenizer_id: Option<String>,
    /// For a tokenizer.json: run its post-processor (adds e.g. `[CLS]`/`[SEP]`).
    #[arg(long, requires = "tokens")]
    pub add_special_tokens: bool,
}

/// The manifest id of a tokenizer given by name or path: the built-in name; for a file, its
/// stem, or its folder's name when the file is `tokenizer.json`/`config.json`.
fn tokenizer_id(spec: &str) -> String {
    if builtin::builtin(spec).is_some() {
        return spec.to_string();
    }
    let p = Path::new(spec);
    let stem = p.file_stem().map(|s| s.to_string_lossy().into_owned());
    let folder = p
        .parent()
        .and_then(Path::file_name)
        .map(|s| s.to_string_lossy().into_owned());
    match (stem, folder) {
        (Some(s), Some(f)) if s == "tokenizer" || s == "config" => f,
        (Some(s), _) => s,
        _ => spec.to_string(),
    }
}

/// The [`TokenOptions`] of `--tokens SPEC` and its options; `params` are the `--param`
/// values (only `case=as_is|upper`).
pub fn token_options(a: &TokenArgs, params: &[String], spec: &str) -> anyhow::Result<TokenOptions> {
    let mut tokenizer =
        builtin::resolve(spec).with_context(|| format!("loading tokenizer {spec}"))?;
    // The one parameter of a token build: the lower-case policy of a DNA tokenizer.
    for (k, v) in super::shard::parse_params(params)? {
        let policy = v.as_str().and_then(CasePolicy::parse);
        match (k.as_str(), policy) {
            ("case", Some(p)) => {
                if !tokenizer.set_case(p) {
                    bail!("--param case: tokenizer {spec} has no lower-case policy");
                }
            }
            ("case", None) => bail!("--param case={v}: as_is or upper expected"),
            _ => bail!("--tokens takes only --param case=as_is|upper (got {k:?})"),
        }
    }
    if let TokenizerConfig::Hf(hf) = &mut tokenizer {
        hf.add_special_tokens |= a.add_special_tokens;
    } else if a.add_special_tokens {
        bail!("--add-special-tokens applies to a tokenizer.json only");
    }
    if a.seq_len == 0 || u32::try_from(a.seq_len).is_err() {
        bail!("--seq-len {} must be in 1..=4294967295", a.seq_len);
    }
    Ok(TokenOptions {
        tokenizer,
        tokenizer_id: a.tokenizer_id.clone().unwrap_or_else(|| tokenizer_id(spec)),
        field: a.tokens_field.clone(),
        seq_len: a.seq_len,
        mode: if a.pad { PackMode::Pad } else { PackMode::Pack },
        pad_side: if a.pad_side == "left" {
            PadSide::Left
        } else {
            PadSide::Right
        },
        overflow: if a.truncate {
            Overflow::Truncate
        } else {
            Overflow::Split
        },
        pad_id: a.pad_id,
        tokens_per_shard: a.tokens_per_shard,
    })
}
