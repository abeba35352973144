//! A typed client of the admin API, used by the `homeport devices`, `homeport accounts`,
//! `homeport dlq`, `homeport pipelines` and `homeport tap` commands. It sends and decodes the
//! types of [`crate::admin_api`], the same ones the server uses. Every failure of the API comes
//! back as [`ClientError::Api`] with the server's message.
//!
//! - this file — [`AdminClient`]: the base URL, the token, sending and decoding.
//! - `devices` — devices, their import and export, config, snapshots, traces, trust and RPC.
//! - `accounts` — camera-sync accounts and their cameras.
//! - `pipelines` — pipeline reload and dead letters.
//! - `event_stream` — the live event stream, read as server-sent events.

mod accounts;
mod devices;
mod event_stream;
mod pipelines;

use std::time::Duration;

use bytes::Bytes;
use reqwest::{RequestBuilder, Response, Url};
use serde::de::DeserializeOwned;

pub use event_stream::{EventStream, Message};

use crate::admin_api::ErrorBody;

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

    /// Sends with the token; any non-success status becomes [`ClientError::Api`].
    async fn send(&self, request: RequestBuilder) -> Result<Response, ClientError> {
        let request = request
            .bearer_auth(&self.token)
            .build()
            .map_err(|source| self.request_error(source))?;
        let response = self
            .http
            .execute(request)
            .await
            .map_err(|source| self.request_error(source))?;
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let body = response.bytes().await.unwrap_or_default();
        let message = serde_json::from_slice::<ErrorBody>(&body)
            .map(|body| body.error)
            .unwrap_or_else(|_| {
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

    /// A transport error, with the URL it was for (the base URL if it has none).
    fn request_error(&self, source: reqwest::Error) -> ClientError {
        let url = source.url().unwrap_or(&self.base).to_string();
        ClientError::Request { url, source }
    }

    /// Sends, and decodes the answer as `T`.
    async fn json<T: DeserializeOwned>(&self, request: RequestBuilder) -> Result<T, ClientError> {
        let response = self.send(request.timeout(REQUEST_TIMEOUT)).await?;
        let url = response.url().to_string();
        let body = response
            .bytes()
            .await
            .map_err(|source| ClientError::Request {
                url: url.clone(),
                source,
            })?;
        serde_json::from_slice(&body).map_err(|e| ClientError::Decode {
            url,
            detail: e.to_string(),
        })
    }

    /// Sends, and returns the answer's body as it is.
    async fn bytes(&self, request: RequestBuilder) -> Result<Bytes, ClientError> {
        let response = self.send(request.timeout(REQUEST_TIMEOUT)).await?;
        let url = response.url().to_string();
        response
            .bytes()
            .await
            .map_err(|source| ClientError::Request { url, source })
    }

    /// Sends, and ignores the answer's body.
    async fn done(&self, request: RequestBuilder) -> Result<(), ClientError> {
        self.bytes(request).await.map(drop)
    }
}
