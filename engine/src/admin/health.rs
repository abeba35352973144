//! The endpoints that need no token: `/metrics` (Prometheus text, or OpenMetrics when the
//! scraper asks for it), `/livez` (the process answers), `/readyz` (listeners bound, sinks
//! connected: 200 or 503 with each check) and `/healthz` (device counts).

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use serde::Serialize;

use super::extract::Json;
use super::state::AppState;
use crate::event::DeviceState;
use crate::metrics::{Exposition, Format, process};
use crate::node::Readiness;

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

/// What `/livez` reports.
#[derive(Debug, Clone, Serialize)]
pub(super) struct Alive {
    /// Always `alive`.
    status: &'static str,
}

/// `GET /metrics`.
pub(super) async fn metrics(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> impl IntoResponse {
    let format = Format::from_accept(headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()));
    let mut out = Exposition::new();
    process::render_into(&mut out, state.node.uptime().as_secs_f64());
    state
        .gateway()
        .metrics()
        .render_into(state.gateway().registry(), &mut out);
    if let Some(pipelines) = state.node.pipelines() {
        pipelines.render_metrics_into(&mut out).await;
    }
    (
        [(header::CONTENT_TYPE, format.content_type())],
        out.finish_as(format),
    )
}

/// `GET /livez`: the process serves requests.
pub(super) async fn livez() -> Json<Alive> {
    Json(Alive { status: "alive" })
}

/// `GET /readyz`: 200 when every check passes, 503 otherwise; the body lists the checks.
pub(super) async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<Readiness>) {
    let readiness = state.node.readiness();
    let status = if readiness.ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(readiness))
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
