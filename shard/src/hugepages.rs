//! Transparent huge pages for large buffers: fewer, cheaper first-touch page faults.
//!
//! A fresh large buffer costs one page fault per 4 KiB page on first touch (about 2 µs each
//! on the virtual machines these jobs run on: half a second per gigabyte). Where the kernel's
//! transparent huge pages are in `madvise` mode (the common default), a region marked with
//! `MADV_HUGEPAGE` is faulted in 2 MiB at a time instead: 512 times fewer faults. A process
//! that processes one recording and exits (the EEG bench's fresh process) pays this on every
//! canonical buffer, FFT buffer and output window it touches.
//!
//! [`HugePageAlloc`] is a global allocator that wraps the system allocator and marks every
//! allocation of at least [`HUGE_MIN`] bytes; binaries opt in with
//! `#[global_allocator] static A: bomdata_shard::hugepages::HugePageAlloc = HugePageAlloc;`.
//! [`advise`] marks one buffer. Both are no-ops off Linux, and where the kernel refuses (THP
//! `never`), the pages are the ordinary ones. Memory use grows by at most 2 MiB per large
//! allocation (a partly touched huge page), which is small beside the buffers themselves.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, Ordering};

/// Allocations from this size up are marked for huge pages.
pub const HUGE_MIN: usize = 4 << 20;

const HUGE_PAGE: usize = 2 << 20;

static ENABLED: AtomicBool = AtomicBool::new(true);

/// Turns the marking on or off for the whole process (on by default); for comparisons.
pub fn set_enabled(on: bool) {
    ENABLED.store(on, Ordering::Relaxed);
}

/// Marks the whole 2 MiB pages inside `[ptr, ptr + len)` for transparent huge pages (Linux
/// `madvise(MADV_HUGEPAGE)`); errors are ignored (the pages stay ordinary ones).
pub fn advise(ptr: *const u8, len: usize) {
    #[cfg(target_os = "linux")]
    if ENABLED.load(Ordering::Relaxed) {
        let start = (ptr as usize).next_multiple_of(HUGE_PAGE);
        let end = (ptr as usize).saturating_add(len) & !(HUGE_PAGE - 1);
        if end > start {
            // SAFETY: madvise only changes the paging policy of a range inside an allocation
            // this process owns; it never reads or writes the memory.
            unsafe {
                libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_HUGEPAGE);
            }
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = (ptr, len);
}

/// The system allocator, with allocations of [`HUGE_MIN`] bytes and more marked for
/// transparent huge pages (see the module docs).
#[derive(Clone, Copy, Debug, Default)]
pub struct HugePageAlloc;

// SAFETY: every call is forwarded to `System` with the caller's arguments; `advise` only
// changes the paging policy of the memory `System` returned.
unsafe impl GlobalAlloc for HugePageAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded with the caller's guarantees.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() && layout.size() >= HUGE_MIN {
            advise(p, layout.size());
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded with the caller's guarantees.
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() && layout.size() >= HUGE_MIN {
            advise(p, layout.size());
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: forwarded with the caller's guarantees.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() && new_size >= HUGE_MIN {
            advise(p, new_size);
        }
        p
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn large_and_small_allocations_work_through_it() {
        let a = HugePageAlloc;
        for size in [64, HUGE_MIN, HUGE_MIN + 12_345] {
            let layout = Layout::from_size_align(size, 64).unwrap_or_else(|_| unreachable!());
            // SAFETY: a non-zero size and a valid layout; freed with the same layout.
            unsafe {
                let p = a.alloc_zeroed(layout);
                assert!(!p.is_null());
                assert_eq!(*p.add(size - 1), 0);
                *p.add(size - 1) = 7;
                let q = a.realloc(p, layout, size * 2);
                assert!(!q.is_null());
                assert_eq!(*q.add(size - 1), 7);
                a.dealloc(
                    q,
                    Layout::from_size_align(size * 2, 64).unwrap_or_else(|_| unreachable!()),
                );
            }
        }
    }
}
