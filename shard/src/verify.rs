//! `bomdata verify`: re-hash every shard, index and table against the manifest, locate damage,
//! and flag files the manifest does not list.

use std::collections::BTreeSet;
use std::fs::File;
use std::io::Read;
use std::path::Path;

use bomdata_schemas::manifest::{Manifest, ShardEntry, ShardIndex};

use crate::dataset::{self, DatasetDir, MANIFEST, SHARDS};
use crate::tar;
use crate::{Error, Result};

/// One problem found by [`verify`].
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Problem {
    /// Shard or table file name.
    pub file: String,
    /// Key of the damaged sample, when the damage could be located.
    pub key: Option<String>,
    /// Member (`<field>.<ext>`) or `"header"` / `"padding"`, when located.
    pub member: Option<String>,
    /// What is wrong.
    pub message: String,
}

/// The result of verifying a dataset.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct VerifyReport {
    /// Shards checked.
    pub shards: u64,
    /// Bytes hashed.
    pub bytes: u64,
    /// Everything that did not match.
    pub problems: Vec<Problem>,
}

fn problem(file: &str, message: String) -> Problem {
    Problem {
        file: file.to_string(),
        key: None,
        member: None,
        message,
    }
}

/// An error and its causes on one line.
fn chain(e: &Error) -> String {
    let mut m = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(s) = src {
        m.push_str(&format!(": {s}"));
        src = s.source();
    }
    m
}

/// Checks every shard (size and XXH3-128), every shard index (its checksum, its sample count
/// and member bounds against the manifest) and every table listed in the manifest, then the
/// manifest itself (duplicate entries, totals, split labels) and the files under `shards/` and
/// `tables/` that it does not list. Every problem is reported; nothing stops at the first. For a
/// shard whose checksum differs, each sample's member data, headers and padding are compared
/// with what the index says they must be, so the damaged key and member are named.
pub fn verify(dir: &Path, manifest: &Manifest) -> Result<VerifyReport> {
    let mut report = VerifyReport::default();
    for entry in &manifest.shards {
        report.shards += 1;
        verify_shard(dir, entry, &mut report);
    }
    for t in &manifest.tables {
        let path = dir.join(&t.name);
        match dataset::checksum_file(&path) {
            Ok(sum) if sum == t.checksum => {}
            Ok(sum) => report.problems.push(problem(
                &t.name,
                format!("checksum {sum} differs from manifest {}", t.checksum),
            )),
            Err(e) => report.problems.push(problem(&t.name, chain(&e))),
        }
    }
    check_manifest(manifest, &mut report.problems);
    unlisted(dir, manifest, &mut report.problems);
    Ok(report)
}

/// Checks one shard and its index, adding every problem found.
fn verify_shard(dir: &Path, entry: &ShardEntry, report: &mut VerifyReport) {
    let path = dataset::shard_path(dir, entry);
    let index = verify_index(dir, entry, &mut report.problems);
    let meta = match std::fs::metadata(&path) {
        Ok(m) => m,
        Err(e) => {
            report
                .problems
                .push(problem(&entry.name, format!("cannot read: {e}")));
            return;
        }
    };
    report.bytes += meta.len();
    if meta.len() != entry.size {
        report.problems.push(problem(
            &entry.name,
            format!("size {} differs from manifest {}", meta.len(), entry.size),
        ));
    }
    let sum = match dataset::checksum_file(&path) {
        Ok(s) => s,
        Err(e) => {
            report.problems.push(problem(&entry.name, chain(&e)));
            return;
        }
    };
    if sum != entry.checksum {
        let located = match &index {
            Some(index) => {
                locate(dir, entry, index).unwrap_or_else(|e| vec![problem(&entry.name, chain(&e))])
            }
            None => vec![],
        };
        if located.is_empty() {
            report.problems.push(problem(
                &entry.name,
                format!("checksum {sum} differs from manifest {}", entry.checksum),
            ));
        }
        report.problems.extend(located);
    }
}

/// Checks a shard's index file: present, its checksum (when the manifest records one), and its
/// contents against the manifest entry. Returns the index when it could be read.
fn verify_index(dir: &Path, entry: &ShardEntry, problems: &mut Vec<Problem>) -> Option<ShardIndex> {
    let d = DatasetDir::new(dir);
    let path = d.index_path(entry);
    if !path.is_file() {
        problems.push(problem(&entry.index, "index file is missing".into()));
        return None;
    }
    match (&entry.index_checksum, dataset::checksum_file(&path)) {
        (Some(want), Ok(sum)) if *want != sum => problems.push(problem(
            &entry.index,
            format!("index checksum {sum} differs from manifest {want}"),
        )),
        (_, Err(e)) => problems.push(problem(&entry.index, chain(&e))),
        _ => {}
    }
    let index = match d.read_index(entry) {
        Ok(i) => i,
        Err(e) => {
            problems.push(problem(&entry.index, chain(&e)));
            return None;
        }
    };
    if index.shard != entry.name {
        problems.push(problem(
            &entry.index,
            format!(
                "index names shard {:?}, manifest {:?}",
                index.shard, entry.name
            ),
        ));
    }
    if entry.compression.is_some() {
        // Offsets refer to the inner tar, so only the count can be checked here; `locate`
        // checks the members against the decoded bytes.
        if index.samples.len() as u64 != entry.samples {
            problems.push(problem(
                &entry.index,
                format!(
                    "index lists {} samples, manifest says {}",
                    index.samples.len(),
                    entry.samples
                ),
            ));
        }
    } else if let Err(e) = dataset::check_index(&path, entry, &index) {
        problems.push(problem(&entry.index, chain(&e)));
    }
    Some(index)
}

/// Checks the manifest on its own: no file listed twice, totals that add up, split labels that
/// match the shard names (`<name>-<split>-NNNNNN.tar`).
fn check_manifest(manifest: &Manifest, problems: &mut Vec<Problem>) {
    let mut seen = BTreeSet::new();
    let names = manifest
        .shards
        .iter()
        .flat_map(|s| [&s.name, &s.index])
        .chain(manifest.tables.iter().map(|t| &t.name));
    for n in names {
        if !seen.insert(n.as_str()) {
            problems.push(problem(MANIFEST, format!("{n} is listed more than once")));
        }
    }
    let samples: u64 = manifest.shards.iter().map(|s| s.samples).sum();
    if samples != manifest.counts.samples {
        problems.push(problem(
            MANIFEST,
            format!(
                "counts.samples is {} but the shards hold {samples}",
                manifest.counts.samples
            ),
        ));
    }
    if manifest.shards.len() as u64 != manifest.counts.shards {
        problems.push(problem(
            MANIFEST,
            format!(
                "counts.shards is {} but {} shards are listed",
                manifest.counts.shards,
                manifest.shards.len()
            ),
        ));
    }
    for s in &manifest.shards {
        if let Some(split) = &s.split
            && !s.name.contains(&format!("-{split}-"))
        {
            problems.push(problem(
                &s.name,
                format!("split label {split:?} in the manifest does not match the shard name"),
            ));
        }
    }
}

/// Files under `shards/` and `tables/` that the manifest does not list.
fn unlisted(dir: &Path, manifest: &Manifest, problems: &mut Vec<Problem>) {
    let listed: BTreeSet<String> = manifest
        .shards
        .iter()
        .flat_map(|s| {
            [
                format!("{SHARDS}/{}", s.name),
                format!("{SHARDS}/{}", s.index),
            ]
        })
        .chain(manifest.tables.iter().map(|t| t.name.clone()))
        .collect();
    let mut files = Vec::new();
    for top in [SHARDS, "tables"] {
        walk(dir, &dir.join(top), &mut files);
    }
    files.sort();
    for f in files {
        if !listed.contains(&f) {
            problems.push(problem(&f, "file is not listed in the manifest".into()));
        }
    }
}

fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            walk(root, &p, out);
        } else if let Ok(rel) = p.strip_prefix(root) {
            out.push(rel.to_string_lossy().replace('\\', "/"));
        }
    }
}

/// Finds which samples of a damaged shard differ from their index.
fn locate(dir: &Path, entry: &ShardEntry, index: &ShardIndex) -> Result<Vec<Problem>> {
    let path = dir.join(SHARDS).join(&entry.name);
    let f = File::open(&path).map_err(|e| Error::io(&path, e))?;
    let mut buf = Vec::new();
    let res = if entry.compression.as_deref() == Some("zstd") {
        zstd::stream::read::Decoder::new(f).and_then(|mut d| d.read_to_end(&mut buf))
    } else {
        std::io::BufReader::new(f).read_to_end(&mut buf)
    };
    let mut problems = Vec::new();
    let problem = |key: Option<&str>, member: Option<&str>, message: String| Problem {
        file: entry.name.clone(),
        key: key.map(str::to_string),
        member: member.map(str::to_string),
        message,
    };
    if let Err(e) = res {
        problems.push(problem(None, None, format!("cannot decode: {e}")));
    }
    let len = buf.len() as u64;
    let mut expected_pos = 0u64;
    for s in &index.samples {
        let mut pos = s.offset;
        if pos != expected_pos {
            problems.push(problem(Some(&s.key), None, "index gap".into()));
        }
        for m in &s.members {
            let full = format!("{}.{}", s.key, m.name);
            let hdr = tar::header(&full, m.size);
            let hdr_end = pos + hdr.len() as u64;
            let data_end = m.offset + m.size;
            let pad_end = data_end + tar::padding(m.size);
            if pad_end > len || hdr_end != m.offset {
                problems.push(problem(
                    Some(&s.key),
                    Some(&m.name),
                    "member lies past the end of the file".into(),
                ));
                return Ok(problems);
            }
            if buf[pos as usize..hdr_end as usize] != hdr[..] {
                problems.push(problem(
                    Some(&s.key),
                    Some("header"),
                    format!("tar header of {} is damaged", m.name),
                ));
            }
            let data = &buf[m.offset as usize..data_end as usize];
            if dataset::checksum64(data) != m.checksum {
                problems.push(problem(
                    Some(&s.key),
                    Some(&m.name),
                    "member data checksum mismatch".into(),
                ));
            }
            if buf[data_end as usize..pad_end as usize]
                .iter()
                .any(|&b| b != 0)
            {
                problems.push(problem(
                    Some(&s.key),
                    Some("padding"),
                    format!("padding after {} is not zero", m.name),
                ));
            }
            pos = pad_end;
        }
        expected_pos = pos;
    }
    let tail = &buf[(expected_pos.min(len)) as usize..];
    if tail != &tar::END[..] {
        problems.push(problem(
            None,
            None,
            "end-of-archive marker is damaged".into(),
        ));
    }
    Ok(problems)
}
