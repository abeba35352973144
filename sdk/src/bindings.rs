//! The code wit-bindgen generates from `wit/plugin.wit` (world `homeport:plugin/plugin@0.1.2`):
//! the event types, the host imports and the `handler` and `packed` exports. Plugin code rarely needs this
//! module directly: the crate root re-exports the types, and [`log`](crate::log),
//! [`clock`](crate::clock) and [`kv`](crate::kv) wrap the imports.

wit_bindgen::generate!({
    world: "plugin",
    path: "wit",
    // `export_plugin!` expands in the plugin's crate, so the generated export macro must be
    // public and must find the types here rather than beside the call.
    pub_export_macro: true,
    default_bindings_module: "homeport_sdk::bindings",
    // Tests compare decisions and plugins copy events.
    additional_derives: [Clone, PartialEq],
});
