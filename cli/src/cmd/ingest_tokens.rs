//! `bomdata ingest <genome source> --tokens TOKENIZER`: token samples straight from the FASTA,
//! without the canonical copy (see `bomdata_profiles::tokens::direct` for what is written and
//! how it differs from `bomdata ingest` + `bomdata shard --tokens`).

use std::sync::Arc;

use anyhow::{Context, bail};
use bomdata_ingest::transform::{InputCheck, SampleTransform, Transform, Transformed};
use bomdata_profiles::tokens::direct::{DirectTokens, LowercaseTally};
use bomdata_schemas::manifest::ProfileRecord;
use bomdata_shard::Sample;

use super::token_args::{TokenArgs, token_options};

/// The adapters whose samples the direct token path takes (DNA window blocks).
const TOKEN_ADAPTERS: [&str; 1] = ["genome"];

/// The direct token path as an ingest transform.
struct TokensTransform(DirectTokens);

impl SampleTransform for TokensTransform {
    fn record(&self) -> ProfileRecord {
        self.0.record()
    }

    fn tokenizer(&self) -> Option<serde_json::Value> {
        // Checked in `transform` (the same call), so `None` never hides an error here.
        self.0.reference().ok()
    }

    fn write_files(&self, out: &std::path::Path) -> bomdata_ingest::Result<()> {
        self.0
            .write_files(out)
            .map_err(|e| bomdata_ingest::Error::Transform {
                profile: "tokens".into(),
                key: "tokenizer files".into(),
                source: Box::new(e),
            })
    }

    fn input_check(&self) -> Option<Box<dyn InputCheck>> {
        let tally = self.0.lowercase_tally()?;
        Some(Box::new(LowercaseCheck {
            tally,
            field: self.0.field().map(str::to_string),
        }))
    }

    fn apply(&self, sample: Sample) -> bomdata_ingest::Result<Transformed> {
        let out = self
            .0
            .apply(&sample)
            .map_err(|e| bomdata_ingest::Error::Transform {
                profile: "tokens".into(),
                key: sample.key.clone(),
                source: Box::new(e),
            })?;
        Ok(Transformed {
            samples: out.samples,
            rejected: out.rejected,
            split: out.split.map(str::to_string),
        })
    }
}

/// The whole-input lower-case check of a tokenizer that refuses lower case.
struct LowercaseCheck {
    tally: LowercaseTally,
    field: Option<String>,
}

fn tokens_err(key: &str) -> impl Fn(bomdata_profiles::Error) -> bomdata_ingest::Error + '_ {
    move |e| bomdata_ingest::Error::Transform {
        profile: "tokens".into(),
        key: key.to_string(),
        source: Box::new(e),
    }
}

impl InputCheck for LowercaseCheck {
    fn sample(&mut self, sample: &Sample) -> bomdata_ingest::Result<()> {
        self.tally
            .add(sample, self.field.as_deref())
            .map_err(tokens_err(&sample.key))
    }

    fn finish(self: Box<Self>) -> bomdata_ingest::Result<()> {
        self.tally.verdict().map_err(tokens_err("the whole input"))
    }
}

/// Parses `--split a,b,c` into three non-negative fractions with a positive sum.
fn fractions(split: &str) -> anyhow::Result<[f64; 3]> {
    let fr: Vec<f64> = split
        .split(',')
        .map(|s| s.trim().parse::<f64>())
        .collect::<Result<_, _>>()
        .with_context(|| format!("--split {split:?}: three numbers expected"))?;
    match fr[..] {
        [a, b, c] if a >= 0.0 && b >= 0.0 && c >= 0.0 && a + b + c > 0.0 => Ok([a, b, c]),
        _ => bail!("--split {split:?}: three non-negative numbers expected"),
    }
}

/// The transform for `ingest --tokens SPEC ...`; refuses sources whose adapter makes no DNA
/// window blocks.
pub fn transform(
    adapter: &str,
    tok: &TokenArgs,
    params: &[String],
    seed: u64,
    split: &str,
) -> anyhow::Result<Option<Transform>> {
    let Some(spec) = &tok.tokens else {
        return Ok(None);
    };
    if !TOKEN_ADAPTERS.contains(&adapter) {
        bail!(
            "--tokens at ingest time takes a genome source (DNA windows); this source's adapter \
             is {adapter:?}: run `bomdata ingest` and then `bomdata shard --tokens {spec}`"
        );
    }
    let opts = token_options(tok, params, spec)?;
    let direct = DirectTokens::new(opts, seed, fractions(split)?)?;
    direct.reference()?;
    Ok(Some(Transform(Arc::new(TokensTransform(direct)))))
}
