//! Datasets and source trees in object storage (`s3://bucket/prefix`): where bytes come from and
//! go to, for `ingest`, `shard`, `verify` and `merge`.
//!
//! The commands themselves only ever see local folders, so every local code path (and its
//! output bytes) is the same whether the data is local or remote. A remote location is *staged*:
//!
//! - a remote input (ingest's source tree, shard's dataset, the dataset of `merge`) is copied
//!   into a local folder first (objects already there with the same size are not fetched again);
//! - a remote output is written into a local folder, then uploaded: every object but the
//!   manifest first (files above the part size as multipart uploads, each object appears whole
//!   or not at all), `manifest.json` last, so a reader never sees a manifest whose shards are
//!   missing. Objects already in the store with the local file's size are not uploaded again:
//!   re-running the same command after a crash (even `kill -9` mid-upload) finishes the upload
//!   with the same bytes;
//! - `verify s3://…` copies the dataset into a fresh temporary folder, checks it there and
//!   removes it.
//!
//! Local folders: `$BOMDATA_STAGE_DIR/<bucket>/<prefix>` (default: `bomdata-stage` in the
//! system's temporary folder). `ingest --out s3://…` needs `--state-dir`: the run's private
//! state (plan, unit records, report naming source paths) is never uploaded.
//!
//! Credentials and endpoint come from the environment as the AWS tools read them
//! (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, `AWS_REGION`,
//! `AWS_ENDPOINT_URL`, `AWS_ALLOW_HTTP`, or `AWS_PROFILE` from `~/.aws/credentials` and
//! `~/.aws/config`); they are never printed.

use std::path::{Path, PathBuf};

use anyhow::bail;

use crate::Command;

#[cfg(feature = "s3")]
mod s3;
#[cfg(feature = "s3")]
mod units;

/// A location given on the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// A local path.
    Local(PathBuf),
    /// `s3://bucket/prefix`.
    Remote(Remote),
}

/// An object-store prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Remote {
    /// The URL as given (trailing slashes removed).
    pub url: String,
    /// Bucket name.
    pub bucket: String,
    /// Key prefix without leading or trailing `/` (may be empty: the whole bucket).
    pub prefix: String,
}

/// Parses a command-line path: `s3://bucket/prefix` is remote, any other `scheme://` is refused
/// (never a local folder named `s3:`), everything else is local.
pub fn parse(p: &Path) -> anyhow::Result<Location> {
    let s = p.to_string_lossy();
    let Some((scheme, rest)) = s.split_once("://") else {
        return Ok(Location::Local(p.to_path_buf()));
    };
    if scheme.is_empty()
        || !scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
    {
        return Ok(Location::Local(p.to_path_buf()));
    }
    let url = crate::cmd::escape(&s);
    if !matches!(scheme.to_ascii_lowercase().as_str(), "s3" | "s3a") {
        bail!(
            "{url}: unsupported URL scheme {scheme:?}: give a local folder or s3://bucket/prefix"
        );
    }
    if !cfg!(feature = "s3") {
        bail!("{url}: this bomdata was built without the `s3` feature (object storage)");
    }
    let rest = rest.trim_end_matches('/');
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    if bucket.is_empty() {
        bail!("{url}: no bucket name (s3://bucket/prefix)");
    }
    if prefix.split('/').any(|part| part == "." || part == "..") {
        bail!("{url}: `.` and `..` are not allowed in an object key prefix");
    }
    Ok(Location::Remote(Remote {
        url: format!("s3://{}", rest.trim_end_matches('/')),
        bucket: bucket.to_string(),
        prefix: prefix.trim_matches('/').to_string(),
    }))
}

/// The local folder standing for `r` (see the module docs).
pub fn stage_dir(r: &Remote, what: &str) -> PathBuf {
    let root = std::env::var_os("BOMDATA_STAGE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("bomdata-stage"));
    let mut p = root.join(what).join(&r.bucket);
    for part in r.prefix.split('/').filter(|p| !p.is_empty()) {
        p.push(part);
    }
    p
}

/// The record of a distributed shard build in its output (see `bomdata_profiles::distributed`).
const SHARD_RUN: &str = ".ingest/shard/run.json";

/// What to do once the command has run.
#[derive(Debug, Default)]
pub struct Staged {
    /// Local folders to upload after the command, and whether to delete remote objects the
    /// local folder does not have (`--overwrite`, `merge`).
    uploads: Vec<(PathBuf, Remote, bool)>,
    /// Temporary local copies to remove afterwards.
    cleanup: Vec<PathBuf>,
    /// Ingest outputs committed unit by unit (`units`): their commit records are deleted once
    /// the manifest in the local folder is uploaded.
    unit_records: Vec<(PathBuf, Remote)>,
}

/// Replaces the remote locations of `command` by local folders, fetching remote inputs.
/// Returns what [`finish`] must do after the command ran.
pub fn stage(command: &mut Command) -> anyhow::Result<Staged> {
    let mut staged = Staged::default();
    match command {
        Command::Ingest(a) => {
            let source = parse(&a.source_dir)?;
            let out = parse(&a.out)?;
            if let Location::Remote(r) = &out {
                if a.state_dir.is_none() {
                    bail!(
                        "{}: a remote --out needs --state-dir: a local (or shared) folder for the \
                         run's private state, which is never uploaded",
                        r.url
                    );
                }
                a.out = stage_output(r, "out", a.overwrite, &mut staged)?;
                // Units are uploaded during the run and their staged files removed: the upload
                // at the end must not delete them as stale; `--overwrite` clears the prefix now.
                if let Some(up) = staged.uploads.last_mut() {
                    up.2 = false;
                }
                if a.overwrite {
                    clear(r)?;
                }
                a.publish_to = Some(Box::new(r.clone()));
                staged.unit_records.push((a.out.clone(), r.clone()));
            }
            if let Location::Remote(r) = &source {
                let dir = stage_dir(r, "source");
                fetch(r, &dir)?;
                a.source_dir = dir;
            }
        }
        Command::Shard(a) => {
            let input = parse(&a.dataset)?;
            let out = parse(&a.out)?;
            if let Location::Remote(r) = &out {
                a.out = stage_output(r, "out", a.overwrite, &mut staged)?;
                // `shard` does not resume a finished output: a run killed during its upload
                // is built again locally (the same bytes) and the upload skips what is there.
                if a.out.join(bomdata_shard::dataset::MANIFEST).is_file() {
                    a.overwrite = true;
                }
            }
            if let Location::Remote(r) = &input {
                let dir = stage_dir(r, "in");
                fetch(r, &dir)?;
                a.dataset = dir;
            }
        }
        Command::Merge(a) => {
            if let Location::Remote(r) = parse(&a.dataset)? {
                let dir = stage_dir(&r, "out");
                // A distributed shard build: its merge reads every rank's parts (fetched), and
                // removes them (deleted from the store too). An ingest: its merge reads only
                // the unit records of the local state folder and adds the dataset-wide files.
                let shard_run = remote_has(&r, SHARD_RUN)?;
                if shard_run {
                    fetch(&r, &dir)?;
                } else {
                    std::fs::create_dir_all(&dir)?;
                }
                if !shard_run {
                    staged.unit_records.push((dir.clone(), r.clone()));
                }
                staged.uploads.push((dir.clone(), r, shard_run));
                a.dataset = dir;
            }
        }
        Command::Verify(a) => {
            if let Location::Remote(r) = parse(&a.dataset)? {
                let dir = stage_dir(&r, &format!("verify-{}", std::process::id()));
                if dir.exists() {
                    std::fs::remove_dir_all(&dir)?;
                }
                fetch(&r, &dir)?;
                staged.cleanup.push(dir.clone());
                a.dataset = dir;
            }
        }
        _ => {}
    }
    Ok(staged)
}

/// The local folder a remote output is written into; refuses a remote prefix that holds a
/// finished dataset when there is no local copy of this run to resume (unless `overwrite`).
fn stage_output(
    r: &Remote,
    what: &str,
    overwrite: bool,
    staged: &mut Staged,
) -> anyhow::Result<PathBuf> {
    let dir = stage_dir(r, what);
    let local_empty = !std::fs::read_dir(&dir).is_ok_and(|mut d| d.next().is_some());
    if local_empty && !overwrite && remote_has(r, bomdata_shard::dataset::MANIFEST)? {
        bail!(
            "{}: holds a dataset, and there is no local copy of this run in {} to resume; \
             --overwrite replaces them",
            r.url,
            dir.display()
        );
    }
    std::fs::create_dir_all(&dir)?;
    staged.uploads.push((dir.clone(), r.clone(), overwrite));
    Ok(dir)
}

/// Uploads the staged outputs when the command ran (exit code 0 or 1: a rank's part or a
/// dataset with failed units is uploaded too), and removes temporary copies.
pub fn finish(staged: Staged, result: anyhow::Result<i32>) -> anyhow::Result<i32> {
    let out = match result {
        Ok(code) if code <= 1 => {
            let mut r = Ok(code);
            for (dir, remote, prune) in &staged.uploads {
                if let Err(e) = upload(dir, remote, *prune) {
                    r = Err(e);
                    break;
                }
            }
            if r.is_ok() {
                for (dir, remote) in &staged.unit_records {
                    if dir.join(bomdata_shard::dataset::MANIFEST).is_file()
                        && let Err(e) = remove_unit_records(remote)
                    {
                        r = Err(e);
                        break;
                    }
                }
            }
            r
        }
        other => other,
    };
    for d in &staged.cleanup {
        let _ = std::fs::remove_dir_all(d);
    }
    out
}

#[cfg(feature = "s3")]
fn fetch(r: &Remote, dir: &Path) -> anyhow::Result<()> {
    let store = s3::Store::open(r)?;
    let n = store.download(dir)?;
    if n.objects == 0 && n.skipped == 0 {
        bail!("{}: no objects under this prefix", r.url);
    }
    eprintln!(
        "bomdata: {}: {} objects fetched ({:.1} MB), {} already in {}",
        r.url,
        n.objects,
        n.bytes as f64 / 1e6,
        n.skipped,
        dir.display()
    );
    Ok(())
}

#[cfg(feature = "s3")]
fn upload(dir: &Path, r: &Remote, prune: bool) -> anyhow::Result<()> {
    let store = s3::Store::open(r)?;
    let n = store.upload(dir, prune)?;
    eprintln!(
        "bomdata: {}: {} objects uploaded ({:.1} MB, {} multipart), {} already there{}",
        r.url,
        n.objects,
        n.bytes as f64 / 1e6,
        n.multipart,
        n.skipped,
        if n.deleted > 0 {
            format!(", {} stale objects deleted", n.deleted)
        } else {
            String::new()
        }
    );
    Ok(())
}

#[cfg(feature = "s3")]
fn remote_has(r: &Remote, rel: &str) -> anyhow::Result<bool> {
    s3::Store::open(r)?.exists(rel)
}

/// What `ingest --out s3://…` commits units through (see `units`).
pub trait Committer: Sync {
    /// As the ingest runtime's publisher.
    fn as_publisher(&self) -> &dyn bomdata_ingest::publish::UnitPublisher;
    /// Prints what was committed.
    fn report(&self);
}

#[cfg(feature = "s3")]
impl Committer for units::UnitUploader {
    fn as_publisher(&self) -> &dyn bomdata_ingest::publish::UnitPublisher {
        self
    }
    fn report(&self) {
        units::UnitUploader::report(self);
    }
}

/// The committer of an ingest whose `--out` is `r` (none for a local output).
pub fn unit_committer(r: Option<&Remote>) -> anyhow::Result<Option<Box<dyn Committer>>> {
    let Some(r) = r else {
        return Ok(None);
    };
    #[cfg(feature = "s3")]
    {
        Ok(Some(Box::new(units::UnitUploader::open(r)?)))
    }
    #[cfg(not(feature = "s3"))]
    {
        bail!("{}: built without the `s3` feature", r.url)
    }
}

#[cfg(feature = "s3")]
fn remove_unit_records(r: &Remote) -> anyhow::Result<()> {
    let n = units::remove_records(r)?;
    if n > 0 {
        eprintln!(
            "bomdata: {}: {n} unit commit records removed (the manifest is there)",
            r.url
        );
    }
    Ok(())
}

/// Deletes every object under `r` (`ingest --overwrite`).
#[cfg(feature = "s3")]
fn clear(r: &Remote) -> anyhow::Result<()> {
    let store = s3::Store::open(r)?;
    for rel in store.list()?.keys() {
        store.delete(rel)?;
    }
    Ok(())
}

#[cfg(not(feature = "s3"))]
fn remove_unit_records(r: &Remote) -> anyhow::Result<()> {
    bail!("{}: built without the `s3` feature", r.url)
}

#[cfg(not(feature = "s3"))]
fn clear(r: &Remote) -> anyhow::Result<()> {
    bail!("{}: built without the `s3` feature", r.url)
}

#[cfg(not(feature = "s3"))]
fn fetch(r: &Remote, _: &Path) -> anyhow::Result<()> {
    bail!("{}: built without the `s3` feature", r.url)
}

#[cfg(not(feature = "s3"))]
fn upload(_: &Path, r: &Remote, _: bool) -> anyhow::Result<()> {
    bail!("{}: built without the `s3` feature", r.url)
}

#[cfg(not(feature = "s3"))]
fn remote_has(r: &Remote, _: &str) -> anyhow::Result<bool> {
    bail!("{}: built without the `s3` feature", r.url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_locations() {
        assert_eq!(
            parse(Path::new("data/out")).ok(),
            Some(Location::Local("data/out".into()))
        );
        let e = parse(Path::new("gs://b/p")).err().map(|e| e.to_string());
        assert!(e.is_some_and(|e| e.contains("unsupported URL scheme")));
        if cfg!(feature = "s3") {
            let Ok(Location::Remote(r)) = parse(Path::new("s3://bkt/a/b/")) else {
                panic!("s3 URL not parsed");
            };
            assert_eq!((r.bucket.as_str(), r.prefix.as_str()), ("bkt", "a/b"));
            assert_eq!(r.url, "s3://bkt/a/b");
            assert!(parse(Path::new("s3:///x")).is_err());
            assert!(parse(Path::new("s3://b/../x")).is_err());
        }
    }
}
