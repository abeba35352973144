//! Strangers' flood: what unauthenticated connections cost the gateway, and what it gives
//! back. A Python child process (so this process keeps its descriptors for the gateway)
//! opens, from many loopback source addresses at once:
//! - `--unknown N` connections that announce IDs the gateway does not know and stay;
//! - `--idle N` connections that never announce;
//! - `--oversize N` connections that announce a 5 000-byte body.
//!
//! While they are held, the admin API's `/healthz` is timed. The command reports the
//! gateway's RSS and descriptors before, during and after (once the strangers hung up), the
//! registry's size, and the `/healthz` latency (median and worst), each as the median of
//! `--runs` runs in fresh processes.
//!
//! "After" is read `--settle` seconds (default 12) after the last stranger hung up: jemalloc
//! returns freed pages over its 10 s decay.
//!
//! With `--features system-allocator` the same runs use the system's malloc instead of
//! jemalloc (the comparison in BENCHMARKS.md).
//!
//! `cargo bench -p homeport --bench stranger_flood -- [--unknown 5000] [--idle 2000] [--oversize 500] [--sources 100] [--settle 12] [--runs 3]`

mod support;

use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use homeport::event::DeviceState;
use homeport::node::{AdminSettings, Node, NodeConfig};
use support::{arg, median, rerun, rss_kib};
use tokio::io::{AsyncBufReadExt, BufReader};

/// Opens the flood, prints `open U I O` when every connection is up, holds them until stdin
/// closes, then closes them all and prints `closed`.
const FLOOD: &str = r#"
import socket, struct, sys
host, port = sys.argv[1], int(sys.argv[2])
unknown, idle, oversize, sources = (int(x) for x in sys.argv[3:7])
def conn(i):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.%d.%d" % (1 + i % sources // 250, 2 + i % sources % 250), 0))
    s.connect((host, port))
    return s
def announce(ident, body_len):
    body = ident.encode().ljust(body_len, b"\0")
    return bytes([0xb4, 0, 0, 0x78]) + struct.pack("<I", len(body)) + struct.pack("<I", 7) + bytes(20) + body
held = []
for i in range(unknown):
    s = conn(i); s.sendall(announce("stranger-%d" % i, 64)); held.append(s)
for i in range(idle):
    held.append(conn(i))
for i in range(oversize):
    s = conn(i)
    try:
        s.sendall(announce("big-%d" % i, 5000))
    except OSError:
        pass
    held.append(s)
print("open", unknown, idle, oversize, flush=True)
sys.stdin.read()
for s in held:
    s.close()
print("closed", flush=True)
"#;

struct Run {
    rss_before: u64,
    rss_during: u64,
    rss_after: u64,
    fds_before: usize,
    fds_during: usize,
    fds_after: usize,
    pending_during: usize,
    listed_after: usize,
    healthz_median_ms: f64,
    healthz_max_ms: f64,
}

fn fds() -> usize {
    std::fs::read_dir("/proc/self/fd").map_or(0, |dir| dir.count())
}

async fn flood(
    unknown: usize,
    idle: usize,
    oversize: usize,
    sources: usize,
    settle: Duration,
) -> Run {
    let data = tempfile::tempdir().expect("tempdir");
    let mut config = NodeConfig::loopback(data.path());
    config.gateway.listener.announce_timeout = Duration::from_secs(60);
    config.gateway.listener.max_connections = 15_000;
    config.admin = Some(AdminSettings {
        addr: "127.0.0.1:0".parse().expect("addr"),
        token: Some("bench-token".to_owned()),
    });
    support::allocator_as_in_the_binary();
    let node = Node::start(config).await.expect("node");
    let gateway = Arc::clone(node.gateway());
    let admin = node.admin().expect("admin API").addr;
    let health = format!("http://{admin}/healthz");
    let http = reqwest::Client::new();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (rss_before, fds_before) = (rss_kib(), fds());
    let addr = gateway.register_addr().expect("addr");
    let mut child = tokio::process::Command::new("python3")
        .args([
            "-c",
            FLOOD,
            &addr.ip().to_string(),
            &addr.port().to_string(),
        ])
        .args([unknown, idle, oversize, sources].map(|n| n.to_string()))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("python3 runs");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    // Time /healthz while the flood builds and is held.
    let mut latencies = Vec::new();
    let opened = loop {
        tokio::select! {
            line = lines.next_line() => break line.expect("reads").expect("a line"),
            () = tokio::time::sleep(Duration::from_millis(50)) => {
                let started = Instant::now();
                let ok = http.get(&health).send().await.is_ok_and(|r| r.status().is_success());
                assert!(ok, "the admin API stopped answering during the flood");
                latencies.push(started.elapsed().as_secs_f64() * 1000.0);
            }
        }
    };
    assert!(opened.starts_with("open"), "{opened}");
    for _ in 0..20 {
        let started = Instant::now();
        let ok = http
            .get(&health)
            .send()
            .await
            .is_ok_and(|r| r.status().is_success());
        assert!(ok, "the admin API stopped answering during the flood");
        latencies.push(started.elapsed().as_secs_f64() * 1000.0);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (rss_during, fds_during) = (rss_kib(), fds());
    let pending_during = gateway
        .registry()
        .counts()
        .get(&DeviceState::Pending)
        .copied()
        .unwrap_or(0);
    drop(child.stdin.take());
    let closed = lines.next_line().await.expect("reads").unwrap_or_default();
    assert_eq!(closed, "closed");
    let _ = child.wait().await;
    // Let the gateway notice every close and release what it held.
    let deadline = Instant::now() + Duration::from_secs(30);
    while fds() > fds_before + 8 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    tokio::time::sleep(settle).await;
    let (rss_after, fds_after) = (rss_kib(), fds());
    let listed_after = gateway.registry().list().len();
    node.shutdown().await;
    let healthz_max_ms = latencies.iter().copied().fold(0.0, f64::max);
    Run {
        rss_before,
        rss_during,
        rss_after,
        fds_before,
        fds_during,
        fds_after,
        pending_during,
        listed_after,
        healthz_median_ms: median(latencies),
        healthz_max_ms,
    }
}

fn main() {
    let number =
        |name: &str, default: usize| arg(name).and_then(|v| v.parse().ok()).unwrap_or(default);
    let (unknown, idle, oversize) = (
        number("--unknown", 5000),
        number("--idle", 2000),
        number("--oversize", 500),
    );
    let sources = number("--sources", 100).clamp(1, 60_000);
    if std::env::args().any(|a| a == "--one") {
        let runtime = tokio::runtime::Runtime::new().expect("runtime");
        let settle = Duration::from_secs(number("--settle", 12) as u64);
        let run = runtime.block_on(flood(unknown, idle, oversize, sources, settle));
        println!(
            "result {} {} {} {} {} {} {} {} {:.2} {:.2}",
            run.rss_before,
            run.rss_during,
            run.rss_after,
            run.fds_before,
            run.fds_during,
            run.fds_after,
            run.pending_during,
            run.listed_after,
            run.healthz_median_ms,
            run.healthz_max_ms
        );
        return;
    }
    let runs = number("--runs", 3).max(1);
    let args: Vec<String> = [
        "--one".to_owned(),
        "--unknown".to_owned(),
        unknown.to_string(),
        "--idle".to_owned(),
        idle.to_string(),
        "--oversize".to_owned(),
        oversize.to_string(),
        "--sources".to_owned(),
        sources.to_string(),
        "--settle".to_owned(),
        number("--settle", 12).to_string(),
    ]
    .into();
    let results: Vec<Vec<f64>> = (0..runs)
        .map(|_| {
            rerun(&args)
                .iter()
                .map(|w| w.parse().unwrap_or(f64::NAN))
                .collect()
        })
        .collect();
    let col = |i: usize| median(results.iter().map(|r| r[i]).collect());
    println!(
        "stranger flood: {unknown} unknown IDs, {idle} idle, {oversize} oversize, from {sources} loopback addresses; median of {runs} runs; allocator {}",
        homeport::allocator::name()
    );
    println!(
        "  RSS KiB      before {:>8.0}  during {:>8.0}  after {:>8.0}  (during - before: {:.0} KiB = {:.2} KiB per connection)",
        col(0),
        col(1),
        col(2),
        col(1) - col(0),
        (col(1) - col(0)) / (unknown + idle + oversize).max(1) as f64
    );
    println!(
        "  descriptors  before {:>8.0}  during {:>8.0}  after {:>8.0}",
        col(3),
        col(4),
        col(5)
    );
    println!(
        "  pending during {:.0} (max_pending 1000, 16 per source)   devices listed after {:.0}",
        col(6),
        col(7)
    );
    println!(
        "  /healthz during the flood: median {:.2} ms, worst {:.2} ms",
        col(8),
        col(9)
    );
}
