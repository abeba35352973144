//! Events: `eventManager.attach`, and the `client.notifyEventStream` the device pushes.
//!
//! Subscribe with `{"codes":["All"]}` (optionally on an object made by
//! `eventManager.factory.instance`, passed as `proc`); the reply carries the subscription id
//! `SID`. Notifications reuse the attach request's id and carry `params.SID` and an
//! `eventList` of `{Code, Action, Index, Data{LocaleTime, UTC, …}}`.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Params of `eventManager.attach`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttachParams {
    /// Event codes to receive; `["All"]` for every code.
    pub codes: Vec<String>,
    /// The event-manager object, in the instance pattern.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proc: Option<u32>,
}

impl AttachParams {
    /// Whether `code` is among the subscribed codes.
    pub fn wants(&self, code: &str) -> bool {
        self.codes.iter().any(|c| c == "All" || c == code)
    }
}

/// Params of the attach reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttachReplyParams {
    /// Subscription id, repeated in every notification.
    #[serde(rename = "SID")]
    pub sid: u32,
}

/// What happened to the condition an event reports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum EventAction {
    /// The condition began.
    Start,
    /// The condition ended.
    Stop,
    /// A one-off event.
    Pulse,
    /// A state report (e.g. `VideoMotionInfo`).
    State,
    /// Any other action a firmware sends.
    #[serde(untagged)]
    Other(String),
}

/// One event in a notification.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventInfo {
    /// Vendor code, e.g. `VideoMotion`.
    #[serde(rename = "Code")]
    pub code: String,
    /// Start, stop, pulse or state.
    #[serde(rename = "Action")]
    pub action: EventAction,
    /// Channel or event index, 0-based (-1 is seen on some codes).
    #[serde(rename = "Index", default)]
    pub index: i64,
    /// Code-specific data; always has `LocaleTime` and `UTC` on devices.
    #[serde(rename = "Data", default)]
    pub data: Map<String, Value>,
    /// Extra parameters some codes carry.
    #[serde(rename = "Param", default, skip_serializing_if = "Option::is_none")]
    pub param: Option<Value>,
}

impl EventInfo {
    /// The device's UTC timestamp (seconds), if present.
    pub fn utc(&self) -> Option<i64> {
        self.data.get("UTC").and_then(Value::as_i64)
    }

    /// The device's local time text (`yyyy-MM-dd HH:mm:ss`), if present.
    pub fn locale_time(&self) -> Option<&str> {
        self.data.get("LocaleTime").and_then(Value::as_str)
    }
}

/// Params of `client.notifyEventStream`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NotifyEventStream {
    /// The subscription id from the attach reply.
    #[serde(rename = "SID", default)]
    pub sid: u32,
    /// One or more events.
    #[serde(rename = "eventList")]
    pub event_list: Vec<EventInfo>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn public_notification_example_parses() {
        let params: NotifyEventStream = serde_json::from_value(json!({"SID":513,"eventList":[
            {"Code":"VideoMotion","Action":"Start","Index":0,
             "Data":{"LocaleTime":"2020-03-02 20:44:28","UTC":1583174668},"Param":[]}]}))
        .expect("parses");
        let event = &params.event_list[0];
        assert_eq!(event.action, EventAction::Start);
        assert_eq!(event.utc(), Some(1_583_174_668));
        assert_eq!(event.locale_time(), Some("2020-03-02 20:44:28"));
    }

    #[test]
    fn unknown_actions_and_missing_fields_are_tolerated() {
        let event: EventInfo =
            serde_json::from_value(json!({"Code":"BackKeyLight","Action":"Blink","Index":-1}))
                .expect("parses");
        assert_eq!(event.action, EventAction::Other("Blink".to_owned()));
        assert_eq!(event.utc(), None);
        assert_eq!(
            serde_json::to_value(EventAction::Pulse).expect("serialises"),
            json!("Pulse")
        );
    }

    #[test]
    fn attach_all_wants_every_code() {
        let all = AttachParams {
            codes: vec!["All".to_owned()],
            proc: None,
        };
        assert!(all.wants("VideoMotion"));
        let some = AttachParams {
            codes: vec!["VideoLoss".to_owned()],
            proc: Some(3),
        };
        assert!(!some.wants("VideoMotion"));
    }
}
