//! The typed events the engine emits: a device registered, went online or offline, raised an
//! alarm. Every event has a unique, time-ordered id, a server timestamp and its device.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::device::EventLabels;

pub use crate::time::now_ms;

/// How a device announced itself (the NetSDK's listen callback types).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RegistrationKind {
    /// The device ID alone (callback type 1).
    Serial,
    /// The device ID and a token (callback type 2).
    SerialToken,
    /// The device only reports its address (callback type 3).
    IpOnly,
}

/// Where a device stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Hash)]
#[serde(rename_all = "snake_case")]
pub enum DeviceState {
    /// Connected and announced, but no credentials are known yet.
    Pending,
    /// Logging in over its connection.
    LoggingIn,
    /// Logged in and kept alive.
    Online,
    /// Not connected.
    Offline,
    /// Connected, but the device refused the stored credentials.
    LoginFailed,
}

impl DeviceState {
    /// Every state, in lifecycle order.
    pub const ALL: [Self; 5] = [
        Self::Pending,
        Self::LoggingIn,
        Self::Online,
        Self::Offline,
        Self::LoginFailed,
    ];

    /// The state's name in the API and the store.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::LoggingIn => "logging_in",
            Self::Online => "online",
            Self::Offline => "offline",
            Self::LoginFailed => "login_failed",
        }
    }

    /// Reads a stored state name.
    pub fn parse(name: &str) -> Option<Self> {
        [
            Self::Pending,
            Self::LoggingIn,
            Self::Online,
            Self::Offline,
            Self::LoginFailed,
        ]
        .into_iter()
        .find(|s| s.as_str() == name)
    }
}

/// Why a device's online state changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnlineReason {
    /// The login succeeded.
    LoginOk,
    /// The device refused the login.
    LoginFailed,
    /// Keepalives went unanswered.
    KeepaliveLost,
    /// The connection closed or failed.
    SocketClosed,
    /// A newer registration with the same ID took over.
    Replaced,
    /// The gateway is stopping.
    GatewayShutdown,
    /// The device was online before a gateway restart and did not come back in time.
    NotBackAfterRestart,
    /// An operator removed the device.
    Removed,
    /// The device logged out or expired the session.
    LoggedOut,
}

impl OnlineReason {
    /// The name events and logs carry (`socket_closed`, …), as serialised.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::LoginOk => "login_ok",
            Self::LoginFailed => "login_failed",
            Self::KeepaliveLost => "keepalive_lost",
            Self::SocketClosed => "socket_closed",
            Self::Replaced => "replaced",
            Self::GatewayShutdown => "gateway_shutdown",
            Self::NotBackAfterRestart => "not_back_after_restart",
            Self::Removed => "removed",
            Self::LoggedOut => "logged_out",
        }
    }
}

/// Why the gateway announces a device ([`EventKind::Announced`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AnnounceCause {
    /// The gateway started: every stored device, once the pipelines run.
    Started,
    /// An operator added the device (or imported it).
    Added,
    /// Someone asked for every device again: Home Assistant came online (its birth message),
    /// or an operator (`POST /api/devices/announce`).
    Requested,
}

impl AnnounceCause {
    /// The name events carry (`started`, `added`, `requested`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Started => "started",
            Self::Added => "added",
            Self::Requested => "requested",
        }
    }
}

/// What a device reported about itself at login, as far as known: carried by `online_changed`
/// (coming online) and `announced` events, flat in their JSON (`channels`, `serial`, `model`,
/// `firmware`, each left out when unknown).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reported {
    /// Video channels it reported in its DVRIP login result.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channels: Option<u8>,
    /// The hardware serial number it proved at its first login.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub serial: Option<String>,
    /// The device type it reported: its model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// The firmware version it reported after its last login.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub firmware: Option<String>,
}

/// What happened.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum EventKind {
    /// A device announced itself on the register port.
    Registered {
        /// The device's address as seen by the gateway.
        peer: String,
        /// How it announced itself.
        registration: RegistrationKind,
        /// The token, for serial+token registrations.
        #[serde(skip_serializing_if = "Option::is_none")]
        token: Option<String>,
    },
    /// A device went online or offline.
    OnlineChanged {
        /// Online now?
        online: bool,
        /// The device's state now.
        state: DeviceState,
        /// Why.
        reason: OnlineReason,
        /// Human detail (e.g. the device's refusal text).
        #[serde(skip_serializing_if = "Option::is_none")]
        detail: Option<String>,
        /// Unix milliseconds of the previous change, if known.
        #[serde(skip_serializing_if = "Option::is_none")]
        since_ms: Option<i64>,
        /// Coming online: what the device reported about itself, as far as known.
        #[serde(flatten)]
        reported: Reported,
    },
    /// An `apply_config` stage wrote (or, in a dry run, would have written) a config table.
    ConfigApplied {
        /// The config table's name.
        name: String,
        /// Whether the table differed from the device's before the merge.
        changed: bool,
        /// Whether this was a dry run (nothing written).
        dry_run: bool,
        /// The table written (or that would be written).
        table: Value,
        /// Why it failed, if it did.
        #[serde(skip_serializing_if = "Option::is_none")]
        error: Option<String>,
    },
    /// A command from a camera-sync client app, to be answered by a pipeline's `camera_sync`
    /// stage. `device` is `app-<session>`, so one session's commands stay in order.
    SyncRequest {
        /// The app session (connection) it came from.
        session: u64,
        /// The account the session is logged in as, if any.
        #[serde(skip_serializing_if = "Option::is_none")]
        account: Option<String>,
        /// The app's address.
        peer: String,
        /// Whether it came on a data connection.
        data: bool,
        /// The command's name, e.g. `UploadCaramer`.
        command: String,
        /// The parsed command. Not serialised: it can hold passwords, and events are visible
        /// on the admin API.
        #[serde(skip)]
        message: Option<Arc<homeport_protocol::sync::SyncMessage>>,
    },
    /// A device raised an alarm.
    Alarm {
        /// Channel (0-based; -1 for device-wide codes).
        channel: i64,
        /// Vendor code, e.g. `VideoMotion`.
        code: String,
        /// `start`, `stop`, `pulse`, `state` or the device's own word.
        action: String,
        /// The device's local time text, if sent.
        #[serde(skip_serializing_if = "Option::is_none")]
        device_time: Option<String>,
        /// The device's UTC seconds, if sent.
        #[serde(skip_serializing_if = "Option::is_none")]
        device_utc: Option<i64>,
        /// The event's raw `Data` object.
        data: Map<String, Value>,
    },
    /// The gateway announces a device it has credentials for, with what it knows of it now,
    /// whether it is online or not: so whatever lists devices (Home Assistant discovery, a
    /// retained status) has every one, including those that never logged in. Plugins built
    /// against `homeport:plugin@0.1.0` do not see these (a `wasm` stage passes them on).
    Announced {
        /// Why now.
        cause: AnnounceCause,
        /// Online now?
        online: bool,
        /// The device's state now.
        state: DeviceState,
        /// What the device reported about itself at its last login, as far as known.
        #[serde(flatten)]
        reported: Reported,
    },
    /// Someone tried to be a device it is not, and was refused. Plugins built against
    /// `homeport:plugin@0.1.0` do not see these (their world has no such kind): a `wasm`
    /// stage passes them on untouched.
    Security {
        /// What was refused.
        code: SecurityCode,
        /// The address of the connection that was refused.
        peer: String,
        /// What happened, for people.
        detail: String,
    },
}

/// What an alarm is about, whatever the vendor calls it: the vendor's `code` reduced to a
/// few kinds subscribers can act on without a table of codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlarmType {
    /// Movement in the picture (`VideoMotion`, `VideoMotionInfo`, `SmartMotionHuman`, …).
    Motion,
    /// A tripwire crossed (`CrossLineDetection`).
    LineCrossing,
    /// Someone entered, left or lingered in a region (`CrossRegionDetection`, …).
    Intrusion,
    /// The lens covered, blurred or turned away (`VideoBlind`, `VideoAbnormalDetection`, …).
    Tamper,
    /// The picture lost (`VideoLoss`).
    VideoLoss,
    /// An alarm input contact (`AlarmLocal`, `AlarmExtended`, …).
    Input,
    /// Anything else.
    Other,
}

impl AlarmType {
    /// Every type, as published.
    pub const ALL: [Self; 7] = [
        Self::Motion,
        Self::LineCrossing,
        Self::Intrusion,
        Self::Tamper,
        Self::VideoLoss,
        Self::Input,
        Self::Other,
    ];

    /// The type of the vendor's `code`.
    pub fn of(code: &str) -> Self {
        match code {
            "VideoMotion" | "VideoMotionInfo" | "SmartMotionHuman" | "SmartMotionVehicle"
            | "MotionDetect" => Self::Motion,
            "CrossLineDetection" | "CrossLine" | "Tripwire" => Self::LineCrossing,
            "CrossRegionDetection"
            | "CrossRegion"
            | "RegionDetection"
            | "LeftDetection"
            | "WanderDetection"
            | "StayDetection" => Self::Intrusion,
            "VideoBlind"
            | "VideoAbnormalDetection"
            | "SceneChange"
            | "VideoUnFocus"
            | "DefocusDetection" => Self::Tamper,
            "VideoLoss" => Self::VideoLoss,
            "AlarmLocal" | "AlarmExtended" | "AlarmInput" | "ExAlarm" => Self::Input,
            _ => Self::Other,
        }
    }

    /// The name it is published under (`line_crossing`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Motion => "motion",
            Self::LineCrossing => "line_crossing",
            Self::Intrusion => "intrusion",
            Self::Tamper => "tamper",
            Self::VideoLoss => "video_loss",
            Self::Input => "input",
            Self::Other => "other",
        }
    }
}

/// Whether an alarm's condition holds after this event: `start` yes, `stop` no; a `pulse` is
/// a moment that happened now (no `stop` follows), so yes; a `state` says so itself in
/// `data.State` (a number, 0 is no; a boolean) and otherwise counts as yes; any other word yes.
pub fn alarm_active(action: &str, data: &Map<String, Value>) -> bool {
    match action {
        "stop" => false,
        "state" => match data.get("State") {
            Some(Value::Bool(on)) => *on,
            Some(Value::Number(n)) => n.as_f64().is_some_and(|n| n != 0.0),
            _ => true,
        },
        _ => true,
    }
}

/// What a `security` event reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SecurityCode {
    /// A second connection announced the ID of an online device that still answers.
    DuplicateId,
    /// A login showed a realm, serial number or device type other than the one the device
    /// proved at its first login.
    IdentityChanged,
}

/// One event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Unique and time-ordered (UUIDv7).
    pub id: Uuid,
    /// Server time, Unix milliseconds.
    pub at_ms: i64,
    /// The device it concerns.
    pub device: String,
    /// The device's name and tags as an operator set them, when the event was made
    /// (`device_name` and `tags` in the event's JSON, left out when there are none).
    #[serde(flatten)]
    pub labels: EventLabels,
    /// What happened.
    #[serde(flatten)]
    pub kind: EventKind,
    /// How many plugin emissions or routes led to this event (0 for events from devices and
    /// the engine); bounded so plugins cannot loop events forever. Not serialised.
    #[serde(skip)]
    pub hops: u8,
}

/// The event as templates and the admin event stream show it ([`Event::view`]): its own
/// fields and, for an alarm, what follows from them — `type` ([`AlarmType`]) and `active`
/// ([`alarm_active`]). Serialised straight from the event, with no value tree in between.
#[derive(Debug, Serialize)]
pub struct EventView<'a> {
    #[serde(flatten)]
    event: &'a Event,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    alarm_type: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    active: Option<bool>,
}

impl Event {
    /// The event with what follows from it, for templates and the event stream
    /// ([`EventView`]). Stored events (dead letters) keep only their own fields.
    pub fn view(&self) -> EventView<'_> {
        let (alarm_type, active) = match &self.kind {
            EventKind::Alarm {
                code, action, data, ..
            } => (
                Some(AlarmType::of(code).as_str()),
                Some(alarm_active(action, data)),
            ),
            _ => (None, None),
        };
        EventView {
            event: self,
            alarm_type,
            active,
        }
    }

    /// [`Event::view`] as a JSON value.
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self.view()).unwrap_or_default()
    }

    /// A new event about `device`, stamped now.
    pub fn new(device: impl Into<String>, kind: EventKind) -> Arc<Self> {
        Self::labelled(device, EventLabels::default(), kind)
    }

    /// A new event about `device`, carrying its `labels`, stamped now.
    pub fn labelled(device: impl Into<String>, labels: EventLabels, kind: EventKind) -> Arc<Self> {
        Arc::new(Self {
            id: Uuid::now_v7(),
            at_ms: now_ms(),
            device: device.into(),
            labels,
            kind,
            hops: 0,
        })
    }

    /// An event as people write it (plugin trials, pipeline tests): the engine's event JSON,
    /// where `id` and `at_ms` may be left out (a new id, now), and so may what has an obvious
    /// value (an alarm's `channel` 0 and `data` {}; an online change's `state` and `reason`,
    /// from `online`; an announcement's `cause`, `requested`, and its `state`, from
    /// `online`). `fields`, if there, is taken out and returned beside the event: what `set`
    /// stages or a routing plugin would have set.
    pub fn from_input(mut value: Value) -> Result<(Self, Map<String, Value>), String> {
        let object = value
            .as_object_mut()
            .ok_or("an event is a JSON object (a mapping)")?;
        let fields = match object.remove("fields") {
            Some(Value::Object(fields)) => fields,
            Some(_) => return Err("`fields` must be an object (a mapping)".to_owned()),
            None => Map::new(),
        };
        object
            .entry("id")
            .or_insert_with(|| Value::from(Uuid::now_v7().to_string()));
        object
            .entry("at_ms")
            .or_insert_with(|| Value::from(now_ms()));
        match object.get("kind").and_then(Value::as_str) {
            Some("alarm") => {
                object.entry("channel").or_insert(Value::from(0));
                object
                    .entry("data")
                    .or_insert_with(|| Value::Object(Map::new()));
            }
            Some("announced") => {
                object
                    .entry("cause")
                    .or_insert_with(|| Value::from(AnnounceCause::Requested.as_str()));
                let online = object.get("online").and_then(Value::as_bool);
                if let Some(online) = online {
                    let state = if online {
                        DeviceState::Online
                    } else {
                        DeviceState::Offline
                    };
                    object
                        .entry("state")
                        .or_insert_with(|| Value::from(state.as_str()));
                }
            }
            Some("online_changed") => {
                let online = object.get("online").and_then(Value::as_bool);
                if let Some(online) = online {
                    let (state, reason) = if online {
                        (DeviceState::Online, OnlineReason::LoginOk)
                    } else {
                        (DeviceState::Offline, OnlineReason::SocketClosed)
                    };
                    object
                        .entry("state")
                        .or_insert_with(|| Value::from(state.as_str()));
                    object
                        .entry("reason")
                        .or_insert_with(|| Value::from(reason.as_str()));
                }
            }
            _ => {}
        }
        let event = serde_json::from_value(value).map_err(|e| e.to_string())?;
        Ok((event, fields))
    }

    /// The event's kind name: `registered`, `online_changed`, `alarm`, `config_applied`,
    /// `sync_request` or `security`.
    pub fn kind_name(&self) -> &'static str {
        match self.kind {
            EventKind::Registered { .. } => "registered",
            EventKind::OnlineChanged { .. } => "online_changed",
            EventKind::Alarm { .. } => "alarm",
            EventKind::ConfigApplied { .. } => "config_applied",
            EventKind::SyncRequest { .. } => "sync_request",
            EventKind::Security { .. } => "security",
            EventKind::Announced { .. } => "announced",
        }
    }
}

/// Every event kind name, as pipelines name them in `on:`.
pub const KINDS: [&str; 7] = [
    "registered",
    "online_changed",
    "alarm",
    "config_applied",
    "sync_request",
    "security",
    "announced",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alarms_get_a_normalised_type_and_whether_they_are_active() {
        assert_eq!(AlarmType::of("VideoMotion"), AlarmType::Motion);
        assert_eq!(AlarmType::of("CrossLineDetection"), AlarmType::LineCrossing);
        assert_eq!(AlarmType::of("CrossRegionDetection"), AlarmType::Intrusion);
        assert_eq!(AlarmType::of("VideoBlind"), AlarmType::Tamper);
        assert_eq!(AlarmType::of("VideoLoss"), AlarmType::VideoLoss);
        assert_eq!(AlarmType::of("AlarmLocal"), AlarmType::Input);
        assert_eq!(AlarmType::of("NTPAdjustTime"), AlarmType::Other);
        let none = Map::new();
        assert!(alarm_active("start", &none) && alarm_active("pulse", &none));
        assert!(!alarm_active("stop", &none));
        let off = serde_json::json!({"State": 0})
            .as_object()
            .cloned()
            .unwrap_or_default();
        assert!(!alarm_active("state", &off) && alarm_active("state", &none));
        let event = Event::new(
            "cam1",
            EventKind::Alarm {
                channel: 1,
                code: "VideoBlind".to_owned(),
                action: "stop".to_owned(),
                device_time: None,
                device_utc: None,
                data: Map::new(),
            },
        );
        let json = event.to_json();
        assert_eq!(json["type"], "tamper");
        assert_eq!(json["active"], false);
        // Read back (a dead letter, a replay), the derived fields are ignored.
        let back: Event = serde_json::from_value(json).expect("reads back");
        assert_eq!(back, *event);
    }

    #[test]
    fn reason_names_are_their_serialised_names() {
        for reason in [
            OnlineReason::LoginOk,
            OnlineReason::LoginFailed,
            OnlineReason::KeepaliveLost,
            OnlineReason::SocketClosed,
            OnlineReason::Replaced,
            OnlineReason::GatewayShutdown,
            OnlineReason::NotBackAfterRestart,
            OnlineReason::Removed,
            OnlineReason::LoggedOut,
        ] {
            assert_eq!(
                serde_json::to_value(reason).expect("serialises"),
                reason.as_str()
            );
        }
    }

    #[test]
    fn events_serialise_flat_with_their_kind() {
        let event = Event::new(
            "cam1",
            EventKind::OnlineChanged {
                online: false,
                state: DeviceState::Offline,
                reason: OnlineReason::Replaced,
                detail: None,
                since_ms: Some(5),
                reported: Reported::default(),
            },
        );
        let json = serde_json::to_value(&*event).expect("serialises");
        assert_eq!(json["device"], "cam1");
        assert_eq!(json["kind"], "online_changed");
        assert_eq!(json["reason"], "replaced");
        assert_eq!(json["state"], "offline");
        assert_eq!(json["id"].as_str().map(str::len), Some(36));
        assert!(json.get("detail").is_none());
    }

    #[test]
    fn state_names_round_trip() {
        for state in DeviceState::ALL {
            assert_eq!(DeviceState::parse(state.as_str()), Some(state));
        }
    }
}
