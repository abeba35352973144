//! The node: one running homeport — the gateway, the sinks, the camera-sync server, the plugin
//! host, the pipelines and the admin API — started in one call and stopped in one call.
//!
//! - this file — [`Node`], what it holds, and [`Node::shutdown`], the one shutdown order.
//! - `start` — [`NodeConfig`] and [`Node::start`], the one start order.
//! - `settings` — [`NodeConfig::resolve`]: the config file and flags as a node.
//! - `readiness` — [`Node::readiness`]: listeners bound and sinks connected, for `/readyz`.
//! - `announce` — every device announced at start and at Home Assistant's birth message.
//!
//! The node owns one cancellation tree (a root token; the admin API, the plugin watcher and
//! the sinks run on its children) and one task tracker for the tasks it spawns itself. The
//! gateway and the camera-sync server keep their own trackers for their connections and are
//! stopped through their `shutdown`.

mod announce;
mod readiness;
mod settings;
mod start;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::camera_sync::SyncServer;
use crate::gateway::Gateway;
use crate::pipeline::PipelineHost;
use crate::sink::Sinks;
use crate::wasm::PluginHost;

pub use readiness::{Check, Readiness};
pub use settings::SettingsError;
pub use start::{AdminSettings, NodeConfig, NodeError, SyncSettings};

/// How long shutdown waits for the sinks to deliver what is queued and close.
const SINKS_CLOSE_WAIT: Duration = Duration::from_secs(10);

/// A running node. [`Node::start`] returns it behind an `Arc`: the admin API holds a clone.
#[derive(Debug)]
pub struct Node {
    gateway: Arc<Gateway>,
    sinks: Sinks,
    sync: Option<Arc<SyncServer>>,
    plugins: Arc<PluginHost>,
    pipelines: Option<Arc<PipelineHost>>,
    admin: Option<AdminEndpoint>,
    started: Instant,
    /// The root of the cancellation tree.
    root: CancellationToken,
    /// Stops the admin API (a child of `root`).
    stop_admin: CancellationToken,
    /// Stops the plugin file watcher (a child of `root`).
    stop_plugins: CancellationToken,
    /// The tasks the node spawned itself (the admin API).
    tasks: TaskTracker,
}

/// Where the admin API listens and its token.
#[derive(Debug, Clone)]
pub struct AdminEndpoint {
    /// The bound address.
    pub addr: SocketAddr,
    /// The bearer token.
    pub token: String,
    /// Whether this start created the token (it is shown once).
    pub token_created: bool,
}

impl Node {
    /// The gateway: store, registry, register listener, device operations.
    pub fn gateway(&self) -> &Arc<Gateway> {
        &self.gateway
    }

    /// The configured sink connections.
    pub fn sinks(&self) -> &Sinks {
        &self.sinks
    }

    /// The camera-sync server, when it runs.
    pub fn sync(&self) -> Option<&Arc<SyncServer>> {
        self.sync.as_ref()
    }

    /// The WebAssembly plugin host.
    pub fn plugins(&self) -> &Arc<PluginHost> {
        &self.plugins
    }

    /// The running pipelines, when pipelines were asked for.
    pub fn pipelines(&self) -> Option<&Arc<PipelineHost>> {
        self.pipelines.as_ref()
    }

    /// The admin API's address and token, when it runs.
    pub fn admin(&self) -> Option<&AdminEndpoint> {
        self.admin.as_ref()
    }

    /// How long the node has run.
    pub fn uptime(&self) -> Duration {
        self.started.elapsed()
    }

    /// Stops everything, in this order: the admin API and the plugin watcher stop taking
    /// work; the camera-sync server closes its connections; the gateway stops listening,
    /// logs every session out, and writes the last state changes; the pipelines finish the
    /// events already published (bounded); the sinks deliver what is queued, say goodbye
    /// (MQTT: the retained `offline`) and close (at most 10 s); the admin API's open
    /// requests finish (bounded by the API itself). Calling it again does nothing more.
    pub async fn shutdown(&self) {
        if self.root.is_cancelled() {
            return;
        }
        self.stop_admin.cancel();
        self.stop_plugins.cancel();
        if let Some(sync) = &self.sync {
            sync.shutdown().await;
        }
        self.gateway.shutdown().await;
        if let Some(pipelines) = &self.pipelines {
            pipelines.shutdown().await;
        }
        if !self.sinks.close(SINKS_CLOSE_WAIT).await {
            tracing::warn!("the MQTT/NATS connections did not close within {SINKS_CLOSE_WAIT:?}");
        }
        self.tasks.close();
        self.tasks.wait().await;
        self.root.cancel();
    }
}
