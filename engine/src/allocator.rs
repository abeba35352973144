//! The process's allocator: jemalloc, whose background thread returns freed pages to the OS
//! within seconds of a burst (a flood of strangers, a registration storm), where glibc's
//! malloc keeps the high-water mark (`BENCHMARKS.md`, "Strangers' flood"). Declared in the
//! library so the binary, the tests and the benches all run on it; the `system-allocator`
//! feature builds with the system's malloc instead, to compare.

#[cfg(not(feature = "system-allocator"))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// Starts jemalloc's background thread (call once, early); a no-op with the system
/// allocator.
pub fn start() {
    #[cfg(not(feature = "system-allocator"))]
    let _ = tikv_jemalloc_ctl::background_thread::write(true);
}

/// The allocator in use, for reports: `jemalloc` or `system`.
pub fn name() -> &'static str {
    if cfg!(feature = "system-allocator") {
        "system"
    } else {
        "jemalloc"
    }
}
