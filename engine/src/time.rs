//! Wall-clock time as the engine stores and shows it: Unix milliseconds, and RFC 3339 UTC.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Now, in Unix milliseconds (0 before 1970, saturating far in the future).
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// RFC 3339 UTC with milliseconds, e.g. `2026-12-03T06:10:04.312Z`; times before 1970 show as
/// the epoch.
pub fn rfc3339(unix_ms: i64) -> String {
    let time = UNIX_EPOCH + Duration::from_millis(u64::try_from(unix_ms).unwrap_or(0));
    humantime::format_rfc3339_millis(time).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn milliseconds_format_as_rfc3339_utc() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339(1_764_742_204_312), "2025-12-03T06:10:04.312Z");
        assert_eq!(rfc3339(-5), "1970-01-01T00:00:00.000Z");
        let now = now_ms();
        assert!(now > 1_764_742_204_312, "{now}");
    }
}
