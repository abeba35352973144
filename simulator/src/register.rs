//! Register mode: dial the platform, announce the device ID, serve the platform over that
//! socket, and dial again with backoff whenever the connection drops.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use homeport_protocol::dvrip::DvripPacket;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpSocket, TcpStream, lookup_host};
use tokio::time::timeout;
use tokio_util::sync::CancellationToken;

use crate::camera::Camera;
use crate::connection::{self, End, ServeOptions};
use crate::fault::Fault;
use crate::session::Session;
use crate::stats::Stats;

/// How a registering camera dials.
#[derive(Debug, Clone)]
pub struct RegisterOptions {
    /// The platform's register address, `host:port`.
    pub server: String,
    /// Local address to dial from (spreads ephemeral ports over several loopback IPs).
    pub source: Option<IpAddr>,
    /// First reconnect delay; doubles per failure up to `backoff_max`, with jitter.
    pub backoff_min: Duration,
    /// Longest reconnect delay.
    pub backoff_max: Duration,
    /// Give up a connect attempt after this.
    pub connect_timeout: Duration,
    /// Hang up if the platform does not log in within this.
    pub login_timeout: Duration,
    /// Announce this ID instead of the camera's own (set when `RegisterServer.DeviceID`
    /// was changed over a login).
    pub announce_as: Option<String>,
}

impl RegisterOptions {
    /// Defaults for dialling `server`.
    pub fn new(server: impl Into<String>) -> Self {
        Self {
            server: server.into(),
            source: None,
            backoff_min: Duration::from_millis(500),
            backoff_max: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            login_timeout: Duration::from_secs(120),
            announce_as: None,
        }
    }
}

/// Runs one registering camera until `cancel` fires.
pub async fn run(
    camera: Arc<Camera>,
    options: RegisterOptions,
    stats: Arc<Stats>,
    cancel: CancellationToken,
) {
    let mut rng = SmallRng::from_rng(&mut rand::rng());
    let mut ever_connected = false;
    let mut ever_logged_in = false;
    let mut backoff = options.backoff_min;
    let id = options
        .announce_as
        .clone()
        .unwrap_or_else(|| camera.config().device_id.clone());
    while !cancel.is_cancelled() {
        let dialled = tokio::select! {
            () = cancel.cancelled() => return,
            dialled = timeout(options.connect_timeout, dial(&options)) => dialled,
        };
        let mut stream = match dialled {
            Ok(Ok(stream)) => stream,
            Ok(Err(e)) => {
                tracing::debug!(%id, server = %options.server, error = %e, "connect failed");
                if !pause(&mut rng, &mut backoff, &options, &cancel).await {
                    return;
                }
                continue;
            }
            Err(_) => {
                tracing::debug!(%id, server = %options.server, "connect timed out");
                if !pause(&mut rng, &mut backoff, &options, &cancel).await {
                    return;
                }
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        stats.connected(!ever_connected);
        ever_connected = true;
        let peer = stream
            .peer_addr()
            .map_or_else(|_| options.server.clone(), |a| a.to_string());
        let outcome = match announce(&mut stream, &camera, &id, &mut rng).await {
            Ok(()) => {
                let mut session =
                    Session::new(Arc::clone(&camera), peer, SmallRng::from_rng(&mut rng));
                let serve = ServeOptions {
                    login_timeout: Some(options.login_timeout),
                };
                Some(
                    connection::serve(
                        &mut stream,
                        &mut session,
                        serve,
                        &stats,
                        &mut ever_logged_in,
                        &cancel,
                    )
                    .await,
                )
            }
            Err(e) => {
                tracing::debug!(%id, error = %e, "announcement failed");
                None
            }
        };
        stats.disconnected();
        drop(stream);
        match outcome {
            Some(outcome) if outcome.end == End::Stopped => return,
            Some(outcome) => {
                tracing::debug!(%id, end = ?outcome.end, "register connection ended");
                // A session that worked resets the backoff; one that never got in keeps growing it.
                if outcome.logged_in {
                    backoff = options.backoff_min;
                }
            }
            None => {}
        }
        if !pause(&mut rng, &mut backoff, &options, &cancel).await {
            return;
        }
    }
}

/// Writes the announcement (after junk, for a [`Fault::Garbage`] camera).
async fn announce(
    stream: &mut TcpStream,
    camera: &Camera,
    id: &str,
    rng: &mut SmallRng,
) -> std::io::Result<()> {
    if camera.has(Fault::Garbage) {
        let mut junk = vec![0u8; rng.random_range(16..256)];
        rng.fill(&mut junk[..]);
        // A first byte that opens neither framing, so the junk is unmistakable.
        junk[0] = b'~';
        stream.write_all(&junk).await?;
    }
    let announcement = DvripPacket::announcement(id)
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e.to_string()))?;
    stream.write_all(&announcement.to_frame().to_vec()).await
}

async fn dial(options: &RegisterOptions) -> std::io::Result<TcpStream> {
    let mut last = None;
    for addr in lookup_host(&options.server).await? {
        match connect(addr, options.source).await {
            Ok(stream) => return Ok(stream),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::NotFound,
            "server resolved to no address",
        )
    }))
}

async fn connect(addr: SocketAddr, source: Option<IpAddr>) -> std::io::Result<TcpStream> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    if let Some(source) = source.filter(|s| s.is_ipv4() == addr.is_ipv4()) {
        socket.bind(SocketAddr::new(source, 0))?;
    }
    socket.connect(addr).await
}

/// Sleeps the current backoff with ±50 % jitter and doubles it; false if cancelled.
async fn pause(
    rng: &mut SmallRng,
    backoff: &mut Duration,
    options: &RegisterOptions,
    cancel: &CancellationToken,
) -> bool {
    let jittered = backoff.mul_f64(rng.random_range(0.5..1.5));
    *backoff = (*backoff * 2).min(options.backoff_max);
    tokio::select! {
        () = cancel.cancelled() => false,
        () = tokio::time::sleep(jittered) => true,
    }
}
