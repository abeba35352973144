//! The event path under overload, end to end with a real `mosquitto` and a QoS 1 subscriber:
//! simulated cameras offer far more alarms than the gateway, the broker and the subscriber can
//! carry (a small pipeline queue and MQTT buffer make sure of it). Under the default policy
//! (`block`) the cameras are slowed down by TCP and every alarm a camera wrote arrives exactly
//! once, in per-camera order; under `drop_oldest` the same load loses alarms, and exactly as
//! many as the pipeline counts.
//!
//! Each simulated alarm carries `SimSeq` (1, 2, 3… per camera), so loss, doubles and order are
//! checked per camera, not guessed from times.

mod support;

#[path = "brokers/mosquitto.rs"]
mod mosquitto;
#[path = "brokers/mqtt_subscriber.rs"]
mod subscriber;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use homeport::device::LoginProtocol;
use homeport::gateway::device_credentials;
use homeport::pipeline::PipelineHost;
use homeport::sink::Sinks;
use homeport::sink::mqtt::{MqttConfig, MqttSink};
use homeport_simulator::{Fleet, FleetConfig};
use mosquitto::Mosquitto;
use subscriber::Subscriber;
use support::TestGateway;
use tokio_util::sync::CancellationToken;

const CAMERAS: usize = 10;
/// Alarms each camera writes, then it stays connected and quiet.
const PER_CAMERA: u64 = 2_000;
/// Alarms per second each camera offers: 20 000/s in all, well beyond what this path carries.
const RATE: f64 = 2_000.0;
/// The pipeline's queue and the MQTT sink's buffer: small, so that they fill at once.
const QUEUE: usize = 32;
const SINK_BUFFER: usize = 64;

/// What one run delivered: per camera, the `SimSeq`s received in arrival order.
struct Run {
    sent: u64,
    received: HashMap<String, Vec<u64>>,
    dropped: u64,
    sink_dropped: u64,
}

fn pipeline_file(dir: &std::path::Path, when_full: &str) -> PathBuf {
    let path = dir.join("flood.yaml");
    std::fs::write(
        &path,
        format!(
            "pipelines:\n\
             \x20 - name: flood\n\
             \x20   on: [alarm]\n\
             \x20   queue: {{ capacity: {QUEUE}, when_full: {when_full} }}\n\
             \x20   stages:\n\
             \x20     - mqtt: {{ topic: \"flood/{{{{ device_id }}}}\", qos: 1 }}\n"
        ),
    )
    .expect("pipeline file");
    path
}

/// Floods one gateway whose `flood` pipeline has the queue policy `when_full`.
async fn flood(when_full: &str) -> Run {
    let broker = Mosquitto::start();
    let gw = TestGateway::start().await;
    let devices = (1..=CAMERAS)
        .map(|i| device_credentials(&format!("cam{i}"), "admin", "pw", LoginProtocol::Auto))
        .collect();
    gw.gateway.import_devices(devices).await.expect("import");
    let stop = CancellationToken::new();
    let mut config = MqttConfig::from_url(broker.url(), "overload").expect("config");
    config.buffer = SINK_BUFFER;
    let mqtt = MqttSink::start(config, stop.clone()).expect("sink");
    let services = gw
        .gateway
        .services()
        .with_sinks(Sinks::of(Some(mqtt.clone()), None));
    let files = tempfile::tempdir().expect("tempdir");
    let host = PipelineHost::start(
        vec![pipeline_file(files.path(), when_full)],
        services,
        gw.gateway.bus().clone(),
    )
    .expect("pipeline compiles");
    let mut arrivals = Subscriber::connect(broker.port(), "flood", true, "flood/+").await;

    let mut fleet = FleetConfig::new(gw.addr().to_string(), CAMERAS, "cam", "pw");
    fleet.firmware = support::firmware();
    fleet.alarm_rate = RATE;
    fleet.alarm_limit = Some(PER_CAMERA);
    let cameras = Fleet::start(fleet);
    let stats = Arc::clone(cameras.stats());
    let total = CAMERAS as u64 * PER_CAMERA;
    let deadline = Instant::now() + Duration::from_secs(120);
    while stats.snapshot().alarms_sent < total {
        assert!(
            Instant::now() < deadline,
            "the cameras wrote only {} of {total} alarms",
            stats.snapshot().alarms_sent
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Everything written reaches the pipeline and leaves the sink (the cameras stay connected
    // meanwhile, so nothing still in a socket is cut off).
    loop {
        let (input, _, _, dropped, in_flight) = host.totals("flood").await.expect("pipeline");
        let sink = mqtt.stats();
        if input == total && in_flight == 0 && sink.queued == 0 && sink.in_flight == 0 {
            assert!(dropped <= total);
            break;
        }
        assert!(
            Instant::now() < deadline,
            "not settled: {input} of {total} in, {in_flight} in flight, sink {sink:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut received: HashMap<String, Vec<u64>> = HashMap::new();
    for message in arrivals.drain(Duration::from_secs(1)).await {
        let device = message.payload["device_id"]
            .as_str()
            .expect("device_id")
            .to_owned();
        assert_eq!(message.topic, format!("flood/{device}"));
        let seq = message.payload["data"]["SimSeq"]
            .as_u64()
            .unwrap_or_else(|| panic!("alarm without SimSeq: {}", message.raw));
        received.entry(device).or_default().push(seq);
    }
    let (_, _, _, dropped, _) = host.totals("flood").await.expect("pipeline");
    let run = Run {
        sent: stats.snapshot().alarms_sent,
        received,
        dropped,
        sink_dropped: mqtt.stats().dropped_full,
    };
    cameras.stop().await;
    stop.cancel();
    gw.gateway.shutdown().await;
    host.shutdown().await;
    run
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_overload_block_loses_nothing_and_drop_oldest_loses_what_it_counts() {
    // drop_oldest first: that the same load loses alarms shows it is more than the path carries.
    let lossy = flood("drop_oldest").await;
    assert_eq!(lossy.sent, CAMERAS as u64 * PER_CAMERA);
    let mut delivered = 0;
    for (device, seqs) in &lossy.received {
        assert!(
            seqs.windows(2).all(|pair| pair[0] < pair[1]),
            "{device}: what is left stays in order, once each"
        );
        delivered += seqs.len() as u64;
    }
    let lost = lossy.sent - delivered;
    assert!(
        lost > 0,
        "the load did not overload the path: nothing was dropped"
    );
    assert_eq!(lossy.sink_dropped, 0, "the sink blocks by default");
    assert_eq!(
        lost, lossy.dropped,
        "every lost alarm is counted, and only those"
    );
    eprintln!(
        "drop_oldest: {lost} of {} alarms dropped and counted",
        lossy.sent
    );

    let lossless = flood("block").await;
    assert_eq!(lossless.sent, CAMERAS as u64 * PER_CAMERA);
    assert_eq!(lossless.dropped, 0);
    assert_eq!(lossless.sink_dropped, 0);
    assert_eq!(
        lossless.received.len(),
        CAMERAS,
        "every camera's alarms arrive"
    );
    let every: Vec<u64> = (1..=PER_CAMERA).collect();
    for (device, seqs) in &lossless.received {
        assert!(
            *seqs == every,
            "{device}: every alarm exactly once and in order; got {} alarms, first gap or \
             disorder after {:?}",
            seqs.len(),
            seqs.iter()
                .zip(1..)
                .find(|(seq, want)| **seq != *want)
                .map(|(_, want)| want - 1)
        );
    }
}
