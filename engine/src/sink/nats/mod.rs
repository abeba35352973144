//! The NATS sink: core publishes, JetStream publishes de-duplicated by message id, and a KV
//! bucket with each device's last state. Pipeline stages call it; it knows nothing of
//! pipelines.
//!
//! - `config` — [`NatsConfig`], [`JetStreamConfig`], URL parsing and redaction.
//! - `subject` — [`valid_subject`], [`valid_kv_key`] and the other name checks.
//! - `error` — [`NatsError`].
//! - `counters` — what the sink counts, shared with the forwarding task.
//! - `forward` — the task draining the outage buffer of core publishes into async-nats.
//! - `retry` — which JetStream failures are retried, and the waits between attempts.
//! - `setup` — creating or finding the stream and the bucket at start.
//!
//! # Guarantees
//!
//! - **JetStream** ([`NatsSink::publish_js`]): every message carries `Nats-Msg-Id`; a call
//!   returns only once the server acknowledged it as stored (or as a duplicate of a stored
//!   message), retrying through timeouts, disconnects and server restarts until then, or until
//!   the shutdown token fires ([`NatsError::ShuttingDown`]: not known to be stored). Retries are
//!   at-least-once sends; the server's duplicate window turns them into exactly-once storage as
//!   long as the same id comes back within `duplicate_window` (2 minutes by default). Calls made
//!   one after another (await each) are stored in call order; concurrent calls have no order.
//! - **KV** ([`NatsSink::put_state`]): same retry rule; a retried put may store the same value
//!   twice as consecutive revisions, which is harmless for last-value state.
//! - **Core** ([`NatsSink::send`], [`NatsSink::publish`]): at most once. While the server is
//!   away messages wait in a bounded buffer (`buffer` plus async-nats' 512-command queue) and go
//!   out in order after the reconnect. When the buffer is full, `send` waits for room under
//!   `when_full: block` (the default); `publish`, and `send` under `drop_newest`, fail with
//!   [`NatsError::BufferFull`], counted in [`NatsStats::dropped`]. Messages already written
//!   to the socket when the connection dies can be lost: use JetStream for anything that must
//!   arrive.

mod config;
mod counters;
mod error;
mod forward;
mod retry;
mod setup;
mod subject;

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_nats::connection::State;
use async_nats::jetstream;
use async_nats::{Client, ConnectOptions, Event, Subject};
use bytes::Bytes;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::metrics::Exposition;
use crate::sink::full_policy::FullPolicy;

pub use config::{JetStreamConfig, NatsConfig};
pub use error::{BoxError, NatsError};
pub use subject::{MAX_MSG_ID_LEN, MAX_SUBJECT_LEN, valid_kv_key, valid_subject};

use config::Auth;
use counters::Counters;
use forward::Outbound;
use retry::Verdict;
use setup::{JetStreamTarget, KvTarget, setup_bucket, setup_stream};
use subject::{filter_matches, valid_msg_id};

/// Capacity of async-nats' own command queue (publishes, requests) between the client handle
/// and its connection task.
const CLIENT_CAPACITY: usize = 512;
/// How long one attempt to reach a server may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Timeout of stream and bucket management requests at start.
const SETUP_TIMEOUT: Duration = Duration::from_secs(10);
/// Room left for headers when checking a JetStream message against `max_payload`.
const HEADER_ROOM: usize = 64;

/// A running NATS connection with its stream and bucket. Cheap to clone; every clone shares
/// the connection, the buffer and the counters.
#[derive(Clone)]
pub struct NatsSink {
    inner: Arc<Inner>,
}

struct Inner {
    client: Client,
    /// The server list, redacted.
    servers: String,
    jetstream: Option<JetStreamTarget>,
    kv: Option<KvTarget>,
    queue: mpsc::Sender<Outbound>,
    capacity: usize,
    when_full: FullPolicy,
    counters: Arc<Counters>,
    shutdown: CancellationToken,
    tasks: TaskTracker,
}

/// What the sink did since it started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NatsStats {
    /// Core publishes handed to the client (sent, or waiting for a reconnect).
    pub published: u64,
    /// Core publishes dropped: buffer full, or still queued when shutdown gave up.
    pub dropped: u64,
    /// JetStream publishes acknowledged (new or duplicate).
    pub js_acked: u64,
    /// Of those, acknowledged as duplicates of an already stored message id.
    pub js_duplicates: u64,
    /// JetStream and KV attempts that failed transiently and were retried.
    pub js_retries: u64,
    /// KV puts acknowledged.
    pub kv_puts: u64,
    /// Operations that failed for good (refused by the server or the client).
    pub errors: u64,
    /// Whether the client is connected right now.
    pub connected: bool,
}

/// The server's answer to a JetStream publish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsAck {
    /// The stream that stored the message.
    pub stream: String,
    /// Its sequence number in the stream (for a duplicate: the first copy's).
    pub sequence: u64,
    /// The message id was already stored within the duplicate window; nothing new was stored.
    pub duplicate: bool,
    /// How many attempts it took (1 when nothing went wrong).
    pub attempts: u32,
}

impl NatsSink {
    /// Validates the config, connects (each server tried once; an unreachable server is an
    /// error here, later outages are ridden out), creates or checks the stream and the bucket,
    /// and starts the task that drains the outage buffer. `shutdown` stops retries and that
    /// task; see [`NatsSink::closed`].
    pub async fn start(config: NatsConfig, shutdown: CancellationToken) -> Result<Self, NatsError> {
        let validated = config.validated()?;
        let servers = validated.shown.clone();
        let events_servers = servers.clone();
        let mut options = ConnectOptions::new()
            .name(&config.name)
            .client_capacity(CLIENT_CAPACITY)
            .connection_timeout(CONNECT_TIMEOUT)
            .event_callback(move |event| {
                let servers = events_servers.clone();
                async move { log_event(&servers, &event) }
            });
        options = match validated.auth {
            Auth::None => options,
            Auth::Token(token) => options.token(token),
            Auth::UserPassword(user, password) => options.user_and_password(user, password),
        };
        let client = tokio::select! {
            result = options.connect(validated.servers) => result.map_err(|source| {
                NatsError::Connect { servers: servers.clone(), source }
            })?,
            () = shutdown.cancelled() => {
                return Err(NatsError::ShuttingDown { what: "connect", subject: servers });
            }
        };
        let setup = jetstream::ContextBuilder::new()
            .timeout(SETUP_TIMEOUT)
            .build(client.clone());

        let jetstream = match &config.jetstream {
            Some(js) => Some(setup_stream(&client, &setup, js).await?),
            None => None,
        };
        let kv = match &config.kv_bucket {
            Some(bucket) => {
                let ack_timeout = config
                    .jetstream
                    .as_ref()
                    .map_or(JetStreamConfig::default().ack_timeout, |js| js.ack_timeout);
                Some(setup_bucket(&client, &setup, bucket, ack_timeout).await?)
            }
            None => None,
        };

        let (queue, receiver) = mpsc::channel(config.buffer);
        let counters = Arc::new(Counters::default());
        let tasks = TaskTracker::new();
        tasks.spawn(forward::run(
            client.clone(),
            receiver,
            counters.clone(),
            shutdown.clone(),
            servers.clone(),
        ));
        tasks.close();
        tracing::info!(
            %servers,
            stream = jetstream.as_ref().map(|js| js.stream.as_str()),
            bucket = kv.as_ref().map(|kv| kv.bucket.as_str()),
            "NATS sink connected"
        );
        Ok(Self {
            inner: Arc::new(Inner {
                client,
                servers,
                jetstream,
                kv,
                queue,
                capacity: config.buffer,
                when_full: config.when_full,
                counters,
                shutdown,
                tasks,
            }),
        })
    }

    /// Core NATS publish as the sink's [`NatsConfig::when_full`] says: under `block` (the
    /// default) it waits until the buffer has room, so nothing is dropped and the caller slows
    /// down to what the server takes (waiting callers get room first come, first served);
    /// under `drop_newest` it is [`NatsSink::publish`].
    pub async fn send(&self, subject: &str, payload: Bytes) -> Result<(), NatsError> {
        if self.inner.when_full != FullPolicy::Block {
            return self.publish(subject, payload);
        }
        let inner = &self.inner;
        let message = self.outbound(subject, payload)?;
        tokio::select! {
            sent = inner.queue.send(message) => sent.map_err(|_| self.closed_error(subject)),
            () = inner.shutdown.cancelled() => Err(self.closed_error(subject)),
        }
    }

    /// Core NATS publish. Never waits: the message is queued for the connection (kept in order
    /// through an outage) or, when the buffer is full, dropped, counted and reported as
    /// [`NatsError::BufferFull`].
    pub fn publish(&self, subject: &str, payload: Bytes) -> Result<(), NatsError> {
        let inner = &self.inner;
        let message = self.outbound(subject, payload)?;
        match inner.queue.try_send(message) {
            Ok(()) => Ok(()),
            Err(mpsc::error::TrySendError::Full(_)) => {
                let dropped = inner.counters.dropped.fetch_add(1, Ordering::Relaxed) + 1;
                if dropped.is_power_of_two() {
                    tracing::warn!(
                        servers = %inner.servers,
                        dropped,
                        capacity = inner.capacity,
                        "NATS publish buffer full: dropping core publishes"
                    );
                }
                Err(NatsError::BufferFull {
                    subject: subject.to_owned(),
                    capacity: inner.capacity,
                })
            }
            Err(mpsc::error::TrySendError::Closed(_)) => Err(self.closed_error(subject)),
        }
    }

    /// A checked core publish, or why it cannot be sent at all (counted).
    fn outbound(&self, subject: &str, payload: Bytes) -> Result<Outbound, NatsError> {
        let inner = &self.inner;
        let counted = |error: NatsError| {
            inner.counters.errors.fetch_add(1, Ordering::Relaxed);
            error
        };
        valid_subject(subject).map_err(counted)?;
        self.check_size(subject, payload.len(), 0)
            .map_err(counted)?;
        if inner.shutdown.is_cancelled() {
            return Err(self.closed_error(subject));
        }
        Ok(Outbound {
            subject: Subject::from(subject),
            payload,
        })
    }

    /// The error of a publish the closing sink no longer takes (counted).
    fn closed_error(&self, subject: &str) -> NatsError {
        self.inner.counters.errors.fetch_add(1, Ordering::Relaxed);
        NatsError::ShuttingDown {
            what: "publish",
            subject: subject.to_owned(),
        }
    }

    /// JetStream publish with `Nats-Msg-Id: msg_id`, returning once the server acknowledged it.
    ///
    /// Timeouts, disconnects and a restarting server are retried with the same id (after a
    /// reconnect, with backoff) until acknowledged or until the shutdown token fires; see the
    /// module docs for what that guarantees. Fails at once on a bad subject or id, a subject
    /// the stream does not capture, an oversized message, or a refusal by the server.
    pub async fn publish_js(
        &self,
        subject: &str,
        payload: Bytes,
        msg_id: &str,
    ) -> Result<JsAck, NatsError> {
        let inner = &self.inner;
        let counted = |error: NatsError| {
            inner.counters.errors.fetch_add(1, Ordering::Relaxed);
            error
        };
        let Some(js) = &inner.jetstream else {
            return Err(counted(NatsError::JetStreamDisabled));
        };
        valid_subject(subject).map_err(counted)?;
        valid_msg_id(msg_id).map_err(counted)?;
        if !js
            .subjects
            .iter()
            .any(|filter| filter_matches(filter, subject))
        {
            return Err(counted(NatsError::NotInStream {
                subject: subject.to_owned(),
                stream: js.stream.clone(),
                subjects: js.subjects.clone(),
            }));
        }
        self.check_size(subject, payload.len(), HEADER_ROOM + msg_id.len())
            .map_err(counted)?;

        let (ack, attempts) = self
            .with_retries(
                "JetStream publish",
                subject,
                || {
                    let message = jetstream::message::PublishMessage::build()
                        .payload(payload.clone())
                        .message_id(msg_id);
                    // Each attempt is bounded by the context's ack timeout (sending, then the
                    // ack), so an attempt under way when shutdown fires still gets its answer.
                    async {
                        js.context
                            .send_publish(subject.to_owned(), message)
                            .await?
                            .await
                    }
                },
                retry::classify_publish,
                |source| NatsError::Rejected {
                    subject: subject.to_owned(),
                    msg_id: msg_id.to_owned(),
                    source,
                },
            )
            .await
            .map_err(counted)?;
        inner.counters.js_acked.fetch_add(1, Ordering::Relaxed);
        if ack.duplicate {
            inner.counters.js_duplicates.fetch_add(1, Ordering::Relaxed);
        }
        Ok(JsAck {
            stream: ack.stream,
            sequence: ack.sequence,
            duplicate: ack.duplicate,
            attempts,
        })
    }

    /// Stores `json` as the device's last state in the KV bucket, retried like
    /// [`NatsSink::publish_js`]. Returns the new revision. The device ID is the key and must be
    /// a valid KV key ([`valid_kv_key`]).
    pub async fn put_state(&self, device_id: &str, json: Bytes) -> Result<u64, NatsError> {
        let inner = &self.inner;
        let counted = |error: NatsError| {
            inner.counters.errors.fetch_add(1, Ordering::Relaxed);
            error
        };
        let Some(kv) = &inner.kv else {
            return Err(counted(NatsError::KvDisabled));
        };
        valid_kv_key(device_id).map_err(counted)?;
        self.check_size(device_id, json.len(), HEADER_ROOM)
            .map_err(counted)?;

        let (revision, _) = self
            .with_retries(
                "KV put",
                device_id,
                || kv.store.put(device_id, json.clone()),
                retry::classify_put,
                |source| NatsError::KvRejected {
                    bucket: kv.bucket.clone(),
                    key: device_id.to_owned(),
                    source,
                },
            )
            .await
            .map_err(counted)?;
        inner.counters.kv_puts.fetch_add(1, Ordering::Relaxed);
        Ok(revision)
    }

    /// Whether the client is connected to a server now.
    pub fn is_connected(&self) -> bool {
        self.inner.client.connection_state() == State::Connected
    }

    /// Counters since start, and whether the client is connected now.
    pub fn stats(&self) -> NatsStats {
        let counters = &self.inner.counters;
        let load = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        NatsStats {
            published: load(&counters.published),
            dropped: load(&counters.dropped),
            js_acked: load(&counters.js_acked),
            js_duplicates: load(&counters.js_duplicates),
            js_retries: load(&counters.js_retries),
            kv_puts: load(&counters.kv_puts),
            errors: load(&counters.errors),
            connected: self.is_connected(),
        }
    }

    /// Adds the sink's counters and connection state to `out` (`homeport_nats_*`).
    pub fn render_metrics(&self, out: &mut Exposition) {
        use crate::metrics::Kind::{Counter, Gauge};
        let s = self.stats();
        for (name, kind, help, value) in [
            (
                "homeport_nats_published_total",
                Counter,
                "Core NATS publishes handed to the client (sent, or waiting for a reconnect).",
                s.published,
            ),
            (
                "homeport_nats_dropped_total",
                Counter,
                "Core NATS publishes dropped: buffer full, or still queued when shutdown gave up.",
                s.dropped,
            ),
            (
                "homeport_nats_js_acked_total",
                Counter,
                "JetStream publishes acknowledged (new or duplicate).",
                s.js_acked,
            ),
            (
                "homeport_nats_js_duplicates_total",
                Counter,
                "JetStream publishes acknowledged as duplicates of an already stored message id.",
                s.js_duplicates,
            ),
            (
                "homeport_nats_js_retries_total",
                Counter,
                "JetStream and KV attempts that failed transiently and were retried.",
                s.js_retries,
            ),
            (
                "homeport_nats_kv_puts_total",
                Counter,
                "NATS KV puts acknowledged.",
                s.kv_puts,
            ),
            (
                "homeport_nats_errors_total",
                Counter,
                "NATS operations that failed for good (refused by the server or the client).",
                s.errors,
            ),
            (
                "homeport_nats_connected",
                Gauge,
                "Whether the NATS client is connected (1) or not (0).",
                u64::from(s.connected),
            ),
        ] {
            out.family(name, kind, help).sample(&[], value);
        }
    }

    /// The underlying client, for request/reply and the cluster features built on this
    /// connection.
    pub fn client(&self) -> &Client {
        &self.inner.client
    }

    /// Resolves once the shutdown token fired and the queued core publishes were flushed (or
    /// given up on after 5 seconds without a server).
    pub async fn closed(&self) {
        self.inner.tasks.wait().await;
    }

    fn check_size(&self, subject: &str, payload: usize, extra: usize) -> Result<(), NatsError> {
        let max = self.inner.client.max_payload();
        let size = payload + extra;
        if max > 0 && size > max {
            return Err(NatsError::PayloadTooLarge {
                subject: subject.to_owned(),
                size,
                max,
            });
        }
        Ok(())
    }

    /// Runs `attempt` until it succeeds (returning its value and the attempts it took), fails
    /// for good (`classify` says so; `reject` makes the error), or the sink shuts down. Between
    /// attempts it waits, with backoff, for the connection to be back.
    async fn with_retries<T, E, Fut>(
        &self,
        what: &'static str,
        subject: &str,
        mut attempt: impl FnMut() -> Fut,
        classify: fn(&E) -> Verdict,
        reject: impl Fn(E) -> NatsError,
    ) -> Result<(T, u32), NatsError>
    where
        Fut: Future<Output = Result<T, E>>,
        E: std::error::Error,
    {
        let inner = &self.inner;
        let shutting_down = || NatsError::ShuttingDown {
            what,
            subject: subject.to_owned(),
        };
        let mut attempts = 0u32;
        loop {
            if inner.shutdown.is_cancelled() {
                return Err(shutting_down());
            }
            attempts += 1;
            let error = match attempt().await {
                Ok(value) => return Ok((value, attempts)),
                Err(error) => error,
            };
            if classify(&error) == Verdict::Fail {
                return Err(reject(error));
            }
            self.note_retry(what, subject, attempts, &error);
            let pause = retry::backoff(attempts);
            if !retry::pause_until_connected(&inner.client, pause, &inner.shutdown).await {
                return Err(shutting_down());
            }
        }
    }

    fn note_retry(&self, what: &str, subject: &str, attempts: u32, error: &dyn std::error::Error) {
        self.inner
            .counters
            .js_retries
            .fetch_add(1, Ordering::Relaxed);
        // First failure and then every tenth: an outage is visible without a line per attempt.
        if attempts % 10 == 1 {
            tracing::warn!(
                servers = %self.inner.servers,
                %subject,
                attempts,
                %error,
                "{what} not acknowledged yet; retrying with the same id"
            );
        } else {
            tracing::debug!(%subject, attempts, %error, "{what} retry");
        }
    }
}

impl fmt::Debug for NatsSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NatsSink")
            .field("servers", &self.inner.servers)
            .field(
                "stream",
                &self.inner.jetstream.as_ref().map(|js| &js.stream),
            )
            .field("bucket", &self.inner.kv.as_ref().map(|kv| &kv.bucket))
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

fn log_event(servers: &str, event: &Event) {
    match event {
        Event::Connected => tracing::info!(%servers, "NATS connected"),
        Event::Disconnected => tracing::warn!(
            %servers,
            "NATS disconnected; buffering core publishes and retrying JetStream until it is back"
        ),
        Event::SlowConsumer(_) | Event::ServerError(_) | Event::ClientError(_) => {
            tracing::warn!(%servers, %event, "NATS");
        }
        Event::LameDuckMode | Event::Draining | Event::Closed => {
            tracing::info!(%servers, %event, "NATS");
        }
    }
}
