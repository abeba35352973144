//! `set`: add or replace fields by template, for later stages (`fields.NAME`).

use futures::future::{BoxFuture, FutureExt};

use super::build::Build;
use super::contract::{Outcome, Stage, StageError};
use super::flow::Flow;
use crate::pipeline::error::SpecError;
use crate::pipeline::spec::SetSpec;
use crate::pipeline::template::{Flavor, Template};

/// Builds a `set` stage.
pub fn build(spec: &SetSpec, cx: &Build<'_>) -> Result<Box<dyn Stage>, SpecError> {
    let mut fields = Vec::new();
    for (name, source) in &spec.fields {
        fields.push((name.clone(), cx.template(source, Flavor::Plain)?));
    }
    Ok(Box::new(Set { fields }))
}

/// Renders each field's template and stores the result.
#[derive(Debug)]
pub struct Set {
    /// Field name and template, in order.
    pub fields: Vec<(String, Template)>,
}

impl Stage for Set {
    fn run<'a>(&'a self, flow: &'a mut Flow) -> BoxFuture<'a, Result<Outcome, StageError>> {
        let result = (|| {
            for (name, template) in &self.fields {
                let rendered = template
                    .render(flow.context())
                    .map_err(|e| StageError::permanent(format!("field {name}: {e}")))?;
                // A rendering that is JSON (a number, an object, …) is kept as such.
                let value = crate::pipeline::template::typed(rendered);
                flow.set_field(name, value);
            }
            Ok(Outcome::Continue)
        })();
        async move { result }.boxed()
    }
}
