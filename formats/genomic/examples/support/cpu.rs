//! CPU time for the benchmark examples (included with `#[path]`; not an example itself).

/// CPU time of the calling process's main thread in seconds, from `/proc/self/schedstat`
/// (nanoseconds); NaN where that file is missing.
pub fn main_thread_cpu_seconds() -> f64 {
    std::fs::read_to_string("/proc/self/schedstat")
        .ok()
        .and_then(|s| {
            s.split_whitespace()
                .next()
                .and_then(|x| x.parse::<f64>().ok())
        })
        .map(|ns| ns / 1e9)
        .unwrap_or(f64::NAN)
}
