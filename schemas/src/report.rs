//! `report.jsonl`: every input that failed or was skipped, one JSON object per line.

use serde::{Deserialize, Serialize};

/// What happened to an input.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The unit failed; nothing of it was written.
    Failed,
    /// The input was deliberately left out (e.g. a rejection rule of a profile).
    Skipped,
}

/// One line of `report.jsonl`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ReportEntry {
    /// Failed or skipped.
    pub outcome: Outcome,
    /// Work unit ID.
    pub unit: String,
    /// Path of the input, relative to the source root.
    pub path: String,
    /// Why, as one line.
    pub reason: String,
}

impl ReportEntry {
    /// The reason without what names this input: a leading `UNIT: ` or `PATH: ` and a trailing
    /// ` (detail)` are dropped, so that inputs left out by the same rule share one class (see
    /// [`summarize`]).
    pub fn reason_class(&self) -> &str {
        let mut r = self.reason.as_str();
        for prefix in [&self.unit, &self.path] {
            if !prefix.is_empty()
                && let Some(rest) = r.strip_prefix(prefix.as_str())
                && let Some(rest) = rest.strip_prefix(": ")
            {
                r = rest;
            }
        }
        if r.ends_with(')')
            && let Some(i) = r.rfind(" (")
            && i > 0
        {
            r = &r[..i];
        }
        r
    }
}

/// Counts of the entries with `outcome` by [`ReportEntry::reason_class`], most frequent first
/// (ties by class).
pub fn summarize(entries: &[ReportEntry], outcome: Outcome) -> Vec<(String, u64)> {
    let mut counts = std::collections::BTreeMap::<&str, u64>::new();
    for e in entries.iter().filter(|e| e.outcome == outcome) {
        *counts.entry(e.reason_class()).or_default() += 1;
    }
    let mut v: Vec<(String, u64)> = counts
        .into_iter()
        .map(|(k, n)| (k.to_string(), n))
        .collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    v
}

/// One line of [`summarize`]'s counts: `"12 × recording shorter than …; 1 × …"` (at most five
/// classes, then `"and N more"`).
pub fn summary_line(counts: &[(String, u64)]) -> String {
    let mut parts: Vec<String> = counts
        .iter()
        .take(5)
        .map(|(class, n)| format!("{n} × {class}"))
        .collect();
    if counts.len() > 5 {
        parts.push(format!("and {} more kinds", counts.len() - 5));
    }
    parts.join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn skip(unit: &str, reason: &str) -> ReportEntry {
        ReportEntry {
            outcome: Outcome::Skipped,
            unit: unit.into(),
            path: unit.into(),
            reason: reason.into(),
        }
    }

    #[test]
    fn classes_drop_the_input_and_the_detail() {
        let e = [
            skip("a", "a: shorter than cbramod's 300 s minimum (12.000 s)"),
            skip("b", "b: shorter than cbramod's 300 s minimum (1.000 s)"),
            skip("c", "no T1/T1.nii.gz in the archive"),
        ];
        let s = summarize(&e, Outcome::Skipped);
        assert_eq!(
            summary_line(&s),
            "2 × shorter than cbramod's 300 s minimum; 1 × no T1/T1.nii.gz in the archive"
        );
        assert!(summarize(&e, Outcome::Failed).is_empty());
    }
}
