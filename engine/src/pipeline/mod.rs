//! Event pipelines declared in YAML: the engine's events flow through them, stage by stage,
//! and out to MQTT, NATS, devices and logs.
//!
//! - [`spec`] — the YAML schema; [`load`] — reading files; [`error`] — file:line:column errors.
//! - [`template`] — minijinja templates and conditions, with topic/subject sanitising.
//! - [`compile`] — checking everything and building stages ([`compile_wasm`] for plugin
//!   stages); [`policy`] — error and queue policies.
//! - [`stage`] — the built-in stages; [`payload`] — the standard event JSON.
//! - [`runtime`] — running a graph: per-device ordering, bounded queues, retries, dead
//!   letters, counters, hot reload; [`counters`] — the numbers behind `/metrics`.

pub mod compile;
pub mod compile_wasm;
pub mod counters;
pub mod error;
pub mod load;
pub mod payload;
pub mod policy;
pub mod runtime;
pub mod spec;
pub mod stage;
pub mod template;

use std::sync::Arc;

use crate::registry::Registry;
use crate::sink::mqtt::MqttSink;
use crate::sink::nats::NatsSink;
use crate::store::Store;

pub use error::{SpecError, SpecErrors};
pub use runtime::PipelineHost;

/// What stages may use: the registry (device handles, logins), the store (dead letters), and
/// the sinks that are configured.
#[derive(Debug, Clone)]
pub struct Services {
    /// The device registry.
    pub registry: Arc<Registry>,
    /// The store, for dead letters; `None` for offline checks.
    pub store: Option<Store>,
    /// The MQTT connection, if `--mqtt` was given.
    pub mqtt: Option<MqttSink>,
    /// The NATS connection, if `--nats` was given.
    pub nats: Option<NatsSink>,
    /// The camera-sync server, if it runs.
    pub sync: Option<Arc<crate::camera_sync::SyncServer>>,
    /// The WebAssembly plugin host (engine, loaded plugins, key-value namespaces); kept
    /// across reloads.
    pub plugins: Arc<crate::wasm::PluginHost>,
    /// Checking only (`homeport check`): sink stages are validated without a connection and
    /// `requires` is treated as met.
    pub check_only: bool,
}

impl Services {
    /// Services without a gateway: a registry of its own, no store, sinks or camera-sync
    /// server — for checking pipelines (`check_only`) or running stages on their own.
    pub fn offline(plugins: Arc<crate::wasm::PluginHost>, check_only: bool) -> Self {
        Self {
            registry: Arc::new(Registry::new(
                crate::bus::EventBus::default(),
                crate::registry::RegistryConfig::default(),
            )),
            store: None,
            mqtt: None,
            nats: None,
            sync: None,
            plugins,
            check_only,
        }
    }
}

/// The canonical kind name for what a pipeline file says (`online-changed` is accepted too).
pub fn event_kind(name: &str) -> Option<&'static str> {
    let name = name.replace('-', "_");
    crate::event::KINDS.iter().copied().find(|k| *k == name)
}
