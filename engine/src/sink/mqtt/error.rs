//! Everything the MQTT sink can refuse or fail with.

use std::path::PathBuf;

/// Longest piece of a rejected topic quoted back in an error message.
const TOPIC_PREVIEW: usize = 120;

/// Errors of the MQTT sink: bad configuration, refused messages, a sink that has shut down.
///
/// No variant ever carries the broker password: URLs in messages are redacted.
#[derive(Debug, thiserror::Error)]
pub enum MqttError {
    /// The broker URL does not parse or is not an MQTT URL.
    #[error("invalid MQTT broker URL `{url}`: {reason}")]
    InvalidUrl {
        /// The URL as given, with any password replaced by `***`.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A setting other than the URL is out of range.
    #[error("invalid MQTT setting `{field}`: {reason}")]
    InvalidConfig {
        /// The `MqttConfig` field concerned.
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// A topic that must not be published to.
    #[error("invalid MQTT topic {topic:?}: {reason}")]
    InvalidTopic {
        /// The topic, shortened if long.
        topic: String,
        /// Why it is refused.
        reason: &'static str,
    },
    /// A payload larger than the sink sends.
    #[error("MQTT payload of {len} bytes for topic {topic:?} is larger than the {max}-byte limit")]
    PayloadTooLarge {
        /// The topic, shortened if long.
        topic: String,
        /// The payload's length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The buffer is full and the policy is `drop_newest`: this message was not accepted.
    #[error(
        "MQTT buffer full ({capacity} messages waiting for the broker): message to {topic:?} \
         dropped (when_full = drop_newest)"
    )]
    BufferFull {
        /// The configured buffer size.
        capacity: usize,
        /// The refused message's topic, shortened if long.
        topic: String,
    },
    /// `set_retained` for a new topic while the map of remembered states is full.
    #[error("already remembering {limit} retained MQTT states; refusing a new one for {topic:?}")]
    RetainedFull {
        /// The configured limit.
        limit: usize,
        /// The refused topic, shortened if long.
        topic: String,
    },
    /// The CA file for `mqtts://` cannot be used.
    #[error("MQTT CA file {path}: {reason}", path = path.display())]
    CaFile {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// TLS could not be set up (no trusted roots, no usable protocol version).
    #[error("MQTT TLS setup: {0}")]
    Tls(String),
    /// The sink has been shut down and accepts nothing more.
    #[error("the MQTT sink is shut down")]
    Closed,
}

/// A topic shortened for an error message (on a character boundary).
pub(crate) fn preview(topic: &str) -> String {
    if topic.len() <= TOPIC_PREVIEW {
        return topic.to_owned();
    }
    let mut end = TOPIC_PREVIEW;
    while !topic.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… ({} bytes)", &topic[..end], topic.len())
}
