//! Error and queue policies.

use std::time::Duration;

/// What happens to an event whose stage failed after its retries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Then {
    /// Keep it in the dead-letter store for inspection and replay (the default).
    #[default]
    DeadLetter,
    /// Drop it (counted).
    Drop,
    /// Go on with the next stage.
    Continue,
}

impl Then {
    /// Reads `dead_letter`, `drop` or `continue`.
    pub fn parse(word: &str) -> Option<Self> {
        match word {
            "dead_letter" => Some(Self::DeadLetter),
            "drop" => Some(Self::Drop),
            "continue" => Some(Self::Continue),
            _ => None,
        }
    }
}

/// Retry, then [`Then`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ErrorPolicy {
    /// Retries after the first attempt.
    pub retries: u32,
    /// Wait before the first retry; doubles each time, capped at 30 s.
    pub backoff: Duration,
    /// After the last retry.
    pub then: Then,
}

impl Default for ErrorPolicy {
    fn default() -> Self {
        Self {
            retries: 3,
            backoff: Duration::from_millis(200),
            then: Then::DeadLetter,
        }
    }
}

impl ErrorPolicy {
    /// The wait before retry number `attempt` (1-based).
    pub fn delay(&self, attempt: u32) -> Duration {
        self.backoff
            .saturating_mul(1 << attempt.saturating_sub(1).min(16))
            .min(Duration::from_secs(30))
    }
}

/// What a full pipeline queue does with a new event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WhenFull {
    /// Make the publisher wait for room: a device session stops reading its camera until
    /// there is, so nothing is lost (the default).
    #[default]
    Block,
    /// Drop the oldest queued event of that queue (counted) and take the new one.
    DropOldest,
    /// Drop the new event (counted).
    DropNewest,
}

impl WhenFull {
    /// Reads `drop_oldest`, `drop_newest` or `block`.
    pub fn parse(word: &str) -> Option<Self> {
        match word {
            "drop_oldest" => Some(Self::DropOldest),
            "drop_newest" => Some(Self::DropNewest),
            "block" => Some(Self::Block),
            _ => None,
        }
    }
}
