//! Simulated cameras against an in-test platform: register mode, both logins, config,
//! events, snapshot, faults, reconnects, and a small fleet.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{LoginOutcome, Platform, Running, name};
use homeport_protocol::dvrip::LoginResult;
use homeport_protocol::rpc::config::{ConfigTable, DvripConfig};
use homeport_protocol::rpc::event::{EventAction, NotifyEventStream};
use homeport_protocol::rpc::login::LoginRefusedParams;
use homeport_protocol::rpc::snapshot::SnapReplyParams;
use homeport_protocol::rpc::{Reply, Request, codes, method};
use homeport_protocol::wire::detect;
use homeport_simulator::fault::Fault;
use homeport_simulator::register::RegisterOptions;
use homeport_simulator::{CameraConfig, Firmware, Fleet, FleetConfig};
use serde_json::{Value, json};
use tokio::io::AsyncReadExt;

/// A camera that speaks both logins on its registration socket, as these tests use DHIP.
fn camera(id: &str) -> CameraConfig {
    common::camera(id, Firmware::DvripDhip)
}

#[tokio::test]
async fn registered_camera_serves_a_full_dhip_session() {
    let platform = Platform::bind().await;
    let Running { cancel, stats, .. } = platform.start_camera(CameraConfig {
        alarm_rate: 20.0,
        ..camera("cam-full")
    });
    let mut conn = platform.registered_as("cam-full").await;
    let LoginOutcome::Ok { keep_alive, .. } = conn.login("admin", "secret").await else {
        panic!("login refused")
    };
    assert_eq!(keep_alive, 60);

    // The DVRIP table names this platform as the register server.
    let (reply, _) = conn.call(method::GET_CONFIG, name("DVRIP")).await;
    let table: ConfigTable = reply.params().expect("table");
    let mut dvrip: DvripConfig = serde_json::from_value(table.table).expect("DVRIP");
    assert!(dvrip.register_server.enable);
    assert_eq!(dvrip.register_server.device_id, "cam-full");
    assert_eq!(
        format!("127.0.0.1:{}", dvrip.register_server.servers[0].port),
        platform.addr()
    );

    // Set persists, unknown fields included.
    dvrip
        .extra
        .insert("FutureField".to_owned(), json!({"kept": true}));
    dvrip.tcp_port = 37778;
    let (reply, _) = conn
        .call(
            method::SET_CONFIG,
            ConfigTable {
                name: Some("DVRIP".to_owned()),
                table: serde_json::to_value(&dvrip).expect("json"),
            },
        )
        .await;
    assert!(reply.is_ok(), "{reply:?}");
    let (reply, _) = conn.call(method::GET_CONFIG, name("DVRIP")).await;
    assert_eq!(reply.params["table"]["TCPPort"], 37778);
    assert_eq!(reply.params["table"]["FutureField"], json!({"kept": true}));

    // Keepalive, device info, multicall.
    let (reply, _) = conn
        .call(method::KEEP_ALIVE, json!({"timeout": 60, "active": true}))
        .await;
    assert!(reply.is_ok());
    let calls = json!([
        {"id": 100, "session": conn.session, "method": method::GET_DEVICE_TYPE, "params": null},
        {"id": 101, "session": conn.session, "method": method::GET_CURRENT_TIME, "params": null}
    ]);
    let (reply, _) = conn.call(method::MULTICALL, calls).await;
    let replies: Vec<Reply> = reply.params().expect("replies");
    assert_eq!(
        replies.iter().map(|r| r.id).collect::<Vec<_>>(),
        vec![100, 101]
    );
    assert!(
        replies[0].params["type"]
            .as_str()
            .expect("type")
            .starts_with("IPC-")
    );
    assert_eq!(replies[1].params["time"].as_str().expect("time").len(), 19);

    // Events: attach, then alarms arrive with the attach id and SID.
    let (reply, _) = conn
        .call(method::EVENT_ATTACH, json!({"codes": ["All"]}))
        .await;
    let sid = reply.params["SID"].as_u64().expect("SID");
    let notification = conn.notification().await;
    assert_eq!(notification.method, method::NOTIFY_EVENT_STREAM);
    let params: NotifyEventStream = notification.params().expect("event stream");
    assert_eq!(u64::from(params.sid), sid);
    let event = &params.event_list[0];
    assert!(event.utc().is_some() && event.locale_time().is_some());
    assert!(matches!(
        event.action,
        EventAction::Start | EventAction::Stop | EventAction::Pulse | EventAction::State
    ));

    // Snapshot: JSON, newline, JPEG in one message.
    let (reply, payload) = conn.call(method::SNAP_PICTURE, json!({"channel": 0})).await;
    let snap: SnapReplyParams = reply.params().expect("snap params");
    let image = snap.check(payload.as_deref()).expect("a JPEG");
    assert!(image.len() > 1000);
    let (reply, _) = conn.call(method::SNAP_PICTURE, json!({"channel": 5})).await;
    assert_eq!(reply.error_code(), Some(codes::BAD_REQUEST));

    // Logout ends the connection.
    let (reply, _) = conn.call(method::LOGOUT, Value::Null).await;
    assert!(reply.is_ok());
    assert!(conn.closed_within(Duration::from_secs(5)).await);
    let now = stats.snapshot();
    assert_eq!(now.devices_logged_in, 1);
    assert!(now.alarms_sent >= 1);
    cancel.cancel();
}

#[tokio::test]
async fn dvrip_realm_login_then_json_in_f6_packets() {
    let platform = Platform::bind().await;
    let Running { cancel, .. } = platform.start_camera(CameraConfig {
        alarm_rate: 20.0,
        ..camera("cam-dvrip")
    });
    let mut conn = platform.registered_as("cam-dvrip").await;
    conn.logged_in_dvrip("admin", "secret").await;
    let (reply, _) = conn.call(method::GET_CONFIG, name("DVRIP")).await;
    assert_eq!(
        reply.params["table"]["RegisterServer"]["DeviceID"],
        "cam-dvrip"
    );
    let (reply, _) = conn
        .call(method::EVENT_ATTACH, json!({"codes": ["All"]}))
        .await;
    assert!(reply.is_ok());
    let notification = conn.notification().await;
    assert_eq!(notification.method, method::NOTIFY_EVENT_STREAM);
    cancel.cancel();
}

#[tokio::test]
async fn wrong_password_is_refused_with_remaining_tries_then_locked() {
    let platform = Platform::bind().await;
    let Running { cancel, .. } = platform.start_camera(CameraConfig {
        faults: vec![Fault::WrongPassword],
        ..camera("cam-wrong")
    });
    let mut conn = platform.registered().await;
    for expected_left in [4, 3, 2, 1] {
        let LoginOutcome::Refused(reply) = conn.login("admin", "secret").await else {
            panic!("accepted a wrong password")
        };
        assert_eq!(reply.error_code(), Some(codes::BAD_PASSWORD));
        let params: LoginRefusedParams = reply.params().expect("refusal params");
        assert_eq!(params.remain_login_times, expected_left);
    }
    let LoginOutcome::Refused(reply) = conn.login("admin", "secret").await else {
        panic!("accepted")
    };
    assert_eq!(reply.error_code(), Some(codes::LOCKED));
    // DVRIP logins count against the same budget.
    let reply = conn.login_dvrip("admin", "secret").await;
    assert_eq!(reply.result, LoginResult::Locked);
    cancel.cancel();
}

#[tokio::test]
async fn silent_camera_stops_answering_keepalives_but_answers_the_rest() {
    let platform = Platform::bind().await;
    let Running { cancel, .. } = platform.start_camera(CameraConfig {
        faults: vec![Fault::Silent],
        ..camera("cam-silent")
    });
    let mut conn = platform.registered().await;
    let session = conn.logged_in("admin", "secret").await;
    let keepalive = Request::new(
        77,
        session,
        method::KEEP_ALIVE,
        json!({"timeout": 60, "active": true}),
    );
    conn.send_dhip(&keepalive).await;
    let answered = tokio::time::timeout(
        Duration::from_millis(800),
        futures::StreamExt::next(&mut conn.framed),
    )
    .await;
    assert!(
        answered.is_err(),
        "a silent camera answered a keepalive: {answered:?}"
    );
    let (reply, _) = conn.call(method::GET_CONFIG, name("General")).await;
    assert!(reply.is_ok());
    cancel.cancel();
}

#[tokio::test]
async fn garbage_camera_writes_junk_before_its_announcement_and_comes_back() {
    let platform = Platform::bind().await;
    let Running { cancel, .. } = platform.start_camera(CameraConfig {
        faults: vec![Fault::Garbage],
        ..camera("cam-junk")
    });
    // Refused the way a platform refuses junk (by hanging up), the camera dials again.
    for _ in 0..2 {
        let (mut stream, _) = platform.listener.accept().await.expect("accept");
        let mut first = [0u8; 1];
        stream.read_exact(&mut first).await.expect("junk");
        assert!(detect(&first).is_err(), "junk must open neither framing");
    }
    cancel.cancel();
}

#[tokio::test]
async fn dropped_camera_reconnects_and_announces_again() {
    let platform = Platform::bind().await;
    let Running { cancel, stats, .. } = platform.start_camera(camera("cam-drop"));
    let first = platform.registered_as("cam-drop").await;
    drop(first);
    let mut second = platform.registered_as("cam-drop").await;
    second.logged_in("admin", "secret").await;
    let now = stats.snapshot();
    assert_eq!((now.connects, now.devices_connected), (2, 1));
    cancel.cancel();
}

#[tokio::test]
async fn flapping_camera_drops_its_session_and_registers_again() {
    let platform = Platform::bind().await;
    let config = CameraConfig {
        faults: vec![Fault::Flapping],
        flap_max: Duration::from_millis(500),
        ..camera("cam-flap")
    };
    let Running { cancel, .. } = platform.start_camera(config);
    let mut conn = platform.registered().await;
    conn.logged_in("admin", "secret").await;
    assert!(
        conn.closed_within(Duration::from_secs(3)).await,
        "a flapping camera keeps its session"
    );
    let _again = platform.registered_as("cam-flap").await;
    cancel.cancel();
}

#[tokio::test]
async fn slow_camera_delays_every_reply() {
    let platform = Platform::bind().await;
    let config = CameraConfig {
        faults: vec![Fault::Slow],
        slow_delay: Duration::from_millis(300),
        ..camera("cam-slow")
    };
    let Running { cancel, .. } = platform.start_camera(config);
    let mut conn = platform.registered().await;
    let started = Instant::now();
    conn.logged_in("admin", "secret").await;
    // Two replies (challenge and result), each held back.
    assert!(
        started.elapsed() >= Duration::from_millis(600),
        "replies came after {:?}",
        started.elapsed()
    );
    cancel.cancel();
}

#[tokio::test]
async fn calls_before_login_and_unknown_methods_get_errors() {
    let platform = Platform::bind().await;
    let Running { cancel, .. } = platform.start_camera(camera("cam-errors"));
    let mut conn = platform.registered().await;
    let (reply, _) = conn.call(method::GET_CONFIG, name("DVRIP")).await;
    assert_eq!(reply.error_code(), Some(codes::INVALID_SESSION));
    conn.logged_in("admin", "secret").await;
    let (reply, _) = conn.call("nosuch.method", Value::Null).await;
    assert_eq!(reply.error_code(), Some(codes::METHOD_NOT_FOUND));
    let (reply, _) = conn.call(method::GET_CONFIG, name("NoSuchTable")).await;
    assert!(!reply.is_ok());
    cancel.cancel();
}

#[tokio::test]
async fn camera_hangs_up_on_a_platform_that_never_logs_in() {
    let platform = Platform::bind().await;
    let options = RegisterOptions {
        login_timeout: Duration::from_millis(300),
        ..RegisterOptions::default()
    };
    let Running { cancel, .. } = platform.start_camera_with(camera("cam-wait"), options);
    let mut conn = platform.registered().await;
    assert!(conn.closed_within(Duration::from_secs(3)).await);
    cancel.cancel();
}

#[tokio::test]
async fn camera_expires_a_session_without_keepalives() {
    let platform = Platform::bind().await;
    let Running { cancel, .. } = platform.start_camera(CameraConfig {
        keep_alive_interval: 1,
        ..camera("cam-expire")
    });
    let mut conn = platform.registered().await;
    let LoginOutcome::Ok { keep_alive, .. } = conn.login("admin", "secret").await else {
        panic!("refused")
    };
    assert_eq!(keep_alive, 1);
    // Three missed intervals end the session.
    assert!(conn.closed_within(Duration::from_secs(6)).await);
    cancel.cancel();
}

#[tokio::test]
async fn fleet_of_two_hundred_registers_and_is_logged_in() {
    let platform = Platform::bind().await;
    let mut config = FleetConfig::new(platform.addr(), 200, "fleet", "pw");
    config.alarm_rate = 1.0;
    config.firmware = Firmware::DvripDhip;
    let fleet = Fleet::start(config);
    let mut ids = std::collections::HashSet::new();
    let mut sessions = Vec::new();
    while ids.len() < 200 {
        let mut conn = platform.accept().await;
        let id = conn.announcement().await;
        sessions.push(tokio::spawn(async move {
            conn.logged_in("admin", "pw").await;
            let (reply, _) = conn
                .call(method::EVENT_ATTACH, json!({"codes": ["All"]}))
                .await;
            assert!(reply.is_ok());
            conn
        }));
        ids.insert(id);
    }
    assert!(ids.contains("fleet1") && ids.contains("fleet200"));
    let mut conns = Vec::new();
    for session in sessions {
        conns.push(session.await.expect("session task"));
    }
    let stats = Arc::clone(fleet.stats());
    let deadline = Instant::now() + Duration::from_secs(10);
    while stats.snapshot().alarms_sent == 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let now = stats.snapshot();
    assert_eq!(
        (
            now.devices_connected,
            now.devices_logged_in,
            now.logged_in_now
        ),
        (200, 200, 200)
    );
    assert!(now.alarms_sent > 0);
    fleet.stop().await;
    assert_eq!(stats.snapshot().connected_now, 0);
}

#[tokio::test]
async fn new_register_server_written_by_the_platform_moves_the_camera() {
    let first = Platform::bind().await;
    let second = Platform::bind().await;
    let Running { cancel, .. } = first.start_camera(camera("cam-move"));
    let mut conn = first.registered().await;
    conn.logged_in("admin", "secret").await;
    let (reply, _) = conn.call(method::GET_CONFIG, name("DVRIP")).await;
    let mut table = reply.params["table"].clone();

    // Writing the same table back keeps the session.
    let (reply, _) = conn
        .call(method::SET_CONFIG, json!({"name": "DVRIP", "table": table}))
        .await;
    assert!(reply.is_ok());
    let (reply, _) = conn
        .call(method::KEEP_ALIVE, json!({"timeout": 60, "active": true}))
        .await;
    assert!(reply.is_ok());

    // A new server: the camera hangs up and registers there under the new ID.
    let addr = second.listener.local_addr().expect("addr");
    table["RegisterServer"]["Servers"][0] =
        json!({"Address": addr.ip().to_string(), "Port": addr.port()});
    table["RegisterServer"]["DeviceID"] = json!("cam-moved");
    let (reply, _) = conn
        .call(method::SET_CONFIG, json!({"name": "DVRIP", "table": table}))
        .await;
    assert!(reply.is_ok());
    assert!(conn.closed_within(Duration::from_secs(3)).await);
    let mut moved = second.registered_as("cam-moved").await;
    moved.logged_in("admin", "secret").await;
    cancel.cancel();
}
