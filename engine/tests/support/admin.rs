//! The admin API served on a loopback port for a test gateway, with plain HTTP helpers.

use std::sync::Arc;
use std::time::{Duration, Instant};

use homeport::admin::{router, serve};
use homeport::client::AdminClient;
use reqwest::{Method, RequestBuilder, StatusCode};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use super::{TestGateway, cam, camera};

/// The admin token the tests' API accepts.
pub const TOKEN: &str = "test-token-0123456789";
/// How long a test waits for a device to reach a state.
pub const WAIT: Duration = Duration::from_secs(10);

/// A gateway with its admin API served on a loopback port.
pub struct Api {
    pub gw: TestGateway,
    pub base: String,
    pub http: reqwest::Client,
    pub stop: CancellationToken,
    pub server: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

impl Drop for Api {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

impl Api {
    pub async fn start() -> Self {
        Self::start_node(|_| {}).await
    }

    /// The API of a node whose config `change` adjusts first (pipelines, sinks).
    pub async fn start_node(change: impl FnOnce(&mut homeport::node::NodeConfig)) -> Self {
        let gw = TestGateway::start_node(change).await;
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let stop = CancellationToken::new();
        let app = router(Arc::clone(&gw.node), TOKEN.to_owned());
        let server = tokio::spawn(serve(listener, app, stop.clone()));
        Self {
            gw,
            base,
            http: reqwest::Client::new(),
            stop,
            server: Some(server),
        }
    }

    /// A request with the right token.
    pub fn req(&self, method: Method, path: &str) -> RequestBuilder {
        self.http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(TOKEN)
    }

    /// Sends and returns the status and the raw body (to search it for secrets).
    pub async fn call_text(&self, request: RequestBuilder) -> (StatusCode, String) {
        let response = request.send().await.expect("request");
        let status = response.status();
        (status, response.text().await.expect("body"))
    }

    /// Sends and returns the status and the JSON body (`null` when empty).
    pub async fn call(&self, request: RequestBuilder) -> (StatusCode, Value) {
        let (status, body) = self.call_text(request).await;
        let value = if body.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&body)
                .unwrap_or_else(|e| panic!("{status}: body is not JSON ({e}): {body:?}"))
        };
        (status, value)
    }

    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.call(self.req(Method::GET, path)).await
    }

    pub async fn send_json(&self, method: Method, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(self.req(method, path).json(&body)).await
    }

    /// Adds device `id` (user `admin`).
    pub async fn add(&self, id: &str, password: &str) {
        let body = json!({"id": id, "username": "admin", "password": password});
        let (status, view) = self.send_json(Method::POST, "/api/devices", body).await;
        assert_eq!(status, StatusCode::CREATED, "{view}");
    }

    /// Polls `GET /api/devices/{id}` until its state is `state`.
    pub async fn wait_state(&self, id: &str, state: &str) -> Value {
        let deadline = Instant::now() + WAIT;
        loop {
            let (status, view) = self.get(&format!("/api/devices/{id}")).await;
            if status == StatusCode::OK && view["state"] == state {
                return view;
            }
            assert!(
                Instant::now() < deadline,
                "{id} never became {state}: {status} {view}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// A device added and its camera online.
    pub async fn online_camera(&self, id: &str) -> CancellationToken {
        self.add(id, "pw").await;
        let stop = camera(self.gw.addr(), cam(id, "pw"));
        self.wait_state(id, "online").await;
        stop
    }

    /// The typed client for this API.
    pub fn client(&self) -> AdminClient {
        AdminClient::new(&self.base, TOKEN).expect("client")
    }
}
