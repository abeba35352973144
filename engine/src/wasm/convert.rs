//! Events between the engine's types and the WIT records plugins see.

use std::sync::Arc;

use serde_json::{Map, Value};

use super::bindings::types as wit;
use crate::event::{DeviceState, Event, EventKind, OnlineReason, RegistrationKind};

/// The WIT record of `event`, with the flow's `fields`.
pub fn to_wit(event: &Event, fields: &Map<String, Value>) -> wit::Event {
    wit::Event {
        id: event.id.to_string(),
        at_ms: event.at_ms,
        device: event.device.clone(),
        kind: kind_to_wit(&event.kind),
        fields: fields
            .iter()
            .map(|(name, value)| wit::Field {
                name: name.clone(),
                value: value.to_string(),
            })
            .collect(),
    }
}

fn kind_to_wit(kind: &EventKind) -> wit::EventKind {
    match kind {
        EventKind::Registered {
            peer,
            registration,
            token,
        } => wit::EventKind::Registered(wit::Registered {
            peer: peer.clone(),
            registration: match registration {
                RegistrationKind::Serial => wit::RegistrationKind::Serial,
                RegistrationKind::SerialToken => wit::RegistrationKind::SerialToken,
                RegistrationKind::IpOnly => wit::RegistrationKind::IpOnly,
            },
            token: token.clone(),
        }),
        EventKind::OnlineChanged {
            online,
            state,
            reason,
            detail,
            since_ms,
        } => wit::EventKind::OnlineChanged(wit::OnlineChanged {
            online: *online,
            state: state_to_wit(*state),
            reason: reason_to_wit(*reason),
            detail: detail.clone(),
            since_ms: *since_ms,
        }),
        EventKind::Alarm {
            channel,
            code,
            action,
            device_time,
            device_utc,
            data,
        } => wit::EventKind::Alarm(wit::Alarm {
            channel: *channel,
            code: code.clone(),
            action: action.clone(),
            device_time: device_time.clone(),
            device_utc: *device_utc,
            data: if data.is_empty() {
                "{}".to_owned()
            } else {
                Value::Object(data.clone()).to_string()
            },
        }),
        EventKind::ConfigApplied {
            name,
            changed,
            dry_run,
            table,
            error,
        } => wit::EventKind::ConfigApplied(wit::ConfigApplied {
            name: name.clone(),
            changed: *changed,
            dry_run: *dry_run,
            table: table.to_string(),
            error: error.clone(),
        }),
        EventKind::SyncRequest {
            session,
            account,
            peer,
            data,
            command,
            ..
        } => wit::EventKind::SyncRequest(wit::SyncRequest {
            session: *session,
            account: account.clone(),
            peer: peer.clone(),
            data: *data,
            command: command.clone(),
        }),
    }
}

fn state_to_wit(state: DeviceState) -> wit::DeviceState {
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

fn reason_to_wit(reason: OnlineReason) -> wit::OnlineReason {
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
pub fn kind_from_wit(kind: wit::EventKind, original: &EventKind) -> Result<EventKind, String> {
    Ok(match kind {
        wit::EventKind::Registered(r) => EventKind::Registered {
            peer: r.peer,
            registration: match r.registration {
                wit::RegistrationKind::Serial => RegistrationKind::Serial,
                wit::RegistrationKind::SerialToken => RegistrationKind::SerialToken,
                wit::RegistrationKind::IpOnly => RegistrationKind::IpOnly,
            },
            token: r.token,
        },
        wit::EventKind::OnlineChanged(o) => EventKind::OnlineChanged {
            online: o.online,
            state: state_from_wit(o.state),
            reason: reason_from_wit(o.reason),
            detail: o.detail,
            since_ms: o.since_ms,
        },
        wit::EventKind::Alarm(a) => EventKind::Alarm {
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
        wit::EventKind::ConfigApplied(c) => EventKind::ConfigApplied {
            name: c.name,
            changed: c.changed,
            dry_run: c.dry_run,
            table: json_of("config table", &c.table)?,
            error: c.error,
        },
        wit::EventKind::SyncRequest(s) => {
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
        kind,
        hops: original.hops,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

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
            let mut fields = Map::new();
            fields.insert("site".to_owned(), Value::from("lyon"));
            let record = to_wit(&event, &fields);
            assert_eq!(record.id, event.id.to_string());
            assert_eq!(record.device, "cam1");
            let back = kind_from_wit(record.kind, &event.kind).expect("converts");
            assert_eq!(back, kind);
            assert_eq!(fields_from_wit(record.fields).expect("fields"), fields);
        }
    }

    #[test]
    fn bad_json_from_a_plugin_is_an_error() {
        let alarm = wit::EventKind::Alarm(wit::Alarm {
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
