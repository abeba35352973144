//! `/api/listeners`: whether the register listener accepts cameras, and stopping and starting
//! it (the seed's Start/Stop listening). Stopping keeps connected devices connected.

use axum::extract::State;
use axum::http::StatusCode;

use super::error::ApiError;
use super::extract::Json;
use super::state::AppState;
use crate::admin_api::{ListenerState, Listeners};
use crate::gateway::GatewayError;

fn register_state(state: &AppState) -> ListenerState {
    let addr = state.gateway().register_addr();
    ListenerState {
        listening: addr.is_some(),
        addr: addr.map(|a| a.to_string()),
    }
}

/// `GET /api/listeners`.
pub(super) async fn list(State(state): State<AppState>) -> Json<Listeners> {
    Json(Listeners {
        register: register_state(&state),
    })
}

/// `POST /api/listeners/register/stop`: new cameras are refused; connected ones stay.
pub(super) async fn stop(State(state): State<AppState>) -> Json<ListenerState> {
    state.gateway().stop_listening();
    Json(register_state(&state))
}

/// `POST /api/listeners/register/start`: binds the configured address again.
pub(super) async fn start(State(state): State<AppState>) -> Result<Json<ListenerState>, ApiError> {
    match state.gateway().start_listening().await {
        Ok(_) => Ok(Json(register_state(&state))),
        Err(e @ GatewayError::Bind { .. }) => Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            e.to_string(),
        )),
        Err(e) => Err(ApiError::internal(e.to_string())),
    }
}
