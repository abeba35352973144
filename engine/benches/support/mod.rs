//! What the benchmarks share: command-line arguments, process memory from `/proc`, and
//! waiting for a fleet to come online.

#![allow(dead_code, unreachable_pub)]

use std::time::{Duration, Instant};

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
