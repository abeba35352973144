//! `one-at-a-time`: a test fixture, not a plugin to deploy. It is built against
//! `homeport:plugin@0.1.0` (its own copy of that WIT in `wit/`), which has no `batch` export
//! and no `current.enter`, so the host's tests can prove that a plugin built before batches
//! still runs, one call per event, with each event's own id and fields. It does not use the
//! SDK, which builds 0.1.1 plugins.
//!
//! Every event passes with two fields: `seen_id`, the id `current.id` gives, and
//! `seen_fields`, how many fields `current.fields` gives.

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
use bindings::homeport::plugin::current;
use bindings::homeport::plugin::types::{Field, Verdict};

/// The plugin.
struct OneAtATime;

impl Guest for OneAtATime {
    fn init(_config: String) -> Result<(), String> {
        Ok(())
    }

    fn process(_event: Event) -> Result<Decision, String> {
        let mut fields = current::fields();
        let seen = fields.len();
        fields.push(Field {
            name: "seen_id".to_owned(),
            value: format!("\"{}\"", current::id()),
        });
        fields.push(Field {
            name: "seen_fields".to_owned(),
            value: seen.to_string(),
        });
        Ok(Decision {
            verdict: Verdict::Pass,
            replace: None,
            fields: Some(fields),
            emit: Vec::new(),
        })
    }
}

// Only on wasm32: the export names (`homeport:plugin/handler@0.1.0#init`) are not symbols a
// native linker's version script accepts.
#[cfg(target_arch = "wasm32")]
#[allow(unsafe_code)]
const _: () = {
    bindings::export!(OneAtATime with_types_in bindings);
};
