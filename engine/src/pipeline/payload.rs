//! The standard JSON an event is published as, when a stage gives no payload template.
//!
//! Flat, stable, and the same on MQTT and NATS. Every event about a device also has
//! `device_name` (the name an operator gave it, else its ID) and `tags` (`[]` when none):
//! - alarm: `event_id`, `device_id`, `kind`, `channel`, `code`, `type` (normalised: motion,
//!   line_crossing, intrusion, tamper, video_loss, input, other), `action`, `active`,
//!   `device_time`, `device_utc`, `time`, `data`;
//! - online_changed (the device status): `event_id`, `device_id`, `kind`, `online`, `state`,
//!   `reason`, `detail`, `since`, `channels`, `serial`, `model`, `firmware` (coming online, as
//!   the device reported them), `time`;
//! - registered: `event_id`, `device_id`, `kind`, `peer`, `registration`, `time`;
//! - config_applied: `event_id`, `device_id`, `kind`, `name`, `changed`, `dry_run`, `error`,
//!   `time`;
//! - announced: `event_id`, `device_id`, `kind`, `cause`, `online`, `state`, `channels`,
//!   `serial`, `model`, `firmware`, `time`.
//!
//! `time` is the server's RFC 3339 UTC time of the event.

use serde_json::{Value, json};

use crate::event::{AlarmType, Event, EventKind, alarm_active};
use crate::time::rfc3339;

/// The event's standard JSON.
pub fn standard(event: &Event) -> Value {
    let mut value = kind_fields(event);
    if !matches!(event.kind, EventKind::SyncRequest { .. })
        && let Value::Object(object) = &mut value
    {
        object.insert(
            "device_name".to_owned(),
            json!(event.labels.display_name(&event.device)),
        );
        object.insert("tags".to_owned(), json!(event.labels.tags()));
    }
    value
}

/// The standard JSON's own fields for the event's kind.
fn kind_fields(event: &Event) -> Value {
    let time = rfc3339(event.at_ms);
    match &event.kind {
        EventKind::Alarm {
            channel,
            code,
            action,
            device_time,
            device_utc,
            data,
        } => json!({
            "event_id": event.id, "device_id": event.device, "kind": "alarm", "channel": channel, "code": code,
            "type": AlarmType::of(code).as_str(), "action": action, "active": alarm_active(action, data),
            "device_time": device_time, "device_utc": device_utc, "time": time, "data": data,
        }),
        EventKind::OnlineChanged {
            online,
            state,
            reason,
            detail,
            since_ms,
            reported,
        } => json!({
            "event_id": event.id, "device_id": event.device, "kind": "online_changed", "online": online, "state": state,
            "reason": reason, "detail": detail, "since": since_ms.map(rfc3339), "channels": reported.channels,
            "serial": reported.serial, "model": reported.model, "firmware": reported.firmware, "time": time,
        }),
        EventKind::Registered {
            peer, registration, ..
        } => json!({
            "event_id": event.id, "device_id": event.device, "kind": "registered", "peer": peer,
            "registration": registration, "time": time,
        }),
        EventKind::SyncRequest {
            session,
            account,
            peer,
            data,
            command,
            ..
        } => json!({
            "event_id": event.id, "kind": "sync_request", "session": session, "account": account,
            "peer": peer, "data": data, "command": command, "time": time,
        }),
        EventKind::ConfigApplied {
            name,
            changed,
            dry_run,
            error,
            ..
        } => json!({
            "event_id": event.id, "device_id": event.device, "kind": "config_applied", "name": name,
            "changed": changed, "dry_run": dry_run, "error": error, "time": time,
        }),
        EventKind::Announced {
            cause,
            online,
            state,
            reported,
        } => json!({
            "event_id": event.id, "device_id": event.device, "kind": "announced", "cause": cause,
            "online": online, "state": state, "channels": reported.channels, "serial": reported.serial,
            "model": reported.model, "firmware": reported.firmware, "time": time,
        }),
        EventKind::Security { code, peer, detail } => json!({
            "event_id": event.id, "device_id": event.device, "kind": "security", "code": code,
            "peer": peer, "detail": detail, "time": time,
        }),
    }
}

/// An alarm's standard JSON, borrowed from the event: no intermediate value tree, since
/// alarms are the hot path.
#[derive(serde::Serialize)]
struct AlarmJson<'a> {
    event_id: &'a uuid::Uuid,
    device_id: &'a str,
    device_name: &'a str,
    tags: &'a [String],
    kind: &'static str,
    channel: i64,
    code: &'a str,
    #[serde(rename = "type")]
    alarm_type: &'static str,
    action: &'a str,
    active: bool,
    device_time: Option<&'a str>,
    device_utc: Option<i64>,
    time: String,
    data: &'a serde_json::Map<String, Value>,
}

/// The event's standard JSON, as bytes.
pub fn standard_bytes(event: &Event) -> Result<Vec<u8>, serde_json::Error> {
    match &event.kind {
        EventKind::Alarm {
            channel,
            code,
            action,
            device_time,
            device_utc,
            data,
        } => serde_json::to_vec(&AlarmJson {
            event_id: &event.id,
            device_id: &event.device,
            device_name: event.labels.display_name(&event.device),
            tags: event.labels.tags(),
            kind: "alarm",
            channel: *channel,
            code,
            alarm_type: AlarmType::of(code).as_str(),
            action,
            active: alarm_active(action, data),
            device_time: device_time.as_deref(),
            device_utc: *device_utc,
            time: rfc3339(event.at_ms),
            data,
        }),
        _ => serde_json::to_vec(&standard(event)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alarm_bytes_hold_the_same_fields_as_the_standard_value() {
        let labels = crate::device::Labels::new(Some("Gate".into()), vec!["yard".into()]);
        let event = Event::labelled(
            "cam1",
            crate::device::EventLabels::new(labels.expect("valid")),
            EventKind::Alarm {
                channel: 2,
                code: "VideoMotion".to_owned(),
                action: "start".to_owned(),
                device_time: Some("2026-11-21 08:00:00".to_owned()),
                device_utc: Some(1),
                data: serde_json::json!({"Id": [2]})
                    .as_object()
                    .cloned()
                    .unwrap_or_default(),
            },
        );
        let bytes = standard_bytes(&event).expect("serialises");
        let parsed: Value = serde_json::from_slice(&bytes).expect("JSON");
        assert_eq!(parsed, standard(&event));
        assert_eq!(
            (parsed["device_name"].as_str(), &parsed["tags"]),
            (Some("Gate"), &json!(["yard"]))
        );
        let bare = standard(&Event::new("cam2", event.kind.clone()));
        assert_eq!(
            (bare["device_name"].as_str(), &bare["tags"]),
            (Some("cam2"), &json!([]))
        );
    }
}
