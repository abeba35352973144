//! `GET /api/devices/{id}/snapshot?channel=N`: one JPEG from a device's channel.

use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

use super::devices::online;
use super::error::ApiError;
use super::extract::{Path, Query};
use super::state::AppState;
use crate::admin_api::SnapshotQuery;

/// `GET /api/devices/{id}/snapshot`: `image/jpeg`.
pub(super) async fn snapshot(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(query): Query<SnapshotQuery>,
) -> Result<Response, ApiError> {
    let handle = online(&state, &id)?;
    let image = handle
        .snapshot(query.channel)
        .await
        .map_err(|e| ApiError::command(&id, &e))?;
    let mut response = image.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("image/jpeg"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}
