//! The camera-sync accounts of the admin API end to end: a gateway with a temporary data
//! directory, the API on a loopback port, plain HTTP requests and the typed client.

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use homeport::admin::client::{AdminClient, ClientError};
use homeport::admin::{router, serve};
use homeport::secret::Secret;
use homeport::store::{BindOutcome, LockPolicy, LoginCheck};
use reqwest::{Method, RequestBuilder, StatusCode};
use serde_json::{Value, json};
use support::{TestGateway, assert_error, cam, camera};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

const TOKEN: &str = "test-token-accounts-0123";
/// How long a test waits for a device to come online.
const WAIT: Duration = Duration::from_secs(10);

/// A gateway with its admin API served on a loopback port.
struct Api {
    gw: TestGateway,
    base: String,
    http: reqwest::Client,
    stop: CancellationToken,
}

impl Drop for Api {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

impl Api {
    async fn start() -> Self {
        let gw = TestGateway::start().await;
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let stop = CancellationToken::new();
        let app = router(Arc::clone(&gw.gateway), TOKEN.to_owned());
        tokio::spawn(serve(listener, app, stop.clone()));
        Self {
            gw,
            base,
            http: reqwest::Client::new(),
            stop,
        }
    }

    fn req(&self, method: Method, path: &str) -> RequestBuilder {
        self.http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(TOKEN)
    }

    /// Sends and returns the status and the raw body (to search it for secrets).
    async fn call(&self, request: RequestBuilder) -> (StatusCode, String) {
        let response = request.send().await.expect("request");
        let status = response.status();
        (status, response.text().await.expect("body"))
    }

    /// Sends and returns the status and the JSON body (`null` when empty).
    async fn call_json(&self, request: RequestBuilder) -> (StatusCode, Value) {
        let (status, body) = self.call(request).await;
        let value = if body.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&body)
                .unwrap_or_else(|e| panic!("{status}: body is not JSON ({e}): {body:?}"))
        };
        (status, value)
    }

    async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.call_json(self.req(Method::GET, path)).await
    }

    async fn create(&self, username: &str, password: &str) -> (StatusCode, Value) {
        let body = json!({ "username": username, "password": password });
        self.call_json(self.req(Method::POST, "/api/accounts").json(&body))
            .await
    }

    fn client(&self) -> AdminClient {
        AdminClient::new(&self.base, TOKEN).expect("client")
    }

    /// Polls `GET /api/devices/{id}` until it is online.
    async fn wait_online(&self, id: &str) {
        let deadline = Instant::now() + WAIT;
        loop {
            let (status, view) = self.get(&format!("/api/devices/{id}")).await;
            if status == StatusCode::OK && view["online"] == true {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{id} never came online: {status} {view}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

#[tokio::test]
async fn accounts_are_created_listed_and_deleted() {
    let api = Api::start().await;
    let (status, created) = api.create("alice", "alice-secret-1").await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["name"], "alice");
    assert_eq!(created["cameras"], 0);
    assert!(created["created"].is_string(), "{created}");
    assert_eq!(created["last_login"], Value::Null);
    assert_eq!(created["locked_until"], Value::Null);
    assert_eq!(
        api.create("bob", "bob-secret-2").await.0,
        StatusCode::CREATED
    );

    let (status, body) = api.call(api.req(Method::GET, "/api/accounts")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        !body.contains("secret") && !body.contains("argon2"),
        "no password and no hash in the list: {body}"
    );
    let list: Value = serde_json::from_str(&body).expect("JSON");
    let names: Vec<&str> = list
        .as_array()
        .expect("an array")
        .iter()
        .filter_map(|a| a["name"].as_str())
        .collect();
    assert_eq!(names, ["alice", "bob"]);

    let (status, body) = api
        .call_json(api.req(Method::DELETE, "/api/accounts/alice"))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let (status, body) = api
        .call_json(api.req(Method::DELETE, "/api/accounts/alice"))
        .await;
    assert_error(
        status,
        &body,
        StatusCode::NOT_FOUND,
        "account \"alice\" not found",
    );
    let (status, body) = api.get("/api/accounts/alice/cameras").await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "not found");
    let (_, list) = api.get("/api/accounts").await;
    assert_eq!(list.as_array().map(Vec::len), Some(1));
}

#[tokio::test]
async fn a_taken_name_is_a_conflict() {
    let api = Api::start().await;
    assert_eq!(api.create("alice", "one").await.0, StatusCode::CREATED);
    let (status, body) = api.create("alice", "two").await;
    assert_error(
        status,
        &body,
        StatusCode::CONFLICT,
        "account \"alice\" already exists",
    );
    // The first password still logs in.
    let check = api
        .gw
        .gateway
        .store()
        .check_login(
            "alice",
            &Secret::new("one"),
            "127.0.0.1",
            0,
            LockPolicy::default(),
        )
        .await
        .expect("checked");
    assert!(matches!(check, LoginCheck::Ok { .. }), "{check:?}");
}

#[tokio::test]
async fn bad_names_and_passwords_are_refused_with_the_reason() {
    let api = Api::start().await;
    let long = "n".repeat(65);
    let cases = [
        ("", "pw", "account name is empty"),
        ("a b", "pw", "whitespace"),
        ("a|b", "pw", "'|'"),
        ("a;b", "pw", "';'"),
        ("a:b", "pw", "':'"),
        ("a\\b", "pw", "'\\\\'"),
        ("a\tb", "pw", "whitespace"),
        (long.as_str(), "pw", "limit is 64"),
        ("alice", "", "password is empty"),
    ];
    for (name, password, reason) in cases {
        let (status, body) = api.create(name, password).await;
        assert_error(status, &body, StatusCode::BAD_REQUEST, reason);
    }
    let (status, body) = api.create("alice", &"p".repeat(129)).await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "limit is 128");
    assert!(
        !body.to_string().contains("ppp"),
        "the password is not echoed: {body}"
    );

    for bad in [
        json!({ "username": "alice" }),
        json!({ "username": "alice", "password": "pw", "admin": true }),
        json!({ "name": "alice", "password": "pw" }),
    ] {
        let (status, body) = api
            .call_json(api.req(Method::POST, "/api/accounts").json(&bad))
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad} → {body}");
        assert!(body["error"].is_string(), "{body}");
    }
    let (_, list) = api.get("/api/accounts").await;
    assert_eq!(list, json!([]), "nothing was created");
}

#[tokio::test]
async fn cameras_show_verified_and_online_but_never_passwords() {
    let api = Api::start().await;
    assert_eq!(api.create("alice", "pw").await.0, StatusCode::CREATED);
    let store = api.gw.gateway.store();

    // cam-on is registered and logged in; cam-off is not known to the gateway at all.
    api.gw.add("cam-on", "device-pw").await;
    let _camera = camera(api.gw.addr(), cam("cam-on", "device-pw"));
    api.wait_online("cam-on").await;
    let bind = |camera: &'static str, password: &'static str, verified: bool| async move {
        store
            .bind_camera("alice", camera, &Secret::new(password), verified, 4)
            .await
            .expect("bound")
    };
    assert_eq!(
        bind("cam-on", "uploaded-on-pw", true).await,
        BindOutcome::Added
    );
    tokio::time::sleep(Duration::from_millis(5)).await;
    assert_eq!(
        bind("cam-off", "uploaded-off-pw", false).await,
        BindOutcome::Added
    );

    let (status, body) = api
        .call(api.req(Method::GET, "/api/accounts/alice/cameras"))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(!body.contains("uploaded-"), "no camera password: {body}");
    let cameras: Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!(
        cameras,
        json!([
            { "camera_id": "cam-on", "verified": true, "online": true },
            { "camera_id": "cam-off", "verified": false, "online": false },
        ])
    );
    let (_, list) = api.get("/api/accounts").await;
    assert_eq!(list[0]["cameras"], 2);

    // Deleting the account drops its bindings.
    let client = api.client();
    client.delete_account("alice").await.expect("deleted");
    assert!(
        store
            .camera_accounts("cam-on")
            .await
            .expect("listed")
            .is_empty()
    );
}

#[tokio::test]
async fn a_new_password_replaces_the_old_one_and_lifts_the_lock() {
    let api = Api::start().await;
    assert_eq!(api.create("alice", "old-pw").await.0, StatusCode::CREATED);
    let store = api.gw.gateway.store();
    let login = |password: &'static str| async move {
        store
            .check_login(
                "alice",
                &Secret::new(password),
                "192.0.2.9",
                now_ms(),
                LockPolicy::default(),
            )
            .await
            .expect("checked")
    };
    for _ in 0..5 {
        login("wrong").await;
    }
    assert!(matches!(login("old-pw").await, LoginCheck::Locked { .. }));
    let (_, list) = api.get("/api/accounts").await;
    assert!(list[0]["locked_until"].is_string(), "{list}");

    let body = json!({ "password": "new-pw" });
    let (status, account) = api
        .call_json(
            api.req(Method::PUT, "/api/accounts/alice/password")
                .json(&body),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{account}");
    assert_eq!(account["locked_until"], Value::Null);
    assert!(!account.to_string().contains("new-pw"));
    assert!(matches!(login("old-pw").await, LoginCheck::Wrong { .. }));
    assert!(matches!(login("new-pw").await, LoginCheck::Ok { .. }));
    let (_, list) = api.get("/api/accounts").await;
    assert_eq!(list[0]["last_login_ip"], "192.0.2.9");

    let (status, body) = api
        .call_json(
            api.req(Method::PUT, "/api/accounts/nobody/password")
                .json(&body),
        )
        .await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "\"nobody\" not found");
    let (status, body) = api
        .call_json(
            api.req(Method::PUT, "/api/accounts/alice/password")
                .json(&json!({ "password": "" })),
        )
        .await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "password is empty");
}

#[tokio::test]
async fn the_typed_client_manages_accounts() {
    let api = Api::start().await;
    let client = api.client();
    let added = client.add_account("carol", "pw-1").await.expect("added");
    assert_eq!((added.name.as_str(), added.cameras), ("carol", 0));
    match client.add_account("carol", "pw-2").await {
        Err(ClientError::Api {
            status: 409,
            message,
        }) => {
            assert!(message.contains("already exists"), "{message}");
        }
        other => panic!("expected a conflict, got {other:?}"),
    }
    match client.add_account("bad name", "pw").await {
        Err(ClientError::Api {
            status: 400,
            message,
        }) => {
            assert!(message.contains("whitespace"), "{message}");
        }
        other => panic!("expected a bad request, got {other:?}"),
    }
    assert_eq!(client.accounts().await.expect("listed"), [added]);
    assert!(
        client
            .account_cameras("carol")
            .await
            .expect("listed")
            .is_empty()
    );
    client
        .set_account_password("carol", "pw-3")
        .await
        .expect("changed");
    client.delete_account("carol").await.expect("deleted");
    assert!(matches!(
        client.delete_account("carol").await,
        Err(ClientError::Api { status: 404, .. })
    ));
}

#[tokio::test]
async fn accounts_need_the_bearer_token() {
    let api = Api::start().await;
    let url = format!("{}/api/accounts", api.base);
    let response = api
        .http
        .post(&url)
        .json(&json!({ "username": "eve", "password": "pw" }))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let response = api.http.get(&url).send().await.expect("request");
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let (_, list) = api.get("/api/accounts").await;
    assert_eq!(list, json!([]));
}

/// Now, in Unix milliseconds.
fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}
