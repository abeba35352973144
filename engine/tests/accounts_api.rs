//! The camera-sync accounts of the admin API end to end: a gateway with a temporary data
//! directory, the API on a loopback port, plain HTTP requests and the typed client.

mod support;

use std::time::Duration;

use homeport::client::ClientError;
use homeport::secret::Secret;
use homeport::store::{BindOutcome, LoginCheck};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use support::admin::Api;
use support::{assert_error, cam, camera};

/// Creates an account through the API.
async fn create(api: &Api, username: &str, password: &str) -> (StatusCode, Value) {
    let body = json!({ "username": username, "password": password });
    api.call(api.req(Method::POST, "/api/accounts").json(&body))
        .await
}

#[tokio::test]
async fn accounts_are_created_listed_and_deleted() {
    let api = Api::start().await;
    let (status, created) = create(&api, "alice", "alice-secret-1").await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["name"], "alice");
    assert_eq!(created["cameras"], 0);
    assert!(created["created"].is_string(), "{created}");
    assert_eq!(created["last_login"], Value::Null);
    assert_eq!(created["locked_until"], Value::Null);
    assert_eq!(
        create(&api, "bob", "bob-secret-2").await.0,
        StatusCode::CREATED
    );

    let (status, body) = api.call_text(api.req(Method::GET, "/api/accounts")).await;
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
        .call(api.req(Method::DELETE, "/api/accounts/alice"))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let (status, body) = api
        .call(api.req(Method::DELETE, "/api/accounts/alice"))
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
    assert_eq!(create(&api, "alice", "one").await.0, StatusCode::CREATED);
    let (status, body) = create(&api, "alice", "two").await;
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
        .check_login("alice", &Secret::new("one"), "127.0.0.1", 0)
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
        let (status, body) = create(&api, name, password).await;
        assert_error(status, &body, StatusCode::BAD_REQUEST, reason);
    }
    let (status, body) = create(&api, "alice", &"p".repeat(129)).await;
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
            .call(api.req(Method::POST, "/api/accounts").json(&bad))
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
    assert_eq!(create(&api, "alice", "pw").await.0, StatusCode::CREATED);
    let store = api.gw.gateway.store();

    // cam-on is registered and logged in; cam-off is not known to the gateway at all.
    api.gw.add("cam-on", "device-pw").await;
    let _camera = camera(api.gw.addr(), cam("cam-on", "device-pw"));
    api.wait_state("cam-on", "online").await;
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
        .call_text(api.req(Method::GET, "/api/accounts/alice/cameras"))
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
async fn a_new_password_replaces_the_old_one() {
    // Accounts are no longer locked (wrong passwords slow their source address down in the
    // camera-sync server instead), so `locked_until` stays empty however many fail.
    let api = Api::start().await;
    assert_eq!(create(&api, "alice", "old-pw").await.0, StatusCode::CREATED);
    let store = api.gw.gateway.store();
    let login = |password: &'static str| async move {
        store
            .check_login("alice", &Secret::new(password), "192.0.2.9", now_ms())
            .await
            .expect("checked")
    };
    for _ in 0..5 {
        assert_eq!(login("wrong").await, LoginCheck::Wrong);
    }
    assert!(matches!(login("old-pw").await, LoginCheck::Ok { .. }));
    let (_, list) = api.get("/api/accounts").await;
    assert_eq!(list[0]["locked_until"], Value::Null, "{list}");

    let body = json!({ "password": "new-pw" });
    let (status, account) = api
        .call(
            api.req(Method::PUT, "/api/accounts/alice/password")
                .json(&body),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{account}");
    assert_eq!(account["locked_until"], Value::Null);
    assert!(!account.to_string().contains("new-pw"));
    assert_eq!(login("old-pw").await, LoginCheck::Wrong);
    assert!(matches!(login("new-pw").await, LoginCheck::Ok { .. }));
    let (_, list) = api.get("/api/accounts").await;
    assert_eq!(list[0]["last_login_ip"], "192.0.2.9");

    let (status, body) = api
        .call(
            api.req(Method::PUT, "/api/accounts/nobody/password")
                .json(&body),
        )
        .await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "\"nobody\" not found");
    let (status, body) = api
        .call(
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
