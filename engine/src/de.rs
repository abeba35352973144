//! Deserialisers for config values serde has none for: human durations (`500ms`, `10s`,
//! `2m`), one parser and one message for every duration the engine reads, and lists kept
//! behind an `Arc`.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer};

/// Parses a human duration (`500ms`, `10s`, `2m`, `1h 30m`); the error names the text and
/// shows examples.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text)
        .map_err(|e| format!("bad duration {text:?}: {e} (examples: 500ms, 10s, 2m)"))
}

/// A human duration, for `#[serde(deserialize_with = "crate::de::duration")]`. The text is
/// parsed while the YAML reader is on it, so the error names the value's line and column.
pub fn duration<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
    deserializer.deserialize_str(Human)
}

/// Visits the text of a human duration.
struct Human;

impl Visitor<'_> for Human {
    type Value = Duration;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a duration such as 500ms, 10s or 2m")
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<Duration, E> {
        parse_duration(text).map_err(E::custom)
    }
}

/// A list shared behind an `Arc`, for `#[serde(deserialize_with = "crate::de::shared_list")]`
/// (serde reads `Arc<[T]>` only with its `rc` feature).
pub fn shared_list<'de, D, T>(deserializer: D) -> Result<Arc<[T]>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Vec::<T>::deserialize(deserializer).map(Arc::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_human_units_and_bad_ones_show_examples() {
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        let error = parse_duration("soon").expect_err("not a duration");
        assert!(
            error.starts_with("bad duration \"soon\"") && error.contains("examples: 500ms"),
            "{error}"
        );
    }
}
