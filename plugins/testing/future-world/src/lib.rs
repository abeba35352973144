//! `future-world`: a test fixture, not a plugin to deploy. It is built against
//! `homeport:plugin@0.2.0` (its own copy of the WIT in `wit/`, identical to the SDK's but
//! for the version) so the host's tests can prove that a 0.1 host refuses a plugin built
//! for another world version. It does not use the SDK, which is 0.1; it passes every event.

// Generated code: not held to our lints (unsafe FFI glue, `mem::forget` of host buffers).
#[allow(
    unsafe_code,
    unreachable_pub,
    unused_qualifications,
    missing_debug_implementations,
    clippy::mem_forget
)]
mod bindings {
    wit_bindgen::generate!({ world: "plugin", path: "wit" });
}

use bindings::exports::homeport::plugin::handler::{Decision, Event, Guest};
use bindings::homeport::plugin::types::Verdict;

/// The plugin.
struct FutureWorld;

impl Guest for FutureWorld {
    fn init(_config: String) -> Result<(), String> {
        Ok(())
    }

    fn process(_event: Event) -> Result<Decision, String> {
        Ok(Decision {
            verdict: Verdict::Pass,
            replace: None,
            fields: None,
            emit: Vec::new(),
        })
    }
}

// Only on wasm32: the export names (`homeport:plugin/handler@0.2.0#init`) are not symbols a
// native linker's version script accepts.
#[cfg(target_arch = "wasm32")]
#[allow(unsafe_code)]
const _: () = {
    bindings::export!(FutureWorld with_types_in bindings);
};
