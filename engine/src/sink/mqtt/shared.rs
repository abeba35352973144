//! What the sink's handle and its connection task share: the outbox behind one lock, the
//! wake-up, and the checks every message passes before it is queued.

use std::sync::{Mutex, MutexGuard, PoisonError};

use bytes::Bytes;
use tokio::sync::{Notify, broadcast};
use tokio_util::sync::CancellationToken;

use super::error::{MqttError, preview};
use super::outbox::Outbox;
use super::topic::valid_topic;

/// What the handle and the connection task share.
pub(super) struct Shared {
    pub(super) outbox: Mutex<Outbox>,
    /// Wakes the connection task when something is queued.
    pub(super) wake: Notify,
    /// Wakes the publishers waiting for room when messages are done (or the sink closes).
    pub(super) room: Notify,
    /// Cancelled when the connection task has ended.
    pub(super) finished: CancellationToken,
    pub(super) status_topic: String,
    pub(super) max_payload: usize,
    /// Messages on the topics the sink subscribes to; a receiver that falls behind misses
    /// some (they are triggers, not data to keep).
    pub(super) received: broadcast::Sender<Received>,
}

/// A message the broker delivered on a subscribed topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    /// Its topic.
    pub topic: String,
    /// Its payload.
    pub payload: Bytes,
}

impl Shared {
    pub(super) fn outbox(&self) -> MutexGuard<'_, Outbox> {
        // The outbox's invariants hold between its methods, none of which panics by design.
        self.outbox.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(super) fn check(&self, topic: &str, payload: &Bytes) -> Result<(), MqttError> {
        valid_topic(topic)?;
        if payload.len() > self.max_payload {
            return Err(MqttError::PayloadTooLarge {
                topic: preview(topic),
                len: payload.len(),
                max: self.max_payload,
            });
        }
        Ok(())
    }
}
