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
    let mut out = std::io::stdout().lock();
    if compact {
        serde_json::to_writer(&mut out, v)?;
    } else {
        serde_json::to_writer_pretty(&mut out, v)?;
    }
    writeln!(out)?;
    Ok(())
}
