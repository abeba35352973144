//! From parsed files to a runnable graph: every name, kind, duration, template and file is
//! checked here, before anything runs, and every problem names file:line:column, the pipeline
//! and the stage. Nothing here does I/O except reading `apply_config` template files.

use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use marked_yaml::Spanned;
use serde_json::Value;

use super::error::SpecError;
use super::load::Loaded;
use super::policy::{ErrorPolicy, Then, WhenFull};
use super::spec::{ErrorPolicySpec, PipelineSpec, StageSpec};
use super::stage::apply_config::{ApplyConfig, TemplateTree};
use super::stage::camera_sync::CameraSync;
use super::stage::debounce::Debounce;
use super::stage::filter::Filter;
use super::stage::log::{Level, Log};
use super::stage::login::Login;
use super::stage::mqtt::{MqttPayload, MqttStage};
use super::stage::nats::NatsStage;
use super::stage::set::Set;
use super::stage::sync_push::SyncPush;
use super::stage::{Stage, sample_context};
use super::template::{Condition, Flavor, Templates};
use super::{Services, event_kind};

/// Default events a pipeline queue holds.
pub const DEFAULT_CAPACITY: usize = 10_000;

/// A checked pipeline, ready to run.
#[derive(Debug)]
pub struct CompiledPipeline {
    /// Its name.
    pub name: String,
    /// Event kinds it takes.
    pub kinds: Vec<&'static str>,
    /// Its entry condition.
    pub when: Option<Condition>,
    /// Its stages: kind, stage, error policy.
    pub stages: Vec<(&'static str, Box<dyn Stage>, ErrorPolicy)>,
    /// Queue capacity.
    pub capacity: usize,
    /// What happens when the queue is full.
    pub when_full: WhenFull,
}

/// Checks and builds every pipeline of `files`; all problems are reported together.
pub fn compile(
    files: &[Loaded],
    services: &Services,
    templates: &Templates,
) -> Result<Vec<CompiledPipeline>, Vec<SpecError>> {
    let mut errors = Vec::new();
    let mut out = Vec::new();
    let mut names = HashSet::new();
    // The pipelines that will run, for checking plugin routes before their target is
    // compiled (a pipeline skipped for an unmet `requires` cannot take routed events).
    let all: HashSet<&str> = files
        .iter()
        .flat_map(|f| f.spec.pipelines.iter())
        .filter(|p| !unmet(p, services))
        .map(|p| p.name.as_str())
        .collect();
    for file in files {
        for pipeline in &file.spec.pipelines {
            let name = pipeline.name.as_str();
            if !names.insert(name.to_owned()) {
                errors.push(SpecError::at(
                    &file.path,
                    pipeline.name.span(),
                    format!("a pipeline named {name:?} is already defined"),
                ));
                continue;
            }
            match pipeline_of(&file.path, &file.root, pipeline, services, templates, &all) {
                Ok(Some(compiled)) => out.push(compiled),
                Ok(None) => {
                    tracing::info!(pipeline = %name, "pipeline skipped: a sink it requires is not configured")
                }
                Err(mut problems) => errors.append(&mut problems),
            }
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

/// Whether a known requirement of `spec` is not configured (the pipeline is skipped).
fn unmet(spec: &PipelineSpec, services: &Services) -> bool {
    !services.check_only
        && spec.requires.iter().any(|r| match r.as_str() {
            "mqtt" => services.mqtt.is_none(),
            "nats" => services.nats.is_none(),
            "sync" => services.sync.is_none(),
            _ => false,
        })
}

fn pipeline_of(
    file: &Path,
    root: &marked_yaml::Node,
    spec: &Spanned<PipelineSpec>,
    services: &Services,
    templates: &Templates,
    all: &HashSet<&str>,
) -> Result<Option<CompiledPipeline>, Vec<SpecError>> {
    let name = spec.name.as_str();
    let mut errors = Vec::new();
    let here = |span: &marked_yaml::Span, message: String| {
        SpecError::at(file, span, message).in_pipeline(name)
    };
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        errors.push(here(
            spec.name.span(),
            "a pipeline name uses letters, digits, '-' and '_' only".to_owned(),
        ));
    }
    if unmet(spec, services) {
        return Ok(None);
    }
    for required in &spec.requires {
        match required.as_str() {
            "mqtt" | "nats" | "sync" => {}
            other => errors.push(here(
                required.span(),
                format!("unknown requirement {other:?} in requires; expected mqtt, nats or sync"),
            )),
        }
    }
    let mut kinds = Vec::new();
    for kind in &spec.on {
        match event_kind(kind.as_str()) {
            Some(kind) => kinds.push(kind),
            None => errors.push(here(
                kind.span(),
                format!(
                    "unknown event kind {:?}; expected one of {}",
                    kind.as_str(),
                    crate::event::KINDS.join(", ")
                ),
            )),
        }
    }
    if spec.on.is_empty() {
        errors.push(here(
            spec.span(),
            "a pipeline needs at least one event kind in `on`".to_owned(),
        ));
    }
    let when = spec.when.as_ref().and_then(|when| {
        templates
            .condition(when.as_str())
            .map_err(|e| errors.push(here(when.span(), format!("bad condition: {e}"))))
            .ok()
    });
    let default_policy = match &spec.on_error {
        Some(policy) => policy_of(file, policy)
            .map_err(|e| errors.push(e.in_pipeline(name)))
            .unwrap_or_default(),
        None => ErrorPolicy::default(),
    };
    let (capacity, when_full) = match &spec.queue {
        Some(queue) => {
            let when_full = match &queue.when_full {
                Some(word) => WhenFull::parse(word.as_str()).unwrap_or_else(|| {
                    errors.push(here(
                        word.span(),
                        format!(
                            "unknown when_full {:?}; expected drop_oldest, drop_newest or block",
                            word.as_str()
                        ),
                    ));
                    WhenFull::default()
                }),
                None => WhenFull::default(),
            };
            (queue.capacity.unwrap_or(DEFAULT_CAPACITY).max(1), when_full)
        }
        None => (DEFAULT_CAPACITY, WhenFull::default()),
    };
    if spec.stages.is_empty() {
        errors.push(here(
            spec.span(),
            "a pipeline needs at least one stage".to_owned(),
        ));
    }
    let mut stages = Vec::new();
    for (index, stage) in spec.stages.iter().enumerate() {
        let kind = stage.kind();
        let policy = match stage.on_error() {
            Some(policy) => match policy_of(file, policy) {
                Ok(policy) => policy,
                Err(e) => {
                    errors.push(e.in_pipeline(name).in_stage(index, kind));
                    continue;
                }
            },
            None => default_policy,
        };
        let at = Position {
            file,
            root,
            pipeline: name,
            index,
            all,
        };
        match stage_of(&at, stage, services, templates) {
            Ok(built) => stages.push((kind, built, policy)),
            Err(e) => errors.push(e.in_pipeline(name).in_stage(index, kind)),
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(Some(CompiledPipeline {
        name: name.to_owned(),
        kinds,
        when,
        stages,
        capacity,
        when_full,
    }))
}

pub(super) fn duration(file: &Path, text: &Spanned<String>) -> Result<Duration, SpecError> {
    humantime::parse_duration(text.as_str()).map_err(|e| {
        SpecError::at(
            file,
            text.span(),
            format!(
                "bad duration {:?}: {e} (examples: 200ms, 5s, 2m)",
                text.as_str()
            ),
        )
    })
}

fn policy_of(file: &Path, spec: &ErrorPolicySpec) -> Result<ErrorPolicy, SpecError> {
    let mut policy = ErrorPolicy::default();
    if let Some(retry) = &spec.retry {
        policy.retries = retry.max;
        if let Some(backoff) = &retry.backoff {
            policy.backoff = duration(file, backoff)?;
        }
    }
    if let Some(then) = &spec.then {
        policy.then = Then::parse(then.as_str()).ok_or_else(|| {
            SpecError::at(
                file,
                then.span(),
                format!(
                    "unknown `then` {:?}; expected dead_letter, drop or continue",
                    then.as_str()
                ),
            )
        })?;
    }
    Ok(policy)
}

fn template(
    file: &Path,
    templates: &Templates,
    text: &Spanned<String>,
    flavor: Flavor,
) -> Result<super::template::Template, SpecError> {
    templates
        .compile(text.as_str(), flavor)
        .map_err(|e| SpecError::at(file, text.span(), format!("bad template: {e}")))
}

/// Where a stage is: its file, pipeline and index, and the pipelines it may route to.
struct Position<'a> {
    file: &'a Path,
    root: &'a marked_yaml::Node,
    pipeline: &'a str,
    index: usize,
    all: &'a HashSet<&'a str>,
}

fn stage_of(
    at: &Position<'_>,
    stage: &StageSpec,
    services: &Services,
    templates: &Templates,
) -> Result<Box<dyn Stage>, SpecError> {
    let (file, pipeline) = (at.file, at.pipeline);
    let span_of = |s: &Spanned<String>| *s.span();
    Ok(match stage {
        StageSpec::Filter(spec) => Box::new(Filter {
            when: templates.condition(spec.when.as_str()).map_err(|e| {
                SpecError::at(file, spec.when.span(), format!("bad condition: {e}"))
            })?,
        }),
        StageSpec::Set(spec) => {
            let mut fields = Vec::new();
            for (name, source) in &spec.fields {
                fields.push((
                    name.clone(),
                    template(file, templates, source, Flavor::Plain)?,
                ));
            }
            Box::new(Set { fields })
        }
        StageSpec::Log(spec) => {
            let level = match &spec.level {
                Some(level) => Level::parse(level.as_str()).ok_or_else(|| {
                    SpecError::at(
                        file,
                        level.span(),
                        format!(
                            "unknown level {:?}; expected error, warn, info or debug",
                            level.as_str()
                        ),
                    )
                })?,
                None => Level::Info,
            };
            let message = spec
                .message
                .as_ref()
                .map(|m| template(file, templates, m, Flavor::Plain))
                .transpose()?;
            Box::new(Log {
                pipeline: pipeline.to_owned(),
                level,
                message,
            })
        }
        StageSpec::Debounce(spec) => {
            let window = duration(file, &spec.window)?;
            let key = spec
                .key
                .as_ref()
                .map(|k| template(file, templates, k, Flavor::Plain))
                .transpose()?;
            Box::new(Debounce::new(window, key))
        }
        StageSpec::Login(spec) => {
            let rate = spec.rate.unwrap_or(100.0);
            if !(rate > 0.0 && rate.is_finite()) {
                return Err(SpecError::file(
                    file,
                    "login rate must be a positive number",
                ));
            }
            Box::new(Login::new(Arc::clone(&services.registry), rate))
        }
        StageSpec::ApplyConfig(spec) => {
            let values: Value = match (&spec.template, &spec.values) {
                (Some(path), None) => read_template_file(file, path)?,
                (None, Some(values)) => (**values).clone(),
                _ => {
                    return Err(SpecError::at(
                        file,
                        spec.name.span(),
                        "apply_config needs exactly one of `template` (a file) or `values` (inline)",
                    ));
                }
            };
            if !values.is_object() {
                return Err(SpecError::at(
                    file,
                    spec.name.span(),
                    "a config template must be a mapping",
                ));
            }
            let tree = tree_of(&values, templates).map_err(|e| {
                SpecError::at(
                    file,
                    spec.name.span(),
                    format!("bad template in values: {e}"),
                )
            })?;
            Box::new(ApplyConfig {
                registry: Arc::clone(&services.registry),
                name: spec.name.as_str().to_owned(),
                values: tree,
                dry_run: spec.dry_run,
            })
        }
        StageSpec::Mqtt(spec) => {
            let sink = services.mqtt.clone();
            if sink.is_none() && !services.check_only {
                return Err(SpecError::at(
                    file,
                    spec.topic.span(),
                    "an mqtt stage needs an MQTT broker: start with --mqtt URL (or mark the pipeline `requires: [mqtt]`)",
                ));
            }
            let topic = template(file, templates, &spec.topic, Flavor::Topic)?;
            // A topic whose own text breaks the rules fails here, not at the first event.
            let sample = topic
                .render(&sample_context())
                .map_err(|e| SpecError::at(file, spec.topic.span(), e))?;
            crate::sink::mqtt::valid_topic(&sample)
                .map_err(|e| SpecError::at(file, spec.topic.span(), format!("bad topic: {e}")))?;
            let qos = match spec.qos.as_ref().map(|q| **q) {
                None | Some(1) => crate::sink::mqtt::QoS::AtLeastOnce,
                Some(0) => crate::sink::mqtt::QoS::AtMostOnce,
                Some(other) => {
                    let span = spec
                        .qos
                        .as_ref()
                        .map_or_else(|| span_of(&spec.topic), |q| *q.span());
                    return Err(SpecError::at(
                        file,
                        &span,
                        format!("qos {other} is not supported; use 0 or 1"),
                    ));
                }
            };
            let payload = match &spec.payload {
                Some(text) => {
                    MqttPayload::Template(template(file, templates, text, Flavor::Plain)?)
                }
                None => MqttPayload::Standard,
            };
            match sink {
                Some(sink) => Box::new(MqttStage {
                    sink,
                    topic,
                    qos,
                    retain: spec.retain,
                    payload,
                }),
                None => Box::new(Checked),
            }
        }
        StageSpec::CameraSync(_) | StageSpec::SyncPush(_) => {
            let (Some(server), Some(store)) = (services.sync.clone(), services.store.clone())
            else {
                if services.check_only {
                    return Ok(Box::new(Checked));
                }
                return Err(SpecError::file(
                    file,
                    format!(
                        "a {} stage needs the camera-sync server (mark the pipeline `requires: [sync]`)",
                        stage.kind()
                    ),
                ));
            };
            match stage {
                StageSpec::CameraSync(_) => Box::new(CameraSync {
                    store,
                    registry: Arc::clone(&services.registry),
                    server,
                }),
                _ => Box::new(SyncPush {
                    store,
                    registry: Arc::clone(&services.registry),
                    server,
                }),
            }
        }
        StageSpec::Wasm(spec) => Box::new(super::compile_wasm::build(
            at.file,
            at.root,
            at.pipeline,
            at.index,
            at.all,
            spec,
            services,
        )?),
        StageSpec::Nats(spec) => {
            let sink = services.nats.clone();
            if sink.is_none() && !services.check_only {
                return Err(SpecError::at(
                    file,
                    spec.subject.span(),
                    "a nats stage needs a NATS server: start with --nats URL (or mark the pipeline `requires: [nats]`)",
                ));
            }
            let subject = template(file, templates, &spec.subject, Flavor::Subject)?;
            let sample = subject
                .render(&sample_context())
                .map_err(|e| SpecError::at(file, spec.subject.span(), e))?;
            crate::sink::nats::valid_subject(&sample).map_err(|e| {
                SpecError::at(file, spec.subject.span(), format!("bad subject: {e}"))
            })?;
            let payload = spec
                .payload
                .as_ref()
                .map(|text| template(file, templates, text, Flavor::Plain))
                .transpose()?;
            match sink {
                Some(sink) => Box::new(NatsStage {
                    sink,
                    subject,
                    jetstream: spec.jetstream,
                    kv: spec.kv,
                    payload,
                }),
                None => Box::new(Checked),
            }
        }
    })
}

/// Stands in for a sink stage when only checking: never run.
#[derive(Debug)]
struct Checked;

impl Stage for Checked {
    fn run<'a>(
        &'a self,
        _flow: &'a mut super::stage::Flow,
    ) -> futures::future::BoxFuture<'a, Result<super::stage::Outcome, super::stage::StageError>>
    {
        Box::pin(async {
            Err(super::stage::StageError::new(
                "this pipeline was built for checking only",
            ))
        })
    }
}

fn read_template_file(file: &Path, path: &Spanned<String>) -> Result<Value, SpecError> {
    let base = file.parent().unwrap_or_else(|| Path::new("."));
    let full = base.join(path.as_str());
    let text = std::fs::read_to_string(&full).map_err(|e| {
        SpecError::at(
            file,
            path.span(),
            format!("cannot read template file {}: {e}", full.display()),
        )
    })?;
    marked_yaml::from_yaml::<Value>(0, &text).map_err(|e| {
        SpecError::at(
            file,
            path.span(),
            format!("template file {} is not YAML: {e}", full.display()),
        )
    })
}

fn tree_of(value: &Value, templates: &Templates) -> Result<TemplateTree, String> {
    Ok(match value {
        Value::String(text) => TemplateTree::Text(templates.compile(text, Flavor::Plain)?),
        Value::Array(items) => TemplateTree::Array(
            items
                .iter()
                .map(|i| tree_of(i, templates))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(map) => TemplateTree::Object(
            map.iter()
                .map(|(k, v)| Ok((k.clone(), tree_of(v, templates)?)))
                .collect::<Result<_, String>>()?,
        ),
        other => TemplateTree::Literal(other.clone()),
    })
}
