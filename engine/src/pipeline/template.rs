//! Templates and conditions, with minijinja.
//!
//! Three environments share one syntax and differ only in how interpolated values are
//! written: as they are (payloads, log lines, keys), sanitised for MQTT topics (no `/`, `+`,
//! `#`, NUL, no leading `$`), or sanitised for NATS subjects (no `.`, `*`, `>`, whitespace,
//! no leading `$`). The template's own text is never changed, so `homeport/device/{{ device_id
//! }}/event` keeps its levels while a device ID can never add, remove or wildcard one.
//!
//! Every template sees `event` (the event's JSON), `device_id`, `kind`, and `fields` (what
//! `set` stages added).

use std::fmt::Write;
use std::sync::Arc;

use minijinja::{Environment, UndefinedBehavior, Value};

/// How interpolated values are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    /// As they are.
    Plain,
    /// Safe inside one MQTT topic level.
    Topic,
    /// Safe inside one NATS subject token.
    Subject,
}

/// Compiles templates and conditions, each into its own environment of the right flavour,
/// with the gateway's facts as the global `gateway`.
#[derive(Debug, Clone)]
pub struct Templates {
    gateway: Value,
}

impl Default for Templates {
    fn default() -> Self {
        Self::new()
    }
}

/// A compiled template, in its own environment (so compiling one never copies others).
#[derive(Debug, Clone)]
pub struct Template {
    env: Arc<Environment<'static>>,
}

/// The name every template has inside its own environment.
const NAME: &str = "template";

/// A compiled condition.
#[derive(Debug, Clone)]
pub struct Condition {
    template: Template,
}

fn environment(flavor: Flavor) -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Lenient);
    // Bound the work one render may do, so a template cannot stall a pipeline.
    env.set_fuel(Some(100_000));
    env.set_recursion_limit(32);
    match flavor {
        Flavor::Plain => {}
        Flavor::Topic => env.set_formatter(|out, _state, value| {
            out.write_str(&sanitize(&display(value), Flavor::Topic))
                .map_err(minijinja::Error::from)
        }),
        Flavor::Subject => env.set_formatter(|out, _state, value| {
            out.write_str(&sanitize(&display(value), Flavor::Subject))
                .map_err(minijinja::Error::from)
        }),
    }
    env
}

fn display(value: &Value) -> String {
    if value.is_undefined() || value.is_none() {
        String::new()
    } else {
        value.to_string()
    }
}

/// Makes `value` safe as one topic level or subject token.
pub fn sanitize(value: &str, flavor: Flavor) -> String {
    let mut out = String::with_capacity(value.len().max(1));
    for c in value.chars() {
        let bad = match flavor {
            Flavor::Plain => false,
            Flavor::Topic => matches!(c, '/' | '+' | '#' | '\0'),
            Flavor::Subject => matches!(c, '.' | '*' | '>' | '\0') || c.is_whitespace(),
        };
        out.push(if bad { '_' } else { c });
    }
    if flavor != Flavor::Plain {
        if out.starts_with('$') {
            out.replace_range(..1, "_");
        }
        if out.is_empty() {
            out.push('_');
        }
    }
    out
}

/// The device ID as a strict key, for names that allow only letters, digits, `_` and `-`
/// (Home Assistant object and unique ids): those are kept, anything else becomes `_`, and when
/// anything was replaced `_` and 8 hex digits of a hash of the whole ID follow, so two IDs
/// never share a key (`gate.1` → `gate_1_…`, `gate_1` stays `gate_1`). The hash (FNV-1a) is
/// fixed: a device keeps its key across restarts and versions.
pub fn strict_key(id: &str) -> String {
    let kept: String = id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if kept == id && !id.is_empty() {
        return kept;
    }
    let hash = id.bytes().fold(0x811c_9dc5_u32, |hash, byte| {
        (hash ^ u32::from(byte)).wrapping_mul(0x0100_0193)
    });
    format!("{kept}_{hash:08x}")
}

impl Templates {
    /// A compiler of templates (each template gets its own environment), for a gateway called
    /// `homeport`.
    pub fn new() -> Self {
        Self::for_node("homeport")
    }

    /// A compiler of templates for the gateway `node`: templates see it as `gateway` (`node`,
    /// `status_topic`, `version`).
    pub fn for_node(node: &str) -> Self {
        Self {
            gateway: Value::from_serialize(serde_json::json!({
                "node": node,
                "status_topic": format!("homeport/gateway/{node}/status"),
                "version": env!("CARGO_PKG_VERSION"),
            })),
        }
    }

    /// Compiles `source`; the error is minijinja's, with its position inside the template.
    pub fn compile(&self, source: &str, flavor: Flavor) -> Result<Template, String> {
        let mut env = environment(flavor);
        env.add_global("gateway", self.gateway.clone());
        env.add_template_owned(NAME, source.to_owned())
            .map_err(|e| describe(&e))?;
        Ok(Template { env: Arc::new(env) })
    }

    /// Compiles a condition (an expression such as `event.code == "VideoMotion"`).
    pub fn condition(&self, expression: &str) -> Result<Condition, String> {
        // Check it parses as an expression on its own (so `a }} b` is refused)…
        environment(Flavor::Plain)
            .compile_expression(expression)
            .map_err(|e| describe(&e))?;
        // …then run it as a template that prints a marker when it is true.
        let template = self.compile(
            &format!("{{% if {expression} %}}1{{% endif %}}"),
            Flavor::Plain,
        )?;
        Ok(Condition { template })
    }
}

impl Template {
    /// Renders with `context`.
    pub fn render(&self, context: &Value) -> Result<String, String> {
        let template = self.env.get_template(NAME).map_err(|e| describe(&e))?;
        template.render(context).map_err(|e| describe(&e))
    }
}

impl Template {
    /// The variables the template reads from its context, with the attributes it reads of
    /// them (`event.code`, `device_id`), for checking them before anything runs.
    pub fn variables(&self) -> std::collections::HashSet<String> {
        self.env
            .get_template(NAME)
            .map(|t| t.undeclared_variables(true))
            .unwrap_or_default()
    }

    /// Renders with `context` and reports only what is wrong whatever the event: a filter,
    /// test, function or method that does not exist.
    pub fn unknown_name(&self, context: &Value) -> Option<String> {
        use minijinja::ErrorKind::{UnknownFilter, UnknownFunction, UnknownMethod, UnknownTest};
        let template = self.env.get_template(NAME).ok()?;
        match template.render(context) {
            Err(e)
                if matches!(
                    e.kind(),
                    UnknownFilter | UnknownFunction | UnknownMethod | UnknownTest
                ) =>
            {
                Some(describe(&e))
            }
            _ => None,
        }
    }
}

impl Condition {
    /// The template that evaluates the condition.
    pub fn template(&self) -> &Template {
        &self.template
    }

    /// Evaluates with `context`.
    pub fn holds(&self, context: &Value) -> Result<bool, String> {
        Ok(self.template.render(context)? == "1")
    }
}

/// A rendered value as JSON: JSON text keeps its type, and so do the words minijinja prints
/// for booleans and none (`True`, `False`, `None`, as Jinja does); anything else is a string.
pub fn typed(rendered: String) -> serde_json::Value {
    match rendered.as_str() {
        "True" => serde_json::Value::Bool(true),
        "False" => serde_json::Value::Bool(false),
        "None" => serde_json::Value::Null,
        _ => serde_json::from_str(&rendered).unwrap_or(serde_json::Value::String(rendered)),
    }
}

fn describe(error: &minijinja::Error) -> String {
    let mut text = error.kind().to_string();
    if let Some(detail) = error.detail() {
        let _ = write!(text, ": {detail}");
    }
    if let Some(line) = error.line() {
        let _ = write!(text, " (template line {line})");
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use minijinja::context;

    #[test]
    fn strict_keys_keep_what_is_allowed_and_never_collide() {
        assert_eq!(strict_key("cam-1_A"), "cam-1_A");
        let dotted = strict_key("gate.1");
        assert!(
            dotted.starts_with("gate_1_") && dotted.len() == "gate_1_".len() + 8,
            "{dotted}"
        );
        assert_ne!(dotted, strict_key("gate_1"));
        assert_ne!(dotted, strict_key("gate:1"));
        for id in ["front door", "a\"b", "カメラ", "", "x/y"] {
            let key = strict_key(id);
            assert!(
                !key.is_empty()
                    && key
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-'),
                "{id:?} -> {key:?}"
            );
        }
        // Fixed: the same ID gives the same key in every run and version.
        assert_eq!(strict_key("gate.1"), "gate_1_ed52c99f");
    }

    #[test]
    fn interpolated_values_cannot_add_topic_levels_or_wildcards() {
        let templates = Templates::new();
        let topic = templates
            .compile("homeport/device/{{ device_id }}/event", Flavor::Topic)
            .expect("compiles");
        let rendered = topic
            .render(&context! { device_id => "a/b+#c" })
            .expect("renders");
        assert_eq!(rendered, "homeport/device/a_b__c/event");
        assert_eq!(
            topic
                .render(&context! { device_id => "$SYS" })
                .expect("renders"),
            "homeport/device/_SYS/event"
        );
        assert_eq!(
            topic.render(&context! {}).expect("renders"),
            "homeport/device/_/event"
        );
        let subject = templates
            .compile("homeport.{{ device_id }}.alarm", Flavor::Subject)
            .expect("compiles");
        assert_eq!(
            subject
                .render(&context! { device_id => "x.y *>z" })
                .expect("renders"),
            "homeport.x_y___z.alarm"
        );
    }

    #[test]
    fn conditions_evaluate_and_bad_ones_are_refused() {
        let templates = Templates::new();
        let condition = templates
            .condition(r#"event.code != "VideoLoss""#)
            .expect("compiles");
        assert!(
            condition
                .holds(&context! { event => context! { code => "VideoMotion" } })
                .expect("runs")
        );
        assert!(
            !condition
                .holds(&context! { event => context! { code => "VideoLoss" } })
                .expect("runs")
        );
        assert!(templates.condition("event.code ==").is_err());
        assert!(templates.condition("a %} b").is_err());
        assert!(templates.compile("{{ unclosed", Flavor::Plain).is_err());
    }
}
