//! A process-wide pool of large byte buffers, so a long run does not map fresh memory for
//! every sample.
//!
//! A canonical one-hour 64-channel EEG recording is a 236 MB `signal.npy`, a 4-D fMRI run
//! is larger. The system allocator serves buffers of this size with a fresh `mmap` and
//! returns them to the kernel on free, so every sample costs one page fault (and one page
//! zeroing) per 4 KiB on first touch. On the virtual machines these jobs often run on, that
//! is about 2 µs a page: half a second per gigabyte, more than the profile's arithmetic.
//! The shard reader takes its sample buffers from this pool, and the places where a sample's
//! life ends (a profile done with its input, the shard build after writing its output) give
//! them back, so a `bomdata shard` run over a dataset touches fresh pages only for its first
//! few samples.
//!
//! Only buffers of at least [`MIN_POOLED`] bytes are kept, at most [`MAX_BUFFERS`] of them
//! and at most `BOMDATA_BUFFER_POOL_MIB` MiB in all (default 1024; `0` turns the pool off).
//! A buffer from [`take`] has the asked length, but its bytes are whatever an earlier user
//! left there: callers overwrite all of it (a `read_exact`, a copy) or zero what they do not.

use std::sync::{Mutex, OnceLock};

use crate::Sample;

/// Buffers smaller than this are left to the system allocator, which already reuses them.
pub const MIN_POOLED: usize = 4 << 20;

/// The most buffers kept at once.
pub const MAX_BUFFERS: usize = 16;

struct Pool {
    /// Idle buffers, oldest first.
    idle: Vec<Vec<u8>>,
    /// Sum of their capacities.
    bytes: usize,
}

static POOL: Mutex<Pool> = Mutex::new(Pool {
    idle: Vec::new(),
    bytes: 0,
});

/// The pool's byte limit (`BOMDATA_BUFFER_POOL_MIB`, read once).
fn limit() -> usize {
    static LIMIT: OnceLock<usize> = OnceLock::new();
    *LIMIT.get_or_init(|| {
        std::env::var("BOMDATA_BUFFER_POOL_MIB")
            .ok()
            .and_then(|v| v.trim().parse::<usize>().ok())
            .unwrap_or(1024)
            .saturating_mul(1 << 20)
    })
}

fn pool() -> std::sync::MutexGuard<'static, Pool> {
    // The pool is a plain list; a panic elsewhere while it was locked leaves it valid.
    POOL.lock().unwrap_or_else(|e| e.into_inner())
}

/// A buffer of exactly `len` bytes. From [`MIN_POOLED`] up it comes from the pool when one
/// is idle there (the smallest whose capacity fits, else the largest, grown), and its bytes
/// are then unspecified: earlier contents or zeros. Smaller ones are zeroed.
pub fn take(len: usize) -> Vec<u8> {
    if len < MIN_POOLED {
        return vec![0; len];
    }
    let found = {
        let mut p = pool();
        let fit = p
            .idle
            .iter()
            .enumerate()
            .filter(|(_, b)| b.capacity() >= len)
            .min_by_key(|(_, b)| b.capacity())
            .map(|(i, _)| i);
        let pick = fit.or_else(|| {
            p.idle
                .iter()
                .enumerate()
                .max_by_key(|(_, b)| b.capacity())
                .map(|(i, _)| i)
        });
        pick.map(|i| {
            let b = p.idle.remove(i);
            p.bytes -= b.capacity();
            b
        })
    };
    match found {
        Some(mut b) => {
            // Every byte below the buffer's length was written by its earlier user, so
            // shortening costs nothing; growing zeroes only the new part (and a realloc of
            // a mapped buffer keeps its pages).
            if b.len() >= len {
                b.truncate(len);
            } else {
                b.resize(len, 0);
            }
            b
        }
        None => vec![0; len],
    }
}

/// Gives a buffer back: kept when it is at least [`MIN_POOLED`] bytes and fits the pool's
/// limits (the oldest idle buffers make room), otherwise freed.
pub fn give(buf: Vec<u8>) {
    let cap = buf.capacity();
    let max = limit();
    if cap < MIN_POOLED || cap > max {
        return;
    }
    let mut freed = Vec::new();
    {
        let mut p = pool();
        while !p.idle.is_empty() && (p.idle.len() >= MAX_BUFFERS || p.bytes + cap > max) {
            let old = p.idle.remove(0);
            p.bytes -= old.capacity();
            freed.push(old);
        }
        p.bytes += cap;
        p.idle.push(buf);
    }
    // Freed outside the lock: unmapping a large buffer takes a while.
    drop(freed);
}

/// Gives back every member buffer of a sample that is done with.
pub fn give_sample(sample: Sample) {
    for m in sample.members {
        give(m.data);
    }
}

/// Bytes held by idle buffers (for tests and reports).
pub fn idle_bytes() -> usize {
    pool().bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffers_come_back_with_the_asked_length() {
        // One test touches the process-wide pool, so the assertions cannot race each other.
        let small = take(10);
        assert_eq!(small, vec![0u8; 10]);
        give(small);
        let mut a = take(MIN_POOLED + 5);
        assert_eq!(a.len(), MIN_POOLED + 5);
        a.fill(7);
        let ptr = a.as_ptr();
        let before = idle_bytes();
        give(a);
        assert!(idle_bytes() >= before + MIN_POOLED);
        // A smaller request reuses it, with the earlier bytes still there.
        let b = take(MIN_POOLED + 1);
        assert_eq!(b.as_ptr(), ptr);
        assert_eq!(b.len(), MIN_POOLED + 1);
        assert!(b.iter().all(|&v| v == 7));
        // A larger one grows it: the new part is zeroed.
        give(b);
        let c = take(MIN_POOLED + 5 + 100);
        assert_eq!(c.len(), MIN_POOLED + 105);
        assert!(c[..MIN_POOLED + 1].iter().all(|&v| v == 7));
        assert!(c[MIN_POOLED + 5..].iter().all(|&v| v == 0));
        // Never more than MAX_BUFFERS idle.
        for _ in 0..MAX_BUFFERS + 3 {
            give(vec![1u8; MIN_POOLED]);
        }
        assert!(pool().idle.len() <= MAX_BUFFERS);
        assert!(idle_bytes() <= limit());
        drop(c);
    }
}
