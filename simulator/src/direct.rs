//! Direct mode: one camera listening like its 37777 service port, so platforms (and
//! third-party Dahua tools) log in to it directly. When its `DVRIP.RegisterServer` is set and
//! enabled over such a login, the camera also starts registering there, as a real one does.

use std::sync::Arc;

use rand::SeedableRng;
use rand::rngs::SmallRng;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::camera::Camera;
use crate::connection::{self, ServeOptions};
use crate::register::{self, RegisterOptions};
use crate::session::{Link, Session};
use crate::stats::Stats;

/// Most simultaneous direct connections (a camera's `MaxConnections` is 10).
pub const MAX_CONNECTIONS: usize = 10;

/// Serves direct logins on `listener`, and registers wherever the camera is told to, until
/// `cancel` fires.
pub async fn run(
    listener: TcpListener,
    camera: Arc<Camera>,
    register: RegisterOptions,
    stats: Arc<Stats>,
    cancel: CancellationToken,
) {
    let tracker = TaskTracker::new();
    // Idle until a platform enables `RegisterServer`; then the camera registers there too.
    tracker.spawn(register::run(
        Arc::clone(&camera),
        register,
        Arc::clone(&stats),
        cancel.clone(),
    ));
    let limit = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    let mut ever_connected = false;
    loop {
        let accepted = tokio::select! {
            () = cancel.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        let (mut stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(e) => {
                tracing::warn!(error = %e, "accept failed");
                continue;
            }
        };
        let Ok(permit) = Arc::clone(&limit).try_acquire_owned() else {
            tracing::warn!(%peer, "refusing a connection: {MAX_CONNECTIONS} already open");
            continue;
        };
        let _ = stream.set_nodelay(true);
        let (camera, stats, cancel) = (Arc::clone(&camera), Arc::clone(&stats), cancel.clone());
        // Direct logins are not deduplicated per device: direct mode prints no summary.
        let mut ever = false;
        let first = !ever_connected;
        ever_connected = true;
        tracker.spawn(async move {
            stats.connected(first);
            let mut session = Session::new(
                camera,
                peer.to_string(),
                Link::Direct,
                SmallRng::from_rng(&mut rand::rng()),
            );
            let options = ServeOptions {
                login_timeout: None,
            };
            let outcome = connection::serve(
                &mut stream,
                &mut session,
                options,
                &stats,
                &mut ever,
                &cancel,
            )
            .await;
            tracing::info!(%peer, end = ?outcome.end, "direct connection ended");
            stats.disconnected();
            drop(permit);
        });
    }
    tracker.close();
    tracker.wait().await;
}
