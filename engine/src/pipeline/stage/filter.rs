//! `filter`: drop events that do not meet a condition.

use futures::future::{BoxFuture, FutureExt};

use super::build::Build;
use super::contract::{Outcome, Stage, StageError};
use super::flow::Flow;
use crate::pipeline::error::SpecError;
use crate::pipeline::spec::FilterSpec;
use crate::pipeline::template::Condition;

/// Builds a `filter` stage.
pub fn build(spec: &FilterSpec, cx: &Build<'_>) -> Result<Box<dyn Stage>, SpecError> {
    Ok(Box::new(Filter {
        when: cx.condition(&spec.when)?,
    }))
}

/// Keeps events for which `when` holds.
#[derive(Debug)]
pub struct Filter {
    /// The condition.
    pub when: Condition,
}

impl Stage for Filter {
    fn run<'a>(&'a self, flow: &'a mut Flow) -> BoxFuture<'a, Result<Outcome, StageError>> {
        let result = self
            .when
            .holds(flow.context())
            .map_err(StageError::permanent);
        async move {
            Ok(if result? {
                Outcome::Continue
            } else {
                Outcome::Drop("filtered")
            })
        }
        .boxed()
    }
}
