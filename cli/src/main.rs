//! The `bomdata` command: ingest raw consortium data, pack training shards, probe files,
//! verify and inspect datasets.
//!
//! Exit codes: 0 everything done; 1 done with failures (listed in `report.jsonl`) or a
//! refused file (`probe`) or damage found (`verify`); 2 could not run.

// The CLI is the one crate that prints (ARCHITECTURE.md): the workspace denies printing elsewhere.
#![allow(clippy::print_stdout, clippy::print_stderr)]

/// `println!` that returns an error (e.g. a closed pipe) instead of panicking.
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        writeln!(std::io::stdout().lock(), $($arg)*)?
    }};
}

mod cmd;
mod malloc;
mod progress;
mod remote;
mod report;

use clap::{Parser, Subcommand};

/// Turns raw neuroscience and genomics data into training shards.
#[derive(Parser, Debug)]
#[command(name = "bomdata", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// The most memory one reader may take for one file or unit on the strength of its header
    /// (e.g. 4GiB, 512MiB; default: a quarter of the smaller of physical memory and `ulimit -v`).
    /// A file needing more fails alone, naming the file.
    #[arg(long, global = true, value_parser = parse_unit_memory)]
    unit_memory: Option<u64>,
}

fn parse_unit_memory(s: &str) -> Result<u64, String> {
    bomdata_format_core::budget::parse_size(s)
        .ok_or_else(|| format!("{s:?} is not a size (e.g. 4GiB, 512MiB, 1000000)"))
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Read a source tree into a canonical dataset (restartable, parallel).
    Ingest(cmd::ingest::Args),
    /// Pack a canonical dataset into model-ready training shards.
    Shard(cmd::shard::Args),
    /// Print what a reader sees in one file (header + value statistics) as JSON.
    Probe(cmd::probe::Args),
    /// Re-hash every shard and table of a dataset against its manifest.
    Verify(cmd::verify::Args),
    /// Summarise a dataset: counts by source, modality, split; sizes; failures.
    Inspect(cmd::inspect::Args),
    /// List the consortium sources of the registry and whether they are supported.
    Sources(cmd::sources::Args),
    /// Join the per-rank parts of a distributed ingest or shard build into one dataset.
    Merge(cmd::merge::Args),
    /// Print an sbatch script running ingest or shard as a Slurm job array (merge and resume
    /// in its comments).
    SlurmTemplate(cmd::slurm_template::Args),
    /// List the shard profiles and their parameters.
    Profiles(cmd::profiles::Args),
    /// Try a tokenizer on a string or a file.
    Tokenize(cmd::tokenize::TokenizeArgs),
    /// Write a self-contained HTML QC report of one or more datasets.
    Report(cmd::report::Args),
}

fn main() {
    malloc::tune();
    let mut cli = Cli::parse();
    if let Some(b) = cli.unit_memory {
        bomdata_format_core::budget::set(b);
    }
    // s3:// inputs fetched and outputs pointed at local folders (uploaded after the command).
    let result = remote::stage(&mut cli.command)
        .and_then(|staged| remote::finish(staged, run(&cli.command)));
    let code = match result {
        Ok(code) => code,
        Err(e) => {
            if is_broken_pipe(&e) {
                0
            } else {
                eprintln!("bomdata: error: {}", cmd::escape(&format!("{e:#}")));
                2
            }
        }
    };
    std::process::exit(code);
}

fn run(command: &Command) -> anyhow::Result<i32> {
    match command {
        Command::Ingest(a) => cmd::ingest::run(a),
        Command::Shard(a) => cmd::shard::run(a),
        Command::Probe(a) => cmd::probe::run(a),
        Command::Verify(a) => cmd::verify::run(a),
        Command::Inspect(a) => cmd::inspect::run(a),
        Command::Sources(a) => cmd::sources::run(a),
        Command::Merge(a) => cmd::merge::run(a),
        Command::SlurmTemplate(a) => cmd::slurm_template::run(a),
        Command::Profiles(a) => cmd::profiles::run(a),
        Command::Tokenize(a) => cmd::tokenize::run(a).map(|()| 0),
        Command::Report(a) => cmd::report::run(a),
    }
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
