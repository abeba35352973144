//! Registration security, played as the stranger: whoever announces an ID before proving who
//! they are gets nothing secret, holds nothing unbounded, and never displaces the device
//! that proved itself.

mod support;

use std::sync::Arc;
use std::time::Duration;

use homeport::device::LoginProtocol;
use homeport::event::{DeviceState, Event, EventKind, SecurityCode};
use homeport::gateway::device_credentials;
use homeport_protocol::dvrip::{DvripPacket, LoginReply};
use homeport_protocol::hash::{self, RealmChallenge};
use homeport_protocol::rpc::method;
use homeport_protocol::wire::WireFrame;
use homeport_simulator::CameraConfig;
use homeport_simulator::firmware::Firmware;
use serde_json::{Value, json};
use support::fake::{FakeCamera, Next};
use support::{TestGateway, camera_with_counters, eventually};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::broadcast;

const PASSWORD: &str = "Str4nger-Proof";

async fn add(gw: &TestGateway, id: &str, protocol: LoginProtocol) {
    gw.gateway
        .add_device(device_credentials(id, "admin", PASSWORD, protocol))
        .await
        .expect("added");
}

/// Everything a fake camera received, as text, until the gateway closes or goes quiet.
async fn everything_sent(camera: &mut FakeCamera, quiet: Duration) -> String {
    let mut seen = String::new();
    loop {
        match camera.next(quiet).await {
            Next::Frame(WireFrame::Dhip(message)) => {
                seen.push_str(&String::from_utf8_lossy(&message.body));
                seen.push('\n');
            }
            Next::Frame(WireFrame::Dvrip(frame)) => {
                seen.push_str(&format!("{:02x?}", frame.header));
                seen.push_str(&String::from_utf8_lossy(&frame.body));
                seen.push('\n');
            }
            Next::Closed | Next::Silence => return seen,
        }
    }
}

#[tokio::test]
async fn a_stranger_asking_for_a_weak_login_gets_nothing_usable() {
    for encryption in ["Plain", "Basic", "OldDigest"] {
        let gw = TestGateway::start().await;
        add(&gw, "weak-1", LoginProtocol::Dhip).await;
        let mut stranger = FakeCamera::announce(gw.addr(), "weak-1").await;
        let step1 = stranger.dhip().await;
        let request: Value = serde_json::from_slice(&step1.body).expect("JSON");
        assert_eq!(request["method"], "global.login");
        let challenge = json!({
            "id": request["id"], "session": 7, "result": false,
            "error": {"code": 268632079, "message": "Component error: login challenge!"},
            "params": {"realm": "Login to 0000", "random": "1", "encryption": encryption},
        });
        stranger.send_dhip(7, 0, challenge.to_string()).await;
        let rest = everything_sent(&mut stranger, Duration::from_secs(2)).await;
        let basic = format!("{:?}", ("admin", PASSWORD));
        for secret in [
            PASSWORD.to_owned(),
            hash::old_digest(PASSWORD),
            basic,
            // base64 of admin:password, as Basic would carry it
            "YWRtaW46U3RyNG5nZXItUHJvb2Y".to_owned(),
        ] {
            assert!(
                !rest.contains(&secret),
                "{encryption}: {secret} leaked in {rest}"
            );
        }
        let view = gw.gateway.registry().view("weak-1").expect("listed");
        assert_eq!(view.state, DeviceState::LoginFailed, "{encryption}");
        assert!(
            view.reason
                .as_deref()
                .is_some_and(|r| r.contains("exposes the password")),
            "{encryption}: {:?}",
            view.reason
        );
    }
}

#[tokio::test]
async fn a_login_accepted_without_a_challenge_is_refused() {
    let gw = TestGateway::start().await;
    add(&gw, "nochal-1", LoginProtocol::Dhip).await;
    let mut stranger = FakeCamera::announce(gw.addr(), "nochal-1").await;
    let step1 = stranger.dhip().await;
    let request: Value = serde_json::from_slice(&step1.body).expect("JSON");
    let accepted = json!({"id": request["id"], "session": 9, "result": true, "params": {"keepAliveInterval": 60}});
    stranger.send_dhip(9, 0, accepted.to_string()).await;
    let registry = gw.gateway.registry();
    eventually("refused", || {
        registry.view("nochal-1").is_some_and(|v| {
            v.state == DeviceState::LoginFailed
                && v.reason
                    .as_deref()
                    .is_some_and(|r| r.contains("without a challenge"))
        })
    })
    .await;
    // Nothing more is asked of it: no attach, no commands.
    let rest = everything_sent(&mut stranger, Duration::from_secs(1)).await;
    assert!(!rest.contains(method::EVENT_ATTACH), "{rest}");
    assert!(registry.handle("nochal-1").is_none());
}

#[tokio::test]
async fn a_squatter_on_an_unknown_id_gets_nothing_when_the_operator_adds_it() {
    let gw = TestGateway::start().await;
    let mut squatter = FakeCamera::announce(gw.addr(), "sq-1").await;
    let registry = gw.gateway.registry();
    eventually("pending", || {
        registry
            .view("sq-1")
            .is_some_and(|v| v.state == DeviceState::Pending)
    })
    .await;
    add(&gw, "sq-1", LoginProtocol::Auto).await;
    // The credentials are for the real camera; the connection that was waiting gets nothing.
    assert!(
        matches!(squatter.next(Duration::from_secs(2)).await, Next::Silence),
        "a login was sent over the pending connection"
    );
    let view = registry.view("sq-1").expect("listed");
    assert!(view.awaiting_accept, "{view:?}");
    assert_eq!(view.state, DeviceState::Pending);
    assert!(
        view.reason.as_deref().is_some_and(|r| r.contains("accept")),
        "{view:?}"
    );
    // An operator who vouches for the address accepts it; only then does a login start.
    assert!(registry.accept("sq-1"));
    let open = squatter.dvrip().await;
    assert!(matches!(
        DvripPacket::parse(&open),
        DvripPacket::LoginOpen { .. }
    ));
}

#[tokio::test]
async fn a_real_camera_that_reconnects_after_its_credentials_were_added_logs_in() {
    let gw = TestGateway::start().await;
    let pending = FakeCamera::announce(gw.addr(), "late-2").await;
    let registry = gw.gateway.registry();
    eventually("pending", || registry.view("late-2").is_some()).await;
    add(&gw, "late-2", LoginProtocol::Auto).await;
    drop(pending);
    let config = CameraConfig {
        firmware: Firmware::DvripOnly,
        ..CameraConfig::new("late-2", "admin", PASSWORD)
    };
    let (stop, _) = camera_with_counters(gw.addr(), config);
    eventually("online", || {
        registry.view("late-2").is_some_and(|v| v.online)
    })
    .await;
    stop.cancel();
}

/// Waits for the first security event of `device`.
async fn security(events: &mut broadcast::Receiver<Arc<Event>>, device: &str) -> Arc<Event> {
    support::wait_for(events, "a security event", |e| {
        e.device == device && e.kind_name() == "security"
    })
    .await
}

#[tokio::test]
async fn a_duplicate_announcement_does_not_take_the_real_session_offline() {
    let gw = TestGateway::start().await;
    add(&gw, "dup-1", LoginProtocol::Auto).await;
    let config = CameraConfig {
        firmware: Firmware::DvripOnly,
        ..CameraConfig::new("dup-1", "admin", PASSWORD)
    };
    let (stop, _) = camera_with_counters(gw.addr(), config);
    let registry = gw.gateway.registry();
    eventually("online", || {
        registry.view("dup-1").is_some_and(|v| v.online)
    })
    .await;
    let holder = registry.view("dup-1").and_then(|v| v.addr).expect("addr");
    let mut events = gw.gateway.bus().subscribe();
    for _ in 0..3 {
        let mut stranger = FakeCamera::announce(gw.addr(), "dup-1").await;
        stranger.closed().await;
    }
    let event = security(&mut events, "dup-1").await;
    let EventKind::Security { code, peer, detail } = &event.kind else {
        unreachable!("a security event")
    };
    assert_eq!(*code, SecurityCode::DuplicateId);
    assert!(
        detail.contains(&holder) && detail.contains(peer.as_str()),
        "{detail}"
    );
    let metrics = gw.gateway.metrics().render(registry);
    assert!(
        metrics.contains("homeport_duplicate_registrations_refused_total 3"),
        "{metrics}"
    );
    let view = registry.view("dup-1").expect("listed");
    assert!(view.online, "the proven session stays online: {view:?}");
    assert_eq!(view.addr.as_deref(), Some(holder.as_str()));
    assert!(
        !support::drain(&mut events)
            .iter()
            .any(|e| e.device == "dup-1" && e.kind_name() == "online_changed"),
        "no online change at all"
    );
    stop.cancel();
}

#[tokio::test]
async fn a_dead_session_is_taken_over_by_the_next_announcement() {
    let gw = TestGateway::start().await;
    add(&gw, "dup-2", LoginProtocol::Dvrip).await;
    // A fake that logs in and then stops answering anything.
    let mut first = FakeCamera::announce(gw.addr(), "dup-2").await;
    let _open = first.dvrip().await;
    let challenge = RealmChallenge::new("Login to D2", "5").expect("valid");
    first
        .send(DvripPacket::RealmChallenge {
            text: challenge.encode().into(),
        })
        .await;
    let _hash = first.dvrip().await;
    first
        .send(DvripPacket::LoginReply(LoginReply::success(3, 1, 0x33, 5)))
        .await;
    // Answer the identity and attach calls, then go silent.
    for _ in 0..3 {
        let frame = first.dvrip().await;
        if let DvripPacket::Json {
            request_id,
            session,
            body,
            ..
        } = DvripPacket::parse(&frame)
        {
            let call: Value =
                serde_json::from_slice(body.trim_ascii_end().strip_suffix(b"\0").unwrap_or(&body))
                    .unwrap_or(Value::Null);
            let params = match call["method"].as_str() {
                Some(method::GET_SERIAL_NO) => json!({"sn": "SN-D2"}),
                Some(method::GET_DEVICE_TYPE) => json!({"type": "IPC"}),
                _ => json!({"SID": 1}),
            };
            let reply =
                json!({"id": request_id, "session": session, "result": true, "params": params});
            first
                .send_f6(request_id, session, true, reply.to_string())
                .await;
        }
    }
    let registry = gw.gateway.registry();
    eventually("online", || {
        registry.view("dup-2").is_some_and(|v| v.online)
    })
    .await;
    // The second announcement probes the first, which does not answer: it takes over.
    let mut second = FakeCamera::announce(gw.addr(), "dup-2").await;
    let open = second.dvrip().await;
    assert!(matches!(
        DvripPacket::parse(&open),
        DvripPacket::LoginOpen { .. }
    ));
    drop(first);
}

#[tokio::test]
async fn forged_alarms_from_a_refused_impostor_never_reach_the_bus() {
    let gw = TestGateway::start().await;
    add(&gw, "pin-1", LoginProtocol::Auto).await;
    let config = CameraConfig {
        firmware: Firmware::DvripOnly,
        ..CameraConfig::new("pin-1", "admin", PASSWORD)
    };
    let (stop, _) = camera_with_counters(gw.addr(), config);
    let registry = gw.gateway.registry();
    eventually("online and pinned", || {
        registry
            .view("pin-1")
            .is_some_and(|v| v.online && v.identity.as_ref().is_some_and(|i| i.serial.is_some()))
    })
    .await;
    let identity = registry
        .view("pin-1")
        .and_then(|v| v.identity)
        .expect("pinned");
    let realm = identity
        .realm
        .as_deref()
        .and_then(|r| r.strip_prefix("dvrip:"))
        .expect("a DVRIP realm")
        .to_owned();
    stop.cancel();
    eventually("offline", || {
        registry.view("pin-1").is_some_and(|v| !v.online)
    })
    .await;
    let mut events = gw.gateway.bus().subscribe();

    // 1. Another realm: refused before any hash is sent.
    let mut impostor = FakeCamera::announce(gw.addr(), "pin-1").await;
    let _open = impostor.dvrip().await;
    impostor
        .send(DvripPacket::RealmChallenge {
            text: RealmChallenge::new("Login to IMPOSTOR", "1")
                .expect("valid")
                .encode()
                .into(),
        })
        .await;
    let rest = everything_sent(&mut impostor, Duration::from_secs(2)).await;
    assert!(!rest.contains("admin&&"), "a hash was sent: {rest}");
    let event = security(&mut events, "pin-1").await;
    assert!(matches!(
        &event.kind,
        EventKind::Security {
            code: SecurityCode::IdentityChanged,
            ..
        }
    ));

    // 2. The right realm (it is no secret) but another serial: refused after the login, and
    // the alarms it pushes are dropped with the connection.
    let mut impostor = FakeCamera::announce(gw.addr(), "pin-1").await;
    let _open = impostor.dvrip().await;
    impostor
        .send(DvripPacket::RealmChallenge {
            text: RealmChallenge::new(realm.clone(), "2")
                .expect("valid")
                .encode()
                .into(),
        })
        .await;
    let _hash = impostor.dvrip().await;
    impostor
        .send(DvripPacket::LoginReply(LoginReply::success(11, 1, 0x33, 5)))
        .await;
    let forged = json!({"id": 1, "method": "client.notifyEventStream", "session": 11,
        "params": {"SID": 1, "eventList": [{"Code": "VideoMotion", "Action": "Start", "Index": 0, "Data": {}}]}});
    loop {
        match impostor.next(support::WAIT).await {
            Next::Frame(WireFrame::Dvrip(frame)) => {
                if let DvripPacket::Json {
                    request_id,
                    session,
                    body,
                    ..
                } = DvripPacket::parse(&frame)
                {
                    let text = String::from_utf8_lossy(&body).to_string();
                    let params = if text.contains(method::GET_SERIAL_NO) {
                        json!({"sn": "NOT-THE-SERIAL"})
                    } else {
                        json!({"type": "IPC"})
                    };
                    let reply = json!({"id": request_id, "session": session, "result": true, "params": params});
                    impostor
                        .send_f6(request_id, session, true, reply.to_string())
                        .await;
                    impostor.send_f6(1, 11, false, forged.to_string()).await;
                }
            }
            Next::Frame(_) => {}
            Next::Closed | Next::Silence => break,
        }
    }
    let event = security(&mut events, "pin-1").await;
    let EventKind::Security { code, detail, .. } = &event.kind else {
        unreachable!()
    };
    assert_eq!(*code, SecurityCode::IdentityChanged);
    assert!(detail.contains("serial"), "{detail}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let seen = support::drain(&mut events);
    assert!(
        !seen.iter().any(|e| e.kind_name() == "alarm"),
        "a forged alarm reached the bus: {seen:?}"
    );
    assert!(registry.handle("pin-1").is_none());
    assert_eq!(registry.identity_refusals(), 2);
    let metrics = gw.gateway.metrics().render(registry);
    assert!(
        metrics.contains("homeport_identity_mismatches_total 2"),
        "{metrics}"
    );
}

#[tokio::test]
async fn strangers_leave_nothing_behind_and_one_address_cannot_hold_every_slot() {
    let gw = TestGateway::start().await;
    let registry = gw.gateway.registry();
    // Unknown IDs from one address: at most `max_pending_per_source` wait.
    let mut strangers = Vec::new();
    for i in 0..40 {
        strangers.push(FakeCamera::announce(gw.addr(), &format!("ghost-{i}")).await);
    }
    let limit = support::config(std::path::Path::new("."))
        .registry
        .max_pending_per_source;
    eventually("the per-source limit holds", || {
        registry
            .counts()
            .get(&DeviceState::Pending)
            .copied()
            .unwrap_or(0)
            == limit
    })
    .await;
    // Oversize announcements and junk close only their own connection.
    let mut oversize = TcpStream::connect(gw.addr()).await.expect("connects");
    let mut header = vec![0xb4, 0, 0, 0x78];
    header.extend_from_slice(&5000u32.to_le_bytes());
    header.resize(32, 0);
    oversize.write_all(&header).await.expect("writes");
    let mut byte = [0u8; 1];
    let read = tokio::time::timeout(support::WAIT, oversize.read(&mut byte))
        .await
        .expect("closed in time");
    assert!(
        matches!(read, Ok(0) | Err(_)),
        "the oversize announcement was kept: {read:?}"
    );
    // When they hang up, their IDs are forgotten.
    drop(strangers);
    eventually("unknown IDs forgotten", || registry.list().is_empty()).await;
    assert!(registry.counts().values().all(|n| *n == 0));
}

fn open_descriptors() -> usize {
    std::fs::read_dir("/proc/self/fd").map_or(0, |dir| dir.count())
}

#[tokio::test]
async fn a_flood_of_strangers_leaves_descriptors_bounded_and_the_admin_api_answers() {
    let api = support::admin::Api::start().await;
    let gateway = &api.gw.gateway;
    let addr = api.gw.addr();
    let baseline = open_descriptors();
    let mut held = Vec::new();
    // Idle sockets that never announce, unknown IDs, and oversize announcements.
    for _ in 0..300 {
        held.push(TcpStream::connect(addr).await.expect("connects"));
    }
    let mut strangers = Vec::new();
    for i in 0..50 {
        strangers.push(FakeCamera::announce(addr, &format!("flood-{i}")).await);
    }
    for _ in 0..20 {
        let mut stream = TcpStream::connect(addr).await.expect("connects");
        let mut header = vec![0xb4, 0, 0, 0x78];
        header.extend_from_slice(&5000u32.to_le_bytes());
        header.extend_from_slice(&7u32.to_le_bytes());
        header.resize(32, 0);
        stream.write_all(&header).await.expect("writes");
        stream.write_all(&[b'x'; 5000]).await.ok();
        held.push(stream);
    }
    // The admin API answers throughout.
    for _ in 0..10 {
        let (status, health) = api.get("/healthz").await;
        assert_eq!(status, reqwest::StatusCode::OK, "{health}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Silent and oversize connections are closed by the announcement rules; of the unknown
    // IDs, only the per-source limit is kept.
    let limit = support::config(std::path::Path::new("."))
        .registry
        .max_pending_per_source;
    eventually("only the allowed pending connections stay open", || {
        gateway.metrics().open_connections() == limit as u64
    })
    .await;
    assert_eq!(
        gateway
            .registry()
            .counts()
            .get(&DeviceState::Pending)
            .copied(),
        Some(limit)
    );
    let (status, _) = api.get("/healthz").await;
    assert_eq!(status, reqwest::StatusCode::OK);
    // Everything is given back when they hang up.
    drop(held);
    drop(strangers);
    eventually("all connections closed", || {
        gateway.metrics().open_connections() == 0
    })
    .await;
    eventually("unknown IDs forgotten", || {
        gateway.registry().list().is_empty()
    })
    .await;
    eventually("descriptors given back", || {
        open_descriptors() <= baseline + 4
    })
    .await;
}

#[cfg(unix)]
#[tokio::test]
async fn the_data_directory_and_its_files_are_private_from_creation() {
    use std::os::unix::fs::PermissionsExt;
    let parent = tempfile::tempdir().expect("tempdir");
    let data = parent.path().join("fresh");
    let mut config = support::config(&data);
    config.trace_devices = vec!["t-1".to_owned()];
    let gateway = homeport::gateway::Gateway::start(config)
        .await
        .expect("starts");
    gateway
        .add_device(device_credentials(
            "t-1",
            "admin",
            PASSWORD,
            LoginProtocol::Auto,
        ))
        .await
        .expect("written");
    let mode = |path: &std::path::Path| {
        std::fs::metadata(path)
            .map(|m| m.permissions().mode() & 0o777)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    };
    assert_eq!(mode(&data), 0o700);
    for entry in std::fs::read_dir(&data).expect("lists") {
        let path = entry.expect("entry").path();
        let want = if path.is_dir() { 0o700 } else { 0o600 };
        assert_eq!(mode(&path), want, "{}", path.display());
    }
    assert!(data.join("homeport.db-wal").exists() || data.join("homeport.db").exists());
    gateway.shutdown().await;
}
