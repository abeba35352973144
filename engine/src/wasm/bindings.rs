//! Host bindings generated from the plugin WIT world (`sdk/wit/plugin.wit`).

#[allow(
    unused_qualifications,
    missing_debug_implementations,
    unreachable_pub,
    clippy::all
)]
mod generated {
    wasmtime::component::bindgen!({
        path: "../sdk/wit",
        world: "plugin",
        // Host functions may trap: a call a stage does not grant fails the event.
        imports: { default: trappable },
        // Exports are called asynchronously, so an epoch deadline can yield to the runtime.
        exports: { default: async },
        // Events go in borrowed (no copies of their strings before they are lowered into the
        // guest); what plugins hand back is owned.
        ownership: Borrowing { duplicate_if_necessary: true },
    });
}

pub use generated::Plugin as Bindings;
pub use generated::PluginPre;
pub use generated::exports::homeport::plugin::handler;
pub use generated::homeport::plugin::{clock, current, kv, log, types};

/// The world version this host implements (the WIT package version).
pub const WORLD_VERSION: &str = "0.1.0";
/// The WIT package plugins are built against.
pub const WORLD_PACKAGE: &str = "homeport:plugin";
