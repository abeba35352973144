//! The last line of defence against topic injection: topics the sink refuses to publish to.
//!
//! Pipelines sanitise device IDs before they reach a topic; this check makes sure that a bug
//! there can never publish to a wildcard, a broker topic or an empty level the broker rejects.

use super::error::{MqttError, preview};

/// Longest topic MQTT can carry (a two-byte length prefix).
pub const MAX_TOPIC_LEN: usize = 65_535;

/// Checks that `topic` is a topic name the sink may publish to.
///
/// Refused: an empty topic, one longer than 65 535 bytes, the wildcards `+` and `#`, the NUL
/// character, and a leading `$` (reserved for the broker, e.g. `$SYS`).
pub fn valid_topic(topic: &str) -> Result<(), MqttError> {
    let reason = if topic.is_empty() {
        "it is empty"
    } else if topic.len() > MAX_TOPIC_LEN {
        "it is longer than 65535 bytes"
    } else if topic.contains('+') {
        "it contains the wildcard `+`"
    } else if topic.contains('#') {
        "it contains the wildcard `#`"
    } else if topic.contains('\0') {
        "it contains a NUL character"
    } else if topic.starts_with('$') {
        "it starts with `$`, which is reserved for the broker"
    } else {
        return Ok(());
    };
    Err(MqttError::InvalidTopic {
        topic: preview(topic),
        reason,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_topics_pass() {
        for topic in [
            "homeport/device/cam-1/status",
            "a",
            "/leading/slash",
            "trailing/",
            "with space/ünïcode",
        ] {
            assert!(valid_topic(topic).is_ok(), "{topic}");
        }
        assert!(valid_topic(&"x".repeat(MAX_TOPIC_LEN)).is_ok());
    }

    #[test]
    fn wildcards_nul_dollar_empty_and_overlong_topics_are_refused() {
        for (topic, needle) in [
            ("", "empty"),
            ("homeport/+/status", "`+`"),
            ("homeport/#", "`#`"),
            ("homeport/a\0b", "NUL"),
            ("$SYS/broker", "`$`"),
        ] {
            let err = valid_topic(topic).expect_err(topic).to_string();
            assert!(err.contains(needle), "{err}");
        }
        let long = "x".repeat(MAX_TOPIC_LEN + 1);
        let err = valid_topic(&long).expect_err("too long").to_string();
        assert!(err.contains("65535"), "{err}");
        assert!(
            err.len() < 400,
            "the message quotes only a preview: {}",
            err.len()
        );
    }
}
