//! The admin HTTP API end to end: a gateway with a temporary data directory, the API on a
//! loopback port, simulated cameras registering for real, and plain HTTP requests.

mod support;

use std::time::{Duration, Instant};

use homeport::client::Message;
use homeport::event::{Event, EventKind};
use reqwest::{Method, StatusCode, header};
use serde_json::{Value, json};
use support::admin::{Api, TOKEN, WAIT};
use support::{assert_error, cam, camera};
use tokio::net::TcpStream;

/// The next message of an event stream, within the wait.
async fn next_message(events: &mut homeport::client::EventStream) -> Message {
    tokio::time::timeout(WAIT, events.next())
        .await
        .expect("an event in time")
        .expect("stream readable")
        .expect("stream open")
}

#[tokio::test]
async fn api_requests_need_the_bearer_token() {
    let api = Api::start().await;
    let url = format!("{}/api/devices", api.base);
    for request in [
        api.http.get(&url),
        api.http.get(&url).bearer_auth("wrong-token"),
    ] {
        let response = request.send().await.expect("request");
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        let challenge = response.headers()[header::WWW_AUTHENTICATE]
            .to_str()
            .expect("ascii");
        assert!(challenge.starts_with("Bearer"), "{challenge}");
        let body: Value = response.json().await.expect("JSON error");
        assert!(
            body["error"]
                .as_str()
                .is_some_and(|m| m.contains("bearer token")),
            "{body}"
        );
    }
    let (status, list) = api.get("/api/devices").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list, json!([]));
}

#[tokio::test]
async fn metrics_and_healthz_answer_without_a_token() {
    let api = Api::start().await;
    let _camera = api.online_camera("health1").await;
    let health: Value = api
        .http
        .get(format!("{}/healthz", api.base))
        .send()
        .await
        .expect("healthz")
        .json()
        .await
        .expect("JSON");
    assert_eq!(health["status"], "ok");
    assert_eq!(health["register"], api.gw.addr().to_string());
    assert_eq!(
        (health["devices"].as_u64(), health["online"].as_u64()),
        (Some(1), Some(1))
    );
    let response = api
        .http
        .get(format!("{}/metrics", api.base))
        .send()
        .await
        .expect("metrics");
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response.headers()[header::CONTENT_TYPE]
            .to_str()
            .expect("ascii")
            .starts_with("text/plain")
    );
    let text = response.text().await.expect("text");
    assert!(
        text.contains("homeport_devices{state=\"online\"} 1"),
        "{text}"
    );
}

#[tokio::test]
async fn device_added_while_its_camera_is_pending_comes_online() {
    let api = Api::start().await;
    let _camera = camera(api.gw.addr(), cam("late1", "pw"));
    let pending = api.wait_state("late1", "pending").await;
    assert_eq!(pending["online"], false);
    assert_eq!(pending["known"], false);

    // Adding it accepts the connection it is waiting on: the operator vouches for it.
    let body = json!({"id": "late1", "username": "admin", "password": "pw", "login_protocol": "dvrip", "accept": true});
    let (status, view) = api
        .send_json(Method::POST, "/api/devices", body.clone())
        .await;
    assert_eq!(status, StatusCode::CREATED, "{view}");
    assert_eq!(
        (view["id"].as_str(), view["known"].as_bool()),
        (Some("late1"), Some(true))
    );
    let online = api.wait_state("late1", "online").await;
    assert_eq!(online["online"], true);
    assert_eq!(online["login_protocol"], "dvrip");

    let (status, list) = api.get("/api/devices").await;
    assert_eq!(status, StatusCode::OK);
    let listed = &list.as_array().expect("array")[0];
    for field in [
        "id",
        "online",
        "state",
        "addr",
        "last_seen",
        "reason",
        "since",
    ] {
        assert!(listed.get(field).is_some(), "{field} missing from {listed}");
    }
    assert!(
        listed["addr"]
            .as_str()
            .is_some_and(|a| a.starts_with("127.0.0.1:")),
        "{listed}"
    );
    assert!(listed["last_seen"].is_string(), "{listed}");

    let (status, error) = api.send_json(Method::POST, "/api/devices", body).await;
    assert_error(status, &error, StatusCode::CONFLICT, "already exists");
}

#[tokio::test]
async fn modify_changes_credentials_and_a_refused_login_recovers() {
    let api = Api::start().await;
    api.add("mod1", "wrong").await;
    let _camera = camera(api.gw.addr(), cam("mod1", "pw"));
    let failed = api.wait_state("mod1", "login_failed").await;
    assert!(failed["reason"].is_string(), "{failed}");
    let (status, view) = api
        .send_json(
            Method::PUT,
            "/api/devices/mod1",
            json!({"password": "pw", "login_protocol": "auto"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{view}");
    api.wait_state("mod1", "online").await;

    let (status, error) = api
        .send_json(Method::PUT, "/api/devices/mod1", json!({}))
        .await;
    assert_error(status, &error, StatusCode::BAD_REQUEST, "nothing to change");
    let (status, error) = api
        .send_json(Method::PUT, "/api/devices/nope", json!({"username": "x"}))
        .await;
    assert_error(status, &error, StatusCode::NOT_FOUND, "nope");
}

#[tokio::test]
async fn config_put_merges_the_patch_and_keeps_fields_it_does_not_name() {
    let api = Api::start().await;
    let _camera = api.online_camera("conf1").await;
    let (status, before) = api.get("/api/devices/conf1/config/DVRIP").await;
    assert_eq!(status, StatusCode::OK, "{before}");
    assert_eq!(before["TCPPort"], 37777);

    let patch = json!({"MaxConnections": 20, "StreamPolicy": "Quality", "Vendor": {"x": [1]}});
    let (status, written) = api
        .send_json(Method::PUT, "/api/devices/conf1/config/DVRIP", patch)
        .await;
    assert_eq!(status, StatusCode::OK, "{written}");
    let (status, after) = api.get("/api/devices/conf1/config/DVRIP").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(after, written);
    assert_eq!(after["MaxConnections"], 20);
    assert_eq!(after["StreamPolicy"], "Quality");
    assert_eq!(after["Vendor"], json!({"x": [1]}));
    // Untouched fields are written back as the device had them.
    for field in [
        "TCPPort",
        "UDPPort",
        "SSLPort",
        "MCASTAddress",
        "RegisterServer",
    ] {
        assert_eq!(after[field], before[field], "{field}");
    }

    let (status, error) = api
        .send_json(Method::PUT, "/api/devices/conf1/config/DVRIP", json!([1]))
        .await;
    assert_error(status, &error, StatusCode::BAD_REQUEST, "JSON object");
    let (status, error) = api.get("/api/devices/conf1/config/NoSuchTable").await;
    assert_error(status, &error, StatusCode::BAD_GATEWAY, "refused");
    let (status, error) = api.get("/api/devices/ghost/config/DVRIP").await;
    assert_error(status, &error, StatusCode::NOT_FOUND, "ghost");
    api.add("offline1", "pw").await;
    let (status, error) = api.get("/api/devices/offline1/config/DVRIP").await;
    assert_error(
        status,
        &error,
        StatusCode::SERVICE_UNAVAILABLE,
        "not online",
    );
}

#[tokio::test]
async fn snapshot_returns_a_jpeg() {
    let api = Api::start().await;
    let _camera = api.online_camera("snap1").await;
    let response = api
        .req(Method::GET, "/api/devices/snap1/snapshot?channel=0")
        .send()
        .await
        .expect("snapshot");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()[header::CONTENT_TYPE], "image/jpeg");
    let image = response.bytes().await.expect("body");
    assert!(image.len() > 4);
    assert_eq!(&image[..2], &[0xFF, 0xD8], "starts with SOI");
    assert_eq!(&image[image.len() - 2..], &[0xFF, 0xD9], "ends with EOI");

    let (status, error) = api.get("/api/devices/snap1/snapshot?chanel=0").await;
    assert_error(status, &error, StatusCode::BAD_REQUEST, "chanel");
}

#[tokio::test]
async fn rpc_returns_the_device_reply_as_it_is() {
    let api = Api::start().await;
    let _camera = api.online_camera("rpc1").await;
    let (status, reply) = api
        .send_json(
            Method::POST,
            "/api/devices/rpc1/rpc",
            json!({"method": "magicBox.getSerialNo"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    assert_eq!(reply["result"], true, "{reply}");
    assert!(reply["params"]["sn"].is_string(), "{reply}");
    let (status, error) = api
        .send_json(
            Method::POST,
            "/api/devices/rpc1/rpc",
            json!({"method": "global.logout"}),
        )
        .await;
    assert_error(status, &error, StatusCode::BAD_REQUEST, "reserved");
}

#[tokio::test]
async fn deleting_a_device_closes_its_session() {
    let api = Api::start().await;
    let _camera = api.online_camera("del1").await;
    let mut events = api.gw.gateway.bus().subscribe();
    let response = api
        .req(Method::DELETE, "/api/devices/del1")
        .send()
        .await
        .expect("delete");
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    support::wait_for(&mut events, "offline after delete", |e| {
        support::online_change(
            e,
            "del1",
            false,
            Some(homeport::event::OnlineReason::Removed),
        )
    })
    .await;
    // The camera dials again, but as an unknown device it is only pending.
    let (status, view) = api.get("/api/devices/del1").await;
    assert!(
        status == StatusCode::NOT_FOUND || view["known"] == false,
        "{status} {view}"
    );
    let (status, export) = api.get("/api/devices/export").await;
    assert_eq!((status, export), (StatusCode::OK, json!([])));

    let (status, error) = api
        .call(api.req(Method::DELETE, "/api/devices/never"))
        .await;
    assert_error(status, &error, StatusCode::NOT_FOUND, "never");
}

#[tokio::test]
async fn import_json_and_csv_then_export_round_trips() {
    let api = Api::start().await;
    let devices = json!([
        {"id": "imp1", "username": "admin", "password": "pw1"},
        {"id": "imp2", "username": "root", "password": "pw2", "login_protocol": "dvrip",
         "name": "Back door, inside", "tags": ["indoor", "site:b"]}
    ]);
    let (status, report) = api
        .send_json(Method::POST, "/api/devices/import", devices)
        .await;
    assert_eq!(
        (status, report),
        (StatusCode::OK, json!({"added": 2, "updated": 0}))
    );

    let csv = "id,username,password,login_protocol\r\n\
               imp3,admin,\"p,w \"\"q\"\"\nline2\",dhip\r\n\
               imp1,admin,new-pw,\r\n";
    let request = api
        .req(Method::POST, "/api/devices/import")
        .header(header::CONTENT_TYPE, "text/csv")
        .body(csv);
    let (status, report) = api.call(request).await;
    assert_eq!(
        (status, report),
        (StatusCode::OK, json!({"added": 1, "updated": 1}))
    );

    let (status, exported) = api.get("/api/devices/export?secrets=true").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        exported,
        json!([
            {"id": "imp1", "username": "admin", "password": "new-pw", "login_protocol": "auto"},
            {"id": "imp2", "username": "root", "password": "pw2", "login_protocol": "dvrip",
             "name": "Back door, inside", "tags": ["indoor", "site:b"]},
            {"id": "imp3", "username": "admin", "password": "p,w \"q\"\nline2", "login_protocol": "dhip"}
        ])
    );
    let csv_export = api
        .req(Method::GET, "/api/devices/export?format=csv&secrets=true")
        .send()
        .await
        .expect("export")
        .text()
        .await
        .expect("text");

    // Both exports import into a fresh gateway and export from it unchanged.
    let fresh = Api::start().await;
    let (status, report) = fresh
        .send_json(Method::POST, "/api/devices/import", exported.clone())
        .await;
    assert_eq!(
        (status, report),
        (StatusCode::OK, json!({"added": 3, "updated": 0}))
    );
    assert_eq!(
        fresh
            .get("/api/devices/export?format=json&secrets=true")
            .await
            .1,
        exported
    );
    let request = fresh
        .req(Method::POST, "/api/devices/import")
        .header(header::CONTENT_TYPE, "text/csv")
        .body(csv_export.clone());
    let (status, report) = fresh.call(request).await;
    assert_eq!(
        (status, report),
        (StatusCode::OK, json!({"added": 0, "updated": 3}))
    );
    let again = fresh
        .req(Method::GET, "/api/devices/export?format=csv&secrets=true")
        .send()
        .await
        .expect("export");
    assert_eq!(again.text().await.expect("text"), csv_export);
    assert!(
        csv_export.contains("imp2,root,pw2,dvrip,\"Back door, inside\",indoor site:b\n"),
        "{csv_export}"
    );

    // Without secrets there is no password anywhere, and such a file is not re-imported.
    let (_, bare) = api.get("/api/devices/export").await;
    assert!(
        bare.as_array()
            .expect("array")
            .iter()
            .all(|d| d.get("password").is_none()),
        "{bare}"
    );
    let bare_csv = api
        .req(Method::GET, "/api/devices/export?format=csv")
        .send()
        .await
        .expect("export")
        .text()
        .await
        .expect("text");
    assert!(
        bare_csv.starts_with("id,username,login_protocol,name,tags\n"),
        "{bare_csv}"
    );
    assert!(
        !bare_csv.contains("new-pw") && !bare_csv.contains("pw2"),
        "{bare_csv}"
    );
    let request = api
        .req(Method::POST, "/api/devices/import")
        .header(header::CONTENT_TYPE, "text/csv")
        .body(bare_csv);
    let (status, error) = api.call(request).await;
    assert_error(status, &error, StatusCode::BAD_REQUEST, "secrets=true");
}

#[tokio::test]
async fn import_is_all_or_nothing_and_names_the_first_bad_row() {
    let api = Api::start().await;
    let csv = "ok1,admin,pw\nok2,admin,pw\nbad3,,pw\nbad4\n";
    let request = api
        .req(Method::POST, "/api/devices/import")
        .header(header::CONTENT_TYPE, "text/csv")
        .body(csv);
    let (status, error) = api.call(request).await;
    assert_error(status, &error, StatusCode::BAD_REQUEST, "line 3: ");
    let devices =
        json!([{"id": "ok1", "username": "a", "password": "p"}, {"id": "x", "username": "a"}]);
    let (status, error) = api
        .send_json(Method::POST, "/api/devices/import", devices)
        .await;
    assert_error(
        status,
        &error,
        StatusCode::BAD_REQUEST,
        "entry 2: missing field `password`",
    );
    assert_eq!(api.get("/api/devices").await.1, json!([]));
}

#[tokio::test]
async fn bad_input_gets_json_errors() {
    let api = Api::start().await;
    let request = api
        .req(Method::POST, "/api/devices")
        .header(header::CONTENT_TYPE, "application/json")
        .body("{\"id\": ");
    let (status, error) = api.call(request).await;
    assert_error(status, &error, StatusCode::BAD_REQUEST, "EOF");
    let body = json!({"id": "a", "username": "u", "password": "p", "colour": "red"});
    let (status, error) = api.send_json(Method::POST, "/api/devices", body).await;
    assert_error(
        status,
        &error,
        StatusCode::BAD_REQUEST,
        "unknown field `colour`",
    );
    let body = json!({"id": "a", "username": "u", "password": "p", "login_protocol": "telnet"});
    let (status, error) = api.send_json(Method::POST, "/api/devices", body).await;
    assert_error(status, &error, StatusCode::BAD_REQUEST, "telnet");
    let body = json!({"id": "", "username": "u", "password": "p"});
    let (status, error) = api.send_json(Method::POST, "/api/devices", body).await;
    assert_error(
        status,
        &error,
        StatusCode::BAD_REQUEST,
        "device ID is empty",
    );
    let request = api.req(Method::POST, "/api/devices").body("{}");
    let (status, error) = api.call(request).await;
    assert_error(
        status,
        &error,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "Content-Type",
    );

    let oversize = format!("{{\"id\": \"{}\"}}", "x".repeat(2 * 1024 * 1024));
    let request = api
        .req(Method::POST, "/api/devices")
        .header(header::CONTENT_TYPE, "application/json")
        .body(oversize);
    let (status, error) = api.call(request).await;
    assert_error(status, &error, StatusCode::PAYLOAD_TOO_LARGE, "too large");

    let (status, error) = api.get("/api/nothing-here").await;
    assert_error(status, &error, StatusCode::NOT_FOUND, "/api/nothing-here");
    let (status, error) = api.call(api.req(Method::PATCH, "/api/devices")).await;
    assert_error(status, &error, StatusCode::METHOD_NOT_ALLOWED, "PATCH");
    let (status, error) = api.get("/api/events?kind=alarms").await;
    assert_error(status, &error, StatusCode::BAD_REQUEST, "alarms");
}

#[tokio::test]
async fn a_named_camera_s_events_carry_its_labels_and_a_rename_reaches_the_next_alarm() {
    let api = Api::start().await;
    let body = json!({"id": "lab1", "username": "admin", "password": "pw",
                      "name": "Gate", "tags": ["yard", "site:b"]});
    let (status, view) = api.send_json(Method::POST, "/api/devices", body).await;
    assert_eq!(status, StatusCode::CREATED, "{view}");
    assert_eq!(
        (&view["name"], &view["tags"]),
        (&json!("Gate"), &json!(["yard", "site:b"]))
    );
    let client = api.client();
    let mut events = client.events(Some("lab1"), &[]).await.expect("stream");
    let _camera = camera(
        api.gw.addr(),
        homeport_simulator::CameraConfig {
            alarm_rate: 20.0,
            ..cam("lab1", "pw")
        },
    );
    let data = |message: &Message| serde_json::from_str::<Value>(&message.data).expect("JSON");
    let online = loop {
        let message = next_message(&mut events).await;
        if message.event == "online_changed" {
            break data(&message);
        }
    };
    assert_eq!(
        (&online["device_name"], &online["tags"]),
        (&json!("Gate"), &json!(["yard", "site:b"]))
    );
    // Renamed while online, tags removed: the alarms its session makes next say so.
    let change = json!({"name": "Front gate", "tags": []});
    let (status, view) = api
        .send_json(Method::PUT, "/api/devices/lab1", change)
        .await;
    assert_eq!(status, StatusCode::OK, "{view}");
    assert_eq!(
        (&view["name"], &view["tags"]),
        (&json!("Front gate"), &json!([]))
    );
    let deadline = Instant::now() + WAIT;
    loop {
        let message = next_message(&mut events).await;
        let alarm = data(&message);
        if message.event == "alarm" && alarm["device_name"] == "Front gate" {
            assert!(alarm.get("tags").is_none(), "no tags left: {alarm}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no alarm under the new name: {alarm}"
        );
    }
    // Bad labels are refused with the reason and change nothing.
    let (status, error) = api
        .send_json(
            Method::PUT,
            "/api/devices/lab1",
            json!({"name": "x".repeat(65)}),
        )
        .await;
    assert_error(status, &error, StatusCode::BAD_REQUEST, "the limit is 64");
    assert_eq!(api.get("/api/devices/lab1").await.1["name"], "Front gate");
    // They are stored: the export, read from the database, has them.
    let (_, exported) = api.get("/api/devices/export").await;
    assert_eq!(exported[0]["name"], "Front gate");
    assert!(exported[0].get("tags").is_none(), "{exported}");
}

#[tokio::test]
async fn event_stream_delivers_registered_and_online_changed_for_a_camera() {
    let api = Api::start().await;
    let client = api.client();
    let mut all = client.events(Some("sse1"), &[]).await.expect("stream");
    let mut online_only = client
        .events(None, &["online_changed".to_owned()])
        .await
        .expect("stream");
    api.add("sse1", "pw").await;
    let _camera = camera(api.gw.addr(), cam("sse1", "pw"));

    // Added: announced at once (offline, it never logged in), then its camera registers.
    let announced = next_message(&mut all).await;
    assert_eq!(announced.event, "announced");
    let data: Value = serde_json::from_str(&announced.data).expect("JSON data");
    assert_eq!(
        (&data["cause"], &data["online"]),
        (&json!("added"), &json!(false))
    );
    let registered = next_message(&mut all).await;
    assert_eq!(registered.event, "registered");
    let data: Value = serde_json::from_str(&registered.data).expect("JSON data");
    assert_eq!(
        (data["device"].as_str(), data["kind"].as_str()),
        (Some("sse1"), Some("registered"))
    );
    assert_eq!(registered.id.as_deref(), data["id"].as_str());
    let online = next_message(&mut all).await;
    assert_eq!(online.event, "online_changed");
    let data: Value = serde_json::from_str(&online.data).expect("JSON data");
    assert_eq!(
        (data["online"].as_bool(), data["reason"].as_str()),
        (Some(true), Some("login_ok"))
    );

    let filtered = next_message(&mut online_only).await;
    assert_eq!(filtered.event, "online_changed");
}

#[tokio::test]
async fn a_subscriber_that_falls_behind_is_told_how_many_events_it_missed() {
    let api = Api::start().await;
    let mut events = api
        .client()
        .events(Some("flood"), &[])
        .await
        .expect("stream");
    // Far more than the bus keeps for a subscriber (16 Ki events), in a burst nobody reads.
    let bus = api.gw.gateway.bus().clone();
    for channel in 0..50_000 {
        let alarm = EventKind::Alarm {
            channel,
            code: "VideoMotion".to_owned(),
            action: "pulse".to_owned(),
            device_time: None,
            device_utc: None,
            data: serde_json::Map::new(),
        };
        bus.publish(Event::new("flood", alarm));
    }
    let lagged = loop {
        let message = next_message(&mut events).await;
        match message.event.as_str() {
            "alarm" => {}
            "lagged" => break message,
            other => panic!("unexpected {other}"),
        }
    };
    let missed: Value = serde_json::from_str(&lagged.data).expect("JSON");
    assert!(missed["missed"].as_u64().is_some_and(|n| n > 0), "{missed}");
    // And the stream carries on with the events after the gap.
    assert_eq!(next_message(&mut events).await.event, "alarm");
}

#[tokio::test]
async fn shutdown_ends_open_event_streams_and_the_server() {
    let mut api = Api::start().await;
    let mut events = api.client().events(None, &[]).await.expect("stream");
    api.stop.cancel();
    let server = api.server.take().expect("server task");
    let served = tokio::time::timeout(Duration::from_secs(3), server).await;
    assert!(matches!(served, Ok(Ok(Ok(())))), "{served:?}");
    let end = tokio::time::timeout(Duration::from_secs(3), events.next()).await;
    assert!(matches!(end, Ok(Ok(None))), "{end:?}");
}

#[tokio::test]
async fn stopped_listener_refuses_new_cameras_until_started_again() {
    let api = Api::start().await;
    let _connected = api.online_camera("stay1").await;
    let old = api.gw.addr();
    let (status, stopped) = api
        .call(api.req(Method::POST, "/api/listeners/register/stop"))
        .await;
    assert_eq!(
        (status, stopped),
        (StatusCode::OK, json!({"listening": false, "addr": null}))
    );
    let (_, listeners) = api.get("/api/listeners").await;
    assert_eq!(listeners["register"]["listening"], false);

    // Nothing accepts on the old address; a camera dialling it never registers.
    let deadline = Instant::now() + WAIT;
    while TcpStream::connect(old).await.is_ok() {
        assert!(Instant::now() < deadline, "the listener still accepts");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    api.add("new1", "pw").await;
    let _refused = camera(old, cam("new1", "pw"));
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(api.get("/api/devices/new1").await.1["state"], "offline");
    // Connected devices stay connected.
    assert_eq!(api.get("/api/devices/stay1").await.1["state"], "online");

    let (status, started) = api
        .call(api.req(Method::POST, "/api/listeners/register/start"))
        .await;
    assert_eq!(status, StatusCode::OK, "{started}");
    assert_eq!(started["listening"], true);
    // The test gateway binds port 0, so a restart may pick another port: dial what it says.
    let addr = started["addr"]
        .as_str()
        .expect("addr")
        .parse()
        .expect("socket addr");
    let _admitted = camera(addr, cam("new1", "pw"));
    api.wait_state("new1", "online").await;
}

#[tokio::test]
async fn cli_manages_devices_through_the_api() {
    let api = Api::start().await;
    let exe = env!("CARGO_BIN_EXE_homeport");
    let base = api.base.clone();
    let run = move |args: &[&str]| {
        let mut command = std::process::Command::new(exe);
        command
            .args(["devices", "--admin", &base, "--token", TOKEN])
            .args(args);
        command.env_remove("HOMEPORT_ADMIN_TOKEN");
        command
    };
    let output = |mut command: std::process::Command| async move {
        tokio::task::spawn_blocking(move || command.output().expect("runs"))
            .await
            .expect("joins")
    };
    let added = output(run(&[
        "add",
        "cli1",
        "--user",
        "admin",
        "--password",
        "pw",
        "--protocol",
        "dvrip",
        "--name",
        "Gate",
        "--tag",
        "yard",
        "--tag",
        "site:b",
    ]))
    .await;
    assert!(
        added.status.success(),
        "{}",
        String::from_utf8_lossy(&added.stderr)
    );

    let listed = output(run(&["list", "--json"])).await;
    assert!(
        listed.status.success(),
        "{}",
        String::from_utf8_lossy(&listed.stderr)
    );
    let devices: Value = serde_json::from_slice(&listed.stdout).expect("JSON");
    assert_eq!(devices[0]["id"], "cli1");
    assert_eq!(devices[0]["login_protocol"], "dvrip");
    assert_eq!(
        (&devices[0]["name"], &devices[0]["tags"]),
        (&json!("Gate"), &json!(["yard", "site:b"]))
    );
    let renamed = output(run(&["modify", "cli1", "--name", "Gate north"])).await;
    assert!(
        renamed.status.success(),
        "{}",
        String::from_utf8_lossy(&renamed.stderr)
    );
    let table = output(run(&["list"])).await;
    let table = String::from_utf8_lossy(&table.stdout).into_owned();
    assert!(
        table.starts_with("ID    NAME        TAGS         STATE")
            && table.contains("cli1  Gate north  yard site:b  offline"),
        "{table}"
    );
    let other_tag = output(run(&["list", "--json", "--tag", "yard", "--tag", "indoor"])).await;
    assert_eq!(
        serde_json::from_slice::<Value>(&other_tag.stdout).expect("JSON"),
        json!([])
    );
    let bad = output(run(&["modify", "cli1", "--tag", "a,b"])).await;
    assert!(!bad.status.success());
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("tag \"a,b\""),
        "{}",
        String::from_utf8_lossy(&bad.stderr)
    );

    let exported = output(run(&["export", "--format", "csv", "--secrets"])).await;
    assert_eq!(
        String::from_utf8_lossy(&exported.stdout),
        "id,username,password,login_protocol,name,tags\ncli1,admin,pw,dvrip,Gate north,yard site:b\n"
    );

    let missing = output(run(&["delete", "nope"])).await;
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("device \"nope\" not found"));
    let deleted = output(run(&["delete", "cli1"])).await;
    assert!(deleted.status.success());
    assert_eq!(api.get("/api/devices").await.1, json!([]));
}

#[tokio::test]
async fn announce_sends_every_known_device_and_no_stranger() {
    let api = Api::start().await;
    api.add("ann-b", "pw").await;
    api.add("ann-a", "pw").await;
    let _stranger = camera(api.gw.addr(), cam("stranger", "pw"));
    api.wait_state("stranger", "pending").await;
    let client = api.client();
    let mut events = client
        .events(None, &["announced".to_owned()])
        .await
        .expect("stream");
    let report = client.announce().await.expect("announced");
    assert_eq!(
        report.announced, 2,
        "the two added devices, not the stranger"
    );
    let mut seen = Vec::new();
    for _ in 0..2 {
        let message = next_message(&mut events).await;
        let data: Value = serde_json::from_str(&message.data).expect("JSON");
        assert_eq!(
            (
                message.event.as_str(),
                &data["cause"],
                &data["online"],
                &data["state"]
            ),
            (
                "announced",
                &json!("requested"),
                &json!(false),
                &json!("offline")
            ),
            "{data}"
        );
        seen.push(data["device"].as_str().unwrap_or_default().to_owned());
    }
    assert_eq!(seen, ["ann-a", "ann-b"], "in ID order");
}

#[tokio::test]
async fn gateway_info_and_pipeline_stats_say_what_runs() {
    let api = Api::start().await;
    let (status, info) = api.get("/api/gateway").await;
    assert_eq!(status, StatusCode::OK, "{info}");
    assert_eq!(info["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(info["register"]["listening"], true);
    assert_eq!(
        info["register"]["addr"],
        api.gw.addr().to_string(),
        "{info}"
    );
    assert_eq!(
        (&info["mqtt"], &info["nats"]),
        (
            &json!({"configured": false, "connected": false}),
            &json!({"configured": false, "connected": false})
        )
    );
    // This node runs no pipelines: the stats say so, as the list does.
    let (status, error) = api.get("/api/pipelines/stats").await;
    assert_error(
        status,
        &error,
        StatusCode::SERVICE_UNAVAILABLE,
        "no pipelines are running",
    );
}
