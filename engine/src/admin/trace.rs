//! `/api/devices/{id}/trace`: the field kit.
//!
//! - `POST /api/devices/{id}/trace` `{"enabled": true|false}`: starts or stops a two-way
//!   transcript of the device's socket (`<data>/traces/<id>.log`, passwords and hashes
//!   redacted); a connected device starts writing with its next bytes.
//! - `GET /api/devices/{id}/trace`: the transcript as `text/plain` (404 when there is none);
//!   header `x-homeport-tracing` says whether it is still being written.
//! - `GET /api/traces`: the devices traced now.

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::error::ApiError;
use super::extract::{Json, Path};
use super::state::AppState;
use crate::admin_api::{TraceChange, TraceState};

/// Largest transcript served in one response (the file itself is bounded too).
const MAX_SERVED: u64 = 64 * 1024 * 1024;

/// `POST /api/devices/{id}/trace`.
pub(super) async fn set(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Json(change): Json<TraceChange>,
) -> Result<Json<TraceState>, ApiError> {
    crate::store::validate::device_id(&id).map_err(|e| ApiError::bad_request(e.to_string()))?;
    let path = state
        .gateway()
        .set_tracing(&id, change.enabled)
        .map_err(|e| ApiError::internal(format!("cannot open the transcript of {id:?}: {e}")))?;
    tracing::info!(device = %id, enabled = change.enabled, path = %path.display(), "device trace changed");
    Ok(Json(TraceState {
        device: id,
        enabled: change.enabled,
        path: path.display().to_string(),
    }))
}

/// `GET /api/devices/{id}/trace`.
pub(super) async fn download(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let traces = state.gateway().traces();
    let path = traces.path(&id);
    let on = traces.is_on(&id);
    let read = tokio::task::spawn_blocking(move || -> std::io::Result<Vec<u8>> {
        use std::io::Read;
        let file = std::fs::File::open(&path)?;
        let mut text = Vec::new();
        file.take(MAX_SERVED).read_to_end(&mut text)?;
        Ok(text)
    })
    .await
    .map_err(|e| ApiError::internal(format!("transcript read failed: {e}")))?;
    let text = match read {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(ApiError::new(
                StatusCode::NOT_FOUND,
                format!(
                    "no transcript for device {id:?}; start one with POST /api/devices/{{id}}/trace"
                ),
            ));
        }
        Err(e) => {
            return Err(ApiError::internal(format!(
                "cannot read the transcript: {e}"
            )));
        }
    };
    let mut response = text.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        "x-homeport-tracing",
        HeaderValue::from_static(if on { "on" } else { "off" }),
    );
    Ok(response)
}

/// `GET /api/traces`.
pub(super) async fn list(State(state): State<AppState>) -> Json<Vec<String>> {
    Json(state.gateway().traces().traced())
}
