//! The per-unit memory budget: the most bytes one reader may allocate for one unit of work (a
//! volume, a signal, a matrix) on the strength of what a header declares.
//!
//! Readers grow their buffers as data arrives where they can; where a whole array must exist
//! before it is filled (a transpose, a C-order `.npy`), they first ask [`check`] whether the
//! declared size fits, so that a header claiming terabytes fails that one file with a clear
//! error rather than aborting the process. The budget is process-wide: by default a quarter of
//! the smaller of physical memory and the address-space limit (`ulimit -v`), changed with
//! [`set`] (`--unit-memory` on the command line).
//!
//! ```
//! use bomdata_format_core::budget;
//! assert!(budget::check(1024, "a small volume").is_ok());
//! assert!(budget::check(u64::MAX, "a huge volume").is_err());
//! assert_eq!(budget::parse_size("4GiB"), Some(4 << 30));
//! ```

use std::sync::atomic::{AtomicU64, Ordering};

/// 0 = not set yet (the default is computed on first use).
static BUDGET: AtomicU64 = AtomicU64::new(0);

/// Used when neither physical memory nor the address-space limit can be read.
const FALLBACK: u64 = 4 << 30;

/// A declared size over the budget.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "{what} needs {} but the per-unit memory budget is {} (--unit-memory raises it)",
    human(*.need),
    human(*.budget)
)]
pub struct OverBudget {
    /// What would have been allocated.
    pub what: String,
    /// Bytes it needs.
    pub need: u64,
    /// The budget.
    pub budget: u64,
}

impl From<OverBudget> for std::io::Error {
    fn from(e: OverBudget) -> Self {
        std::io::Error::new(std::io::ErrorKind::OutOfMemory, e)
    }
}

/// The current per-unit budget in bytes.
pub fn get() -> u64 {
    match BUDGET.load(Ordering::Relaxed) {
        0 => {
            let d = default_budget();
            BUDGET.store(d, Ordering::Relaxed);
            d
        }
        b => b,
    }
}

/// Sets the per-unit budget (bytes, at least 1).
pub fn set(bytes: u64) {
    BUDGET.store(bytes.max(1), Ordering::Relaxed);
}

/// `Ok` when `need` bytes fit the budget, else an [`OverBudget`] naming `what`.
pub fn check(need: u64, what: &str) -> Result<(), OverBudget> {
    let budget = get();
    if need <= budget {
        Ok(())
    } else {
        Err(OverBudget {
            what: what.to_string(),
            need,
            budget,
        })
    }
}

/// A quarter of the smaller of physical memory and the address-space limit.
pub fn default_budget() -> u64 {
    let ram = proc_value("/proc/meminfo", "MemTotal:").map(|kib| kib.saturating_mul(1024));
    let limit = proc_value("/proc/self/limits", "Max address space");
    match (ram, limit) {
        (Some(a), Some(b)) => a.min(b) / 4,
        (Some(a), None) | (None, Some(a)) => a / 4,
        (None, None) => FALLBACK,
    }
}

/// The first number after `label` on its line of a `/proc` file (`None` for `unlimited`).
fn proc_value(file: &str, label: &str) -> Option<u64> {
    let text = std::fs::read_to_string(file).ok()?;
    let line = text.lines().find(|l| l.starts_with(label))?;
    line[label.len()..].split_whitespace().next()?.parse().ok()
}

/// Parses `4GiB`, `512MiB`, `2G`, `1000000` (bytes; K/M/G/T are powers of 1024 with or
/// without `iB`, and `KB`/`MB`/`GB`/`TB` powers of 1000).
pub fn parse_size(s: &str) -> Option<u64> {
    let s = s.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let num: f64 = num.parse().ok()?;
    let mult: f64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "k" | "kib" => 1024.0,
        "m" | "mib" => 1024.0 * 1024.0,
        "g" | "gib" => 1024.0 * 1024.0 * 1024.0,
        "t" | "tib" => 1024.0f64.powi(4),
        "kb" => 1e3,
        "mb" => 1e6,
        "gb" => 1e9,
        "tb" => 1e12,
        _ => return None,
    };
    let v = num * mult;
    (1.0..1.8e19).contains(&v).then_some(v as u64)
}

/// `3.0 GiB`, `512.0 MiB`, `100 B`.
pub fn human(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut v = bytes as f64 / 1024.0;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < UNITS.len() {
        v /= 1024.0;
        u += 1;
    }
    format!("{v:.1} {}", UNITS[u])
}
