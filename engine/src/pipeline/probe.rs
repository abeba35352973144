//! What a template or condition may name, checked when its pipeline compiles: every variable
//! it reads must exist, every `event.FIELD` must be a field of an event kind the pipeline
//! takes, every `fields.NAME` must be set by a `set` stage before it, and every filter, test,
//! function and method must exist. What passes here cannot turn every event into a warning,
//! a dead letter or a silent drop at run time.

use std::collections::BTreeSet;

use super::stage::flow::{Flow, sample_event};
use super::template::Template;

/// The variables every template sees ([`Flow::context`], and the global `gateway`).
pub const VARIABLES: [&str; 10] = [
    "event",
    "device_id",
    "device_name",
    "device_tags",
    "device_topic",
    "device_subject",
    "device_key",
    "kind",
    "fields",
    "gateway",
];

/// minijinja's own global functions, which a template may call by name.
const GLOBALS: [&str; 4] = ["range", "dict", "namespace", "debug"];

/// Where a template runs: the event kinds that reach it, and the fields set before it.
#[derive(Debug, Clone, Copy)]
pub struct Scope<'a> {
    /// The kinds of the pipeline's `on`.
    pub kinds: &'a [&'static str],
    /// The fields `set` stages before this point add; `None` when they cannot be known (after
    /// a plugin, which may set any, or in a pipeline plugins route events into).
    pub fields: Option<&'a BTreeSet<String>>,
}

impl Scope<'_> {
    /// Checks `template` in this scope: the first problem, for people.
    pub fn check(&self, template: &Template) -> Result<(), String> {
        let mut variables: Vec<String> = template.variables().into_iter().collect();
        variables.sort();
        for path in &variables {
            self.check_path(path)?;
        }
        self.check_names(template)
    }

    fn check_path(&self, path: &str) -> Result<(), String> {
        let mut segments = path.split('.');
        let root = segments.next().unwrap_or_default();
        let attribute = segments.next();
        if !VARIABLES.contains(&root) && !GLOBALS.contains(&root) {
            return Err(format!(
                "unknown variable {root:?}{}; templates see {}",
                did_you_mean(root, VARIABLES.iter().copied()),
                VARIABLES.join(", ")
            ));
        }
        match (root, attribute) {
            ("event", Some(field)) => self.check_event_field(path, field),
            ("fields", Some(name)) => self.check_set_field(path, name),
            _ => Ok(()),
        }
    }

    fn check_event_field(&self, path: &str, field: &str) -> Result<(), String> {
        let mut valid = BTreeSet::new();
        for kind in self.kinds {
            valid.extend(event_fields(kind));
        }
        if valid.is_empty() || valid.contains(field) {
            return Ok(());
        }
        let kinds = self.kinds.join(" or ");
        Err(format!(
            "{path:?}: {kinds} events have no field {field:?}{}; their fields are {}",
            did_you_mean(field, valid.iter().map(String::as_str)),
            valid.into_iter().collect::<Vec<_>>().join(", ")
        ))
    }

    fn check_set_field(&self, path: &str, name: &str) -> Result<(), String> {
        let Some(known) = self.fields else {
            return Ok(());
        };
        if known.contains(name) {
            return Ok(());
        }
        let so_far = if known.is_empty() {
            "none is set before it".to_owned()
        } else {
            format!(
                "set before it: {}",
                known.iter().cloned().collect::<Vec<_>>().join(", ")
            )
        };
        Err(format!(
            "{path:?} is not set by any `set` or `snapshot` stage before this point{} ({so_far})",
            did_you_mean(name, known.iter().map(String::as_str))
        ))
    }

    /// Renders `template` for a sample event of each kind and reports a filter, test,
    /// function or method that does not exist.
    fn check_names(&self, template: &Template) -> Result<(), String> {
        for kind in self.kinds {
            let Some(event) = sample_event(kind) else {
                continue;
            };
            let mut flow = Flow::new(event);
            for name in self.fields.into_iter().flatten() {
                flow.set_field(name, serde_json::Value::Null);
            }
            if let Some(problem) = template.unknown_name(flow.context()) {
                return Err(problem);
            }
        }
        Ok(())
    }
}

/// The fields templates can read of an event of `kind` (`event.FIELD`).
pub fn event_fields(kind: &str) -> BTreeSet<String> {
    sample_event(kind)
        .and_then(|event| match event.to_json() {
            serde_json::Value::Object(map) => Some(map.into_iter().map(|(k, _)| k).collect()),
            _ => None,
        })
        .unwrap_or_default()
}

/// `; did you mean "x"?` for the candidate closest to `name`, when one is close.
fn did_you_mean<'a>(name: &str, candidates: impl Iterator<Item = &'a str>) -> String {
    candidates
        .map(|c| (strsim::damerau_levenshtein(name, c), c))
        .filter(|(distance, c)| *distance <= (c.len() / 3).max(1))
        .min()
        .map(|(_, c)| format!(" (did you mean {c:?}?)"))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::template::{Flavor, Templates};

    fn check(source: &str, kinds: &[&'static str], fields: Option<&[&str]>) -> Result<(), String> {
        let fields: Option<BTreeSet<String>> =
            fields.map(|f| f.iter().map(|s| (*s).to_owned()).collect());
        let template = Templates::new()
            .compile(source, Flavor::Plain)
            .expect("compiles");
        Scope {
            kinds,
            fields: fields.as_ref(),
        }
        .check(&template)
    }

    #[test]
    fn misspelt_variables_and_fields_are_named_with_the_right_ones() {
        let e = check("{{ devce_id }}", &["alarm"], Some(&[])).expect_err("typo");
        assert!(
            e.contains("\"devce_id\"") && e.contains("did you mean \"device_id\""),
            "{e}"
        );
        let e = check(
            "{% if event.cod == 'x' %}{% endif %}",
            &["alarm"],
            Some(&[]),
        )
        .expect_err("typo");
        assert!(
            e.contains("did you mean \"code\"") && e.contains("action"),
            "{e}"
        );
        let e = check("{{ fields.site }}", &["alarm"], Some(&["zone"])).expect_err("unset");
        assert!(e.contains("set before it: zone"), "{e}");
    }

    #[test]
    fn unknown_filters_and_methods_are_refused() {
        let e = check("{{ device_id | shout }}", &["alarm"], Some(&[])).expect_err("filter");
        assert!(e.contains("unknown filter"), "{e}");
        let e =
            check("{{ event.code.startswith('V') }}", &["alarm"], Some(&[])).expect_err("method");
        assert!(e.contains("unknown method"), "{e}");
    }

    #[test]
    fn what_some_kind_has_and_what_cannot_be_known_pass() {
        // `action` is an alarm's, `online` an online change's: either kind may read its own.
        check(
            "{{ event.action }}{{ event.online }}",
            &["alarm", "online_changed"],
            Some(&[]),
        )
        .expect("fields of the kinds taken");
        check("{{ fields.anything }}", &["alarm"], None).expect("after a plugin");
        check(
            "{% for i in range(2) %}{{ loop.index }}{% endfor %}{{ fields.zone|upper }}",
            &["alarm"],
            Some(&["zone"]),
        )
        .expect("globals, loop variables and set fields");
        let e = check("{{ event.code }}", &["online_changed"], Some(&[])).expect_err("no code");
        assert!(
            e.contains("online_changed events have no field \"code\""),
            "{e}"
        );
    }
}
