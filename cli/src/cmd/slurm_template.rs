//! `bomdata slurm-template`: prints an `sbatch` script running `bomdata ingest` or
//! `bomdata shard` as a Slurm job array, with the merge and the resubmission of a failed task
//! spelled out in its comments.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

/// Arguments of `bomdata slurm-template`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The command the array tasks run: ingest or shard.
    #[arg(value_parser = ["ingest", "shard"])]
    pub command: String,
    /// Its input: the source tree (ingest) or the canonical dataset (shard), on a filesystem
    /// every node reads.
    pub input: PathBuf,
    /// Its output folder, on a filesystem every node writes (shared by all tasks).
    #[arg(long)]
    pub out: PathBuf,
    /// Array tasks (ranks).
    #[arg(long, default_value_t = 4)]
    pub tasks: usize,
    /// CPUs per task (the tasks' --jobs).
    #[arg(long, default_value_t = 4)]
    pub cpus_per_task: usize,
    /// Time limit per task.
    #[arg(long, default_value = "24:00:00")]
    pub time: String,
    /// Memory per task (sbatch --mem), if given.
    #[arg(long)]
    pub mem: Option<String>,
    /// Partition, if given.
    #[arg(long)]
    pub partition: Option<String>,
    /// Account, if given.
    #[arg(long)]
    pub account: Option<String>,
    /// Further options of `bomdata ingest` / `bomdata shard`, after `--`.
    #[arg(last = true)]
    pub extra: Vec<String>,
}

/// Quotes `s` for a POSIX shell (unchanged when it has no special characters).
fn quote(s: &str) -> String {
    let plain = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-./=:,@%+".contains(c));
    if plain {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

fn absolute(p: &Path) -> anyhow::Result<String> {
    let abs = std::path::absolute(p).with_context(|| format!("resolving {}", p.display()))?;
    Ok(quote(&abs.to_string_lossy()))
}

/// The script text.
fn script(a: &Args) -> anyhow::Result<String> {
    if a.tasks < 2 || a.cpus_per_task == 0 {
        bail!(
            "--tasks must be at least 2 (one process needs no array) and --cpus-per-task at least 1"
        );
    }
    for o in [
        "--rank",
        "--world-size",
        "--overwrite",
        "--out",
        "--jobs",
        "-j",
    ] {
        if a.extra
            .iter()
            .any(|e| e == o || e.starts_with(&format!("{o}=")))
        {
            bail!("{o} is set by the template; leave it out of the options after --");
        }
    }
    let exe = std::env::current_exe().context("locating the bomdata binary")?;
    let exe = quote(&exe.to_string_lossy());
    let (cmd, n, out) = (&a.command, a.tasks, absolute(&a.out)?);
    let last = n - 1;
    let mut s = String::new();
    s += "#!/bin/bash\n";
    s += &format!(
        "# `bomdata {cmd}` as a Slurm job array of {n} tasks (written by `bomdata slurm-template`).\n"
    );
    s += "#\n# Submit the array, then the merge, which runs once every task has succeeded:\n";
    s += &format!(
        "#   jid=$(sbatch --parsable THIS_FILE)\n#   sbatch --dependency=afterok:$jid --kill-on-invalid-dep=yes --wrap \"{exe} merge {out}\"\n"
    );
    s += "#\n# Task R is rank R of the run: it takes its share of the plan every task computes alike from\n";
    s += "# the input and writes only its own files into the shared output folder (ingest: whole units,\n";
    s += "# each committed with its record under .ingest/; shard: its part under .ingest/shard/). The\n";
    s += "# merge writes the manifest (shard: also the shards), byte-identical to one process.\n";
    s += "#\n# A task that failed or was killed (its merge never runs): resubmit only that task, then the\n";
    s += "# merge again; the finished tasks are not rerun (ingest also resumes the task's own units):\n";
    s += &format!("#   jid=$(sbatch --parsable --array=K THIS_FILE)   # K in 0..{last}\n");
    s += "#   sbatch --dependency=afterok:$jid --kill-on-invalid-dep=yes --wrap \"...merge as above...\"\n";
    if cmd == "ingest" {
        s += "#\n# The pseudonymisation key: export BOMDATA_KEY before sbatch (it is exported to the tasks)\n";
        s += "# or add --key-file PATH (readable on every node) after -- .\n";
    }
    s += &format!(
        "#SBATCH --job-name=bomdata-{cmd}\n#SBATCH --array=0-{last}\n#SBATCH --ntasks=1\n"
    );
    s += &format!(
        "#SBATCH --cpus-per-task={}\n#SBATCH --time={}\n",
        a.cpus_per_task,
        quote(&a.time)
    );
    for (flag, v) in [
        ("mem", &a.mem),
        ("partition", &a.partition),
        ("account", &a.account),
    ] {
        if let Some(v) = v {
            s += &format!("#SBATCH --{flag}={}\n", quote(v));
        }
    }
    s += &format!("#SBATCH --output=bomdata-{cmd}-%A_%a.out\n\nset -euo pipefail\n");
    s += "# The rank comes from SLURM_ARRAY_TASK_ID; the world size is fixed here, so that a\n";
    s += "# resubmitted single task (whose SLURM_ARRAY_TASK_COUNT is 1) keeps it.\n";
    let extra: Vec<String> = a.extra.iter().map(|e| quote(e)).collect();
    s += &format!(
        "exec {exe} {cmd} {} --out {out} --world-size {n} --jobs \"${{SLURM_CPUS_PER_TASK:-1}}\"{}{}\n",
        absolute(&a.input)?,
        if extra.is_empty() { "" } else { " " },
        extra.join(" ")
    );
    Ok(s)
}

/// Runs `bomdata slurm-template`: the script goes to stdout.
pub fn run(a: &Args) -> anyhow::Result<i32> {
    let text = script(a)?;
    std::io::stdout().lock().write_all(text.as_bytes())?;
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::quote;

    #[test]
    fn quotes_only_what_needs_it() {
        assert_eq!(quote("/data/out-1"), "/data/out-1");
        assert_eq!(quote("a b"), "'a b'");
        assert_eq!(quote("it's"), r"'it'\''s'");
        assert_eq!(quote(""), "''");
        assert_eq!(quote("target=[24,24,24]"), "'target=[24,24,24]'");
    }
}
