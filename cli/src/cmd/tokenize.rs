//! `bomdata tokenize`: try a tokenizer on a string or a file.
//!
//! `bomdata tokenize --tokenizer NAME (--text STRING | --file PATH) [--json]` prints one
//! `id<TAB>token` line per token, or `{"ids": [...], "tokens": [...]}` with `--json`. NAME is a
//! built-in (`hyena-char`, `caduceus-pretrain`, `caduceus-char`, `nt-6mer-v1`, `nt-6mer-v2`,
//! `evo-byte`; the retired `nt-6mer` is an error listing the NT variants), a path to a HF
//! `tokenizer.json`, or a path to a stored bomdata tokenizer config (`{"type": ...}`).

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use bomdata_tokenizers::{TokenizerConfig, builtin};

/// Arguments of `bomdata tokenize`.
#[derive(Debug, Clone, clap::Args)]
pub struct TokenizeArgs {
    /// Built-in name (hyena-char, caduceus-pretrain, caduceus-char, nt-6mer-v1, nt-6mer-v2,
    /// evo-byte) or a path to a tokenizer.json or a bomdata tokenizer config.
    #[arg(long, value_name = "NAME")]
    pub tokenizer: String,
    /// The input text.
    #[arg(
        long,
        value_name = "STRING",
        conflicts_with = "file",
        required_unless_present = "file"
    )]
    pub text: Option<String>,
    /// A file whose bytes are the input, as they are (newlines included).
    #[arg(long, value_name = "PATH")]
    pub file: Option<PathBuf>,
    /// Print `{"ids": [...], "tokens": [...]}`.
    #[arg(long)]
    pub json: bool,
    /// For a tokenizer.json: run its post-processor (adds e.g. `[CLS]`/`[SEP]`).
    #[arg(long)]
    pub add_special_tokens: bool,
}

/// Runs `bomdata tokenize`, printing to stdout.
pub fn run(args: &TokenizeArgs) -> anyhow::Result<()> {
    let mut cfg = builtin::resolve(&args.tokenizer)
        .with_context(|| format!("loading tokenizer {}", args.tokenizer))?;
    if let TokenizerConfig::Hf(hf) = &mut cfg {
        hf.add_special_tokens |= args.add_special_tokens;
    }
    let tokenizer = cfg
        .build()
        .with_context(|| format!("building tokenizer {}", args.tokenizer))?;
    let input = match (&args.text, &args.file) {
        (Some(text), _) => text.as_bytes().to_vec(),
        (None, Some(path)) => {
            std::fs::read(path).with_context(|| format!("reading {}", path.display()))?
        }
        (None, None) => anyhow::bail!("give --text or --file"),
    };
    let (ids, tokens) = tokenizer
        .encode_with_tokens(&input)
        .with_context(|| format!("tokenizing with {}", args.tokenizer))?;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    if args.json {
        serde_json::to_writer(
            &mut out,
            &serde_json::json!({ "ids": ids, "tokens": tokens }),
        )?;
        writeln!(out)?;
    } else {
        for (id, token) in ids.iter().zip(&tokens) {
            writeln!(out, "{id}\t{token}")?;
        }
    }
    out.flush()?;
    Ok(())
}
