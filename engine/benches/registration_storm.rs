//! Registration storm: N simulated cameras (a `homeport sim` child process) dial an in-process
//! gateway at once; the command reports the time until all N are online, registrations per
//! second, and the gateway's memory per idle session (RSS growth over the baseline taken
//! with the N devices already in the store, divided by N).
//!
//! It then holds `--half-open N` connections (default 10 000) that never announce, from a
//! Python child process, and reports the gateway's RSS growth per silent connection before
//! the announcement timeout closes them.
//!
//! `cargo bench -p homeport --bench registration_storm -- [--devices 1000,10000] [--runs 3] [--half-open 10000]`

mod support;

use support::{arg, gateway_for, median, rerun, rss_kib, wait_online};

use std::process::Stdio;
use std::time::{Duration, Instant};

use homeport::gateway::{Gateway, GatewayConfig};

const HOMEPORT: &str = env!("CARGO_BIN_EXE_homeport");

struct Run {
    seconds: f64,
    per_session_kib: f64,
}

async fn storm(devices: usize) -> Run {
    let data = tempfile::tempdir().expect("tempdir");
    let gateway = gateway_for(devices, "storm", data.path()).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let baseline = rss_kib();
    let addr = gateway.register_addr().expect("addr").to_string();
    let started = Instant::now();
    let mut sim = tokio::process::Command::new(HOMEPORT)
        .args([
            "sim",
            "--server",
            &addr,
            "--devices",
            &devices.to_string(),
            "--id-prefix",
            "storm",
            "--password",
            "pw",
        ])
        .args(["--duration", "600"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("simulator runs");
    wait_online(&gateway, devices, started, Duration::from_secs(300)).await;
    let seconds = started.elapsed().as_secs_f64();
    // Let the storm's transient buffers go, then read the idle footprint.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let mut readings: Vec<u64> = Vec::new();
    for _ in 0..5 {
        readings.push(rss_kib());
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    readings.sort_unstable();
    let idle = readings[readings.len() / 2];
    let _ = sim.kill().await;
    gateway.shutdown().await;
    Run {
        seconds,
        per_session_kib: idle.saturating_sub(baseline) as f64 / devices as f64,
    }
}

/// Holds `count` silent connections, then prints `open N`, and exits when stdin closes.
const HOLDER: &str = r#"
import socket, sys
host, port, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
socks = [socket.create_connection((host, port)) for _ in range(count)]
print("open", len(socks), flush=True)
sys.stdin.read()
"#;

async fn half_open(count: usize) -> f64 {
    use tokio::io::AsyncBufReadExt;
    let data = tempfile::tempdir().expect("tempdir");
    let mut config = GatewayConfig::loopback(data.path());
    config.listener.announce_timeout = Duration::from_secs(30);
    config.listener.max_connections = count + 100;
    let gateway = Gateway::start(config).await.expect("gateway");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let baseline = rss_kib();
    let addr = gateway.register_addr().expect("addr");
    let mut holder = tokio::process::Command::new("python3")
        .args([
            "-c",
            HOLDER,
            &addr.ip().to_string(),
            &addr.port().to_string(),
            &count.to_string(),
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3 runs");
    let mut lines = tokio::io::BufReader::new(holder.stdout.take().expect("stdout")).lines();
    let _ = lines.next_line().await;
    while gateway.metrics().open_connections() < count as u64 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let held = rss_kib();
    drop(holder.stdin.take());
    let _ = holder.wait().await;
    gateway.shutdown().await;
    held.saturating_sub(baseline) as f64 / count as f64
}

/// Runs this benchmark binary again for one measurement, so every measurement starts from a
/// fresh process (memory freed by an earlier run would otherwise hide a later run's growth).
fn measure_in_child(flag: &str, count: usize) -> (f64, f64) {
    let words = rerun(&[flag.to_owned(), count.to_string()]);
    let value = |i: usize| -> f64 {
        words
            .get(i)
            .and_then(|w| w.parse().ok())
            .unwrap_or_else(|| panic!("no value {i} from {flag} {count}: {words:?}"))
    };
    (value(0), value(1))
}

fn main() {
    let _ = rlimit::increase_nofile_limit(u64::MAX);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    if let Some(n) = arg("--one-storm").and_then(|n| n.parse().ok()) {
        let run = runtime.block_on(storm(n));
        println!("result {} {}", run.seconds, run.per_session_kib);
        return;
    }
    if let Some(n) = arg("--one-half-open").and_then(|n| n.parse().ok()) {
        println!("result {} 0", runtime.block_on(half_open(n)));
        return;
    }
    let devices: Vec<usize> = arg("--devices")
        .map(|list| {
            list.split(',')
                .filter_map(|n| n.trim().parse().ok())
                .collect()
        })
        .unwrap_or_else(|| vec![1000, 10_000]);
    let runs: usize = arg("--runs")
        .and_then(|r| r.parse().ok())
        .unwrap_or(3)
        .max(1);
    println!(
        "| cameras | runs | all online after (median) | registrations/s (median) | RSS per idle session (median) |"
    );
    println!("|---:|---:|---:|---:|---:|");
    for &n in &devices {
        let results: Vec<(f64, f64)> = (0..runs)
            .map(|_| measure_in_child("--one-storm", n))
            .collect();
        let seconds = median(results.iter().map(|r| r.0).collect());
        let memory = median(results.iter().map(|r| r.1).collect());
        println!(
            "| {n} | {runs} | {seconds:.2} s | {:.0} | {memory:.1} KiB |",
            n as f64 / seconds
        );
    }
    let silent: usize = arg("--half-open")
        .and_then(|n| n.parse().ok())
        .unwrap_or(10_000);
    if silent > 0 {
        let per = median(
            (0..runs)
                .map(|_| measure_in_child("--one-half-open", silent).0)
                .collect(),
        );
        println!(
            "\n| silent connections held | runs | RSS per silent connection (median) |\n|---:|---:|---:|\n| {silent} | {runs} | {per:.2} KiB |"
        );
    }
}
