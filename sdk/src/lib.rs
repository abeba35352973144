//! Write homeport pipeline plugins in Rust.
//!
//! A plugin is a WebAssembly component for the WIT world `homeport:plugin/plugin@0.1.2`
//! (`wit/plugin.wit`). This crate hides the component glue: implement [`Plugin`], call
//! [`export_plugin!`], build with `cargo build --release --target wasm32-wasip2`.
//!
//! - [`Event`] (the host's record, with its id and fields fetched on demand) and [`Decision`],
//!   with helpers ([`Event::alarm`], [`Event::set_field`], [`Decision::drop`], …); the other
//!   event types are the WIT types, re-exported from [`bindings`].
//! - [`log`], [`clock`], [`kv`]: the host functions, with a plain Rust API. On `wasm32` they
//!   call the host; natively they use an in-memory stand-in, so plugin logic runs under
//!   `cargo test`.
//! - [`Plugin`] and [`export_plugin!`]: the handler export, config parsing and the instance.
//! - [`testing`] (native only): a [`Harness`](testing::Harness) that drives a plugin like
//!   the host does, with a controllable clock, an inspectable KV store and captured logs.
//! - [`bindings`]: what wit-bindgen generates, for anything the helpers do not cover.

// Generated code: not held to our lints (it hands buffers to the host with `mem::forget`).
#[allow(
    unsafe_code,
    unreachable_pub,
    unused_qualifications,
    clippy::mem_forget
)]
pub mod bindings;
pub mod clock;
mod current;
mod decision;
mod event;
pub mod kv;
pub mod log;
#[cfg(not(target_arch = "wasm32"))]
mod native;
mod packed;
mod plugin;
#[cfg(not(target_arch = "wasm32"))]
pub mod testing;

pub use bindings::homeport::plugin::types::{
    Alarm, ConfigApplied, DeviceState, EventKind, Field, OnlineChanged, OnlineReason, Registered,
    RegistrationKind, SyncRequest, Verdict,
};
pub use decision::{Decision, MAX_EMIT};
pub use event::{Event, FieldError};
pub use plugin::{NoConfig, Plugin, parse_config};

/// What [`export_plugin!`] expands to calls; not part of the API.
#[doc(hidden)]
pub mod __private {
    pub use crate::plugin::{Instance, init_instance, process_instance, process_packed_instance};
}
