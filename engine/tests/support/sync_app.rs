//! A camera-sync test harness shared by the sync test files: a gateway with the sync server
//! and the default pipelines, and an app client built from the protocol crate's own codec.
//!
//! Included with `#[path = "support/sync_app.rs"] mod sync_app;` next to `mod support;`.

#![allow(dead_code, unreachable_pub)]

use std::sync::Arc;
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use homeport::camera_sync::{SyncConfig, SyncServer, SyncTls};
use homeport::pipeline::PipelineHost;
use homeport::secret::Secret;
use homeport_protocol::sync::{SyncLineCodec, SyncMessage};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_util::codec::Framed;

use crate::support::TestGateway;

/// A gateway with the sync server and the default pipelines, accounts `alice` and `bob`
/// (password `secret`), and cameras `c1`, `c2` known (password `pw`).
pub async fn setup(config: SyncConfig) -> (TestGateway, Arc<SyncServer>, Arc<PipelineHost>) {
    setup_with_tls(config, None).await
}

/// [`setup`] with the sync listener speaking TLS when `tls` is given.
pub async fn setup_with_tls(
    config: SyncConfig,
    tls: Option<SyncTls>,
) -> (TestGateway, Arc<SyncServer>, Arc<PipelineHost>) {
    let gw = TestGateway::start().await;
    let server = SyncServer::start_with_tls(
        "127.0.0.1:0".parse().expect("addr"),
        config,
        gw.gateway.bus().clone(),
        tls,
    )
    .await
    .expect("listens");
    let services = gw.gateway.services().with_sync(Arc::clone(&server));
    let host =
        PipelineHost::start(Vec::new(), services, gw.gateway.bus().clone()).expect("defaults");
    for name in ["alice", "bob"] {
        gw.gateway
            .store()
            .add_account(name, &Secret::new("secret"))
            .await
            .expect("account");
    }
    for id in ["c1", "c2"] {
        gw.add(id, "pw").await;
    }
    (gw, server, host)
}

/// An app: the sync line codec over any byte stream (plain TCP by default).
pub struct App<S = TcpStream>(pub Framed<S, SyncLineCodec>);

impl App<TcpStream> {
    pub async fn connect(server: &SyncServer) -> Self {
        Self::connect_to(server.addr().port()).await
    }

    pub async fn connect_to(port: u16) -> Self {
        Self::over(
            TcpStream::connect(("127.0.0.1", port))
                .await
                .expect("connect"),
        )
    }

    /// Connects to `port` on 127.0.0.1 from the loopback address `source` (e.g. 127.0.0.2):
    /// another "address" for per-source rules, on loopback only.
    pub async fn connect_from(source: [u8; 4], port: u16) -> Self {
        Self::over(stream_from(source, port).await)
    }
}

/// A TCP connection to 127.0.0.1:`port` from the loopback address `source`.
pub async fn stream_from(source: [u8; 4], port: u16) -> TcpStream {
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket
        .bind(std::net::SocketAddr::from((source, 0)))
        .expect("bind a loopback source");
    socket
        .connect(std::net::SocketAddr::from(([127, 0, 0, 1], port)))
        .await
        .expect("connect")
}

impl<S: AsyncRead + AsyncWrite + Unpin> App<S> {
    /// An app speaking over an already connected stream (e.g. a TLS client stream).
    pub fn over(stream: S) -> Self {
        Self(Framed::new(stream, SyncLineCodec::new()))
    }

    pub async fn send(&mut self, message: SyncMessage) {
        self.0.send(message).await.expect("send");
    }

    pub async fn send_line(&mut self, line: &str) {
        self.0
            .get_mut()
            .write_all(line.as_bytes())
            .await
            .expect("write");
    }

    pub async fn recv(&mut self) -> SyncMessage {
        let next = tokio::time::timeout(Duration::from_secs(10), self.0.next())
            .await
            .expect("an answer in time");
        next.expect("connection open")
            .expect("a framed line")
            .expect("a valid message")
    }

    /// Nothing arrives within `wait` (the connection stays open and quiet).
    pub async fn quiet_for(&mut self, wait: Duration) -> bool {
        tokio::time::timeout(wait, self.0.next()).await.is_err()
    }

    pub async fn ask(&mut self, message: SyncMessage) -> SyncMessage {
        self.send(message).await;
        self.recv().await
    }

    pub async fn closed(&mut self) -> bool {
        matches!(
            tokio::time::timeout(Duration::from_secs(5), async {
                loop {
                    match self.0.next().await {
                        None | Some(Err(_)) => return,
                        Some(Ok(_)) => {}
                    }
                }
            })
            .await,
            Ok(())
        )
    }

    pub async fn login(&mut self, user: &str, password: &str) -> SyncMessage {
        self.ask(SyncMessage::Login {
            user: user.to_owned(),
            password: password.to_owned(),
        })
        .await
    }
}

/// `CreatDataSocket user|password`, with `|token` when `token`.
pub fn data_socket(user: &str, password: &str, token: bool) -> SyncMessage {
    SyncMessage::CreatDataSocket {
        user: user.to_owned(),
        password: password.to_owned(),
        token,
    }
}

pub fn upload(id: &str, password: &str, current: u32, total: u32) -> SyncMessage {
    SyncMessage::UploadCaramer {
        camera_id: id.to_owned(),
        camera_password: password.to_owned(),
        current,
        total,
    }
}
