//! Timing helpers shared by the benchmark examples (`<crate>/examples/bench_<name>.rs`, driven
//! by `bench/<name>/run.sh`): CPU time from `getrusage`, peak RSS, min/median of repeats and
//! running the sides of a comparison alternately.

/// Seconds of a `timeval`.
fn seconds(t: libc::timeval) -> f64 {
    t.tv_sec as f64 + t.tv_usec as f64 * 1e-6
}

/// User + system CPU seconds from `getrusage(who)`; NaN where the call fails.
fn rusage_cpu_seconds(who: libc::c_int) -> f64 {
    // SAFETY: an all-zero `rusage` is a valid value of this plain C struct.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `u` is a valid, writable `rusage` that getrusage fills in.
    if unsafe { libc::getrusage(who, &mut u) } != 0 {
        return f64::NAN;
    }
    seconds(u.ru_utime) + seconds(u.ru_stime)
}

/// CPU time (user + system) of the calling thread, in seconds (`RUSAGE_THREAD`).
pub fn thread_cpu_seconds() -> f64 {
    rusage_cpu_seconds(libc::RUSAGE_THREAD)
}

/// CPU time (user + system) of the whole process, all threads, in seconds (`RUSAGE_SELF`).
pub fn process_cpu_seconds() -> f64 {
    rusage_cpu_seconds(libc::RUSAGE_SELF)
}

/// Peak resident set size of this process in KiB (`VmHWM` of `/proc/self/status`); 0 where
/// that file is missing.
pub fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

/// The smallest and the median of repeated measurements (the median of an even count is the
/// mean of the middle two); `None` for no measurements.
pub fn min_median(values: &[f64]) -> Option<(f64, f64)> {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    let min = *v.first()?;
    let median = if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    };
    Some((min, median))
}

/// Runs each side `repeats` times, alternating (side 0, side 1, ..., side 0, ...), so that a
/// change in machine load touches every side alike; returns each side's results in run order.
pub fn alternate<T>(repeats: usize, sides: &mut [&mut dyn FnMut() -> T]) -> Vec<Vec<T>> {
    let mut out: Vec<Vec<T>> = sides.iter().map(|_| Vec::with_capacity(repeats)).collect();
    for _ in 0..repeats {
        for (side, results) in sides.iter_mut().zip(out.iter_mut()) {
            results.push(side());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn min_median_of_odd_and_even_counts() {
        assert_eq!(min_median(&[3.0, 1.0, 2.0]), Some((1.0, 2.0)));
        assert_eq!(min_median(&[4.0, 1.0, 3.0, 2.0]), Some((1.0, 2.5)));
        assert_eq!(min_median(&[]), None);
    }

    #[test]
    fn alternate_interleaves_the_sides() {
        let order = std::cell::RefCell::new(Vec::new());
        let mut a = || order.borrow_mut().push('a');
        let mut b = || order.borrow_mut().push('b');
        let runs = alternate(2, &mut [&mut a, &mut b]);
        assert_eq!(runs.len(), 2);
        assert_eq!(*order.borrow(), vec!['a', 'b', 'a', 'b']);
    }

    #[test]
    fn cpu_clocks_advance() {
        let (t0, p0) = (thread_cpu_seconds(), process_cpu_seconds());
        let mut x = 0u64;
        for i in 0..2_000_000u64 {
            x = x.wrapping_mul(31).wrapping_add(std::hint::black_box(i));
        }
        std::hint::black_box(x);
        assert!(thread_cpu_seconds() >= t0 && process_cpu_seconds() >= p0);
        assert!(peak_rss_kib() > 0);
    }
}
