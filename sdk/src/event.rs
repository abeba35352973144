//! Events as plugins see them: the record the host sends (time, device, what happened),
//! with the id and the fields fetched from the host only when the plugin asks for them.

use std::cell::OnceCell;

use serde::Serialize;
use serde_json::Value;

use crate::bindings::homeport::plugin::types as wit;
use crate::{
    Alarm, DeviceState, EventKind, Field, OnlineChanged, OnlineReason, Registered, RegistrationKind,
};

/// One event.
///
/// `at_ms`, `device` and `kind` come with every call. The id ([`Event::id`]) and the fields
/// earlier stages attached ([`Event::field`], [`Event::fields`]) are fetched from the host the
/// first time the plugin reads them — most plugins never do, and a call is cheaper without
/// them. Changing the fields ([`Event::set_field`], [`Event::remove_field`]) and passing the
/// event on with [`Decision::replace`](crate::Decision::replace) hands the new fields back.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// Server time, Unix milliseconds; assigned by the host to emitted events.
    pub at_ms: i64,
    /// The device it concerns; empty in an emitted event means the current device.
    pub device: String,
    /// What happened.
    pub kind: EventKind,
    id: OnceCell<String>,
    fields: OnceCell<Vec<Field>>,
    /// Whether the id and fields, when not loaded yet, are the current event's (the host's).
    from_host: bool,
    fields_changed: bool,
}

/// A field value that could not be turned into JSON (a map with non-string keys, a failing
/// `Serialize` impl).
#[derive(Debug, thiserror::Error)]
#[error("field `{name}` cannot be written as JSON: {source}")]
pub struct FieldError {
    name: String,
    #[source]
    source: serde_json::Error,
}

/// So `event.set_field(…)?` works in [`Plugin::process`](crate::Plugin::process), whose
/// error is a `String`.
impl From<FieldError> for String {
    fn from(error: FieldError) -> Self {
        error.to_string()
    }
}

impl Event {
    /// A new event about `device`. `id` and `at_ms` are left empty: the host assigns them to
    /// events a plugin emits.
    pub fn new(device: impl Into<String>, kind: EventKind) -> Self {
        Self {
            at_ms: 0,
            device: device.into(),
            kind,
            id: OnceCell::from(String::new()),
            fields: OnceCell::from(Vec::new()),
            from_host: false,
            fields_changed: false,
        }
    }

    /// The event the host is asking about: its id and fields stay with the host until read.
    pub(crate) fn from_host(record: wit::Event) -> Self {
        Self {
            at_ms: record.at_ms,
            device: record.device,
            kind: record.kind,
            id: OnceCell::new(),
            fields: OnceCell::new(),
            from_host: true,
            fields_changed: false,
        }
    }

    /// The record to hand back, and the fields if they were changed.
    pub(crate) fn into_wit(self) -> (wit::Event, Option<Vec<Field>>) {
        let fields = if self.fields_changed {
            self.fields.into_inner()
        } else {
            None
        };
        let record = wit::Event {
            at_ms: self.at_ms,
            device: self.device,
            kind: self.kind,
        };
        (record, fields)
    }

    /// Sets the id (the native harness; the host assigns ids).
    #[cfg(not(target_arch = "wasm32"))]
    pub(crate) fn set_id(&mut self, id: String) {
        self.id = OnceCell::from(id);
    }

    /// The event's id: unique and time-ordered (a UUIDv7, in text); empty for an event the
    /// plugin made.
    pub fn id(&self) -> &str {
        self.id.get_or_init(|| {
            if self.from_host {
                crate::current::id()
            } else {
                String::new()
            }
        })
    }

    /// The fields earlier stages attached (values as JSON text), as they are now.
    pub fn fields(&self) -> &[Field] {
        self.fields.get_or_init(|| {
            if self.from_host {
                crate::current::fields()
            } else {
                Vec::new()
            }
        })
    }

    fn fields_mut(&mut self) -> &mut Vec<Field> {
        let loaded = match self.fields.take() {
            Some(fields) => fields,
            None if self.from_host => crate::current::fields(),
            None => Vec::new(),
        };
        self.fields_changed = true;
        self.fields = OnceCell::from(loaded);
        match self.fields.get_mut() {
            Some(fields) => fields,
            None => unreachable!("the fields were just set"),
        }
    }

    /// An alarm on channel 0 with no device times and empty data; see [`Alarm::new`].
    pub fn new_alarm(
        device: impl Into<String>,
        code: impl Into<String>,
        action: impl Into<String>,
    ) -> Self {
        Self::new(device, EventKind::Alarm(Alarm::new(code, action)))
    }

    /// A device that logged in (`online`) or whose connection closed (not `online`).
    pub fn new_online_changed(device: impl Into<String>, online: bool) -> Self {
        let (state, reason) = if online {
            (DeviceState::Online, OnlineReason::LoginOk)
        } else {
            (DeviceState::Offline, OnlineReason::SocketClosed)
        };
        Self::new(
            device,
            EventKind::OnlineChanged(OnlineChanged {
                online,
                state,
                reason,
                detail: None,
                since_ms: None,
            }),
        )
    }

    /// A device that announced itself by serial from `peer` (`ip:port`).
    pub fn new_registered(device: impl Into<String>, peer: impl Into<String>) -> Self {
        Self::new(
            device,
            EventKind::Registered(Registered {
                peer: peer.into(),
                registration: RegistrationKind::Serial,
                token: None,
            }),
        )
    }

    /// The kind's name as pipelines write it in `on:`: `registered`, `online_changed`,
    /// `alarm`, `config_applied` or `sync_request`.
    pub fn kind_name(&self) -> &'static str {
        match self.kind {
            EventKind::Registered(_) => "registered",
            EventKind::OnlineChanged(_) => "online_changed",
            EventKind::Alarm(_) => "alarm",
            EventKind::ConfigApplied(_) => "config_applied",
            EventKind::SyncRequest(_) => "sync_request",
        }
    }

    /// The alarm, if this event is one.
    pub fn alarm(&self) -> Option<&Alarm> {
        match &self.kind {
            EventKind::Alarm(alarm) => Some(alarm),
            _ => None,
        }
    }

    /// The alarm, if this event is one, for changing it before a [`Decision::replace`].
    ///
    /// [`Decision::replace`]: crate::Decision::replace
    pub fn alarm_mut(&mut self) -> Option<&mut Alarm> {
        match &mut self.kind {
            EventKind::Alarm(alarm) => Some(alarm),
            _ => None,
        }
    }

    /// The online change, if this event is one.
    pub fn online_changed(&self) -> Option<&OnlineChanged> {
        match &self.kind {
            EventKind::OnlineChanged(change) => Some(change),
            _ => None,
        }
    }

    /// The value of field `name`, parsed. `None` when the event has no such field, or when
    /// its text is not JSON (the host only sends JSON; [`Event::field_text`] has the raw text).
    pub fn field(&self, name: &str) -> Option<Value> {
        serde_json::from_str(self.field_text(name)?).ok()
    }

    /// The JSON text of field `name`, as the host sent it.
    pub fn field_text(&self, name: &str) -> Option<&str> {
        self.fields()
            .iter()
            .find(|field| field.name == name)
            .map(|field| field.value.as_str())
    }

    /// Sets field `name` to `value` as JSON, replacing the field if the event has it.
    pub fn set_field(
        &mut self,
        name: impl Into<String>,
        value: impl Serialize,
    ) -> Result<&mut Self, FieldError> {
        let name = name.into();
        let value = match serde_json::to_string(&value) {
            Ok(value) => value,
            Err(source) => return Err(FieldError { name, source }),
        };
        let fields = self.fields_mut();
        match fields.iter_mut().find(|field| field.name == name) {
            Some(field) => field.value = value,
            None => fields.push(Field { name, value }),
        }
        Ok(self)
    }

    /// Removes field `name`; true if the event had it.
    pub fn remove_field(&mut self, name: &str) -> bool {
        let fields = self.fields_mut();
        let before = fields.len();
        fields.retain(|field| field.name != name);
        fields.len() != before
    }
}

impl Alarm {
    /// An alarm on channel 0 with no device times and empty data (`{}`).
    pub fn new(code: impl Into<String>, action: impl Into<String>) -> Self {
        Self {
            channel: 0,
            code: code.into(),
            action: action.into(),
            device_time: None,
            device_utc: None,
            data: "{}".to_owned(),
        }
    }

    /// The alarm's `Data` object, parsed; `None` if the text is not JSON.
    pub fn data_json(&self) -> Option<Value> {
        serde_json::from_str(&self.data).ok()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn set_field_replaces_an_existing_field_instead_of_adding_one() -> Result<(), FieldError> {
        let mut event = Event::new_alarm("D1", "VideoMotion", "start");
        event.set_field("site", "Lyon")?.set_field("floor", 2)?;
        event.set_field("site", json!({"city": "Paris"}))?;
        assert_eq!(event.fields().len(), 2);
        assert_eq!(event.field("site"), Some(json!({"city": "Paris"})));
        assert_eq!(event.field_text("floor"), Some("2"));
        Ok(())
    }

    #[test]
    fn a_field_that_is_not_json_reads_as_absent_but_its_text_stays_readable() {
        let mut event = Event::new_registered("D1", "10.0.0.1:5000");
        event.fields_mut().push(Field {
            name: "raw".into(),
            value: "not json".into(),
        });
        assert_eq!(event.field("raw"), None);
        assert_eq!(event.field_text("raw"), Some("not json"));
        assert_eq!(event.field("missing"), None);
    }

    #[test]
    fn a_value_serde_cannot_write_is_an_error_naming_the_field() {
        let mut event = Event::new_alarm("D1", "VideoMotion", "start");
        let map: std::collections::HashMap<(u8, u8), u8> = [((1, 2), 3)].into();
        let error = event.set_field("pairs", map).err().map(String::from);
        assert!(error.is_some_and(|e| e.contains("field `pairs`")));
        assert!(event.fields().is_empty());
    }

    #[test]
    fn kind_names_match_the_pipeline_on_names() {
        assert_eq!(Event::new_alarm("D", "C", "start").kind_name(), "alarm");
        assert_eq!(
            Event::new_online_changed("D", true).kind_name(),
            "online_changed"
        );
        assert_eq!(Event::new_registered("D", "p").kind_name(), "registered");
    }

    #[test]
    fn remove_field_reports_whether_it_was_there() -> Result<(), FieldError> {
        let mut event = Event::new_alarm("D1", "VideoMotion", "start");
        event.set_field("a", 1)?;
        assert!(event.remove_field("a"));
        assert!(!event.remove_field("a"));
        Ok(())
    }
}
