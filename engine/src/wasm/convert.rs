//! Events between the engine's types and the WIT records plugins see.

use std::sync::Arc;

use serde_json::{Map, Value};

use super::bindings::types as wit;
use crate::event::{DeviceState, Event, EventKind, OnlineReason, RegistrationKind, Reported};

/// Text the records of a call need that their events do not hold as text: the JSON of each
/// alarm's data or config table, written one after the other into one buffer (one allocation
/// for a whole batch). The records borrow everything else from the events themselves, so
/// nothing is copied twice on its way into the guest.
#[derive(Debug, Default)]
pub struct Texts {
    /// The texts, one after the other (serde_json writes UTF-8 only).
    json: Vec<u8>,
    /// Where each event's text ends in `json`.
    ends: Vec<usize>,
}

impl Texts {
    /// Room for about `events` events.
    pub fn with_capacity(events: usize) -> Self {
        Self {
            json: Vec::with_capacity(events * 64),
            ends: Vec::with_capacity(events),
        }
    }

    /// The texts of `event` alone.
    pub fn of(event: &Event) -> Self {
        let mut texts = Self::with_capacity(1);
        texts.push(event);
        texts
    }

    /// The texts of `events`, in order.
    pub fn all<'a>(events: impl ExactSizeIterator<Item = &'a Event>) -> Self {
        let mut texts = Self::with_capacity(events.len());
        for event in events {
            texts.push(event);
        }
        texts
    }

    /// Appends the texts of the next event.
    pub fn push(&mut self, event: &Event) {
        write_json(&event.kind, &mut self.json);
        self.ends.push(self.json.len());
    }

    /// The text of event `index` (in the order pushed).
    pub fn get(&self, index: usize) -> &str {
        let end = self.ends.get(index).copied().unwrap_or(0);
        let start = match index {
            0 => 0,
            _ => self.ends.get(index - 1).copied().unwrap_or(end),
        };
        std::str::from_utf8(self.json.get(start..end).unwrap_or_default()).unwrap_or("")
    }
}

/// Appends to `out` the JSON text the record of `kind` carries: an alarm's `Data` (`{}` when
/// empty) or a config table; nothing for the other kinds.
pub(crate) fn write_json(kind: &EventKind, out: &mut Vec<u8>) {
    let mark = out.len();
    let written = match kind {
        EventKind::Alarm { data, .. } if data.is_empty() => {
            out.extend_from_slice(b"{}");
            Ok(())
        }
        EventKind::Alarm { data, .. } => serde_json::to_writer(&mut *out, data),
        EventKind::ConfigApplied { table, .. } => serde_json::to_writer(&mut *out, table),
        _ => Ok(()),
    };
    if written.is_err() {
        // Maps of JSON values always serialise; this keeps the record valid regardless.
        out.truncate(mark);
        out.extend_from_slice(b"{}");
    }
}

/// Whether the plugins' world has `kind`: [`to_wit`] gives a record exactly for these.
pub fn in_world(kind: &EventKind) -> bool {
    !matches!(
        kind,
        EventKind::Security { .. } | EventKind::Announced { .. }
    )
}

/// The WIT record of `event`, borrowing from it and `json`, its text in [`Texts`].
///
/// `None` for a kind the world does not have (`security` and `announced` events are newer than
/// `homeport:plugin@0.1.0`): a plugin never sees those.
pub fn to_wit<'a>(event: &'a Event, json: &'a str) -> Option<wit::EventParam<'a>> {
    Some(wit::EventParam {
        at_ms: event.at_ms,
        device: &event.device,
        kind: kind_to_wit(&event.kind, json)?,
    })
}

/// A flow's fields as the plugin reads them (`current.fields`): values as JSON text.
pub fn fields_to_wit(fields: &Map<String, Value>) -> Vec<wit::Field> {
    fields
        .iter()
        .map(|(name, value)| wit::Field {
            name: name.clone(),
            value: value.to_string(),
        })
        .collect()
}

fn kind_to_wit<'a>(kind: &'a EventKind, json: &'a str) -> Option<wit::EventKindParam<'a>> {
    Some(match kind {
        EventKind::Registered {
            peer,
            registration,
            token,
        } => wit::EventKindParam::Registered(wit::RegisteredParam {
            peer,
            registration: registration_to_wit(*registration),
            token: token.as_deref(),
        }),
        EventKind::OnlineChanged {
            online,
            state,
            reason,
            detail,
            since_ms,
            reported: _,
        } => wit::EventKindParam::OnlineChanged(wit::OnlineChangedParam {
            online: *online,
            state: state_to_wit(*state),
            reason: reason_to_wit(*reason),
            detail: detail.as_deref(),
            since_ms: *since_ms,
        }),
        EventKind::Alarm {
            channel,
            code,
            action,
            device_time,
            device_utc,
            ..
        } => wit::EventKindParam::Alarm(wit::AlarmParam {
            channel: *channel,
            code,
            action,
            device_time: device_time.as_deref(),
            device_utc: *device_utc,
            data: json,
        }),
        EventKind::ConfigApplied {
            name,
            changed,
            dry_run,
            error,
            ..
        } => wit::EventKindParam::ConfigApplied(wit::ConfigAppliedParam {
            name,
            changed: *changed,
            dry_run: *dry_run,
            table: json,
            error: error.as_deref(),
        }),
        EventKind::SyncRequest {
            session,
            account,
            peer,
            data,
            command,
            ..
        } => wit::EventKindParam::SyncRequest(wit::SyncRequestParam {
            session: *session,
            account: account.as_deref(),
            peer,
            data: *data,
            command,
        }),
        EventKind::Security { .. } | EventKind::Announced { .. } => return None,
    })
}

pub(crate) fn registration_to_wit(registration: RegistrationKind) -> wit::RegistrationKind {
    match registration {
        RegistrationKind::Serial => wit::RegistrationKind::Serial,
        RegistrationKind::SerialToken => wit::RegistrationKind::SerialToken,
        RegistrationKind::IpOnly => wit::RegistrationKind::IpOnly,
    }
}

pub(crate) fn state_to_wit(state: DeviceState) -> wit::DeviceState {
    match state {
        DeviceState::Pending => wit::DeviceState::Pending,
        DeviceState::LoggingIn => wit::DeviceState::LoggingIn,
        DeviceState::Online => wit::DeviceState::Online,
        DeviceState::Offline => wit::DeviceState::Offline,
        DeviceState::LoginFailed => wit::DeviceState::LoginFailed,
    }
}

fn state_from_wit(state: wit::DeviceState) -> DeviceState {
    match state {
        wit::DeviceState::Pending => DeviceState::Pending,
        wit::DeviceState::LoggingIn => DeviceState::LoggingIn,
        wit::DeviceState::Online => DeviceState::Online,
        wit::DeviceState::Offline => DeviceState::Offline,
        wit::DeviceState::LoginFailed => DeviceState::LoginFailed,
    }
}

pub(crate) fn reason_to_wit(reason: OnlineReason) -> wit::OnlineReason {
    match reason {
        OnlineReason::LoginOk => wit::OnlineReason::LoginOk,
        OnlineReason::LoginFailed => wit::OnlineReason::LoginFailed,
        OnlineReason::KeepaliveLost => wit::OnlineReason::KeepaliveLost,
        OnlineReason::SocketClosed => wit::OnlineReason::SocketClosed,
        OnlineReason::Replaced => wit::OnlineReason::Replaced,
        OnlineReason::GatewayShutdown => wit::OnlineReason::GatewayShutdown,
        OnlineReason::NotBackAfterRestart => wit::OnlineReason::NotBackAfterRestart,
        OnlineReason::Removed => wit::OnlineReason::Removed,
        OnlineReason::LoggedOut => wit::OnlineReason::LoggedOut,
    }
}

fn reason_from_wit(reason: wit::OnlineReason) -> OnlineReason {
    match reason {
        wit::OnlineReason::LoginOk => OnlineReason::LoginOk,
        wit::OnlineReason::LoginFailed => OnlineReason::LoginFailed,
        wit::OnlineReason::KeepaliveLost => OnlineReason::KeepaliveLost,
        wit::OnlineReason::SocketClosed => OnlineReason::SocketClosed,
        wit::OnlineReason::Replaced => OnlineReason::Replaced,
        wit::OnlineReason::GatewayShutdown => OnlineReason::GatewayShutdown,
        wit::OnlineReason::NotBackAfterRestart => OnlineReason::NotBackAfterRestart,
        wit::OnlineReason::Removed => OnlineReason::Removed,
        wit::OnlineReason::LoggedOut => OnlineReason::LoggedOut,
    }
}

fn json_of(what: &str, text: &str) -> Result<Value, String> {
    serde_json::from_str(text).map_err(|e| format!("{what} is not JSON ({e}): {text:.80}"))
}

/// The engine's event kind for a plugin's record. `original` is the event being processed:
/// a sync request keeps its parsed command when the plugin hands back the same command.
pub fn kind_from_wit(
    kind: wit::EventKindResult,
    original: &EventKind,
) -> Result<EventKind, String> {
    Ok(match kind {
        wit::EventKindResult::Registered(r) => EventKind::Registered {
            peer: r.peer,
            registration: match r.registration {
                wit::RegistrationKind::Serial => RegistrationKind::Serial,
                wit::RegistrationKind::SerialToken => RegistrationKind::SerialToken,
                wit::RegistrationKind::IpOnly => RegistrationKind::IpOnly,
            },
            token: r.token,
        },
        wit::EventKindResult::OnlineChanged(o) => {
            // What the plugin's world cannot carry stays as the device reported it, unless
            // the plugin turned the change around.
            let reported = match original {
                EventKind::OnlineChanged {
                    online, reported, ..
                } if *online == o.online => reported.clone(),
                _ => Reported::default(),
            };
            EventKind::OnlineChanged {
                online: o.online,
                state: state_from_wit(o.state),
                reason: reason_from_wit(o.reason),
                detail: o.detail,
                since_ms: o.since_ms,
                reported,
            }
        }
        wit::EventKindResult::Alarm(a) => EventKind::Alarm {
            channel: a.channel,
            code: a.code,
            action: a.action,
            device_time: a.device_time,
            device_utc: a.device_utc,
            data: match json_of("alarm data", &a.data)? {
                Value::Object(map) => map,
                Value::Null => Map::new(),
                _ => return Err("alarm data must be a JSON object".to_owned()),
            },
        },
        wit::EventKindResult::ConfigApplied(c) => EventKind::ConfigApplied {
            name: c.name,
            changed: c.changed,
            dry_run: c.dry_run,
            table: json_of("config table", &c.table)?,
            error: c.error,
        },
        wit::EventKindResult::SyncRequest(s) => {
            let message = match original {
                EventKind::SyncRequest {
                    command, message, ..
                } if *command == s.command => message.clone(),
                _ => None,
            };
            EventKind::SyncRequest {
                session: s.session,
                account: s.account,
                peer: s.peer,
                data: s.data,
                command: s.command,
                message,
            }
        }
    })
}

/// Fields a plugin handed back, as the flow keeps them.
pub fn fields_from_wit(fields: Vec<wit::Field>) -> Result<Map<String, Value>, String> {
    fields
        .into_iter()
        .map(|field| {
            let value = json_of(&format!("field {:?}", field.name), &field.value)?;
            Ok((field.name, value))
        })
        .collect()
}

/// The replacement of `original` a plugin asked for: same id, time and device.
pub fn replacement(original: &Event, kind: EventKind) -> Arc<Event> {
    Arc::new(Event {
        id: original.id,
        at_ms: original.at_ms,
        device: original.device.clone(),
        labels: original.labels.clone(),
        kind,
        hops: original.hops,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What a plugin would hand back for `param`: the same record, owned.
    fn echo(param: &wit::EventKindParam<'_>) -> wit::EventKindResult {
        match param {
            wit::EventKindParam::Registered(r) => {
                wit::EventKindResult::Registered(wit::RegisteredResult {
                    peer: r.peer.to_owned(),
                    registration: r.registration,
                    token: r.token.map(str::to_owned),
                })
            }
            wit::EventKindParam::OnlineChanged(o) => {
                wit::EventKindResult::OnlineChanged(wit::OnlineChangedResult {
                    online: o.online,
                    state: o.state,
                    reason: o.reason,
                    detail: o.detail.map(str::to_owned),
                    since_ms: o.since_ms,
                })
            }
            wit::EventKindParam::Alarm(a) => wit::EventKindResult::Alarm(wit::AlarmResult {
                channel: a.channel,
                code: a.code.to_owned(),
                action: a.action.to_owned(),
                device_time: a.device_time.map(str::to_owned),
                device_utc: a.device_utc,
                data: a.data.to_owned(),
            }),
            wit::EventKindParam::ConfigApplied(c) => {
                wit::EventKindResult::ConfigApplied(wit::ConfigAppliedResult {
                    name: c.name.to_owned(),
                    changed: c.changed,
                    dry_run: c.dry_run,
                    table: c.table.to_owned(),
                    error: c.error.map(str::to_owned),
                })
            }
            wit::EventKindParam::SyncRequest(s) => {
                wit::EventKindResult::SyncRequest(wit::SyncRequestResult {
                    session: s.session,
                    account: s.account.map(str::to_owned),
                    peer: s.peer.to_owned(),
                    data: s.data,
                    command: s.command.to_owned(),
                })
            }
        }
    }

    #[test]
    fn every_kind_survives_the_round_trip() {
        let mut data = Map::new();
        data.insert("Name".to_owned(), Value::from("zone 1"));
        let kinds = [
            EventKind::Registered {
                peer: "127.0.0.1:5000".to_owned(),
                registration: RegistrationKind::SerialToken,
                token: Some("t".to_owned()),
            },
            EventKind::OnlineChanged {
                online: false,
                state: DeviceState::LoginFailed,
                reason: OnlineReason::NotBackAfterRestart,
                detail: Some("gone".to_owned()),
                since_ms: Some(5),
                // Not in the plugin's world: kept from the original.
                reported: Reported {
                    channels: Some(4),
                    serial: Some("S1".to_owned()),
                    model: Some("IPC-HDW".to_owned()),
                    firmware: Some("2.800.0000004.0.R".to_owned()),
                },
            },
            EventKind::Alarm {
                channel: -1,
                code: "VideoMotion".to_owned(),
                action: "start".to_owned(),
                device_time: Some("2026-11-21 10:00:00".to_owned()),
                device_utc: Some(7),
                data,
            },
            EventKind::ConfigApplied {
                name: "DVRIP".to_owned(),
                changed: true,
                dry_run: false,
                table: serde_json::json!({"a": [1, 2]}),
                error: None,
            },
            EventKind::SyncRequest {
                session: 9,
                account: Some("ann".to_owned()),
                peer: "127.0.0.1:1".to_owned(),
                data: true,
                command: "Login".to_owned(),
                message: None,
            },
        ];
        for kind in kinds {
            let event = Event::new("cam1", kind.clone());
            let texts = Texts::of(&event);
            assert!(in_world(&event.kind));
            let record = to_wit(&event, texts.get(0)).expect("a kind of the world");
            assert_eq!(record.device, "cam1");
            assert_eq!(record.at_ms, event.at_ms);
            let back = kind_from_wit(echo(&record.kind), &event.kind).expect("converts");
            assert_eq!(back, kind);
        }
    }

    #[test]
    fn security_events_are_not_in_the_world_and_have_no_record() {
        let event = Event::new(
            "cam1",
            EventKind::Security {
                code: crate::event::SecurityCode::DuplicateId,
                peer: "127.0.0.1:1".to_owned(),
                detail: String::new(),
            },
        );
        assert!(!in_world(&event.kind));
        assert!(to_wit(&event, "").is_none());
    }

    #[test]
    fn a_batch_s_texts_are_each_event_s_own() {
        let mut data = Map::new();
        data.insert("Name".to_owned(), Value::from("zone \"1\""));
        let alarm = |data: Map<String, Value>| {
            Event::new(
                "cam1",
                EventKind::Alarm {
                    channel: 0,
                    code: "X".to_owned(),
                    action: "start".to_owned(),
                    device_time: None,
                    device_utc: None,
                    data,
                },
            )
        };
        let online = Event::new(
            "cam1",
            EventKind::OnlineChanged {
                online: true,
                state: DeviceState::Online,
                reason: OnlineReason::LoginOk,
                detail: None,
                since_ms: None,
                reported: Reported::default(),
            },
        );
        let mut texts = Texts::with_capacity(3);
        for event in [alarm(data.clone()), online, alarm(Map::new())] {
            texts.push(&event);
        }
        assert_eq!(json_of("data", texts.get(0)), Ok(Value::Object(data)));
        assert_eq!(texts.get(1), "");
        assert_eq!(texts.get(2), "{}");
        assert_eq!(texts.get(3), "", "past the end");
    }

    #[test]
    fn fields_go_out_as_json_text_and_come_back() {
        let mut fields = Map::new();
        fields.insert("site".to_owned(), Value::from("lyon"));
        fields.insert("floor".to_owned(), Value::from(2));
        let texts = fields_to_wit(&fields);
        assert!(texts.iter().any(|f| f.name == "floor" && f.value == "2"));
        assert_eq!(fields_from_wit(texts).expect("fields"), fields);
    }

    #[test]
    fn bad_json_from_a_plugin_is_an_error() {
        let alarm = wit::EventKindResult::Alarm(wit::AlarmResult {
            channel: 0,
            code: "X".to_owned(),
            action: "start".to_owned(),
            device_time: None,
            device_utc: None,
            data: "[1]".to_owned(),
        });
        let original = EventKind::Alarm {
            channel: 0,
            code: "X".to_owned(),
            action: "start".to_owned(),
            device_time: None,
            device_utc: None,
            data: Map::new(),
        };
        assert!(kind_from_wit(alarm, &original).is_err());
        let field = wit::Field {
            name: "x".to_owned(),
            value: "not json".to_owned(),
        };
        assert!(fields_from_wit(vec![field]).is_err());
    }
}
