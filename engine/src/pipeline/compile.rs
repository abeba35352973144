//! From parsed files to runnable pipelines: every name, kind, duration, template and file is
//! checked here, before anything runs, and every problem names file:line:column, the pipeline
//! and the stage. A pipeline's own options (`on`, `when`, `requires`, `on_error`, `queue`)
//! are checked here; each stage kind checks its own options ([`stage::from_spec`]).

use std::collections::{BTreeSet, HashSet};
use std::path::Path;

use marked_yaml::Spanned;

use super::error::SpecError;
use super::load::Loaded;
use super::policy::{ErrorPolicy, Then, WhenFull};
use super::probe::Scope;
use super::spec::{ErrorPolicySpec, PipelineSpec, StageSpec};
use super::stage::build::{Build, condition, duration};
use super::stage::{self, Stage};
use super::template::{Condition, Templates};
use super::{Services, event_kind};
use crate::sink::Sinks;

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
    // Pipelines a plugin may route events into: those events carry whatever fields the
    // plugin's pipeline set, so their `fields.NAME` cannot be checked.
    let routed: HashSet<&str> = files
        .iter()
        .flat_map(|f| f.spec.pipelines.iter())
        .flat_map(|p| p.stages.iter())
        .filter_map(|stage| match &**stage {
            StageSpec::Wasm(wasm) => Some(wasm.routes.values().map(|t| t.as_str())),
            _ => None,
        })
        .flatten()
        .collect();
    let targets = Targets {
        all: &all,
        routed: &routed,
    };
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
            match pipeline_of(
                &file.path, &file.root, pipeline, services, templates, targets,
            ) {
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

/// Whether `requires` names a known requirement that is not configured (the pipeline is
/// skipped).
fn unmet(spec: &PipelineSpec, services: &Services) -> bool {
    !services.check_only
        && spec
            .requires
            .iter()
            .any(|r| configured(r.as_str(), services) == Some(false))
}

/// Whether the requirement `name` (a sink, or `sync`) is configured; `None` for an unknown
/// name.
fn configured(name: &str, services: &Services) -> Option<bool> {
    match name {
        "sync" => Some(services.sync.is_some()),
        sink => services.sinks.has(sink),
    }
}

/// The pipelines a stage may route to, and those plugins route into.
#[derive(Debug, Clone, Copy)]
struct Targets<'a> {
    all: &'a HashSet<&'a str>,
    routed: &'a HashSet<&'a str>,
}

fn pipeline_of(
    file: &Path,
    root: &marked_yaml::Node,
    spec: &Spanned<PipelineSpec>,
    services: &Services,
    templates: &Templates,
    targets: Targets<'_>,
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
        if configured(required.as_str(), services).is_none() {
            errors.push(here(
                required.span(),
                format!(
                    "unknown requirement {:?} in requires; expected {} or sync",
                    required.as_str(),
                    Sinks::NAMES.join(", ")
                ),
            ));
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
    // What templates are checked against. A plugin may route an event of any kind, with any
    // fields, into the pipeline it names; elsewhere the kinds of `on` and the fields set so
    // far, stage by stage (unknown after a plugin, which may set any).
    let routed = targets.routed.contains(name);
    let seen: Vec<&'static str> = if routed {
        crate::event::KINDS.to_vec()
    } else {
        kinds.clone()
    };
    let mut fields = (!routed).then(BTreeSet::new);
    let when = spec.when.as_ref().and_then(|when| {
        let scope = Scope {
            kinds: &seen,
            fields: fields.as_ref(),
        };
        condition(file, templates, scope, when)
            .map_err(|e| errors.push(e.in_pipeline(name)))
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
        // A `set` stage's own fields are visible to its later fields; a `snapshot` stage's
        // field to the stages after it.
        match &**stage {
            StageSpec::Set(set) => {
                if let Some(fields) = &mut fields {
                    fields.extend(set.fields.keys().cloned());
                }
            }
            StageSpec::Snapshot(snapshot) => {
                if let Some(fields) = &mut fields {
                    fields.insert(snapshot.field_name().to_owned());
                }
            }
            StageSpec::Wasm(_) => fields = None,
            _ => {}
        }
        let cx = Build {
            file,
            root,
            pipeline: name,
            index,
            pipelines: targets.all,
            templates,
            services,
            scope: Scope {
                kinds: &seen,
                fields: fields.as_ref(),
            },
        };
        match stage::from_spec(stage, &cx) {
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
