//! Register mode: dial the platform named in the camera's `DVRIP.RegisterServer`, announce
//! the device ID, serve the platform over that socket, and dial again with backoff whenever
//! the connection drops. A changed `RegisterServer` (written by any platform) takes effect at
//! once: the camera hangs up and dials the new server, or stops registering when disabled.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpSocket, TcpStream, lookup_host};
use tokio::time::timeout;
use tokio_util::sync::CancellationToken;

use crate::camera::{Camera, RegisterTarget};
use crate::connection::{self, End, ServeOptions};
use crate::fault::Fault;
use crate::session::{Link, Session};
use crate::stats::Stats;

/// How a registering camera dials.
#[derive(Debug, Clone)]
pub struct RegisterOptions {
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
}

impl Default for RegisterOptions {
    fn default() -> Self {
        Self {
            source: None,
            backoff_min: Duration::from_millis(500),
            backoff_max: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            login_timeout: Duration::from_secs(120),
        }
    }
}

/// Per-camera memory of the registration loop, kept across targets.
#[derive(Debug)]
struct Registrar {
    camera: Arc<Camera>,
    options: RegisterOptions,
    stats: Arc<Stats>,
    rng: SmallRng,
    ever_connected: bool,
    ever_logged_in: bool,
}

/// Runs one registering camera until `cancel` fires, following its register target.
pub async fn run(
    camera: Arc<Camera>,
    options: RegisterOptions,
    stats: Arc<Stats>,
    cancel: CancellationToken,
) {
    let mut targets = camera.register_target();
    let mut registrar = Registrar {
        camera,
        options,
        stats,
        rng: SmallRng::from_rng(&mut rand::rng()),
        ever_connected: false,
        ever_logged_in: false,
    };
    loop {
        let target = targets.borrow_and_update().clone();
        let this_target = cancel.child_token();
        let registering = async {
            match target {
                Some(target) => registrar.register_to(&target, &this_target).await,
                None => this_target.cancelled().await,
            }
        };
        tokio::pin!(registering);
        tokio::select! {
            () = &mut registering => return,
            changed = targets.changed() => {
                // Let the current connection close cleanly before dialling the new target.
                this_target.cancel();
                registering.await;
                if changed.is_err() || cancel.is_cancelled() {
                    return;
                }
            }
        }
    }
}

impl Registrar {
    /// Registers to `target` until `cancel` fires.
    async fn register_to(&mut self, target: &RegisterTarget, cancel: &CancellationToken) {
        let server = target.server();
        let id = target.device_id.as_str();
        // An ID the firmware cannot announce stops the camera before it dials, until the
        // target changes.
        if let Err(e) = self.camera.firmware().check_id(id) {
            tracing::error!(%server, error = %e, "not registering");
            cancel.cancelled().await;
            return;
        }
        let mut backoff = self.options.backoff_min;
        while !cancel.is_cancelled() {
            let dialled = tokio::select! {
                () = cancel.cancelled() => return,
                dialled = timeout(self.options.connect_timeout, dial(&server, self.options.source)) => dialled,
            };
            let mut stream = match dialled {
                Ok(Ok(stream)) => stream,
                Ok(Err(e)) => {
                    tracing::debug!(%id, %server, error = %e, "connect failed");
                    if !self.pause(&mut backoff, cancel).await {
                        return;
                    }
                    continue;
                }
                Err(_) => {
                    tracing::debug!(%id, %server, "connect timed out");
                    if !self.pause(&mut backoff, cancel).await {
                        return;
                    }
                    continue;
                }
            };
            let _ = stream.set_nodelay(true);
            self.stats.connected(!self.ever_connected);
            self.ever_connected = true;
            let peer = stream
                .peer_addr()
                .map_or_else(|_| server.clone(), |a| a.to_string());
            let outcome = match announce(&mut stream, &self.camera, id, &mut self.rng).await {
                Ok(()) => {
                    let mut session = Session::new(
                        Arc::clone(&self.camera),
                        peer,
                        Link::Register,
                        SmallRng::from_rng(&mut self.rng),
                    );
                    let serve = ServeOptions {
                        login_timeout: Some(self.options.login_timeout),
                    };
                    let stats = Arc::clone(&self.stats);
                    Some(
                        connection::serve(
                            &mut stream,
                            &mut session,
                            serve,
                            &stats,
                            &mut self.ever_logged_in,
                            cancel,
                        )
                        .await,
                    )
                }
                Err(e) => {
                    tracing::debug!(%id, error = %e, "announcement failed");
                    None
                }
            };
            self.stats.disconnected();
            drop(stream);
            match outcome {
                Some(outcome) if outcome.end == End::Stopped => return,
                Some(outcome) => {
                    tracing::debug!(%id, end = ?outcome.end, "register connection ended");
                    // A session that worked resets the backoff; one that never got in grows it.
                    if outcome.logged_in {
                        backoff = self.options.backoff_min;
                    }
                }
                None => {}
            }
            if !self.pause(&mut backoff, cancel).await {
                return;
            }
        }
    }

    /// Sleeps the current backoff with ±50 % jitter and doubles it; false if cancelled.
    async fn pause(&mut self, backoff: &mut Duration, cancel: &CancellationToken) -> bool {
        let jittered = backoff.mul_f64(self.rng.random_range(0.5..1.5));
        *backoff = (*backoff * 2).min(self.options.backoff_max);
        tokio::select! {
            () = cancel.cancelled() => false,
            () = tokio::time::sleep(jittered) => true,
        }
    }
}

/// Writes the announcement, sized as the firmware writes it (after junk, for a
/// [`Fault::Garbage`] camera).
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
    let announcement = camera
        .firmware()
        .announcement(id)
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e.to_string()))?;
    stream.write_all(&announcement.to_frame().to_vec()).await
}

async fn dial(server: &str, source: Option<IpAddr>) -> std::io::Result<TcpStream> {
    let mut last = None;
    for addr in lookup_host(server).await? {
        match connect(addr, source).await {
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
