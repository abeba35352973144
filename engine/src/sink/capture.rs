//! Sinks captured instead of connected, for running pipelines offline (`homeport test`): what
//! an `mqtt` or `nats` stage would publish is rendered exactly as it would be, then recorded
//! here in the order it was published, with the pipeline that published it.

use std::sync::{Arc, Mutex, PoisonError};

use bytes::Bytes;

/// Most messages one capture keeps; later ones are counted as lost (a plugin emitting in a
/// loop cannot grow it without end).
pub const MAX_CAPTURED: usize = 100_000;

/// Where a stage's messages go: the real connection, or a capture.
#[derive(Debug, Clone)]
pub enum Out<S> {
    /// The configured connection.
    Sink(S),
    /// Recorded for a test, as published by the named pipeline.
    Capture(Arc<Capture>, Arc<str>),
}

/// One captured message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Captured {
    /// The pipeline whose stage published it.
    pub pipeline: String,
    /// `mqtt`, `nats`, or `kv` (a NATS KV put).
    pub sink: &'static str,
    /// The MQTT topic, NATS subject or KV key.
    pub topic: String,
    /// The payload as it would be sent.
    pub payload: Bytes,
    /// MQTT quality of service.
    pub qos: Option<u8>,
    /// MQTT retained.
    pub retain: bool,
    /// NATS through JetStream.
    pub jetstream: bool,
}

impl Captured {
    /// A message of `sink` to `topic`, with no MQTT or JetStream options.
    pub fn new(sink: &'static str, topic: String, payload: Bytes) -> Self {
        Self {
            pipeline: String::new(),
            sink,
            topic,
            payload,
            qos: None,
            retain: false,
            jetstream: false,
        }
    }
}

/// The captured messages of the sinks it stands in for.
#[derive(Debug, Default)]
pub struct Capture {
    sinks: Vec<String>,
    messages: Mutex<Vec<Captured>>,
    lost: std::sync::atomic::AtomicU64,
}

impl Capture {
    /// A capture standing in for the sinks named (`mqtt`, `nats`).
    pub fn new(sinks: &[&str]) -> Arc<Self> {
        Arc::new(Self {
            sinks: sinks.iter().map(|s| (*s).to_owned()).collect(),
            ..Self::default()
        })
    }

    /// Whether it stands in for the sink `name`.
    pub fn takes(&self, name: &str) -> bool {
        self.sinks.iter().any(|s| s == name)
    }

    /// Records `message` as published by `pipeline`.
    pub fn record(&self, pipeline: &str, mut message: Captured) {
        let mut messages = self.messages.lock().unwrap_or_else(PoisonError::into_inner);
        if messages.len() >= MAX_CAPTURED {
            self.lost.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            return;
        }
        message.pipeline = pipeline.to_owned();
        messages.push(message);
    }

    /// Takes the messages captured so far, in the order they were published.
    pub fn take(&self) -> Vec<Captured> {
        std::mem::take(&mut *self.messages.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// Messages not kept because the capture was full.
    pub fn lost(&self) -> u64 {
        self.lost.load(std::sync::atomic::Ordering::Relaxed)
    }
}
