//! Firmware profiles over real sockets: what each answers on its registration socket and on a
//! direct connection, the 2010 firmware's announcement, 3DES login and version byte, `a1`
//! keep-life, `f4`, and legacy alarms pushed on the registration socket.

mod common;

use std::time::Duration;

use common::{Conn, Platform, Running, camera, start_direct};
use homeport_protocol::dvrip::packet::alarm;
use homeport_protocol::dvrip::{DvripPacket, LoginResult, PlainCredentials, TextRpc};
use homeport_protocol::hash::{Gen0Variant, gen0};
use homeport_protocol::rpc::login::LoginParams;
use homeport_protocol::rpc::{Request, codes, method};
use homeport_simulator::snapshot::JPEG;
use homeport_simulator::{CameraConfig, Firmware};
use serde_json::json;
use tokio::time::timeout;

/// Long enough for a camera that answers to have answered on loopback.
const QUIET: Duration = Duration::from_millis(400);

fn plain(user: &str, password: &str) -> DvripPacket {
    DvripPacket::PlainLogin {
        credentials: Some(PlainCredentials {
            user: user.to_owned(),
            password: password.to_owned(),
        }),
    }
}

fn des(user: &str, password: &str) -> [u8; 16] {
    let mut credentials = [0u8; 16];
    credentials[..8].copy_from_slice(&gen0(user.as_bytes(), Gen0Variant::Dahua));
    credentials[8..].copy_from_slice(&gen0(password.as_bytes(), Gen0Variant::Dahua));
    credentials
}

/// Sends DHIP `global.login` step 1 without waiting for an answer.
async fn send_dhip_login(conn: &mut Conn) {
    let request = Request::new(1, 0, method::LOGIN, LoginParams::challenge_request("admin"));
    conn.send_dhip(&request).await;
}

#[tokio::test]
async fn dvrip_only_camera_ignores_dhip_on_its_registration_socket_and_serves_dvrip() {
    let platform = Platform::bind().await;
    let Running { cancel, .. } = platform.start_camera(CameraConfig {
        channels: 3,
        ..camera("cam-dvrip-only", Firmware::DvripOnly)
    });
    let mut conn = platform.registered().await;
    send_dhip_login(&mut conn).await;
    assert!(conn.silent_for(QUIET).await, "DHIP was answered");
    let reply = conn.login_dvrip("admin", "secret").await;
    assert_eq!(
        (reply.result, reply.channels, reply.device_type),
        (LoginResult::Success, 3, 0x33)
    );
    let (answer, _) = conn.call(method::SNAP_PICTURE, json!({"channel": 0})).await;
    assert_eq!(answer.error_code(), Some(codes::METHOD_NOT_FOUND));
    conn.send_dvrip(DvripPacket::SnapRequest {
        channel: 2,
        mode: 0,
        serial: 5,
    })
    .await;
    let mut picture = Vec::new();
    loop {
        match conn.next_dvrip().await {
            DvripPacket::SnapData {
                channel: 2,
                serial: 5,
                chunk,
            } if chunk.is_empty() => break,
            DvripPacket::SnapData {
                channel: 2,
                serial: 5,
                chunk,
            } => picture.extend_from_slice(&chunk),
            other => panic!("expected a snapshot piece, got {other:?}"),
        }
    }
    assert_eq!(picture, JPEG);
    cancel.cancel();
}

#[tokio::test]
async fn dvrip_only_camera_accepts_dhip_and_dvrip_on_a_direct_connection() {
    let (addr, Running { cancel, .. }) =
        start_direct(camera("cam-direct", Firmware::DvripOnly)).await;
    let mut dhip = Conn::connect(addr).await;
    dhip.logged_in("admin", "secret").await;
    let mut dvrip = Conn::connect(addr).await;
    dvrip.logged_in_dvrip("admin", "secret").await;
    cancel.cancel();
}

#[tokio::test]
async fn dhip_only_camera_ignores_dvrip_logins_on_its_registration_socket() {
    let platform = Platform::bind().await;
    let Running { camera, cancel, .. } =
        platform.start_camera(camera("cam-dhip-only", Firmware::DhipOnly));
    let mut conn = platform.registered().await;
    conn.send_dvrip(DvripPacket::LoginOpen {
        credentials: [0; 16],
    })
    .await;
    conn.send_dvrip(plain("admin", "wrong")).await;
    conn.send_dvrip(DvripPacket::LoginHash {
        body: "admin&&x".into(),
    })
    .await;
    assert!(conn.silent_for(QUIET).await, "a DVRIP login was answered");
    assert_eq!(camera.refused_logins(), 0);
    conn.logged_in("admin", "secret").await;
    cancel.cancel();
}

#[tokio::test]
async fn dvrip_plus_dhip_camera_takes_both_logins_on_its_registration_socket() {
    let platform = Platform::bind().await;
    let Running { cancel, .. } = platform.start_camera(camera("cam-both", Firmware::DvripDhip));
    let mut first = platform.registered().await;
    first.logged_in("admin", "secret").await;
    let (reply, payload) = first
        .call(method::SNAP_PICTURE, json!({"channel": 0}))
        .await;
    assert!(reply.is_ok());
    assert_eq!(payload.as_deref(), Some(JPEG));
    // The same camera, after it re-registers, takes the DVRIP login too.
    drop(first);
    let mut second = platform.registered().await;
    second.logged_in_dvrip("admin", "secret").await;
    cancel.cancel();
}

#[tokio::test]
async fn legacy_camera_announces_48_bytes_and_logs_in_with_3des_in_version_6() {
    let platform = Platform::bind().await;
    let Running { camera, cancel, .. } = platform.start_camera(CameraConfig {
        channels: 2,
        ..camera("cam-2010", Firmware::Legacy2010)
    });
    let mut conn = platform.accept().await;
    let announcement = conn.next_dvrip_frame().await;
    assert_eq!(
        &announcement.header[..12],
        &[0xb4, 0, 0, 0x78, 48, 0, 0, 0, 7, 0, 0, 0]
    );
    assert_eq!(&announcement.body[..8], b"cam-2010");
    assert!(announcement.body[8..].iter().all(|&b| b == 0));

    // No DHIP; an all-zero opening costs nothing; a wrong password costs one try.
    send_dhip_login(&mut conn).await;
    assert!(conn.silent_for(QUIET).await, "DHIP was answered");
    conn.send_dvrip(DvripPacket::LoginOpen {
        credentials: [0; 16],
    })
    .await;
    let zero = conn.next_dvrip_frame().await;
    assert_eq!(&zero.header[..4], &[0xb0, 0, 0, 0x68]);
    assert_eq!((zero.header[8], zero.header[9], zero.header[29]), (1, 1, 5));
    conn.send_dvrip(DvripPacket::LoginOpen {
        credentials: des("admin", "wrong"),
    })
    .await;
    assert_eq!(conn.login_result().await.result, LoginResult::BadPassword);
    assert_eq!((camera.tries_left(), camera.refused_logins()), (4, 1));
    conn.send_dvrip(DvripPacket::LoginOpen {
        credentials: des("admin", "secret"),
    })
    .await;
    let reply = conn.login_result().await;
    assert_eq!(
        (reply.result, reply.version, reply.channels),
        (LoginResult::Success, 6, 2)
    );

    // No f6 JSON; the 2010 services answer in version 6.
    conn.send_dvrip(DvripPacket::Json {
        request_id: 1,
        session: reply.session,
        is_reply: false,
        body: format!(
            r#"{{"id":1,"session":{},"method":"magicBox.getDeviceType"}}"#,
            reply.session
        )
        .into(),
    })
    .await;
    assert!(conn.silent_for(QUIET).await, "f6 JSON was answered");
    conn.send_dvrip(DvripPacket::KeepAlive).await;
    assert_eq!(
        &conn.next_dvrip_frame().await.header[..4],
        &[0xb1, 0, 0, 0x68]
    );
    conn.send_dvrip(DvripPacket::AlarmSubscribe {
        op: 2,
        kind: alarm::MOTION,
    })
    .await;
    let state = conn.next_dvrip_frame().await;
    assert_eq!(&state.header[..4], &[0x69, 0, 0, 0x68]);
    assert_eq!(state.body.as_ref(), &[0, 0]);
    cancel.cancel();
}

#[tokio::test]
async fn legacy_camera_with_a_48_byte_id_never_dials() {
    let platform = Platform::bind().await;
    let config = camera(&"x".repeat(48), Firmware::Legacy2010);
    assert!(config.validate().is_err());
    let Running { cancel, .. } = platform.start_camera(config);
    let dialled = timeout(Duration::from_millis(800), platform.listener.accept()).await;
    assert!(dialled.is_err(), "a 2010 camera announced a 48-byte ID");
    cancel.cancel();
}

#[tokio::test]
async fn plain_logins_share_the_lockout_budget_and_log_in_over_dvrip() {
    let platform = Platform::bind().await;
    let Running { camera, cancel, .. } =
        platform.start_camera(camera("cam-plain", Firmware::DvripOnly));
    let mut conn = platform.registered().await;
    conn.send_dvrip(plain("admin", "guess")).await;
    let refused = conn.login_result().await;
    assert_eq!(
        (refused.result, refused.remaining_tries),
        (LoginResult::BadPassword, 4)
    );
    conn.send_dvrip(plain("administrator", "a long wrong password"))
        .await;
    assert_eq!(conn.login_result().await.result, LoginResult::BadUser);
    assert_eq!((camera.tries_left(), camera.refused_logins()), (3, 2));
    conn.send_dvrip(plain("admin", "secret")).await;
    assert_eq!(conn.login_result().await.result, LoginResult::Success);
    assert_eq!(camera.tries_left(), 5, "a success restores the budget");
    let (reply, _) = conn.call(method::GET_DEVICE_TYPE, json!(null)).await;
    assert!(reply.is_ok());
    cancel.cancel();
}

#[tokio::test]
async fn a1_keep_life_keeps_a_dvrip_session_past_its_expiry() {
    let platform = Platform::bind().await;
    let Running { cancel, .. } = platform.start_camera(CameraConfig {
        keep_alive_interval: 1,
        ..camera("cam-a1", Firmware::DvripOnly)
    });
    let mut conn = platform.registered().await;
    conn.logged_in_dvrip("admin", "secret").await;
    // Three silent seconds would expire it; a1 every 0.4 s for 4 s keeps it.
    for _ in 0..10 {
        conn.send_dvrip(DvripPacket::KeepAlive).await;
        let answer = conn.next_dvrip_frame().await;
        assert_eq!(answer.to_vec()[..4], [0xb1, 0, 0, 0x78]);
        tokio::time::sleep(Duration::from_millis(400)).await;
    }
    assert!(conn.closed_within(Duration::from_secs(6)).await);
    cancel.cancel();
}

#[tokio::test]
async fn f4_requests_on_the_registration_socket_get_their_responses() {
    let platform = Platform::bind().await;
    let Running { cancel, .. } = platform.start_camera(camera("cam-f4", Firmware::DvripOnly));
    let mut conn = platform.registered().await;
    let ask = |conn_rpc: TextRpc| DvripPacket::TextRpc {
        is_reply: false,
        body: conn_rpc.encode().into(),
    };
    conn.send_dvrip(ask(TextRpc::request(
        1,
        "GetParameterValues",
        "Dahua.Device.Decode.Cfg",
    )))
    .await;
    let DvripPacket::TextRpc { body, .. } = conn.next_dvrip().await else {
        panic!("expected f4")
    };
    assert!(
        !TextRpc::parse(&body).expect("text").is_ok(),
        "OK before login"
    );
    conn.logged_in_dvrip("admin", "secret").await;
    conn.send_dvrip(ask(TextRpc::request(
        2,
        "AddObject",
        "Dahua.Device.Network.ControlConnection.Passive",
    )
    .with("ConnectProtocol", "0")))
        .await;
    let frame = conn.next_dvrip_frame().await;
    assert_eq!(&frame.header[..4], &[0xf4, 0, 0, 0x78]);
    let reply = TextRpc::parse(&frame.body).expect("text");
    assert!(reply.is_ok());
    assert_eq!(reply.method(), Some("AddObjectResponse"));
    assert_eq!(reply.transaction(), Some(2));
    assert!(reply.get("ConnectionID").is_some());
    assert_eq!(
        (reply.get("IP"), reply.get("Port")),
        (Some("0.0.0.0"), Some("37777"))
    );
    cancel.cancel();
}

#[tokio::test]
async fn legacy_alarm_states_are_pushed_and_json_notifications_still_flow() {
    let platform = Platform::bind().await;
    let Running { cancel, .. } = platform.start_camera(CameraConfig {
        alarm_rate: 10.0,
        channels: 2,
        ..camera("cam-alarms", Firmware::DvripOnly)
    });
    let mut conn = platform.registered().await;
    conn.logged_in_dvrip("admin", "secret").await;
    conn.send_dvrip(DvripPacket::AlarmSubscribe {
        op: 2,
        kind: alarm::MOTION,
    })
    .await;
    let DvripPacket::AlarmState { op, kind, states } = conn.next_dvrip().await else {
        panic!("expected the subscription's answer")
    };
    assert_eq!(
        (op, kind, states.as_ref()),
        (2, alarm::MOTION, &[0u8, 0][..])
    );
    let (reply, _) = conn
        .call(method::EVENT_ATTACH, json!({"codes": ["VideoMotion"]}))
        .await;
    assert!(reply.is_ok());
    // Follow the pushed states until a channel has gone active and back (a stop comes 1–8 s
    // after its start).
    let mut seen_active = [false; 2];
    let mut went_back = false;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while tokio::time::Instant::now() < deadline {
        let DvripPacket::AlarmState { op, kind, states } = conn.next_dvrip().await else {
            continue;
        };
        assert_eq!((op, kind, states.len()), (2, alarm::MOTION, 2));
        for (channel, &state) in states.iter().enumerate() {
            assert!(state <= 1);
            went_back |= seen_active[channel] && state == 0;
            seen_active[channel] |= state == 1;
        }
        if went_back {
            break;
        }
    }
    assert!(went_back, "no motion started and stopped");
    let notification = conn.notification().await;
    assert_eq!(notification.method, method::NOTIFY_EVENT_STREAM);
    cancel.cancel();
}
