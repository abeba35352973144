//! The sync listener and the app connections.
//!
//! A main connection logs in and stays (heartbeats at least every 30 s; silent for the
//! timeout, it is closed). A data connection is opened on request (see [`data_port`]). Every
//! command line becomes a `sync_request` event; a line that cannot be read (too long, not
//! UTF-8, unknown command, bad fields) is logged and closes that connection only.
//!
//! **One password check at a time.** After a `Login` or `CreatDataSocket` a connection hands
//! on no further command until that one is answered: up to [`MAX_HELD_LINES`] more lines are
//! held, in order, and one more closes the connection. The connection keeps reading while it
//! waits, so a socket that goes away is noticed at once and its pending login given up.
//!
//! With [`SyncTls`] the main listener and every data port speak TLS (the same line protocol
//! inside); a connection that fails the handshake is logged and closed. Without TLS the
//! listener must be on a loopback address unless plain text is chosen explicitly
//! (`SyncConfig::plaintext`).
//!
//! [`data_port`]: super::data_port

use std::collections::VecDeque;
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

use super::guard::Guard;
use super::hub::{SyncConfig, SyncHub};
use super::texts::Reason;
use super::tls::SyncTls;
use super::waiting::WaitingPorts;
use crate::bus::EventBus;
use crate::event::{Event, EventKind};

/// Lines a connection reads and holds while it waits for the answer to a `Login` or
/// `CreatDataSocket`; one more closes it.
pub const MAX_HELD_LINES: usize = 8;
/// How long a connection waits for that answer before it reads on anyway (a pipeline that
/// dropped the command never answers).
pub const ANSWER_WAIT: Duration = Duration::from_secs(30);

/// Any stream an app connection runs over (plain TCP or TLS).
pub(super) trait AppStream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> AppStream for T {}

/// An app connection, framed into lines.
pub(super) type AppLines = Framed<Box<dyn AppStream>, SyncLineCodec>;

/// Whether the connection must wait for the answer to `message` before it hands on the next
/// command: the commands that may check a password.
pub fn answer_first(message: &SyncMessage) -> bool {
    matches!(
        message,
        SyncMessage::Login { .. } | SyncMessage::CreatDataSocket { .. }
    )
}

/// A command whose answer must come before the next line is handed on.
#[derive(Debug)]
struct Awaiting {
    /// The hub's answer count that means it was answered.
    expected: u64,
    /// Until when it may take.
    by: Instant,
    /// What the app gets if nothing answers by then.
    refusal: SyncMessage,
}

/// The camera-sync server.
#[derive(Debug)]
pub struct SyncServer {
    pub(super) hub: Arc<SyncHub>,
    bus: EventBus,
    pub(super) addr: SocketAddr,
    limit: Arc<Semaphore>,
    pub(super) tls: Option<SyncTls>,
    guard: Guard,
    /// Data ports waiting for their connection, by port.
    pub(super) waiting: WaitingPorts,
    pub(super) tracker: TaskTracker,
    pub(super) shutdown: CancellationToken,
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
    ///
    /// Without `tls`, an address other than loopback is refused unless `config.plaintext`
    /// says plain text is meant (app passwords and camera passwords cross the wire).
    pub async fn start_with_tls(
        addr: SocketAddr,
        config: SyncConfig,
        bus: EventBus,
        tls: Option<SyncTls>,
    ) -> std::io::Result<Arc<Self>> {
        if tls.is_none() && !addr.ip().is_loopback() && !config.plaintext {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!(
                    "the camera-sync listener on {addr} would carry passwords in plain text: \
                     set camera_sync.tls (cert and key), listen on 127.0.0.1, or choose plain \
                     text explicitly (camera_sync.plaintext: true or --sync-plaintext)"
                ),
            ));
        }
        let listener = TcpListener::bind(addr).await?;
        let server = Arc::new(Self {
            addr: listener.local_addr()?,
            limit: Arc::new(Semaphore::new(config.max_sessions)),
            tls,
            guard: Guard::new(&config),
            hub: Arc::new(SyncHub::new(config)),
            bus,
            waiting: WaitingPorts::default(),
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

    /// The login and camera-password guard.
    pub fn guard(&self) -> &Guard {
        &self.guard
    }

    /// Runs `work` as a task of this server (shutdown waits for it, briefly).
    pub fn spawn(&self, work: impl Future<Output = ()> + Send + 'static) {
        self.tracker.spawn(work);
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
                if let Some(lines) = server.handshake(stream, peer, false).await {
                    server.serve(lines, peer, None).await;
                }
                drop(permit);
            });
        }
    }

    /// The TLS handshake when TLS is on, then the line framing; `None` if the handshake
    /// failed (logged) or the server is shutting down.
    pub(super) async fn handshake(
        &self,
        stream: TcpStream,
        peer: SocketAddr,
        data: bool,
    ) -> Option<AppLines> {
        let _ = stream.set_nodelay(true);
        let Some(tls) = &self.tls else {
            let stream: Box<dyn AppStream> = Box::new(stream);
            return Some(Framed::new(stream, SyncLineCodec::new()));
        };
        let handshake = tokio::select! {
            () = self.shutdown.cancelled() => return None,
            handshake = tls.accept(stream) => handshake,
        };
        match handshake {
            Ok(stream) => {
                let stream: Box<dyn AppStream> = Box::new(stream);
                Some(Framed::new(stream, SyncLineCodec::new()))
            }
            Err(e) => {
                tracing::warn!(%peer, data, error = %e, "closing an app connection: TLS handshake failed");
                None
            }
        }
    }

    /// Serves one connection (a data connection names its main session).
    pub(super) async fn serve(&self, lines: AppLines, peer: SocketAddr, main: Option<u64>) {
        let mut registration = self.hub.register(peer.ip(), main);
        let id = registration.id;
        let (mut sink, mut lines) = lines.split();
        let timeout = self.hub.config().heartbeat_timeout;
        let mut silent_until = Instant::now() + timeout;
        let mut held: VecDeque<SyncMessage> = VecDeque::new();
        // The answer count to wait for, until when, and what to answer if nothing does.
        let mut awaiting: Option<Awaiting> = None;
        let end = loop {
            let answer_by = awaiting.as_ref().map_or(silent_until, |a| a.by);
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
                changed = registration.settled.changed(), if awaiting.is_some() => {
                    if changed.is_err() {
                        break "session ended";
                    }
                    let settled = *registration.settled.borrow_and_update();
                    if awaiting.as_ref().is_some_and(|a| settled >= a.expected) {
                        awaiting = self.release(id, peer.ip(), main.is_some(), &mut held);
                    }
                }
                () = sleep_until(answer_by), if awaiting.is_some() => {
                    if let Some(unanswered) = awaiting.take() {
                        tracing::warn!(session = id, %peer, command = unanswered.refusal.command().as_str(), "nothing answered an app within {ANSWER_WAIT:?}: refusing, then reading on");
                        self.hub.send(id, unanswered.refusal);
                    }
                    awaiting = self.release(id, peer.ip(), main.is_some(), &mut held);
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
                    Some(Ok(Ok(SyncMessage::BindDataSocket { .. }))) => {
                        tracing::warn!(session = id, %peer, "closing an app connection: BindDataSocket is only the first line of a data connection");
                        break "misplaced BindDataSocket";
                    }
                    Some(Ok(Ok(message))) => {
                        silent_until = Instant::now() + timeout;
                        if awaiting.is_none() {
                            awaiting = self.command(id, peer.ip(), main.is_some(), message);
                        } else if held.len() < MAX_HELD_LINES {
                            held.push_back(message);
                        } else {
                            tracing::warn!(session = id, %peer, "closing an app connection: more than {MAX_HELD_LINES} lines before the answer to its login");
                            break "too many lines before an answer";
                        }
                    }
                },
            }
        };
        tracing::debug!(session = id, %peer, end, "app connection ended");
        self.hub.remove(id);
    }

    /// Hands on held lines, in order, until one must wait for its answer again.
    fn release(
        &self,
        id: u64,
        peer: IpAddr,
        data: bool,
        held: &mut VecDeque<SyncMessage>,
    ) -> Option<Awaiting> {
        while let Some(message) = held.pop_front() {
            if let Some(awaiting) = self.command(id, peer, data, message) {
                return Some(awaiting);
            }
        }
        None
    }

    /// Hands a command on; for one whose answer must come first, what to wait for.
    fn command(&self, id: u64, peer: IpAddr, data: bool, message: SyncMessage) -> Option<Awaiting> {
        if message == SyncMessage::Heartbeat {
            // Transport-level: answered here, in order with everything else queued.
            self.hub.send(id, SyncMessage::Heartbeat);
            return None;
        }
        let awaiting = answer_first(&message).then(|| Awaiting {
            expected: self.hub.expect_answer(id),
            by: Instant::now() + ANSWER_WAIT,
            refusal: self.unanswered(&message),
        });
        let kind = EventKind::SyncRequest {
            session: id,
            account: self.hub.account_of(id),
            peer: peer.to_string(),
            data,
            command: message.command().as_str().to_owned(),
            message: Some(Arc::new(message)),
        };
        self.bus.publish(Event::new(session_key(id), kind));
        awaiting
    }

    /// What an app gets when nothing answered `message` in time: `LoginError` for a login,
    /// the "no port" answer for a data connection.
    fn unanswered(&self, message: &SyncMessage) -> SyncMessage {
        match message {
            SyncMessage::CreatDataSocket { .. } => SyncMessage::ReturnDataSocketPort(None),
            _ => SyncMessage::LoginError {
                reason: self
                    .hub
                    .config()
                    .language
                    .text(Reason::Unavailable)
                    .to_owned(),
            },
        }
    }

    /// Closes every app connection and stops listening.
    pub async fn shutdown(&self) {
        self.shutdown.cancel();
        self.hub.close_all();
        self.tracker.close();
        let _ = tokio::time::timeout(Duration::from_secs(5), self.tracker.wait()).await;
    }
}
