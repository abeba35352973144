//! homeport's engine: the gateway cameras actively register to.
//!
//! `docs/architecture.md` walks one alarm from the socket to the MQTT PUBACK through these
//! modules, and says who owns which task and how the process shuts down.
//!
//! Layers, each using only those above it in this list:
//! - [`allocator`] — the process's allocator (jemalloc), declared once for binary, tests and
//!   benches.
//! - [`time`] — Unix milliseconds and RFC 3339, as the engine stores and shows time.
//! - [`de`] — deserialisers for config values: human durations (one parser), shared lists.
//! - [`cidr`] — address ranges for allow rules.
//! - [`log_limit`] — warnings strangers can trigger, aggregated.
//! - [`event`] — the typed events (registered, online-changed, alarm, config-applied,
//!   sync-request, security).
//! - [`bus`] — the internal event bus: lossless to the pipelines, lossy to observers.
//! - [`secret`] — the data directory's key, sealed passwords, the admin token.
//! - [`device`] — the platform side of a device connection: JSON-RPC link, the logins, the
//!   pinned identity, the command handle.
//! - [`trace`] — redacted two-way transcripts of a device's socket.
//! - [`store`] — the embedded SQLite store: devices, accounts, bindings, dead letters.
//! - [`registry`] — every known or connected device, its state and its session.
//! - [`metrics`] — counters for `/metrics`.
//! - [`session`] — one registered device's task.
//! - [`listener`] — the register listener.
//! - [`sink`] — the MQTT and NATS connections.
//! - [`wasm`] — the WebAssembly plugin host.
//! - [`pipeline`] — pipelines from YAML: specs, compilation, stages, queues, workers, host.
//! - [`camera_sync`] — the camera-sync server for client apps.
//! - [`gateway`] — the running gateway: wiring, background tasks, device operations.
//! - [`node`] — the whole process as a library: [`node::Node::start`] starts the gateway,
//!   sinks, camera-sync server, plugin host, pipelines and admin API on one cancellation
//!   tree; [`node::Node::shutdown`] stops them in order.
//! - [`config`] — the YAML config file and its defaults.
//! - [`provision`] — pointing a camera's `RegisterServer` at the gateway over a direct login.
//! - [`admin_api`] — the admin API's request and response types, shared by server and client.
//! - [`admin`] — the admin HTTP API server.
//! - [`client`] — the typed client of the admin API the CLI uses.

#![forbid(unsafe_code)]

pub mod admin;
pub mod admin_api;
pub mod allocator;
pub mod bus;
pub mod camera_sync;
pub mod cidr;
pub mod client;
pub mod config;
pub mod de;
pub mod device;
pub mod event;
pub mod gateway;
pub mod listener;
#[macro_use]
pub mod log_limit;
pub mod metrics;
pub mod node;
pub mod pipeline;
pub mod provision;
pub mod registry;
pub mod secret;
pub mod session;
pub mod sink;
pub mod store;
pub mod time;
pub mod trace;
pub mod wasm;
