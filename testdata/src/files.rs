//! Small file helpers for building synthetic trees.

use std::io::Write;
use std::path::{Path, PathBuf};

/// Writes `bytes` to `path`, creating its parent folders; panics with the path on failure.
#[allow(clippy::panic)]
pub fn write(path: &Path, bytes: impl AsRef<[u8]>) {
    if let Some(parent) = path.parent()
        && let Err(e) = std::fs::create_dir_all(parent)
    {
        panic!("cannot create {}: {e}", parent.display());
    }
    if let Err(e) = std::fs::write(path, bytes) {
        panic!("cannot write {}: {e}", path.display());
    }
}

/// Writes `bytes` to `root/rel`.
pub fn put(root: &Path, rel: &str, bytes: impl AsRef<[u8]>) {
    write(&root.join(rel), bytes);
}

/// Cuts the last `n` bytes off the file at `path` (a damaged copy).
#[allow(clippy::panic)]
pub fn truncate_by(path: &Path, n: usize) {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    write(path, &bytes[..bytes.len().saturating_sub(n)]);
}

/// Writes a zip archive at `path` with `entries` (name, bytes), stored uncompressed.
#[allow(clippy::panic)]
pub fn zip_with(path: &Path, entries: &[(&str, &[u8])]) {
    let mut buf = std::io::Cursor::new(Vec::new());
    {
        let mut z = zip::ZipWriter::new(&mut buf);
        let opts = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Stored)
            .last_modified_time(zip::DateTime::default());
        for (name, data) in entries {
            if let Err(e) = z.start_file(*name, opts) {
                panic!("zip {}: {e}", path.display());
            }
            if let Err(e) = z.write_all(data) {
                panic!("zip {}: {e}", path.display());
            }
        }
        if let Err(e) = z.finish() {
            panic!("zip {}: {e}", path.display());
        }
    }
    write(path, buf.into_inner());
}

/// The files of `dir` that `keep` accepts, sorted, each with the text of the reference answer
/// beside it (`<file name>.expected.json`, what the conformance tests compare with); panics
/// naming the path when the folder cannot be listed or an answer cannot be read.
#[allow(clippy::panic)]
pub fn with_expected(dir: &Path, keep: impl Fn(&Path) -> bool) -> Vec<(PathBuf, String)> {
    let entries =
        std::fs::read_dir(dir).unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()));
    let mut files: Vec<PathBuf> = entries
        .map(|e| match e {
            Ok(e) => e.path(),
            Err(e) => panic!("cannot list {}: {e}", dir.display()),
        })
        .filter(|p| keep(p))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|path| {
            let mut name = path.file_name().unwrap_or_default().to_os_string();
            name.push(".expected.json");
            let exp = path.with_file_name(name);
            let text =
                std::fs::read_to_string(&exp).unwrap_or_else(|e| panic!("{}: {e}", exp.display()));
            (path, text)
        })
        .collect()
}
