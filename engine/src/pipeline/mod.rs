//! Event pipelines declared in YAML: the engine's events flow through them, stage by stage,
//! and out to MQTT, NATS, devices and logs.
//!
//! - [`spec`] — the YAML schema; [`load`] — reading files; [`error`] — file:line:column errors.
//! - [`template`] — minijinja templates and conditions, with topic/subject sanitising;
//!   [`probe`] — what they may name, checked before anything runs.
//! - [`sources`] — the files given or the built-in defaults, loaded and compiled;
//!   [`compile`] — checking a pipeline's own options; [`policy`] — error and queue policies.
//! - [`stage`] — the built-in stages, each building itself from its spec (plugin stages
//!   included); [`payload`] — the standard event JSON.
//! - [`PipelineHost`] (`host`) — dispatch from the bus, hot reload, replay, `/metrics`; it
//!   runs a `graph` of pipelines, each a few bounded shard queues (`queue`: per-device
//!   order) drained by workers (`worker`: stages, retries, routes, dead letters);
//!   [`counters`] — the numbers behind `/metrics`.
//! - [`offline`] — pipelines run one event at a time to the end, with nothing in the
//!   background; [`suite`] — pipeline test files run that way (`homeport test`).

pub mod compile;
pub mod counters;
pub mod error;
mod graph;
mod host;
pub mod load;
pub mod offline;
pub mod payload;
pub mod policy;
pub mod probe;
mod queue;
pub mod sources;
pub mod spec;
pub mod stage;
pub mod suite;
pub mod template;
mod worker;

use std::sync::Arc;

use crate::registry::Registry;
use crate::sink::Sinks;
use crate::store::Store;

pub use error::{SpecError, SpecErrors};
pub use host::PipelineHost;

/// The running of pipelines under the path it had before it was split into `host`,
/// `graph`, `queue`, `worker` and [`sources`].
pub mod runtime {
    pub use super::host::PipelineHost;
    pub use super::sources::{DEFAULT_NAME, DEFAULT_PIPELINES, build};
}

/// What stages may use: the registry (device handles, logins), the store (dead letters), and
/// the sinks that are configured.
#[derive(Debug, Clone)]
pub struct Services {
    /// The device registry.
    pub registry: Arc<Registry>,
    /// The store, for dead letters; `None` for offline checks.
    pub store: Option<Store>,
    /// The MQTT and NATS connections that are configured.
    pub sinks: Sinks,
    /// The camera-sync server, if it runs.
    pub sync: Option<Arc<crate::camera_sync::SyncServer>>,
    /// The WebAssembly plugin host (engine, loaded plugins, key-value namespaces); kept
    /// across reloads.
    pub plugins: Arc<crate::wasm::PluginHost>,
    /// Checking only (`homeport check`): sink stages are validated without a connection and
    /// `requires` is treated as met.
    pub check_only: bool,
    /// The gateway's name (`--node`), as templates see it in `gateway.node` and
    /// `gateway.status_topic`; `homeport` unless set.
    pub node: Arc<str>,
}

impl Services {
    /// Services around a registry and (for dead letters) a store, with no sinks and no
    /// camera-sync server; add those with [`Services::with_sinks`] and
    /// [`Services::with_sync`].
    pub fn new(
        registry: Arc<Registry>,
        store: Option<Store>,
        plugins: Arc<crate::wasm::PluginHost>,
    ) -> Self {
        Self {
            registry,
            store,
            sinks: Sinks::none(),
            sync: None,
            plugins,
            check_only: false,
            node: Arc::from("homeport"),
        }
    }

    /// Services without a gateway: a registry of its own, no store, sinks or camera-sync
    /// server — for checking pipelines (`check_only`) or running stages on their own.
    pub fn offline(plugins: Arc<crate::wasm::PluginHost>, check_only: bool) -> Self {
        let registry = Arc::new(Registry::new(
            crate::bus::EventBus::default(),
            crate::registry::RegistryConfig::default(),
        ));
        let mut services = Self::new(registry, None, plugins);
        services.check_only = check_only;
        services
    }

    /// These services publishing to `sinks`.
    pub fn with_sinks(mut self, sinks: Sinks) -> Self {
        self.sinks = sinks;
        self
    }

    /// These services for the gateway called `node`.
    pub fn with_node(mut self, node: &str) -> Self {
        self.node = Arc::from(node);
        self
    }

    /// These services answering camera-sync apps through `server`.
    pub fn with_sync(mut self, server: Arc<crate::camera_sync::SyncServer>) -> Self {
        self.sync = Some(server);
        self
    }
}

/// The canonical kind name for what a pipeline file says (`online-changed` is accepted too).
pub fn event_kind(name: &str) -> Option<&'static str> {
    let name = name.replace('-', "_");
    crate::event::KINDS.iter().copied().find(|k| *k == name)
}
