//! One event on its way through a pipeline ([`Flow`]): the event, the fields stages set, the
//! events they emit, and the template context built from them (the event itself converted
//! only when a template looks inside it).

use std::sync::{Arc, OnceLock};

use minijinja::value::{Enumerator, Object, ObjectRepr};
use serde_json::{Map, Value as Json};

use crate::device::{EventLabels, Labels};
use crate::event::Event;
use crate::pipeline::template::{Flavor, sanitize, strict_key};

/// One event on its way through a pipeline.
#[derive(Debug)]
pub struct Flow {
    /// The event.
    pub event: Arc<Event>,
    /// Fields added by `set` stages, visible to later templates as `fields.NAME`.
    pub fields: Map<String, Json>,
    /// Events stages produced (e.g. `config_applied`), published when the event is done.
    pub emitted: Vec<Arc<Event>>,
    context: Option<minijinja::Value>,
}

impl Flow {
    /// A flow for `event`.
    pub fn new(event: Arc<Event>) -> Self {
        Self {
            event,
            fields: Map::new(),
            emitted: Vec::new(),
            context: None,
        }
    }

    /// The template context: `event`, `device_id`, `device_name` (the name an operator gave
    /// the device, else its ID), `device_tags`, `device_topic`, `device_subject`,
    /// `device_key`, `kind`, `fields` (and the global `gateway`, from the template's
    /// environment).
    pub fn context(&mut self) -> &minijinja::Value {
        let (event, fields) = (&self.event, &self.fields);
        self.context.get_or_insert_with(|| {
            minijinja::context! {
                // Converted only if a template reads it: most (topics, keys) use `device_id`.
                event => minijinja::Value::from_object(LazyEvent { event: Arc::clone(event), full: OnceLock::new() }),
                device_id => event.device.clone(),
                device_name => event.labels.display_name(&event.device),
                device_tags => event.labels.tags(),
                // The ID as it appears inside topics and subjects, for payloads that name them.
                device_topic => sanitize(&event.device, Flavor::Topic),
                device_subject => sanitize(&event.device, Flavor::Subject),
                // The ID as a strict key (letters, digits, `_`, `-`), e.g. for Home Assistant.
                device_key => strict_key(&event.device),
                kind => event.kind_name(),
                fields => minijinja::Value::from_serialize(fields),
            }
        })
    }

    /// Replaces the event and its fields (a plugin's `replace`) and refreshes the template
    /// context.
    pub fn replace(&mut self, event: Arc<Event>, fields: Map<String, Json>) {
        self.event = event;
        self.fields = fields;
        self.context = None;
    }

    /// Sets a field and refreshes the template context.
    pub fn set_field(&mut self, name: &str, value: Json) {
        self.fields.insert(name.to_owned(), value);
        self.context = None;
    }
}

/// The event as templates see it ([`Event::to_json`]: `event.code`, `event.type`,
/// `event|tojson`, …), converted from the typed event the first time a template looks inside
/// it, and at most once per event.
#[derive(Debug)]
struct LazyEvent {
    event: Arc<Event>,
    full: OnceLock<minijinja::Value>,
}

impl LazyEvent {
    fn full(&self) -> &minijinja::Value {
        self.full
            .get_or_init(|| minijinja::Value::from_serialize(self.event.view()))
    }
}

impl Object for LazyEvent {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Map
    }

    fn get_value(self: &Arc<Self>, key: &minijinja::Value) -> Option<minijinja::Value> {
        self.full()
            .get_item(key)
            .ok()
            .filter(|value| !value.is_undefined())
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        match self.full().try_iter() {
            Ok(keys) => Enumerator::Iter(Box::new(keys.collect::<Vec<_>>().into_iter())),
            Err(_) => Enumerator::Empty,
        }
    }

    fn enumerator_len(self: &Arc<Self>) -> Option<usize> {
        self.full().len()
    }
}

/// A context shaped like a real alarm's, for checking templates when a pipeline compiles.
pub fn sample_context() -> minijinja::Value {
    let event = sample_event("alarm").expect("alarm is an event kind");
    Flow::new(event).context().clone()
}

/// What a sample device reports: every field filled in.
fn sample_reported() -> crate::event::Reported {
    crate::event::Reported {
        channels: Some(4),
        serial: Some("serial".to_owned()),
        model: Some("model".to_owned()),
        firmware: Some("firmware".to_owned()),
    }
}

/// An event of `kind` (a name of [`KINDS`](crate::event::KINDS)) with every field it can
/// have filled in, for checking what templates read from events of that kind.
pub fn sample_event(kind: &str) -> Option<Arc<Event>> {
    use crate::event::{DeviceState, EventKind, OnlineReason, RegistrationKind, SecurityCode};
    let kind = match kind {
        "registered" => EventKind::Registered {
            peer: "127.0.0.1:37777".to_owned(),
            registration: RegistrationKind::SerialToken,
            token: Some("token".to_owned()),
        },
        "online_changed" => EventKind::OnlineChanged {
            online: true,
            state: DeviceState::Online,
            reason: OnlineReason::LoginOk,
            detail: Some("detail".to_owned()),
            since_ms: Some(0),
            reported: sample_reported(),
        },
        "alarm" => EventKind::Alarm {
            channel: 0,
            code: "VideoMotion".to_owned(),
            action: "start".to_owned(),
            device_time: Some("2026-01-01 00:00:00".to_owned()),
            device_utc: Some(0),
            data: Map::new(),
        },
        "config_applied" => EventKind::ConfigApplied {
            name: "DVRIP".to_owned(),
            changed: true,
            dry_run: false,
            table: Json::Object(Map::new()),
            error: Some("error".to_owned()),
        },
        "sync_request" => EventKind::SyncRequest {
            session: 1,
            account: Some("account".to_owned()),
            peer: "127.0.0.1:9500".to_owned(),
            data: false,
            command: "Login".to_owned(),
            message: None,
        },
        "announced" => EventKind::Announced {
            cause: crate::event::AnnounceCause::Added,
            online: false,
            state: DeviceState::Offline,
            reported: sample_reported(),
        },
        "security" => EventKind::Security {
            code: SecurityCode::DuplicateId,
            peer: "127.0.0.1:37777".to_owned(),
            detail: "detail".to_owned(),
        },
        _ => return None,
    };
    // Every kind about a device carries its labels (an app's sync request is about none).
    let labels = match kind {
        EventKind::SyncRequest { .. } => EventLabels::default(),
        _ => EventLabels::new(Labels {
            name: Some("Sample camera".to_owned()),
            tags: vec!["sample".to_owned()],
        }),
    };
    Some(Event::labelled("sample-device", labels, kind))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::template::Templates;

    fn render(flow: &mut Flow, source: &str) -> String {
        Templates::new()
            .compile(source, Flavor::Plain)
            .expect("compiles")
            .render(flow.context())
            .expect("renders")
    }

    #[test]
    fn the_lazy_event_reads_like_the_event_json() {
        let mut flow = Flow::new(Event::new(
            "cam1",
            crate::event::EventKind::Alarm {
                channel: 3,
                code: "VideoMotion".to_owned(),
                action: "start".to_owned(),
                device_time: None,
                device_utc: Some(7),
                data: Map::new(),
            },
        ));
        let json = flow.event.to_json();
        assert_eq!(json["type"], "motion");
        assert_eq!(
            render(&mut flow, "{{ event.code }}/{{ event.channel }}"),
            "VideoMotion/3"
        );
        assert_eq!(render(&mut flow, "{{ event.nothing }}"), "");
        assert_eq!(render(&mut flow, "{{ 'code' in event }}"), "True");
        assert_eq!(
            render(&mut flow, "{{ event|length }}"),
            json.as_object().map_or(0, |o| o.len()).to_string()
        );
        let keys = render(&mut flow, "{% for key in event %}{{ key }},{% endfor %}");
        assert!(keys.contains("code,") && keys.contains("device,"), "{keys}");
        let back: serde_json::Value =
            serde_json::from_str(&render(&mut flow, "{{ event|tojson }}")).expect("tojson");
        assert_eq!(back, json);
    }
}
