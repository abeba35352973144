//! `/api/devices/{id}/config/{name}`: read a device's config table, and change it by
//! read-modify-write so that fields the patch does not name — including ones homeport has
//! never heard of — are written back exactly as the device had them.

use axum::extract::State;
use serde_json::Value;

use super::devices::online;
use super::error::ApiError;
use super::extract::{Json, Path};
use super::state::AppState;

/// Longest config table name accepted.
const MAX_NAME: usize = 64;

/// `GET /api/devices/{id}/config/{name}`: the table as the device returns it.
pub(super) async fn get(
    State(state): State<AppState>,
    Path((id, name)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    check_name(&name)?;
    let handle = online(&state, &id)?;
    let table = handle
        .get_config(&name)
        .await
        .map_err(|e| ApiError::command(&id, &e))?;
    Ok(Json(table))
}

/// `PUT /api/devices/{id}/config/{name}` with a JSON object merged into the table (objects
/// key by key, anything else replaces); returns the table written.
pub(super) async fn update(
    State(state): State<AppState>,
    Path((id, name)): Path<(String, String)>,
    Json(patch): Json<Value>,
) -> Result<Json<Value>, ApiError> {
    check_name(&name)?;
    if !patch.is_object() {
        return Err(ApiError::bad_request(
            "the body must be a JSON object naming the fields to change",
        ));
    }
    let handle = online(&state, &id)?;
    let table = handle
        .update_config(&name, &patch)
        .await
        .map_err(|e| ApiError::command(&id, &e))?;
    tracing::info!(device = %id, config = %name, "config table written");
    Ok(Json(table))
}

/// Config names are identifiers such as `DVRIP`, `Network` or `VideoEncode`.
fn check_name(name: &str) -> Result<(), ApiError> {
    let valid = !name.is_empty()
        && name.len() <= MAX_NAME
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
    if valid {
        Ok(())
    } else {
        Err(ApiError::bad_request(format!(
            "config name {name:?} is not valid: 1 to {MAX_NAME} letters, digits, '_', '-' or '.'"
        )))
    }
}
