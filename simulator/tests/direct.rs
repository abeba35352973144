//! Direct mode: a camera listening like its 37777 service port, and provisioning over it.

mod common;

use std::net::SocketAddr;

use common::{Conn, LoginOutcome, Platform, Running, name, start_direct};
use homeport_protocol::rpc::config::{ConfigTable, DvripConfig};
use homeport_protocol::rpc::{codes, method};
use homeport_simulator::CameraConfig;
use serde_json::json;
use tokio_util::sync::CancellationToken;

async fn start(id: &str) -> (SocketAddr, CancellationToken) {
    let (addr, Running { cancel, .. }) = start_direct(CameraConfig::new(id, "admin", "pw")).await;
    (addr, cancel)
}

#[tokio::test]
async fn direct_login_checks_the_password_and_counts_tries() {
    let (addr, cancel) = start("cam-direct").await;
    let mut conn = Conn::connect(addr).await;
    let LoginOutcome::Refused(reply) = conn.login("admin", "nope").await else {
        panic!("accepted a wrong password")
    };
    assert_eq!(reply.error_code(), Some(codes::BAD_PASSWORD));
    assert_eq!(reply.params["remainLoginTimes"], 4);
    // A second connection shares the camera's budget and its users.
    let mut other = Conn::connect(addr).await;
    other.logged_in("admin", "pw").await;
    let (reply, _) = other
        .call(method::GET_ACTIVE_USERS, serde_json::Value::Null)
        .await;
    assert_eq!(reply.params["users"].as_array().map(Vec::len), Some(1));
    cancel.cancel();
}

#[tokio::test]
async fn provisioning_over_a_direct_login_makes_the_camera_register() {
    let platform = Platform::bind().await;
    let (addr, cancel) = start("factory-id").await;
    let mut conn = Conn::connect(addr).await;
    conn.logged_in("admin", "pw").await;

    // Read, change RegisterServer, write back the whole table, read again to confirm.
    let (reply, _) = conn.call(method::GET_CONFIG, name("DVRIP")).await;
    let table: ConfigTable = reply.params().expect("table");
    let mut dvrip: DvripConfig = serde_json::from_value(table.table).expect("DVRIP");
    assert!(
        !dvrip.register_server.enable,
        "a factory camera does not register"
    );
    let server = platform.listener.local_addr().expect("addr");
    dvrip.register_server.enable = true;
    dvrip.register_server.device_id = "site7-gate".to_owned();
    dvrip.register_server.servers[0].address = server.ip().to_string();
    dvrip.register_server.servers[0].port = server.port();
    let written = serde_json::to_value(&dvrip).expect("json");
    let (reply, _) = conn
        .call(
            method::SET_CONFIG,
            json!({"name": "DVRIP", "table": written}),
        )
        .await;
    assert!(reply.is_ok(), "{reply:?}");
    let (reply, _) = conn.call(method::GET_CONFIG, name("DVRIP")).await;
    assert_eq!(reply.params["table"], written);

    // The camera now dials the platform and announces the new ID.
    // A default (dvrip-only) camera takes the DVRIP login on its registration socket.
    let mut registered = platform.registered_as("site7-gate").await;
    registered.logged_in_dvrip("admin", "pw").await;
    cancel.cancel();
}
