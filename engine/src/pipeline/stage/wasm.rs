//! `wasm`: a stage written as a WebAssembly component (see `docs/plugins.md`). The plugin
//! sees the event as a typed record and decides: pass, drop, replace it, emit more events,
//! or route it to another pipeline. Its failures (an error it returns, a trap, the time or
//! memory limit) fail only this event, under the stage's error policy.

use std::collections::{BTreeMap, HashSet};
use std::fmt::Write;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use futures::future::{BoxFuture, FutureExt};

use super::{Flow, Outcome, Stage, StageError};
use crate::event::Event;
use crate::wasm::bindings::types as wit;
use crate::wasm::convert;
use crate::wasm::limits::MAX_EMIT;
use crate::wasm::pool::{CallError, Pool};

/// Most plugin emissions or routes one event may descend from.
pub const MAX_HOPS: u8 = 8;
/// Distinct drop reasons kept as metric labels, process-wide; others count as `plugin_other`.
const MAX_REASONS: usize = 256;

/// Runs a plugin on each event.
#[derive(Debug)]
pub struct WasmStage {
    /// The stage's instances.
    pub pool: Arc<Pool>,
    /// Output name → pipeline name.
    pub routes: BTreeMap<String, Arc<str>>,
}

impl Stage for WasmStage {
    fn run<'a>(&'a self, flow: &'a mut Flow) -> BoxFuture<'a, Result<Outcome, StageError>> {
        async move {
            let texts = convert::Texts::of(&flow.event);
            let Some(input) = convert::to_wit(&flow.event, &texts) else {
                // A kind the plugin's world does not have: passed on untouched.
                return Ok(Outcome::Continue);
            };
            let decision = self
                .pool
                .process(input, flow.event.id, &mut flow.fields)
                .await
                .map_err(|error| match error {
                    // The config cannot change between attempts.
                    CallError::Config(_) => StageError::permanent(error.to_string()),
                    _ => StageError::new(error.to_string()),
                })?;
            self.apply(flow, decision)
        }
        .boxed()
    }

    fn render_metrics(&self, labels: &str, out: &mut String) {
        let stats = &self.pool.stats;
        for (result, counter) in [
            ("calls", &stats.calls),
            ("plugin_error", &stats.plugin_errors),
            ("trap", &stats.traps),
            ("timeout", &stats.timeouts),
            ("out_of_memory", &stats.out_of_memory),
        ] {
            let _ = writeln!(
                out,
                "homeport_wasm_calls_total{{{labels},result=\"{result}\"}} {}",
                counter.load(Ordering::Relaxed)
            );
        }
        let _ = writeln!(
            out,
            "homeport_wasm_instances_total{{{labels}}} {}\nhomeport_wasm_recycled_total{{{labels}}} {}\nhomeport_wasm_log_suppressed_total{{{labels}}} {}",
            stats.instances.load(Ordering::Relaxed),
            stats.recycled.load(Ordering::Relaxed),
            self.pool.setup().label.suppressed.load(Ordering::Relaxed),
        );
        let (entries, bytes) = self.pool.setup().kv.usage();
        let _ = writeln!(
            out,
            "homeport_wasm_kv_entries{{{labels}}} {entries}\nhomeport_wasm_kv_bytes{{{labels}}} {bytes}"
        );
    }
}

impl WasmStage {
    fn apply(&self, flow: &mut Flow, decision: wit::Decision) -> Result<Outcome, StageError> {
        if decision.emit.len() > MAX_EMIT {
            return Err(StageError::permanent(format!(
                "the plugin emitted {} events; at most {MAX_EMIT} per event",
                decision.emit.len()
            )));
        }
        let fields = match decision.fields {
            Some(fields) => Some(
                convert::fields_from_wit(fields)
                    .map_err(|e| StageError::permanent(format!("the plugin's fields: {e}")))?,
            ),
            None => None,
        };
        let event = match decision.replace {
            Some(replacement) => {
                let kind = convert::kind_from_wit(replacement.kind, &flow.event.kind)
                    .map_err(|e| StageError::permanent(format!("the plugin's replacement: {e}")))?;
                Some(convert::replacement(&flow.event, kind))
            }
            None => None,
        };
        if event.is_some() || fields.is_some() {
            let event = event.unwrap_or_else(|| Arc::clone(&flow.event));
            let fields = fields.unwrap_or_else(|| std::mem::take(&mut flow.fields));
            flow.replace(event, fields);
        }
        let hops = flow.event.hops.saturating_add(1);
        // Collected first, so an emitted event that does not convert emits nothing (a retry
        // would otherwise publish the others twice).
        let mut emitted_events = Vec::with_capacity(decision.emit.len());
        for emitted in decision.emit {
            if hops > MAX_HOPS {
                tracing::warn!(device = %flow.event.device, "a plugin emitted an event descending from {MAX_HOPS} emissions or routes already; not published (a loop?)");
                break;
            }
            let kind = convert::kind_from_wit(emitted.kind, &flow.event.kind)
                .map_err(|e| StageError::permanent(format!("an emitted event: {e}")))?;
            let device = if emitted.device.is_empty() {
                flow.event.device.clone()
            } else {
                emitted.device
            };
            let mut event = Event::new(device, kind);
            Arc::make_mut(&mut event).hops = hops;
            emitted_events.push(event);
        }
        let outcome = match decision.verdict {
            wit::Verdict::Pass => Outcome::Continue,
            wit::Verdict::Drop(reason) => Outcome::Drop(intern(&reason)),
            wit::Verdict::Route(output) => match self.routes.get(&output) {
                Some(_) if hops > MAX_HOPS => {
                    return Err(StageError::permanent(format!(
                        "the plugin routed an event that has been routed or emitted {MAX_HOPS} times already (a loop?)"
                    )));
                }
                Some(pipeline) => Outcome::Route(Arc::clone(pipeline)),
                None => {
                    let known: Vec<&str> = self.routes.keys().map(String::as_str).collect();
                    return Err(StageError::permanent(format!(
                        "the plugin routed to output {output:?}, which the stage's `routes` does not name (it names: {})",
                        if known.is_empty() {
                            "none".to_owned()
                        } else {
                            known.join(", ")
                        }
                    )));
                }
            },
        };
        flow.emitted.append(&mut emitted_events);
        Ok(outcome)
    }
}

/// A plugin's drop reason as a metric label: `[a-z0-9_]`, at most 48 characters, and at most
/// [`MAX_REASONS`] distinct ones per process (kept for the process's life, like the labels).
fn intern(reason: &str) -> &'static str {
    static REASONS: OnceLock<Mutex<HashSet<&'static str>>> = OnceLock::new();
    let clean: String = reason
        .chars()
        .take(48)
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    let clean = if clean.is_empty() {
        "plugin".to_owned()
    } else {
        clean
    };
    let mut reasons = REASONS
        .get_or_init(Mutex::default)
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    if let Some(known) = reasons.get(clean.as_str()) {
        return known;
    }
    if reasons.len() >= MAX_REASONS {
        return "plugin_other";
    }
    let leaked: &'static str = Box::leak(clean.into_boxed_str());
    reasons.insert(leaked);
    leaked
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drop_reasons_become_clean_shared_labels() {
        assert_eq!(intern("Code filtered!"), "code_filtered_");
        assert!(std::ptr::eq(intern("debounced"), intern("debounced")));
        assert_eq!(intern(""), "plugin");
    }
}
