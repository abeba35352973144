//! The admin HTTP API server: devices, their config and snapshots, the register listener,
//! live events, metrics and health. Its bodies are the types of [`crate::admin_api`]; the
//! client the `homeport` CLI uses is [`crate::client`].
//!
//! - this file — the router, bearer-token authentication, and serving with graceful shutdown.
//! - `state` — what every handler shares (the node, the token) and the body limits.
//! - `error` — every failure as a status and `{"error": message}`.
//! - `extract` — body, query and path extractors whose rejections are JSON errors too.
//! - `devices` — list, show, add, modify, delete.
//! - `import` / `export` — many devices at once, as JSON or CSV.
//! - `config` — read and read-modify-write a device's config tables.
//! - `snapshot` — a JPEG from a device's channel.
//! - `rpc` — any JSON-RPC call to a device, for operators.
//! - `trace` — a device's socket transcript (start, stop, download).
//! - `trust` — an operator's decisions: accept a pending connection, ask for a login, forget
//!   a replaced camera's pinned identity.
//! - `listeners` — stop and start the register listener.
//! - `accounts` — camera-sync accounts: create, list, delete, password, their cameras.
//! - `events` — the event bus as server-sent events.
//! - `health` — `/metrics`, `/livez`, `/readyz` and `/healthz`.
//! - `console` — the web console at `/`: its page, script and style, embedded.
//!
//! Everything under `/api` needs `Authorization: Bearer <token>`; `/metrics`, `/livez`, `/readyz`,
//! `/healthz` and the console's files (which hold no data: the page asks the API for it with
//! the token the operator gives) do not. Request bodies are bounded: [`MAX_IMPORT_BODY`] for imports, [`MAX_BODY`] otherwise.

mod accounts;
mod config;
mod console;
mod devices;
mod error;
mod events;
mod export;
mod extract;
mod health;
mod import;
mod listeners;
mod pipelines;
mod rpc;
mod snapshot;
mod state;
mod trace;
mod trust;

use std::future::IntoFuture;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};
use axum::{Extension, Router};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::node::Node;
use crate::secret::constant_time_eq;
use error::ApiError;
use state::{AppState, Shutdown};
pub use state::{MAX_BODY, MAX_EVENT_STREAMS, MAX_IMPORT_BODY};

/// How long shutdown waits for open requests before it stops waiting.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// The admin API of `node`, guarded by the bearer `token`.
pub fn router(node: Arc<Node>, token: String) -> Router {
    let state = AppState::new(node, token);
    let api = Router::new()
        .route("/api/devices", get(devices::list).post(devices::add))
        .route(
            "/api/devices/import",
            post(import::import).layer(DefaultBodyLimit::max(MAX_IMPORT_BODY)),
        )
        .route("/api/devices/export", get(export::export))
        .route("/api/devices/announce", post(devices::announce))
        .route(
            "/api/devices/{id}",
            get(devices::show)
                .put(devices::modify)
                .delete(devices::delete),
        )
        .route(
            "/api/devices/{id}/config/{name}",
            get(config::get).put(config::update),
        )
        .route("/api/devices/{id}/snapshot", get(snapshot::snapshot))
        .route("/api/devices/{id}/rpc", post(rpc::call))
        .route("/api/devices/{id}/login", post(trust::login))
        .route("/api/devices/{id}/accept", post(trust::accept))
        .route("/api/devices/{id}/identity", delete(trust::forget_identity))
        .route(
            "/api/devices/{id}/trace",
            get(trace::download).post(trace::set),
        )
        .route("/api/traces", get(trace::list))
        .route("/api/listeners", get(listeners::list))
        .route("/api/pipelines", get(pipelines::list))
        .route("/api/pipelines/reload", post(pipelines::reload))
        .route("/api/pipelines/stats", get(pipelines::stats))
        .route("/api/gateway", get(listeners::gateway))
        .route("/api/dlq", get(pipelines::dead_letters))
        .route("/api/dlq/replay", post(pipelines::replay_all))
        .route("/api/dlq/{id}/replay", post(pipelines::replay_one))
        .route("/api/listeners/register/stop", post(listeners::stop))
        .route("/api/listeners/register/start", post(listeners::start))
        .route("/api/events", get(events::events))
        .route("/api/accounts", get(accounts::list).post(accounts::add))
        .route("/api/accounts/{name}", delete(accounts::delete))
        .route("/api/accounts/{name}/password", put(accounts::set_password))
        .route("/api/accounts/{name}/cameras", get(accounts::cameras))
        .route_layer(middleware::from_fn_with_state(state.clone(), authenticate));
    Router::new()
        .merge(console::routes())
        .route("/metrics", get(health::metrics))
        .route("/healthz", get(health::healthz))
        .route("/livez", get(health::livez))
        .route("/readyz", get(health::readyz))
        .merge(api)
        .fallback(no_such_endpoint)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(state)
}

/// Serves `router` on `listener` until `shutdown` fires, then lets open requests finish for a
/// few seconds (event streams end at once).
pub async fn serve(
    listener: TcpListener,
    router: Router,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    if let Ok(addr) = listener.local_addr() {
        tracing::info!(%addr, "admin API listening");
    }
    let router = router.layer(Extension(Shutdown(shutdown.clone())));
    let stop = shutdown.clone();
    let server = axum::serve(listener, router)
        .with_graceful_shutdown(async move { stop.cancelled().await })
        .into_future();
    let deadline = async {
        shutdown.cancelled().await;
        tokio::time::sleep(SHUTDOWN_GRACE).await;
    };
    tokio::select! {
        result = server => result,
        () = deadline => {
            tracing::warn!("admin API requests still open {SHUTDOWN_GRACE:?} after shutdown; closing");
            Ok(())
        }
    }
}

/// Lets a request through only with `Authorization: Bearer <token>`.
async fn authenticate(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let given = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim());
    let refusal = match given {
        None => "missing bearer token: send `Authorization: Bearer <token>`",
        Some(token) if constant_time_eq(token.as_bytes(), state.token.as_bytes()) => {
            return next.run(request).await;
        }
        Some(_) => "invalid bearer token",
    };
    let mut response = ApiError::new(StatusCode::UNAUTHORIZED, refusal).into_response();
    let challenge = if given.is_some() {
        r#"Bearer realm="homeport", error="invalid_token""#
    } else {
        r#"Bearer realm="homeport""#
    };
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static(challenge),
    );
    response
}

async fn no_such_endpoint(request: Request) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        format!("no such endpoint: {}", request.uri().path()),
    )
}

async fn method_not_allowed(request: Request) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        format!(
            "{} is not allowed on {}",
            request.method(),
            request.uri().path()
        ),
    )
}
