//! Warnings that strangers can trigger, aggregated: the first few of a kind in a window are
//! logged, the rest are counted and reported in one line when the window ends ("… and 2 650
//! more in the last 10 s"). A flood of bad connections cannot flood the log.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Length of a window.
pub const WINDOW: Duration = Duration::from_secs(10);
/// Lines of one kind logged per window before the rest are only counted.
pub const BURST: u64 = 5;

/// Per-kind counters of one window.
#[derive(Debug, Default)]
pub struct LogLimiter {
    kinds: Mutex<HashMap<&'static str, Window>>,
}

#[derive(Debug)]
struct Window {
    started: Instant,
    logged: u64,
    suppressed: u64,
}

/// What to do with one occurrence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Log it; `earlier` occurrences of the previous window were not logged.
    Log {
        /// Occurrences suppressed in the window that just ended.
        earlier: u64,
    },
    /// Count it only.
    Suppress,
}

impl LogLimiter {
    /// Decides about one occurrence of `kind` now.
    pub fn check(&self, kind: &'static str) -> Verdict {
        self.check_at(kind, Instant::now())
    }

    fn check_at(&self, kind: &'static str, now: Instant) -> Verdict {
        let mut kinds = self
            .kinds
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let window = kinds.entry(kind).or_insert(Window {
            started: now,
            logged: 0,
            suppressed: 0,
        });
        let mut earlier = 0;
        if now.duration_since(window.started) >= WINDOW {
            earlier = window.suppressed;
            *window = Window {
                started: now,
                logged: 0,
                suppressed: 0,
            };
        }
        if window.logged < BURST {
            window.logged += 1;
            Verdict::Log { earlier }
        } else {
            window.suppressed += 1;
            Verdict::Suppress
        }
    }
}

/// Logs a line at `level` (`warn`, `info`, …) of `kind` through `limiter`, preceded by the
/// count of those it held back in the window that ended.
#[macro_export]
macro_rules! log_limited {
    ($level:ident, $limiter:expr, $kind:literal, $($arg:tt)+) => {
        if let $crate::log_limit::Verdict::Log { earlier } = $limiter.check($kind) {
            if earlier > 0 {
                tracing::$level!(kind = $kind, "… and {earlier} more like the next one in the last {:?}", $crate::log_limit::WINDOW);
            }
            tracing::$level!($($arg)+);
        }
    };
}

/// Logs a warning of `kind` through `limiter` ([`log_limited!`]).
#[macro_export]
macro_rules! warn_limited {
    ($($arg:tt)+) => { $crate::log_limited!(warn, $($arg)+) };
}

/// Logs an info line of `kind` through `limiter` ([`log_limited!`]).
#[macro_export]
macro_rules! info_limited {
    ($($arg:tt)+) => { $crate::log_limited!(info, $($arg)+) };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_is_logged_then_counted_and_reported_with_the_next_window() {
        let limiter = LogLimiter::default();
        let start = Instant::now();
        for _ in 0..BURST {
            assert_eq!(limiter.check_at("x", start), Verdict::Log { earlier: 0 });
        }
        for _ in 0..1000 {
            assert_eq!(limiter.check_at("x", start), Verdict::Suppress);
        }
        // Other kinds have their own budget.
        assert_eq!(limiter.check_at("y", start), Verdict::Log { earlier: 0 });
        assert_eq!(
            limiter.check_at("x", start + WINDOW),
            Verdict::Log { earlier: 1000 }
        );
    }
}
