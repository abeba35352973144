//! The connection task: drives rumqttc's event loop, hands it the outbox's messages in order,
//! reports writes and PUBACKs back to the outbox, reconnects with backoff, and on shutdown
//! delivers what is queued, publishes `offline` and disconnects cleanly.
//!
//! Every connection attempt gets a fresh rumqttc `EventLoop` with a clean session: rumqttc's
//! own replay of unacknowledged packets is not used, because the outbox re-sends them itself,
//! in order, together with everything that was still waiting.

use std::future;
use std::sync::Arc;
use std::time::Duration;

use futures::FutureExt;
use rumqttc::{AsyncClient, ConnectionError, Event, EventLoop, MqttOptions, Outgoing, Packet};
use tokio::time::{Instant, sleep, sleep_until};
use tokio_util::sync::CancellationToken;

use super::outbox::FEED_AHEAD;
use super::shared::Shared;

/// First wait before reconnecting; it doubles after each failed attempt.
const FIRST_RETRY: Duration = Duration::from_millis(100);

/// How a connection attempt ended.
enum End {
    /// Shut down: delivered and disconnected, or out of time.
    Finished,
    /// The connection failed or broke; try again.
    Lost {
        error: ConnectionError,
        was_connected: bool,
    },
}

/// The task's fixed inputs.
pub(crate) struct Connection {
    pub(crate) shared: Arc<Shared>,
    pub(crate) options: MqttOptions,
    /// The broker for logs (no password).
    pub(crate) broker: String,
    pub(crate) reconnect_max: Duration,
    pub(crate) shutdown_timeout: Duration,
    pub(crate) shutdown: CancellationToken,
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
            let (client, mut eventloop) = AsyncClient::new(self.options.clone(), FEED_AHEAD);
            match self.session(&client, &mut eventloop, &mut deadline).await {
                End::Finished => break,
                End::Lost {
                    error,
                    was_connected,
                } => {
                    self.shared.outbox().on_disconnected();
                    let error = error.to_string();
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
    async fn session(
        &self,
        client: &AsyncClient,
        eventloop: &mut EventLoop,
        deadline: &mut Option<Instant>,
    ) -> End {
        let mut connected = false;
        let mut disconnecting = false;
        loop {
            if deadline.is_some() && self.shared.outbox().drained() {
                if !connected {
                    return End::Finished;
                }
                if !disconnecting {
                    // DISCONNECT tells the broker to discard the Last Will: `offline` is sent.
                    if client.try_disconnect().is_err() {
                        return End::Finished;
                    }
                    disconnecting = true;
                }
            }
            if connected && !disconnecting {
                self.feed(client);
            }
            // The poll future is never dropped half-way except to give up: rumqttc's
            // `EventLoop::poll` is not meant to be cancelled in the middle of a read or write.
            let event = {
                let poll = eventloop.poll();
                tokio::pin!(poll);
                loop {
                    tokio::select! {
                        biased;
                        event = &mut poll => break event,
                        () = self.shutdown.cancelled(), if deadline.is_none() => {
                            self.begin_shutdown(deadline);
                            if !connected && self.shared.outbox().drained() {
                                return End::Finished;
                            }
                            if connected && !disconnecting {
                                self.feed(client);
                            }
                        }
                        () = self.shared.wake.notified() => {
                            if connected && !disconnecting {
                                self.feed(client);
                            }
                        }
                        () = until(*deadline) => return End::Finished,
                    }
                }
            };
            match event {
                Ok(Event::Incoming(Packet::ConnAck(_))) => {
                    connected = true;
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
                Ok(Event::Incoming(Packet::PubAck(ack))) => {
                    self.shared.outbox().on_puback(ack.pkid);
                    self.shared.room.notify_waiters();
                }
                Ok(Event::Outgoing(Outgoing::Publish(pkid))) => {
                    self.shared.outbox().on_written(pkid);
                    self.shared.room.notify_waiters();
                }
                Ok(Event::Outgoing(Outgoing::Disconnect)) => return End::Finished,
                Ok(_) => {}
                Err(error) => {
                    return End::Lost {
                        error,
                        was_connected: connected,
                    };
                }
            }
        }
    }

    /// Hands the client every message it may take now, in queue order.
    fn feed(&self, client: &AsyncClient) {
        let mut outbox = self.shared.outbox();
        while let Some(message) = outbox.next_to_feed() {
            let qos = rumqttc::QoS::from(message.qos);
            // The outbox never hands over more than the channel holds, so this send is ready at
            // once; `publish_bytes` shares the payload instead of copying it.
            let sent = client
                .publish_bytes(
                    message.topic.clone(),
                    qos,
                    message.retain,
                    message.payload.clone(),
                )
                .now_or_never();
            if !matches!(sent, Some(Ok(()))) {
                outbox.unfeed(message);
                break;
            }
        }
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

/// Completes at `deadline`, or never without one.
async fn until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => sleep_until(deadline).await,
        None => future::pending().await,
    }
}
