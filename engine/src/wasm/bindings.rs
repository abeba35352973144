//! Host bindings generated from the plugin WIT (`sdk/wit/plugin.wit`): the `single-event`
//! world, which every plugin of `homeport:plugin@0.1.x` exports. The `batch` export that
//! plugins of 0.1.1 and later add is looked up by name ([`BATCH_EXPORT`]), so a plugin built
//! against 0.1.0 still instantiates.

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
pub const WORLD_VERSION: &str = "0.1.1";
/// The WIT package plugins are built against.
pub const WORLD_PACKAGE: &str = "homeport:plugin";

/// The interface holding `process-batch`, as a component exports it (semver-compatible
/// versions match).
pub const BATCH_EXPORT: &str = "homeport:plugin/batch@0.1.1";
/// The batch function's name in it.
pub const BATCH_FUNC: &str = "process-batch";

/// `process-batch`'s parameters: the events, borrowed.
pub type BatchParams<'a> = (&'a [types::EventParam<'a>],);
/// `process-batch`'s results: one per event.
pub type BatchResults = (Vec<Result<types::Decision, String>>,);
