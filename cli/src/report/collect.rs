//! What the report counts: every sample of a dataset from its shard indexes (source, modality,
//! split, subject), the entries of `report.jsonl` grouped by reason, and the provenance.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context;
use bomdata_schemas::Modality;
use bomdata_schemas::manifest::{IndexSample, Manifest};
use bomdata_schemas::report::{Outcome, ReportEntry};

/// One sample as the report sees it.
pub struct Located {
    /// The shard file.
    pub shard: PathBuf,
    /// Whole-shard compression (members are then not read for statistics).
    pub compressed: bool,
    /// The index entry.
    pub entry: IndexSample,
    /// Source id (from the key's prefix).
    pub source: String,
    /// Modality (from the key), `other` when the key names none.
    pub modality: String,
    /// `train`, `valid`, `test`, or `unsplit` (canonical datasets).
    pub split: String,
}

/// One input dataset.
pub struct DatasetView {
    /// The folder given.
    pub root: PathBuf,
    /// Its manifest.
    pub manifest: Manifest,
    /// XXH3-128 of `manifest.json`: names this exact dataset.
    pub fingerprint: String,
    /// Every sample, in manifest and index order.
    pub samples: Vec<Located>,
    /// `report.jsonl`, when present.
    pub report: Vec<ReportEntry>,
}

/// The split a shard's name gives (`<name>-<split>-NNNNNN.tar`), else `unsplit`.
fn split_of(shard: &str) -> &'static str {
    ["train", "valid", "test"]
        .into_iter()
        .find(|s| shard.contains(&format!("-{s}-")))
        .unwrap_or("unsplit")
}

/// The modality named by a `_`-separated segment of the key after the source.
pub fn modality_of(key: &str) -> Option<Modality> {
    // Two-word names (`clinical_text`) span two segments: try each pair first.
    let segs: Vec<&str> = key.split('_').skip(1).collect();
    segs.windows(2)
        .find_map(|w| format!("{}_{}", w[0], w[1]).parse::<Modality>().ok())
        .or_else(|| segs.iter().find_map(|seg| seg.parse::<Modality>().ok()))
}

/// Reads a dataset's manifest, indexes and report.
pub fn open(root: &Path) -> anyhow::Result<DatasetView> {
    let manifest_path = root.join(bomdata_shard::dataset::MANIFEST);
    if !manifest_path.is_file() {
        anyhow::bail!(
            "{}: not a bomdata dataset: no manifest.json",
            root.display()
        );
    }
    let bytes = std::fs::read(&manifest_path)
        .with_context(|| format!("reading {}", manifest_path.display()))?;
    let manifest = bomdata_shard::dataset::read_manifest(root)
        .with_context(|| format!("reading {}", manifest_path.display()))?;
    let mut sources = manifest.sources.clone();
    sources.sort_by_key(|s| std::cmp::Reverse(s.len()));
    let mut samples = Vec::new();
    for shard in &manifest.shards {
        let index = bomdata_shard::dataset::read_index(root, shard)
            .with_context(|| format!("reading the index of {}", shard.name))?;
        let path = bomdata_shard::dataset::shard_path(root, shard);
        for entry in index.samples {
            let source = sources
                .iter()
                .find(|s| {
                    entry
                        .key
                        .starts_with(&format!("{}_", bomdata_schemas::key::sanitize(s)))
                })
                .cloned()
                .unwrap_or_else(|| entry.key.split('_').next().unwrap_or_default().to_string());
            samples.push(Located {
                shard: path.clone(),
                compressed: shard.name.ends_with(".zst"),
                modality: modality_of(&entry.key).map_or_else(|| "other".into(), |m| m.to_string()),
                split: split_of(&shard.name).to_string(),
                source,
                entry,
            });
        }
    }
    Ok(DatasetView {
        root: root.to_path_buf(),
        fingerprint: bomdata_shard::dataset::checksum128(&bytes),
        manifest,
        samples,
        report: read_report(root)?,
    })
}

fn read_report(root: &Path) -> anyhow::Result<Vec<ReportEntry>> {
    let p = root.join(bomdata_shard::dataset::REPORT);
    let Ok(text) = std::fs::read_to_string(&p) else {
        return Ok(Vec::new());
    };
    // A line that does not parse is itself worth reporting, not a reason to stop.
    Ok(text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            serde_json::from_str(l).unwrap_or_else(|_| ReportEntry {
                outcome: Outcome::Failed,
                unit: String::new(),
                path: String::new(),
                reason: "report.jsonl: a line that is not a report entry".into(),
            })
        })
        .collect())
}

/// Samples and bytes by (dataset label, key).
pub type Counts = BTreeMap<(String, String), (u64, u64)>;

/// Samples and bytes by (dataset label, `by(sample)`).
pub fn count_by(views: &[DatasetView], by: impl Fn(&Located) -> String) -> Counts {
    let mut m = BTreeMap::new();
    for v in views {
        for s in &v.samples {
            let e = m.entry((label(v), by(s))).or_insert((0u64, 0u64));
            e.0 += 1;
            e.1 += s.entry.size;
        }
    }
    m
}

/// Per subject (pseudonym): samples per modality, over every dataset.
pub fn subjects(views: &[DatasetView]) -> BTreeMap<String, BTreeMap<String, u64>> {
    let mut m: BTreeMap<String, BTreeMap<String, u64>> = BTreeMap::new();
    for v in views {
        for s in &v.samples {
            let subject = s.entry.subject.clone().unwrap_or_else(|| "(none)".into());
            *m.entry(subject)
                .or_default()
                .entry(s.modality.clone())
                .or_default() += 1;
        }
    }
    m
}

/// The short label of a dataset in tables: its folder name.
pub fn label(v: &DatasetView) -> String {
    v.root.file_name().map_or_else(
        || v.root.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}

/// One group of report entries: outcome, reason pattern, count, up to three examples.
pub struct ReasonGroup {
    /// `failed` or `skipped`.
    pub outcome: &'static str,
    /// The reason with paths and long numbers masked.
    pub reason: String,
    /// Entries in the group.
    pub count: u64,
    /// Up to three (masked) units.
    pub examples: Vec<String>,
}

/// Groups every dataset's report entries by outcome and masked reason, largest groups first.
pub fn reasons(views: &[DatasetView]) -> Vec<ReasonGroup> {
    let mut m: BTreeMap<(&'static str, String), (u64, Vec<String>)> = BTreeMap::new();
    for v in views {
        for r in &v.report {
            let outcome = match r.outcome {
                Outcome::Failed => "failed",
                _ => "skipped",
            };
            let e = m.entry((outcome, pattern(&r.reason))).or_default();
            e.0 += 1;
            if e.1.len() < 3 {
                e.1.push(format!("{}: {}", label(v), mask(&r.unit)));
            }
        }
    }
    let mut groups: Vec<ReasonGroup> = m
        .into_iter()
        .map(|((outcome, reason), (count, examples))| ReasonGroup {
            outcome,
            reason,
            count,
            examples,
        })
        .collect();
    groups.sort_by(|a, b| b.count.cmp(&a.count).then(a.reason.cmp(&b.reason)));
    groups
}

/// Masks what could name a person in a source path or a reason: a path keeps its file name,
/// a BIDS `sub-<label>` loses its label and runs of four or more digits become `#`.
pub fn mask(s: &str) -> String {
    let mut out = Vec::new();
    for word in s.split(' ') {
        let w = if word.contains('/') {
            word.rsplit('/').next().unwrap_or_default()
        } else {
            word
        };
        let mut t = String::with_capacity(w.len());
        let mut rest = w;
        while let Some(i) = rest.find("sub-") {
            t.push_str(&rest[..i + 4]);
            t.push('…');
            rest = &rest[i + 4..];
            let end = rest
                .find(|c: char| !c.is_ascii_alphanumeric())
                .unwrap_or(rest.len());
            rest = &rest[end..];
        }
        t.push_str(rest);
        out.push(mask_digits(&t));
    }
    out.join(" ")
}

fn mask_digits(s: &str) -> String {
    mask_runs(s, |c| c.is_ascii_digit(), 4, "#")
}

/// Replaces runs of 8 or more hex digits (pseudonyms, checksums) with `…`.
fn mask_ids(s: &str) -> String {
    mask_runs(
        s,
        |c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase(),
        8,
        "…",
    )
}

/// Replaces every run of at least `min` characters matching `is_run` with `with`.
fn mask_runs(s: &str, is_run: impl Fn(char) -> bool, min: usize, with: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut run = String::new();
    for c in s.chars().chain(std::iter::once(' ')) {
        if is_run(c) {
            run.push(c);
            continue;
        }
        if run.len() >= min {
            out.push_str(with);
        } else {
            out.push_str(&run);
        }
        run.clear();
        out.push(c);
    }
    out.pop();
    out
}

/// A reason with its variable parts (numbers) replaced, so that like failures group together.
fn pattern(reason: &str) -> String {
    let masked = mask(&mask_ids(reason));
    let mut out = String::with_capacity(masked.len());
    let mut in_num = false;
    for c in masked.chars() {
        if c.is_ascii_digit() {
            if !in_num {
                out.push('N');
            }
            in_num = true;
        } else {
            in_num = false;
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_paths_labels_and_long_numbers() {
        assert_eq!(
            mask("/data/ukb/sub-1234567/anat/sub-1234567_T1w.nii truncated at 123456"),
            "sub-…_T1w.nii truncated at #"
        );
        assert_eq!(pattern("needs 12 bytes, has 3"), "needs N bytes, has N");
        assert_eq!(
            pattern("x_3fdb3d68962b2f0270dedd571e504338_T1w: shape [91, 109]"),
            "x_…_TNw: shape [N, N]"
        );
        assert_eq!(
            modality_of("c_0344_bl_visits-csv_clinical_text_000002"),
            Some(Modality::ClinicalText)
        );
        assert_eq!(
            modality_of("c_0344_task-rest_bold_fmri_000002"),
            Some(Modality::Fmri)
        );
    }
}
