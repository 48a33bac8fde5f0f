//! Helpers shared by the profile tests that compare against Python references.

use std::path::{Path, PathBuf};
use std::process::Command;

use bomdata_shard::Sample;
use bomdata_shard::npy::{self, Dtype};

/// Shape and values (as f64) of an `.npy` holding float32 or float64 data.
#[allow(clippy::unwrap_used)] // test code: a panic is the failure report
pub fn f64s(bytes: &[u8]) -> (Vec<usize>, Vec<f64>) {
    let v = npy::decode(bytes).unwrap();
    let vals = match v.dtype {
        Dtype::F64 => v
            .data
            .chunks_exact(8)
            .map(|b| f64::from_le_bytes(b.try_into().unwrap()))
            .collect(),
        Dtype::F32 => v
            .data
            .chunks_exact(4)
            .map(|b| f64::from(f32::from_le_bytes(b.try_into().unwrap())))
            .collect(),
        d => panic!("unexpected dtype {d:?}"),
    };
    (v.shape.clone(), vals)
}

/// The canonical sample (`signal.npy`, `meta.json`) a reference script wrote into `dir`, as
/// subject `s1`'s sample `key`.
#[allow(clippy::unwrap_used)] // test code: a panic is the failure report
pub fn canonical(dir: &Path, key: &str) -> Sample {
    Sample::new(key)
        .with_subject("s1")
        .with("signal.npy", std::fs::read(dir.join("signal.npy")).unwrap())
        .with("meta.json", std::fs::read(dir.join("meta.json")).unwrap())
}

/// Runs the Python reference `script` (relative to the workspace root) as
/// `script <out> <arg>` and returns `out` with its case folders, sorted by name.
#[allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is the failure report
pub fn reference_cases(script: &str, arg: &Path) -> (tempfile::TempDir, Vec<PathBuf>) {
    let py = bomdata_testdata::require_python();
    let out = tempfile::tempdir().unwrap();
    let run = Command::new(&py)
        .arg(bomdata_testdata::workspace_root().join(script))
        .arg(out.path())
        .arg(arg)
        .output()
        .expect("run python");
    assert!(
        run.status.success(),
        "reference.py failed:\n{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let mut cases: Vec<_> = std::fs::read_dir(out.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    cases.sort();
    (out, cases)
}
