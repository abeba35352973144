//! Data ports: a fresh port per `CreatDataSocket`, for exactly one connection that acts for
//! the main session that asked.
//!
//! The seed's data connection carries no proof of who opens it, so a port is bound to its
//! session in one of two ways:
//!
//! - **With a token** (the app sent `CreatDataSocket user|password|token`): the answer is
//!   `ReturnDataSocketPort port|token`, 128 random bits the app sends back as the first line on
//!   the data connection, `BindDataSocket token`, within [`TOKEN_WAIT`]. A connection with no
//!   or the wrong token is closed and the port keeps waiting for the right one (up to
//!   [`MAX_CANDIDATES`] connections may be presenting a token at once).
//! - **Without a token** (the seed's form, when `data_token` is `optional`): the first
//!   connection is taken, but only from the main connection's address, within
//!   `tokenless_window`, and only while the asking session is the *only* session from that
//!   address waiting for a data port; anything else is refused and the port keeps waiting.
//!
//! Either way: only the main connection's address, the port closes once its connection is
//! taken, after its window, or when its main session ends.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use homeport_protocol::sync::{DataPort, SyncMessage};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;
use tokio::time::{Instant, sleep_until, timeout_at};
use tokio_util::sync::CancellationToken;

use super::hub::DataToken;
use super::server::{AppLines, SyncServer};

/// How long a connection to a token port may take to send `BindDataSocket` (after TLS).
pub const TOKEN_WAIT: Duration = Duration::from_secs(5);
/// Connections to one token port presenting their token at once; more are refused.
pub const MAX_CANDIDATES: usize = 4;

/// Removes a port from the waiting list however its task ends.
struct Listed<'a> {
    server: &'a SyncServer,
    port: u16,
}

impl Drop for Listed<'_> {
    fn drop(&mut self) {
        self.server.waiting.remove(self.port);
    }
}

/// 128 random bits in hex.
fn new_token() -> String {
    format!("{:032x}", rand::random::<u128>())
}

impl SyncServer {
    /// Opens a one-connection data port for main session `main`, with a token when `token`;
    /// `None` if none can be had (or a tokenless one is asked for while tokens are required).
    pub async fn open_data_port(self: &Arc<Self>, main: u64, token: bool) -> Option<DataPort> {
        let config = self.hub.config();
        if !token && config.data_token == DataToken::Required {
            tracing::info!(
                main,
                "no data port without a token (data_token: required); the app may sync on its main connection"
            );
            return None;
        }
        let peer = self.hub.peer_of(main)?;
        let main_gone = self.hub.close_token(main)?;
        let listener = TcpListener::bind(SocketAddr::new(self.addr.ip(), 0))
            .await
            .ok()?;
        let port = listener.local_addr().ok()?.port();
        let token = token.then(new_token);
        let window = match token {
            Some(_) => config.data_window,
            None => config.data_window.min(config.tokenless_window),
        };
        self.waiting.insert(port, main, peer);
        let server = Arc::clone(self);
        let expected = token.clone();
        self.tracker.spawn(async move {
            let listed = Listed {
                server: &server,
                port,
            };
            let deadline = Instant::now() + window;
            let wait = Wait {
                main,
                port,
                peer,
                deadline,
                main_gone,
            };
            let taken = match expected {
                Some(token) => server.await_token(listener, &wait, token).await,
                None => server.await_tokenless(listener, &wait).await,
            };
            drop(listed);
            if let Some((lines, from)) = taken {
                server.serve(lines, from, Some(main)).await;
            }
        });
        Some(DataPort { port, token })
    }

    /// The first connection from the main session's address, while that session is the only
    /// one from there waiting for a data port.
    async fn await_tokenless(
        &self,
        listener: TcpListener,
        wait: &Wait,
    ) -> Option<(AppLines, SocketAddr)> {
        loop {
            let (stream, from) = match self.next_connection(&listener, wait).await? {
                Ok(accepted) => accepted,
                Err(e) => {
                    tracing::warn!(main = wait.main, port = wait.port, error = %e, "data accept failed");
                    continue;
                }
            };
            if from.ip() != wait.peer {
                tracing::warn!(main = wait.main, port = wait.port, %from, expected = %wait.peer, "refusing a data connection from another address");
                continue;
            }
            let waiting = self.waiting.sessions_from(wait.peer);
            if waiting != 1 {
                tracing::warn!(main = wait.main, port = wait.port, %from, waiting, "refusing a data connection without a token: more than one session from that address waits for a data port");
                continue;
            }
            drop(listener);
            return Some((self.handshake(stream, from, true).await?, from));
        }
    }

    /// The first connection from the main session's address that sends the right token.
    async fn await_token(
        self: &Arc<Self>,
        listener: TcpListener,
        wait: &Wait,
        token: String,
    ) -> Option<(AppLines, SocketAddr)> {
        let token = Arc::new(token);
        let mut candidates = JoinSet::new();
        loop {
            tokio::select! {
                accepted = self.next_connection(&listener, wait) => match accepted? {
                    Ok((stream, from)) if from.ip() == wait.peer && candidates.len() < MAX_CANDIDATES => {
                        let (server, token, deadline) = (Arc::clone(self), Arc::clone(&token), wait.deadline);
                        let (main, port) = (wait.main, wait.port);
                        candidates.spawn(async move {
                            server.present_token(stream, from, &token, deadline, main, port).await
                        });
                    }
                    Ok((_, from)) => {
                        tracing::warn!(main = wait.main, port = wait.port, %from, "refusing a data connection: another address, or too many presenting a token");
                    }
                    Err(e) => tracing::warn!(main = wait.main, port = wait.port, error = %e, "data accept failed"),
                },
                Some(done) = candidates.join_next(), if !candidates.is_empty() => {
                    if let Ok(Some(taken)) = done {
                        return Some(taken);
                    }
                }
            }
        }
    }

    /// Reads the first line of a connection to a token port: `Some` if it is the right
    /// `BindDataSocket` in time, else logged and closed.
    async fn present_token(
        &self,
        stream: TcpStream,
        from: SocketAddr,
        token: &str,
        deadline: Instant,
        main: u64,
        port: u16,
    ) -> Option<(AppLines, SocketAddr)> {
        let by = deadline.min(Instant::now() + TOKEN_WAIT);
        let mut lines = timeout_at(by, self.handshake(stream, from, true))
            .await
            .ok()??;
        let first = timeout_at(by, lines.next()).await;
        match first {
            Ok(Some(Ok(Ok(SyncMessage::BindDataSocket { token: sent }))))
                if crate::secret::constant_time_eq(sent.as_bytes(), token.as_bytes()) =>
            {
                Some((lines, from))
            }
            Ok(Some(Ok(Ok(SyncMessage::BindDataSocket { .. })))) => {
                tracing::warn!(main, port, %from, "refusing a data connection: wrong token");
                None
            }
            Ok(_) => {
                tracing::warn!(main, port, %from, "refusing a data connection: its first line is not BindDataSocket");
                None
            }
            Err(_) => {
                tracing::warn!(main, port, %from, "refusing a data connection: no token in time");
                None
            }
        }
    }

    /// The next accepted connection; `None` when the port's time is up, its main session
    /// ended, or the server shuts down.
    async fn next_connection(
        &self,
        listener: &TcpListener,
        wait: &Wait,
    ) -> Option<std::io::Result<(TcpStream, SocketAddr)>> {
        tokio::select! {
            () = self.shutdown.cancelled() => None,
            () = wait.main_gone.cancelled() => {
                tracing::debug!(main = wait.main, port = wait.port, "data port closed: its main session ended");
                None
            }
            () = sleep_until(wait.deadline) => {
                tracing::info!(main = wait.main, port = wait.port, "data port closed: nobody connected in time");
                None
            }
            accepted = listener.accept() => Some(accepted),
        }
    }
}

/// What a data port waits for.
struct Wait {
    main: u64,
    port: u16,
    peer: IpAddr,
    deadline: Instant,
    main_gone: CancellationToken,
}
