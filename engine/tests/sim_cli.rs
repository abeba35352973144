//! `homeport sim` as a user runs it: the real binary, an independent client written from the
//! public protocol reference (Python, standard library only), and an in-test platform.

#[path = "../../simulator/tests/common/mod.rs"]
mod common;

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use common::{LoginOutcome, Platform};
use homeport_protocol::rpc::event::NotifyEventStream;
use homeport_protocol::rpc::method;
use serde_json::{Value, json};

const HOMEPORT: &str = env!("CARGO_BIN_EXE_homeport");

fn client_script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/clients/dahua_client.py")
}

/// A direct-mode camera on a free port; killed on drop.
struct DirectSim {
    child: Child,
    port: u16,
}

impl DirectSim {
    fn start(id: &str, password: &str) -> Self {
        let mut child = Command::new(HOMEPORT)
            .args([
                "sim",
                "--listen",
                "127.0.0.1:0",
                "--id",
                id,
                "--password",
                password,
                "--alarm-rate",
                "5",
                // The independent client speaks DHIP and takes a JSON snapshot.
                "--firmware",
                "dvrip+dhip",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("homeport runs");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("a first line");
        let ready: Value = serde_json::from_str(&line).expect("a JSON line");
        let port = ready["listening"]
            .as_str()
            .expect("address")
            .rsplit(':')
            .next()
            .expect("port")
            .parse()
            .expect("number");
        assert_eq!(ready["id"], id);
        Self { child, port }
    }

    fn client(&self, password: &str, extra: &[&str]) -> (i32, Value) {
        let output = Command::new("python3")
            .arg(client_script())
            .args([
                "--host",
                "127.0.0.1",
                "--port",
                &self.port.to_string(),
                "--user",
                "admin",
                "--password",
                password,
            ])
            .args(extra)
            .output()
            .expect("python3 runs (the test command installs it when missing)");
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        let code = output.status.code().unwrap_or(-1);
        let summary = serde_json::from_str(stdout.trim())
            .unwrap_or_else(|_| panic!("client printed {stdout:?}, stderr {stderr:?}"));
        (code, summary)
    }
}

impl Drop for DirectSim {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn independent_client_logs_in_reads_register_config_attaches_and_receives_an_alarm() {
    let sim = DirectSim::start("cam-independent", "s3cret");
    let snapshot = std::env::temp_dir().join(format!("homeport-snap-{}.jpg", std::process::id()));
    let (code, summary) = sim.client(
        "s3cret",
        &[
            "--expect-alarm",
            "--timeout",
            "20",
            "--snapshot",
            snapshot.to_str().expect("path"),
        ],
    );
    assert_eq!(code, 0, "{summary}");
    assert_eq!(summary["login"], "ok");
    assert_eq!(summary["device_id"], "cam-independent");
    assert_eq!(summary["tcp_port"], 37777);
    assert_eq!(summary["multicall"], true);
    assert!(
        summary["alarm"]["Code"].is_string() && summary["alarm"]["Action"].is_string(),
        "{summary}"
    );
    let image = std::fs::read(&snapshot).expect("snapshot written");
    let _ = std::fs::remove_file(&snapshot);
    assert_eq!(summary["snapshot_bytes"], json!(image.len()));
    assert!(image.starts_with(&[0xff, 0xd8]) && image.ends_with(&[0xff, 0xd9]));
}

#[test]
fn independent_client_with_a_wrong_password_is_refused_with_268632085() {
    let sim = DirectSim::start("cam-refuses", "right");
    let (code, summary) = sim.client("wrong", &[]);
    assert_eq!(code, 3, "{summary}");
    assert_eq!(
        summary,
        json!({"login": "refused", "code": 268_632_085, "remainLoginTimes": 4})
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fleet_run_prints_one_json_summary_matching_what_the_platform_received() {
    let platform = Platform::bind().await;
    let received = Arc::new(AtomicU64::new(0));
    let child = tokio::process::Command::new(HOMEPORT)
        .args([
            "sim",
            "--server",
            &platform.addr(),
            // This fake platform logs in over DHIP.
            "--firmware",
            "dvrip+dhip",
            "--devices",
            "20",
            "--id-prefix",
            "t",
            "--password",
            "pw",
        ])
        .args(["--alarm-rate", "5", "--duration", "3"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("homeport runs");
    let mut sessions = Vec::new();
    for _ in 0..20 {
        let mut conn = platform.accept().await;
        let received = Arc::clone(&received);
        sessions.push(tokio::spawn(async move {
            let id = conn.announcement().await;
            assert!(matches!(
                conn.login("admin", "pw").await,
                LoginOutcome::Ok { .. }
            ));
            let (reply, _) = conn
                .call(method::EVENT_ATTACH, json!({"codes": ["All"]}))
                .await;
            assert!(reply.is_ok());
            // Count every event until the camera hangs up at the end of the run.
            while let Some(Ok(frame)) = futures::StreamExt::next(&mut conn.framed).await {
                let homeport_protocol::wire::WireFrame::Dhip(message) = frame else {
                    continue;
                };
                let notification: homeport_protocol::rpc::Request =
                    message.decode().expect("a notification");
                let params: NotifyEventStream = notification.params().expect("event stream");
                received.fetch_add(params.event_list.len() as u64, Ordering::Relaxed);
            }
            id
        }));
    }
    let output = child.wait_with_output().await.expect("homeport exits");
    assert!(output.status.success());
    let mut ids = Vec::new();
    for session in sessions {
        ids.push(session.await.expect("session"));
    }
    ids.sort();
    assert_eq!(ids.first().map(String::as_str), Some("t1"));
    let stdout = String::from_utf8(output.stdout).expect("utf8");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 1, "exactly one line: {stdout:?}");
    let summary: Value = serde_json::from_str(lines[0]).expect("JSON");
    let keys: Vec<&str> = summary
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys.len(), 5, "{summary}");
    assert_eq!(
        (
            summary["devices"].as_u64(),
            summary["connected"].as_u64(),
            summary["logged_in"].as_u64()
        ),
        (Some(20), Some(20), Some(20))
    );
    let sent = summary["alarms_sent"].as_u64().expect("alarms_sent");
    assert!(sent > 0);
    assert_eq!(
        sent,
        received.load(Ordering::Relaxed),
        "every alarm counted was received, and only those"
    );
    let elapsed = summary["elapsed_s"].as_f64().expect("elapsed_s");
    // `--duration 3`: the summary's clock starts a moment after the run's own timer (a
    // measured 2.998 s), so a few milliseconds short of 3 s is the same run.
    assert!((2.9..30.0).contains(&elapsed), "{elapsed}");
}
