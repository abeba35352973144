//! `log`: write one log line per event.

use futures::future::{BoxFuture, FutureExt};

use super::build::Build;
use super::contract::{Outcome, Stage, StageError};
use super::flow::Flow;
use crate::pipeline::error::SpecError;
use crate::pipeline::spec::LogSpec;
use crate::pipeline::template::{Flavor, Template};

/// Builds a `log` stage.
pub fn build(spec: &LogSpec, cx: &Build<'_>) -> Result<Box<dyn Stage>, SpecError> {
    let level = match &spec.level {
        Some(level) => Level::parse(level.as_str()).ok_or_else(|| {
            cx.error_at(
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
        .map(|m| cx.template(m, Flavor::Plain))
        .transpose()?;
    Ok(Box::new(Log {
        pipeline: cx.pipeline.to_owned(),
        level,
        message,
    }))
}

/// Log levels a `log` stage can use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// `error`.
    Error,
    /// `warn`.
    Warn,
    /// `info`.
    Info,
    /// `debug`.
    Debug,
}

impl Level {
    /// Reads a level name.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "error" => Some(Self::Error),
            "warn" => Some(Self::Warn),
            "info" => Some(Self::Info),
            "debug" => Some(Self::Debug),
            _ => None,
        }
    }
}

/// Logs the event (or a rendered message) under the pipeline's name.
#[derive(Debug)]
pub struct Log {
    /// The pipeline's name.
    pub pipeline: String,
    /// The level.
    pub level: Level,
    /// The message; `None` logs the event as JSON.
    pub message: Option<Template>,
}

impl Stage for Log {
    fn run<'a>(&'a self, flow: &'a mut Flow) -> BoxFuture<'a, Result<Outcome, StageError>> {
        let line = match &self.message {
            Some(template) => template
                .render(flow.context())
                .map_err(StageError::permanent),
            None => serde_json::to_string(&*flow.event).map_err(|e| StageError::new(e.to_string())),
        };
        let pipeline = self.pipeline.as_str();
        let level = self.level;
        async move {
            let line = line?;
            match level {
                Level::Error => tracing::error!(target: "homeport::pipeline", %pipeline, "{line}"),
                Level::Warn => tracing::warn!(target: "homeport::pipeline", %pipeline, "{line}"),
                Level::Info => tracing::info!(target: "homeport::pipeline", %pipeline, "{line}"),
                Level::Debug => tracing::debug!(target: "homeport::pipeline", %pipeline, "{line}"),
            }
            Ok(Outcome::Continue)
        }
        .boxed()
    }
}
