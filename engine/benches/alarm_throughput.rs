//! Alarm throughput and latency through pipelines to MQTT, against a real `mosquitto` on a free
//! loopback port, side by side with a bare rumqttc publisher to the same broker in the same run
//! (the floor).
//!
//! - **Floor.** A bare rumqttc `AsyncClient` publishes N copies of an alarm's standard JSON to
//!   `homeport/device/<id>/event` (100 ids in turn) as fast as it can; a rumqttc subscriber on
//!   `homeport/device/+/event` counts arrivals. Throughput is N over the time from the first
//!   publish to the subscriber's N-th arrival.
//! - **Pipeline.** N alarm events go onto the event bus the way a device session publishes
//!   them (`Event::new(device, EventKind::Alarm { .. })`, 100 devices), through one pipeline
//!   (`on: [alarm]`, one `mqtt` stage) and the `MqttSink` to the same broker and subscriber,
//!   measured the same way. The injector keeps at most `WINDOW` events between the bus and
//!   the sink's socket.
//! - **Device path.** `homeport sim --devices D --alarm-rate R --alarm-count R×seconds` (a
//!   child process) against an in-process gateway running the same pipeline under the default
//!   policies (`block` everywhere); alarms delivered per second at the subscriber, and whether
//!   the subscriber got every alarm the simulator wrote (the run waits for them all before it
//!   stops the cameras, so none is cut off in a socket).
//! - **Latency.** Alarms at a fixed rate, QoS 1, through the floor publisher, through
//!   `MqttSink::send` alone, and through the pipeline, in alternating rounds; each carries its
//!   send time (`data.t_ns`) and the subscriber computes p50/p99. Each p99 is also divided by
//!   the floor's p99 of the same round, and the median of those ratios reported: on a shared
//!   machine a whole round's tail moves together.
//!
//! Every measurement runs in a fresh process (the command re-runs itself), all against the
//! one broker this command starts. Alongside each rate the command reports CPU time per alarm
//! of the measuring process (without the subscriber's thread), the subscriber and the broker;
//! for the device path, the cores each process used while the cameras were sending.
//!
//! `cargo bench -p homeport --bench alarm_throughput -- [--runs 3] [--messages 150000]
//! [--devices 100] [--alarm-rates 300,500,700] [--device-seconds 5] [--latency-rate 5000]
//! [--latency-seconds 4] [--latency-runs N (default: --runs)]`

mod support;

use support::{arg, gateway_for, median, rerun, wait_online};

#[path = "../tests/brokers/mosquitto.rs"]
mod mosquitto;

use std::collections::HashMap;
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use homeport::bus::EventBus;
use homeport::event::{Event, EventKind};
use homeport::pipeline::{PipelineHost, Services, payload};
use homeport::registry::{Registry, RegistryConfig};
use homeport::sink::Sinks;
use homeport::sink::mqtt::{MqttConfig, MqttSink, Publish};
use rumqttc::{AsyncClient, MqttOptions, Packet, QoS};
use serde_json::{Map, Value, json};
use tokio_util::sync::CancellationToken;

const HOMEPORT: &str = env!("CARGO_BIN_EXE_homeport");
/// Device ids the floor and the pipeline spread alarms over.
const DEVICE_IDS: usize = 100;
/// Most events the pipeline injector lets be between the bus and the sink's socket: below the
/// bus (16 384) and a pipeline shard's queue (2 500 of 10 000), so nothing is dropped.
const WINDOW: u64 = 4096;
/// Added to send times so that `t_ns` always has 16 digits (the floor patches it in place).
const T_OFFSET: u64 = 1_000_000_000_000_000;
/// Latency samples taken before this much of a run are warm-up and left out.
const WARMUP: Duration = Duration::from_secs(1);
/// A run gives up waiting for arrivals after this long without one.
const QUIET: Duration = Duration::from_secs(5);
/// Clock ticks per second in `/proc/*/stat` (`getconf CLK_TCK`; 100 on Linux x86_64).
const TICKS_PER_SECOND: f64 = 100.0;
const SUBSCRIBER_THREAD: &str = "bench-sub";

// ---------------------------------------------------------------------------------------------
// Time, arguments, CPU

fn base() -> Instant {
    static BASE: OnceLock<Instant> = OnceLock::new();
    *BASE.get_or_init(Instant::now)
}

/// Nanoseconds since the process's first look at the clock.
fn now_ns() -> u64 {
    base().elapsed().as_nanos() as u64
}

fn arg_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    arg(name).and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// utime + stime of a `/proc/.../stat` file, in seconds.
fn cpu_seconds(stat: &str) -> f64 {
    std::fs::read_to_string(stat)
        .ok()
        .and_then(|text| {
            // Fields after the `(comm)`: state is the first, utime the 12th, stime the 13th.
            let rest = &text[text.rfind(')')? + 2..];
            let fields: Vec<&str> = rest.split_whitespace().collect();
            Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
        })
        .map_or(0.0, |ticks| ticks as f64 / TICKS_PER_SECOND)
}

/// The `/proc/self/task/<tid>/stat` of the subscriber's thread.
fn subscriber_stat() -> Option<String> {
    std::fs::read_dir("/proc/self/task")
        .ok()?
        .flatten()
        .map(|task| task.path())
        .find(|path| {
            std::fs::read_to_string(path.join("comm"))
                .is_ok_and(|comm| comm.trim() == SUBSCRIBER_THREAD)
        })
        .map(|path| path.join("stat").to_string_lossy().into_owned())
}

/// CPU seconds used so far by this process, its subscriber thread, the broker and (in the
/// device path) the simulator.
#[derive(Debug, Clone, Copy, Default)]
struct Cpu {
    process: f64,
    subscriber: f64,
    broker: f64,
    simulator: f64,
}

fn cpu(broker: u32, simulator: Option<u32>) -> Cpu {
    Cpu {
        process: cpu_seconds("/proc/self/stat"),
        subscriber: subscriber_stat().map_or(0.0, |stat| cpu_seconds(&stat)),
        broker: cpu_seconds(&format!("/proc/{broker}/stat")),
        simulator: simulator.map_or(0.0, |pid| cpu_seconds(&format!("/proc/{pid}/stat"))),
    }
}

/// `key=value` pairs for the CPU used between two samples, in µs per delivered alarm.
fn cpu_report(before: Cpu, after: Cpu, delivered: u64) -> String {
    let per = |seconds: f64| seconds * 1e6 / delivered.max(1) as f64;
    let subscriber = after.subscriber - before.subscriber;
    format!(
        "cpu_self_us={:.2} cpu_sub_us={:.2} cpu_broker_us={:.2} cpu_sim_us={:.2}",
        per(after.process - before.process - subscriber),
        per(subscriber),
        per(after.broker - before.broker),
        per(after.simulator - before.simulator),
    )
}

/// `key=value` pairs for the CPU used between two samples `window` seconds apart, in cores.
fn cpu_cores(before: Cpu, after: Cpu, window: f64) -> String {
    let subscriber = after.subscriber - before.subscriber;
    format!(
        "cores_self={:.2} cores_sub={:.2} cores_broker={:.2} cores_sim={:.2}",
        (after.process - before.process - subscriber) / window,
        subscriber / window,
        (after.broker - before.broker) / window,
        (after.simulator - before.simulator) / window,
    )
}

/// The pid of this process's `mosquitto` child (the broker of this run).
fn broker_pid() -> u32 {
    let me = std::process::id().to_string();
    std::fs::read_dir("/proc")
        .expect("/proc")
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse::<u32>().ok())
        .find(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
                let Some(close) = stat.rfind(')') else {
                    return false;
                };
                let comm = &stat[stat.find('(').map_or(0, |i| i + 1)..close];
                let ppid = stat[close + 2..].split_whitespace().nth(1);
                comm == "mosquitto" && ppid == Some(me.as_str())
            })
        })
        .expect("the broker is a child of this process")
}

// ---------------------------------------------------------------------------------------------
// Alarms

/// The alarm a VideoMotion start from a camera becomes, with its send time in `data.t_ns`.
fn alarm(device: &str, t_ns: u64) -> Arc<Event> {
    let mut data = Map::new();
    data.insert("LocaleTime".to_owned(), json!("2026-11-21 06:22:00"));
    data.insert("UTC".to_owned(), json!(1_795_328_520));
    data.insert("Id".to_owned(), json!([0]));
    data.insert("RegionName".to_owned(), json!(["Region1"]));
    data.insert("SmartMotionEnable".to_owned(), json!(false));
    data.insert("t_ns".to_owned(), Value::from(T_OFFSET + t_ns));
    Event::new(
        device,
        EventKind::Alarm {
            channel: 0,
            code: "VideoMotion".to_owned(),
            action: "start".to_owned(),
            device_time: Some("2026-11-21 06:22:00".to_owned()),
            device_utc: Some(1_795_328_520),
            data,
        },
    )
}

fn device_ids() -> Vec<String> {
    (1..=DEVICE_IDS).map(|i| format!("bench{i}")).collect()
}

fn topics() -> Vec<String> {
    device_ids()
        .iter()
        .map(|id| format!("homeport/device/{id}/event"))
        .collect()
}

/// The standard JSON of an alarm (what the pipeline publishes) and where its `t_ns` digits are.
fn floor_payload() -> (Vec<u8>, usize) {
    let body = serde_json::to_vec(&payload::standard(&alarm("bench50", 0))).expect("JSON");
    let key = b"\"t_ns\":";
    let at = body
        .windows(key.len())
        .position(|w| w == key)
        .expect("t_ns in the payload")
        + key.len();
    (body, at)
}

fn sent_at(payload: &[u8]) -> Option<u64> {
    let key = b"\"t_ns\":";
    let at = payload.windows(key.len()).position(|w| w == key)? + key.len();
    let digits = payload[at..].iter().take_while(|b| b.is_ascii_digit());
    let value = digits.fold(0u64, |n, d| n * 10 + u64::from(d - b'0'));
    value.checked_sub(T_OFFSET)
}

fn qos_of(level: u8) -> QoS {
    if level == 0 {
        QoS::AtMostOnce
    } else {
        QoS::AtLeastOnce
    }
}

// ---------------------------------------------------------------------------------------------
// Subscriber and floor publisher

/// What the subscriber saw.
#[derive(Debug)]
struct Arrivals {
    count: AtomicU64,
    first_ns: AtomicU64,
    last_ns: AtomicU64,
    /// Latencies (ns) of alarms sent after this time; `u64::MAX` records none.
    record_after_ns: AtomicU64,
    latencies: Mutex<Vec<u64>>,
}

/// Subscribes on its own thread (a current-thread runtime named `bench-sub`, so its CPU time
/// can be told apart) and returns once the broker confirmed the subscription.
fn start_subscriber(port: u16, qos: QoS) -> Arc<Arrivals> {
    let arrivals = Arc::new(Arrivals {
        count: AtomicU64::new(0),
        first_ns: AtomicU64::new(0),
        last_ns: AtomicU64::new(0),
        record_after_ns: AtomicU64::new(u64::MAX),
        latencies: Mutex::new(Vec::new()),
    });
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let seen = Arc::clone(&arrivals);
    std::thread::Builder::new()
        .name(SUBSCRIBER_THREAD.to_owned())
        .spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(async move {
                let mut options = MqttOptions::new(
                    format!("bench-sub-{}", std::process::id()),
                    "127.0.0.1",
                    port,
                );
                options
                    .set_keep_alive(Duration::from_secs(30))
                    .set_clean_session(true)
                    .set_max_packet_size(1 << 20, 1 << 20);
                let (client, mut eventloop) = AsyncClient::new(options, 64);
                loop {
                    match eventloop.poll().await {
                        Ok(rumqttc::Event::Incoming(Packet::ConnAck(_))) => {
                            let _ = client.subscribe("homeport/device/+/event", qos).await;
                        }
                        Ok(rumqttc::Event::Incoming(Packet::SubAck(_))) => {
                            let _ = ready_tx.send(());
                        }
                        Ok(rumqttc::Event::Incoming(Packet::Publish(publish))) => {
                            let now = now_ns();
                            if seen.count.fetch_add(1, Ordering::Relaxed) == 0 {
                                seen.first_ns.store(now, Ordering::Relaxed);
                            }
                            seen.last_ns.store(now, Ordering::Relaxed);
                            let after = seen.record_after_ns.load(Ordering::Relaxed);
                            if let Some(sent) = sent_at(&publish.payload)
                                && sent >= after
                            {
                                seen.latencies
                                    .lock()
                                    .expect("latencies")
                                    .push(now.saturating_sub(sent));
                            }
                        }
                        Ok(_) => {}
                        Err(error) => {
                            eprintln!("subscriber: {error}");
                            tokio::time::sleep(Duration::from_millis(100)).await;
                        }
                    }
                }
            });
        })
        .expect("subscriber thread");
    ready_rx
        .recv_timeout(Duration::from_secs(15))
        .expect("subscribed in time");
    arrivals
}

/// Waits until `expected` alarms arrived, or none came for `QUIET`; returns the count.
async fn wait_for(arrivals: &Arrivals, expected: u64) -> u64 {
    let mut last = 0;
    let mut since = Instant::now();
    loop {
        let now = arrivals.count.load(Ordering::Relaxed);
        if now >= expected {
            return now;
        }
        if now != last {
            (last, since) = (now, Instant::now());
        } else if since.elapsed() > QUIET {
            return now;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// A bare rumqttc publisher, connected (in-flight window 100 like the sink's).
async fn floor_publisher(port: u16) -> AsyncClient {
    let mut options = MqttOptions::new(
        format!("bench-pub-{}", std::process::id()),
        "127.0.0.1",
        port,
    );
    options
        .set_keep_alive(Duration::from_secs(30))
        .set_clean_session(true)
        .set_inflight(100);
    let (client, mut eventloop) = AsyncClient::new(options, 64);
    let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
    tokio::spawn(async move {
        let mut ready = Some(ready_tx);
        loop {
            match eventloop.poll().await {
                Ok(rumqttc::Event::Incoming(Packet::ConnAck(_))) => {
                    if let Some(ready) = ready.take() {
                        let _ = ready.send(());
                    }
                }
                Ok(_) => {}
                Err(error) => {
                    eprintln!("floor publisher: {error}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    });
    tokio::time::timeout(Duration::from_secs(15), ready_rx)
        .await
        .expect("connected in time")
        .expect("connected");
    client
}

// ---------------------------------------------------------------------------------------------
// Pipeline

fn pipeline_file(dir: &std::path::Path, qos: u8) -> std::path::PathBuf {
    let file = dir.join("bench.yaml");
    std::fs::write(
        &file,
        format!(
            "pipelines:\n  - name: bench\n    on: [alarm]\n    stages:\n      \
             - mqtt: {{ topic: 'homeport/device/{{{{ device_id }}}}/event', qos: {qos} }}\n"
        ),
    )
    .expect("pipeline file");
    file
}

/// An MQTT sink connected to the broker.
async fn connected_sink(port: u16, stop: &CancellationToken) -> MqttSink {
    let config = MqttConfig::from_url(format!("mqtt://127.0.0.1:{port}"), "bench").expect("config");
    let sink = MqttSink::start(config, stop.clone()).expect("sink");
    let deadline = Instant::now() + Duration::from_secs(15);
    while !sink.is_connected() {
        assert!(Instant::now() < deadline, "the sink did not connect");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    sink
}

fn pipeline_check(sink: &MqttSink, totals: Option<(u64, u64, u64, u64, u64)>) -> String {
    let (input, output, failed, dropped, _) = totals.expect("pipeline bench runs");
    let stats = sink.stats();
    format!(
        "pipeline_in={input} pipeline_out={output} pipeline_failed={failed} \
         pipeline_dropped={dropped} sink_dropped={} sink_published={}",
        stats.dropped_full, stats.published
    )
}

/// A pipeline host on its own bus, without a gateway (the bus is where sessions publish).
async fn bare_pipeline(
    port: u16,
    qos: u8,
    dir: &std::path::Path,
) -> (Arc<PipelineHost>, MqttSink, EventBus) {
    let stop = CancellationToken::new();
    let sink = connected_sink(port, &stop).await;
    let bus = EventBus::default();
    let services = Services::new(
        Arc::new(Registry::new(bus.clone(), RegistryConfig::default())),
        None,
        Default::default(),
    )
    .with_sinks(Sinks::of(Some(sink.clone()), None));
    let host = PipelineHost::start(vec![pipeline_file(dir, qos)], services, bus.clone())
        .expect("pipeline compiles");
    (host, sink, bus)
}

// ---------------------------------------------------------------------------------------------
// Measurements (each in its own process)

async fn floor_throughput(port: u16, broker: u32, qos: u8, n: u64) -> String {
    let arrivals = start_subscriber(port, qos_of(qos));
    let client = floor_publisher(port).await;
    let (body, _) = floor_payload();
    let body = Bytes::from(body);
    let topics = topics();
    let before = cpu(broker, None);
    let start = now_ns();
    for i in 0..n as usize {
        client
            .publish_bytes(
                topics[i % DEVICE_IDS].clone(),
                qos_of(qos),
                false,
                body.clone(),
            )
            .await
            .expect("publish");
    }
    let got = wait_for(&arrivals, n).await;
    let after = cpu(broker, None);
    let seconds = (arrivals.last_ns.load(Ordering::Relaxed) - start) as f64 / 1e9;
    format!(
        "delivered={got} seconds={seconds} rate={} bytes={} {}",
        got as f64 / seconds,
        body.len(),
        cpu_report(before, after, got)
    )
}

async fn pipeline_throughput(port: u16, broker: u32, qos: u8, n: u64) -> String {
    let arrivals = start_subscriber(port, qos_of(qos));
    let dir = tempfile::tempdir().expect("tempdir");
    let (host, sink, bus) = bare_pipeline(port, qos, dir.path()).await;
    let ids = device_ids();
    let before = cpu(broker, None);
    let start = now_ns();
    for i in 0..n {
        if i % 256 == 0 {
            while i.saturating_sub(sink.stats().delivered) > WINDOW {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        }
        bus.publish(alarm(&ids[i as usize % DEVICE_IDS], now_ns()));
    }
    let got = wait_for(&arrivals, n).await;
    let after = cpu(broker, None);
    let seconds = (arrivals.last_ns.load(Ordering::Relaxed) - start) as f64 / 1e9;
    format!(
        "delivered={got} seconds={seconds} rate={} {} {}",
        got as f64 / seconds,
        pipeline_check(&sink, host.totals("bench").await),
        cpu_report(before, after, got)
    )
}

async fn device_path(
    port: u16,
    broker: u32,
    qos: u8,
    devices: usize,
    rate: f64,
    secs: f64,
) -> String {
    let arrivals = start_subscriber(port, qos_of(qos));
    let data = tempfile::tempdir().expect("tempdir");
    let gateway = gateway_for(devices, "cam", data.path()).await;
    let stop = CancellationToken::new();
    let sink = connected_sink(port, &stop).await;
    let services = gateway
        .services()
        .with_sinks(Sinks::of(Some(sink.clone()), None));
    let pipelines = tempfile::tempdir().expect("tempdir");
    let host = PipelineHost::start(
        vec![pipeline_file(pipelines.path(), qos)],
        services,
        gateway.bus().clone(),
    )
    .expect("pipeline compiles");

    // Each camera raises a fixed number of alarms and stays connected: the run waits for
    // them all before it stops the cameras, so none is still in a socket at the hang-up.
    let per_camera = (rate * secs).ceil() as u64;
    let offered = per_camera * devices as u64;
    let addr = gateway.register_addr().expect("listening").to_string();
    let sim = tokio::process::Command::new(HOMEPORT)
        .args([
            "sim",
            "--server",
            &addr,
            "--password",
            "pw",
            "--id-prefix",
            "cam",
        ])
        .args(["--devices", &devices.to_string()])
        .args(["--alarm-rate", &rate.to_string()])
        .args(["--alarm-count", &per_camera.to_string()])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("simulator runs");
    let sim_pid = sim.id().expect("simulator pid");
    let start_ns = now_ns();
    let started = Instant::now();
    wait_online(&gateway, devices, started, Duration::from_secs(60)).await;
    let before = cpu(broker, Some(sim_pid));
    let online_at = now_ns();
    let got = wait_for(&arrivals, offered).await;
    let after = cpu(broker, Some(sim_pid));
    let window = (now_ns() - online_at) as f64 / 1e9;
    // SIGTERM: the simulator stops its cameras and prints its summary line.
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &sim_pid.to_string()])
        .status();
    let output = sim.wait_with_output().await.expect("simulator output");
    let text = String::from_utf8_lossy(&output.stdout);
    let summary: Value = text
        .lines()
        .rev()
        .find_map(|line| serde_json::from_str(line).ok())
        .unwrap_or_else(|| panic!("no summary from the simulator: {text}"));
    let sent = summary["alarms_sent"].as_u64().expect("alarms_sent");
    let got = got.max(arrivals.count.load(Ordering::Relaxed));
    let first = arrivals.first_ns.load(Ordering::Relaxed);
    let last = arrivals.last_ns.load(Ordering::Relaxed);
    let seconds = (last - first) as f64 / 1e9;
    // The bus loses nothing by construction; what the cameras wrote and did not arrive is
    // counted here.
    let lagged = sent.saturating_sub(got);
    let report = format!(
        "sent={sent} delivered={got} seconds={seconds} rate={} online_s={:.3} bus_lagged={lagged} {} {}",
        got as f64 / seconds,
        (online_at - start_ns) as f64 / 1e9,
        pipeline_check(&sink, host.totals("bench").await),
        cpu_cores(before, after, window)
    );
    stop.cancel();
    gateway.shutdown().await;
    report
}

fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let index = ((sorted.len() as f64 * p) as usize).min(sorted.len() - 1);
    sorted[index] as f64 / 1e3
}

/// `key=value` pairs for the latencies recorded, in µs.
fn latency_report(arrivals: &Arrivals, sent: u64, got: u64) -> String {
    let mut latencies = std::mem::take(&mut *arrivals.latencies.lock().expect("latencies"));
    latencies.sort_unstable();
    format!(
        "sent={sent} delivered={got} measured={} p50_us={} p99_us={} max_us={}",
        latencies.len(),
        percentile(&latencies, 0.50),
        percentile(&latencies, 0.99),
        percentile(&latencies, 1.0),
    )
}

/// Calls `send(i)` for alarms 0..total at `rate` per second, in 1 ms ticks.
async fn paced(rate: f64, secs: f64, mut send: impl AsyncFnMut(u64)) -> u64 {
    let total = (rate * secs) as u64;
    let start = Instant::now();
    let mut tick = tokio::time::interval(Duration::from_millis(1));
    let mut sent = 0;
    while sent < total {
        tick.tick().await;
        let due = ((start.elapsed().as_secs_f64() * rate) as u64).min(total);
        while sent < due {
            send(sent).await;
            sent += 1;
        }
    }
    total
}

/// Starts recording latencies once the warm-up is over.
fn record_after_warmup(arrivals: &Arrivals) {
    arrivals
        .record_after_ns
        .store(now_ns() + WARMUP.as_nanos() as u64, Ordering::Relaxed);
}

/// The standard payload `template` with its `t_ns` digits (at `at`) set to now.
fn stamped(template: &[u8], at: usize) -> Bytes {
    let mut body = template.to_vec();
    body[at..at + 16].copy_from_slice((T_OFFSET + now_ns()).to_string().as_bytes());
    Bytes::from(body)
}

async fn floor_latency(port: u16, rate: f64, secs: f64) -> String {
    let arrivals = start_subscriber(port, QoS::AtLeastOnce);
    let client = floor_publisher(port).await;
    let (template, at) = floor_payload();
    let topics = topics();
    record_after_warmup(&arrivals);
    let sent = paced(rate, secs, async |i| {
        let body = stamped(&template, at);
        client
            .publish_bytes(
                topics[i as usize % DEVICE_IDS].clone(),
                QoS::AtLeastOnce,
                false,
                body,
            )
            .await
            .expect("publish");
    })
    .await;
    let got = wait_for(&arrivals, sent).await;
    latency_report(&arrivals, sent, got)
}

/// The sink alone: `MqttSink::send` of the standard payload, no bus and no pipeline (what the
/// pipeline adds is the difference to the pipeline row).
async fn sink_latency(port: u16, rate: f64, secs: f64) -> String {
    let arrivals = start_subscriber(port, QoS::AtLeastOnce);
    let stop = CancellationToken::new();
    let sink = connected_sink(port, &stop).await;
    let (template, at) = floor_payload();
    let topics = topics();
    record_after_warmup(&arrivals);
    let sent = paced(rate, secs, async |i| {
        let body = stamped(&template, at);
        sink.send(Publish {
            topic: topics[i as usize % DEVICE_IDS].clone(),
            payload: body,
            qos: homeport::sink::mqtt::QoS::AtLeastOnce,
            retain: false,
        })
        .await
        .expect("send");
    })
    .await;
    let got = wait_for(&arrivals, sent).await;
    latency_report(&arrivals, sent, got)
}

async fn pipeline_latency(port: u16, rate: f64, secs: f64) -> String {
    let arrivals = start_subscriber(port, QoS::AtLeastOnce);
    let dir = tempfile::tempdir().expect("tempdir");
    let (host, sink, bus) = bare_pipeline(port, 1, dir.path()).await;
    let ids = device_ids();
    record_after_warmup(&arrivals);
    let sent = paced(rate, secs, async |i| {
        bus.publish(alarm(&ids[i as usize % DEVICE_IDS], now_ns()));
    })
    .await;
    let got = wait_for(&arrivals, sent).await;
    format!(
        "{} {}",
        latency_report(&arrivals, sent, got),
        pipeline_check(&sink, host.totals("bench").await)
    )
}

// ---------------------------------------------------------------------------------------------
// The command: re-runs itself per measurement and prints the tables

/// One measurement's `key=value` results.
type Measured = HashMap<String, f64>;

fn measure_in_child(args: &[String]) -> Measured {
    let words = rerun(args);
    eprintln!("  {} → {}", args[1..].join(" "), words.join(" "));
    words
        .iter()
        .filter_map(|pair| {
            let (key, value) = pair.split_once('=')?;
            Some((key.to_owned(), value.parse().ok()?))
        })
        .collect()
}

fn med(results: &[Measured], key: &str) -> f64 {
    median(
        results
            .iter()
            .map(|r| r.get(key).copied().unwrap_or(f64::NAN))
            .collect(),
    )
}

fn range(results: &[Measured], key: &str) -> String {
    let values: Vec<f64> = results.iter().filter_map(|r| r.get(key).copied()).collect();
    let min = values.iter().copied().fold(f64::INFINITY, f64::min);
    let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    format!("{} – {}", thousands(min), thousands(max))
}

fn thousands(value: f64) -> String {
    let digits = format!("{:.0}", value.round());
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(' ');
        }
        out.push(c);
    }
    out
}

fn strings(parts: &[&str]) -> Vec<String> {
    parts.iter().map(|s| (*s).to_owned()).collect()
}

fn main() {
    let _ = rlimit::increase_nofile_limit(u64::MAX);
    base();
    if let Some(kind) = arg("--child") {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let port: u16 = arg_or("--port", 0);
        let broker: u32 = arg_or("--broker-pid", 0);
        let qos: u8 = arg_or("--qos", 0);
        let n: u64 = arg_or("--messages", 200_000);
        let rate: f64 = arg_or("--rate", 5000.0);
        let secs: f64 = arg_or("--seconds", 5.0);
        let devices: usize = arg_or("--devices", 100);
        let line = runtime.block_on(async {
            match kind.as_str() {
                "floor" => floor_throughput(port, broker, qos, n).await,
                "pipeline" => pipeline_throughput(port, broker, qos, n).await,
                "device" => device_path(port, broker, qos, devices, rate, secs).await,
                "floor-latency" => floor_latency(port, rate, secs).await,
                "pipeline-latency" => pipeline_latency(port, rate, secs).await,
                "sink-latency" => sink_latency(port, rate, secs).await,
                other => panic!("unknown measurement {other}"),
            }
        });
        println!("result {line}");
        runtime.shutdown_timeout(Duration::from_secs(1));
        return;
    }

    let runs: usize = arg_or("--runs", 3).max(1);
    let n: u64 = arg_or("--messages", 150_000);
    let devices: usize = arg_or("--devices", 100);
    let alarm_rates: Vec<u64> = arg("--alarm-rates")
        .map(|list| {
            list.split(',')
                .filter_map(|r| r.trim().parse().ok())
                .collect()
        })
        .unwrap_or_else(|| vec![300, 500, 700]);
    let device_secs: f64 = arg_or("--device-seconds", 5.0);
    let latency_rate: f64 = arg_or("--latency-rate", 5000.0);
    let latency_secs: f64 = arg_or("--latency-seconds", 4.0);
    // A p99 on a shared machine moves a lot from one round to the next: more rounds than
    // the throughput figures need.
    let latency_runs: usize = arg_or("--latency-runs", runs).max(1);
    let broker = mosquitto::Mosquitto::start();
    let common = [
        "--port".to_owned(),
        broker.port().to_string(),
        "--broker-pid".to_owned(),
        broker_pid().to_string(),
    ];
    let child = |kind: &str, extra: &[String]| {
        let mut args = strings(&["--child", kind]);
        args.extend(common.iter().cloned());
        args.extend(extra.iter().cloned());
        measure_in_child(&args)
    };
    let started = Instant::now();

    // Throughput: floor and pipeline alternate, so drift on the machine hits both alike.
    let mut throughput: HashMap<(&str, u8), Vec<Measured>> = HashMap::new();
    for _ in 0..runs {
        for qos in [0u8, 1] {
            for kind in ["floor", "pipeline"] {
                let extra = strings(&["--qos", &qos.to_string(), "--messages", &n.to_string()]);
                throughput
                    .entry((kind, qos))
                    .or_default()
                    .push(child(kind, &extra));
            }
        }
    }
    let mut device: HashMap<(u64, u8), Vec<Measured>> = HashMap::new();
    for _ in 0..runs {
        for &rate in &alarm_rates {
            for qos in [0u8, 1] {
                let extra = strings(&[
                    "--qos",
                    &qos.to_string(),
                    "--devices",
                    &devices.to_string(),
                    "--rate",
                    &rate.to_string(),
                    "--seconds",
                    &device_secs.to_string(),
                ]);
                device
                    .entry((rate, qos))
                    .or_default()
                    .push(child("device", &extra));
            }
        }
    }
    let mut latency: HashMap<&str, Vec<Measured>> = HashMap::new();
    for _ in 0..latency_runs {
        for kind in ["floor-latency", "sink-latency", "pipeline-latency"] {
            let extra = strings(&[
                "--rate",
                &latency_rate.to_string(),
                "--seconds",
                &latency_secs.to_string(),
            ]);
            latency.entry(kind).or_default().push(child(kind, &extra));
        }
    }

    let bytes = med(&throughput[&("floor", 0)], "bytes");
    println!(
        "\nAlarm throughput, {n} alarms of {bytes:.0} B per run, medians of {runs} runs \
         (whole command: {:.0} s)\n",
        started.elapsed().as_secs_f64()
    );
    println!(
        "| path | QoS | delivered | time | alarms/s | range over runs | ratio to floor | \
         CPU µs/alarm: measuring process · subscriber · broker |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|");
    for qos in [0u8, 1] {
        let floor = med(&throughput[&("floor", qos)], "rate");
        for (kind, label) in [
            ("floor", "floor: bare rumqttc publisher"),
            ("pipeline", "pipeline: bus → `mqtt` stage → MqttSink"),
        ] {
            let results = &throughput[&(kind, qos)];
            let rate = med(results, "rate");
            println!(
                "| {label} | {qos} | {} | {:.2} s | {} | {} | {} | {:.1} · {:.1} · {:.1} |",
                thousands(med(results, "delivered")),
                med(results, "seconds"),
                thousands(rate),
                range(results, "rate"),
                if kind == "floor" {
                    "1".to_owned()
                } else {
                    format!("{:.2}", rate / floor)
                },
                med(results, "cpu_self_us"),
                med(results, "cpu_sub_us"),
                med(results, "cpu_broker_us"),
            );
        }
    }
    println!(
        "\n| device path: `homeport sim` → gateway → pipeline → MQTT | QoS | alarms sent | \
         delivered | not delivered | dropped by the sink | delivered alarms/s | \
         range over runs | ratio to floor | \
         CPU cores used while cameras sent: gateway process · subscriber · broker · simulator |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for &rate in &alarm_rates {
        for qos in [0u8, 1] {
            let results = &device[&(rate, qos)];
            let floor = med(&throughput[&("floor", qos)], "rate");
            let delivered_rate = med(results, "rate");
            let bus_lost = med(results, "bus_lagged");
            println!(
                "| {devices} cameras × {rate}/s = {} alarms/s offered, {device_secs} s | {qos} | {} | {} | {} | {} | {} | {} | {:.2} | {:.2} · {:.2} · {:.2} · {:.2} |",
                thousands((devices as u64 * rate) as f64),
                thousands(med(results, "sent")),
                thousands(med(results, "delivered")),
                thousands(bus_lost),
                thousands(med(results, "sink_dropped")),
                thousands(delivered_rate),
                range(results, "rate"),
                delivered_rate / floor,
                med(results, "cores_self"),
                med(results, "cores_sub"),
                med(results, "cores_broker"),
                med(results, "cores_sim"),
            );
        }
    }
    println!(
        "\n| latency at {} alarms/s for {latency_secs} s, QoS 1 | alarms measured | p50 | p99 | max | \
         p99 ÷ the floor's p99 in the same round: median (range) |",
        thousands(latency_rate)
    );
    println!("|---|---:|---:|---:|---:|---:|");
    let floor_p99: Vec<f64> = latency["floor-latency"]
        .iter()
        .map(|r| r.get("p99_us").copied().unwrap_or(f64::NAN))
        .collect();
    for (kind, label) in [
        ("floor-latency", "floor: bare rumqttc publisher"),
        ("sink-latency", "sink: `MqttSink::send`, no pipeline"),
        (
            "pipeline-latency",
            "pipeline: bus → `mqtt` stage → MqttSink",
        ),
    ] {
        let results = &latency[kind];
        // Rounds alternate floor, sink, pipeline: a ratio within one round cancels most of
        // the machine's noise, which moves every p99 of a round together.
        let ratios: Vec<f64> = results
            .iter()
            .zip(&floor_p99)
            .map(|(r, floor)| r.get("p99_us").copied().unwrap_or(f64::NAN) / floor)
            .collect();
        let low = ratios.iter().copied().fold(f64::INFINITY, f64::min);
        let high = ratios.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        println!(
            "| {label} | {} | {:.2} ms | {:.2} ms | {:.2} ms | {:.2} ({low:.2} – {high:.2}) |",
            thousands(med(results, "measured")),
            med(results, "p50_us") / 1e3,
            med(results, "p99_us") / 1e3,
            med(results, "max_us") / 1e3,
            median(ratios.clone()),
        );
    }
}
