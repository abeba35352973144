//! The engine's device side end to end: real sockets, simulated cameras, a real SQLite file.

mod support;

use std::time::{Duration, Instant};

use homeport::device::LoginProtocol;
use homeport::event::{DeviceState, EventKind, OnlineReason};
use homeport::gateway::{Gateway, device_credentials};
use homeport::provision::{Provision, provision};
use homeport_simulator::fault::Fault;
use homeport_simulator::register::RegisterOptions;
use homeport_simulator::{Camera, CameraConfig, Stats, direct};
use serde_json::json;
use support::{TestGateway, cam, camera, eventually, online_change, wait_for};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

#[tokio::test]
async fn known_device_comes_online_and_its_state_is_stored() {
    let gw = TestGateway::start().await;
    gw.add("cam1", "pw").await;
    let mut events = gw.gateway.bus().subscribe();
    let stop = camera(gw.addr(), cam("cam1", "pw"));
    let registered = wait_for(&mut events, "registration", |e| {
        e.device == "cam1" && e.kind_name() == "registered"
    })
    .await;
    assert!(
        matches!(&registered.kind, EventKind::Registered { peer, .. } if peer.starts_with("127.0.0.1:"))
    );
    wait_for(&mut events, "online", |e| {
        online_change(e, "cam1", true, Some(OnlineReason::LoginOk))
    })
    .await;
    let view = gw.gateway.registry().view("cam1").expect("listed");
    assert!(view.online);
    assert_eq!(view.state, DeviceState::Online);
    assert!(view.addr.is_some() && view.last_seen.is_some());
    // The state reaches the store within a flush.
    let store = gw.gateway.store().clone();
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let record = store.device("cam1").await.expect("store").expect("row");
        if record.state == "online" {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "state never stored: {}",
            record.state
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    stop.cancel();
}

#[tokio::test]
async fn wrong_password_is_login_failed_never_online_and_retried_with_backoff() {
    let gw = TestGateway::start().await;
    gw.add("cam-wrong", "not-the-password").await;
    let mut events = gw.gateway.bus().subscribe();
    let stop = camera(
        gw.addr(),
        CameraConfig {
            max_login_tries: 100,
            ..cam("cam-wrong", "pw")
        },
    );
    let mut failures = 0;
    let deadline = Instant::now() + Duration::from_secs(10);
    while failures < 3 {
        assert!(Instant::now() < deadline, "login was not retried");
        let event = wait_for(&mut events, "a login failure", |e| {
            e.device == "cam-wrong" && e.kind_name() == "online_changed"
        })
        .await;
        let EventKind::OnlineChanged {
            online,
            state,
            reason,
            detail,
            ..
        } = &event.kind
        else {
            unreachable!()
        };
        assert!(
            !online,
            "a wrong password must never bring the device online"
        );
        assert_eq!(
            (*state, *reason),
            (DeviceState::LoginFailed, OnlineReason::LoginFailed)
        );
        // DHIP says 268632085, DVRIP `01 00`: either way the device refused the password.
        assert!(
            detail
                .as_deref()
                .is_some_and(|d| d.contains("268632085") || d.contains("wrong password")),
            "{detail:?}"
        );
        failures += 1;
    }
    let view = gw.gateway.registry().view("cam-wrong").expect("listed");
    assert_eq!(view.state, DeviceState::LoginFailed);
    assert!(
        view.reason
            .as_deref()
            .is_some_and(|r| r.contains("refused"))
    );
    // Fixing the credentials retries at once.
    gw.gateway
        .update_device(
            "cam-wrong",
            homeport::store::DeviceUpdate {
                password: Some("pw".into()),
                ..Default::default()
            },
        )
        .await
        .expect("updated");
    wait_for(&mut events, "online after the fix", |e| {
        online_change(e, "cam-wrong", true, None)
    })
    .await;
    stop.cancel();
}

#[tokio::test]
async fn unknown_device_is_pending_until_added_and_accepted_then_logs_in_at_once() {
    let gw = TestGateway::start().await;
    let mut events = gw.gateway.bus().subscribe();
    let stop = camera(gw.addr(), cam("newcomer", "pw"));
    wait_for(&mut events, "registration", |e| {
        e.device == "newcomer" && e.kind_name() == "registered"
    })
    .await;
    eventually("pending", || {
        gw.gateway
            .registry()
            .view("newcomer")
            .is_some_and(|v| v.state == DeviceState::Pending)
    })
    .await;
    let view = gw.gateway.registry().view("newcomer").expect("listed");
    assert!(!view.known && view.addr.is_some());
    gw.add("newcomer", "pw").await;
    // The connection was waiting before the credentials existed: an operator vouches for it.
    eventually("awaiting acceptance", || {
        gw.gateway
            .registry()
            .view("newcomer")
            .is_some_and(|v| v.awaiting_accept)
    })
    .await;
    assert!(gw.gateway.registry().accept("newcomer"));
    wait_for(&mut events, "online", |e| {
        online_change(e, "newcomer", true, None)
    })
    .await;
    stop.cancel();
}

#[tokio::test]
async fn closed_socket_is_offline_in_under_a_second() {
    let gw = TestGateway::start().await;
    gw.add("cam-close", "pw").await;
    let (stop, mut events) = gw.online_camera("cam-close", "pw").await;
    let closed_at = Instant::now();
    stop.cancel();
    wait_for(&mut events, "offline", |e| {
        online_change(e, "cam-close", false, Some(OnlineReason::SocketClosed))
    })
    .await;
    let took = closed_at.elapsed();
    assert!(took < Duration::from_secs(1), "offline after {took:?}");
    assert_eq!(
        gw.gateway.registry().view("cam-close").map(|v| v.state),
        Some(DeviceState::Offline)
    );
}

#[tokio::test]
async fn keepalive_silence_is_offline() {
    let gw = TestGateway::start().await;
    gw.add("cam-silent", "pw").await;
    let mut events = gw.gateway.bus().subscribe();
    let stop = camera(
        gw.addr(),
        CameraConfig {
            keep_alive_interval: 2,
            faults: vec![Fault::Silent],
            ..cam("cam-silent", "pw")
        },
    );
    wait_for(&mut events, "online", |e| {
        online_change(e, "cam-silent", true, None)
    })
    .await;
    wait_for(&mut events, "keepalive loss", |e| {
        online_change(e, "cam-silent", false, Some(OnlineReason::KeepaliveLost))
    })
    .await;
    stop.cancel();
}

#[tokio::test]
async fn a_second_registration_with_the_same_id_waits_until_the_first_is_gone() {
    let gw = TestGateway::start().await;
    gw.add("twin", "pw").await;
    let (first, mut events) = gw.online_camera("twin", "pw").await;
    let first_addr = gw
        .gateway
        .registry()
        .view("twin")
        .and_then(|v| v.addr)
        .expect("addr");
    // A second camera with the same ID is refused while the first answers: no newest-wins.
    let second = camera(gw.addr(), cam("twin", "pw"));
    let refused = wait_for(&mut events, "a duplicate_id event", |e| {
        e.device == "twin" && e.kind_name() == "security"
    })
    .await;
    assert!(matches!(
        &refused.kind,
        EventKind::Security {
            code: homeport::event::SecurityCode::DuplicateId,
            ..
        }
    ));
    let now = gw.gateway.registry().view("twin").expect("listed");
    assert!(now.online);
    assert_eq!(now.addr.as_deref(), Some(first_addr.as_str()));
    // Once the first is gone, the second (which keeps dialling) holds the device.
    first.cancel();
    wait_for(&mut events, "offline", |e| {
        online_change(e, "twin", false, None)
    })
    .await;
    wait_for(&mut events, "online again", |e| {
        online_change(e, "twin", true, None)
    })
    .await;
    let now = gw.gateway.registry().view("twin").expect("listed");
    assert_ne!(now.addr.as_deref(), Some(first_addr.as_str()));
    second.cancel();
}

#[tokio::test]
async fn config_round_trip_keeps_unknown_fields_and_snapshot_is_a_jpeg() {
    let gw = TestGateway::start().await;
    gw.add("cam-cfg", "pw").await;
    let (stop, _) = gw.online_camera("cam-cfg", "pw").await;
    let handle = gw
        .gateway
        .registry()
        .handle("cam-cfg")
        .expect("online handle");
    let before = handle.get_config("DVRIP").await.expect("read");
    let written = handle
        .update_config(
            "DVRIP",
            &json!({"MaxConnections": 7, "FutureThing": {"a": 1}}),
        )
        .await
        .expect("write");
    let after = handle.get_config("DVRIP").await.expect("read again");
    assert_eq!(after, written);
    assert_eq!(after["MaxConnections"], 7);
    assert_eq!(after["FutureThing"], json!({"a": 1}));
    assert_eq!(
        after["RegisterServer"], before["RegisterServer"],
        "fields the patch did not name are kept"
    );
    assert_eq!(after["MCASTAddress"], before["MCASTAddress"]);
    let jpeg = handle.snapshot(0).await.expect("snapshot");
    assert!(jpeg.starts_with(&[0xff, 0xd8]) && jpeg.ends_with(&[0xff, 0xd9]) && jpeg.len() > 1000);
    stop.cancel();
}

#[tokio::test]
async fn alarms_become_ordered_events() {
    let gw = TestGateway::start().await;
    gw.add("cam-alarm", "pw").await;
    let mut events = gw.gateway.bus().subscribe();
    let stop = camera(
        gw.addr(),
        CameraConfig {
            alarm_rate: 20.0,
            ..cam("cam-alarm", "pw")
        },
    );
    wait_for(&mut events, "online", |e| {
        online_change(e, "cam-alarm", true, None)
    })
    .await;
    let alarm = wait_for(&mut events, "an alarm", |e| {
        e.device == "cam-alarm" && e.kind_name() == "alarm"
    })
    .await;
    let EventKind::Alarm {
        channel,
        code,
        action,
        device_utc,
        ..
    } = &alarm.kind
    else {
        unreachable!()
    };
    assert_eq!(*channel, 0);
    assert!(!code.is_empty());
    assert!(["start", "stop", "pulse", "state"].contains(&action.as_str()));
    assert!(device_utc.is_some());
    // Event ids are time-ordered.
    let next = wait_for(&mut events, "another alarm", |e| {
        e.device == "cam-alarm" && e.kind_name() == "alarm"
    })
    .await;
    assert!(next.id > alarm.id);
    stop.cancel();
}

#[tokio::test]
async fn restarted_gateway_keeps_returning_devices_online_and_expires_the_rest() {
    let data = tempfile::tempdir().expect("tempdir");
    let first = Gateway::start(support::config(data.path()))
        .await
        .expect("starts");
    let addr = first.register_addr().expect("addr");
    for id in ["back", "gone"] {
        first
            .add_device(device_credentials(id, "admin", "pw", LoginProtocol::Auto))
            .await
            .expect("added");
    }
    let mut events = first.bus().subscribe();
    let back = camera(addr, cam("back", "pw"));
    let gone = camera(addr, cam("gone", "pw"));
    wait_for(&mut events, "back online", |e| {
        online_change(e, "back", true, None)
    })
    .await;
    wait_for(&mut events, "gone online", |e| {
        online_change(e, "gone", true, None)
    })
    .await;
    first.shutdown().await;
    gone.cancel();

    let mut config = support::config(data.path());
    config.register = addr;
    config.registry.restart_grace = Duration::from_secs(3);
    let second = Gateway::start(config)
        .await
        .expect("restarts on the same port");
    let mut events = second.bus().subscribe();
    assert!(
        second.registry().view("gone").is_some_and(|v| v.online),
        "within the grace window a device stays online"
    );
    // `back` reconnects within the window: no offline event for it, and it is online again.
    let expired = wait_for(&mut events, "grace expiry", |e| {
        online_change(e, "gone", false, Some(OnlineReason::NotBackAfterRestart))
    })
    .await;
    assert!(matches!(
        &expired.kind,
        EventKind::OnlineChanged {
            state: DeviceState::Offline,
            ..
        }
    ));
    eventually("back online", || second.registry().handle("back").is_some()).await;
    assert!(second.registry().view("back").is_some_and(|v| v.online));
    while let Ok(event) = events.try_recv() {
        assert!(
            !online_change(&event, "back", false, None),
            "returning device reported offline: {event:?}"
        );
    }
    back.cancel();
    second.shutdown().await;
}

#[tokio::test]
async fn provisioning_a_direct_camera_makes_it_register_here() {
    let gw = TestGateway::start().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let camera_addr = listener.local_addr().expect("addr").to_string();
    let stop = tokio_util::sync::CancellationToken::new();
    let sim = std::sync::Arc::new(Camera::new(cam("factory", "pw")));
    tokio::spawn(direct::run(
        listener,
        sim,
        RegisterOptions::default(),
        std::sync::Arc::new(Stats::default()),
        stop.clone(),
    ));
    gw.add("site-7", "pw").await;
    let mut events = gw.gateway.bus().subscribe();
    let request = Provision {
        device: camera_addr,
        user: "admin".to_owned(),
        password: "pw".to_owned(),
        protocol: LoginProtocol::Auto,
        server_host: gw.addr().ip().to_string(),
        server_port: gw.addr().port(),
        device_id: "site-7".to_owned(),
        timeout: Duration::from_secs(5),
    };
    let table = provision(&request).await.expect("provisioned");
    assert_eq!(table["RegisterServer"]["Enable"], true);
    assert_eq!(table["RegisterServer"]["DeviceID"], "site-7");
    assert_eq!(table["TCPPort"], 37777, "other fields are kept");
    wait_for(&mut events, "online", |e| {
        online_change(e, "site-7", true, None)
    })
    .await;
    // A wrong password is reported as such.
    let wrong = Provision {
        password: "nope".to_owned(),
        ..request
    };
    let err = provision(&wrong).await.expect_err("refused");
    // DHIP says 268632085, DVRIP `01 00`: either way a wrong password.
    let text = err.to_string();
    assert!(
        text.contains("268632085") || text.contains("wrong password"),
        "{text}"
    );
    stop.cancel();
}

#[tokio::test]
async fn stopped_listener_takes_no_registrations_until_started_again() {
    let gw = TestGateway::start().await;
    let addr = gw.addr();
    assert!(gw.gateway.stop_listening());
    assert!(gw.gateway.register_addr().is_none());
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(
        TcpStream::connect(addr).await.is_err(),
        "connections are refused while stopped"
    );
    let again = gw.gateway.start_listening().await.expect("starts");
    assert_eq!(gw.gateway.register_addr(), Some(again));
    gw.add("late", "pw").await;
    let mut events = gw.gateway.bus().subscribe();
    let stop = camera(again, cam("late", "pw"));
    wait_for(&mut events, "online", |e| {
        online_change(e, "late", true, None)
    })
    .await;
    stop.cancel();
}

#[tokio::test]
async fn bad_input_closes_only_its_own_connection() {
    let gw = TestGateway::start().await;
    gw.add("good", "pw").await;
    let mut events = gw.gateway.bus().subscribe();
    let good = camera(
        gw.addr(),
        CameraConfig {
            alarm_rate: 5.0,
            ..cam("good", "pw")
        },
    );
    wait_for(&mut events, "online", |e| {
        online_change(e, "good", true, None)
    })
    .await;

    // Junk, an oversize DVRIP length, a DHIP message instead of an announcement, and an
    // announcement that never completes: each connection is closed.
    let mut oversize = vec![0xb4, 0, 0, 0x78];
    oversize.extend_from_slice(&u32::MAX.to_le_bytes());
    oversize.resize(32, 0);
    let dhip = homeport_protocol::dhip::DhipHeader {
        packet_len: 2,
        total_len: 2,
        ..Default::default()
    }
    .to_bytes();
    let mut dhip = dhip.to_vec();
    dhip.extend_from_slice(b"{}");
    let partial = homeport_protocol::dvrip::DvripPacket::announcement("half")
        .expect("valid")
        .to_frame()
        .to_vec()[..40]
        .to_vec();
    for bytes in [b"GET / HTTP/1.1\r\n\r\n".to_vec(), oversize, dhip, partial] {
        let mut stream = TcpStream::connect(gw.addr()).await.expect("connect");
        stream.write_all(&bytes).await.expect("write");
        let mut buf = [0u8; 16];
        let closed = tokio::time::timeout(
            Duration::from_secs(5),
            tokio::io::AsyncReadExt::read(&mut stream, &mut buf),
        )
        .await;
        assert!(
            matches!(closed, Ok(Ok(0)) | Ok(Err(_))),
            "connection not closed for {bytes:02x?}"
        );
    }
    // The good camera never noticed.
    let view = gw.gateway.registry().view("good").expect("listed");
    assert!(view.online);
    wait_for(&mut events, "an alarm from the good camera", |e| {
        e.device == "good" && e.kind_name() == "alarm"
    })
    .await;
    assert!(
        gw.gateway.registry().view("half").is_none(),
        "an incomplete announcement registers nothing"
    );
    good.cancel();
}
