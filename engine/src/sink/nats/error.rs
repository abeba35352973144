//! Errors of the NATS sink. URLs in them are always redacted (no password or token).

/// A boxed error from async-nats, for setup failures whose exact type the caller cannot act on.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Everything the NATS sink can fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NatsError {
    /// The server URL list does not parse or is not usable.
    #[error("bad NATS URL {url}: {reason}")]
    InvalidUrl {
        /// The offending URL, redacted.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A config value is out of range or malformed.
    #[error("bad NATS sink config: {field}: {reason}")]
    InvalidConfig {
        /// Which field (`jetstream.stream`, `buffer`, ...).
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// A subject cannot be published to.
    #[error("bad NATS subject {subject:?}: {reason}")]
    InvalidSubject {
        /// The subject (shortened when long).
        subject: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A device ID is not a valid KV key.
    #[error("device id {key:?} is not a valid NATS KV key: {reason}")]
    InvalidKey {
        /// The key (shortened when long).
        key: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A JetStream message id cannot be sent as a `Nats-Msg-Id` header.
    #[error("bad JetStream message id {id:?}: {reason}")]
    InvalidMsgId {
        /// The id (shortened when long).
        id: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A JetStream publish to a subject the sink's stream does not capture: no stream would
    /// ever acknowledge it.
    #[error(
        "subject {subject:?} is not captured by JetStream stream {stream} (subjects {subjects:?})"
    )]
    NotInStream {
        /// The subject.
        subject: String,
        /// The stream's name.
        stream: String,
        /// The stream's subject filters.
        subjects: Vec<String>,
    },
    /// `publish_js` without a `jetstream` section in the config.
    #[error("JetStream publishing is not enabled in the NATS sink config (no `jetstream` section)")]
    JetStreamDisabled,
    /// `put_state` without a `kv_bucket` in the config.
    #[error("device state is not kept in NATS: no `kv_bucket` in the NATS sink config")]
    KvDisabled,
    /// The first connection failed.
    #[error("cannot connect to NATS at {servers}: {source}")]
    Connect {
        /// The servers tried, redacted.
        servers: String,
        /// Why.
        #[source]
        source: async_nats::ConnectError,
    },
    /// The stream could not be created, updated or found at start.
    #[error("JetStream stream {stream}: cannot {action}: {source}")]
    Stream {
        /// The stream's name.
        stream: String,
        /// `create or update` or `find`.
        action: &'static str,
        /// Why.
        #[source]
        source: BoxError,
    },
    /// The KV bucket could not be created or opened at start.
    #[error("JetStream KV bucket {bucket}: cannot create or open: {source}")]
    Bucket {
        /// The bucket's name.
        bucket: String,
        /// Why.
        #[source]
        source: BoxError,
    },
    /// A core publish found the outage buffer full; the message was dropped and counted.
    #[error(
        "NATS publish buffer full ({capacity} messages waiting for the server): dropped the message for {subject}"
    )]
    BufferFull {
        /// The subject of the dropped message.
        subject: String,
        /// The buffer's capacity.
        capacity: usize,
    },
    /// The message is larger than the server accepts.
    #[error("message for {subject} is {size} bytes, over the server's max_payload of {max}")]
    PayloadTooLarge {
        /// The subject.
        subject: String,
        /// The payload's size.
        size: usize,
        /// The server's limit.
        max: usize,
    },
    /// JetStream refused the message for good (not a timeout or disconnect: those are retried).
    #[error("JetStream rejected the message for {subject} (msg id {msg_id}): {source}")]
    Rejected {
        /// The subject.
        subject: String,
        /// The message id.
        msg_id: String,
        /// The server's or client's reason.
        #[source]
        source: async_nats::jetstream::context::PublishError,
    },
    /// The KV bucket refused the value for good.
    #[error("KV bucket {bucket} rejected the state of device {key}: {source}")]
    KvRejected {
        /// The bucket.
        bucket: String,
        /// The key (device ID).
        key: String,
        /// Why.
        #[source]
        source: async_nats::jetstream::kv::PutError,
    },
    /// The shutdown token fired before the server acknowledged; the message may or may not be
    /// stored. Re-publishing it with the same msg id within the duplicate window is safe.
    #[error("NATS sink shutting down: {what} for {subject} was not acknowledged")]
    ShuttingDown {
        /// `JetStream publish`, `KV put` or `publish`.
        what: &'static str,
        /// The subject or key.
        subject: String,
    },
}
