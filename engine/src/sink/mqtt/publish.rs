//! One message to publish ([`Publish`]) and its quality of service ([`QoS`]).

use bytes::Bytes;

use super::error::MqttError;

/// MQTT quality of service; QoS 2 is not offered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum QoS {
    /// QoS 0: sent once, not acknowledged.
    AtMostOnce,
    /// QoS 1: re-sent until the broker acknowledges it.
    AtLeastOnce,
}

impl TryFrom<u8> for QoS {
    type Error = MqttError;

    fn try_from(value: u8) -> Result<Self, MqttError> {
        match value {
            0 => Ok(Self::AtMostOnce),
            1 => Ok(Self::AtLeastOnce),
            _ => Err(MqttError::InvalidConfig {
                field: "qos",
                reason: format!("must be 0 or 1 (QoS 2 is not supported), not {value}"),
            }),
        }
    }
}

/// One message to publish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Publish {
    /// Topic name; see [`valid_topic`](super::valid_topic).
    pub topic: String,
    /// Payload, shared (not copied) until it is written.
    pub payload: Bytes,
    /// Quality of service.
    pub qos: QoS,
    /// Whether the broker keeps it as the topic's retained message. For state that must be
    /// republished after a broker restart use [`MqttSink::set_retained`](super::MqttSink::set_retained) instead.
    pub retain: bool,
}
