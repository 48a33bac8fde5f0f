//! Helpers shared by the end-to-end tests: the built `bomdata` binary, isolated temporary
//! directories, and file comparison.

// Test helpers report the failing command's stderr.
#![allow(clippy::print_stderr)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The `bomdata` binary built alongside the test (`target/<profile>/bomdata`).
pub fn bin() -> PathBuf {
    if let Some(p) = std::env::var_os("BOMDATA_BIN") {
        return PathBuf::from(p);
    }
    let exe = std::env::current_exe().unwrap_or_default();
    // target/<profile>/deps/e2e-<hash> → target/<profile>/bomdata
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .map(Path::to_path_buf)
        .unwrap_or_default();
    dir.join(format!("bomdata{}", std::env::consts::EXE_SUFFIX))
}

/// A `bomdata` command with a test key in its environment.
pub fn cmd() -> Command {
    let b = bin();
    assert!(
        b.is_file(),
        "{} is missing: build it with `cargo build -p bomdata` (cargo test --workspace does)",
        b.display()
    );
    let mut c = Command::new(b);
    c.env("BOMDATA_KEY", "test-key-0123456789abcdef")
        .env_remove("SLURM_PROCID")
        .env_remove("SLURM_NTASKS")
        .env_remove("SLURM_ARRAY_TASK_ID")
        .env_remove("SLURM_ARRAY_TASK_COUNT");
    c
}

/// Runs a command and returns its output, with stderr echoed on failure to help debugging.
pub fn run(mut c: Command) -> Output {
    let out = c
        .output()
        .unwrap_or_else(|e| panic!("cannot run {c:?}: {e}"));
    if !out.status.success() {
        eprintln!("stderr of {c:?}:\n{}", String::from_utf8_lossy(&out.stderr));
    }
    out
}

/// Runs `bomdata ARGS PATHS...` (see [`run`]): the arguments first, then each path.
pub fn bomdata(args: &[&str], paths: &[&Path]) -> Output {
    let mut c = cmd();
    c.args(args);
    for p in paths {
        c.arg(p);
    }
    run(c)
}

/// The example BIDS tree shipped in the repository.
pub fn example_bids() -> PathBuf {
    bomdata_testdata::workspace_root()
        .join("examples")
        .join("bids-mini")
}

/// Every file under `dir` (relative path → bytes), skipping a `.ingest` lock folder (a shard
/// output's; an ingest keeps its state outside the dataset folder).
pub fn tree(dir: &Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    let mut out = std::collections::BTreeMap::new();
    fn walk(root: &Path, dir: &Path, out: &mut std::collections::BTreeMap<String, Vec<u8>>) {
        let Ok(rd) = std::fs::read_dir(dir) else {
            return;
        };
        for e in rd.flatten() {
            let p = e.path();
            let rel = p
                .strip_prefix(root)
                .unwrap_or(&p)
                .to_string_lossy()
                .to_string();
            if rel.starts_with(".ingest") {
                continue;
            }
            if p.is_dir() {
                walk(root, &p, out);
            } else if let Ok(b) = std::fs::read(&p) {
                out.insert(rel, b);
            }
        }
    }
    walk(dir, dir, &mut out);
    out
}

/// Copies a folder recursively.
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap_or_else(|e| panic!("{}: {e}", to.display()));
    for e in std::fs::read_dir(from)
        .unwrap_or_else(|e| panic!("{}: {e}", from.display()))
        .flatten()
    {
        let p = e.path();
        let q = to.join(e.file_name());
        if p.is_dir() {
            copy_dir(&p, &q);
        } else {
            std::fs::copy(&p, &q).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        }
    }
}
