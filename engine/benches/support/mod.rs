//! What the benchmarks share: starting the binary's allocator, command-line arguments,
//! process memory from `/proc`, and waiting for a fleet to come online.

#![allow(dead_code, unreachable_pub)]

use std::time::{Duration, Instant};

/// Starts the allocator as the binary does (the library declares it: `homeport::allocator`).
pub fn allocator_as_in_the_binary() {
    homeport::allocator::start();
}

use homeport::event::DeviceState;
use homeport::gateway::Gateway;

/// The value after `name` on the command line.
pub fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

/// `VmRSS` and `VmHWM` in KiB of process `pid` (`None`: this process).
pub fn memory_kib(pid: Option<u32>) -> Option<(u64, u64)> {
    let path = pid.map_or_else(
        || "/proc/self/status".to_owned(),
        |pid| format!("/proc/{pid}/status"),
    );
    let status = std::fs::read_to_string(path).ok()?;
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
    };
    Some((field("VmRSS:")?, field("VmHWM:")?))
}

/// This process's `VmRSS` in KiB (0 if unreadable).
pub fn rss_kib() -> u64 {
    memory_kib(None).map_or(0, |(rss, _)| rss)
}

/// Waits until the gateway counts `devices` online; panics after `limit` (measured from
/// `started`).
pub async fn wait_online(gateway: &Gateway, devices: usize, started: Instant, limit: Duration) {
    loop {
        let online = gateway
            .registry()
            .counts()
            .get(&DeviceState::Online)
            .copied()
            .unwrap_or(0);
        if online == devices {
            return;
        }
        assert!(
            started.elapsed() < limit,
            "only {online} of {devices} online"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// The median of `values` (NaN when there are none).
pub fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(f64::NAN)
}

/// A gateway on loopback with room for `devices` cameras, knowing `<prefix>1` … `<prefix>N`
/// (user `admin`, password `pw`, DHIP); its data lives in `data`.
pub async fn gateway_for(
    devices: usize,
    prefix: &str,
    data: &std::path::Path,
) -> std::sync::Arc<Gateway> {
    allocator_as_in_the_binary();
    use homeport::device::LoginProtocol;
    use homeport::gateway::{GatewayConfig, device_credentials};
    let mut config = GatewayConfig::loopback(data);
    config.registry.max_pending = devices + 100;
    config.listener.max_connections = devices + 100;
    let gateway = Gateway::start(config).await.expect("gateway");
    let credentials = (1..=devices)
        .map(|i| device_credentials(&format!("{prefix}{i}"), "admin", "pw", LoginProtocol::Auto))
        .collect();
    gateway.import_devices(credentials).await.expect("import");
    gateway
}

/// Runs this benchmark again in a fresh process with `args` (each measurement starts from a
/// clean heap) and returns the words after `result ` on the line it prints.
pub fn rerun(args: &[String]) -> Vec<String> {
    let output = std::process::Command::new(std::env::current_exe().expect("own path"))
        .args(args)
        .stderr(std::process::Stdio::inherit())
        .output()
        .expect("re-runs itself");
    let text = String::from_utf8_lossy(&output.stdout);
    let line = text
        .lines()
        .find_map(|l| l.strip_prefix("result "))
        .unwrap_or_else(|| panic!("no result from {args:?}: {text}"));
    line.split_whitespace().map(str::to_owned).collect()
}
