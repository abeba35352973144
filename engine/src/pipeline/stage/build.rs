//! What a stage kind is built with: where the stage is (file, pipeline, index, the pipelines it
//! may route to), the templates and the services — and the checks every kind shares, so each
//! reports a bad template, condition or duration, or a missing sink, the same way.

use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use marked_yaml::{Span, Spanned};

use super::contract::{Outcome, Stage, StageError};
use super::flow::{Flow, sample_context};
use crate::camera_sync::SyncServer;
use crate::pipeline::Services;
use crate::pipeline::error::SpecError;
use crate::pipeline::probe::Scope;
use crate::pipeline::template::{Condition, Flavor, Template, Templates};
use crate::sink::capture::Out;
use crate::store::Store;

/// The context one stage is built in.
#[derive(Debug, Clone, Copy)]
pub struct Build<'a> {
    /// The pipeline file.
    pub file: &'a Path,
    /// The file's parsed YAML, for values whose scalars keep their YAML types.
    pub root: &'a marked_yaml::Node,
    /// The pipeline's name.
    pub pipeline: &'a str,
    /// The stage's place in the pipeline, from 0.
    pub index: usize,
    /// The pipelines that will run: where a stage may route events.
    pub pipelines: &'a HashSet<&'a str>,
    /// The template engine.
    pub templates: &'a Templates,
    /// What stages may use.
    pub services: &'a Services,
    /// The event kinds and fields the stage's templates can see, which they are checked
    /// against.
    pub scope: Scope<'a>,
}

impl Build<'_> {
    /// An error at `span` of the pipeline file.
    pub fn error_at(&self, span: &Span, message: impl Into<String>) -> SpecError {
        SpecError::at(self.file, span, message)
    }

    /// An error about the stage with no position of its own.
    pub fn error(&self, message: impl Into<String>) -> SpecError {
        SpecError::file(self.file, message)
    }

    /// Compiles the template `text`, whose values are sanitised for `flavor`, and checks what
    /// it names against the stage's [`Scope`].
    pub fn template(&self, text: &Spanned<String>, flavor: Flavor) -> Result<Template, SpecError> {
        let template = self
            .templates
            .compile(text.as_str(), flavor)
            .and_then(|t| self.scope.check(&t).map(|()| t))
            .map_err(|e| self.error_at(text.span(), format!("bad template: {e}")))?;
        Ok(template)
    }

    /// Compiles the condition `text` and checks what it names against the stage's
    /// [`Scope`].
    pub fn condition(&self, text: &Spanned<String>) -> Result<Condition, SpecError> {
        condition(self.file, self.templates, self.scope, text)
    }

    /// Reads a human duration (`200ms`, `5s`).
    pub fn duration(&self, text: &Spanned<String>) -> Result<Duration, SpecError> {
        duration(self.file, text)
    }

    /// `template` rendered for an alarm-like sample event, so that a topic or subject whose own
    /// text breaks the rules fails here and not at the first event.
    pub fn sample(&self, template: &Template, text: &Spanned<String>) -> Result<String, SpecError> {
        template
            .render(&sample_context())
            .map_err(|e| self.error_at(text.span(), e))
    }

    /// A service the stage cannot run without. `Ok(Some)` when it is there; when only checking,
    /// `Ok(None)`: the stage's options are checked all the same, and [`or_checked`] stands in
    /// for the stage; otherwise the error `missing` makes.
    pub fn needs<T>(
        &self,
        service: Option<T>,
        missing: impl FnOnce() -> SpecError,
    ) -> Result<Option<T>, SpecError> {
        match service {
            None if !self.services.check_only => Err(missing()),
            service => Ok(service),
        }
    }

    /// Where a stage publishing to the sink `name` sends: the capture standing in for it
    /// (`homeport test`), else the connection `real`, as [`Build::needs`] does.
    pub fn sink<S>(
        &self,
        name: &str,
        real: Option<S>,
        missing: impl FnOnce() -> SpecError,
    ) -> Result<Option<Out<S>>, SpecError> {
        if let Some(capture) = self.services.sinks.capture_of(name) {
            return Ok(Some(Out::Capture(
                Arc::clone(capture),
                Arc::from(self.pipeline),
            )));
        }
        Ok(self.needs(real, missing)?.map(Out::Sink))
    }

    /// The camera-sync server and the store a `kind` stage needs, as [`Build::needs`] does.
    pub fn sync(&self, kind: &str) -> Result<Option<(Arc<SyncServer>, Store)>, SpecError> {
        let services = self.services;
        let both = services.sync.clone().zip(services.store.clone());
        self.needs(both, || {
            self.error(format!(
                "a {kind} stage needs the camera-sync server (mark the pipeline `requires: [sync]`)"
            ))
        })
    }
}

/// The stage `make` builds around `service`, or — when only checking, without the service
/// ([`Build::needs`]) — a stand-in that is never run.
pub fn or_checked<T>(service: Option<T>, make: impl FnOnce(T) -> Box<dyn Stage>) -> Box<dyn Stage> {
    match service {
        Some(service) => make(service),
        None => Box::new(Checked),
    }
}

/// Compiles the condition `text` of `file` and checks what it names in `scope`.
pub fn condition(
    file: &Path,
    templates: &Templates,
    scope: Scope<'_>,
    text: &Spanned<String>,
) -> Result<Condition, SpecError> {
    templates
        .condition(text.as_str())
        .and_then(|c| scope.check(c.template()).map(|()| c))
        .map_err(|e| SpecError::at(file, text.span(), format!("bad condition: {e}")))
}

/// Reads a human duration (`200ms`, `5s`) of `file`.
pub fn duration(file: &Path, text: &Spanned<String>) -> Result<Duration, SpecError> {
    crate::de::parse_duration(text.as_str()).map_err(|e| SpecError::at(file, text.span(), e))
}

/// Stands in for a stage whose service is missing when only checking: never run.
#[derive(Debug)]
struct Checked;

impl Stage for Checked {
    fn run<'a>(&'a self, _flow: &'a mut Flow) -> BoxFuture<'a, Result<Outcome, StageError>> {
        Box::pin(async { Err(StageError::new("this pipeline was built for checking only")) })
    }
}
