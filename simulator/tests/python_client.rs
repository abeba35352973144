//! The independent Python client (`tests/clients/dahua_client.py`, standard library only,
//! written from the public reference) against direct-mode cameras of two firmware profiles:
//! the DVRIP realm login, `f6`, `a1` and the DVRIP snapshot against `dvrip-only`, and the DHIP
//! session with its JSON snapshot against `dvrip+dhip`.

mod common;

use std::path::PathBuf;

use common::{Running, start_direct};
use homeport_simulator::snapshot::JPEG;
use homeport_simulator::{CameraConfig, Firmware};
use serde_json::{Value, json};

fn client_script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/clients/dahua_client.py")
}

/// Runs the client; its exit code and the JSON line it printed.
async fn client(port: u16, password: &str, extra: &[&str]) -> (i32, Value) {
    let output = tokio::process::Command::new("python3")
        .arg(client_script())
        .args(["--host", "127.0.0.1", "--port", &port.to_string()])
        .args(["--user", "admin", "--password", password])
        .args(extra)
        .output()
        .await
        .expect("python3 runs (the test command installs it when missing)");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let summary = serde_json::from_str(stdout.trim())
        .unwrap_or_else(|_| panic!("client printed {stdout:?}, stderr {stderr:?}"));
    (output.status.code().unwrap_or(-1), summary)
}

fn temp_file(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("homeport-{name}-{}.jpg", std::process::id()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn independent_client_logs_in_over_dvrip_and_fetches_the_dvrip_snapshot() {
    let (addr, Running { cancel, .. }) = start_direct(CameraConfig {
        channels: 2,
        ..CameraConfig::new("cam-dvrip-py", "admin", "s3cret")
    })
    .await;
    let port = addr.port();
    let snapshot = temp_file("dvrip-snap");
    let path = snapshot.to_str().expect("path");
    let (code, summary) = client(port, "s3cret", &["--dvrip", "--snapshot", path]).await;
    let image = std::fs::read(&snapshot);
    let _ = std::fs::remove_file(&snapshot);
    assert_eq!(code, 0, "{summary}");
    assert_eq!(summary["login"], "ok");
    assert_eq!(summary["transport"], "dvrip");
    assert_eq!(summary["channels"], 2);
    assert_eq!(summary["device_type"], "IPC-HFW2431S-S-S2");
    assert_eq!(summary["keepalive"], true);
    assert_eq!(summary["snapshot_bytes"], json!(JPEG.len()));
    assert_eq!(image.expect("snapshot written"), JPEG);
    cancel.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn independent_client_with_a_wrong_dvrip_password_is_refused_with_the_tries_left() {
    let (addr, Running { camera, cancel, .. }) =
        start_direct(CameraConfig::new("cam-dvrip-no", "admin", "right")).await;
    let port = addr.port();
    let (code, summary) = client(port, "wrong", &["--dvrip"]).await;
    assert_eq!(code, 3, "{summary}");
    assert_eq!(
        summary,
        json!({"login": "refused", "result": "01 00", "remainLoginTimes": 4})
    );
    assert_eq!((camera.tries_left(), camera.refused_logins()), (4, 1));
    cancel.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn independent_dhip_client_gets_its_session_and_json_snapshot_from_dvrip_plus_dhip() {
    let (addr, Running { cancel, .. }) = start_direct(CameraConfig {
        alarm_rate: 5.0,
        firmware: Firmware::DvripDhip,
        ..CameraConfig::new("cam-dhip-py", "admin", "s3cret")
    })
    .await;
    let port = addr.port();
    let snapshot = temp_file("dhip-snap");
    let path = snapshot.to_str().expect("path");
    let (code, summary) = client(
        port,
        "s3cret",
        &["--expect-alarm", "--timeout", "20", "--snapshot", path],
    )
    .await;
    let image = std::fs::read(&snapshot);
    let _ = std::fs::remove_file(&snapshot);
    assert_eq!(code, 0, "{summary}");
    assert_eq!(summary["device_id"], "cam-dhip-py");
    assert_eq!(summary["multicall"], true);
    assert!(summary["alarm"]["Code"].is_string(), "{summary}");
    assert_eq!(image.expect("snapshot written"), JPEG);
    cancel.cancel();
}
