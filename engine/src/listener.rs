//! The register listener: accepts cameras, reads their announcement (bounded, with a
//! timeout), registers them, and hands each connection to its session task.
//!
//! Bad input closes only its own connection, with one (aggregated) log line: junk instead of
//! an announcement, an oversize frame, an announcement that never completes, too many
//! connections at once. Until a device has logged in, no frame may exceed 4 KiB.
//!
//! A second connection announcing the ID of a device that is online does not take its place
//! until the first is proven dead: the live session is probed, and if it answers, the
//! newcomer is refused with a `security` event (`duplicate_id`) naming both addresses.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use homeport_protocol::dvrip::DvripPacket;
use homeport_protocol::dvrip::packet::PORTABLE_DEVICE_ID;
use homeport_protocol::wire::{WireCodec, WireFrame};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio_util::codec::{Framed, FramedParts};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::cidr::Cidr;
use crate::device::Link;
use crate::event::{Event, EventKind, RegistrationKind, SecurityCode};
use crate::log_limit::LogLimiter;
use crate::metrics::Metrics;
use crate::registry::Registry;
use crate::session::{self, SessionConfig};
use crate::trace::{TracedIo, Traces};

/// Largest frame accepted before a device has logged in: the announcement is 96 bytes.
pub const MAX_ANNOUNCEMENT: usize = 4096;

/// How long an online device has to answer the probe a duplicate announcement triggers.
const PROBE_TIMEOUT: Duration = Duration::from_secs(5);

/// The address of the online session of `id`, if it still answers a probe: then a newcomer
/// announcing the same ID must not replace it.
async fn live_holder(shared: &Shared, id: &str) -> Option<String> {
    let handle = shared.registry.handle(id)?;
    let holder = shared
        .registry
        .view(id)
        .and_then(|v| v.addr)
        .unwrap_or_default();
    let timeout = shared.session.reply_timeout.min(PROBE_TIMEOUT);
    match handle.probe(timeout).await {
        Ok(()) => Some(holder),
        Err(e) => {
            tracing::info!(device = %id, %holder, error = %e, "the online session did not answer a probe; the new connection takes over");
            None
        }
    }
}

/// Limits of the register listener (the config file's `listener:` section).
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ListenerConfig {
    /// How long a new connection has to complete its announcement.
    #[serde(deserialize_with = "crate::de::duration")]
    pub announce_timeout: Duration,
    /// Most device connections at once (announcing, pending and logged in); `homeport run`
    /// lowers it to what the process's descriptor limit leaves after a reserve.
    pub max_connections: usize,
    /// Networks whose pending connections may be logged in over as soon as credentials
    /// appear; from anywhere else an operator accepts such a connection first.
    #[serde(deserialize_with = "crate::de::shared_list")]
    pub trusted_networks: Arc<[Cidr]>,
}

impl Default for ListenerConfig {
    fn default() -> Self {
        Self {
            announce_timeout: Duration::from_secs(10),
            max_connections: 50_000,
            trusted_networks: Arc::from([]),
        }
    }
}

/// Everything a connection task needs.
#[derive(Debug, Clone)]
pub struct Shared {
    /// The device registry.
    pub registry: Arc<Registry>,
    /// Session timers.
    pub session: SessionConfig,
    /// Listener limits.
    pub listener: ListenerConfig,
    /// Counters.
    pub metrics: Arc<Metrics>,
    /// Tracks connection tasks for shutdown.
    pub tracker: TaskTracker,
    /// Which devices' sockets are traced.
    pub traces: Arc<Traces>,
    /// Aggregates the warnings strangers can trigger.
    pub warnings: Arc<LogLimiter>,
}

/// Accepts connections until `stop` fires (the sessions already running carry on).
pub async fn run(listener: TcpListener, shared: Shared, stop: CancellationToken) {
    let limit = Arc::new(Semaphore::new(shared.listener.max_connections));
    loop {
        let accepted = tokio::select! {
            () = stop.cancelled() => return,
            accepted = listener.accept() => accepted,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(e) => {
                // Out of descriptors and the like: back off instead of spinning.
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let Ok(permit) = Arc::clone(&limit).try_acquire_owned() else {
            crate::warn_limited!(shared.warnings, "too_many_connections", %peer, max = shared.listener.max_connections, "refusing a connection: too many devices connected");
            shared.metrics.refused();
            continue;
        };
        let _ = stream.set_nodelay(true);
        let task_shared = shared.clone();
        shared.tracker.spawn(async move {
            connection(stream, peer, task_shared).await;
            drop(permit);
        });
    }
}

async fn connection(stream: TcpStream, peer: SocketAddr, shared: Shared) {
    shared.metrics.connection_opened();
    // Empty buffers: a silent or half-open connection costs almost nothing.
    let stream = TracedIo::new(stream, Arc::clone(&shared.traces), peer.to_string());
    let mut framed = Framed::from_parts(FramedParts::new::<&homeport_protocol::dhip::DhipMessage>(
        stream,
        WireCodec::new(MAX_ANNOUNCEMENT),
    ));
    let announced = tokio::time::timeout(shared.listener.announce_timeout, framed.next()).await;
    let id = match announced {
        Err(_) => Err(format!(
            "no announcement within {:?}",
            shared.listener.announce_timeout
        )),
        Ok(None) => Err("closed before announcing".to_owned()),
        Ok(Some(Err(e))) => Err(format!("bad announcement: {e}")),
        Ok(Some(Ok(WireFrame::Dhip(_)))) => {
            Err("a DHIP message instead of an announcement".to_owned())
        }
        Ok(Some(Ok(WireFrame::Dvrip(frame)))) => match DvripPacket::parse(&frame).announced_id() {
            Some(Ok(id)) => Ok(id.to_owned()),
            Some(Err(e)) => Err(format!("bad announcement: {e}")),
            None => Err(format!(
                "DVRIP command {:#04x} instead of an announcement",
                frame.command()
            )),
        },
    };
    let id = match id {
        Ok(id) => id,
        Err(reason) => {
            crate::warn_limited!(shared.warnings, "bad_announcement", %peer, "closing connection: {reason}");
            shared.metrics.bad_announcement();
            shared.metrics.connection_closed();
            return;
        }
    };
    if let Some(holder) = live_holder(&shared, &id).await {
        // The device that proved itself keeps its session; the newcomer gets nothing.
        crate::warn_limited!(shared.warnings, "duplicate_id", %peer, device = %id, %holder, "refusing a second connection for a device that is online and answering");
        shared.metrics.duplicate();
        shared.registry.bus().publish(Event::new(
            &id,
            EventKind::Security {
                code: SecurityCode::DuplicateId,
                peer: peer.to_string(),
                detail: format!(
                    "{peer} announced the ID of the device online from {holder}, which still answers; the newcomer was refused"
                ),
            },
        ));
        shared.metrics.connection_closed();
        return;
    }
    let trusted = shared
        .listener
        .trusted_networks
        .iter()
        .any(|net| net.contains(peer.ip()));
    let ticket = match shared.registry.register(
        &id,
        &peer.to_string(),
        RegistrationKind::Serial,
        trusted,
    ) {
        Ok(ticket) => ticket,
        Err(e) => {
            crate::warn_limited!(shared.warnings, "registration_refused", %peer, device = %id, "closing connection: {e}");
            shared.metrics.connection_closed();
            return;
        }
    };
    if id.len() > PORTABLE_DEVICE_ID {
        tracing::warn!(%peer, device = %id, len = id.len(), "device ID longer than {PORTABLE_DEVICE_ID} bytes: the vendor's older platforms drop such IDs; keep IDs short for the widest compatibility");
    }
    if ticket.accepted.load(std::sync::atomic::Ordering::Relaxed) {
        tracing::info!(%peer, device = %id, "device registered");
    } else {
        // Anyone can announce an unknown ID: these lines are aggregated.
        crate::info_limited!(shared.warnings, "pending_registered", %peer, device = %id, pending = true, "device registered");
    }
    framed.get_mut().attach(&id);
    // The announcement bound stays until the device has logged in (the session raises it);
    // bytes read past the announcement stay buffered.
    let link = Link::from_framed(framed);
    // Boxed so the task of a connection still announcing stays small: the session's state
    // is allocated only once there is a session.
    Box::pin(session::run(
        link,
        ticket,
        Arc::clone(&shared.registry),
        shared.session,
    ))
    .await;
    shared.metrics.connection_closed();
}
