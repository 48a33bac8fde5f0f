//! `bomdata verify`: re-hash every shard and table against the manifest and locate damage.

use std::fs::File;
use std::io::Read;
use std::path::Path;

use bomdata_schemas::manifest::{Manifest, ShardEntry};

use crate::dataset::{self, SHARDS};
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

/// Checks every shard (size and XXH3-128) and every table listed in the manifest. For a shard
/// whose checksum differs, each sample's member data, headers and padding are compared with
/// what the index says they must be, so the damaged key and member are named.
pub fn verify(dir: &Path, manifest: &Manifest) -> Result<VerifyReport> {
    let mut report = VerifyReport::default();
    for entry in &manifest.shards {
        report.shards += 1;
        let path = dataset::shard_path(dir, entry);
        let meta = match std::fs::metadata(&path) {
            Ok(m) => m,
            Err(e) => {
                report.problems.push(Problem {
                    file: entry.name.clone(),
                    key: None,
                    member: None,
                    message: format!("cannot read: {e}"),
                });
                continue;
            }
        };
        report.bytes += meta.len();
        if meta.len() != entry.size {
            report.problems.push(Problem {
                file: entry.name.clone(),
                key: None,
                member: None,
                message: format!("size {} differs from manifest {}", meta.len(), entry.size),
            });
        }
        let sum = dataset::checksum_file(&path)?;
        if sum != entry.checksum {
            let located = locate(dir, entry)?;
            if located.is_empty() {
                report.problems.push(Problem {
                    file: entry.name.clone(),
                    key: None,
                    member: None,
                    message: format!("checksum {sum} differs from manifest {}", entry.checksum),
                });
            }
            report.problems.extend(located);
        }
    }
    for t in &manifest.tables {
        let path = dir.join(&t.name);
        match dataset::checksum_file(&path) {
            Ok(sum) if sum == t.checksum => {}
            Ok(sum) => report.problems.push(Problem {
                file: t.name.clone(),
                key: None,
                member: None,
                message: format!("checksum {sum} differs from manifest {}", t.checksum),
            }),
            Err(e) => report.problems.push(Problem {
                file: t.name.clone(),
                key: None,
                member: None,
                message: {
                    let mut m = e.to_string();
                    if let Some(src) = std::error::Error::source(&e) {
                        m.push_str(&format!(": {src}"));
                    }
                    m
                },
            }),
        }
    }
    Ok(report)
}

/// Finds which samples of a damaged shard differ from their index.
fn locate(dir: &Path, entry: &ShardEntry) -> Result<Vec<Problem>> {
    let index = dataset::read_index(dir, entry)?;
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
