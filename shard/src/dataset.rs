//! Dataset directories on disk: the layout (file names), [`DatasetDir`] (manifest, shard indexes
//! and shard paths of one directory), atomic file commits and checksums.
//!
//! Every crate that reads or writes a dataset directory goes through this module, so the layout
//! is defined once.

use std::fs::{self, File};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use bomdata_schemas::manifest::{Manifest, ShardEntry, ShardIndex};
use xxhash_rust::xxh3::Xxh3;

use crate::{Error, Result};

/// Name of the manifest file in a dataset directory.
pub const MANIFEST: &str = "manifest.json";
/// Folder of the shards in a dataset directory.
pub const SHARDS: &str = "shards";
/// Name of the failure report.
pub const REPORT: &str = "report.jsonl";
/// Name of the subjects table.
pub const SUBJECTS: &str = "subjects.parquet";

/// A temporary name a file is written under before it is renamed into place:
/// `<name>.<pid>-<n>.tmp`, unique per process and call, so that processes sharing a folder (the
/// ranks of one run) never write to each other's temporaries. Every temporary ends in `.tmp`.
pub fn temp_path(path: &Path) -> PathBuf {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let mut s = path.as_os_str().to_owned();
    s.push(format!(".{}-{n}.tmp", std::process::id()));
    PathBuf::from(s)
}

/// Flushes a directory entry to disk (after a rename), where the platform supports it.
pub fn sync_dir(dir: &Path) -> Result<()> {
    #[cfg(unix)]
    {
        File::open(dir)
            .and_then(|f| f.sync_all())
            .map_err(|e| Error::io(dir, e))?;
    }
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

/// Writes `data` to `path` atomically: temporary file, fsync, rename, fsync of the directory.
/// A reader sees either the old file or the complete new one, never a partial one.
pub fn write_atomic(path: &Path, data: &[u8]) -> Result<()> {
    let tmp = temp_path(path);
    {
        let mut f = File::create(&tmp).map_err(|e| Error::io(&tmp, e))?;
        f.write_all(data).map_err(|e| Error::io(&tmp, e))?;
        f.sync_all().map_err(|e| Error::io(&tmp, e))?;
    }
    fs::rename(&tmp, path).map_err(|e| Error::io(path, e))?;
    if let Some(dir) = path.parent() {
        sync_dir(dir)?;
    }
    Ok(())
}

/// Serialises `value` as pretty JSON (with a trailing newline) and writes it atomically.
pub fn write_json_atomic<T: serde::Serialize>(path: &Path, value: &T) -> Result<()> {
    let mut data = serde_json::to_vec_pretty(value).map_err(Error::json("a JSON file"))?;
    data.push(b'\n');
    write_atomic(path, &data)
}

/// Reads a JSON file into `T`.
pub fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T> {
    let data = fs::read(path).map_err(|e| Error::io(path, e))?;
    serde_json::from_slice(&data).map_err(|e| Error::corrupt(path, e))
}

/// A dataset directory on disk, as laid out by this crate: [`MANIFEST`], and the shards with
/// their indexes under [`SHARDS`].
///
/// ```
/// use bomdata_shard::DatasetDir;
/// let d = DatasetDir::new("/data/hcp");
/// assert_eq!(d.manifest_path(), std::path::Path::new("/data/hcp/manifest.json"));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DatasetDir {
    root: PathBuf,
}

impl DatasetDir {
    /// The dataset directory at `root` (nothing is read yet).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        DatasetDir { root: root.into() }
    }

    /// The directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The path of the manifest.
    pub fn manifest_path(&self) -> PathBuf {
        self.root.join(MANIFEST)
    }

    /// The folder of the shards and their indexes.
    pub fn shards_dir(&self) -> PathBuf {
        self.root.join(SHARDS)
    }

    /// The path of a shard listed in the manifest.
    pub fn shard_path(&self, shard: &ShardEntry) -> PathBuf {
        self.shards_dir().join(&shard.name)
    }

    /// The path of the index of a shard listed in the manifest.
    pub fn index_path(&self, shard: &ShardEntry) -> PathBuf {
        self.shards_dir().join(&shard.index)
    }

    /// Reads the manifest.
    pub fn read_manifest(&self) -> Result<Manifest> {
        read_json(&self.manifest_path())
    }

    /// Writes the manifest atomically. Call it last, after every file it lists is in place.
    pub fn write_manifest(&self, manifest: &Manifest) -> Result<()> {
        write_json_atomic(&self.manifest_path(), manifest)
    }

    /// Reads the index of a shard listed in the manifest.
    pub fn read_index(&self, shard: &ShardEntry) -> Result<ShardIndex> {
        read_json(&self.index_path(shard))
    }

    /// Reads the index of a shard and checks it against its manifest entry: the sample count
    /// matches, and every member lies within the shard's size.
    pub fn read_index_checked(&self, shard: &ShardEntry) -> Result<ShardIndex> {
        let index = self.read_index(shard)?;
        check_index(&self.index_path(shard), shard, &index)?;
        Ok(index)
    }
}

/// Checks a shard index against its manifest entry (`path` names the index in errors): the
/// sample count matches, and every member lies within the shard's size.
pub fn check_index(path: &Path, shard: &ShardEntry, index: &ShardIndex) -> Result<()> {
    if index.samples.len() as u64 != shard.samples {
        return Err(Error::corrupt(
            path,
            format!(
                "index lists {} samples, manifest says {}",
                index.samples.len(),
                shard.samples
            ),
        ));
    }
    for (i, s) in index.samples.iter().enumerate() {
        for m in &s.members {
            let end = m.offset.checked_add(m.size);
            if end.is_none_or(|e| e > shard.size) {
                return Err(Error::corrupt(
                    path,
                    format!(
                        "sample {i} member {}: bytes {}+{} beyond shard size {}",
                        m.name, m.offset, m.size, shard.size
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// Writes `manifest.json` atomically. Call it last, after every file it lists is in place.
pub fn write_manifest(dir: &Path, manifest: &Manifest) -> Result<()> {
    DatasetDir::new(dir).write_manifest(manifest)
}

/// Reads `manifest.json` of a dataset directory.
pub fn read_manifest(dir: &Path) -> Result<Manifest> {
    DatasetDir::new(dir).read_manifest()
}

/// Reads the index of a shard listed in a manifest.
pub fn read_index(dir: &Path, shard: &ShardEntry) -> Result<ShardIndex> {
    DatasetDir::new(dir).read_index(shard)
}

/// The path of a shard listed in a manifest.
pub fn shard_path(dir: &Path, shard: &ShardEntry) -> PathBuf {
    DatasetDir::new(dir).shard_path(shard)
}

/// XXH3-128 of a byte slice, as lowercase hex.
pub fn checksum128(data: &[u8]) -> String {
    format!("{:032x}", xxhash_rust::xxh3::xxh3_128(data))
}

/// XXH3-64 of a byte slice, as lowercase hex (member checksums).
pub fn checksum64(data: &[u8]) -> String {
    format!("{:016x}", xxhash_rust::xxh3::xxh3_64(data))
}

/// XXH3-128 of a whole file, streamed.
pub fn checksum_file(path: &Path) -> Result<String> {
    let mut f = File::open(path).map_err(|e| Error::io(path, e))?;
    let mut h = Xxh3::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf).map_err(|e| Error::io(path, e))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(format!("{:032x}", h.digest128()))
}

/// Removes leftover temporary files (`*.tmp`) of an interrupted run from a folder.
pub fn remove_temporaries(dir: &Path) -> Result<usize> {
    let mut n = 0;
    let rd = match fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(Error::io(dir, e)),
    };
    for e in rd {
        let e = e.map_err(|e| Error::io(dir, e))?;
        let p = e.path();
        if p.extension().is_some_and(|x| x == "tmp") {
            fs::remove_file(&p).map_err(|e| Error::io(&p, e))?;
            n += 1;
        }
    }
    Ok(n)
}
