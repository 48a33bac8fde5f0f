//! glibc allocator settings for bulk conversions.
//!
//! By default glibc serves every block above a moving threshold (128 KiB at start) with its own
//! `mmap` and gives freed memory at the top of the heap back to the system: a conversion that
//! allocates and frees buffers of megabytes per sample or table part then pays page faults and
//! page zeroing for every buffer (a quarter of the CPU time of a methylation ingest). Here
//! blocks up to 32 MiB (glibc's largest threshold) come from the heap, and freed memory is kept
//! for reuse, so the next buffer of the same size costs nothing. Peak memory is unchanged
//! (the same buffers are live at the peak); measured in `bench/table/README.md`.

/// Applies the settings (glibc on Linux only; elsewhere nothing).
pub fn tune() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: mallopt only changes allocator parameters; it is called before any thread
        // is started. A refused setting (return 0) leaves glibc's default in force.
        unsafe {
            libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
            libc::mallopt(libc::M_TRIM_THRESHOLD, 1 << 30);
            libc::mallopt(libc::M_TOP_PAD, 64 << 20);
        }
    }
}
