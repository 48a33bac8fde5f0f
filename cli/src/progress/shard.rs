//! The progress of `bomdata shard`: canonical samples done (with their bytes), training samples
//! written, parts the profile rejected.

use std::sync::atomic::Ordering;

use bomdata_profiles::progress::BuildObserver;

use super::Progress;

impl BuildObserver for Progress {
    fn planned(&self, samples: u64, bytes: u64) {
        self.total_units.store(samples, Ordering::Relaxed);
        self.total_bytes.store(bytes, Ordering::Relaxed);
        if let Some(b) = &self.bar {
            b.set_length(bytes);
            b.set_message(format!("0/{samples} samples"));
        } else if self.json {
            eprintln!(
                "{}",
                serde_json::json!({"event": "planned", "samples": samples, "bytes": bytes})
            );
        } else {
            self.line(true);
        }
    }

    fn sample_done(&self, bytes: u64, written: u64, rejected: u64) {
        let done = self.done_units.fetch_add(1, Ordering::Relaxed) + 1;
        self.done_bytes.fetch_add(bytes, Ordering::Relaxed);
        self.written.fetch_add(written, Ordering::Relaxed);
        let rejected_all = self.failed.fetch_add(rejected, Ordering::Relaxed) + rejected;
        let total = self.total_units.load(Ordering::Relaxed);
        if let Some(b) = &self.bar {
            b.inc(bytes);
            b.set_message(format!("{done}/{total} samples"));
        } else if self.json {
            // One line every two seconds and the last one: a DNA dataset has millions of samples.
            if self.due(done == total) {
                eprintln!(
                    "{}",
                    serde_json::json!({"event": "progress", "done": done, "total": total,
                        "bytes": self.done_bytes.load(Ordering::Relaxed),
                        "written": self.written.load(Ordering::Relaxed),
                        "rejected": rejected_all})
                );
            }
        } else {
            self.line(done == total);
        }
    }
}

/// Prints the end of a profile build on stderr: one JSON event with `json`, else one line.
pub fn shard_summary(
    json: bool,
    profile: &str,
    m: &bomdata_schemas::manifest::Manifest,
    out: &std::path::Path,
) {
    let manifest = out.join("manifest.json");
    if json {
        eprintln!(
            "{}",
            serde_json::json!({"event": "summary", "profile": profile,
                "samples": m.counts.samples, "shards": m.counts.shards,
                "subjects": m.counts.subjects, "manifest": manifest})
        );
    } else {
        eprintln!(
            "bomdata: profile {profile}: {} samples in {} shards ({} subjects) -> {}",
            m.counts.samples,
            m.counts.shards,
            m.counts.subjects,
            manifest.display()
        );
    }
}

/// Prints the end of a token build as one JSON event on stderr (`--json`).
pub fn token_summary_json(
    tokenizer: &str,
    seq_len: usize,
    s: &bomdata_profiles::tokens::TokenSummary,
    out: &std::path::Path,
) {
    eprintln!(
        "{}",
        serde_json::json!({"event": "summary", "tokenizer": tokenizer,
            "documents": s.documents, "tokens": s.tokens, "dtype": s.dtype.name(),
            "sequences": s.sequences, "seq_len": seq_len,
            "shards": s.manifest.counts.shards, "skipped": s.skipped,
            "lowercase": s.lowercase.as_ref().map(|l| serde_json::json!({
                "bases": l.bases, "documents": l.documents, "effect": l.effect.name()})),
            "manifest": out.join("manifest.json")})
    );
}
