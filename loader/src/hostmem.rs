//! Batch buffers in host memory: aligned, reusable and optionally page-locked.
//!
//! Every field of a batch is collated into one [`AlignedBuf`]. Buffers come back to the loader
//! when a batch is dropped and are reused, so locking their pages costs once per buffer, not
//! once per batch. A [`PageLocker`] locks a buffer's pages when it is allocated and unlocks them
//! before it is freed:
//!
//! - [`OsLock`]: `mlock(2)`, so the kernel never pages the buffers out (a training job's
//!   staging memory stays resident under memory pressure). Refusals (`RLIMIT_MEMLOCK`) are not
//!   errors: the buffer stays pageable and [`crate::EpochStats::lock_failures`] counts it.
//! - with the `tch` feature, `tensor::CudaHostRegister` registers the buffers with the CUDA
//!   driver (page-locked *and* pinned for DMA), so host→device copies read the batch buffer
//!   itself, asynchronously, without a staging copy.

use std::alloc::Layout;
use std::ptr::NonNull;
use std::sync::Arc;

/// Locks and unlocks the pages of batch buffers.
pub trait PageLocker: Send + Sync + std::fmt::Debug {
    /// Locks `len` bytes at `ptr` (page-aligned when `len` is at least a page); false when
    /// refused (the buffer is then used unlocked).
    ///
    /// # Safety
    /// `ptr..ptr + len` is one live allocation that is not freed before [`PageLocker::unlock`].
    unsafe fn lock(&self, ptr: *mut u8, len: usize) -> bool;

    /// Unlocks a region that [`PageLocker::lock`] locked.
    ///
    /// # Safety
    /// `ptr`/`len` are exactly those of a successful `lock` that has not been undone.
    unsafe fn unlock(&self, ptr: *mut u8, len: usize);

    /// True when locked buffers are pinned for device DMA (CUDA host registration).
    fn pins_for_device(&self) -> bool {
        false
    }
}

/// `mlock(2)` page locking (a no-op refusal on non-Unix systems).
#[derive(Clone, Copy, Debug, Default)]
pub struct OsLock;

impl PageLocker for OsLock {
    unsafe fn lock(&self, ptr: *mut u8, len: usize) -> bool {
        #[cfg(unix)]
        {
            // SAFETY: the caller guarantees a live allocation of `len` bytes.
            unsafe { libc::mlock(ptr.cast(), len) == 0 }
        }
        #[cfg(not(unix))]
        {
            let _ = (ptr, len);
            false
        }
    }

    unsafe fn unlock(&self, ptr: *mut u8, len: usize) {
        #[cfg(unix)]
        {
            // SAFETY: as for `lock`; failure leaves the pages locked until the memory is freed.
            unsafe {
                libc::munlock(ptr.cast(), len);
            }
        }
        #[cfg(not(unix))]
        {
            let _ = (ptr, len);
        }
    }
}

const PAGE: usize = 4096;

/// Buffers from this size up are mapped straight from the kernel (Linux: anonymous `mmap`
/// with `MAP_POPULATE`): their pages arrive zeroed and mapped in one call, where an aligned
/// heap allocation would be zeroed again by `memset` and then take one page fault per page
/// on first write (bench/loader: a large-sample epoch's fresh batch buffers were a tenth of
/// its CPU time).
pub const MAP_MIN: usize = 1 << 20;

/// Allocates `cap` zeroed bytes (page-aligned from one page up); `mapped` says how it must be
/// freed ([`free`]). `None` when memory is exhausted.
fn alloc(cap: usize) -> Option<(NonNull<u8>, bool)> {
    #[cfg(target_os = "linux")]
    if cap >= MAP_MIN {
        // SAFETY: a fresh private anonymous mapping; no existing memory is touched.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                cap,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_POPULATE,
                -1,
                0,
            )
        };
        if p != libc::MAP_FAILED {
            return NonNull::new(p.cast::<u8>()).map(|p| (p, true));
        }
    }
    let layout = AlignedBuf::layout(cap)?;
    // SAFETY: `cap > 0` (callers allocate only to grow).
    let raw = unsafe { std::alloc::alloc_zeroed(layout) };
    NonNull::new(raw).map(|p| (p, false))
}

/// Frees what [`alloc`] returned for `cap`.
///
/// # Safety
/// `ptr`/`cap`/`mapped` are those of one live [`alloc`] result, not used afterwards.
unsafe fn free(ptr: NonNull<u8>, cap: usize, mapped: bool) {
    #[cfg(target_os = "linux")]
    if mapped {
        // SAFETY: the whole mapping made in `alloc`.
        unsafe { libc::munmap(ptr.as_ptr().cast(), cap) };
        return;
    }
    let _ = mapped;
    if let Some(layout) = AlignedBuf::layout(cap) {
        // SAFETY: allocated with this layout in `alloc`.
        unsafe { std::alloc::dealloc(ptr.as_ptr(), layout) };
    }
}

/// A byte buffer aligned to 64 bytes (4096 from one page up): enough for every `.npy` dtype,
/// for `from_blob` and for page locking. Grows, never shrinks. A fresh allocation is zero;
/// bytes of a reused one hold what an earlier batch left there.
pub struct AlignedBuf {
    ptr: NonNull<u8>,
    cap: usize,
    len: usize,
    /// The allocation is an anonymous mapping ([`MAP_MIN`]).
    mapped: bool,
    locker: Option<Arc<dyn PageLocker>>,
    locked: bool,
    refused: u32,
}

// SAFETY: the buffer uniquely owns its allocation, like a `Vec<u8>`; the locker is Send + Sync.
unsafe impl Send for AlignedBuf {}
// SAFETY: shared access only reads through `&self`.
unsafe impl Sync for AlignedBuf {}

impl std::fmt::Debug for AlignedBuf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AlignedBuf")
            .field("len", &self.len)
            .field("cap", &self.cap)
            .field("locked", &self.locked)
            .finish()
    }
}

impl Default for AlignedBuf {
    fn default() -> Self {
        AlignedBuf::new(None)
    }
}

impl AlignedBuf {
    /// An empty buffer whose allocations `locker` (if any) locks.
    pub fn new(locker: Option<Arc<dyn PageLocker>>) -> AlignedBuf {
        AlignedBuf {
            ptr: NonNull::dangling(),
            cap: 0,
            len: 0,
            mapped: false,
            locker,
            locked: false,
            refused: 0,
        }
    }

    /// The locker its allocations use.
    pub(crate) fn locker(&self) -> Option<Arc<dyn PageLocker>> {
        self.locker.clone()
    }

    fn layout(cap: usize) -> Option<Layout> {
        let align = if cap >= PAGE { PAGE } else { 64 };
        Layout::from_size_align(cap, align).ok()
    }

    /// Sets the length to `n`, growing the allocation when needed (contents up to the old
    /// length are kept). Aborts like `Vec` when memory is exhausted.
    pub(crate) fn set_len(&mut self, n: usize) {
        if n > self.cap {
            // bytes fields grow by appending: double; tensor fields get their exact size
            let want = n.max(self.cap.saturating_mul(2));
            let cap = if want >= PAGE {
                want.div_ceil(PAGE) * PAGE
            } else {
                want.div_ceil(64) * 64
            };
            let Some((ptr, mapped)) = alloc(cap) else {
                std::alloc::handle_alloc_error(Self::layout(cap).unwrap_or_else(Layout::new::<u8>));
            };
            let raw = ptr.as_ptr();
            if self.len > 0 {
                // SAFETY: both regions are live, distinct and hold at least `len` bytes.
                unsafe { std::ptr::copy_nonoverlapping(self.ptr.as_ptr(), raw, self.len) };
            }
            self.release();
            self.ptr = ptr;
            self.cap = cap;
            self.mapped = mapped;
            if let Some(l) = &self.locker {
                // SAFETY: a live allocation of `cap` bytes, unlocked in `release` before free.
                self.locked = unsafe { l.lock(raw, cap) };
                self.refused += u32::from(!self.locked);
            }
        }
        self.len = n;
    }

    /// Allocations the locker refused since the last call.
    pub(crate) fn take_refused(&mut self) -> u32 {
        std::mem::take(&mut self.refused)
    }

    fn release(&mut self) {
        if self.cap == 0 {
            return;
        }
        if self.locked
            && let Some(l) = &self.locker
        {
            // SAFETY: the region `lock` succeeded on.
            unsafe { l.unlock(self.ptr.as_ptr(), self.cap) };
        }
        self.locked = false;
        // SAFETY: the allocation `set_len` made; the fields are reset below.
        unsafe { free(self.ptr, self.cap, self.mapped) };
        self.mapped = false;
        self.cap = 0;
        self.ptr = NonNull::dangling();
    }

    /// The bytes.
    pub fn as_slice(&self) -> &[u8] {
        // SAFETY: `ptr` holds `cap >= len` initialised bytes (zero-filled on allocation), or is
        // dangling with `len == 0`.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }

    /// The bytes, mutable.
    pub fn as_mut_slice(&mut self) -> &mut [u8] {
        // SAFETY: as in `as_slice`; the borrow is unique.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.len) }
    }

    /// Bytes in use.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// True when the locker locked the current allocation.
    pub fn is_locked(&self) -> bool {
        self.locked
    }

    /// True when the buffer is locked by a locker that pins for device DMA.
    pub fn is_pinned(&self) -> bool {
        self.locked && self.locker.as_ref().is_some_and(|l| l.pins_for_device())
    }
}

impl Drop for AlignedBuf {
    fn drop(&mut self) {
        self.release();
    }
}

/// Copies `src` into `dst` (same length). Copies from [`NT_MIN`] bytes use non-temporal stores
/// where the CPU has AVX2: the batch buffer is written without first being read into the cache
/// (the consumer usually sends it to a device), which saves a third of the memory traffic.
/// Smallest copy done with non-temporal stores (bench/loader: from 16 KiB rows up they cost
/// less CPU than cached stores into a batch buffer that does not fit the cache).
pub const NT_MIN: usize = 16 << 10;

pub(crate) fn copy_large(dst: &mut [u8], src: &[u8]) {
    #[cfg(target_arch = "x86_64")]
    {
        if src.len() >= NT_MIN && dst.len() == src.len() && std::is_x86_feature_detected!("avx2") {
            // SAFETY: AVX2 is present (checked above); lengths are equal.
            unsafe { copy_stream_avx2(dst, src) };
            return;
        }
    }
    dst.copy_from_slice(src);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn copy_stream_avx2(dst: &mut [u8], src: &[u8]) {
    use std::arch::x86_64::{__m256i, _mm_sfence, _mm256_loadu_si256, _mm256_stream_si256};
    let n = dst.len();
    // head: up to the first 32-byte aligned destination byte
    let head = dst.as_ptr().align_offset(32).min(n);
    dst[..head].copy_from_slice(&src[..head]);
    let body = (n - head) / 128 * 128;
    let (d, s) = (dst[head..].as_mut_ptr(), src[head..].as_ptr());
    let mut off = 0;
    while off < body {
        // SAFETY: `off + 128 <= body <= n - head`; destination 32-byte aligned; unaligned
        // loads are allowed.
        unsafe {
            let a = _mm256_loadu_si256(s.add(off).cast::<__m256i>());
            let b = _mm256_loadu_si256(s.add(off + 32).cast::<__m256i>());
            let c = _mm256_loadu_si256(s.add(off + 64).cast::<__m256i>());
            let e = _mm256_loadu_si256(s.add(off + 96).cast::<__m256i>());
            _mm256_stream_si256(d.add(off).cast::<__m256i>(), a);
            _mm256_stream_si256(d.add(off + 32).cast::<__m256i>(), b);
            _mm256_stream_si256(d.add(off + 64).cast::<__m256i>(), c);
            _mm256_stream_si256(d.add(off + 96).cast::<__m256i>(), e);
        }
        off += 128;
    }
    _mm_sfence();
    let done = head + body;
    dst[done..].copy_from_slice(&src[done..]);
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[derive(Debug, Default)]
    struct Counting {
        locked: AtomicUsize,
        unlocked: AtomicUsize,
    }

    impl PageLocker for Counting {
        unsafe fn lock(&self, ptr: *mut u8, len: usize) -> bool {
            assert_eq!(ptr as usize % 64, 0);
            if len >= PAGE {
                assert_eq!(ptr as usize % PAGE, 0);
            }
            self.locked.fetch_add(1, Ordering::Relaxed);
            true
        }
        unsafe fn unlock(&self, _ptr: *mut u8, _len: usize) {
            self.unlocked.fetch_add(1, Ordering::Relaxed);
        }
    }

    #[test]
    fn grows_keeps_contents_and_locks_each_allocation_once() {
        let c = Arc::new(Counting::default());
        let mut b = AlignedBuf::new(Some(c.clone()));
        b.set_len(10);
        b.as_mut_slice().copy_from_slice(b"0123456789");
        b.set_len(5000); // grows: one more allocation
        assert_eq!(&b.as_slice()[..10], b"0123456789");
        assert!(b.as_slice()[10..].iter().all(|&x| x == 0));
        b.set_len(0);
        b.set_len(4096); // fits: no new allocation
        assert!(b.is_locked());
        assert_eq!(b.take_refused(), 0);
        drop(b);
        assert_eq!(c.locked.load(Ordering::Relaxed), 2);
        assert_eq!(c.unlocked.load(Ordering::Relaxed), 2);
    }

    #[test]
    fn large_copies_are_exact() {
        for n in [0usize, 5, NT_MIN - 1, NT_MIN, NT_MIN + 77, 1 << 20, 3 << 20] {
            let src: Vec<u8> = (0..n + 3).map(|i| (i * 31 % 251) as u8).collect();
            for off in [0usize, 1, 3] {
                let mut dst = vec![0u8; n + 5];
                copy_large(&mut dst[off..off + n], &src[3..3 + n]);
                assert_eq!(&dst[off..off + n], &src[3..3 + n]);
                assert!(dst[..off].iter().all(|&x| x == 0));
                assert!(dst[off + n..].iter().all(|&x| x == 0));
            }
        }
    }

    #[test]
    fn os_lock_locks_or_refuses_cleanly() {
        let mut b = AlignedBuf::new(Some(Arc::new(OsLock)));
        b.set_len(1 << 20);
        assert_eq!(b.take_refused() == 0, b.is_locked());
        b.as_mut_slice()[123] = 7;
        assert_eq!(b.as_slice()[123], 7);
        assert!(!b.is_pinned());
    }

    #[test]
    fn mapped_buffers_are_zeroed_aligned_and_keep_contents_when_grown() {
        let c = Arc::new(Counting::default());
        let mut b = AlignedBuf::new(Some(c.clone()));
        b.set_len(MAP_MIN + 100);
        assert!(b.as_slice().iter().all(|&x| x == 0));
        assert_eq!(b.as_slice().as_ptr() as usize % PAGE, 0);
        b.as_mut_slice()[MAP_MIN + 99] = 9;
        b.set_len(3 * MAP_MIN); // grows: a new mapping, contents copied
        assert_eq!(b.as_slice()[MAP_MIN + 99], 9);
        assert!(b.as_slice()[MAP_MIN + 100..].iter().all(|&x| x == 0));
        b.set_len(10); // shrinks in place; growing back within cap reuses it
        b.set_len(2 * MAP_MIN);
        drop(b);
        assert_eq!(c.locked.load(Ordering::Relaxed), 2);
        assert_eq!(c.unlocked.load(Ordering::Relaxed), 2);
    }
}
