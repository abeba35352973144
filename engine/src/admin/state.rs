//! What every handler of the admin API shares, and the limits they all keep.

use std::sync::Arc;

use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use crate::gateway::Gateway;
use crate::node::Node;

/// Largest request body, except imports.
pub const MAX_BODY: usize = 1024 * 1024;
/// Largest import body.
pub const MAX_IMPORT_BODY: usize = 4 * 1024 * 1024;
/// Most `/api/events` streams open at once.
pub const MAX_EVENT_STREAMS: usize = 64;

/// What every handler shares: the node, and through it the gateway, pipelines and sinks.
#[derive(Debug, Clone)]
pub(super) struct AppState {
    pub(super) node: Arc<Node>,
    pub(super) token: Arc<str>,
    pub(super) event_streams: Arc<Semaphore>,
}

impl AppState {
    /// The state of `node`'s API, guarded by the bearer `token`.
    pub(super) fn new(node: Arc<Node>, token: String) -> Self {
        Self {
            node,
            token: token.into(),
            event_streams: Arc::new(Semaphore::new(MAX_EVENT_STREAMS)),
        }
    }

    /// The node's gateway: devices, registry, store and listeners.
    pub(super) fn gateway(&self) -> &Arc<Gateway> {
        self.node.gateway()
    }
}

/// Tells long-lived responses (event streams) that the server is shutting down; `serve`
/// adds it so that graceful shutdown does not wait on them forever.
#[derive(Debug, Clone)]
pub(super) struct Shutdown(pub(super) CancellationToken);
