//! What one MQTT sink counts ([`MqttStats`]).

/// Counters and gauges of one sink, for `/metrics`.
///
/// Submitted messages add up: `submitted = delivered + dropped_full + superseded + queued +
/// in_flight`. The gateway status and republished states are not submitted messages; they are
/// counted in `published`, `acked`, `republished` and `republish_pending`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MqttStats {
    /// Submitted messages waiting to be handed to the broker.
    pub queued: usize,
    /// Submitted messages handed to the broker and not yet done (QoS 1: no PUBACK yet).
    pub in_flight: usize,
    /// Messages offered through `publish`, `set_retained` and `clear_retained` (refused ones
    /// included, invalid ones not).
    pub submitted: u64,
    /// PUBLISH packets written to the socket, re-sends and republished states included.
    pub published: u64,
    /// PUBACKs received.
    pub acked: u64,
    /// Submitted messages done: QoS 1 acknowledged, QoS 0 written.
    pub delivered: u64,
    /// Messages dropped because the buffer was full (either policy).
    pub dropped_full: u64,
    /// Retained states replaced by a newer value for the same topic before being sent.
    pub superseded: u64,
    /// Messages written before a disconnect whose PUBACK had not arrived: they are sent again
    /// and are the only ones a subscriber may receive twice.
    pub resent: u64,
    /// Retained states republished from memory at the start of a connection.
    pub republished: u64,
    /// Status and republished states of the current connection not yet acknowledged.
    pub republish_pending: usize,
    /// Retained states remembered.
    pub retained: usize,
    /// Connections made after the first one.
    pub reconnects: u64,
    /// Whether the broker accepted the current connection.
    pub connected: bool,
}
