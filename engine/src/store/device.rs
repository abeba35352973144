//! Device rows: the credentials the gateway logs in with, what an operator supplies to add a
//! device, and the record the registry loads.

use rusqlite::Row;

use super::{LoginProtocol, StoreError, validate};
use crate::device::identity::{Identity, PinnedRealm};
use crate::device::{LabelChange, Labels};
use crate::secret::{Secret, SecretKey};

/// What the gateway logs in to a device with: stored here, held by the registry, handed to
/// the device's session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    /// Login username on the device.
    pub username: String,
    /// Login password on the device; sealed at rest.
    pub password: Secret,
    /// How to log in.
    pub login_protocol: LoginProtocol,
}

impl Credentials {
    /// Credentials with `login_protocol`.
    pub fn new(
        username: impl Into<String>,
        password: impl Into<Secret>,
        login_protocol: LoginProtocol,
    ) -> Self {
        Self {
            username: username.into(),
            password: password.into(),
            login_protocol,
        }
    }
}

/// What an operator supplies to register a device (add or import): its ID, credentials and
/// labels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceCredentials {
    /// The ID the device announces when it registers.
    pub id: String,
    /// What to log in with.
    pub credentials: Credentials,
    /// Its name and tags. What this leaves out a new device does not have, and an imported
    /// device that exists keeps.
    pub labels: LabelChange,
}

impl DeviceCredentials {
    /// `id` with `credentials` and no labels.
    pub fn new(id: impl Into<String>, credentials: Credentials) -> Self {
        Self {
            id: id.into(),
            credentials,
            labels: LabelChange::default(),
        }
    }

    /// Checks the ID, username, password and label bounds.
    pub fn validate(&self) -> Result<(), StoreError> {
        validate::device_id(&self.id)?;
        validate::username(&self.id, &self.credentials.username)?;
        validate::password(&self.id, self.credentials.password.expose())?;
        validate::labels(&self.id, &self.labels)
    }
}

/// A registered device as stored: credentials plus the last known state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceRecord {
    /// The device ID.
    pub id: String,
    /// What to log in with (the password decrypted).
    pub credentials: Credentials,
    /// The address it last registered from, e.g. `203.0.113.7:50312`.
    pub last_addr: Option<String>,
    /// When it was last seen, in Unix milliseconds.
    pub last_seen_ms: Option<i64>,
    /// The last recorded state (`offline` until the engine records another).
    pub state: String,
    /// Why it is in that state, e.g. a login failure message.
    pub reason: Option<String>,
    /// The protocol an `auto` login last succeeded with (`dvrip` or `dhip`), tried first.
    pub learned_protocol: Option<LoginProtocol>,
    /// What the device proved at its first login.
    pub identity: Identity,
    /// Its name and tags.
    pub labels: Labels,
}

/// A change to a device's credentials and labels; `None` fields are left as they are.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeviceUpdate {
    /// New login username.
    pub username: Option<String>,
    /// New login password.
    pub password: Option<Secret>,
    /// New login protocol.
    pub login_protocol: Option<LoginProtocol>,
    /// New name or tags.
    pub labels: LabelChange,
}

impl DeviceUpdate {
    /// Checks the bounds of the fields being changed.
    pub fn validate(&self, id: &str) -> Result<(), StoreError> {
        if let Some(username) = &self.username {
            validate::username(id, username)?;
        }
        if let Some(password) = &self.password {
            validate::password(id, password.expose())?;
        }
        validate::labels(id, &self.labels)
    }
}

/// What an import did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ImportReport {
    /// Devices that were not registered before.
    pub added: usize,
    /// Devices whose credentials were replaced.
    pub updated: usize,
}

/// The stored form of a change of labels: `(name, tags)` for SQL that keeps a column when
/// its parameter is NULL and clears it when it is `''` (see [`LABEL_ASSIGNMENTS`]).
pub(super) fn label_params(change: &LabelChange) -> (Option<String>, Option<String>) {
    let name = change
        .name
        .as_ref()
        .map(|name| name.clone().unwrap_or_default());
    let tags = change.tags.as_ref().map(|tags| {
        if tags.is_empty() {
            String::new()
        } else {
            serde_json::to_string(tags).unwrap_or_default()
        }
    });
    (name, tags)
}

/// `SET` clauses applying [`label_params`] bound as `?6` (name) and `?7` (tags).
pub(super) const LABEL_ASSIGNMENTS: &str =
    "name = CASE WHEN ?6 IS NULL THEN name ELSE NULLIF(?6, '') END,
     tags = CASE WHEN ?7 IS NULL THEN tags ELSE NULLIF(?7, '') END";

/// The columns [`record_from_row`] expects, in order.
pub(super) const RECORD_COLUMNS: &str = "id, username, password, login_protocol, last_addr, last_seen, state, reason, learned_protocol, \
     pin_realm, pin_serial, pin_type, name, tags";

/// Associated data that binds a sealed password to its device row.
pub(super) fn password_context(id: &str) -> Vec<u8> {
    const PREFIX: &[u8] = b"homeport device password\0";
    let mut context = Vec::with_capacity(PREFIX.len() + id.len());
    context.extend_from_slice(PREFIX);
    context.extend_from_slice(id.as_bytes());
    context
}

/// Seals a device's password for storage.
pub(super) fn seal_password(
    key: &SecretKey,
    id: &str,
    password: &Secret,
) -> Result<Vec<u8>, StoreError> {
    key.seal(&password_context(id), password.expose().as_bytes())
        .map_err(|source| StoreError::Seal {
            id: id.to_owned(),
            source,
        })
}

/// Decodes a row selected with [`RECORD_COLUMNS`], opening the sealed password.
pub(super) fn record_from_row(key: &SecretKey, row: &Row<'_>) -> Result<DeviceRecord, StoreError> {
    let column = |source| StoreError::Sqlite {
        op: "reading a device row".to_owned(),
        source,
    };
    let id: String = row.get(0).map_err(column)?;
    let sealed: Vec<u8> = row.get(2).map_err(column)?;
    let password = key
        .open(&password_context(&id), &sealed)
        .map_err(|source| StoreError::Unseal {
            id: id.clone(),
            source,
        })?;
    let password = String::from_utf8(password).map_err(|_| StoreError::CorruptRow {
        id: id.clone(),
        column: "password",
        value: "(not UTF-8)".to_owned(),
    })?;
    let protocol: String = row.get(3).map_err(column)?;
    let login_protocol = protocol.parse().map_err(|_| StoreError::CorruptRow {
        id: id.clone(),
        column: "login_protocol",
        value: protocol,
    })?;
    let learned: Option<String> = row.get(8).map_err(column)?;
    let learned_protocol = learned
        .map(|name| {
            name.parse().map_err(|_| StoreError::CorruptRow {
                id: id.clone(),
                column: "learned_protocol",
                value: name,
            })
        })
        .transpose()?;
    let pin_realm: Option<String> = row.get(9).map_err(column)?;
    let identity = Identity {
        realm: pin_realm.as_deref().and_then(PinnedRealm::from_stored),
        serial: row.get(10).map_err(column)?,
        device_type: row.get(11).map_err(column)?,
    };
    let tags: Option<String> = row.get(13).map_err(column)?;
    let tags: Vec<String> = match tags {
        Some(text) => serde_json::from_str(&text).map_err(|_| StoreError::CorruptRow {
            id: id.clone(),
            column: "tags",
            value: text,
        })?,
        None => Vec::new(),
    };
    Ok(DeviceRecord {
        labels: Labels {
            name: row.get(12).map_err(column)?,
            tags,
        },
        identity,
        learned_protocol,
        credentials: Credentials {
            username: row.get(1).map_err(column)?,
            password: Secret::from(password),
            login_protocol,
        },
        last_addr: row.get(4).map_err(column)?,
        last_seen_ms: row.get(5).map_err(column)?,
        state: row.get(6).map_err(column)?,
        reason: row.get(7).map_err(column)?,
        id,
    })
}
