//! The object-store side of [`super`]: listing, fetching and uploading a prefix with
//! `object_store`'s S3 client (blocking calls on a small tokio runtime).

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::Context;
use futures::StreamExt;
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::path::Path as StorePath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload, WriteMultipart};

use super::Remote;

/// Default multipart part size (and the size from which a file is uploaded in parts).
const DEFAULT_PART: usize = 16 << 20;
/// Parts of one object in flight at once.
const PART_CONCURRENCY: usize = 4;
/// Test hook: the process kills itself (SIGKILL) after handing this many parts or single-part
/// objects to the store, to test resuming an interrupted upload.
const KILL_AFTER_PARTS: &str = "BOMDATA_KILL_AFTER_PARTS";
/// Part size override in bytes (S3 itself needs at least 5 MiB; smaller for test servers).
const PART_BYTES: &str = "BOMDATA_S3_PART_BYTES";

/// Counts of a transfer.
#[derive(Debug, Default)]
pub struct Transfer {
    /// Objects transferred.
    pub objects: u64,
    /// Bytes transferred.
    pub bytes: u64,
    /// Objects left alone (already there with the same size).
    pub skipped: u64,
    /// Objects uploaded in parts.
    pub multipart: u64,
    /// Remote objects deleted (absent from the local folder, `prune`).
    pub deleted: u64,
}

/// One bucket prefix and the runtime driving its client.
pub struct Store {
    rt: tokio::runtime::Runtime,
    s3: AmazonS3,
    remote: Remote,
}

static PARTS_SENT: AtomicU64 = AtomicU64::new(0);

fn part_sent() {
    let n = PARTS_SENT.fetch_add(1, Ordering::SeqCst) + 1;
    let limit = std::env::var(KILL_AFTER_PARTS)
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok());
    if limit == Some(n) {
        // SAFETY: kill(2) on our own pid has no memory-safety preconditions.
        unsafe {
            libc::kill(libc::getpid(), libc::SIGKILL);
        }
    }
}

fn part_size() -> usize {
    std::env::var(PART_BYTES)
        .ok()
        .and_then(|v| v.trim().parse::<usize>().ok())
        .filter(|&n| n > 0)
        .unwrap_or(DEFAULT_PART)
}

/// `~/.aws/credentials` (or `AWS_SHARED_CREDENTIALS_FILE`) and `~/.aws/config` (or
/// `AWS_CONFIG_FILE`) values of the profile `AWS_PROFILE` (else `default`), for keys the
/// environment does not set.
fn profile_settings(mut b: AmazonS3Builder) -> AmazonS3Builder {
    use object_store::aws::AmazonS3ConfigKey as K;
    let set = |n: &str| std::env::var_os(n).is_some_and(|v| !v.is_empty());
    let profile = std::env::var("AWS_PROFILE").unwrap_or_else(|_| "default".into());
    let home = std::env::var_os("HOME").map(PathBuf::from);
    let file = |var: &str, name: &str| {
        std::env::var_os(var)
            .map(PathBuf::from)
            .or_else(|| home.as_ref().map(|h| h.join(".aws").join(name)))
    };
    if !set("AWS_ACCESS_KEY_ID")
        && let Some(values) = file("AWS_SHARED_CREDENTIALS_FILE", "credentials")
            .and_then(|p| ini_section(&p, &profile))
    {
        for (k, key) in [
            ("aws_access_key_id", K::AccessKeyId),
            ("aws_secret_access_key", K::SecretAccessKey),
            ("aws_session_token", K::Token),
        ] {
            if let Some(v) = values.get(k) {
                b = b.with_config(key, v);
            }
        }
    }
    if !set("AWS_REGION") && !set("AWS_DEFAULT_REGION") {
        let section = if profile == "default" {
            profile.clone()
        } else {
            format!("profile {profile}")
        };
        if let Some(values) =
            file("AWS_CONFIG_FILE", "config").and_then(|p| ini_section(&p, &section))
        {
            if let Some(r) = values.get("region") {
                b = b.with_config(K::Region, r);
            }
            if !set("AWS_ENDPOINT_URL")
                && let Some(e) = values.get("endpoint_url")
            {
                b = b.with_config(K::Endpoint, e);
            }
        }
    }
    b
}

/// The `key = value` lines of `[section]` of an INI file.
fn ini_section(path: &Path, section: &str) -> Option<BTreeMap<String, String>> {
    let text = std::fs::read_to_string(path).ok()?;
    let mut inside = false;
    let mut out = BTreeMap::new();
    for line in text.lines().map(str::trim) {
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            inside = name.trim() == section;
        } else if inside && let Some((k, v)) = line.split_once('=') {
            out.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
        }
    }
    (!out.is_empty()).then_some(out)
}

impl Store {
    /// A client for `remote`'s bucket, configured from the environment (see [`super`]).
    pub fn open(remote: &Remote) -> anyhow::Result<Store> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .context("starting the object-store client's runtime")?;
        let mut b = profile_settings(AmazonS3Builder::from_env());
        if std::env::var_os("AWS_REGION").is_none()
            && let Ok(r) = std::env::var("AWS_DEFAULT_REGION")
        {
            b = b.with_region(r);
        }
        let s3 = b
            .with_bucket_name(&remote.bucket)
            .build()
            .with_context(|| format!("{}: configuring the S3 client", remote.url))?;
        Ok(Store {
            rt,
            s3,
            remote: remote.clone(),
        })
    }

    fn key(&self, rel: &str) -> StorePath {
        if self.remote.prefix.is_empty() {
            StorePath::from(rel)
        } else {
            StorePath::from(format!("{}/{rel}", self.remote.prefix))
        }
    }

    fn err(&self, rel: &str) -> String {
        if rel.is_empty() {
            self.remote.url.clone()
        } else {
            format!("{}/{rel}", self.remote.url)
        }
    }

    /// Whether the object `rel` (relative to the prefix) exists.
    pub fn exists(&self, rel: &str) -> anyhow::Result<bool> {
        let key = self.key(rel);
        match self.rt.block_on(self.s3.head(&key)) {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(e).with_context(|| self.err(rel)),
        }
    }

    /// Every object under the prefix: path relative to it → size.
    pub fn list(&self) -> anyhow::Result<BTreeMap<String, u64>> {
        let prefix =
            (!self.remote.prefix.is_empty()).then(|| StorePath::from(self.remote.prefix.as_str()));
        let strip = if self.remote.prefix.is_empty() {
            String::new()
        } else {
            format!("{}/", self.remote.prefix)
        };
        self.rt.block_on(async {
            let mut out = BTreeMap::new();
            let mut s = self.s3.list(prefix.as_ref());
            while let Some(m) = s.next().await {
                let m = m.with_context(|| format!("{}: listing", self.remote.url))?;
                let full = m.location.as_ref();
                if let Some(rel) = full.strip_prefix(&strip) {
                    out.insert(rel.to_string(), m.size);
                }
            }
            Ok(out)
        })
    }

    /// Copies every object under the prefix into `dir` (a file there with the object's size is
    /// kept), each through a temporary file renamed into place.
    pub fn download(&self, dir: &Path) -> anyhow::Result<Transfer> {
        let mut t = Transfer::default();
        for (rel, size) in self.list()? {
            let dst = local_path(dir, &rel)
                .with_context(|| format!("{}: unsafe object name", self.err(&rel)))?;
            if std::fs::metadata(&dst).is_ok_and(|m| m.is_file() && m.len() == size) {
                t.skipped += 1;
                continue;
            }
            if let Some(parent) = dst.parent() {
                std::fs::create_dir_all(parent)
                    .with_context(|| format!("creating {}", parent.display()))?;
            }
            let n = self.fetch(&rel, &dst)?;
            t.objects += 1;
            t.bytes += n;
        }
        Ok(t)
    }

    fn fetch(&self, rel: &str, dst: &Path) -> anyhow::Result<u64> {
        let key = self.key(rel);
        let tmp = bomdata_shard::dataset::temp_path(dst);
        let r: anyhow::Result<u64> = self.rt.block_on(async {
            let got = self.s3.get(&key).await.with_context(|| self.err(rel))?;
            let mut f = std::fs::File::create(&tmp)
                .with_context(|| format!("creating {}", tmp.display()))?;
            let mut stream = got.into_stream();
            let mut n = 0u64;
            while let Some(chunk) = stream.next().await {
                let chunk = chunk.with_context(|| self.err(rel))?;
                f.write_all(&chunk)
                    .with_context(|| format!("writing {}", tmp.display()))?;
                n += chunk.len() as u64;
            }
            Ok(n)
        });
        match r {
            Ok(n) => {
                std::fs::rename(&tmp, dst)
                    .with_context(|| format!("renaming {}", dst.display()))?;
                Ok(n)
            }
            Err(e) => {
                let _ = std::fs::remove_file(&tmp);
                Err(e)
            }
        }
    }

    /// Uploads the files of `dir` (not lock files or temporaries): every one but
    /// `manifest.json` first, in name order, then `manifest.json`. A file whose object already
    /// exists with the same size is not uploaded again. With `prune`, objects under the prefix
    /// that `dir` does not have are deleted afterwards.
    pub fn upload(&self, dir: &Path, prune: bool) -> anyhow::Result<Transfer> {
        let remote = self.list()?;
        let mut files = Vec::new();
        walk(dir, dir, &mut files)?;
        let manifest = bomdata_shard::dataset::MANIFEST;
        files.sort_by(|a, b| (a.0 == manifest, &a.0).cmp(&(b.0 == manifest, &b.0)));
        let mut t = Transfer::default();
        for (rel, path, size) in &files {
            if remote.get(rel) == Some(size) {
                t.skipped += 1;
                continue;
            }
            if self.put_file(rel, path, *size)? {
                t.multipart += 1;
            }
            t.objects += 1;
            t.bytes += size;
        }
        if prune {
            let local: std::collections::BTreeSet<&str> =
                files.iter().map(|f| f.0.as_str()).collect();
            for rel in remote.keys().filter(|k| !local.contains(k.as_str())) {
                let key = self.key(rel);
                self.rt
                    .block_on(self.s3.delete(&key))
                    .with_context(|| format!("deleting {}", self.err(rel)))?;
                t.deleted += 1;
            }
        }
        Ok(t)
    }

    /// The bytes of the object `rel`; `None` when there is none.
    pub fn get_bytes(&self, rel: &str) -> anyhow::Result<Option<Vec<u8>>> {
        let key = self.key(rel);
        self.rt.block_on(async {
            match self.s3.get(&key).await {
                Ok(got) => Ok(Some(
                    got.bytes().await.with_context(|| self.err(rel))?.to_vec(),
                )),
                Err(object_store::Error::NotFound { .. }) => Ok(None),
                Err(e) => Err(e).with_context(|| self.err(rel)),
            }
        })
    }

    /// Stores `bytes` as the object `rel` (one request: appears whole or not at all).
    pub fn put_bytes(&self, rel: &str, bytes: Vec<u8>) -> anyhow::Result<()> {
        let key = self.key(rel);
        part_sent();
        self.rt
            .block_on(self.s3.put(&key, PutPayload::from(bytes)))
            .with_context(|| format!("uploading {}", self.err(rel)))?;
        Ok(())
    }

    /// Deletes the object `rel` (absent is fine).
    pub fn delete(&self, rel: &str) -> anyhow::Result<()> {
        let key = self.key(rel);
        match self.rt.block_on(self.s3.delete(&key)) {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e).with_context(|| format!("deleting {}", self.err(rel))),
        }
    }

    /// Uploads one file; returns whether it went in parts.
    pub fn put_file(&self, rel: &str, path: &Path, size: u64) -> anyhow::Result<bool> {
        let part = part_size();
        let key = self.key(rel);
        let mut f =
            std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
        if size <= part as u64 {
            let mut buf = Vec::new();
            f.read_to_end(&mut buf)
                .with_context(|| format!("reading {}", path.display()))?;
            part_sent();
            self.rt
                .block_on(self.s3.put(&key, PutPayload::from(buf)))
                .with_context(|| format!("uploading {}", self.err(rel)))?;
            return Ok(false);
        }
        self.rt.block_on(async {
            let upload = self
                .s3
                .put_multipart(&key)
                .await
                .with_context(|| format!("starting the upload of {}", self.err(rel)))?;
            let mut w = WriteMultipart::new_with_chunk_size(upload, part);
            let mut buf = vec![0u8; part];
            loop {
                let n = read_full(&mut f, &mut buf)
                    .with_context(|| format!("reading {}", path.display()))?;
                if n == 0 {
                    break;
                }
                if let Err(e) = w.wait_for_capacity(PART_CONCURRENCY).await {
                    let _ = w.abort().await;
                    return Err(e).with_context(|| format!("uploading {}", self.err(rel)));
                }
                w.write(&buf[..n]);
                part_sent();
            }
            w.finish()
                .await
                .with_context(|| format!("finishing the upload of {}", self.err(rel)))?;
            Ok(true)
        })
    }
}

/// Reads until `buf` is full or the file ends.
fn read_full(f: &mut std::fs::File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match f.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

/// `dir/rel` for an object name made of plain path parts (no `.`, `..` or empty parts).
fn local_path(dir: &Path, rel: &str) -> Option<PathBuf> {
    let mut p = dir.to_path_buf();
    for part in rel.split('/') {
        if part.is_empty() || part == "." || part == ".." || part.contains('\\') {
            return None;
        }
        p.push(part);
    }
    Some(p)
}

/// Whether a file is a run's lock or a temporary (never uploaded).
fn skipped_name(name: &str) -> bool {
    name.starts_with("lock") || name.ends_with(".tmp") || name.ends_with(".part")
}

/// The files under `dir`: (path relative to `root` with `/`, path, size).
fn walk(root: &Path, dir: &Path, out: &mut Vec<(String, PathBuf, u64)>) -> anyhow::Result<()> {
    let rd = std::fs::read_dir(dir).with_context(|| format!("listing {}", dir.display()))?;
    for e in rd {
        let e = e.with_context(|| format!("listing {}", dir.display()))?;
        let path = e.path();
        let meta = std::fs::symlink_metadata(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        let name = e.file_name().to_string_lossy().into_owned();
        if meta.is_dir() {
            walk(root, &path, out)?;
        } else if meta.is_file() && !skipped_name(&name) {
            let rel = path
                .strip_prefix(root)
                .unwrap_or(&path)
                .components()
                .map(|c| c.as_os_str().to_string_lossy())
                .collect::<Vec<_>>()
                .join("/");
            out.push((rel, path, meta.len()));
        }
    }
    Ok(())
}
