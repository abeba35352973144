//! Who may be logged in over, and who a device is: an operator's decisions.
//!
//! - `POST /api/devices/{id}/accept`: the connection the device is pending on may be logged in
//!   over (it was waiting before its credentials were added; see `docs/security.md`).
//! - `POST /api/devices/{id}/login`: an operator asks for a login now; it also ends a refused
//!   session's backoff, or the stop that spares the device's last try.
//! - `DELETE /api/devices/{id}/identity`: forget what the device proved at its first login
//!   (a replaced camera): its next login pins again.

use axum::extract::State;
use axum::http::StatusCode;

use super::error::ApiError;
use super::extract::Path;
use super::state::AppState;

fn not_connected(id: &str) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        format!("device {id:?} is not connected"),
    )
}

/// `POST /api/devices/{id}/accept`: 202, or 404 when the device has no connection.
pub(super) async fn accept(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    if state.gateway().registry().accept(&id) {
        tracing::info!(device = %id, "pending connection accepted by an operator");
        Ok(StatusCode::ACCEPTED)
    } else {
        Err(not_connected(&id))
    }
}

/// `POST /api/devices/{id}/login`: 202, or 404 when the device has no connection.
pub(super) async fn login(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    if state.gateway().registry().request_operator_login(&id) {
        tracing::info!(device = %id, "login requested by an operator");
        Ok(StatusCode::ACCEPTED)
    } else {
        Err(not_connected(&id))
    }
}

/// `DELETE /api/devices/{id}/identity`: 204, or 404 for an unknown device.
pub(super) async fn forget_identity(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    if state.gateway().forget_identity(&id).await? {
        tracing::info!(device = %id, "pinned identity forgotten by an operator");
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::unknown_device(&id))
    }
}
