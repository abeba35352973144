//! homeport's engine: the gateway cameras actively register to.
//!
//! Layers, each using only those above it in this list:
//! - [`event`] — the typed events (registered, online-changed, alarm).
//! - [`bus`] — the internal event bus.
//! - [`secret`] — the data directory's key, sealed passwords, the admin token.
//! - [`device`] — the platform side of a device connection: JSON-RPC link, login, handle.
//! - [`store`] — the embedded SQLite store: devices and their credentials.
//! - [`registry`] — every known or connected device, its state and its session.
//! - [`metrics`] — counters for `/metrics`.
//! - [`session`] — one registered device's task.
//! - [`listener`] — the register listener.
//! - [`gateway`] — the running gateway: wiring, background tasks, device operations.
//! - [`config`] — the YAML config file and its defaults.
//! - [`provision`] — pointing a camera's `RegisterServer` at the gateway over a direct login.

#![forbid(unsafe_code)]

pub mod admin;
pub mod bus;
pub mod camera_sync;
pub mod cidr;
pub mod config;
pub mod device;
pub mod event;
pub mod gateway;
pub mod listener;
#[macro_use]
pub mod log_limit;
pub mod metrics;
pub mod pipeline;
pub mod provision;
pub mod registry;
pub mod secret;
pub mod session;
pub mod sink;
pub mod store;
pub mod trace;
pub mod wasm;
