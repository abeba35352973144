//! `/api/listeners`: whether the register listener accepts cameras, and stopping and starting
//! it (the seed's Start/Stop listening). Stopping keeps connected devices connected. Also
//! `/api/gateway`: the listeners, the sinks' connections, version and uptime at once.

use axum::extract::State;
use axum::http::StatusCode;

use super::error::ApiError;
use super::extract::Json;
use super::state::AppState;
use crate::admin_api::{GatewayInfo, ListenerState, Listeners, SinkLink};
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

/// `GET /api/gateway`.
pub(super) async fn gateway(State(state): State<AppState>) -> Json<GatewayInfo> {
    let sinks = state.node.sinks();
    Json(GatewayInfo {
        version: env!("CARGO_PKG_VERSION").to_owned(),
        uptime_secs: state.node.uptime().as_secs(),
        register: register_state(&state),
        sync: state.node.sync().map(|s| s.addr().to_string()),
        mqtt: SinkLink {
            configured: sinks.mqtt.is_some(),
            connected: sinks.mqtt.as_ref().is_some_and(|m| m.is_connected()),
        },
        nats: SinkLink {
            configured: sinks.nats.is_some(),
            connected: sinks.nats.as_ref().is_some_and(|n| n.is_connected()),
        },
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
