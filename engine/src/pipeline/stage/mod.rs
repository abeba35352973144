//! Pipeline stages: what one step does to an event.
//!
//! A stage gets the event's [`Flow`] and either lets it go on, drops it (with a reason that
//! is counted), or fails (and the stage's error policy decides: retry, then dead-letter, drop
//! or continue). Built in: [`filter`], [`set`], [`log`], [`debounce`], [`login`],
//! [`apply_config`], [`mqtt`], [`nats`], [`camera_sync`], [`sync_push`], and [`wasm`] for
//! plugins.
//!
//! # Adding a stage kind
//!
//! A stage kind is one file here plus one variant in the spec:
//!
//! 1. `stage/<kind>.rs`: the stage (`impl Stage`) and
//!    `pub fn build(spec: &<Kind>Spec, cx: &Build<'_>) -> Result<Box<dyn Stage>, SpecError>`,
//!    which checks the options with the helpers of [`Build`] (templates, conditions,
//!    durations, errors at a span, a service that may be missing when only checking).
//! 2. Here: `pub mod <kind>;` and its arm in [`from_spec`].
//! 3. In [`spec`](crate::pipeline::spec): the `<Kind>Spec` options (with an `on_error`
//!    field) and one line in `stage_specs!`.
//!
//! Nothing else changes: the compiler, the runtime and `/metrics` take any stage.

pub mod apply_config;
pub mod build;
pub mod camera_sync;
pub mod debounce;
pub mod filter;
pub mod log;
pub mod login;
pub mod mqtt;
pub mod nats;
pub mod set;
pub mod sync_push;
pub mod wasm;

use std::sync::{Arc, OnceLock};

use futures::future::BoxFuture;
use minijinja::value::{Enumerator, Object, ObjectRepr};
use serde_json::{Map, Value as Json};

use crate::event::Event;
use crate::metrics::Exposition;
use crate::pipeline::error::SpecError;
use crate::pipeline::spec::StageSpec;
use crate::pipeline::template::{Flavor, sanitize};

pub use build::Build;

/// Builds the stage `spec` describes: every option is checked here, before anything runs.
pub fn from_spec(spec: &StageSpec, cx: &Build<'_>) -> Result<Box<dyn Stage>, SpecError> {
    match spec {
        StageSpec::Filter(spec) => filter::build(spec, cx),
        StageSpec::Set(spec) => set::build(spec, cx),
        StageSpec::Log(spec) => log::build(spec, cx),
        StageSpec::Debounce(spec) => debounce::build(spec, cx),
        StageSpec::Mqtt(spec) => mqtt::build(spec, cx),
        StageSpec::Nats(spec) => nats::build(spec, cx),
        StageSpec::Login(spec) => login::build(spec, cx),
        StageSpec::ApplyConfig(spec) => apply_config::build(spec, cx),
        StageSpec::CameraSync(spec) => camera_sync::build(spec, cx),
        StageSpec::SyncPush(spec) => sync_push::build(spec, cx),
        StageSpec::Wasm(spec) => wasm::build(spec, cx),
    }
}

/// One event on its way through a pipeline.
#[derive(Debug)]
pub struct Flow {
    /// The event.
    pub event: Arc<Event>,
    /// Fields added by `set` stages, visible to later templates as `fields.NAME`.
    pub fields: Map<String, Json>,
    /// Events stages produced (e.g. `config_applied`), published when the event is done.
    pub emitted: Vec<Arc<Event>>,
    context: Option<minijinja::Value>,
}

impl Flow {
    /// A flow for `event`.
    pub fn new(event: Arc<Event>) -> Self {
        Self {
            event,
            fields: Map::new(),
            emitted: Vec::new(),
            context: None,
        }
    }

    /// The template context: `event`, `device_id`, `device_topic`, `device_subject`, `kind`,
    /// `fields`.
    pub fn context(&mut self) -> &minijinja::Value {
        let (event, fields) = (&self.event, &self.fields);
        self.context.get_or_insert_with(|| {
            minijinja::context! {
                // Converted only if a template reads it: most (topics, keys) use `device_id`.
                event => minijinja::Value::from_object(LazyEvent { event: Arc::clone(event), full: OnceLock::new() }),
                device_id => event.device.clone(),
                // The ID as it appears inside topics and subjects, for payloads that name them.
                device_topic => sanitize(&event.device, Flavor::Topic),
                device_subject => sanitize(&event.device, Flavor::Subject),
                kind => event.kind_name(),
                fields => minijinja::Value::from_serialize(fields),
            }
        })
    }

    /// Replaces the event and its fields (a plugin's `replace`) and refreshes the template
    /// context.
    pub fn replace(&mut self, event: Arc<Event>, fields: Map<String, Json>) {
        self.event = event;
        self.fields = fields;
        self.context = None;
    }

    /// Sets a field and refreshes the template context.
    pub fn set_field(&mut self, name: &str, value: Json) {
        self.fields.insert(name.to_owned(), value);
        self.context = None;
    }
}

/// The event as templates see it (`event.code`, `event|tojson`, …), converted from the typed
/// event the first time a template looks inside it, and at most once per event.
#[derive(Debug)]
struct LazyEvent {
    event: Arc<Event>,
    full: OnceLock<minijinja::Value>,
}

impl LazyEvent {
    fn full(&self) -> &minijinja::Value {
        self.full
            .get_or_init(|| minijinja::Value::from_serialize(&*self.event))
    }
}

impl Object for LazyEvent {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Map
    }

    fn get_value(self: &Arc<Self>, key: &minijinja::Value) -> Option<minijinja::Value> {
        self.full()
            .get_item(key)
            .ok()
            .filter(|value| !value.is_undefined())
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        match self.full().try_iter() {
            Ok(keys) => Enumerator::Iter(Box::new(keys.collect::<Vec<_>>().into_iter())),
            Err(_) => Enumerator::Empty,
        }
    }

    fn enumerator_len(self: &Arc<Self>) -> Option<usize> {
        self.full().len()
    }
}

/// A context shaped like a real alarm's, for checking templates when a pipeline compiles.
pub fn sample_context() -> minijinja::Value {
    let event = Event::new(
        "sample-device",
        crate::event::EventKind::Alarm {
            channel: 0,
            code: "VideoMotion".to_owned(),
            action: "start".to_owned(),
            device_time: None,
            device_utc: None,
            data: Map::new(),
        },
    );
    Flow::new(event).context().clone()
}

/// What a stage decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Go on to the next stage.
    Continue,
    /// Stop here; counted as dropped with this reason.
    Drop(&'static str),
    /// Leave this pipeline and enter the named one (a plugin's route), with the flow's
    /// fields; counted as routed.
    Route(Arc<str>),
}

/// A stage failed; the error policy decides what follows.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct StageError {
    /// What went wrong.
    pub message: String,
    /// Whether trying again cannot help (a template that does not render for this event):
    /// such errors skip the retries and go straight to the policy's `then`.
    pub permanent: bool,
}

impl StageError {
    /// An error worth retrying (a device or broker that may come back).
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            permanent: false,
        }
    }

    /// An error that retrying cannot fix.
    pub fn permanent(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            permanent: true,
        }
    }
}

/// One step of a pipeline.
pub trait Stage: Send + Sync + std::fmt::Debug {
    /// Runs the stage on `flow`.
    fn run<'a>(&'a self, flow: &'a mut Flow) -> BoxFuture<'a, Result<Outcome, StageError>>;

    /// Adds the stage's own samples to `out`, with `labels` (pipeline and stage) on each; most
    /// stages have none beyond the pipeline's counters.
    fn render_metrics(&self, labels: &[(&str, &str)], out: &mut Exposition) {
        let _ = (labels, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::template::Templates;

    fn render(flow: &mut Flow, source: &str) -> String {
        Templates::new()
            .compile(source, Flavor::Plain)
            .expect("compiles")
            .render(flow.context())
            .expect("renders")
    }

    #[test]
    fn the_lazy_event_reads_like_the_event_json() {
        let mut flow = Flow::new(Event::new(
            "cam1",
            crate::event::EventKind::Alarm {
                channel: 3,
                code: "VideoMotion".to_owned(),
                action: "start".to_owned(),
                device_time: None,
                device_utc: Some(7),
                data: Map::new(),
            },
        ));
        let json: serde_json::Value = serde_json::to_value(&*flow.event).expect("json");
        assert_eq!(
            render(&mut flow, "{{ event.code }}/{{ event.channel }}"),
            "VideoMotion/3"
        );
        assert_eq!(render(&mut flow, "{{ event.nothing }}"), "");
        assert_eq!(render(&mut flow, "{{ 'code' in event }}"), "True");
        assert_eq!(
            render(&mut flow, "{{ event|length }}"),
            json.as_object().map_or(0, |o| o.len()).to_string()
        );
        let keys = render(&mut flow, "{% for key in event %}{{ key }},{% endfor %}");
        assert!(keys.contains("code,") && keys.contains("device,"), "{keys}");
        let back: serde_json::Value =
            serde_json::from_str(&render(&mut flow, "{{ event|tojson }}")).expect("tojson");
        assert_eq!(back, json);
    }
}
