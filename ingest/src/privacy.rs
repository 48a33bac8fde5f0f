//! What of a source's free text may reach a shareable dataset: session labels and annotations.
//!
//! Two policies live here, applied by the runtime unless `--keep-identity` (sessions) or
//! `--keep-free-text` (annotations) says otherwise:
//!
//! **Session labels → ordinals.** A session label can hold a date (`ses-20240105`,
//! `ses-2024-01-05`, `ses-baseline20240105`, `ses-05jan2024`), and a date of a visit is
//! identifying. [`SessionMap::of`] replaces the labels of a subject by ordinals `1`, `2`, ... in
//! the labels' natural order (digit runs compared as numbers, so dates and visit numbers keep
//! their chronological order and `2` comes before `10`):
//! - for adapters whose labels are free text from the tree (BIDS `ses-<label>`, see
//!   [`crate::Source::free_session_labels`]) *every* label becomes an ordinal: a label such as
//!   `ses-pre` or `ses-visit3march` cannot be told safe by its shape alone;
//! - for adapters that build labels from controlled fields (UK Biobank instance, ADNI visit
//!   code, TUH session token) labels are kept, unless any label of the tree looks like a date
//!   ([`date_like`]): then every label of that tree becomes an ordinal.
//!
//! The mapping is a function of the planned units alone, so every rank and every resume of a run
//! on the same tree computes the same ordinals. The original label appears nowhere in a
//! shareable output: keys, tar member names, indexes, `meta.json` (provenance paths),
//! `subjects.parquet` and the dataset's `report.jsonl` carry the ordinal.
//!
//! **Annotation text → allow-list.** Annotation text (BIDS `events.tsv` `trial_type`/`value`,
//! EDF+ TALs, BrainVision markers, FIF annotations) can hold names. [`keep_text`] keeps only:
//! numbers; marker codes (`S  1`, `R128`, `T0`); controlled terms — each `/`-separated part a
//! token of at most [`MAX_TOKEN`] characters from `[A-Za-z0-9_.:+-]` with no space; and the
//! phrases of [`VOCABULARY`] (common sleep-staging and EEG-protocol terms, case-insensitive)
//! and of the user's allow-list file (`--allow-terms FILE`, see [`read_terms`]; a term matches
//! the whole text or one `/`-separated part).
//! Anything else (text with spaces, long text, other characters) is replaced by [`DROPPED`];
//! onsets and durations are kept, and each chunk's `meta.json` counts the texts dropped
//! (`free_text_dropped`). A one-word name that looks like a token is *not* caught: the policy is
//! conservative about shapes, not a name detector.

use std::collections::{BTreeMap, BTreeSet};

use bomdata_schemas::eeg::Annotation;

use crate::source::Unit;

/// The text that replaces a dropped annotation text.
pub const DROPPED: &str = "n/a";

/// Longest token kept as a controlled term.
pub const MAX_TOKEN: usize = 32;

/// Phrases kept although they hold spaces (compared case-insensitively).
pub const VOCABULARY: &[&str] = &[
    "eyes open",
    "eyes closed",
    "eyes opened",
    "lights on",
    "lights off",
    "recording start",
    "recording starts",
    "recording end",
    "recording ends",
    "new segment",
    "sleep stage w",
    "sleep stage 1",
    "sleep stage 2",
    "sleep stage 3",
    "sleep stage 4",
    "sleep stage r",
    "sleep stage n1",
    "sleep stage n2",
    "sleep stage n3",
    "sleep stage ?",
    "movement time",
    "arousal",
    "obstructive apnea",
    "central apnea",
    "mixed apnea",
    "hypopnea",
    "spo2 desaturation",
    "photic stimulation",
    "hyperventilation",
    "seizure onset",
    "seizure end",
];

/// Whether a session label looks like it holds a date: a run of 6 or more digits
/// (`20240105`, `240105`), digit groups joined by `-`, `.` or `/` (`2024-01-05`, `05.01.24`), a
/// four-digit year from 1900 to 2099 among other characters, or a month name or abbreviation
/// next to a digit (`05jan2024`, `march3`).
pub fn date_like(label: &str) -> bool {
    let lower = label.to_ascii_lowercase();
    let b = lower.as_bytes();
    let runs = digit_runs(b);
    if runs.iter().any(|&(s, e)| e - s >= 6) {
        return true;
    }
    // Digit groups joined by a date separator.
    for w in runs.windows(2) {
        let (_, e0) = w[0];
        let (s1, _) = w[1];
        if s1 == e0 + 1 && matches!(b[e0], b'-' | b'.' | b'/') {
            return true;
        }
    }
    let year = runs.iter().any(|&(s, e)| {
        e - s == 4 && (lower[s..e].starts_with("19") || lower[s..e].starts_with("20"))
    });
    if year && lower.len() > 4 {
        return true;
    }
    const MONTHS: &[&str] = &[
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ];
    !runs.is_empty() && MONTHS.iter().any(|m| lower.contains(m))
}

/// Whether 8 digits read as a calendar date `YYYYMMDD` (years 1900–2099).
fn yyyymmdd(d: &[u8]) -> bool {
    let n =
        |r: std::ops::Range<usize>| d[r].iter().fold(0u32, |a, &c| a * 10 + u32::from(c - b'0'));
    d.len() >= 8
        && (1900..2100).contains(&n(0..4))
        && (1..=12).contains(&n(4..6))
        && (1..=31).contains(&n(6..8))
}

/// Replaces calendar dates in a path or message with `<date>`: a digit run of 8 or more that
/// starts with `YYYYMMDD` (`20060418`, `20060418082030`), and `YYYY-MM-DD` (or `.`/`/`
/// separated). Used on the shareable report, where source paths (DICOM file and folder names,
/// ADNI date folders) would otherwise carry acquisition dates.
pub fn scrub_dates(s: &str) -> String {
    let b = s.as_bytes();
    let runs = digit_runs(b);
    let mut cut: Vec<(usize, usize)> = Vec::new();
    let mut i = 0;
    while i < runs.len() {
        let (s0, e0) = runs[i];
        if e0 - s0 >= 8 && yyyymmdd(&b[s0..e0]) {
            cut.push((s0, e0));
        } else if i + 2 < runs.len() && e0 - s0 == 4 {
            let ((s1, e1), (s2, e2)) = (runs[i + 1], runs[i + 2]);
            let sep = |at: usize| matches!(b[at], b'-' | b'.' | b'/');
            if s1 == e0 + 1 && s2 == e1 + 1 && sep(e0) && sep(e1) && e1 - s1 == 2 && e2 - s2 == 2 {
                let mut d = b[s0..e0].to_vec();
                d.extend_from_slice(&b[s1..e1]);
                d.extend_from_slice(&b[s2..e2]);
                if yyyymmdd(&d) {
                    cut.push((s0, e2));
                    i += 3;
                    continue;
                }
            }
        }
        i += 1;
    }
    let mut out = String::with_capacity(s.len());
    let mut at = 0;
    for (a, e) in cut {
        out.push_str(&s[at..a]);
        out.push_str("<date>");
        at = e;
    }
    out.push_str(&s[at..]);
    out
}

/// `(start, end)` of every run of ASCII digits in `b`.
fn digit_runs(b: &[u8]) -> Vec<(usize, usize)> {
    let mut runs = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i].is_ascii_digit() {
            let s = i;
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
            runs.push((s, i));
        } else {
            i += 1;
        }
    }
    runs
}

/// Natural order of labels: digit runs compare as numbers (leading zeros ignored), the rest
/// byte-wise; ties broken by the plain byte order so the order is total.
pub fn natural_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    fn parts(s: &str) -> Vec<(bool, &str)> {
        let mut out = Vec::new();
        let bytes = s.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            let digit = bytes[i].is_ascii_digit();
            let st = i;
            while i < bytes.len() && bytes[i].is_ascii_digit() == digit {
                i += 1;
            }
            out.push((digit, &s[st..i]));
        }
        out
    }
    let (pa, pb) = (parts(a), parts(b));
    for (x, y) in pa.iter().zip(&pb) {
        let o = match (x.0, y.0) {
            (true, true) => {
                let (tx, ty) = (x.1.trim_start_matches('0'), y.1.trim_start_matches('0'));
                tx.len().cmp(&ty.len()).then_with(|| tx.cmp(ty))
            }
            _ => x.1.cmp(y.1),
        };
        if o.is_ne() {
            return o;
        }
    }
    pa.len().cmp(&pb.len()).then_with(|| a.cmp(b))
}

/// Session label → ordinal, per subject (see the module documentation).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SessionMap {
    map: BTreeMap<(String, String), String>,
}

impl SessionMap {
    /// The ordinals of the sessions of `units`. `free_labels`: the adapter's labels are free
    /// text from the tree, so every label is replaced; otherwise labels are replaced only when
    /// one of them looks like a date.
    pub fn of(units: &[Unit], free_labels: bool) -> SessionMap {
        let mut by_subject: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
        for u in units {
            if let Some(s) = &u.session {
                by_subject
                    .entry(u.subject.as_deref().unwrap_or(""))
                    .or_default()
                    .insert(s.as_str());
            }
        }
        let any_date = by_subject.values().flatten().any(|s| date_like(s));
        let mut map = BTreeMap::new();
        if !(free_labels || any_date) {
            return SessionMap { map };
        }
        for (subject, labels) in by_subject {
            let mut labels: Vec<&str> = labels.into_iter().collect();
            labels.sort_by(|a, b| natural_cmp(a, b));
            for (i, l) in labels.into_iter().enumerate() {
                map.insert((subject.to_string(), l.to_string()), (i + 1).to_string());
            }
        }
        SessionMap { map }
    }

    /// The ordinal of `session` of `subject` (`None`: the label is kept).
    pub fn get(&self, subject: Option<&str>, session: &str) -> Option<&str> {
        self.map
            .get(&(subject.unwrap_or("").to_string(), session.to_string()))
            .map(String::as_str)
    }

    /// Whether no label is replaced.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

/// Replaces the original session label in a source-relative path or message: `ses-<label>`
/// anywhere, and the bare label too when it looks like a date ([`date_like`]; a plain label
/// such as `rest` is left alone elsewhere, e.g. in `task-rest`).
pub fn rename_session(text: &str, original: &str, ordinal: &str) -> String {
    let s = text.replace(&format!("ses-{original}"), &format!("ses-{ordinal}"));
    if date_like(original) {
        s.replace(original, ordinal)
    } else {
        s
    }
}

/// Whether an annotation text passes the allow-list policy (see the module documentation).
pub fn keep_text(text: &str) -> bool {
    keep_text_with(text, &[])
}

/// [`keep_text`] with the user's extra terms (lower-case, as [`read_terms`] returns them).
pub fn keep_text_with(text: &str, extra: &[String]) -> bool {
    let t = text.trim();
    let listed = |s: &str| {
        let lower = s.to_ascii_lowercase();
        VOCABULARY.contains(&lower.as_str()) || extra.contains(&lower)
    };
    if t.is_empty() {
        return false;
    }
    if listed(t) {
        return true;
    }
    t.len() <= 4 * MAX_TOKEN
        && t.split('/').all(|part| {
            let p = part.trim();
            p.parse::<f64>().is_ok() || marker_code(p) || token(p) || listed(p)
        })
}

/// The terms of an allow-list file: one per line, trimmed and lower-cased; blank lines and
/// lines starting with `#` are skipped. Sorted and deduplicated.
pub fn read_terms(path: &std::path::Path) -> crate::Result<Vec<String>> {
    let text = std::fs::read_to_string(path).map_err(|e| crate::Error::io(path, e))?;
    let mut terms: Vec<String> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_ascii_lowercase)
        .collect();
    terms.sort();
    terms.dedup();
    Ok(terms)
}

/// A controlled token: 1 to [`MAX_TOKEN`] characters of `[A-Za-z0-9_.:+-]`.
fn token(p: &str) -> bool {
    !p.is_empty()
        && p.len() <= MAX_TOKEN
        && p.bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b':' | b'+' | b'-'))
}

/// A marker code: 1 to 3 letters, optional spaces, 1 to 6 digits (`S  1`, `R128`).
fn marker_code(p: &str) -> bool {
    let letters = p.bytes().take_while(u8::is_ascii_alphabetic).count();
    let rest = p[letters..].trim_start();
    (1..=3).contains(&letters)
        && (1..=6).contains(&rest.len())
        && rest.bytes().all(|c| c.is_ascii_digit())
}

/// Applies the policy (with the user's `extra` terms) to annotations: a text that is not kept
/// becomes [`DROPPED`]. Returns how many were dropped.
pub fn scrub_annotations(annotations: &mut [Annotation], extra: &[String]) -> u64 {
    let mut dropped = 0;
    for a in annotations {
        if !keep_text_with(&a.text, extra) {
            a.text = DROPPED.to_string();
            dropped += 1;
        }
    }
    dropped
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_in_paths_are_scrubbed() {
        assert_eq!(
            scrub_dates("MPRAGE/2006-04-18_08_20_30.0/I45108/ADNI_br_raw_20060418082030_1_S13.dcm"),
            "MPRAGE/<date>_08_20_30.0/I45108/ADNI_br_raw_<date>_1_S13.dcm"
        );
        assert_eq!(
            scrub_dates("run 12345678 and 1.2.840.10008"),
            "run 12345678 and 1.2.840.10008"
        );
        assert_eq!(scrub_dates("sub-1/ses-2/x.edf"), "sub-1/ses-2/x.edf");
    }

    fn unit(subject: &str, session: &str) -> Unit {
        Unit {
            id: format!("{subject}-{session}"),
            subject: Some(subject.into()),
            session: Some(session.into()),
            inputs: vec![],
            bytes: 0,
            detail: serde_json::Value::Null,
        }
    }

    #[test]
    fn dates_are_recognised() {
        for d in [
            "20240105",
            "2024-01-05",
            "baseline20240105",
            "240105",
            "05.01.24",
            "05jan2024",
            "march3",
            "visit2024",
        ] {
            assert!(date_like(d), "{d}");
        }
        for s in [
            "1", "01", "02", "baseline", "v03", "s001", "pre", "2", "2024",
        ] {
            assert!(!date_like(s), "{s}");
        }
    }

    #[test]
    fn natural_order_is_numeric() {
        let mut v = vec!["10", "2", "1", "20240612", "20240105", "02"];
        v.sort_by(|a, b| natural_cmp(a, b));
        assert_eq!(v, ["1", "02", "2", "10", "20240105", "20240612"]);
    }

    #[test]
    fn free_labels_become_ordinals_per_subject() {
        let units = [
            unit("a", "20240612"),
            unit("a", "20240105"),
            unit("b", "2023-12-01"),
            unit("a", "20240105"),
        ];
        let m = SessionMap::of(&units, true);
        assert_eq!(m.get(Some("a"), "20240105"), Some("1"));
        assert_eq!(m.get(Some("a"), "20240612"), Some("2"));
        assert_eq!(m.get(Some("b"), "2023-12-01"), Some("1"));
        // Deterministic: same units in another order → same map.
        let mut rev = units.to_vec();
        rev.reverse();
        assert_eq!(SessionMap::of(&rev, true), m);
    }

    #[test]
    fn controlled_labels_are_kept_unless_a_date_shows() {
        let units = [unit("a", "2"), unit("a", "3")];
        assert!(SessionMap::of(&units, false).is_empty());
        let units = [unit("a", "2"), unit("b", "baseline20240105")];
        let m = SessionMap::of(&units, false);
        assert_eq!(m.get(Some("a"), "2"), Some("1"));
        assert_eq!(m.get(Some("b"), "baseline20240105"), Some("1"));
    }

    #[test]
    fn rename_replaces_label_in_paths() {
        assert_eq!(
            rename_session(
                "sub-x/ses-20240105/eeg/sub-x_ses-20240105_eeg.edf",
                "20240105",
                "1"
            ),
            "sub-x/ses-1/eeg/sub-x_ses-1_eeg.edf"
        );
        assert_eq!(
            rename_session("a 20240105 b", "20240105", "2"),
            "a 2 b",
            "a date goes everywhere"
        );
        assert_eq!(
            rename_session("ses-rest/x_task-rest", "rest", "1"),
            "ses-1/x_task-rest"
        );
    }

    #[test]
    fn annotation_policy() {
        for k in [
            "seiz",
            "stimulus/S  1",
            "S  1",
            "R128",
            "T0",
            "go/12",
            "face_famous",
            "1.5",
            "Eyes closed",
            "Sleep stage W",
            "response:left",
        ] {
            assert!(keep_text(k), "{k}");
        }
        for d in [
            "Jane Doe",
            "patient Margaret Hamilton moved",
            "called Dr. Smith",
            "",
            "x".repeat(40).as_str(),
            "name=John (mother)",
        ] {
            assert!(!keep_text(d), "{d}");
        }
        let mut a = vec![
            Annotation {
                onset_s: 1.0,
                duration_s: Some(2.0),
                text: "Jane Doe".into(),
            },
            Annotation {
                onset_s: 3.0,
                duration_s: None,
                text: "T1".into(),
            },
        ];
        assert_eq!(scrub_annotations(&mut a, &[]), 1);
        assert_eq!(a[0].text, DROPPED);
        assert_eq!(a[0].onset_s, 1.0);
        assert_eq!(a[1].text, "T1");
    }

    #[test]
    fn allow_list_terms_are_kept() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("terms.txt");
        std::fs::write(&p, "# protocol\nFace Famous\n\nmusic on\n").unwrap();
        let terms = read_terms(&p).unwrap();
        assert_eq!(terms, ["face famous", "music on"]);
        assert!(keep_text_with("face famous", &terms));
        assert!(keep_text_with("stim/Music On", &terms));
        assert!(!keep_text("face famous"));
        assert!(!keep_text_with("Jane Doe", &terms));
    }
}
