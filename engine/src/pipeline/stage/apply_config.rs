//! `apply_config`: merge a config template into the device's current config table and write
//! it back (or, with `dry_run`, only report what would be written). The result is published
//! as a `config_applied` event.
//!
//! The template is YAML whose string values are templates, e.g.
//!
//! ```yaml
//! RegisterServer:
//!   Enable: true
//!   DeviceID: "{{ device_id }}"
//! ```
//!
//! Objects merge key by key; anything else replaces. Fields the template does not name keep
//! the device's values.

use std::path::Path;
use std::sync::Arc;

use futures::future::{BoxFuture, FutureExt};
use marked_yaml::Spanned;
use serde_json::Value;

use super::build::Build;
use super::contract::{Outcome, Stage, StageError};
use super::flow::Flow;
use crate::device::handle::merge;
use crate::event::{Event, EventKind};
use crate::pipeline::error::SpecError;
use crate::pipeline::spec::ApplyConfigSpec;
use crate::pipeline::template::{Flavor, Template, Templates};
use crate::registry::Registry;

/// Builds an `apply_config` stage; a `template` file is read now, relative to the pipeline
/// file.
pub fn build(spec: &ApplyConfigSpec, cx: &Build<'_>) -> Result<Box<dyn Stage>, SpecError> {
    let values: Value = match (&spec.template, &spec.values) {
        (Some(path), None) => read_template_file(cx.file, path)?,
        (None, Some(values)) => (**values).clone(),
        _ => {
            return Err(cx.error_at(
                spec.name.span(),
                "apply_config needs exactly one of `template` (a file) or `values` (inline)",
            ));
        }
    };
    if !values.is_object() {
        return Err(cx.error_at(spec.name.span(), "a config template must be a mapping"));
    }
    let tree = TemplateTree::compile(&values, cx.templates)
        .map_err(|e| cx.error_at(spec.name.span(), format!("bad template in values: {e}")))?;
    Ok(Box::new(ApplyConfig {
        registry: Arc::clone(&cx.services.registry),
        name: spec.name.as_str().to_owned(),
        values: tree,
        dry_run: spec.dry_run,
    }))
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

/// A JSON value whose strings are compiled templates.
#[derive(Debug)]
pub enum TemplateTree {
    /// A templated string.
    Text(Template),
    /// A number, boolean or null, as it is.
    Literal(Value),
    /// An object.
    Object(Vec<(String, TemplateTree)>),
    /// An array.
    Array(Vec<TemplateTree>),
}

impl TemplateTree {
    /// `value` with every string compiled as a template.
    pub fn compile(value: &Value, templates: &Templates) -> Result<Self, String> {
        Ok(match value {
            Value::String(text) => Self::Text(templates.compile(text, Flavor::Plain)?),
            Value::Array(items) => Self::Array(
                items
                    .iter()
                    .map(|i| Self::compile(i, templates))
                    .collect::<Result<_, _>>()?,
            ),
            Value::Object(map) => Self::Object(
                map.iter()
                    .map(|(k, v)| Ok((k.clone(), Self::compile(v, templates)?)))
                    .collect::<Result<_, String>>()?,
            ),
            other => Self::Literal(other.clone()),
        })
    }

    /// Renders to JSON; a string that renders to `true`, `false`, a number or `null` keeps
    /// that type (so `Port: "{{ fields.port }}"` can be a number).
    pub fn render(&self, context: &minijinja::Value) -> Result<Value, String> {
        Ok(match self {
            Self::Text(template) => {
                match crate::pipeline::template::typed(template.render(context)?) {
                    value @ (Value::Bool(_) | Value::Number(_) | Value::Null) => value,
                    other => Value::String(
                        other
                            .as_str()
                            .map_or_else(|| other.to_string(), str::to_owned),
                    ),
                }
            }
            Self::Literal(value) => value.clone(),
            Self::Object(entries) => {
                let mut object = serde_json::Map::new();
                for (key, tree) in entries {
                    object.insert(key.clone(), tree.render(context)?);
                }
                Value::Object(object)
            }
            Self::Array(items) => Value::Array(
                items
                    .iter()
                    .map(|i| i.render(context))
                    .collect::<Result<_, _>>()?,
            ),
        })
    }
}

/// Applies one config template.
#[derive(Debug)]
pub struct ApplyConfig {
    /// The device registry (for the device's handle).
    pub registry: Arc<Registry>,
    /// The config table's name.
    pub name: String,
    /// The values to merge.
    pub values: TemplateTree,
    /// Report only.
    pub dry_run: bool,
}

impl Stage for ApplyConfig {
    fn run<'a>(&'a self, flow: &'a mut Flow) -> BoxFuture<'a, Result<Outcome, StageError>> {
        let patch = self
            .values
            .render(flow.context())
            .map_err(StageError::permanent);
        let device = flow.event.device.clone();
        async move {
            let patch = patch?;
            let handle = self
                .registry
                .handle(&device)
                .ok_or_else(|| StageError::new(format!("device {device} is not online")))?;
            let current = handle
                .get_config(&self.name)
                .await
                .map_err(|e| StageError::new(e.to_string()))?;
            let mut table = current.clone();
            merge(&mut table, &patch);
            let changed = table != current;
            if changed && !self.dry_run {
                handle
                    .set_config(&self.name, table.clone())
                    .await
                    .map_err(|e| StageError::new(e.to_string()))?;
            }
            flow.emitted.push(Event::new(
                device,
                EventKind::ConfigApplied {
                    name: self.name.clone(),
                    changed,
                    dry_run: self.dry_run,
                    table,
                    error: None,
                },
            ));
            Ok(Outcome::Continue)
        }
        .boxed()
    }
}
