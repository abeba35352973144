//! Time, from the host: wall-clock milliseconds and a monotonic clock for intervals.
//!
//! Off `wasm32` both come from the in-memory host, which starts at 2026-01-01T00:00:00Z and
//! only moves when a [`Harness`](crate::testing::Harness) moves it, so tests are repeatable.

/// Wall-clock time, Unix milliseconds.
pub fn now_ms() -> i64 {
    imp::now_ms()
}

/// A monotonic clock in nanoseconds, for measuring intervals (its zero means nothing).
pub fn monotonic_ns() -> u64 {
    imp::monotonic_ns()
}

#[cfg(target_arch = "wasm32")]
mod imp {
    use crate::bindings::homeport::plugin::clock as host;

    pub(super) fn now_ms() -> i64 {
        host::now_ms()
    }

    pub(super) fn monotonic_ns() -> u64 {
        host::monotonic_ns()
    }
}

#[cfg(not(target_arch = "wasm32"))]
mod imp {
    use crate::native;

    pub(super) fn now_ms() -> i64 {
        native::with(|host| host.now_ms)
    }

    pub(super) fn monotonic_ns() -> u64 {
        native::with(|host| host.monotonic_ns)
    }
}
