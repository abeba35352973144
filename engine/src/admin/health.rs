//! `/metrics` (Prometheus text) and `/healthz`: the two endpoints that need no token.

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use serde::Serialize;

use super::extract::Json;
use super::state::AppState;
use crate::event::DeviceState;

/// What `/healthz` reports.
#[derive(Debug, Clone, Serialize)]
pub(super) struct Health {
    /// Always `ok` when the API answers.
    status: &'static str,
    /// The register listener's address, `null` while stopped.
    register: Option<String>,
    /// Devices the gateway stores or sees.
    devices: usize,
    /// Devices online.
    online: usize,
}

/// `GET /metrics`.
pub(super) async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    let mut body = state.gateway().metrics().render(state.gateway().registry());
    if let Some(pipelines) = state.node.pipelines() {
        body.push_str(&pipelines.render_metrics().await);
    }
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        body,
    )
}

/// `GET /healthz`.
pub(super) async fn healthz(State(state): State<AppState>) -> Json<Health> {
    let counts = state.gateway().registry().counts();
    Json(Health {
        status: "ok",
        register: state.gateway().register_addr().map(|a| a.to_string()),
        devices: counts.values().sum(),
        online: counts.get(&DeviceState::Online).copied().unwrap_or(0),
    })
}
