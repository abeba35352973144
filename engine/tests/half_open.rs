//! Ten thousand connections that never announce anything: each is closed after the
//! announcement timeout with one log line, and a real camera carries on meanwhile.

mod support;

use std::process::Stdio;
use std::time::Duration;

use homeport::gateway::Gateway;
use support::{cam, camera, online_change, wait_for};
use tokio::io::{AsyncBufReadExt, BufReader};

const HALF_OPEN: usize = 10_000;

/// Opens `count` connections and holds them, reporting how many the server closed.
const HOLDER: &str = r#"
import socket, sys, time, select
host, port, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
socks = []
for _ in range(count):
    s = socket.create_connection((host, port))
    s.setblocking(False)
    socks.append(s)
print("open", len(socks), flush=True)
closed = 0
deadline = time.time() + 60
open_socks = set(socks)
while open_socks and time.time() < deadline:
    for s in list(open_socks):
        try:
            if s.recv(16) == b"":
                closed += 1
                open_socks.discard(s)
                s.close()
        except BlockingIOError:
            pass
        except OSError:
            closed += 1
            open_socks.discard(s)
    time.sleep(0.2)
print("closed", closed, flush=True)
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_silent_connections_are_each_closed_and_a_camera_is_unaffected() {
    let _ = rlimit::increase_nofile_limit(HALF_OPEN as u64 + 2048);
    let data = tempfile::tempdir().expect("tempdir");
    let mut config = support::config(data.path());
    config.listener.announce_timeout = Duration::from_secs(2);
    config.listener.max_connections = HALF_OPEN + 100;
    let gateway = Gateway::start(config).await.expect("starts");
    let addr = gateway.register_addr().expect("addr");
    gateway
        .add_device(homeport::gateway::device_credentials(
            "steady",
            "admin",
            "pw",
            homeport::device::LoginProtocol::Auto,
        ))
        .await
        .expect("add");
    let mut events = gateway.bus().subscribe();
    let steady = camera(
        addr,
        homeport_simulator::CameraConfig {
            alarm_rate: 5.0,
            ..cam("steady", "pw")
        },
    );
    wait_for(&mut events, "online", |e| {
        online_change(e, "steady", true, None)
    })
    .await;

    let mut holder = tokio::process::Command::new("python3")
        .args([
            "-c",
            HOLDER,
            &addr.ip().to_string(),
            &addr.port().to_string(),
            &HALF_OPEN.to_string(),
        ])
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3 runs (the test command installs it when missing)");
    let mut lines = BufReader::new(holder.stdout.take().expect("stdout")).lines();
    let opened = lines.next_line().await.expect("read").expect("a line");
    assert_eq!(opened, format!("open {HALF_OPEN}"));
    let closed = tokio::time::timeout(Duration::from_secs(90), lines.next_line())
        .await
        .expect("in time")
        .expect("read")
        .expect("a line");
    assert_eq!(
        closed,
        format!("closed {HALF_OPEN}"),
        "every silent connection is closed by the gateway"
    );
    let _ = holder.wait().await;

    // The camera stayed online and kept sending alarms throughout.
    assert!(gateway.registry().view("steady").is_some_and(|v| v.online));
    while events.try_recv().is_ok() {}
    wait_for(&mut events, "an alarm after the flood", |e| {
        e.device == "steady" && e.kind_name() == "alarm"
    })
    .await;
    let metrics = gateway.metrics().render(gateway.registry());
    assert!(
        metrics.contains(&format!("homeport_bad_announcements_total {HALF_OPEN}")),
        "{metrics}"
    );
    steady.cancel();
    gateway.shutdown().await;
}
