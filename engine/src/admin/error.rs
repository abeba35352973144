//! The admin API's errors: every failure is a status and an [`ErrorBody`],
//! `{"error": message}`.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::admin_api::ErrorBody;
use crate::device::CommandError;
use crate::store::StoreError;

/// A failed request: the status and the message the operator sees.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ApiError {
    status: StatusCode,
    message: String,
}

impl ApiError {
    /// An error with any status.
    pub(crate) fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
        }
    }

    /// 400: the request itself is wrong; the message names the field or row.
    pub(crate) fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    /// 404 for a device the gateway neither stores nor sees.
    pub(crate) fn unknown_device(id: &str) -> Self {
        Self::new(StatusCode::NOT_FOUND, format!("device {id:?} not found"))
    }

    /// 500: something on the gateway's side failed; logged with the message.
    pub(crate) fn internal(message: impl Into<String>) -> Self {
        let message = message.into();
        tracing::error!(error = %message, "admin API request failed");
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, message)
    }

    /// A command to device `id` failed: 503 when it is not reachable, 504 when it did not
    /// answer in time, 502 when it refused or answered nonsense.
    pub(crate) fn command(id: &str, error: &CommandError) -> Self {
        let status = match error {
            CommandError::NotOnline | CommandError::Busy | CommandError::Disconnected => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            CommandError::Timeout(_) => StatusCode::GATEWAY_TIMEOUT,
            CommandError::Device { .. } | CommandError::BadReply { .. } => StatusCode::BAD_GATEWAY,
            CommandError::Unsupported(_) => StatusCode::NOT_IMPLEMENTED,
        };
        Self::new(status, format!("device {id:?}: {error}"))
    }

    /// The HTTP status.
    #[cfg(test)]
    pub(crate) fn status(&self) -> StatusCode {
        self.status
    }

    /// The message.
    #[cfg(test)]
    pub(crate) fn message(&self) -> &str {
        &self.message
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Invalid(_) => Self::bad_request(error.to_string()),
            StoreError::AlreadyExists { .. } => Self::new(StatusCode::CONFLICT, error.to_string()),
            StoreError::NotFound { .. } => Self::new(StatusCode::NOT_FOUND, error.to_string()),
            other => Self::internal(other.to_string()),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: self.message,
        };
        (self.status, Json(body)).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_errors_map_to_gateway_statuses() {
        let status = |e: CommandError| ApiError::command("cam", &e).status();
        assert_eq!(
            status(CommandError::NotOnline),
            StatusCode::SERVICE_UNAVAILABLE
        );
        assert_eq!(
            status(CommandError::Timeout(std::time::Duration::from_secs(1))),
            StatusCode::GATEWAY_TIMEOUT
        );
        let refused = CommandError::Device {
            method: "m".to_owned(),
            code: 1,
            message: "no".to_owned(),
        };
        assert_eq!(status(refused), StatusCode::BAD_GATEWAY);
    }

    #[test]
    fn store_errors_map_to_client_statuses() {
        assert_eq!(
            ApiError::from(StoreError::Invalid("bad".to_owned())).status(),
            StatusCode::BAD_REQUEST
        );
        assert_eq!(
            ApiError::from(StoreError::AlreadyExists { id: "a".to_owned() }).status(),
            StatusCode::CONFLICT
        );
        assert_eq!(
            ApiError::from(StoreError::NotFound { id: "a".to_owned() }).status(),
            StatusCode::NOT_FOUND
        );
    }
}
