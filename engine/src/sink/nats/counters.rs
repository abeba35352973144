//! What the NATS sink counts, shared by its publishing calls and its forwarding task.

use std::sync::atomic::AtomicU64;

/// Counters since start; read as a snapshot by `NatsSink::stats`.
#[derive(Debug, Default)]
pub(super) struct Counters {
    /// Core publishes the server took.
    pub(super) published: AtomicU64,
    /// Messages dropped because the outage buffer was full.
    pub(super) dropped: AtomicU64,
    /// JetStream publishes acknowledged.
    pub(super) js_acked: AtomicU64,
    /// Of those, duplicates of an already stored message id.
    pub(super) js_duplicates: AtomicU64,
    /// JetStream and KV attempts retried after a transient failure.
    pub(super) js_retries: AtomicU64,
    /// KV puts acknowledged.
    pub(super) kv_puts: AtomicU64,
    /// Operations that failed for good.
    pub(super) errors: AtomicU64,
}
