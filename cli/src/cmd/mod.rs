//! One module per subcommand.

pub mod ingest;
pub mod ingest_profile;
pub mod ingest_tokens;
pub mod inspect;
pub mod merge;
pub mod outcome;
pub mod probe;
pub mod profiles;
pub mod ranks;
pub mod report;
pub mod shard;
pub mod shard_rank;
pub mod slurm_template;
pub mod sources;
pub mod token_args;
pub mod tokenize;
pub mod verify;

use std::io::Write;

/// Prints a JSON value to stdout, pretty unless `compact`.
pub fn print_json(v: &serde_json::Value, compact: bool) -> anyhow::Result<()> {
    let mut text = if compact {
        serde_json::to_vec(v)?
    } else {
        serde_json::to_vec_pretty(v)?
    };
    text.push(b'\n');
    std::io::stdout().lock().write_all(&text)?;
    Ok(())
}

/// Refuses a URL (`s3://…`, `https://…`) where a local path is expected (such a string would
/// otherwise become a local folder named `s3:`); `ingest`, `shard`, `verify` and `merge` take
/// `s3://` locations (see `crate::remote`), which reach them as local folders.
pub fn check_local_path(p: &std::path::Path) -> anyhow::Result<()> {
    let s = p.to_string_lossy();
    if let Some((scheme, _)) = s.split_once("://")
        && !scheme.is_empty()
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
    {
        anyhow::bail!(
            "{}: URLs are not supported here (s3:// works with ingest, shard, verify and merge); give a local folder",
            escape(&s)
        );
    }
    Ok(())
}

/// Escapes control characters (and other non-printing ones) of text taken from input files
/// before it reaches the terminal.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c.is_control() && c != '\n' && c != '\t' {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}
