//! The web console, served at `/`: one page, one script, one style sheet and an icon,
//! embedded in the binary (nothing is fetched from anywhere else, so it works offline).
//!
//! The files hold no data, so they are served without the token; the page asks for the
//! operator's admin token and sends it to the API as a bearer header, keeping it in the tab's
//! session storage (never in a URL). Every file carries a strict Content-Security-Policy:
//! scripts, styles and connections only from this origin, images also from `blob:` (the
//! snapshots the page fetches), no frames, no plugins, no inline script or style.

use axum::Router;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use super::state::AppState;

/// The policy every console file is served with.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; img-src 'self' blob:; connect-src 'self'; base-uri 'none'; \
     form-action 'none'; frame-ancestors 'none'";

/// Each file: where it is served, its type, its text.
const FILES: [(&str, &str, &str); 4] = [
    ("/", "text/html; charset=utf-8", include_str!("index.html")),
    (
        "/console/app.js",
        "text/javascript; charset=utf-8",
        include_str!("app.js"),
    ),
    (
        "/console/app.css",
        "text/css; charset=utf-8",
        include_str!("app.css"),
    ),
    (
        "/console/icon.svg",
        "image/svg+xml",
        include_str!("icon.svg"),
    ),
];

/// The console's routes.
pub(super) fn routes() -> Router<AppState> {
    FILES
        .into_iter()
        .fold(Router::new(), |router, (path, content_type, body)| {
            router.route(path, get(move || async move { file(content_type, body) }))
        })
}

/// One embedded file with the console's security headers.
fn file(content_type: &'static str, body: &'static str) -> Response {
    let mut response = body.into_response();
    let headers = response.headers_mut();
    for (name, value) in [
        (header::CONTENT_TYPE, content_type),
        (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::CACHE_CONTROL, "no-cache"),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    response
}
