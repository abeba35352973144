//! Field fidelity: the engine meets each simulated firmware profile the way the vendor's own
//! platform would, and a fake camera built from the protocol crate checks the bytes it sends.

mod support;

use std::sync::Arc;
use std::time::Duration;

use homeport::device::LoginProtocol;
use homeport::event::{DeviceState, Event, EventKind, OnlineReason};
use homeport::gateway::device_credentials;
use homeport::store::DeviceUpdate;
use homeport_protocol::dvrip::login::{CLIENT_VERSION, STEP_HASH, STEP_OPEN};
use homeport_protocol::dvrip::{DvripPacket, LoginReply};
use homeport_protocol::hash::RealmChallenge;
use homeport_protocol::wire::WireFrame;
use homeport_simulator::CameraConfig;
use homeport_simulator::fault::Fault;
use homeport_simulator::firmware::Firmware;
use homeport_simulator::snapshot::JPEG;
use support::fake::FakeCamera;
use support::{TestGateway, camera_with_counters, eventually, online_change, wait_for};
use tokio::sync::broadcast;

fn profile(id: &str, firmware: Firmware) -> CameraConfig {
    CameraConfig {
        firmware,
        ..CameraConfig::new(id, "admin", "pw")
    }
}

async fn add(gw: &TestGateway, id: &str, password: &str, protocol: LoginProtocol) {
    gw.gateway
        .add_device(device_credentials(id, "admin", password, protocol))
        .await
        .expect("added");
}

async fn online(events: &mut broadcast::Receiver<Arc<Event>>, id: &str) {
    wait_for(events, &format!("{id} online"), |e| {
        online_change(e, id, true, Some(OnlineReason::LoginOk))
    })
    .await;
}

/// Waits until the registry lists `id` online.
async fn is_online(gw: &TestGateway, id: &str) {
    let registry = gw.gateway.registry();
    eventually(&format!("{id} online"), || {
        registry.view(id).is_some_and(|v| v.online)
    })
    .await;
}

#[tokio::test]
async fn every_firmware_profile_comes_online_with_auto_or_legacy() {
    let gw = TestGateway::start().await;
    let cases = [
        (
            "fw-dvrip",
            Firmware::DvripOnly,
            LoginProtocol::Auto,
            LoginProtocol::Dvrip,
        ),
        (
            "fw-both",
            Firmware::DvripDhip,
            LoginProtocol::Auto,
            LoginProtocol::Dvrip,
        ),
        // Silence to the DVRIP opening: DHIP on the same socket after the fallback window.
        (
            "fw-dhip",
            Firmware::DhipOnly,
            LoginProtocol::Auto,
            LoginProtocol::Dhip,
        ),
        // No realm login: only with the explicit, weaker `legacy` setting.
        (
            "fw-2010",
            Firmware::Legacy2010,
            LoginProtocol::Legacy,
            LoginProtocol::Dvrip,
        ),
    ];
    let mut stops = Vec::new();
    for (id, firmware, protocol, _) in cases {
        add(&gw, id, "pw", protocol).await;
        stops.push(camera_with_counters(gw.addr(), profile(id, firmware)).0);
    }
    for (id, firmware, _, worked) in cases {
        is_online(&gw, id).await;
        let view = gw.gateway.registry().view(id).expect("listed");
        assert_eq!(view.connected_with, Some(worked), "{id}");
        // The firmware version it reports after the login (magicBox over JSON, the DVRIP
        // info query 8 without it).
        assert_eq!(
            view.firmware.as_deref(),
            Some(homeport_simulator::session::SOFTWARE_VERSION),
            "{id}"
        );
        if worked == LoginProtocol::Dvrip {
            // The channel count and device type come from the DVRIP login result.
            assert_eq!(view.channels, Some(1), "{id}");
            assert_eq!(view.device_type, Some(0x33), "{id}");
            let version = if firmware == Firmware::Legacy2010 {
                6
            } else {
                7
            };
            assert_eq!(view.protocol_version, Some(version), "{id}");
        }
    }
    // What worked is stored, to be tried first after a restart.
    let deadline = tokio::time::Instant::now() + support::WAIT;
    let records = loop {
        let records = gw.gateway.export_devices().await.expect("export");
        if records.iter().all(|d| d.learned_protocol.is_some()) {
            break records;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "learned protocols never stored"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let learned = |id: &str| {
        records
            .iter()
            .find(|d| d.id == id)
            .and_then(|d| d.learned_protocol)
    };
    assert_eq!(learned("fw-dhip"), Some(LoginProtocol::Dhip));
    assert_eq!(learned("fw-dvrip"), Some(LoginProtocol::Dvrip));
    for stop in stops {
        stop.cancel();
    }
}

#[tokio::test]
async fn a_legacy_only_camera_is_not_sent_3des_unless_configured_and_says_why() {
    let gw = TestGateway::start().await;
    add(&gw, "old-1", "pw", LoginProtocol::Auto).await;
    let (stop, camera) = camera_with_counters(gw.addr(), profile("old-1", Firmware::Legacy2010));
    let api = gw.gateway.registry();
    eventually("login_failed with the reason", || {
        api.view("old-1").is_some_and(|v| {
            v.state == DeviceState::LoginFailed
                && v.reason.as_deref().is_some_and(|r| r.contains("legacy"))
        })
    })
    .await;
    // The opening carried no credentials, so the camera counted nothing against its budget.
    assert_eq!(camera.refused_logins(), 0);
    // Choosing `legacy` is what brings it online.
    let mut events = gw.gateway.bus().subscribe();
    gw.gateway
        .update_device(
            "old-1",
            DeviceUpdate {
                login_protocol: Some(LoginProtocol::Legacy),
                ..Default::default()
            },
        )
        .await
        .expect("updated");
    online(&mut events, "old-1").await;
    stop.cancel();
}

#[tokio::test]
async fn a_wrong_stored_password_never_spends_the_cameras_last_try() {
    let gw = TestGateway::start().await;
    add(&gw, "lock-1", "wrong", LoginProtocol::Auto).await;
    let (stop, camera) = camera_with_counters(
        gw.addr(),
        CameraConfig {
            max_login_tries: 4,
            ..profile("lock-1", Firmware::DvripOnly)
        },
    );
    let registry = gw.gateway.registry();
    eventually("automatic logins stopped", || {
        registry.view("lock-1").is_some_and(|v| {
            v.state == DeviceState::LoginFailed
                && v.reason.as_deref().is_some_and(|r| r.contains("stopped"))
        })
    })
    .await;
    assert_eq!(
        camera.tries_left(),
        1,
        "the last try is left to the operator"
    );
    let refused = camera.refused_logins();
    // A pipeline asking for logins does not spend it either; several backoffs pass.
    for _ in 0..5 {
        registry.request_login("lock-1");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    assert_eq!(camera.refused_logins(), refused);
    assert_eq!(camera.tries_left(), 1);
    // The right password brings it online at once.
    let mut events = gw.gateway.bus().subscribe();
    gw.gateway
        .update_device(
            "lock-1",
            DeviceUpdate {
                password: Some("pw".into()),
                ..Default::default()
            },
        )
        .await
        .expect("updated");
    online(&mut events, "lock-1").await;
    stop.cancel();
}

#[tokio::test]
async fn an_operator_may_spend_the_last_try() {
    let gw = TestGateway::start().await;
    add(&gw, "lock-2", "wrong", LoginProtocol::Auto).await;
    let (stop, camera) = camera_with_counters(
        gw.addr(),
        CameraConfig {
            max_login_tries: 3,
            ..profile("lock-2", Firmware::DvripOnly)
        },
    );
    let registry = gw.gateway.registry();
    eventually("automatic logins stopped", || {
        registry
            .view("lock-2")
            .and_then(|v| v.reason)
            .is_some_and(|r| r.contains("stopped"))
    })
    .await;
    let before = camera.refused_logins();
    assert!(registry.request_operator_login("lock-2"));
    eventually("the operator's attempt ran", || {
        camera.refused_logins() == before + 1
    })
    .await;
    stop.cancel();
}

#[tokio::test]
async fn dvrip_keepalive_silence_is_offline() {
    let gw = TestGateway::start().await;
    add(&gw, "quiet-1", "pw", LoginProtocol::Auto).await;
    let mut events = gw.gateway.bus().subscribe();
    let (stop, _) = camera_with_counters(
        gw.addr(),
        CameraConfig {
            faults: vec![Fault::Silent],
            ..profile("quiet-1", Firmware::DvripOnly)
        },
    );
    online(&mut events, "quiet-1").await;
    let view = gw.gateway.registry().view("quiet-1").expect("listed");
    assert_eq!(view.connected_with, Some(LoginProtocol::Dvrip));
    let lost = wait_for(&mut events, "keepalive loss", |e| {
        online_change(e, "quiet-1", false, Some(OnlineReason::KeepaliveLost))
    })
    .await;
    let EventKind::OnlineChanged { detail, .. } = &lost.kind else {
        unreachable!("an online change")
    };
    assert!(
        detail
            .as_deref()
            .is_some_and(|d| d.contains("nothing heard")),
        "{detail:?}"
    );
    stop.cancel();
}

/// An alarm as (channel, code, action, whether the device sent its clock).
type Alarm = (i64, String, String, bool);

/// The alarms of each of `ids`, in order, until every one has at least `count`.
async fn alarms(
    events: &mut broadcast::Receiver<Arc<Event>>,
    ids: &[&str],
    count: usize,
) -> Vec<Vec<Alarm>> {
    let mut seen = vec![Vec::new(); ids.len()];
    while seen.iter().any(|s| s.len() < count) {
        let event = wait_for(events, "alarms", |e| e.kind_name() == "alarm").await;
        let Some(at) = ids.iter().position(|id| *id == event.device) else {
            continue;
        };
        if let EventKind::Alarm {
            channel,
            code,
            action,
            device_time,
            ..
        } = &event.kind
        {
            seen[at].push((
                *channel,
                code.clone(),
                action.clone(),
                device_time.is_some(),
            ));
        }
    }
    seen
}

#[tokio::test]
async fn legacy_binary_alarms_arrive_as_the_same_events_as_json_ones() {
    let gw = TestGateway::start().await;
    add(&gw, "bin-1", "pw", LoginProtocol::Legacy).await;
    add(&gw, "json-1", "pw", LoginProtocol::Auto).await;
    let mut events = gw.gateway.bus().subscribe();
    let legacy = CameraConfig {
        alarm_rate: 40.0,
        channels: 2,
        ..profile("bin-1", Firmware::Legacy2010)
    };
    let json = CameraConfig {
        alarm_rate: 40.0,
        channels: 2,
        ..profile("json-1", Firmware::DvripOnly)
    };
    let (stop_legacy, _) = camera_with_counters(gw.addr(), legacy);
    let (stop_json, _) = camera_with_counters(gw.addr(), json);
    let mut both = alarms(&mut events, &["bin-1", "json-1"], 30).await;
    let json_alarms = both.pop().expect("json");
    let binary = both.pop().expect("binary");
    let named = ["VideoMotion", "VideoLoss", "VideoBlind", "AlarmLocal"];
    let mut active = std::collections::HashSet::new();
    for (channel, code, action, clock) in &binary {
        assert!((0..2).contains(channel), "{binary:?}");
        assert!(named.contains(&code.as_str()), "{binary:?}");
        assert!(!clock, "binary alarms carry no device clock: {binary:?}");
        // Per channel and code, a start comes before its stop, as in JSON notifications.
        let key = (*channel, code.clone());
        match action.as_str() {
            "start" => assert!(active.insert(key), "{binary:?}"),
            "stop" => assert!(active.remove(&key), "{binary:?}"),
            other => panic!("unexpected action {other}: {binary:?}"),
        }
    }
    // A JSON camera's alarms of the same codes and actions are the same events, with the
    // device's clock besides.
    let same_kind: Vec<_> = json_alarms
        .iter()
        .filter(|(_, code, action, _)| {
            named.contains(&code.as_str()) && (action == "start" || action == "stop")
        })
        .collect();
    assert!(!same_kind.is_empty(), "{json_alarms:?}");
    assert!(
        same_kind
            .iter()
            .all(|(channel, _, _, clock)| (0..2).contains(channel) && *clock)
    );
    stop_legacy.cancel();
    stop_json.cancel();
}

#[tokio::test]
async fn a_dvrip_snapshot_returns_the_cameras_jpeg_byte_for_byte() {
    let gw = TestGateway::start().await;
    // `dvrip-only` has no JSON snapshot method; `legacy-2010` no JSON at all.
    add(&gw, "snap-new", "pw", LoginProtocol::Auto).await;
    add(&gw, "snap-old", "pw", LoginProtocol::Legacy).await;
    let (a, _) = camera_with_counters(gw.addr(), profile("snap-new", Firmware::DvripOnly));
    let (b, _) = camera_with_counters(gw.addr(), profile("snap-old", Firmware::Legacy2010));
    for id in ["snap-new", "snap-old"] {
        is_online(&gw, id).await;
        let handle = gw.gateway.registry().handle(id).expect("online");
        for _ in 0..2 {
            let image = handle.snapshot(0).await.expect("a picture");
            assert_eq!(&image[..], JPEG, "{id}");
        }
    }
    // 2010-era firmware has no JSON-RPC: a config call is refused at once, not timed out.
    let handle = gw.gateway.registry().handle("snap-old").expect("online");
    let err = handle.get_config("DVRIP").await.expect_err("no JSON");
    assert!(err.to_string().contains("no JSON"), "{err}");
    a.cancel();
    b.cancel();
}

#[tokio::test]
async fn the_login_is_framed_as_the_vendors_clients_frame_it() {
    let gw = TestGateway::start().await;
    add(&gw, "fake-1", "pw", LoginProtocol::Auto).await;
    let mut camera = FakeCamera::announce(gw.addr(), "fake-1").await;
    // The first thing the platform sends is the DVRIP opening, never DHIP.
    let open = camera.dvrip().await;
    assert_eq!(&open.header[..4], &[0xa0, 0x05, 0x00, CLIENT_VERSION]);
    assert_eq!(open.header[27], STEP_OPEN);
    assert!(
        open.header[8..24].iter().all(|&b| b == 0),
        "no 3DES by default"
    );
    assert!(open.body.is_empty());
    let challenge = RealmChallenge::new("Login to 0123456789ABCDEF", "668077460").expect("valid");
    camera
        .send(DvripPacket::RealmChallenge {
            text: challenge.encode().into(),
        })
        .await;
    let hash = camera.dvrip().await;
    assert_eq!(&hash.header[..4], &[0xa0, 0x05, 0x00, CLIENT_VERSION]);
    assert_eq!(hash.header[27], STEP_HASH);
    let DvripPacket::LoginHash { body } = DvripPacket::parse(&hash) else {
        panic!("a hash login");
    };
    assert_eq!(&body[..], challenge.login_body("admin", "pw").as_bytes());
    let mut events = gw.gateway.bus().subscribe();
    camera
        .send(DvripPacket::LoginReply(LoginReply::success(
            0x7fff_fff9,
            4,
            0x33,
            5,
        )))
        .await;
    // JSON follows in f6 packets ending in \n\0, with the JSON id at +8: the serial number
    // and type (to pin the device's identity), the firmware version, then the event
    // subscription.
    let mut methods = Vec::new();
    while !methods.iter().any(|m| m == "eventManager.attach") {
        let frame = camera.dvrip().await;
        let DvripPacket::Json {
            request_id,
            session,
            body,
            ..
        } = DvripPacket::parse(&frame)
        else {
            panic!("f6 JSON, got {frame:?}");
        };
        assert_eq!(session, 0x7fff_fff9);
        assert!(body.ends_with(b"\n\0"), "{body:?}");
        assert_eq!(frame.header[3], CLIENT_VERSION);
        let json: serde_json::Value =
            serde_json::from_slice(&body[..body.len() - 2]).expect("JSON");
        assert_eq!(json["id"], request_id);
        let method = json["method"].as_str().expect("a method").to_owned();
        let params = match method.as_str() {
            "magicBox.getSerialNo" => serde_json::json!({"sn": "SN-FAKE-1"}),
            "magicBox.getDeviceType" => serde_json::json!({"type": "IPC-FAKE"}),
            "magicBox.getSoftwareVersion" => {
                serde_json::json!({"version": {"Version": "2.800.1", "BuildDate": "2026-01-02"}})
            }
            _ => serde_json::json!({"SID": 513}),
        };
        let reply = serde_json::json!({"id": request_id, "result": true, "params": params, "session": session});
        camera
            .send(DvripPacket::Json {
                request_id,
                session,
                is_reply: true,
                body: reply.to_string().into(),
            })
            .await;
        methods.push(method);
    }
    assert_eq!(
        methods,
        [
            "magicBox.getSerialNo",
            "magicBox.getDeviceType",
            "magicBox.getSoftwareVersion",
            "eventManager.attach"
        ]
    );
    online(&mut events, "fake-1").await;
    let view = gw.gateway.registry().view("fake-1").expect("listed");
    assert_eq!(
        (view.channels, view.firmware.as_deref()),
        (Some(4), Some("2.800.1"))
    );
    // The keep-life packet follows on the DVRIP timer.
    let keepalive = camera.dvrip().await;
    assert_eq!(DvripPacket::parse(&keepalive), DvripPacket::KeepAlive);
}

#[tokio::test]
async fn a_login_result_without_a_challenge_is_refused() {
    let gw = TestGateway::start().await;
    add(&gw, "fake-2", "pw", LoginProtocol::Dvrip).await;
    let mut camera = FakeCamera::announce(gw.addr(), "fake-2").await;
    let _open = camera.dvrip().await;
    camera
        .send(DvripPacket::LoginReply(LoginReply::success(7, 1, 0x33, 5)))
        .await;
    let registry = gw.gateway.registry();
    eventually("refused", || {
        registry.view("fake-2").is_some_and(|v| {
            v.state == DeviceState::LoginFailed
                && v.reason
                    .as_deref()
                    .is_some_and(|r| r.contains("without a challenge"))
        })
    })
    .await;
    assert!(registry.handle("fake-2").is_none());
}

#[tokio::test]
async fn auto_tries_the_protocol_that_worked_last_time_first() {
    let gw = TestGateway::start().await;
    add(&gw, "learn-1", "pw", LoginProtocol::Auto).await;
    let (stop, _) = camera_with_counters(gw.addr(), profile("learn-1", Firmware::DhipOnly));
    is_online(&gw, "learn-1").await;
    stop.cancel();
    let registry = gw.gateway.registry();
    eventually("offline", || {
        registry.view("learn-1").is_some_and(|v| !v.online)
    })
    .await;
    // The next connection of the same device is asked in DHIP first.
    let mut camera = FakeCamera::announce(gw.addr(), "learn-1").await;
    let first = camera.frame().await;
    let WireFrame::Dhip(message) = first else {
        panic!("DVRIP first although DHIP worked last time: {first:?}");
    };
    let json: serde_json::Value = serde_json::from_slice(&message.body).expect("JSON");
    assert_eq!(json["method"], "global.login");
}

/// Every run of 32 hex digits in `text`, upper-cased.
fn hex32(text: &str) -> Vec<String> {
    let bytes = text.as_bytes();
    let mut found = Vec::new();
    let mut start = 0;
    for i in 0..=bytes.len() {
        let hex = i < bytes.len() && bytes[i].is_ascii_hexdigit();
        if !hex {
            if i - start >= 32 {
                found.push(text[start..i].to_ascii_uppercase());
            }
            start = i + 1;
        }
    }
    found
}

#[tokio::test]
async fn a_device_transcript_holds_no_password_hash_or_key_material() {
    const PASSWORD: &str = "Tr4ce-Secret";
    let gw = TestGateway::start_with(|config| {
        config.trace_devices = vec![
            "tr-new".to_owned(),
            "tr-dhip".to_owned(),
            "tr-old".to_owned(),
        ];
    })
    .await;
    add(&gw, "tr-new", PASSWORD, LoginProtocol::Auto).await;
    add(&gw, "tr-dhip", PASSWORD, LoginProtocol::Dhip).await;
    add(&gw, "tr-old", PASSWORD, LoginProtocol::Legacy).await;
    let mut events = gw.gateway.bus().subscribe();
    let mut stops = Vec::new();
    for (id, firmware) in [
        ("tr-new", Firmware::DvripOnly),
        ("tr-dhip", Firmware::DvripDhip),
        ("tr-old", Firmware::Legacy2010),
    ] {
        let config = CameraConfig {
            alarm_rate: 20.0,
            ..CameraConfig::new(id, "admin", PASSWORD)
        };
        stops.push(camera_with_counters(gw.addr(), CameraConfig { firmware, ..config }).0);
    }
    for id in ["tr-new", "tr-dhip", "tr-old"] {
        is_online(&gw, id).await;
        let handle = gw.gateway.registry().handle(id).expect("online");
        assert_eq!(&handle.snapshot(0).await.expect("snapshot")[..], JPEG);
    }
    let mut both = alarms(&mut events, &["tr-new", "tr-dhip", "tr-old"], 2).await;
    assert!(both.iter_mut().all(|a| !a.is_empty()));
    for id in ["tr-new", "tr-dhip", "tr-old"] {
        let path = gw.gateway.traces().path(id);
        let text = std::fs::read_to_string(&path).expect("transcript");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "{id}");
        }
        // Everything happened and was written down.
        for want in ["announcement", "login", "snap"] {
            assert!(
                text.to_lowercase().contains(want),
                "{id}: no {want} in\n{text}"
            );
        }
        assert!(
            text.contains("alarm") || text.contains("notifyEventStream"),
            "{id}"
        );
        // No password, in clear or hex.
        let hex_password: String = PASSWORD.bytes().map(|b| format!("{b:02x} ")).collect();
        assert!(!text.contains(PASSWORD), "{id}: password in\n{text}");
        assert!(
            !text.contains(hex_password.trim_end()),
            "{id}: hex password"
        );
        // No login hash: recompute them from the realm and random the transcript shows.
        let realm = text
            .split("Login to ")
            .nth(1)
            .map(|rest| format!("Login to {}", &rest[..rest.find(['\\', '"']).unwrap_or(16)]));
        let randoms: Vec<String> = text
            .split("Random:")
            .skip(1)
            .chain(text.split("\"random\":\"").skip(1))
            .map(|rest| {
                rest.chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
                    .collect()
            })
            .collect();
        if let Some(realm) = &realm {
            for random in &randoms {
                let default =
                    homeport_protocol::hash::default_hash("admin", PASSWORD, realm, random);
                let dvrip = RealmChallenge::new(realm.clone(), random.clone())
                    .expect("valid")
                    .login_body("admin", PASSWORD);
                let found = hex32(&text);
                assert!(
                    !found.contains(&default.to_ascii_uppercase()),
                    "{id}: Default hash"
                );
                assert!(
                    !text.contains(dvrip.split("&&").nth(1).unwrap_or("")),
                    "{id}: DVRIP hash"
                );
            }
        }
        // No 3DES credentials.
        let gen0: String = homeport_protocol::hash::gen0(
            PASSWORD.as_bytes(),
            homeport_protocol::hash::Gen0Variant::Dahua,
        )
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(" ");
        assert!(!text.contains(&gen0), "{id}: 3DES password");
    }
    // The admin side: the transcript can be switched off and stays readable.
    assert!(gw.gateway.traces().is_on("tr-new"));
    gw.gateway.set_tracing("tr-new", false).expect("off");
    assert!(!gw.gateway.traces().is_on("tr-new"));
    for stop in stops {
        stop.cancel();
    }
}
