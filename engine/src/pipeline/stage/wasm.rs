//! `wasm`: a stage written as a WebAssembly component (see `docs/plugins.md`). The plugin
//! sees the event as a typed record and decides: pass, drop, replace it, emit more events,
//! or route it to another pipeline. Its failures (an error it returns, a trap, the time or
//! memory limit) fail only this event, under the stage's error policy.
//!
//! Building the stage loads the plugin file (compiled, or taken from the cache), checks it
//! against the world version, instantiates it once and gives it its config — so a missing
//! file, a plugin for another world version, or a config the plugin refuses is an error at
//! the stage's line, from `homeport check` as from a reload.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use futures::future::{BoxFuture, FutureExt};

use super::build::Build;
use super::contract::{Outcome, Stage, StageError};
use super::flow::Flow;
use crate::device::EventLabels;
use crate::event::Event;
use crate::metrics::{Exposition, Kind};
use crate::pipeline::error::SpecError;
use crate::pipeline::spec::WasmSpec;
use crate::wasm::bindings::types as wit;
use crate::wasm::convert;
use crate::wasm::limits::{Limits, MAX_EMIT, parse_size};
use crate::wasm::pool::{CallError, MAX_BATCH, Pool};
use crate::wasm::state::{Grants, StageLabel};

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

/// Builds a `wasm` stage, with one instance warmed up.
pub fn build(spec: &WasmSpec, cx: &Build<'_>) -> Result<Box<dyn Stage>, SpecError> {
    let pipeline = cx.pipeline;
    let limits = limits_of(spec, cx)?;
    let mut grants = Grants::default();
    if let Some(list) = &spec.grant {
        grants = Grants::NONE;
        for name in list {
            if !grants.grant(name.as_str()) {
                return Err(cx.error_at(
                    name.span(),
                    format!(
                        "unknown grant {:?}; expected log, clock or kv",
                        name.as_str()
                    ),
                ));
            }
        }
    }
    let mut routes = BTreeMap::new();
    for (output, target) in &spec.routes {
        if !cx.pipelines.contains(target.as_str()) {
            return Err(cx.error_at(target.span(),
                format!(
                    "route {output:?} names pipeline {:?}, which is not defined (or is skipped: its `requires` is not configured)",
                    target.as_str()
                ),
            ));
        }
        if target.as_str() == pipeline {
            return Err(cx.error_at(
                target.span(),
                "a route back into its own pipeline would loop",
            ));
        }
        routes.insert(output.clone(), Arc::from(target.as_str()));
    }
    let base = cx.file.parent().unwrap_or_else(|| Path::new("."));
    let path = base.join(spec.plugin.as_str());
    let slot = cx
        .services
        .plugins
        .load(&path)
        .map_err(|e| cx.error_at(spec.plugin.span(), e.to_string()))?;
    let stem = path
        .file_stem()
        .map_or_else(|| "plugin".to_owned(), |s| s.to_string_lossy().into_owned());
    let namespace = spec
        .kv_namespace
        .as_ref()
        .map_or_else(|| format!("{pipeline}/{stem}"), |n| n.as_str().to_owned());
    // The config as YAML typed it (`floor: 2` is a number), from the file's own nodes.
    let config = spec.config.as_ref().map_or_else(
        || "{}".to_owned(),
        |c| {
            crate::pipeline::load::typed_value_at(cx.root, c.span())
                .unwrap_or_else(|| (**c).clone())
                .to_string()
        },
    );
    let label = StageLabel::new(pipeline, format!("#{} wasm({stem})", cx.index + 1));
    let pool = cx
        .services
        .plugins
        .stage_pool(slot, &namespace, label, config, limits, grants)
        .map_err(|e| cx.error_at(spec.plugin.span(), e))?;
    // One instance now: proves the plugin instantiates and accepts its config.
    futures::executor::block_on(pool.warm()).map_err(|e| {
        let span = spec
            .config
            .as_ref()
            .map_or_else(|| *spec.plugin.span(), |c| *c.span());
        cx.error_at(&span, format!("plugin {}: {e}", path.display()))
    })?;
    Ok(Box::new(WasmStage { pool, routes }))
}

/// A failed call, as the stage's error policy sees it.
fn stage_error(error: CallError) -> StageError {
    match error {
        // The config cannot change between attempts.
        CallError::Config(_) => StageError::permanent(error.to_string()),
        _ => StageError::new(error.to_string()),
    }
}

fn limits_of(spec: &WasmSpec, cx: &Build<'_>) -> Result<Limits, SpecError> {
    let mut limits = Limits::default();
    let Some(given) = &spec.limits else {
        return Ok(limits);
    };
    if let Some(time) = &given.time {
        limits.time = cx.duration(time)?;
        if limits.time.is_zero() {
            return Err(cx.error_at(time.span(), "a time limit must be above zero"));
        }
    }
    let size = |text: &marked_yaml::Spanned<String>| {
        parse_size(text.as_str()).map_err(|e| cx.error_at(text.span(), e))
    };
    if let Some(memory) = &given.memory {
        limits.memory = size(memory)?;
        if limits.memory < 1 << 20 {
            return Err(cx.error_at(
                memory.span(),
                "a memory limit below 1MiB leaves no room for a plugin to start",
            ));
        }
    }
    if let Some(kv) = &given.kv {
        limits.kv_bytes = size(kv)?;
    }
    if let Some(entries) = &given.kv_entries {
        limits.kv_entries = **entries;
    }
    Ok(limits)
}

impl Stage for WasmStage {
    fn run<'a>(&'a self, flow: &'a mut Flow) -> BoxFuture<'a, Result<Outcome, StageError>> {
        async move {
            if !convert::in_world(&flow.event.kind) {
                // A kind the plugin's world does not have: passed on untouched.
                return Ok(Outcome::Continue);
            }
            let decision = self
                .pool
                .process(&flow.event, &mut flow.fields)
                .await
                .map_err(stage_error)?;
            self.apply(flow, decision)
        }
        .boxed()
    }

    /// The flows' events go to the plugin in one batch call (several calls past
    /// [`MAX_BATCH`]); kinds the plugin's world does not have pass untouched.
    fn run_batch<'a>(
        &'a self,
        mut flows: Vec<&'a mut Flow>,
    ) -> BoxFuture<'a, Vec<Result<Outcome, StageError>>> {
        async move {
            let mut results: Vec<Result<Outcome, StageError>> = Vec::with_capacity(flows.len());
            for chunk in flows.chunks_mut(MAX_BATCH) {
                results.extend(self.call_batch(chunk).await);
            }
            results
        }
        .boxed()
    }

    fn render_metrics(&self, labels: &[(&str, &str)], out: &mut Exposition) {
        let stats = &self.pool.stats;
        let mut calls = out.family(
            "homeport_wasm_calls_total",
            Kind::Counter,
            "Events a wasm stage handed its plugin (alone or in a batch), by result.",
        );
        for (result, counter) in [
            ("calls", &stats.calls),
            ("plugin_error", &stats.plugin_errors),
            ("trap", &stats.traps),
            ("timeout", &stats.timeouts),
            ("out_of_memory", &stats.out_of_memory),
        ] {
            let mut with_result = labels.to_vec();
            with_result.push(("result", result));
            calls.sample(&with_result, counter.load(Ordering::Relaxed));
        }
        let (entries, bytes) = self.pool.setup().kv.usage();
        for (name, kind, help, value) in [
            (
                "homeport_wasm_instances_total",
                Kind::Counter,
                "Plugin instances a wasm stage created.",
                stats.instances.load(Ordering::Relaxed),
            ),
            (
                "homeport_wasm_batches_total",
                Kind::Counter,
                "Calls that took several events at once (process-batch) per wasm stage.",
                stats.batches.load(Ordering::Relaxed),
            ),
            (
                "homeport_wasm_recycled_total",
                Kind::Counter,
                "Plugin instances a wasm stage threw away after a failure.",
                stats.recycled.load(Ordering::Relaxed),
            ),
            (
                "homeport_wasm_log_suppressed_total",
                Kind::Counter,
                "Plugin log lines dropped by the rate limit.",
                self.pool.setup().label.suppressed.load(Ordering::Relaxed),
            ),
            (
                "homeport_wasm_kv_entries",
                Kind::Gauge,
                "Entries in a wasm stage's key-value namespace.",
                entries as u64,
            ),
            (
                "homeport_wasm_kv_bytes",
                Kind::Gauge,
                "Bytes in a wasm stage's key-value namespace.",
                bytes as u64,
            ),
        ] {
            out.family(name, kind, help).sample(labels, value);
        }
    }
}

impl WasmStage {
    /// One batch call for `flows` (at most [`MAX_BATCH`]).
    async fn call_batch(&self, flows: &mut [&mut Flow]) -> Vec<Result<Outcome, StageError>> {
        // Kinds the plugin's world does not have pass on untouched.
        let taken: Vec<usize> = (0..flows.len())
            .filter(|&index| convert::in_world(&flows[index].event.kind))
            .collect();
        // The fields are lent to the plugin, the events borrowed for the call.
        let mut fields: Vec<_> = taken
            .iter()
            .map(|&index| std::mem::take(&mut flows[index].fields))
            .collect();
        let decisions = {
            let events: Vec<&Event> = taken.iter().map(|&index| &*flows[index].event).collect();
            self.pool.process_batch(&events, &mut fields).await
        };
        let mut results: Vec<Result<Outcome, StageError>> =
            (0..flows.len()).map(|_| Ok(Outcome::Continue)).collect();
        for ((index, fields), decision) in taken.into_iter().zip(fields).zip(decisions) {
            let flow = &mut *flows[index];
            flow.fields = fields;
            results[index] = decision
                .map_err(stage_error)
                .and_then(|decision| self.apply(flow, decision));
        }
        results
    }

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
            // An event about the same device carries its labels; about another, none (the
            // plugin cannot know them).
            let (device, labels) =
                if emitted.device.is_empty() || emitted.device == flow.event.device {
                    (flow.event.device.clone(), flow.event.labels.clone())
                } else {
                    (emitted.device, EventLabels::default())
                };
            let mut event = Event::labelled(device, labels, kind);
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
