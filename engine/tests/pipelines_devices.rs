//! Pipeline stages that act on devices: `apply_config` (the register-server example, and a dry
//! run) and `login` (with automatic logins turned off, only the stage logs devices in).

mod support;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use homeport::event::{EventKind, OnlineReason};
use homeport::gateway::Gateway;
use homeport::pipeline::{PipelineHost, Services};
use support::{TestGateway, cam, camera, online_change, wait_for};

fn services(gateway: &Gateway) -> Services {
    gateway.services()
}

fn write(dir: &std::path::Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::create_dir_all(path.parent().expect("parent")).expect("dir");
    std::fs::write(&path, text).expect("write");
    path
}

#[tokio::test]
async fn register_server_example_merges_its_template_and_reports_the_result() {
    let gw = TestGateway::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let example = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../pipelines/examples/register-server-template.yaml"
    ))
    .expect("example");
    let file = write(dir.path(), "register-server-template.yaml", &example);
    // The example's template, pointed at this test's gateway so the camera stays here.
    let addr = gw.addr();
    write(
        dir.path(),
        "templates/register-server.yaml",
        &format!(
            "RegisterServer:\n  Enable: true\n  DeviceID: \"{{{{ device_id }}}}\"\n  Servers:\n    - Address: \"{}\"\n      Port: {}\nMaxConnections: 7\n",
            addr.ip(),
            addr.port()
        ),
    );
    let host = PipelineHost::start(vec![file], services(&gw.gateway), gw.gateway.bus().clone())
        .expect("compiles");
    gw.add("cfg1", "pw").await;
    let mut events = gw.gateway.bus().subscribe();
    let stop = camera(addr, cam("cfg1", "pw"));
    let applied = wait_for(&mut events, "config_applied", |e| {
        e.device == "cfg1" && e.kind_name() == "config_applied"
    })
    .await;
    let EventKind::ConfigApplied {
        name,
        changed,
        dry_run,
        table,
        error,
    } = &applied.kind
    else {
        unreachable!()
    };
    assert_eq!(
        (name.as_str(), *changed, *dry_run, error.is_none()),
        ("DVRIP", true, false, true)
    );
    assert_eq!(table["MaxConnections"], 7);
    let handle = gw.gateway.registry().handle("cfg1").expect("online");
    let now = handle.get_config("DVRIP").await.expect("read");
    assert_eq!(now["MaxConnections"], 7);
    assert_eq!(now["RegisterServer"]["DeviceID"], "cfg1");
    assert_eq!(
        now["TCPPort"], 37777,
        "fields the template does not name are kept"
    );
    stop.cancel();
    host.shutdown().await;
}

#[tokio::test]
async fn dry_run_reports_without_writing() {
    let gw = TestGateway::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let file = write(
        dir.path(),
        "p.yaml",
        "pipelines:\n  - name: dry\n    on: [online_changed]\n    when: 'event.online'\n    stages:\n      - apply_config: { name: General, values: { MachineName: 'renamed-{{ device_id }}' }, dry_run: true }\n",
    );
    let host = PipelineHost::start(vec![file], services(&gw.gateway), gw.gateway.bus().clone())
        .expect("compiles");
    gw.add("dry1", "pw").await;
    let mut events = gw.gateway.bus().subscribe();
    let stop = camera(gw.addr(), cam("dry1", "pw"));
    let applied = wait_for(&mut events, "config_applied", |e| {
        e.device == "dry1" && e.kind_name() == "config_applied"
    })
    .await;
    let EventKind::ConfigApplied {
        changed,
        dry_run,
        table,
        ..
    } = &applied.kind
    else {
        unreachable!()
    };
    assert!(*changed && *dry_run);
    assert_eq!(table["MachineName"], "renamed-dry1");
    let current = gw
        .gateway
        .registry()
        .handle("dry1")
        .expect("online")
        .get_config("General")
        .await
        .expect("read");
    assert_eq!(current["MachineName"], "dry1", "a dry run writes nothing");
    stop.cancel();
    host.shutdown().await;
}

#[tokio::test]
async fn with_auto_login_off_only_the_login_stage_logs_devices_in() {
    let data = tempfile::tempdir().expect("tempdir");
    let mut config = support::config(data.path());
    config.session.auto_login = false;
    let gateway = Gateway::start(config).await.expect("starts");
    let dir = tempfile::tempdir().expect("tempdir");
    // Only devices whose ID starts with "ok-" are logged in.
    let file = write(
        dir.path(),
        "login.yaml",
        "pipelines:\n  - name: selective-login\n    on: [registered]\n    when: 'device_id is startingwith(\"ok-\")'\n    stages:\n      - login: { rate: 50 }\n",
    );
    let host = PipelineHost::start(vec![file], services(&gateway), gateway.bus().clone())
        .expect("compiles");
    for id in ["ok-1", "no-1"] {
        gateway
            .add_device(homeport::gateway::device_credentials(
                id,
                "admin",
                "pw",
                homeport::device::LoginProtocol::Auto,
            ))
            .await
            .expect("add");
    }
    let mut events = gateway.bus().subscribe();
    let addr = gateway.register_addr().expect("addr");
    let (a, b) = (
        camera(addr, cam("ok-1", "pw")),
        camera(addr, cam("no-1", "pw")),
    );
    wait_for(&mut events, "ok-1 online", |e| {
        online_change(e, "ok-1", true, Some(OnlineReason::LoginOk))
    })
    .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let other = gateway.registry().view("no-1").expect("registered");
    assert!(!other.online, "no-1 was never asked to log in");
    assert!(gateway.registry().request_login("no-1"));
    wait_for(&mut events, "no-1 online once asked", |e| {
        online_change(e, "no-1", true, None)
    })
    .await;
    a.cancel();
    b.cancel();
    host.shutdown().await;
    gateway.shutdown().await;
}

#[tokio::test]
async fn failed_events_are_dead_lettered_listed_and_replayed_through_the_admin_api() {
    let dir = tempfile::tempdir().expect("tempdir");
    // At registration the device is not online yet, so apply_config fails: no retries, so it
    // goes straight to the dead-letter store.
    let file = write(
        dir.path(),
        "p.yaml",
        "pipelines:\n  - name: early-config\n    on: [registered]\n    stages:\n      - apply_config: { name: General, values: { MachineName: 'named-{{ device_id }}' } }\n    on_error: { retry: { max: 0 }, then: dead_letter }\n",
    );
    let gw = TestGateway::start_node(|node| node.pipelines = Some(vec![file.clone()])).await;
    let host = Arc::clone(gw.node.pipelines().expect("pipelines run"));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let api = format!("http://{}", listener.local_addr().expect("addr"));
    let stop_api = tokio_util::sync::CancellationToken::new();
    tokio::spawn(homeport::admin::serve(
        listener,
        homeport::admin::router(Arc::clone(&gw.node), "t0ken".to_owned()),
        stop_api.clone(),
    ));
    let api = Api {
        http: reqwest::Client::new(),
        base: api,
    };

    gw.add("late1", "pw").await;
    let (stop, mut events) = gw.online_camera("late1", "pw").await;
    let mut letters = serde_json::Value::Null;
    for _ in 0..100 {
        letters = api.get("/api/dlq").await;
        if letters.as_array().is_some_and(|a| !a.is_empty()) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let letter = &letters[0];
    assert_eq!(letter["pipeline"], "early-config");
    assert_eq!(letter["stage"], "#1 apply_config");
    assert!(
        letter["error"]
            .as_str()
            .is_some_and(|e| e.contains("not online")),
        "{letter}"
    );
    let (input, _, failed, _, _) = host.totals("early-config").await.expect("pipeline");
    assert_eq!((input, failed), (1, 1));

    // Now the device is online: the replay succeeds and the letter is gone.
    let id = letter["id"].as_i64().expect("id");
    let (_, replayed) = api.post(&format!("/api/dlq/{id}/replay")).await;
    assert_eq!(replayed["replayed"], serde_json::json!([id]));
    let applied = wait_for(&mut events, "config_applied", |e| {
        e.device == "late1" && e.kind_name() == "config_applied"
    })
    .await;
    assert!(
        matches!(&applied.kind, EventKind::ConfigApplied { table, .. } if table["MachineName"] == "named-late1")
    );
    let left = api.get("/api/dlq").await;
    assert_eq!(left, serde_json::json!([]));

    // Reload over the API: a good file swaps, a bad one is refused with its position.
    std::fs::write(
        &file,
        "pipelines:\n  - name: renamed\n    on: [alarm]\n    stages:\n      - log: {}\n",
    )
    .expect("write");
    let (status, body) = api.post("/api/pipelines/reload").await;
    assert_eq!(status, 200);
    assert_eq!(body["pipelines"], serde_json::json!(["renamed"]));
    std::fs::write(
        &file,
        "pipelines:\n  - name: broken\n    on: [alarm]\n    stages:\n      - nope: {}\n",
    )
    .expect("write");
    let (status, body) = api.post("/api/pipelines/reload").await;
    assert_eq!(status, 422);
    assert!(
        body["error"]
            .as_str()
            .is_some_and(|e| e.contains("p.yaml:5:9") && e.contains("nope")),
        "{body}"
    );
    assert_eq!(host.names().await, vec!["renamed"]);
    stop.cancel();
    stop_api.cancel();
    host.shutdown().await;
}

/// The admin API of a test gateway, with its token.
struct Api {
    http: reqwest::Client,
    base: String,
}

impl Api {
    async fn get(&self, path: &str) -> serde_json::Value {
        let response = self
            .http
            .get(format!("{}{path}", self.base))
            .bearer_auth("t0ken")
            .send()
            .await
            .expect("get");
        response.json().await.expect("json")
    }

    async fn post(&self, path: &str) -> (u16, serde_json::Value) {
        let response = self
            .http
            .post(format!("{}{path}", self.base))
            .bearer_auth("t0ken")
            .send()
            .await
            .expect("post");
        (
            response.status().as_u16(),
            response.json().await.expect("json"),
        )
    }
}
