//! The admin API's vocabulary: every JSON body and query string the server (`admin`) and its
//! client (`client`) exchange, each defined once so that the two cannot drift apart.
//!
//! Devices as listed ([`DeviceView`]), dead letters ([`DeadLetter`]) and import reports
//! ([`ImportReport`]) are built by the registry and the store and sent as they are; they are
//! re-exported here so that this module is the whole of the API's vocabulary.
//!
//! Passwords cross the wire only in requests ([`NewDevice`], [`DeviceChange`], [`NewAccount`],
//! [`PasswordChange`]); [`Secret`] itself does not serialize, so these fields name the one
//! serializer that reveals it.

use serde::{Deserialize, Serialize, Serializer};
use serde_json::Value;

use crate::device::LoginProtocol;
use crate::secret::Secret;

pub use crate::pipeline::counters::{PipelineStats, StageStats};
pub use crate::registry::{DeviceView, IdentityView};
pub use crate::store::{DeadLetter, ImportReport};

/// The body of every failed request: `{"error": message}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// What went wrong, for the operator.
    pub error: String,
}

/// `POST /api/devices`, and each entry of a JSON import: a device and its credentials.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewDevice {
    /// The ID the device announces.
    pub id: String,
    /// Login user.
    pub username: String,
    /// Login password.
    #[serde(serialize_with = "expose")]
    pub password: Secret,
    /// Which login to use (`auto` when absent).
    #[serde(default)]
    pub login_protocol: LoginProtocol,
    /// A name for people (an import keeps an existing device's name when absent; `""` removes
    /// it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Tags (an import keeps an existing device's tags when absent; `[]` removes them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<String>>,
    /// Also accept the connection the device is pending on now, if any (the operator vouches
    /// for the address the device list shows).
    #[serde(default)]
    pub accept: bool,
}

/// `PUT /api/devices/{id}`: a change to a device's credentials or labels; absent fields stay as
/// they are.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceChange {
    /// New login user.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// New login password.
    #[serde(
        serialize_with = "expose_option",
        skip_serializing_if = "Option::is_none"
    )]
    pub password: Option<Secret>,
    /// New login protocol.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub login_protocol: Option<LoginProtocol>,
    /// New name; `""` removes it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// New tags, all of them; `[]` removes them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<String>>,
}

impl DeviceChange {
    /// Whether it names nothing to change (the server refuses that).
    pub fn is_empty(&self) -> bool {
        self.username.is_none()
            && self.password.is_none()
            && self.login_protocol.is_none()
            && self.name.is_none()
            && self.tags.is_none()
    }
}

/// What `POST /api/devices/announce` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AnnounceReport {
    /// Devices announced (every one with credentials).
    pub announced: usize,
}

/// The file format of an import (its content type) or an export (`?format=`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// A JSON array of `{"id","username","password","login_protocol"}`.
    #[default]
    Json,
    /// CSV with a header row `id,username,password,login_protocol`.
    Csv,
}

impl Format {
    /// The name in a query string (`json`, `csv`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Json => "json",
            Self::Csv => "csv",
        }
    }

    /// The media type an import of this format is sent as.
    pub fn media_type(self) -> &'static str {
        match self {
            Self::Json => "application/json",
            Self::Csv => "text/csv",
        }
    }
}

/// `GET /api/devices/export?format=json|csv&secrets=true|false`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExportQuery {
    /// `json` (default) or `csv`.
    #[serde(default)]
    pub format: Format,
    /// Include passwords.
    #[serde(default)]
    pub secrets: bool,
}

/// `GET /api/devices/{id}/snapshot?channel=N`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SnapshotQuery {
    /// The video channel, 0-based.
    #[serde(default)]
    pub channel: u32,
}

/// `POST /api/devices/{id}/rpc`: any JSON-RPC call; the answer is the device's reply as it is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RpcCall {
    /// The method, e.g. `magicBox.getDeviceType`.
    pub method: String,
    /// Its params (`null` when absent).
    #[serde(default)]
    pub params: Value,
}

/// `POST /api/devices/{id}/trace`: start or stop a device's transcript.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TraceChange {
    /// Write it from now on, or stop.
    pub enabled: bool,
}

/// The answer to a [`TraceChange`]: whether the device is traced, and where its transcript is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TraceState {
    /// Device ID.
    pub device: String,
    /// Being written now.
    pub enabled: bool,
    /// The transcript's file on the gateway.
    pub path: String,
}

/// `GET /api/listeners`: every listener.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Listeners {
    /// Where cameras register.
    pub register: ListenerState,
}

/// One listener's state; also the answer to stopping or starting it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListenerState {
    /// Accepting connections now.
    pub listening: bool,
    /// The bound address while listening.
    pub addr: Option<String>,
}

/// `GET /api/pipelines` and `POST /api/pipelines/reload`: the running pipelines.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pipelines {
    /// Their names, in order.
    pub pipelines: Vec<String>,
}

/// `GET /api/gateway`: what runs, for the console's gateway page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GatewayInfo {
    /// homeport's version.
    pub version: String,
    /// Seconds since the node started.
    pub uptime_secs: u64,
    /// The register listener.
    pub register: ListenerState,
    /// The camera-sync server's address, when it runs.
    pub sync: Option<String>,
    /// The MQTT connection.
    pub mqtt: SinkLink,
    /// The NATS connection.
    pub nats: SinkLink,
}

/// A sink connection's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SinkLink {
    /// Whether a broker or server is configured.
    pub configured: bool,
    /// Whether it is connected now.
    pub connected: bool,
}

/// `?pipeline=NAME&limit=N` of the dead-letter list and of replaying them all.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DlqQuery {
    /// Only this pipeline's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pipeline: Option<String>,
    /// At most this many (the server caps it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<usize>,
}

/// What a replay of dead letters did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Replayed {
    /// Dead letters sent back into their pipelines (and removed).
    pub replayed: Vec<i64>,
    /// Those that could not be, with why (kept).
    pub failed: Vec<(i64, String)>,
}

/// `GET /api/events?device=ID&kind=a,b`: which events a stream carries.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventQuery {
    /// Only this device's events.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub device: Option<String>,
    /// Only these kinds, comma-separated.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
}

/// The data of an `event: lagged` message: the stream fell behind the bus.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lagged {
    /// Events the subscriber did not get.
    pub missed: u64,
}

/// `POST /api/accounts`: a camera-sync account as an operator creates it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewAccount {
    /// The name the app logs in with.
    pub username: String,
    /// Its password (stored only as an argon2id hash).
    #[serde(serialize_with = "expose")]
    pub password: Secret,
}

/// `PUT /api/accounts/{name}/password`: a new password for an account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PasswordChange {
    /// The new password.
    #[serde(serialize_with = "expose")]
    pub password: Secret,
}

/// A camera-sync account as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    /// The account name.
    pub name: String,
    /// Cameras bound to it.
    pub cameras: usize,
    /// When it was created (RFC 3339).
    pub created: Option<String>,
    /// The last successful login (RFC 3339).
    pub last_login: Option<String>,
    /// The peer IP of that login.
    pub last_login_ip: Option<String>,
    /// Locked after wrong passwords until then (RFC 3339); `null` when not locked.
    pub locked_until: Option<String>,
}

/// A camera bound to an account (its password is never sent).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountCamera {
    /// The camera's device ID.
    pub camera_id: String,
    /// Whether the uploaded password was confirmed by a login to the camera.
    pub verified: bool,
    /// Registered and logged in now.
    pub online: bool,
}

fn expose<S: Serializer>(secret: &Secret, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(secret.expose())
}

fn expose_option<S: Serializer>(secret: &Option<Secret>, serializer: S) -> Result<S::Ok, S::Error> {
    match secret {
        Some(secret) => serializer.serialize_some(secret.expose()),
        None => serializer.serialize_none(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn requests_carry_the_passwords_a_secret_hides() {
        let device = NewDevice {
            id: "cam1".to_owned(),
            username: "admin".to_owned(),
            password: Secret::new("pw"),
            login_protocol: LoginProtocol::Dvrip,
            name: None,
            tags: None,
            accept: false,
        };
        let sent = serde_json::to_value(&device).expect("serializes");
        assert_eq!(
            sent,
            json!({"id": "cam1", "username": "admin", "password": "pw",
                   "login_protocol": "dvrip", "accept": false})
        );
        assert_eq!(
            serde_json::from_value::<NewDevice>(sent).expect("round trip"),
            device
        );
        let account = NewAccount {
            username: "alice".to_owned(),
            password: Secret::new("s3cret"),
        };
        assert_eq!(
            serde_json::to_value(&account).expect("serializes"),
            json!({"username": "alice", "password": "s3cret"})
        );
    }

    #[test]
    fn device_changes_send_only_the_fields_given() {
        let change = DeviceChange {
            password: Some(Secret::new("new")),
            ..DeviceChange::default()
        };
        assert!(!change.is_empty() && DeviceChange::default().is_empty());
        let sent = serde_json::to_value(&change).expect("serializes");
        assert_eq!(sent, json!({"password": "new"}));
        assert_eq!(
            serde_json::from_value::<DeviceChange>(sent).expect("round trip"),
            change
        );
    }

    #[test]
    fn new_devices_default_to_auto_and_refuse_unknown_fields() {
        let device: NewDevice =
            serde_json::from_value(json!({"id": "a", "username": "u", "password": "p"}))
                .expect("minimal");
        assert_eq!(device.login_protocol, LoginProtocol::Auto);
        assert!(!device.accept);
        let error = serde_json::from_value::<NewDevice>(
            json!({"id": "a", "username": "u", "password": "p", "x": 1}),
        )
        .expect_err("unknown field");
        assert!(error.to_string().contains("unknown field `x`"), "{error}");
    }

    #[test]
    fn formats_are_lowercase_names() {
        for format in [Format::Json, Format::Csv] {
            assert_eq!(
                serde_json::to_value(format).expect("serializes"),
                json!(format.as_str())
            );
        }
        assert_eq!(Format::default(), Format::Json);
    }
}
