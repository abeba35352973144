//! `batch-world`: a test fixture, not a plugin to deploy. It is built against
//! `homeport:plugin@0.1.1` (its own copy of that WIT in `wit/`), whose `batch.process-batch`
//! takes a list of event records, each string its own: the host's tests prove with it that a
//! plugin built before packed batches still gets several events per call, each with its own
//! id and fields. It does not use the SDK, which builds 0.1.2 plugins.
//!
//! Every event passes with three fields: `seen_id`, the id `current.id` gives once the event
//! is entered; `seen_fields`, how many fields `current.fields` gives; and `seen_code`, the
//! alarm's code from the record (so a test sees the records arrive whole and in order).

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
use bindings::homeport::plugin::types::{EventKind, Field, Verdict};

/// The plugin.
struct BatchWorld;

/// What the plugin answers for the current event.
fn decide(event: &Event) -> Decision {
    let mut fields = current::fields();
    let seen = fields.len();
    let code = match &event.kind {
        EventKind::Alarm(alarm) => format!("\"{}\"", alarm.code),
        _ => "null".to_owned(),
    };
    for (name, value) in [
        ("seen_id", format!("\"{}\"", current::id())),
        ("seen_fields", seen.to_string()),
        ("seen_code", code),
    ] {
        fields.push(Field {
            name: name.to_owned(),
            value,
        });
    }
    Decision {
        verdict: Verdict::Pass,
        replace: None,
        fields: Some(fields),
        emit: Vec::new(),
    }
}

impl Guest for BatchWorld {
    fn init(_config: String) -> Result<(), String> {
        Ok(())
    }

    fn process(event: Event) -> Result<Decision, String> {
        Ok(decide(&event))
    }
}

impl bindings::exports::homeport::plugin::batch::Guest for BatchWorld {
    fn process_batch(events: Vec<Event>) -> Vec<Result<Decision, String>> {
        (0u32..)
            .zip(events)
            .map(|(index, event)| {
                current::enter(index);
                Ok(decide(&event))
            })
            .collect()
    }
}

// Only on wasm32: the export names (`homeport:plugin/handler@0.1.1#init`) are not symbols a
// native linker's version script accepts.
#[cfg(target_arch = "wasm32")]
#[allow(unsafe_code)]
const _: () = {
    bindings::export!(BatchWorld with_types_in bindings);
};
