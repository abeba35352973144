//! The NATS sink against a real `nats-server` with JetStream: core publishes, de-duplicated
//! JetStream publishes, the device-state KV bucket, a server killed mid-stream, bad input.

#[path = "brokers/nats.rs"]
mod broker;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_nats::jetstream::{self, consumer};
use broker::NatsServer;
use bytes::Bytes;
use futures::StreamExt;
use homeport::sink::nats::{NatsConfig, NatsError, NatsSink};
use tokio_util::sync::CancellationToken;

/// How long a test waits for any one thing.
const WAIT: Duration = Duration::from_secs(20);

/// Defaults, with a short ack timeout so retries after a kill start quickly.
fn config(server: &NatsServer) -> NatsConfig {
    config_for(&server.url())
}

async fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while !done() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Every message of a stream, in stream order, as (subject, msg id, payload), read with an
/// ephemeral pull consumer once the stream holds `expected` messages.
async fn read_stream(url: &str, stream: &str, expected: u64) -> Vec<(String, String, String)> {
    let client = async_nats::connect(url).await.expect("reader connects");
    let js = jetstream::new(client);
    let stream = js.get_stream(stream).await.expect("stream exists");
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let messages = stream.get_info().await.expect("stream info").state.messages;
        if messages >= expected {
            assert_eq!(messages, expected, "more messages stored than expected");
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "stream holds {messages} of {expected} messages"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let consumer = stream
        .create_consumer(consumer::pull::Config {
            ack_policy: consumer::AckPolicy::None,
            deliver_policy: consumer::DeliverPolicy::All,
            ..consumer::pull::Config::default()
        })
        .await
        .expect("consumer");
    let mut messages = consumer.messages().await.expect("message stream");
    let mut out = Vec::new();
    while (out.len() as u64) < expected {
        let message = tokio::time::timeout(WAIT, messages.next())
            .await
            .expect("next message in time")
            .expect("stream open")
            .expect("message");
        let id = message
            .headers
            .as_ref()
            .and_then(|headers| headers.get(async_nats::header::NATS_MESSAGE_ID))
            .map(|id| id.as_str().to_owned())
            .unwrap_or_default();
        out.push((
            message.subject.to_string(),
            id,
            String::from_utf8_lossy(&message.payload).into_owned(),
        ));
    }
    out
}

#[tokio::test]
async fn core_publish_reaches_a_subscriber() {
    let server = NatsServer::start();
    let mut config = NatsConfig::from_url(server.url());
    config.jetstream = None;
    config.kv_bucket = None;
    let sink = NatsSink::start(config, CancellationToken::new())
        .await
        .expect("sink starts without JetStream");

    let subscriber = async_nats::connect(server.url()).await.expect("subscriber");
    let mut alarms = subscriber
        .subscribe("homeport.cam1.>")
        .await
        .expect("subscribe");
    // `flush` only empties the client's buffer; a request that nobody answers is a round trip
    // through the server, so the subscription is in place before the sink publishes.
    let probe = subscriber.request("probe.nobody", Bytes::new()).await;
    assert!(probe.is_err(), "nobody answers the probe");

    for i in 0..100 {
        sink.publish("homeport.cam1.alarm", Bytes::from(format!("{i}")))
            .expect("queued");
    }
    for i in 0..100 {
        let message = tokio::time::timeout(WAIT, alarms.next())
            .await
            .unwrap_or_else(|_| panic!("message {i} in time; {:?}", sink.stats()))
            .expect("message");
        assert_eq!(message.subject.as_str(), "homeport.cam1.alarm");
        assert_eq!(message.payload, format!("{i}"), "in publish order");
    }
    wait_until("published counter", || sink.stats().published == 100).await;
    let stats = sink.stats();
    assert!(stats.connected);
    assert_eq!((stats.dropped, stats.errors), (0, 0));
}

#[tokio::test]
async fn jetstream_stores_one_message_per_msg_id_in_order() {
    let server = NatsServer::start();
    let sink = NatsSink::start(config(&server), CancellationToken::new())
        .await
        .expect("sink starts");

    let first = sink
        .publish_js("homeport.cam1.alarm", Bytes::from("first"), "evt-1")
        .await
        .expect("acked");
    assert_eq!(first.stream, "HOMEPORT");
    assert!(!first.duplicate);
    let again = sink
        .publish_js("homeport.cam1.alarm", Bytes::from("second copy"), "evt-1")
        .await
        .expect("acked");
    assert!(
        again.duplicate,
        "same msg id within the window is a duplicate"
    );
    assert_eq!(
        again.sequence, first.sequence,
        "the duplicate points at the first copy"
    );

    for i in 2..=20 {
        let ack = sink
            .publish_js(
                &format!("homeport.cam{}.alarm", i % 3),
                Bytes::from(format!("payload-{i}")),
                &format!("evt-{i}"),
            )
            .await
            .expect("acked");
        assert!(!ack.duplicate);
        assert_eq!(ack.attempts, 1);
    }

    let stored = read_stream(&server.url(), "HOMEPORT", 20).await;
    let ids: Vec<&str> = stored.iter().map(|(_, id, _)| id.as_str()).collect();
    let expected: Vec<String> = (1..=20).map(|i| format!("evt-{i}")).collect();
    assert_eq!(ids, expected, "each id once, in publish order");
    assert_eq!(stored[0].2, "first", "the first copy is the one kept");
    assert_eq!(stored[4].0, "homeport.cam2.alarm");

    let stats = sink.stats();
    assert_eq!(
        (stats.js_acked, stats.js_duplicates, stats.errors),
        (21, 1, 0)
    );
}

#[tokio::test]
async fn kv_holds_the_latest_state_of_each_device() {
    let server = NatsServer::start();
    let sink = NatsSink::start(config(&server), CancellationToken::new())
        .await
        .expect("sink starts");

    let r1 = sink
        .put_state("cam1", Bytes::from(r#"{"online":true,"n":1}"#))
        .await
        .expect("put");
    sink.put_state("cam2", Bytes::from(r#"{"online":true}"#))
        .await
        .expect("put");
    let r3 = sink
        .put_state("cam1", Bytes::from(r#"{"online":false,"n":2}"#))
        .await
        .expect("put");
    assert!(r3 > r1, "revisions grow");

    // A second node starting on the same bucket opens it instead of failing.
    let other = NatsSink::start(config(&server), CancellationToken::new())
        .await
        .expect("second sink on the same stream and bucket");
    other
        .put_state("cam3", Bytes::from(r#"{"online":true}"#))
        .await
        .expect("put from the other node");

    let client = async_nats::connect(server.url()).await.expect("reader");
    let kv = jetstream::new(client)
        .get_key_value("homeport_devices")
        .await
        .expect("bucket exists");
    let get = |key: &'static str| {
        let kv = kv.clone();
        async move { kv.get(key).await.expect("get").expect("key present") }
    };
    assert_eq!(get("cam1").await, r#"{"online":false,"n":2}"#);
    assert_eq!(get("cam2").await, r#"{"online":true}"#);
    assert_eq!(get("cam3").await, r#"{"online":true}"#);
    assert_eq!(sink.stats().kv_puts, 3);
}

#[tokio::test]
async fn a_server_killed_mid_stream_loses_and_doubles_nothing() {
    const PER_DEVICE: u64 = 120;
    let mut server = NatsServer::start();
    let sink = NatsSink::start(config(&server), CancellationToken::new())
        .await
        .expect("sink starts");
    let acked = Arc::new(AtomicU64::new(0));

    // Each device publishes its events one after another, like a per-device pipeline.
    let device = |id: u64| {
        let sink = sink.clone();
        let acked = acked.clone();
        tokio::spawn(async move {
            for n in 0..PER_DEVICE {
                sink.publish_js(
                    &format!("homeport.cam{id}.alarm"),
                    Bytes::from(format!("cam{id}:{n}")),
                    &format!("cam{id}-{n}"),
                )
                .await
                .unwrap_or_else(|e| panic!("cam{id} event {n}: {e}"));
                acked.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        })
    };

    // Started before the outage.
    let mut tasks: Vec<_> = (0..3).map(device).collect();
    wait_until("events acked before the kill", || {
        acked.load(Ordering::Relaxed) >= 60
    })
    .await;
    server.kill();
    wait_until("the sink to notice", || !sink.stats().connected).await;
    // Started during the outage.
    tasks.push(device(3));
    tokio::time::sleep(Duration::from_millis(300)).await;
    let acked_during_outage = acked.load(Ordering::Relaxed);
    server.restart();
    // Started after the restart.
    tasks.push(device(4));
    for task in tasks {
        tokio::time::timeout(WAIT, task)
            .await
            .expect("devices finish")
            .expect("device task");
    }

    let stored = read_stream(&server.url(), "HOMEPORT", 5 * PER_DEVICE).await;
    let mut per_device: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (subject, id, payload) in &stored {
        assert_eq!(payload.replace(':', "-"), *id, "payload matches its id");
        per_device
            .entry(subject.clone())
            .or_default()
            .push(id.clone());
    }
    for id in 0..5 {
        let expected: Vec<String> = (0..PER_DEVICE).map(|n| format!("cam{id}-{n}")).collect();
        assert_eq!(
            per_device[&format!("homeport.cam{id}.alarm")],
            expected,
            "cam{id}: every event exactly once, in order"
        );
    }

    let stats = sink.stats();
    assert!(stats.connected);
    assert_eq!(stats.js_acked, 5 * PER_DEVICE);
    assert_eq!(stats.errors, 0);
    assert!(stats.js_retries > 0, "the outage was hit: {stats:?}");
    assert!(
        acked_during_outage < 5 * PER_DEVICE,
        "publishing spanned the outage"
    );

    // The restarted server still knows the ids within the duplicate window.
    let ack = sink
        .publish_js("homeport.cam0.alarm", Bytes::from("again"), "cam0-0")
        .await
        .expect("acked");
    assert!(ack.duplicate, "dedup state survives a restart");
}

/// A sink with a `buffer`-message outage buffer, connected, whose server is then killed.
async fn sink_in_an_outage(buffer: usize) -> (NatsServer, NatsSink) {
    let mut server = NatsServer::start();
    let mut config = config(&server);
    config.buffer = buffer;
    let sink = NatsSink::start(config, CancellationToken::new())
        .await
        .expect("sink starts");
    server.kill();
    wait_until("the sink to notice", || !sink.stats().connected).await;
    (server, sink)
}

#[tokio::test]
async fn core_publishes_wait_out_an_outage_in_a_bounded_buffer() {
    const SENT: usize = 2_000;
    let (mut server, sink) = sink_in_an_outage(50).await;
    let mut accepted = Vec::new();
    let mut dropped = 0u64;
    for i in 0..SENT {
        match sink.publish("homeport.core.status", Bytes::from(format!("{i}"))) {
            Ok(()) => accepted.push(format!("{i}")),
            Err(NatsError::BufferFull { capacity: 50, .. }) => dropped += 1,
            Err(other) => panic!("unexpected error: {other}"),
        }
        // Let the forwarder move what it can, as a real producer would.
        if i % 100 == 0 {
            tokio::task::yield_now().await;
        }
    }
    assert!(dropped > 0, "a 2 000 message outage overflows the buffer");
    assert_eq!(accepted.len() as u64 + dropped, SENT as u64);
    assert_eq!(sink.stats().dropped, dropped, "every drop counted");
    assert!(accepted.len() >= 50, "at least `buffer` messages are kept");

    server.restart();
    // The stream captures homeport.>, so core publishes land in it once the server is back.
    let stored = read_stream(&server.url(), "HOMEPORT", accepted.len() as u64).await;
    let payloads: Vec<String> = stored.into_iter().map(|(_, _, payload)| payload).collect();
    assert_eq!(
        payloads, accepted,
        "every buffered publish delivered, in order"
    );
    wait_until("published counter", || {
        sink.stats().published == accepted.len() as u64
    })
    .await;
}

/// Under the default `when_full: block`, `send` waits out a full buffer instead of dropping:
/// every message of an outage far larger than the buffer is delivered, in order.
#[tokio::test]
async fn send_waits_for_room_through_an_outage_and_drops_nothing() {
    const SENT: usize = 2_000;
    let (mut server, sink) = sink_in_an_outage(50).await;
    let producer = {
        let sink = sink.clone();
        tokio::spawn(async move {
            for i in 0..SENT {
                sink.send("homeport.core.status", Bytes::from(format!("{i}")))
                    .await
                    .expect("send waits, never fails");
            }
        })
    };
    // The producer fills the buffer (and the client's queue) and then waits.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!producer.is_finished(), "a full buffer makes send wait");
    assert_eq!(sink.stats().dropped, 0, "nothing dropped while waiting");

    server.restart();
    producer.await.expect("producer done");
    let stored = read_stream(&server.url(), "HOMEPORT", SENT as u64).await;
    let payloads: Vec<String> = stored.into_iter().map(|(_, _, payload)| payload).collect();
    let expected: Vec<String> = (0..SENT).map(|i| i.to_string()).collect();
    assert_eq!(payloads, expected, "every message delivered once, in order");
    assert_eq!(sink.stats().dropped, 0);
}

#[tokio::test]
async fn shutdown_ends_retries_with_a_clear_error() {
    let mut server = NatsServer::start();
    let shutdown = CancellationToken::new();
    let sink = NatsSink::start(config(&server), shutdown.clone())
        .await
        .expect("sink starts");
    server.kill();
    wait_until("the sink to notice", || !sink.stats().connected).await;

    let pending = {
        let sink = sink.clone();
        tokio::spawn(async move {
            sink.publish_js("homeport.cam1.alarm", Bytes::from("x"), "evt-1")
                .await
        })
    };
    tokio::time::sleep(Duration::from_millis(700)).await;
    shutdown.cancel();
    let result = tokio::time::timeout(WAIT, pending)
        .await
        .expect("publish_js returns after shutdown")
        .expect("task");
    let error = result.expect_err("not acknowledged");
    assert!(matches!(error, NatsError::ShuttingDown { .. }), "{error}");
    assert!(error.to_string().contains("not acknowledged"), "{error}");
    tokio::time::timeout(Duration::from_secs(10), sink.closed())
        .await
        .expect("closed after shutdown");
    assert!(matches!(
        sink.publish("homeport.x", Bytes::new()),
        Err(NatsError::ShuttingDown { .. })
    ));
}

#[tokio::test]
async fn bad_urls_subjects_keys_and_ids_get_clear_errors() {
    // URLs, checked before any I/O.
    let error = NatsSink::start(
        NatsConfig::from_url("http://127.0.0.1:4222"),
        CancellationToken::new(),
    )
    .await
    .expect_err("http is not NATS");
    assert!(matches!(error, NatsError::InvalidUrl { .. }));
    assert!(error.to_string().contains("scheme http"), "{error}");

    // Nobody listening: the error names the server but not the password.
    let nobody = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("free port");
    let error = NatsSink::start(
        NatsConfig::from_url(format!("nats://alice:s3cret@{nobody}")),
        CancellationToken::new(),
    )
    .await
    .expect_err("nothing listens");
    let text = error.to_string();
    assert!(matches!(error, NatsError::Connect { .. }), "{text}");
    assert!(text.contains(&format!("alice:***@{nobody}")), "{text}");
    assert!(!text.contains("s3cret") && !format!("{error:?}").contains("s3cret"));

    let server = NatsServer::start();
    let sink = NatsSink::start(config(&server), CancellationToken::new())
        .await
        .expect("sink starts");
    for subject in [
        "",
        "homeport..alarm",
        "homeport.*.alarm",
        "homeport.>",
        "$SYS.REQ.SERVER.PING",
        "homeport.cam 1.alarm",
    ] {
        let error = sink.publish(subject, Bytes::from("x")).expect_err(subject);
        assert!(
            matches!(error, NatsError::InvalidSubject { .. }),
            "{subject:?}: {error}"
        );
        let error = sink
            .publish_js(subject, Bytes::from("x"), "id")
            .await
            .expect_err(subject);
        assert!(
            matches!(error, NatsError::InvalidSubject { .. }),
            "{subject:?}: {error}"
        );
    }
    let error = sink
        .publish_js("elsewhere.cam1.alarm", Bytes::from("x"), "id")
        .await
        .expect_err("outside the stream");
    assert!(
        error
            .to_string()
            .contains("not captured by JetStream stream HOMEPORT"),
        "{error}"
    );
    let error = sink
        .publish_js("homeport.cam1.alarm", Bytes::from("x"), "")
        .await
        .expect_err("empty id");
    assert!(matches!(error, NatsError::InvalidMsgId { .. }), "{error}");
    for key in ["", "cam 1", ".cam1", "cam1.", "cam*", "cam>", "caméra"] {
        let error = sink.put_state(key, Bytes::from("{}")).await.expect_err(key);
        assert!(
            matches!(error, NatsError::InvalidKey { .. }),
            "{key:?}: {error}"
        );
        assert!(
            error.to_string().contains("not a valid NATS KV key"),
            "{error}"
        );
    }
    let huge = Bytes::from(vec![b'x'; 2 * 1024 * 1024]);
    let error = sink
        .publish("homeport.cam1.snapshot", huge)
        .expect_err("over max_payload");
    assert!(
        matches!(error, NatsError::PayloadTooLarge { .. }),
        "{error}"
    );
    assert_eq!(sink.stats().errors, 6 * 2 + 1 + 1 + 7 + 1);

    // Parts turned off say so.
    let mut plain = NatsConfig::from_url(server.url());
    plain.jetstream = None;
    plain.kv_bucket = None;
    let plain = NatsSink::start(plain, CancellationToken::new())
        .await
        .expect("core-only sink");
    assert!(matches!(
        plain.publish_js("homeport.x", Bytes::new(), "id").await,
        Err(NatsError::JetStreamDisabled)
    ));
    assert!(matches!(
        plain.put_state("cam1", Bytes::new()).await,
        Err(NatsError::KvDisabled)
    ));
}

#[tokio::test]
async fn credentials_in_the_url_authenticate_and_never_show() {
    let server = NatsServer::start_with(&["--user", "alice", "--pass", "s3cret"]);
    let url = format!("nats://alice:s3cret@127.0.0.1:{}", server.port());
    let sink = NatsSink::start(config_for(&url), CancellationToken::new())
        .await
        .expect("right password connects");
    sink.publish_js("homeport.cam1.alarm", Bytes::from("x"), "evt-1")
        .await
        .expect("acked");
    assert!(!format!("{sink:?}").contains("s3cret"));

    let wrong = format!("nats://alice:wr0ng@127.0.0.1:{}", server.port());
    let error = NatsSink::start(config_for(&wrong), CancellationToken::new())
        .await
        .expect_err("wrong password");
    assert!(matches!(error, NatsError::Connect { .. }), "{error}");
    assert!(!error.to_string().contains("wr0ng"), "{error}");
}

/// Defaults for a URL, with a short ack timeout.
fn config_for(url: &str) -> NatsConfig {
    let mut config = NatsConfig::from_url(url);
    if let Some(js) = config.jetstream.as_mut() {
        js.ack_timeout = Duration::from_millis(500);
    }
    config
}
