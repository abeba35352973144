//! `/api/devices` and `/api/devices/{id}`: list, show, add, modify and delete devices.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;

use super::error::ApiError;
use super::extract::{Json, Path};
use super::state::AppState;
use crate::admin_api::{AnnounceReport, DeviceChange, DeviceView, NewDevice};
use crate::device::{DeviceHandle, LabelChange};
use crate::event::AnnounceCause;
use crate::store::{Credentials, DeviceCredentials, DeviceUpdate};

impl TryFrom<NewDevice> for DeviceCredentials {
    type Error = String;

    /// The device, its name and tags checked.
    fn try_from(device: NewDevice) -> Result<Self, String> {
        Ok(Self {
            labels: LabelChange::new(device.name, device.tags)
                .map_err(|e| format!("device {:?}: {e}", device.id))?,
            id: device.id,
            credentials: Credentials::new(device.username, device.password, device.login_protocol),
        })
    }
}

/// `GET /api/devices`: every device the gateway stores or sees, sorted by ID.
pub(super) async fn list(State(state): State<AppState>) -> Json<Vec<DeviceView>> {
    Json(state.gateway().registry().list())
}

/// `GET /api/devices/{id}`.
pub(super) async fn show(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<DeviceView>, ApiError> {
    view(&state, &id).map(Json)
}

/// `POST /api/devices`: 201 with the device; a connection waiting for it logs in at once.
pub(super) async fn add(
    State(state): State<AppState>,
    Json(device): Json<NewDevice>,
) -> Result<impl IntoResponse, ApiError> {
    let id = device.id.clone();
    let accept = device.accept;
    let device = DeviceCredentials::try_from(device).map_err(ApiError::bad_request)?;
    state.gateway().add_device(device).await?;
    tracing::info!(device = %id, "device added");
    if accept && state.gateway().registry().accept(&id) {
        tracing::info!(device = %id, "pending connection accepted by an operator");
    }
    Ok((StatusCode::CREATED, Json(view(&state, &id)?)))
}

/// `PUT /api/devices/{id}`: changes any of username, password, login protocol, name, tags.
pub(super) async fn modify(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Json(change): Json<DeviceChange>,
) -> Result<Json<DeviceView>, ApiError> {
    if change.is_empty() {
        return Err(ApiError::bad_request(
            "nothing to change: give username, password, login_protocol, name or tags",
        ));
    }
    let update = DeviceUpdate {
        labels: LabelChange::new(change.name, change.tags)
            .map_err(|e| ApiError::bad_request(format!("device {id:?}: {e}")))?,
        username: change.username,
        password: change.password,
        login_protocol: change.login_protocol,
    };
    state.gateway().update_device(&id, update).await?;
    tracing::info!(device = %id, "device modified");
    view(&state, &id).map(Json)
}

/// `POST /api/devices/announce`: an `announced` event for every device with credentials, so
/// that what lists devices (Home Assistant discovery) has them all again; 200
/// `{"announced": N}`.
pub(super) async fn announce(State(state): State<AppState>) -> Json<AnnounceReport> {
    let announced = state
        .gateway()
        .registry()
        .announce(AnnounceCause::Requested, None);
    tracing::info!(count = announced, "devices announced by an operator");
    Json(AnnounceReport { announced })
}

/// `DELETE /api/devices/{id}`: forgets the device and closes its session; 204.
pub(super) async fn delete(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    if state.gateway().delete_device(&id).await? {
        tracing::info!(device = %id, "device deleted");
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::unknown_device(&id))
    }
}

fn view(state: &AppState, id: &str) -> Result<DeviceView, ApiError> {
    state
        .gateway()
        .registry()
        .view(id)
        .ok_or_else(|| ApiError::unknown_device(id))
}

/// The handle of an online device: 404 if the gateway does not know it, 503 if it is not
/// logged in now.
pub(super) fn online(state: &AppState, id: &str) -> Result<DeviceHandle, ApiError> {
    let registry = state.gateway().registry();
    if let Some(handle) = registry.handle(id) {
        return Ok(handle);
    }
    let view = registry
        .view(id)
        .ok_or_else(|| ApiError::unknown_device(id))?;
    Err(ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        format!(
            "device {id:?} is not online (state: {})",
            view.state.as_str()
        ),
    ))
}
