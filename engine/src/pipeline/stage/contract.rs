//! What a stage is: the [`Stage`] trait, the [`Outcome`] it decides, and the [`StageError`]
//! its error policy handles.

use std::sync::Arc;

use futures::future::BoxFuture;

use super::flow::Flow;
use crate::metrics::Exposition;

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

    /// Runs the stage on several flows that reached it together, in their order: one result
    /// per flow, in the same order. The default runs them one at a time; a stage whose calls
    /// have a fixed cost (a plugin) takes them in one call.
    fn run_batch<'a>(
        &'a self,
        flows: Vec<&'a mut Flow>,
    ) -> BoxFuture<'a, Vec<Result<Outcome, StageError>>> {
        Box::pin(async move {
            let mut results = Vec::with_capacity(flows.len());
            for flow in flows {
                results.push(self.run(flow).await);
            }
            results
        })
    }

    /// Adds the stage's own samples to `out`, with `labels` (pipeline and stage) on each; most
    /// stages have none beyond the pipeline's counters.
    fn render_metrics(&self, labels: &[(&str, &str)], out: &mut Exposition) {
        let _ = (labels, out);
    }
}
