//! Progress display: an indicatif bar on a terminal, plain periodic lines otherwise, JSON lines
//! with `--json`. The same display serves `ingest` (units) and `shard` (canonical samples, see
//! the `shard` submodule).

mod shard;
pub use shard::{shard_summary, token_summary_json};

use std::io::IsTerminal;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bomdata_ingest::Unit;
use bomdata_ingest::run::{Observer, UnitOutcome};
use indicatif::{ProgressBar, ProgressStyle};

/// How progress is shown.
pub struct Progress {
    bar: Option<ProgressBar>,
    json: bool,
    total_units: AtomicU64,
    total_bytes: AtomicU64,
    done_units: AtomicU64,
    done_bytes: AtomicU64,
    failed: AtomicU64,
    /// Shard: training samples written.
    written: AtomicU64,
    start: Instant,
    last_line: Mutex<Instant>,
    /// What is counted: "units" (ingest) or "samples" (shard).
    noun: &'static str,
}

impl Progress {
    /// A progress display; a bar only when stderr is a terminal and `json` is off.
    pub fn new(json: bool) -> Self {
        Self::counting(json, "units")
    }

    /// A progress display counting `noun` ("units", "samples").
    pub fn counting(json: bool, noun: &'static str) -> Self {
        let bar = (!json && std::io::stderr().is_terminal()).then(|| {
            let b = ProgressBar::new(0);
            if let Ok(style) = ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} {bytes_per_sec} ETA {eta} {msg}",
            ) {
                b.set_style(style);
            }
            b.enable_steady_tick(Duration::from_millis(200));
            b
        });
        Progress {
            bar,
            json,
            total_units: AtomicU64::new(0),
            total_bytes: AtomicU64::new(0),
            done_units: AtomicU64::new(0),
            done_bytes: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            written: AtomicU64::new(0),
            start: Instant::now(),
            last_line: Mutex::new(Instant::now()),
            noun,
        }
    }

    /// Removes the bar.
    pub fn finish(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }

    /// True (and the clock restarted) when `force` or the last line is two seconds old.
    fn due(&self, force: bool) -> bool {
        let Ok(mut last) = self.last_line.lock() else {
            return true;
        };
        if !force && last.elapsed() < Duration::from_secs(2) {
            return false;
        }
        *last = Instant::now();
        true
    }

    fn line(&self, force: bool) {
        let done = self.done_units.load(Ordering::Relaxed);
        let total = self.total_units.load(Ordering::Relaxed);
        let bytes = self.done_bytes.load(Ordering::Relaxed);
        let total_bytes = self.total_bytes.load(Ordering::Relaxed).max(1);
        let secs = self.start.elapsed().as_secs_f64().max(1e-3);
        let rate = bytes as f64 / secs;
        let eta = if rate > 0.0 && bytes > 0 {
            format!("{:.0} s", (total_bytes.saturating_sub(bytes)) as f64 / rate)
        } else {
            "?".to_string()
        };
        if !self.due(force) {
            return;
        }
        eprintln!(
            "bomdata: {done}/{total} {}, {:.1}/{:.1} MB, {:.1} MB/s, ETA {}, {} {}",
            self.noun,
            bytes as f64 / 1e6,
            total_bytes as f64 / 1e6,
            rate / 1e6,
            eta,
            self.failed.load(Ordering::Relaxed),
            if self.noun == "units" {
                "failed"
            } else {
                "rejected"
            }
        );
    }
}

impl Observer for Progress {
    fn planned(&self, units: &[Unit]) {
        let bytes: u64 = units.iter().map(|u| u.bytes).sum();
        self.total_units
            .store(units.len() as u64, Ordering::Relaxed);
        self.total_bytes.store(bytes, Ordering::Relaxed);
        if let Some(b) = &self.bar {
            b.set_length(bytes);
            b.set_message(format!("0/{} units", units.len()));
        } else if self.json {
            eprintln!(
                "{}",
                serde_json::json!({"event": "planned", "units": units.len(), "bytes": bytes})
            );
        } else {
            self.line(true);
        }
    }

    fn finished(&self, unit: &Unit, outcome: &UnitOutcome) {
        let done = self.done_units.fetch_add(1, Ordering::Relaxed) + 1;
        self.done_bytes.fetch_add(unit.bytes, Ordering::Relaxed);
        if let UnitOutcome::Failed(_) = outcome {
            self.failed.fetch_add(1, Ordering::Relaxed);
        }
        let total = self.total_units.load(Ordering::Relaxed);
        if let Some(b) = &self.bar {
            b.inc(unit.bytes);
            b.set_message(format!("{done}/{total} units"));
            if let UnitOutcome::Failed(r) = outcome {
                b.println(format!("failed: {}: {r}", unit.id));
            }
        } else if self.json {
            let (status, reason) = match outcome {
                UnitOutcome::AlreadyDone => ("already_done", None),
                UnitOutcome::Done { .. } => ("done", None),
                UnitOutcome::Failed(r) => ("failed", Some(r.clone())),
            };
            eprintln!(
                "{}",
                serde_json::json!({"event": "unit", "unit": unit.id, "status": status,
                    "reason": reason, "done": done, "total": total})
            );
        } else {
            if let UnitOutcome::Failed(r) = outcome {
                eprintln!("bomdata: failed: {}: {r}", unit.id);
            }
            self.line(done == total);
        }
    }
}
