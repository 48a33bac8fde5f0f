//! One module per subcommand.

pub mod ingest;
pub mod inspect;
pub mod merge;
pub mod probe;
pub mod profiles;
pub mod shard;
pub mod sources;
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
