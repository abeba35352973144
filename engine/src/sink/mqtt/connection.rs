//! The connection task: speaks MQTT 3.1.1 to the broker itself ([`super::packet`]), writes
//! the outbox's messages in order, reports writes and PUBACKs back to the outbox, reconnects
//! with backoff, and on shutdown delivers what is queued, publishes `offline` and disconnects
//! cleanly.
//!
//! Every connection is a clean session: the outbox re-sends what was not acknowledged itself,
//! in order, together with everything that was still waiting. What is ready goes out in one
//! write (up to [`FEED_AHEAD`](super::outbox::FEED_AHEAD) publishes) and every acknowledgement that arrived is taken in
//! with one read, so the cost of a system call is shared by many messages.

use std::collections::HashSet;
use std::future;
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{Instant, sleep, sleep_until, timeout};
use tokio_util::sync::CancellationToken;

use super::outbox::Message;
use super::packet::{self, Connect, Incoming, Will};
use super::publish::QoS;
use super::shared::{Received, Shared};

/// First wait before reconnecting; it doubles after each failed attempt.
const FIRST_RETRY: Duration = Duration::from_millis(100);
/// How long connecting (TCP, TLS, CONNECT → CONNACK) and one write may take.
const NETWORK_TIMEOUT: Duration = Duration::from_secs(10);
/// Bytes read from the socket at a time.
const READ_CHUNK: usize = 8 * 1024;

/// What one connection needs to dial and introduce itself.
pub(crate) struct Dial {
    pub(crate) host: String,
    pub(crate) port: u16,
    pub(crate) tls: Option<Arc<rustls::ClientConfig>>,
    pub(crate) client_id: String,
    pub(crate) keep_alive: Duration,
    pub(crate) username: Option<String>,
    pub(crate) password: Option<String>,
    pub(crate) will_topic: String,
    pub(crate) will_payload: &'static [u8],
    /// QoS 1 publishes unacknowledged on the wire at once, at most.
    pub(crate) max_in_flight: usize,
    /// Largest packet accepted from the broker.
    pub(crate) max_incoming: usize,
    /// Topics subscribed to at QoS 0 on every connection (their messages go to
    /// [`Shared::received`]).
    pub(crate) subscriptions: Vec<String>,
}

/// A byte stream to the broker: plain TCP or TLS.
trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// How a connection attempt ended.
enum End {
    /// Shut down: delivered and disconnected, or out of time.
    Finished,
    /// The connection failed or broke; try again.
    Lost { error: String, was_connected: bool },
}

/// The task's fixed inputs.
pub(crate) struct Connection {
    pub(crate) shared: Arc<Shared>,
    pub(crate) dial: Dial,
    /// The broker for logs (no password).
    pub(crate) broker: String,
    pub(crate) reconnect_max: Duration,
    pub(crate) shutdown_timeout: Duration,
    pub(crate) shutdown: CancellationToken,
}

/// One open connection's state.
struct Link {
    io: Box<dyn Io>,
    read: BytesMut,
    write: BytesMut,
    /// Packet ids of QoS 1 publishes awaiting PUBACK.
    in_flight: HashSet<u16>,
    next_pkid: u16,
    /// When the next PINGREQ is due, and whether the last one is still unanswered.
    ping_at: Instant,
    ping_outstanding: bool,
    /// Bytes of an oversized incoming message still to be dropped.
    discard: usize,
}

impl Connection {
    /// Runs until shutdown has delivered everything (or run out of time).
    pub(crate) async fn run(self) {
        let mut delay = FIRST_RETRY;
        let mut deadline = None;
        let mut last_error = String::new();
        loop {
            if self.shutdown.is_cancelled() && deadline.is_none() {
                self.begin_shutdown(&mut deadline);
            }
            match self.session(&mut deadline).await {
                End::Finished => break,
                End::Lost {
                    error,
                    was_connected,
                } => {
                    self.shared.outbox().on_disconnected();
                    self.shared.room.notify_waiters();
                    if was_connected {
                        delay = FIRST_RETRY;
                        tracing::warn!(
                            broker = %self.broker,
                            %error,
                            "MQTT connection lost; reconnecting, messages are kept"
                        );
                    } else if error != last_error {
                        tracing::warn!(
                            broker = %self.broker,
                            %error,
                            "cannot connect to the MQTT broker; retrying, messages are kept"
                        );
                    } else {
                        tracing::debug!(
                            broker = %self.broker,
                            %error,
                            "MQTT connection attempt failed"
                        );
                    }
                    last_error = error;
                }
            }
            tokio::select! {
                () = sleep(delay) => {}
                () = self.shutdown.cancelled(), if deadline.is_none() => {
                    self.begin_shutdown(&mut deadline);
                }
                () = until(deadline) => break,
            }
            if deadline.is_some() && self.shared.outbox().drained() {
                break;
            }
            delay = (delay * 2).min(self.reconnect_max);
        }
        let undelivered = self.shared.outbox().undelivered();
        if undelivered > 0 {
            tracing::warn!(
                broker = %self.broker,
                undelivered,
                "MQTT sink stopped before the broker took every message"
            );
        } else {
            tracing::info!(broker = %self.broker, "MQTT sink stopped");
        }
        self.shared.finished.cancel();
    }

    /// One connection, from the connect attempt to its end.
    async fn session(&self, deadline: &mut Option<Instant>) -> End {
        let lost = |error: String, was_connected| End::Lost {
            error,
            was_connected,
        };
        let open = self.open();
        tokio::pin!(open);
        let opened = loop {
            tokio::select! {
                opened = &mut open => break opened,
                () = until(*deadline) => return End::Finished,
                () = self.shutdown.cancelled(), if deadline.is_none() => {
                    self.begin_shutdown(deadline);
                    if self.shared.outbox().drained() {
                        return End::Finished;
                    }
                }
            }
        };
        let mut link = match opened {
            Ok(link) => link,
            Err(error) => return lost(error, false),
        };
        {
            let mut outbox = self.shared.outbox();
            outbox.on_connected();
            let stats = outbox.stats();
            drop(outbox);
            tracing::info!(
                broker = %self.broker,
                queued = stats.queued,
                republishing = stats.republish_pending,
                "MQTT connected"
            );
        }
        if !self.dial.subscriptions.is_empty() {
            // Every connection is a clean session: subscriptions are made again each time.
            let pkid = link.take_pkid();
            packet::subscribe(&mut link.write, pkid, &self.dial.subscriptions);
        }
        loop {
            if let Err(error) = self.write_ready(&mut link, *deadline).await {
                return lost(error, true);
            }
            if deadline.is_some() && self.shared.outbox().drained() {
                // DISCONNECT tells the broker to discard the Last Will: `offline` is sent.
                packet::disconnect(&mut link.write);
                let _ = timeout(NETWORK_TIMEOUT, flush(&mut link)).await;
                let _ = link.io.shutdown().await;
                return End::Finished;
            }
            tokio::select! {
                biased;
                read = link.io.read_buf(&mut link.read) => match read {
                    Ok(0) => return lost("the broker closed the connection".to_owned(), true),
                    Ok(_) => {
                        if let Err(error) = self.take_incoming(&mut link) {
                            return lost(error, true);
                        }
                    }
                    Err(error) => return lost(error.to_string(), true),
                },
                () = self.shutdown.cancelled(), if deadline.is_none() => {
                    self.begin_shutdown(deadline);
                }
                () = self.shared.wake.notified() => {}
                () = sleep_until(link.ping_at) => {
                    if link.ping_outstanding {
                        return lost(
                            format!("no answer to a ping within {:?}", self.dial.keep_alive),
                            true,
                        );
                    }
                    packet::ping(&mut link.write);
                    link.ping_outstanding = true;
                    link.ping_at = Instant::now() + self.dial.keep_alive;
                }
                () = until(*deadline) => return End::Finished,
            }
            if link.read.capacity() - link.read.len() < READ_CHUNK {
                link.read.reserve(READ_CHUNK);
            }
        }
    }

    /// Dials the broker, says CONNECT and waits for its CONNACK.
    async fn open(&self) -> Result<Link, String> {
        let dial = &self.dial;
        let attempt = async {
            let tcp = TcpStream::connect((dial.host.trim_matches(['[', ']']), dial.port))
                .await
                .map_err(|e| e.to_string())?;
            tcp.set_nodelay(true).map_err(|e| e.to_string())?;
            let io: Box<dyn Io> = match &dial.tls {
                Some(config) => {
                    let name = rustls::pki_types::ServerName::try_from(
                        dial.host.trim_matches(['[', ']']).to_owned(),
                    )
                    .map_err(|e| format!("not a TLS server name: {e}"))?;
                    let tls = tokio_rustls::TlsConnector::from(Arc::clone(config))
                        .connect(name, tcp)
                        .await
                        .map_err(|e| format!("TLS: {e}"))?;
                    Box::new(tls)
                }
                None => Box::new(tcp),
            };
            let mut link = Link {
                io,
                read: BytesMut::with_capacity(READ_CHUNK),
                write: BytesMut::with_capacity(64 * 1024),
                in_flight: HashSet::new(),
                next_pkid: 0,
                ping_at: Instant::now() + dial.keep_alive,
                ping_outstanding: false,
                discard: 0,
            };
            packet::connect(
                &mut link.write,
                &Connect {
                    client_id: &dial.client_id,
                    keep_alive_secs: dial.keep_alive.as_secs().min(u64::from(u16::MAX)) as u16,
                    clean_session: true,
                    will: Some(Will {
                        topic: &dial.will_topic,
                        payload: dial.will_payload,
                        qos: QoS::AtLeastOnce,
                        retain: true,
                    }),
                    username: dial.username.as_deref(),
                    password: dial.password.as_deref(),
                },
            );
            flush(&mut link).await.map_err(|e| e.to_string())?;
            loop {
                match packet::next(&mut link.read, dial.max_incoming).map_err(|e| e.to_string())? {
                    Some(Incoming::ConnAck { code: 0 }) => return Ok(link),
                    Some(Incoming::ConnAck { code }) => {
                        return Err(format!("{} (code {code})", packet::refusal(code)));
                    }
                    Some(other) => return Err(format!("expected CONNACK, got {other:?}")),
                    None => {}
                }
                if link
                    .io
                    .read_buf(&mut link.read)
                    .await
                    .map_err(|e| e.to_string())?
                    == 0
                {
                    return Err("the broker closed the connection before CONNACK".to_owned());
                }
            }
        };
        timeout(NETWORK_TIMEOUT, attempt)
            .await
            .unwrap_or_else(|_| Err(format!("no CONNACK within {NETWORK_TIMEOUT:?}")))
    }

    /// Writes every message the outbox may hand over now (in batches of up to
    /// [`FEED_AHEAD`](super::outbox::FEED_AHEAD)), and anything else waiting in the write buffer.
    /// A write that the broker does not take within [`NETWORK_TIMEOUT`] (or by the shutdown
    /// deadline) ends the connection.
    async fn write_ready(&self, link: &mut Link, deadline: Option<Instant>) -> Result<(), String> {
        loop {
            let written = self.encode_ready(link);
            if link.write.is_empty() {
                return Ok(());
            }
            let limit = deadline.map_or(NETWORK_TIMEOUT, |at| {
                at.saturating_duration_since(Instant::now())
                    .min(NETWORK_TIMEOUT)
            });
            timeout(limit, flush(link))
                .await
                .map_err(|_| format!("the broker took no data for {limit:?}"))?
                .map_err(|e| e.to_string())?;
            if written.is_empty() {
                return Ok(());
            }
            let mut outbox = self.shared.outbox();
            for pkid in written {
                outbox.on_written(pkid);
            }
            drop(outbox);
            self.shared.room.notify_waiters();
        }
    }

    /// Encodes the messages the outbox hands over while the in-flight window has room;
    /// returns their packet ids (0 for QoS 0) in order.
    fn encode_ready(&self, link: &mut Link) -> Vec<u16> {
        let mut written = Vec::new();
        let mut outbox = self.shared.outbox();
        while link.in_flight.len() < self.dial.max_in_flight {
            let Some(message) = outbox.next_to_feed() else {
                break;
            };
            let pkid = match message.qos {
                QoS::AtMostOnce => 0,
                QoS::AtLeastOnce => link.take_pkid(),
            };
            encode(&mut link.write, &message, pkid);
            written.push(pkid);
        }
        written
    }

    /// Handles every whole packet read so far.
    fn take_incoming(&self, link: &mut Link) -> Result<(), String> {
        let mut acked = false;
        let mut outbox = None;
        link.discard = packet::discard(&mut link.read, link.discard);
        if link.discard > 0 {
            return Ok(());
        }
        while let Some(packet) =
            packet::next(&mut link.read, self.dial.max_incoming).map_err(|e| e.to_string())?
        {
            match packet {
                Incoming::PubAck(pkid) => {
                    link.in_flight.remove(&pkid);
                    outbox
                        .get_or_insert_with(|| self.shared.outbox())
                        .on_puback(pkid);
                    acked = true;
                }
                Incoming::SubAck { pkid, refused } => {
                    link.in_flight.remove(&pkid);
                    if refused {
                        tracing::warn!(
                            broker = %self.broker,
                            topics = ?self.dial.subscriptions,
                            "the MQTT broker refused a subscription (an ACL?)"
                        );
                    }
                }
                Incoming::Publish {
                    topic,
                    payload,
                    qos,
                    pkid,
                } => {
                    if let (1, Some(pkid)) = (qos, pkid) {
                        packet::puback(&mut link.write, pkid);
                    }
                    // Nobody listening, or a listener behind: nothing is owed to these.
                    let _ = self.shared.received.send(Received { topic, payload });
                }
                Incoming::Oversized { len, left } => {
                    link.discard = left;
                    tracing::warn!(
                        broker = %self.broker,
                        len,
                        max = self.dial.max_incoming,
                        "an MQTT message too large to take was dropped"
                    );
                }
                Incoming::PingResp => link.ping_outstanding = false,
                Incoming::ConnAck { .. } => return Err("a second CONNACK".to_owned()),
                Incoming::Other(kind) => {
                    tracing::debug!(kind, "MQTT packet the sink does not use; ignored");
                }
            }
        }
        drop(outbox);
        if acked {
            self.shared.room.notify_waiters();
        }
        Ok(())
    }

    fn begin_shutdown(&self, deadline: &mut Option<Instant>) {
        self.shared.outbox().begin_shutdown();
        self.shared.room.notify_waiters();
        *deadline = Some(Instant::now() + self.shutdown_timeout);
        tracing::info!(
            broker = %self.broker,
            "MQTT sink shutting down: delivering what is queued, then `offline`"
        );
    }
}

impl Link {
    /// A packet id no unacknowledged publish uses (1..=65 535), marked in flight.
    fn take_pkid(&mut self) -> u16 {
        loop {
            self.next_pkid = self.next_pkid.checked_add(1).unwrap_or(1);
            if self.in_flight.insert(self.next_pkid) {
                return self.next_pkid;
            }
        }
    }
}

fn encode(out: &mut BytesMut, message: &Message, pkid: u16) {
    packet::publish(
        out,
        &message.topic,
        &message.payload,
        message.qos,
        message.retain,
        pkid,
    );
}

/// Writes the whole write buffer.
async fn flush(link: &mut Link) -> std::io::Result<()> {
    link.io.write_all(&link.write).await?;
    link.io.flush().await?;
    link.write.clear();
    Ok(())
}

/// Completes at `deadline`, or never without one.
async fn until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => sleep_until(deadline).await,
        None => future::pending().await,
    }
}
