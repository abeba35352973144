//! The MQTT sink: one broker connection (MQTT 3.1.1, spoken by the sink itself) that pipeline
//! stages publish through.
//!
//! - [`config`] — [`MqttConfig`], the broker URL parser and the checks run before start.
//! - [`topic`] — [`valid_topic`]: topics the sink refuses.
//! - `outbox` — the sink's bounded queue and remembered retained states (no async).
//! - `connection` — the task that talks to the broker, reconnects and drains on shutdown.
//! - `packet` — the MQTT 3.1.1 packets it writes and reads (no I/O).
//! - [`publish`] — [`Publish`] and [`QoS`]; [`stats`] — [`MqttStats`].
//! - `shared` — what the handle and the connection task share (the outbox, the wake-up).
//! - `tls` — the rustls client configuration for `mqtts://`.
//! - [`MqttSink`] (here) — the cheap cloneable handle.
//!
//! # Delivery
//!
//! [`MqttSink::publish`] never waits for the network: the message goes into the sink's own
//! queue (bounded by [`MqttConfig::buffer`], then [`MqttConfig::when_full`], counted) and the
//! connection task hands messages to the broker strictly in queue order.
//!
//! - **QoS 1** messages leave the queue only when the broker's PUBACK arrives. When the
//!   connection breaks, every message handed over but not acknowledged is sent again on the next
//!   connection, before anything newer and in the original order. So nothing is lost across a
//!   broker restart (up to the buffer bound) and per-topic order is kept. A subscriber can see a
//!   message twice only if it was in flight at the moment of the disconnect (the broker had it,
//!   its PUBACK had not arrived); [`MqttStats::resent`] counts them. The guarantee
//!   ends at the PUBACK: what a broker does with a message it acknowledged (for example lose
//!   it in a `kill -9` without persistence) is up to the broker.
//! - **QoS 0** messages leave the queue once written to the socket; they wait in the queue while
//!   the broker is away like the others, but one written just before a disconnect may be lost.
//! - **Retained state** ([`MqttSink::set_retained`]) is published with QoS 1 and remembered
//!   (the latest value per topic, bounded by [`MqttConfig::max_retained`]). Every connection
//!   starts by publishing the gateway status `online` and every remembered state whose latest
//!   value is not still queued, so a broker that restarted without persistence has the current
//!   state again. An update not yet handed to the broker is replaced by a newer one for the same
//!   topic ([`MqttStats::superseded`]). A state dropped by a full buffer is republished from
//!   memory at the next reconnect.
//! - **Gateway status** `homeport/gateway/<node>/status`: retained `online` on every connection;
//!   the Last Will (retained `offline`) covers a crash or a lost network; a clean shutdown
//!   delivers what is queued (for at most [`MqttConfig::shutdown_timeout`]), publishes retained
//!   `offline`, then sends DISCONNECT.

pub mod config;
mod connection;
pub mod error;
mod outbox;
mod packet;
pub mod publish;
mod shared;
pub mod stats;
mod tls;
pub mod topic;

use std::fmt;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use tokio::sync::{Notify, broadcast};
use tokio_util::sync::CancellationToken;

use crate::metrics::Exposition;

pub use config::{DEFAULT_ANNOUNCE_TOPIC, FullPolicy, MqttConfig};
pub use error::MqttError;
pub use publish::{Publish, QoS};
pub use stats::MqttStats;
pub use topic::valid_topic;

use connection::{Connection, Dial};
use outbox::{Limits, Message, OFFLINE, Outbox};
pub use shared::Received;
use shared::Shared;

/// QoS 1 messages unacknowledged on the wire at once (the most a broken connection can make
/// arrive twice). Single device-path runs of `alarm_throughput` (QoS 1, 100 000/s offered):
/// 33 441 and 36 789 alarms/s with 500, 29 960 with 100.
const MAX_IN_FLIGHT: usize = 500;
/// Largest packet accepted from the broker (acknowledgements, and messages on the announce
/// topic: larger ones are dropped).
const MAX_INCOMING_PACKET: usize = 64 * 1024;
/// Received messages kept for a listener that has not taken them yet.
const RECEIVED_KEPT: usize = 16;

/// A running MQTT sink; clones share one connection and one queue.
#[derive(Clone)]
pub struct MqttSink {
    shared: Arc<Shared>,
}

impl fmt::Debug for MqttSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MqttSink")
            .field("status_topic", &self.shared.status_topic)
            .field("connected", &self.is_connected())
            .finish_non_exhaustive()
    }
}

impl MqttSink {
    /// Validates `config`, reads the CA file for `mqtts://`, and spawns the connection task on
    /// the current Tokio runtime. Returns at once: the broker need not be reachable yet.
    ///
    /// When `shutdown` is cancelled the sink refuses new messages, delivers what is queued, then
    /// publishes `offline` and disconnects; [`Self::closed`] tells when that is done.
    ///
    /// # Panics
    ///
    /// Outside a Tokio runtime, like `tokio::spawn`.
    pub fn start(config: MqttConfig, shutdown: CancellationToken) -> Result<Self, MqttError> {
        let endpoint = config.validate()?;
        let status_topic = config.status_topic();

        let dial = Dial {
            host: endpoint.host.clone(),
            port: endpoint.port,
            tls: if endpoint.tls {
                Some(tls::client_config(config.ca_file.as_deref())?)
            } else {
                None
            },
            client_id: config.client_id.clone(),
            keep_alive: config.keep_alive,
            username: endpoint.username.clone(),
            password: endpoint.password.as_ref().map(|p| p.expose().to_owned()),
            will_topic: status_topic.clone(),
            will_payload: OFFLINE.as_bytes(),
            max_in_flight: MAX_IN_FLIGHT,
            max_incoming: MAX_INCOMING_PACKET,
            subscriptions: config.announce_topic.iter().cloned().collect(),
        };

        let limits = Limits {
            buffer: config.buffer,
            when_full: config.when_full,
            max_retained: config.max_retained,
        };
        let shared = Arc::new(Shared {
            outbox: Mutex::new(Outbox::new(limits, status_topic.clone())),
            wake: Notify::new(),
            room: Notify::new(),
            finished: CancellationToken::new(),
            status_topic,
            max_payload: config.max_payload,
            received: broadcast::channel(RECEIVED_KEPT).0,
        });
        let connection = Connection {
            shared: Arc::clone(&shared),
            dial,
            broker: endpoint.to_string(),
            reconnect_max: config.reconnect_max,
            shutdown_timeout: config.shutdown_timeout,
            shutdown,
        };
        tokio::spawn(connection.run());
        Ok(Self { shared })
    }

    /// Messages the broker delivers on the announce topic from now on.
    pub fn received(&self) -> broadcast::Receiver<Received> {
        self.shared.received.subscribe()
    }

    /// Queues a message for the broker; never waits for the network.
    ///
    /// Refused: an invalid topic, a payload over `max_payload`, a full buffer under
    /// `drop_newest` ([`MqttError::BufferFull`]), a sink that is shutting down.
    pub fn publish(&self, publish: Publish) -> Result<(), MqttError> {
        self.shared.check(&publish.topic, &publish.payload)?;
        self.submit(publish)
    }

    /// Publishes `publish` as [`MqttSink::publish`] does, but while the buffer is full under
    /// [`FullPolicy::Block`] (the default) waits for room first: the way pipeline stages
    /// publish, so that nothing is dropped.
    pub async fn send(&self, publish: Publish) -> Result<(), MqttError> {
        self.shared.check(&publish.topic, &publish.payload)?;
        loop {
            let room = self.shared.room.notified();
            tokio::pin!(room);
            room.as_mut().enable();
            if self.shared.outbox().has_room() {
                return self.submit(publish);
            }
            room.await;
        }
    }

    fn submit(&self, publish: Publish) -> Result<(), MqttError> {
        self.shared.outbox().submit(Message {
            topic: publish.topic,
            payload: publish.payload,
            qos: publish.qos,
            retain: publish.retain,
        })?;
        self.shared.wake.notify_one();
        Ok(())
    }

    /// Publishes `payload` as the retained state of `topic` (QoS 1) and remembers it, so that
    /// it is published again after every reconnect. An empty payload is [`Self::clear_retained`].
    pub fn set_retained(
        &self,
        topic: impl Into<String>,
        payload: impl Into<Bytes>,
    ) -> Result<(), MqttError> {
        let topic = topic.into();
        let payload = payload.into();
        if payload.is_empty() {
            return self.clear_retained(&topic);
        }
        self.shared.check(&topic, &payload)?;
        self.shared.outbox().set_retained(topic, payload)?;
        self.shared.wake.notify_one();
        Ok(())
    }

    /// Clears the retained message of `topic` on the broker (an empty retained payload) and
    /// forgets its state.
    pub fn clear_retained(&self, topic: &str) -> Result<(), MqttError> {
        valid_topic(topic)?;
        self.shared.outbox().clear_retained(topic.to_owned())?;
        self.shared.wake.notify_one();
        Ok(())
    }

    /// Current counters and gauges.
    pub fn stats(&self) -> MqttStats {
        self.shared.outbox().stats()
    }

    /// Adds the sink's counters and gauges to `out` (`homeport_mqtt_*`).
    pub fn render_metrics(&self, out: &mut Exposition) {
        use crate::metrics::Kind::{Counter, Gauge};
        let s = self.stats();
        for (name, kind, help, value) in [
            (
                "homeport_mqtt_queued",
                Gauge,
                "Submitted MQTT messages waiting to be handed to the broker.",
                s.queued as u64,
            ),
            (
                "homeport_mqtt_in_flight",
                Gauge,
                "Submitted MQTT messages handed to the broker and not yet done (QoS 1: no PUBACK yet).",
                s.in_flight as u64,
            ),
            (
                "homeport_mqtt_submitted_total",
                Counter,
                "MQTT messages offered to the sink: submitted = delivered + dropped_full + superseded + queued + in_flight.",
                s.submitted,
            ),
            (
                "homeport_mqtt_delivered_total",
                Counter,
                "Submitted MQTT messages done: QoS 1 acknowledged, QoS 0 written.",
                s.delivered,
            ),
            (
                "homeport_mqtt_dropped_full_total",
                Counter,
                "MQTT messages dropped because the sink's buffer was full.",
                s.dropped_full,
            ),
            (
                "homeport_mqtt_superseded_total",
                Counter,
                "Retained MQTT states replaced by a newer value for the same topic before being sent.",
                s.superseded,
            ),
            (
                "homeport_mqtt_resent_total",
                Counter,
                "MQTT messages written before a disconnect whose PUBACK had not arrived, so sent again.",
                s.resent,
            ),
            (
                "homeport_mqtt_republished_total",
                Counter,
                "Retained MQTT states republished from memory at the start of a connection.",
                s.republished,
            ),
            (
                "homeport_mqtt_reconnects_total",
                Counter,
                "MQTT connections made after the first one.",
                s.reconnects,
            ),
            (
                "homeport_mqtt_connected",
                Gauge,
                "Whether the MQTT broker accepted the current connection (1) or not (0).",
                u64::from(s.connected),
            ),
        ] {
            out.family(name, kind, help).sample(&[], value);
        }
    }

    /// Whether the broker accepted the current connection.
    pub fn is_connected(&self) -> bool {
        self.shared.outbox().is_connected()
    }

    /// The gateway status topic, `homeport/gateway/<node>/status`.
    pub fn status_topic(&self) -> &str {
        &self.shared.status_topic
    }

    /// Completes when the connection task has ended (after a shutdown).
    pub async fn closed(&self) {
        self.shared.finished.cancelled().await;
    }
}
