//! Fixture paths and seeded synthetic generators for bomdata tests.
//!
//! Real third-party fixture files live in the repository: the corpus in `tests/fixtures/` (each
//! file's source, licence and sha256 in `tests/fixtures/SOURCES.tsv`) and a few older copies in
//! `tests/data/<format>/`. `BOMDATA_FIXTURES` may point the corpus elsewhere. This crate is a
//! leaf (no bomdata dependencies) so any crate can use it as a dev-dependency.
//!
//! Synthetic consortium trees for adapter and end-to-end tests are written by the modules below:
//! byte-level [`edf`] and [`nifti`] writers, and tree makers per family ([`eeg`], [`meg`], [`mri`],
//! [`genome`], [`tables`]). Tree makers named `*_recordings` write only readable files; the
//! matching `*_tree` adds the damaged files a test expects to be refused.
//!
//! [`bench`] holds the timing helpers of the benchmark examples (`bench/<name>/run.sh`).

use std::path::PathBuf;

pub mod bench;
pub mod cohort;
pub mod dicom;
pub mod dicom_mf;
pub mod edf;
pub mod eeg;
pub mod files;
pub mod gard;
pub mod genome;
pub mod loni;
pub mod meg;
pub mod mri;
pub mod nifti;
pub mod tables;

/// The workspace root (the folder with the top-level `Cargo.toml`).
pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(PathBuf::from)
        .unwrap_or_default()
}

/// The repository's own committed fixtures, `tests/data`.
pub fn repo_data() -> PathBuf {
    workspace_root().join("tests").join("data")
}

/// The fixture corpus: the repository's `tests/fixtures`, or `BOMDATA_FIXTURES` when set.
///
/// A test that needs the corpus should fail through [`require_fixtures`] when this folder is
/// missing rather than pass silently.
pub fn fixtures() -> PathBuf {
    match std::env::var_os("BOMDATA_FIXTURES") {
        Some(p) => PathBuf::from(p),
        None => workspace_root().join("tests").join("fixtures"),
    }
}

/// The fixture corpus, or a panic that says clearly it is missing (for tests).
#[allow(clippy::panic)]
pub fn require_fixtures() -> PathBuf {
    let p = fixtures();
    if !p.is_dir() {
        panic!(
            "the fixture corpus is absent: expected {} (tests/fixtures in the repository, or \
             BOMDATA_FIXTURES)",
            p.display()
        );
    }
    p
}

/// A small deterministic pseudo-random generator (SplitMix64) for synthetic test data.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator from a seed.
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    /// Next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in [0, n).
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next_u64() % n }
    }
}

/// The Python interpreter of the test environment: `BOMDATA_PYTHON`, else `.venv/bin/python`
/// in the workspace root (made by `scripts/test.sh`), else `None`.
pub fn python() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("BOMDATA_PYTHON") {
        return Some(PathBuf::from(p));
    }
    let p = workspace_root().join(".venv").join("bin").join("python");
    p.is_file().then_some(p)
}

/// The Python interpreter, or a panic that says how to make it (for interop tests).
#[allow(clippy::panic)]
pub fn require_python() -> PathBuf {
    match python() {
        Some(p) => p,
        None => panic!(
            "no test Python environment: run scripts/test.sh (it creates .venv with \
             python/requirements.txt), or set BOMDATA_PYTHON"
        ),
    }
}

/// A uniquely named folder under the system temporary directory, removed on drop.
#[derive(Debug)]
pub struct TempDir(pub PathBuf);

impl TempDir {
    /// Creates `bomdata-<tag>-<pid>-<n>` in the temporary directory.
    #[allow(clippy::panic)]
    pub fn new(tag: &str) -> Self {
        use std::sync::atomic::{AtomicU64, Ordering};
        static N: AtomicU64 = AtomicU64::new(0);
        let p = std::env::temp_dir().join(format!(
            "bomdata-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        if let Err(e) = std::fs::create_dir_all(&p) {
            panic!("cannot create {}: {e}", p.display());
        }
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
