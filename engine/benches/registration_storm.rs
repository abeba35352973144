//! Registration storm: N simulated cameras (a `homeport sim` child process) dial an in-process
//! gateway at once; the command reports the time until all N are online, registrations per
//! second, and the gateway's memory per idle session (RSS growth over the baseline taken
//! with the N devices already in the store, divided by N).
//!
//! `cargo bench -p homeport --bench registration_storm -- [--devices 1000,10000] [--runs 3]`

use std::process::Stdio;
use std::time::{Duration, Instant};

use homeport::device::LoginProtocol;
use homeport::event::DeviceState;
use homeport::gateway::{Gateway, GatewayConfig, device_credentials};
use homeport::listener::ListenerConfig;
use homeport::registry::RegistryConfig;
use homeport::session::SessionConfig;

const HOMEPORT: &str = env!("CARGO_BIN_EXE_homeport");

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

struct Run {
    seconds: f64,
    per_session_kib: f64,
}

async fn storm(devices: usize) -> Run {
    let data = tempfile::tempdir().expect("tempdir");
    let config = GatewayConfig {
        register: "127.0.0.1:0".parse().expect("addr"),
        data: data.path().to_owned(),
        registry: RegistryConfig {
            max_pending: devices,
            ..RegistryConfig::default()
        },
        session: SessionConfig::default(),
        listener: ListenerConfig {
            max_connections: devices + 100,
            ..ListenerConfig::default()
        },
    };
    let gateway = Gateway::start(config).await.expect("gateway");
    let credentials = (1..=devices)
        .map(|i| device_credentials(&format!("storm{i}"), "admin", "pw", LoginProtocol::Dhip))
        .collect();
    gateway.import_devices(credentials).await.expect("import");
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
    loop {
        let online = gateway
            .registry()
            .counts()
            .get(&DeviceState::Online)
            .copied()
            .unwrap_or(0);
        if online == devices {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(300),
            "only {online} of {devices} online"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
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

fn main() {
    let devices: Vec<usize> = arg("--devices")
        .map(|list| {
            list.split(',')
                .filter_map(|n| n.trim().parse().ok())
                .collect()
        })
        .unwrap_or_else(|| vec![1000, 10_000]);
    let runs: usize = arg("--runs").and_then(|r| r.parse().ok()).unwrap_or(3);
    let _ = rlimit::increase_nofile_limit(u64::MAX);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    println!(
        "| cameras | runs | all online after (median) | registrations/s (median) | RSS per idle session (median) |"
    );
    println!("|---:|---:|---:|---:|---:|");
    for &n in &devices {
        let mut results: Vec<Run> = (0..runs).map(|_| runtime.block_on(storm(n))).collect();
        results.sort_by(|a, b| a.seconds.total_cmp(&b.seconds));
        let seconds = results[results.len() / 2].seconds;
        let mut memory: Vec<f64> = results.iter().map(|r| r.per_session_kib).collect();
        memory.sort_by(f64::total_cmp);
        println!(
            "| {n} | {runs} | {seconds:.2} s | {:.0} | {:.1} KiB |",
            n as f64 / seconds,
            memory[memory.len() / 2]
        );
    }
}
