//! Sinks: where pipeline stages send events out of the gateway (MQTT, NATS).

pub mod mqtt;
pub mod nats;
