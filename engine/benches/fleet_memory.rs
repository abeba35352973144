//! Memory of a simulated fleet: runs `homeport sim --server` against an in-process platform
//! that logs every camera in and subscribes to its events, then reads the simulator's resident
//! memory from `/proc`. A one-camera run in the same command is the baseline.
//!
//! `cargo bench -p homeport --bench fleet_memory -- [--devices 1000,10000] [--alarm-rate 0.05] [--settle 5]`

mod support;

use support::memory_kib;

#[path = "../../simulator/tests/common/mod.rs"]
mod common;

use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::{LoginOutcome, Platform};
use homeport_protocol::rpc::method;
use serde_json::json;

const HOMEPORT: &str = env!("CARGO_BIN_EXE_homeport");

struct Options {
    devices: Vec<usize>,
    alarm_rate: f64,
    settle: Duration,
}

fn options() -> Options {
    let mut options = Options {
        devices: vec![1000, 10_000],
        alarm_rate: 0.05,
        settle: Duration::from_secs(5),
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < args.len() {
        let value = args.get(i + 1).cloned().unwrap_or_default();
        match args[i].as_str() {
            "--devices" => {
                options.devices = value
                    .split(',')
                    .filter_map(|n| n.trim().parse().ok())
                    .collect()
            }
            "--alarm-rate" => options.alarm_rate = value.parse().unwrap_or(options.alarm_rate),
            "--settle" => options.settle = Duration::from_secs_f64(value.parse().unwrap_or(5.0)),
            // `cargo bench` passes --bench; anything else unknown is ignored.
            _ => {
                i += 1;
                continue;
            }
        }
        i += 2;
    }
    options
}

struct Run {
    devices: usize,
    all_in: Duration,
    rss_kib: u64,
    peak_kib: u64,
}

async fn run(devices: usize, alarm_rate: f64, settle: Duration) -> Run {
    let platform = Arc::new(Platform::bind().await);
    let attached = Arc::new(AtomicUsize::new(0));
    let accept = {
        let (platform, attached) = (Arc::clone(&platform), Arc::clone(&attached));
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = platform.listener.accept().await else {
                    return;
                };
                let attached = Arc::clone(&attached);
                tokio::spawn(async move {
                    let mut conn = common::Conn::new(stream);
                    conn.announcement().await;
                    if !matches!(conn.login("admin", "pw").await, LoginOutcome::Ok { .. }) {
                        return;
                    }
                    let (reply, _) = conn
                        .call(method::EVENT_ATTACH, json!({"codes": ["All"]}))
                        .await;
                    if reply.is_ok() {
                        attached.fetch_add(1, Ordering::Relaxed);
                    }
                    // Drain alarms until the camera hangs up.
                    while let Some(Ok(_)) = futures::StreamExt::next(&mut conn.framed).await {}
                });
            }
        })
    };
    let started = Instant::now();
    let child = tokio::process::Command::new(HOMEPORT)
        .args([
            "sim",
            "--server",
            &platform.addr(),
            "--devices",
            &devices.to_string(),
            "--id-prefix",
            "mem",
            // The in-process platform logs in over DHIP.
            "--firmware",
            "dvrip+dhip",
        ])
        .args([
            "--password",
            "pw",
            "--alarm-rate",
            &alarm_rate.to_string(),
            "--duration",
            "600",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("homeport runs");
    let pid = child.id().expect("pid");
    while attached.load(Ordering::Relaxed) < devices {
        assert!(
            started.elapsed() < Duration::from_secs(300),
            "only {} of {devices} attached",
            attached.load(Ordering::Relaxed)
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let all_in = started.elapsed();
    tokio::time::sleep(settle).await;
    // The median of a few readings, a second apart, smooths allocator noise.
    let mut readings = Vec::new();
    for _ in 0..5 {
        readings.push(memory_kib(Some(pid)).expect("proc status"));
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    readings.sort();
    let (rss_kib, _) = readings[readings.len() / 2];
    let peak_kib = readings.iter().map(|r| r.1).max().unwrap_or(0);
    // SIGTERM ends the run the way an operator would; the summary line must follow.
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status();
    let output = child.wait_with_output().await.expect("exits");
    let summary = String::from_utf8_lossy(&output.stdout);
    assert!(
        summary.contains(&format!("\"logged_in\":{devices}")),
        "summary: {summary}"
    );
    accept.abort();
    Run {
        devices,
        all_in,
        rss_kib,
        peak_kib,
    }
}

fn main() {
    let options = options();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let baseline = run(1, options.alarm_rate, options.settle).await;
        println!("| cameras | all attached after | RSS (median) | peak RSS | RSS per camera above baseline |");
        println!("|---:|---:|---:|---:|---:|");
        let row = |run: &Run, per: String| {
            println!(
                "| {} | {:.2} s | {:.1} MiB | {:.1} MiB | {per} |",
                run.devices,
                run.all_in.as_secs_f64(),
                run.rss_kib as f64 / 1024.0,
                run.peak_kib as f64 / 1024.0
            );
        };
        row(&baseline, "(baseline)".to_owned());
        for &devices in options.devices.iter().filter(|&&d| d > 1) {
            let measured = run(devices, options.alarm_rate, options.settle).await;
            let per = (measured.rss_kib.saturating_sub(baseline.rss_kib)) as f64 / (devices - 1) as f64;
            row(&measured, format!("{per:.2} KiB"));
        }
    });
}
