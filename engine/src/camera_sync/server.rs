//! The sync listener and the app connections.
//!
//! A main connection logs in and stays (heartbeats at least every 30 s; silent for the
//! timeout, it is closed). A data connection is opened on request: the server listens on a
//! fresh port for exactly one connection from the main connection's address, within a short
//! window, and that connection acts for the main connection's account. Every command line
//! becomes a `sync_request` event; a line that cannot be read (too long, not UTF-8, unknown
//! command, bad fields) is logged and closes that connection only.
//!
//! With [`SyncTls`] the main listener and every data port speak TLS (the same line protocol
//! inside); a connection that fails the handshake is logged and closed.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use homeport_protocol::sync::{SyncLineCodec, SyncMessage};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio::time::{Instant, sleep_until};
use tokio_util::codec::Framed;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::hub::{SyncConfig, SyncHub};
use super::tls::SyncTls;
use crate::bus::EventBus;
use crate::event::{Event, EventKind};

/// The camera-sync server.
#[derive(Debug)]
pub struct SyncServer {
    hub: Arc<SyncHub>,
    bus: EventBus,
    addr: SocketAddr,
    limit: Arc<Semaphore>,
    tls: Option<SyncTls>,
    tracker: TaskTracker,
    shutdown: CancellationToken,
}

/// The event `device` of an app session, so one session's commands stay in order.
pub fn session_key(session: u64) -> String {
    format!("app-{session}")
}

impl SyncServer {
    /// Listens on `addr` (plain TCP) and serves apps until [`SyncServer::shutdown`].
    pub async fn start(
        addr: SocketAddr,
        config: SyncConfig,
        bus: EventBus,
    ) -> std::io::Result<Arc<Self>> {
        Self::start_with_tls(addr, config, bus, None).await
    }

    /// Like [`SyncServer::start`]; with `tls`, the listener and the data ports speak TLS.
    pub async fn start_with_tls(
        addr: SocketAddr,
        config: SyncConfig,
        bus: EventBus,
        tls: Option<SyncTls>,
    ) -> std::io::Result<Arc<Self>> {
        let listener = TcpListener::bind(addr).await?;
        let server = Arc::new(Self {
            addr: listener.local_addr()?,
            limit: Arc::new(Semaphore::new(config.max_sessions)),
            tls,
            hub: Arc::new(SyncHub::new(config)),
            bus,
            tracker: TaskTracker::new(),
            shutdown: CancellationToken::new(),
        });
        server.tracker.spawn(Arc::clone(&server).accept(listener));
        tracing::info!(addr = %server.addr, tls = server.tls.is_some(), "camera-sync server listening");
        Ok(server)
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The live sessions.
    pub fn hub(&self) -> &Arc<SyncHub> {
        &self.hub
    }

    async fn accept(self: Arc<Self>, listener: TcpListener) {
        loop {
            let accepted = tokio::select! {
                () = self.shutdown.cancelled() => return,
                accepted = listener.accept() => accepted,
            };
            let (stream, peer) = match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    tracing::warn!(error = %e, "sync accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            let Ok(permit) = Arc::clone(&self.limit).try_acquire_owned() else {
                tracing::warn!(%peer, "refusing an app connection: too many sessions");
                continue;
            };
            let server = Arc::clone(&self);
            self.tracker.spawn(async move {
                server.connection(stream, peer, None).await;
                drop(permit);
            });
        }
    }

    /// Opens a one-connection data port for main session `main`; `None` if none can be had.
    pub async fn open_data_port(self: &Arc<Self>, main: u64) -> Option<u16> {
        let peer = self.hub.peer_of(main)?;
        let listener = TcpListener::bind(SocketAddr::new(self.addr.ip(), 0))
            .await
            .ok()?;
        let port = listener.local_addr().ok()?.port();
        let server = Arc::clone(self);
        let window = self.hub.config().data_window;
        self.tracker.spawn(async move {
            let deadline = Instant::now() + window;
            loop {
                let accepted = tokio::select! {
                    () = server.shutdown.cancelled() => return,
                    () = sleep_until(deadline) => {
                        tracing::info!(main, port, "data port closed: nobody connected in time");
                        return;
                    }
                    accepted = listener.accept() => accepted,
                };
                match accepted {
                    Ok((stream, from)) if from.ip() == peer => {
                        drop(listener);
                        server.connection(stream, from, Some(main)).await;
                        return;
                    }
                    Ok((_, from)) => tracing::warn!(main, port, %from, expected = %peer, "refusing a data connection from another address"),
                    Err(e) => tracing::warn!(main, port, error = %e, "data accept failed"),
                }
            }
        });
        Some(port)
    }

    /// Serves one accepted connection, after the TLS handshake when TLS is on.
    async fn connection(&self, stream: TcpStream, peer: SocketAddr, main: Option<u64>) {
        let _ = stream.set_nodelay(true);
        let Some(tls) = &self.tls else {
            return self.serve(stream, peer, main).await;
        };
        let handshake = tokio::select! {
            () = self.shutdown.cancelled() => return,
            handshake = tls.accept(stream) => handshake,
        };
        match handshake {
            Ok(stream) => self.serve(stream, peer, main).await,
            Err(e) => {
                tracing::warn!(%peer, data = main.is_some(), error = %e, "closing an app connection: TLS handshake failed");
            }
        }
    }

    async fn serve<S>(&self, stream: S, peer: SocketAddr, main: Option<u64>)
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        let mut registration = self.hub.register(peer.ip(), main);
        let id = registration.id;
        let (mut sink, mut lines) = Framed::new(stream, SyncLineCodec::new()).split();
        let timeout = self.hub.config().heartbeat_timeout;
        let mut silent_until = Instant::now() + timeout;
        let end = loop {
            tokio::select! {
                () = registration.close.cancelled() => break "closed by the server",
                () = self.shutdown.cancelled() => break "server shutting down",
                () = sleep_until(silent_until), if main.is_none() => break "no heartbeat",
                out = registration.lines.recv() => {
                    let Some(out) = out else { break "session ended" };
                    if sink.send(out).await.is_err() {
                        break "write failed";
                    }
                }
                line = lines.next() => match line {
                    None => break "closed by the app",
                    Some(Err(e)) => {
                        tracing::warn!(session = id, %peer, error = %e, "closing an app connection: unreadable line");
                        break "unreadable line";
                    }
                    Some(Ok(Err(e))) => {
                        tracing::warn!(session = id, %peer, error = %e, "closing an app connection: bad command");
                        break "bad command";
                    }
                    Some(Ok(Ok(message))) => {
                        silent_until = Instant::now() + timeout;
                        self.command(id, peer.ip(), main.is_some(), message);
                    }
                },
            }
        };
        tracing::debug!(session = id, %peer, end, "app connection ended");
        self.hub.remove(id);
    }

    fn command(&self, id: u64, peer: IpAddr, data: bool, message: SyncMessage) {
        if message == SyncMessage::Heartbeat {
            // Transport-level: answered here, in order with everything else queued.
            self.hub.send(id, SyncMessage::Heartbeat);
            return;
        }
        let kind = EventKind::SyncRequest {
            session: id,
            account: self.hub.account_of(id),
            peer: peer.to_string(),
            data,
            command: message.command().as_str().to_owned(),
            message: Some(Arc::new(message)),
        };
        self.bus.publish(Event::new(session_key(id), kind));
    }

    /// Closes every app connection and stops listening.
    pub async fn shutdown(&self) {
        self.shutdown.cancel();
        self.hub.close_all();
        self.tracker.close();
        let _ = tokio::time::timeout(Duration::from_secs(5), self.tracker.wait()).await;
    }
}
