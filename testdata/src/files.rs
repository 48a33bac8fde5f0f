//! Small file helpers for building synthetic trees.

use std::io::Write;
use std::path::Path;

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
