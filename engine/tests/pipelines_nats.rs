//! Pipelines end to end with a real `nats-server` (JetStream), running the shipped example
//! `pipelines/examples/alarms-nats-jetstream.yaml`: every alarm of a simulated fleet is
//! stored exactly once in the stream, in per-device order, with `Nats-Msg-Id` =
//! event id (so replaying one is not stored twice), and the KV bucket holds each device's
//! latest status.

mod support;

#[path = "brokers/nats.rs"]
mod nats;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_nats::jetstream::{self, consumer};
use futures::StreamExt;
use homeport::device::LoginProtocol;
use homeport::event::DeviceState;
use homeport::gateway::device_credentials;
use homeport::pipeline::PipelineHost;
use homeport::sink::Sinks;
use homeport::sink::nats::{NatsConfig, NatsSink};
use homeport::store::DeadLetter;
use homeport_simulator::{Fleet, FleetConfig};
use nats::NatsServer;
use support::TestGateway;
use tokio_util::sync::CancellationToken;

const DEVICES: usize = 10;

/// Every alarm message in the stream: (device, msg id, event id, time).
async fn stored_alarms(url: &str) -> Vec<(String, String, serde_json::Value)> {
    let client = async_nats::connect(url).await.expect("reader connects");
    let stream = jetstream::new(client)
        .get_stream("HOMEPORT")
        .await
        .expect("stream");
    let total = stream
        .clone()
        .get_info()
        .await
        .expect("info")
        .state
        .messages;
    let consumer = stream
        .create_consumer(consumer::pull::Config {
            ack_policy: consumer::AckPolicy::None,
            deliver_policy: consumer::DeliverPolicy::All,
            filter_subject: "homeport.*.alarm".to_owned(),
            ..consumer::pull::Config::default()
        })
        .await
        .expect("consumer");
    let pending = consumer
        .clone()
        .info()
        .await
        .expect("consumer info")
        .num_pending;
    assert!(pending <= total);
    let mut messages = consumer.messages().await.expect("messages");
    let mut out = Vec::new();
    while (out.len() as u64) < pending {
        let message = tokio::time::timeout(Duration::from_secs(10), messages.next())
            .await
            .expect("in time")
            .expect("open")
            .expect("message");
        let id = message
            .headers
            .as_ref()
            .and_then(|h| h.get(async_nats::header::NATS_MESSAGE_ID))
            .map(|v| v.as_str().to_owned())
            .unwrap_or_default();
        let payload: serde_json::Value = serde_json::from_slice(&message.payload).expect("JSON");
        out.push((message.subject.to_string(), id, payload));
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alarms_are_stored_once_in_order_and_the_kv_holds_each_status() {
    let server = NatsServer::start();
    let gw = TestGateway::start().await;
    let devices = (1..=DEVICES)
        .map(|i| device_credentials(&format!("n{i}"), "admin", "pw", LoginProtocol::Auto))
        .collect();
    gw.gateway.import_devices(devices).await.expect("import");
    let stop = CancellationToken::new();
    let sink = NatsSink::start(NatsConfig::from_url(server.url()), stop.clone())
        .await
        .expect("nats sink");
    let services = gw
        .gateway
        .services()
        .with_sinks(Sinks::of(None, Some(sink.clone())));
    // The shipped example (the built-in defaults do the same under other names).
    let example = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../pipelines/examples/alarms-nats-jetstream.yaml");
    let host = PipelineHost::start(vec![example], services, gw.gateway.bus().clone())
        .expect("example compiles");
    assert_eq!(host.names().await, vec!["alarms-jetstream", "status-kv"]);
    // Automatic logins are on by default, so the example needs no login pipeline.
    let mut config = FleetConfig::new(gw.addr().to_string(), DEVICES, "n", "pw");
    config.firmware = support::firmware();
    config.alarm_rate = 10.0;
    let cameras = Fleet::start(config);
    support::eventually("all online", || {
        gw.gateway
            .registry()
            .counts()
            .get(&DeviceState::Online)
            .copied()
            == Some(DEVICES)
    })
    .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let stats = Arc::clone(cameras.stats());
    cameras.stop().await;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (_, _, _, _, in_flight) = host.totals("alarms-jetstream").await.expect("pipeline");
        let (_, _, _, _, status_in_flight) = host.totals("status-kv").await.expect("pipeline");
        if in_flight == 0 && status_in_flight == 0 {
            break;
        }
        assert!(Instant::now() < deadline, "pipelines did not settle");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let sent = stats.snapshot().alarms_sent;
    assert!(sent > 50, "only {sent} alarms");
    let stored = stored_alarms(&server.url()).await;
    assert_eq!(stored.len() as u64, sent, "every alarm stored exactly once");
    let ids: HashSet<&str> = stored.iter().map(|(_, id, _)| id.as_str()).collect();
    assert_eq!(ids.len(), stored.len());
    let mut last: HashMap<String, String> = HashMap::new();
    for (subject, id, payload) in &stored {
        assert_eq!(
            payload["event_id"].as_str(),
            Some(id.as_str()),
            "Nats-Msg-Id is the event id"
        );
        let device = payload["device_id"].as_str().expect("device").to_owned();
        assert_eq!(subject, &format!("homeport.{device}.alarm"));
        let time = payload["time"].as_str().expect("time").to_owned();
        if let Some(before) = last.get(&device) {
            assert!(*before <= time, "{device} out of order");
        }
        last.insert(device, time);
    }

    // Replaying an alarm that is already stored does not store it again.
    let (_, _, first) = &stored[0];
    let event = serde_json::json!({
        "id": first["event_id"], "at_ms": 0, "device": first["device_id"], "kind": "alarm",
        "channel": first["channel"], "code": first["code"], "action": first["action"], "data": first["data"],
    });
    let letter = DeadLetter {
        id: 0,
        at_ms: 0,
        pipeline: "alarms-jetstream".to_owned(),
        stage: "#1 nats".to_owned(),
        error: String::new(),
        event: event.to_string(),
    };
    host.replay(&letter).await.expect("replayed");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        stored_alarms(&server.url()).await.len() as u64,
        sent,
        "a replayed alarm is de-duplicated by its id"
    );

    // The KV bucket holds each device's latest state: offline, since the cameras stopped.
    let kv = jetstream::new(async_nats::connect(server.url()).await.expect("connect"))
        .get_key_value("homeport_devices")
        .await
        .expect("bucket");
    for i in 1..=DEVICES {
        let entry = kv
            .get(format!("n{i}"))
            .await
            .expect("get")
            .expect("a state per device");
        let state: serde_json::Value = serde_json::from_slice(&entry).expect("JSON");
        assert_eq!(state["online"], false, "{state}");
    }
    stop.cancel();
    gw.gateway.shutdown().await;
}
