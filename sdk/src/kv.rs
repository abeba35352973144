//! The stage's key-value store, kept by the host: it survives pipeline reloads, plugin
//! reloads and recycled instances, and is bounded by the stage's quota.
//!
//! The stage must be granted `kv` in the pipeline YAML. Off `wasm32` the store is in memory
//! (see [`Harness`](crate::testing::Harness)), with the same size limits as the host.

use std::time::Duration;

/// Longest key the host accepts, in bytes.
pub const MAX_KEY_BYTES: usize = 1024;

/// Largest value the host accepts, in bytes.
pub const MAX_VALUE_BYTES: usize = 64 * 1024;

/// Why the host refused a write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The namespace would exceed its quota (bytes of keys and values, or entries).
    #[error("the KV store's quota would be exceeded")]
    QuotaExceeded,
    /// The key is longer than [`MAX_KEY_BYTES`] or the value than [`MAX_VALUE_BYTES`].
    #[error("the KV key or value is larger than the host accepts")]
    TooLarge,
}

/// So `kv::set(…)?` works in [`Plugin::process`](crate::Plugin::process), whose error is a
/// `String`.
impl From<Error> for String {
    fn from(error: Error) -> Self {
        error.to_string()
    }
}

/// The value stored under `key`, if any and not expired.
pub fn get(key: &str) -> Option<Vec<u8>> {
    imp::get(key)
}

/// Stores `value` under `key`, with no expiry.
pub fn set(key: &str, value: &[u8]) -> Result<(), Error> {
    imp::set(key, value, None)
}

/// Stores `value` under `key`, expiring `ttl` from now (rounded up to whole milliseconds).
pub fn set_with_ttl(key: &str, value: &[u8], ttl: Duration) -> Result<(), Error> {
    imp::set(key, value, Some(ttl_ms(ttl)))
}

/// Removes `key`; true if it was there.
pub fn delete(key: &str) -> bool {
    imp::delete(key)
}

/// The value under `key` as UTF-8 text; `None` if absent, expired or not UTF-8.
pub fn get_string(key: &str) -> Option<String> {
    String::from_utf8(get(key)?).ok()
}

/// A TTL in the host's milliseconds: rounded up, so a sub-millisecond TTL does not expire
/// at once, and saturating.
pub(crate) fn ttl_ms(ttl: Duration) -> u64 {
    let ms = ttl.as_nanos().div_ceil(1_000_000);
    u64::try_from(ms).unwrap_or(u64::MAX)
}

#[cfg(target_arch = "wasm32")]
mod imp {
    use super::Error;
    use crate::bindings::homeport::plugin::kv as host;

    pub(super) fn get(key: &str) -> Option<Vec<u8>> {
        host::get(key)
    }

    pub(super) fn set(key: &str, value: &[u8], ttl_ms: Option<u64>) -> Result<(), Error> {
        host::set(key, value, ttl_ms).map_err(|error| match error {
            host::KvError::QuotaExceeded => Error::QuotaExceeded,
            host::KvError::TooLarge => Error::TooLarge,
        })
    }

    pub(super) fn delete(key: &str) -> bool {
        host::delete(key)
    }
}

#[cfg(not(target_arch = "wasm32"))]
mod imp {
    use super::Error;
    use crate::native;

    pub(super) fn get(key: &str) -> Option<Vec<u8>> {
        native::with(|host| host.kv_get(key))
    }

    pub(super) fn set(key: &str, value: &[u8], ttl_ms: Option<u64>) -> Result<(), Error> {
        native::with(|host| host.kv_set(key, value, ttl_ms))
    }

    pub(super) fn delete(key: &str) -> bool {
        native::with(|host| host.kv_delete(key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttls_round_up_to_whole_milliseconds() {
        assert_eq!(ttl_ms(Duration::from_micros(1)), 1);
        assert_eq!(ttl_ms(Duration::from_millis(1500)), 1500);
        assert_eq!(ttl_ms(Duration::ZERO), 0);
        assert_eq!(ttl_ms(Duration::MAX), u64::MAX);
    }
}
