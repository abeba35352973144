//! `POST /api/devices/{id}/rpc`: any JSON-RPC method on a device, for operators — the escape
//! hatch for what the API does not cover yet. The device's reply comes back as it is, error
//! replies included; a binary payload after the reply is not returned (its length is, in the
//! `x-homeport-payload-bytes` header).

use axum::extract::State;
use axum::http::HeaderValue;
use axum::response::{IntoResponse, Response};
use homeport_protocol::rpc::method;

use super::devices::online;
use super::error::ApiError;
use super::extract::{Json, Path};
use super::state::AppState;
use crate::admin_api::RpcCall;

/// Longest method name accepted.
const MAX_METHOD: usize = 128;

/// Methods that would break the session the gateway itself manages.
const RESERVED: [&str; 2] = [method::LOGIN, method::LOGOUT];

/// `POST /api/devices/{id}/rpc` `{"method": …, "params": …}` → the device's reply.
pub(super) async fn call(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Json(call): Json<RpcCall>,
) -> Result<Response, ApiError> {
    let valid = !call.method.is_empty()
        && call.method.len() <= MAX_METHOD
        && call.method.bytes().all(|b| b.is_ascii_graphic());
    if !valid {
        return Err(ApiError::bad_request(format!(
            "method {:?} is not valid: 1 to {MAX_METHOD} printable ASCII characters",
            call.method
        )));
    }
    if RESERVED.contains(&call.method.as_str()) {
        return Err(ApiError::bad_request(format!(
            "method {} is reserved: the gateway manages the device's session",
            call.method
        )));
    }
    let handle = online(&state, &id)?;
    tracing::info!(device = %id, method = %call.method, "operator RPC");
    let (reply, payload) = handle
        .call(&call.method, call.params)
        .await
        .map_err(|e| ApiError::command(&id, &e))?;
    let mut response = Json(reply).into_response();
    if let Some(payload) = payload {
        response
            .headers_mut()
            .insert("x-homeport-payload-bytes", HeaderValue::from(payload.len()));
    }
    Ok(response)
}
