//! What a sink does with a message when its buffer is full: the one policy MQTT and NATS
//! core publishes share.

use serde::{Deserialize, Serialize};

/// What a sink does with a new message when `buffer` messages are already kept.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FullPolicy {
    /// Make the publisher wait for room (`MqttSink::send`, `NatsSink::send`): nothing is
    /// lost, and the pipeline (and, behind it, the cameras) slow down to what the server
    /// takes. The calls that cannot wait (`publish`) queue over the bound (MQTT) or fail
    /// (NATS).
    #[default]
    Block,
    /// Drop the oldest waiting message to make room for the new one (counted; MQTT only).
    DropOldest,
    /// Refuse the new message with a `BufferFull` error (counted).
    DropNewest,
}
