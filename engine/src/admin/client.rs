//! A typed client of the admin API, used by the `homeport devices`, `homeport accounts` and
//! `homeport tap` commands. Every failure of the API comes back as [`ClientError::Api`] with
//! the server's message.

use std::time::Duration;

use bytes::Bytes;
use reqwest::{RequestBuilder, Response, Url};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use super::event_stream::{EventStream, Message};
use crate::device::LoginProtocol;

/// Where the CLI looks for the admin API by default.
pub const DEFAULT_URL: &str = "http://127.0.0.1:9080";
/// How long the client waits to connect.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long one request may take (device commands time out sooner on the server).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// Why a call failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The admin URL is unusable.
    #[error("admin URL {url:?} is not valid: {reason}")]
    Url {
        /// The URL given.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The request did not get an answer.
    #[error("cannot reach the admin API at {url}: {source}")]
    Request {
        /// The URL called.
        url: String,
        /// The transport error.
        #[source]
        source: reqwest::Error,
    },
    /// The API answered with an error.
    #[error("{message} (HTTP {status})")]
    Api {
        /// The HTTP status.
        status: u16,
        /// The API's message.
        message: String,
    },
    /// The answer was not what the API sends.
    #[error("unexpected answer from {url}: {detail}")]
    Decode {
        /// The URL called.
        url: String,
        /// What was wrong.
        detail: String,
    },
}

/// A device as the API lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Device {
    /// Device ID.
    pub id: String,
    /// Logged in now.
    pub online: bool,
    /// `pending`, `logging_in`, `online`, `offline` or `login_failed`.
    pub state: String,
    /// Address of the last connection.
    pub addr: Option<String>,
    /// Last heard from (RFC 3339).
    pub last_seen: Option<String>,
    /// Why it is in this state.
    pub reason: Option<String>,
    /// Whether credentials are stored for it.
    #[serde(default)]
    pub known: bool,
    /// Login user, if known.
    #[serde(default)]
    pub username: Option<String>,
    /// Login protocol, if known.
    #[serde(default)]
    pub login_protocol: Option<String>,
    /// The login that worked last (`dvrip` or `dhip`).
    #[serde(default)]
    pub connected_with: Option<String>,
    /// Video channels the device reported at login.
    #[serde(default)]
    pub channels: Option<u8>,
    /// Product type byte the device reported at login.
    #[serde(default)]
    pub device_type: Option<u8>,
    /// The device's DVRIP protocol version.
    #[serde(default)]
    pub protocol_version: Option<u8>,
    /// What the device proved at its first login (`realm`, `serial`, `device_type`).
    #[serde(default)]
    pub identity: Option<Value>,
    /// Whether its connection waits for an operator's accept.
    #[serde(default)]
    pub awaiting_accept: bool,
    /// In this state since (RFC 3339).
    #[serde(default)]
    pub since: Option<String>,
}

/// A device to add.
#[derive(Debug, Clone, Serialize)]
pub struct NewDevice {
    /// The ID the device announces.
    pub id: String,
    /// Login user.
    pub username: String,
    /// Login password.
    pub password: String,
    /// Which login to use; the server's default (`auto`) when `None`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub login_protocol: Option<LoginProtocol>,
    /// Also accept the connection the device is pending on now, if any.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub accept: bool,
}

/// A change to a device's credentials; `None` fields stay as they are.
#[derive(Debug, Clone, Default, Serialize)]
pub struct DeviceChange {
    /// New login user.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// New login password.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    /// New login protocol.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub login_protocol: Option<LoginProtocol>,
}

/// What an import did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub struct ImportReport {
    /// Devices that were new.
    pub added: usize,
    /// Devices whose credentials were replaced.
    pub updated: usize,
}

/// The file format of an import or export.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// A JSON array of `{"id","username","password","login_protocol"}`.
    Json,
    /// CSV with a header row `id,username,password,login_protocol`.
    Csv,
}

impl Format {
    fn name(self) -> &'static str {
        match self {
            Self::Json => "json",
            Self::Csv => "csv",
        }
    }

    fn media_type(self) -> &'static str {
        match self {
            Self::Json => "application/json",
            Self::Csv => "text/csv",
        }
    }
}

/// A client of one gateway's admin API.
#[derive(Debug, Clone)]
pub struct AdminClient {
    http: reqwest::Client,
    base: Url,
    token: String,
}

impl AdminClient {
    /// A client for the API at `url` (`http://host:port`, or just `host:port`).
    pub fn new(url: &str, token: impl Into<String>) -> Result<Self, ClientError> {
        let invalid = |reason: &str| ClientError::Url {
            url: url.to_owned(),
            reason: reason.to_owned(),
        };
        let full = if url.contains("://") {
            url.to_owned()
        } else {
            format!("http://{url}")
        };
        let base = Url::parse(&full).map_err(|e| invalid(&e.to_string()))?;
        if base.scheme() != "http" {
            return Err(invalid(
                "only http:// is supported (the admin API listens on loopback)",
            ));
        }
        if base.cannot_be_a_base() || base.host().is_none() {
            return Err(invalid("expected http://HOST:PORT"));
        }
        let http = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .build()
            .map_err(|e| invalid(&e.to_string()))?;
        Ok(Self {
            http,
            base,
            token: token.into(),
        })
    }

    /// `base/segment/segment…`, each segment percent-encoded (device IDs may hold `/`).
    fn url(&self, segments: &[&str]) -> Url {
        let mut url = self.base.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(segments);
        }
        url
    }

    fn device_url(&self, id: &str, rest: &[&str]) -> Url {
        let mut segments = vec!["api", "devices", id];
        segments.extend_from_slice(rest);
        self.url(&segments)
    }

    /// Sends with the token; any non-success status becomes [`ClientError::Api`].
    async fn send(&self, url: Url, request: RequestBuilder) -> Result<Response, ClientError> {
        let response = request
            .bearer_auth(&self.token)
            .send()
            .await
            .map_err(|source| ClientError::Request {
                url: url.to_string(),
                source,
            })?;
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let body = response.bytes().await.unwrap_or_default();
        let message = serde_json::from_slice::<Value>(&body)
            .ok()
            .and_then(|v| v.get("error").and_then(Value::as_str).map(str::to_owned))
            .unwrap_or_else(|| {
                let text = String::from_utf8_lossy(&body).trim().to_owned();
                if text.is_empty() {
                    status.to_string()
                } else {
                    text
                }
            });
        Err(ClientError::Api {
            status: status.as_u16(),
            message,
        })
    }

    async fn json<T: DeserializeOwned>(
        &self,
        url: Url,
        request: RequestBuilder,
    ) -> Result<T, ClientError> {
        let response = self
            .send(url.clone(), request.timeout(REQUEST_TIMEOUT))
            .await?;
        let body = response
            .bytes()
            .await
            .map_err(|source| ClientError::Request {
                url: url.to_string(),
                source,
            })?;
        serde_json::from_slice(&body).map_err(|e| ClientError::Decode {
            url: url.to_string(),
            detail: e.to_string(),
        })
    }

    async fn bytes(&self, url: Url, request: RequestBuilder) -> Result<Bytes, ClientError> {
        let response = self
            .send(url.clone(), request.timeout(REQUEST_TIMEOUT))
            .await?;
        response
            .bytes()
            .await
            .map_err(|source| ClientError::Request {
                url: url.to_string(),
                source,
            })
    }

    /// Reloads the pipelines; the names now running.
    pub async fn reload_pipelines(&self) -> Result<Value, ClientError> {
        let url = self.url(&["api", "pipelines", "reload"]);
        self.json(url.clone(), self.http.post(url)).await
    }

    /// Dead letters, oldest first.
    pub async fn dead_letters(
        &self,
        pipeline: Option<&str>,
        limit: usize,
    ) -> Result<Value, ClientError> {
        let mut url = self.url(&["api", "dlq"]);
        url.query_pairs_mut()
            .append_pair("limit", &limit.to_string());
        if let Some(pipeline) = pipeline {
            url.query_pairs_mut().append_pair("pipeline", pipeline);
        }
        self.json(url.clone(), self.http.get(url)).await
    }

    /// Replays one dead letter (`Some(id)`) or all of them (of one pipeline).
    pub async fn replay(
        &self,
        id: Option<i64>,
        pipeline: Option<&str>,
    ) -> Result<Value, ClientError> {
        let mut url = match id {
            Some(id) => self.url(&["api", "dlq", &id.to_string(), "replay"]),
            None => self.url(&["api", "dlq", "replay"]),
        };
        if let Some(pipeline) = pipeline {
            url.query_pairs_mut().append_pair("pipeline", pipeline);
        }
        self.json(url.clone(), self.http.post(url)).await
    }

    /// Every device.
    pub async fn devices(&self) -> Result<Vec<Device>, ClientError> {
        let url = self.url(&["api", "devices"]);
        self.json(url.clone(), self.http.get(url)).await
    }

    /// One device.
    pub async fn device(&self, id: &str) -> Result<Device, ClientError> {
        let url = self.device_url(id, &[]);
        self.json(url.clone(), self.http.get(url)).await
    }

    /// Adds a device.
    pub async fn add_device(&self, device: &NewDevice) -> Result<Device, ClientError> {
        let url = self.url(&["api", "devices"]);
        self.json(url.clone(), self.http.post(url).json(device))
            .await
    }

    /// Changes a device's credentials.
    pub async fn modify_device(
        &self,
        id: &str,
        change: &DeviceChange,
    ) -> Result<Device, ClientError> {
        let url = self.device_url(id, &[]);
        self.json(url.clone(), self.http.put(url).json(change))
            .await
    }

    /// Deletes a device and closes its session.
    pub async fn delete_device(&self, id: &str) -> Result<(), ClientError> {
        let url = self.device_url(id, &[]);
        self.bytes(url.clone(), self.http.delete(url))
            .await
            .map(drop)
    }

    /// Imports devices from a file's contents.
    pub async fn import(&self, body: Vec<u8>, format: Format) -> Result<ImportReport, ClientError> {
        let url = self.url(&["api", "devices", "import"]);
        let request = self
            .http
            .post(url.clone())
            .header(reqwest::header::CONTENT_TYPE, format.media_type())
            .body(body);
        self.json(url, request).await
    }

    /// Exports every device; with `secrets`, passwords included.
    pub async fn export(&self, format: Format, secrets: bool) -> Result<Bytes, ClientError> {
        let mut url = self.url(&["api", "devices", "export"]);
        url.query_pairs_mut()
            .append_pair("format", format.name())
            .append_pair("secrets", if secrets { "true" } else { "false" });
        self.bytes(url.clone(), self.http.get(url)).await
    }

    /// A device's config table.
    pub async fn config(&self, id: &str, name: &str) -> Result<Value, ClientError> {
        let url = self.device_url(id, &["config", name]);
        self.json(url.clone(), self.http.get(url)).await
    }

    /// Merges `patch` into a device's config table; returns the table written.
    pub async fn update_config(
        &self,
        id: &str,
        name: &str,
        patch: &Value,
    ) -> Result<Value, ClientError> {
        let url = self.device_url(id, &["config", name]);
        self.json(url.clone(), self.http.put(url).json(patch)).await
    }

    /// A JPEG from a device's channel.
    pub async fn snapshot(&self, id: &str, channel: u32) -> Result<Bytes, ClientError> {
        let mut url = self.device_url(id, &["snapshot"]);
        url.query_pairs_mut()
            .append_pair("channel", &channel.to_string());
        self.bytes(url.clone(), self.http.get(url)).await
    }

    /// Accepts the connection a device is pending on.
    pub async fn accept(&self, id: &str) -> Result<(), ClientError> {
        let url = self.device_url(id, &["accept"]);
        self.bytes(url.clone(), self.http.post(url)).await.map(drop)
    }

    /// Forgets what a device proved at its first login.
    pub async fn forget_identity(&self, id: &str) -> Result<(), ClientError> {
        let url = self.device_url(id, &["identity"]);
        self.bytes(url.clone(), self.http.delete(url))
            .await
            .map(drop)
    }

    /// Asks a connected device's session to log in now, as an operator (it may spend a try
    /// the session keeps in reserve).
    pub async fn login(&self, id: &str) -> Result<(), ClientError> {
        let url = self.device_url(id, &["login"]);
        self.bytes(url.clone(), self.http.post(url)).await.map(drop)
    }

    /// Starts or stops the transcript of a device's socket; returns the server's answer
    /// (`device`, `enabled`, `path`).
    pub async fn set_trace(&self, id: &str, enabled: bool) -> Result<Value, ClientError> {
        let url = self.device_url(id, &["trace"]);
        let body = serde_json::json!({ "enabled": enabled });
        self.json(url.clone(), self.http.post(url).json(&body))
            .await
    }

    /// A device's transcript, as text.
    pub async fn trace(&self, id: &str) -> Result<Bytes, ClientError> {
        let url = self.device_url(id, &["trace"]);
        self.bytes(url.clone(), self.http.get(url)).await
    }

    /// Calls any method on a device; the device's reply as it is.
    pub async fn rpc(&self, id: &str, method: &str, params: Value) -> Result<Value, ClientError> {
        let url = self.device_url(id, &["rpc"]);
        let body = serde_json::json!({ "method": method, "params": params });
        self.json(url.clone(), self.http.post(url).json(&body))
            .await
    }

    /// Live events, optionally only one device's and only some kinds.
    pub async fn events(
        &self,
        device: Option<&str>,
        kinds: &[String],
    ) -> Result<EventStream, ClientError> {
        let mut url = self.url(&["api", "events"]);
        {
            let mut query = url.query_pairs_mut();
            if let Some(device) = device {
                query.append_pair("device", device);
            }
            if !kinds.is_empty() {
                query.append_pair("kind", &kinds.join(","));
            }
        }
        let request = self
            .http
            .get(url.clone())
            .header(reqwest::header::ACCEPT, "text/event-stream");
        let response = self.send(url.clone(), request).await?;
        Ok(EventStream::new(
            url.to_string(),
            Box::pin(response.bytes_stream()),
        ))
    }
}

/// A camera-sync account as the API lists it.
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
    /// Locked after wrong passwords until then (RFC 3339).
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

impl AdminClient {
    fn account_url(&self, name: &str, rest: &[&str]) -> Url {
        let mut segments = vec!["api", "accounts", name];
        segments.extend_from_slice(rest);
        self.url(&segments)
    }

    /// Every camera-sync account.
    pub async fn accounts(&self) -> Result<Vec<Account>, ClientError> {
        let url = self.url(&["api", "accounts"]);
        self.json(url.clone(), self.http.get(url)).await
    }

    /// Creates a camera-sync account.
    pub async fn add_account(&self, name: &str, password: &str) -> Result<Account, ClientError> {
        let url = self.url(&["api", "accounts"]);
        let body = serde_json::json!({ "username": name, "password": password });
        self.json(url.clone(), self.http.post(url).json(&body))
            .await
    }

    /// Deletes an account and its camera bindings.
    pub async fn delete_account(&self, name: &str) -> Result<(), ClientError> {
        let url = self.account_url(name, &[]);
        self.bytes(url.clone(), self.http.delete(url))
            .await
            .map(drop)
    }

    /// Replaces an account's password (and lifts a lockout).
    pub async fn set_account_password(
        &self,
        name: &str,
        password: &str,
    ) -> Result<Account, ClientError> {
        let url = self.account_url(name, &["password"]);
        let body = serde_json::json!({ "password": password });
        self.json(url.clone(), self.http.put(url).json(&body)).await
    }

    /// The cameras bound to an account, with their online state.
    pub async fn account_cameras(&self, name: &str) -> Result<Vec<AccountCamera>, ClientError> {
        let url = self.account_url(name, &["cameras"]);
        self.json(url.clone(), self.http.get(url)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_encode_device_ids_as_one_segment() {
        let client = AdminClient::new("127.0.0.1:9080", "t").expect("valid");
        assert_eq!(
            client.device_url("a/b c", &["config", "DVRIP"]).as_str(),
            "http://127.0.0.1:9080/api/devices/a%2Fb%20c/config/DVRIP"
        );
        let client = AdminClient::new("http://localhost:9080/prefix/", "t").expect("valid");
        assert_eq!(
            client.url(&["healthz"]).as_str(),
            "http://localhost:9080/prefix/healthz"
        );
        assert!(AdminClient::new("https://example.com", "t").is_err());
    }
}
