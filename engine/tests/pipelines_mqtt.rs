//! Pipelines end to end with a real `mosquitto`: simulated cameras → gateway → default
//! pipelines → MQTT → a QoS 1 subscriber. Every alarm arrives exactly once, in per-device
//! order; each device has a retained status; a broker restart in the middle of the stream
//! loses nothing; reload swaps good files and keeps the old graph on bad ones; the shipped
//! examples do what they say.

mod support;

#[path = "brokers/mosquitto.rs"]
mod mosquitto;
#[path = "support/plugins.rs"]
mod plugins;
#[path = "brokers/mqtt_subscriber.rs"]
mod subscriber;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use homeport::device::LoginProtocol;
use homeport::gateway::device_credentials;
use homeport::pipeline::PipelineHost;
use homeport::sink::Sinks;
use homeport::sink::mqtt::{MqttConfig, MqttSink};
use homeport_simulator::{Fleet, FleetConfig};
use mosquitto::Mosquitto;
use subscriber::{Message, Subscriber};
use support::TestGateway;
use tokio_util::sync::CancellationToken;

const DEVICES: usize = 20;

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(path)
}

/// A gateway with `DEVICES` known cameras' credentials and pipelines publishing to `broker`.
async fn setup(
    broker: &Mosquitto,
    sources: Vec<PathBuf>,
) -> (TestGateway, Arc<PipelineHost>, MqttSink, CancellationToken) {
    let gw = TestGateway::start().await;
    let devices = (1..=DEVICES)
        .map(|i| device_credentials(&format!("cam{i}"), "admin", "pw", LoginProtocol::Auto))
        .collect();
    gw.gateway.import_devices(devices).await.expect("import");
    let stop = CancellationToken::new();
    let mut config = MqttConfig::from_url(broker.url(), "test-node").expect("config");
    config.reconnect_max = Duration::from_millis(300);
    let mqtt = MqttSink::start(config, stop.clone()).expect("sink");
    let services = gw
        .gateway
        .services()
        .with_sinks(Sinks::of(Some(mqtt.clone()), None));
    let host = PipelineHost::start(sources, services, gw.gateway.bus().clone())
        .expect("pipelines compile");
    (gw, host, mqtt, stop)
}

fn fleet(gw: &TestGateway, rate: f64) -> Fleet {
    let mut config = FleetConfig::new(gw.addr().to_string(), DEVICES, "cam", "pw");
    config.firmware = support::firmware();
    config.alarm_rate = rate;
    Fleet::start(config)
}

/// Waits until a pipeline has nothing in flight and the sink has delivered everything.
async fn settle(host: &PipelineHost, pipeline: &str, mqtt: &MqttSink) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (_, _, _, _, in_flight) = host.totals(pipeline).await.expect("pipeline exists");
        let stats = mqtt.stats();
        if in_flight == 0 && stats.queued == 0 && stats.in_flight == 0 {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "did not settle: in flight {in_flight}, sink {stats:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn all_online(gw: &TestGateway) {
    support::eventually("all online", || {
        gw.gateway
            .registry()
            .counts()
            .get(&homeport::event::DeviceState::Online)
            .copied()
            == Some(DEVICES)
    })
    .await;
}

fn alarms(messages: &[Message]) -> Vec<&Message> {
    messages
        .iter()
        .filter(|m| m.topic.ends_with("/event"))
        .collect()
}

/// Checks exactly-once (by event id) and per-device order (server time never goes back).
fn check_exactly_once_in_order(received: &[&Message], sent: u64) {
    let ids: HashSet<&str> = received
        .iter()
        .filter_map(|m| m.payload["event_id"].as_str())
        .collect();
    assert_eq!(
        ids.len(),
        received.len(),
        "duplicates among {} alarms",
        received.len()
    );
    assert_eq!(
        received.len() as u64,
        sent,
        "every alarm written by the cameras arrives"
    );
    let mut last: HashMap<&str, String> = HashMap::new();
    for message in received {
        let device = message.payload["device_id"].as_str().expect("device_id");
        let time = message.payload["time"].as_str().expect("time").to_owned();
        assert_eq!(message.topic, format!("homeport/device/{device}/event"));
        for field in [
            "event_id",
            "channel",
            "code",
            "type",
            "action",
            "active",
            "device_time",
            "time",
        ] {
            assert!(
                message.payload.get(field).is_some(),
                "alarm without {field}: {}",
                message.payload
            );
        }
        // The normalised type and state follow from the vendor's code and action.
        let code = message.payload["code"].as_str().expect("code");
        let action = message.payload["action"].as_str().expect("action");
        assert_eq!(
            message.payload["type"],
            homeport::event::AlarmType::of(code).as_str(),
            "{}",
            message.payload
        );
        assert_eq!(
            message.payload["active"],
            action != "stop",
            "{}",
            message.payload
        );
        if let Some(before) = last.get(device) {
            assert!(
                *before <= time,
                "device {device} out of order: {before} then {time}"
            );
        }
        last.insert(device, time);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_alarm_arrives_exactly_once_in_order_with_retained_status() {
    let broker = Mosquitto::start();
    let (gw, host, mqtt, stop) = setup(&broker, Vec::new()).await;
    let mut events =
        Subscriber::connect(broker.port(), "alarms", true, "homeport/device/+/event").await;
    let cameras = fleet(&gw, 10.0);
    all_online(&gw).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let stats = Arc::clone(cameras.stats());
    cameras.stop().await;
    settle(&host, "alarms-mqtt", &mqtt).await;
    let received = events.drain(Duration::from_secs(1)).await;
    let sent = stats.snapshot().alarms_sent;
    assert!(sent > 100, "only {sent} alarms were sent");
    check_exactly_once_in_order(&alarms(&received), sent);

    // Every device has a retained status; a late subscriber sees each one's latest.
    let mut late =
        Subscriber::connect(broker.port(), "late", true, "homeport/device/+/status").await;
    let statuses = late.drain(Duration::from_secs(1)).await;
    let devices: HashSet<&str> = statuses
        .iter()
        .filter(|m| m.retain)
        .filter_map(|m| m.payload["device_id"].as_str())
        .collect();
    assert_eq!(devices.len(), DEVICES, "{statuses:?}");
    assert!(
        statuses.iter().all(|m| m.payload["online"] == false),
        "cameras stopped, so every status is offline"
    );
    // The pipeline's counters add up.
    let (input, output, failed, dropped, in_flight) =
        host.totals("alarms-mqtt").await.expect("pipeline");
    assert_eq!(input, output + failed + dropped + in_flight);
    assert_eq!((input, failed, dropped), (sent, 0, 0));
    stop.cancel();
    gw.gateway.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broker_restart_mid_stream_loses_nothing_and_keeps_order() {
    let mut broker = Mosquitto::start_persistent();
    let (gw, host, mqtt, stop) = setup(&broker, Vec::new()).await;
    // A persistent session, so the broker keeps this subscriber's messages across its restart.
    let mut events =
        Subscriber::connect(broker.port(), "durable", false, "homeport/device/+/event").await;
    let cameras = fleet(&gw, 10.0);
    all_online(&gw).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    broker.stop();
    tokio::time::sleep(Duration::from_secs(2)).await;
    broker.restart();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let stats = Arc::clone(cameras.stats());
    cameras.stop().await;
    settle(&host, "alarms-mqtt", &mqtt).await;
    let received = events.drain(Duration::from_secs(2)).await;
    let sent = stats.snapshot().alarms_sent;
    assert!(mqtt.stats().reconnects >= 1, "the sink reconnected");
    // At-least-once across a restart: duplicates are allowed, gaps are not.
    let mut first: Vec<&Message> = Vec::new();
    let mut seen = HashSet::new();
    for message in alarms(&received) {
        if seen.insert(
            message.payload["event_id"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        ) {
            first.push(message);
        }
    }
    check_exactly_once_in_order(&first, sent);
    stop.cancel();
    gw.gateway.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reload_swaps_good_files_and_keeps_the_old_graph_on_bad_ones() {
    let broker = Mosquitto::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("pipelines.yaml");
    std::fs::write(&file, "pipelines:\n  - name: first\n    on: [alarm]\n    stages:\n      - mqtt: { topic: 'a/{{ device_id }}' }\n").expect("write");
    let (gw, host, _mqtt, stop) = setup(&broker, vec![file.clone()]).await;
    assert_eq!(host.names().await, vec!["first"]);
    std::fs::write(
        &file,
        "pipelines:\n  - name: second\n    on: [alarm]\n    stages:\n      - log: {}\n",
    )
    .expect("write");
    assert_eq!(host.reload().await.expect("reloads"), vec!["second"]);
    std::fs::write(
        &file,
        "pipelines:\n  - name: third\n    on: [nonsense]\n    stages:\n      - log: {}\n",
    )
    .expect("write");
    let errors = host.reload().await.expect_err("a bad file is refused");
    assert!(errors.to_string().contains("pipelines.yaml:3:"), "{errors}");
    assert_eq!(
        host.names().await,
        vec!["second"],
        "the running graph stays"
    );
    stop.cancel();
    gw.gateway.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn debounce_example_lets_one_alarm_per_key_through_per_window() {
    let broker = Mosquitto::start();
    let (gw, host, mqtt, stop) = setup(
        &broker,
        vec![repo("pipelines/examples/alarms-mqtt-debounce.yaml")],
    )
    .await;
    let mut events =
        Subscriber::connect(broker.port(), "debounced", true, "homeport/device/#").await;
    let cameras = fleet(&gw, 20.0);
    all_online(&gw).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    cameras.stop().await;
    settle(&host, "alarms-debounced", &mqtt).await;
    let received = events.drain(Duration::from_secs(1)).await;
    let mut last: HashMap<String, i64> = HashMap::new();
    let mut published = 0;
    for message in received.iter().filter(|m| m.topic.ends_with("/event")) {
        let p = &message.payload;
        let key = format!(
            "{}|{}|{}|{}",
            p["device_id"], p["code"], p["channel"], p["action"]
        );
        let at = unix_ms(p["time"].as_str().expect("time"));
        if let Some(before) = last.get(&key) {
            assert!(
                at - *before >= 5000,
                "{key} published twice within the window"
            );
        }
        last.insert(key, at);
        published += 1;
    }
    let (input, _, _, dropped, _) = host.totals("alarms-debounced").await.expect("pipeline");
    assert!(
        published > 0 && dropped > 0,
        "published {published}, dropped {dropped} of {input}"
    );
    stop.cancel();
    gw.gateway.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wasm_code_filter_example_drops_video_loss_and_publishes_every_other_alarm() {
    // The example names the plugin where `cargo build --target wasm32-wasip2` puts it.
    plugins::plugin("code-filter");
    let broker = Mosquitto::start();
    let (gw, host, mqtt, stop) = setup(
        &broker,
        vec![repo("pipelines/examples/wasm-code-filter.yaml")],
    )
    .await;
    let mut events =
        Subscriber::connect(broker.port(), "filtered", true, "homeport/device/+/event").await;
    let cameras = fleet(&gw, 20.0);
    all_online(&gw).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let stats = Arc::clone(cameras.stats());
    cameras.stop().await;
    settle(&host, "alarms-filtered", &mqtt).await;
    let received = events.drain(Duration::from_secs(1)).await;
    let sent = stats.snapshot().alarms_sent;
    let codes: HashSet<&str> = received
        .iter()
        .filter_map(|m| m.payload["code"].as_str())
        .collect();
    assert!(!codes.contains("VideoLoss"), "{codes:?}");
    assert!(codes.len() >= 3, "other codes pass: {codes:?}");
    let (input, output, failed, dropped, _) =
        host.totals("alarms-filtered").await.expect("pipeline");
    let metrics = host.render_metrics().await;
    let filtered: u64 = metrics
        .lines()
        .find_map(|l| {
            l.strip_prefix(
                r#"homeport_pipeline_dropped_total{pipeline="alarms-filtered",reason="code_filtered"} "#,
            )
        })
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(
        filtered > 0,
        "the simulator sends video loss too:\n{metrics}"
    );
    assert_eq!((input, failed, dropped), (sent, 0, filtered));
    assert_eq!(
        received.len() as u64,
        output,
        "every passed alarm is published once"
    );
    stop.cancel();
    gw.gateway.shutdown().await;
}

/// RFC 3339 UTC with milliseconds → Unix ms, enough for comparing server times.
fn unix_ms(text: &str) -> i64 {
    let time = humantime::parse_rfc3339(text).expect("RFC 3339");
    time.duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_millis() as i64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn home_assistant_discovers_every_camera_with_connectivity_and_motion() {
    let broker = Mosquitto::start();
    let (gw, host, mqtt, stop) = setup(&broker, Vec::new()).await;
    let cameras = fleet(&gw, 20.0);
    all_online(&gw).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let mut discovery =
        Subscriber::connect(broker.port(), "ha", true, "homeassistant/device/+/config").await;
    let configs = discovery.drain(Duration::from_secs(1)).await;
    assert_eq!(
        configs.len(),
        DEVICES,
        "one retained discovery config per camera"
    );
    for config in &configs {
        assert!(config.retain);
        let id = config.payload["dev"]["name"].as_str().expect("device name");
        assert_eq!(
            config.topic,
            format!("homeassistant/device/homeport_{id}/config")
        );
        let online = &config.payload["cmps"]["online"];
        assert_eq!(
            online["state_topic"],
            format!("homeport/device/{id}/status")
        );
        assert_eq!(
            online["value_template"],
            "{{ 'ON' if value_json.online else 'OFF' }}"
        );
        assert_eq!(
            config.payload["cmps"]["motion"]["state_topic"],
            format!("homeport/device/{id}/motion/0")
        );
    }
    cameras.stop().await;
    settle(&host, "ha-motion", &mqtt).await;
    // Motion states are retained: a subscriber after the stream still sees each camera's last.
    let mut motion = Subscriber::connect(
        broker.port(),
        "ha-motion",
        true,
        "homeport/device/+/motion/0",
    )
    .await;
    let states = motion.drain(Duration::from_secs(1)).await;
    assert_eq!(states.len(), DEVICES, "{states:?}");
    assert!(
        states.iter().all(|m| m.retain && m.raw == "OFF"),
        "cameras that went offline are reset to OFF: {states:?}"
    );
    stop.cancel();
    gw.gateway.shutdown().await;
}

/// The opt-in snapshot example: a motion start makes the camera take a picture, and what
/// Home Assistant's image entity reads (base64 on homeport/device/<id>/snapshot/<channel>) is
/// exactly the camera's JPEG; every camera has the image entity's discovery.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshot_example_publishes_the_camera_s_own_jpeg_on_motion() {
    use base64::Engine;
    let broker = Mosquitto::start();
    let (gw, host, _mqtt, stop) =
        setup(&broker, vec![repo("pipelines/examples/ha-snapshot.yaml")]).await;
    let mut pictures = Subscriber::connect(
        broker.port(),
        "pictures",
        true,
        "homeport/device/+/snapshot/+",
    )
    .await;
    let mut images = Subscriber::connect(
        broker.port(),
        "images",
        true,
        "homeassistant/image/+/config",
    )
    .await;
    let cameras = fleet(&gw, 20.0);
    all_online(&gw).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut seen = HashSet::new();
    while seen.len() < 3 {
        let left = deadline.saturating_duration_since(Instant::now());
        let message = tokio::time::timeout(left, pictures.rx.recv())
            .await
            .expect("pictures in time")
            .expect("subscribed");
        let jpeg = base64::engine::general_purpose::STANDARD
            .decode(message.raw.as_bytes())
            .unwrap_or_else(|e| panic!("{}: not base64 ({e})", message.topic));
        assert_eq!(
            jpeg,
            homeport_simulator::snapshot::JPEG,
            "{}: the camera's own picture",
            message.topic
        );
        seen.insert(message.topic);
    }
    // Counted while every camera is still online (once they stop, a motion start still
    // queued fails: its camera has gone).
    let (_, _, failed, _, _) = host.totals("ha-snapshot").await.expect("pipeline");
    assert_eq!(failed, 0, "every online camera answered");
    cameras.stop().await;
    let configs = images.drain(Duration::from_secs(1)).await;
    let with_config: HashSet<&str> = configs
        .iter()
        .filter(|m| m.payload["image_encoding"] == "b64")
        .filter_map(|m| m.payload["unique_id"].as_str())
        .collect();
    assert_eq!(with_config.len(), DEVICES, "{with_config:?}");
    stop.cancel();
    gw.gateway.shutdown().await;
}
