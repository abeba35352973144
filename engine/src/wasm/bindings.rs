//! Host bindings generated from the plugin WIT (`sdk/wit/plugin.wit`): the `single-event`
//! world, which every plugin of `homeport:plugin@0.1.x` exports. The batch exports that
//! plugins of 0.1.1 (`batch`) and 0.1.2 (`packed`) add are looked up by name
//! ([`super::batch`]), so a plugin built against 0.1.0 still instantiates.

#[allow(
    unused_qualifications,
    missing_debug_implementations,
    unreachable_pub,
    clippy::all
)]
mod generated {
    wasmtime::component::bindgen!({
        path: "../sdk/wit",
        world: "single-event",
        // Host functions may trap: a call a stage does not grant fails the event.
        imports: { default: trappable },
        // Exports are called asynchronously, so an epoch deadline can yield to the runtime.
        exports: { default: async },
        // Events go in borrowed (no copies of their strings before they are lowered into the
        // guest); what plugins hand back is owned.
        ownership: Borrowing { duplicate_if_necessary: true },
    });
}

pub use generated::SingleEvent as Bindings;
pub use generated::SingleEventPre as PluginPre;
pub use generated::exports::homeport::plugin::handler;
pub use generated::homeport::plugin::{clock, current, kv, log, types};

/// The world version this host implements (the WIT package version).
pub const WORLD_VERSION: &str = "0.1.2";
/// The WIT package plugins are built against.
pub const WORLD_PACKAGE: &str = "homeport:plugin";
