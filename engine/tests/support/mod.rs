//! Shared harness for the engine's end-to-end tests: a gateway on loopback with a temporary
//! data directory, simulated cameras, and waiting for events.

#![allow(dead_code, unreachable_pub)]

pub mod admin;
pub mod fake;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use homeport::device::LoginProtocol;
use homeport::event::{Event, EventKind, OnlineReason};
use homeport::gateway::{Gateway, GatewayConfig, device_credentials};
use homeport::listener::ListenerConfig;
use homeport::node::{Node, NodeConfig};
use homeport::registry::RegistryConfig;
use homeport::session::SessionConfig;
use homeport_simulator::camera::RegisterTarget;
use homeport_simulator::firmware::Firmware;
use homeport_simulator::register::{self, RegisterOptions};
use homeport_simulator::{Camera, CameraConfig, Stats};
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

/// How long a test waits for any one thing.
pub const WAIT: Duration = Duration::from_secs(15);

/// Gateway settings with short timers for tests.
pub fn config(data: &std::path::Path) -> GatewayConfig {
    let mut config = GatewayConfig::loopback(data);
    config.registry = RegistryConfig {
        max_pending: 100,
        max_pending_per_source: 16,
        restart_grace: Duration::from_secs(30),
    };
    config.session = SessionConfig {
        reply_timeout: Duration::from_secs(2),
        pending_timeout: Duration::from_secs(60),
        login_backoff_min: Duration::from_millis(200),
        login_backoff_max: Duration::from_secs(1),
        auto_login: true,
        fallback_timeout: Duration::from_secs(1),
        dvrip_keepalive: Duration::from_millis(500),
        dvrip_silence: Duration::from_secs(3),
    };
    config.listener = ListenerConfig {
        announce_timeout: Duration::from_secs(2),
        max_connections: 1000,
        ..ListenerConfig::default()
    };
    config
}

/// A node (just its gateway unless a test asks for more) with its own temporary data
/// directory.
pub struct TestGateway {
    pub gateway: Arc<Gateway>,
    pub node: Arc<Node>,
    pub data: tempfile::TempDir,
}

impl TestGateway {
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    /// A gateway whose test config `change` adjusts first.
    pub async fn start_with(change: impl FnOnce(&mut GatewayConfig)) -> Self {
        Self::start_node(|node| change(&mut node.gateway)).await
    }

    /// A node whose config (test gateway settings, nothing else) `change` adjusts first.
    pub async fn start_node(change: impl FnOnce(&mut NodeConfig)) -> Self {
        let data = tempfile::tempdir().expect("tempdir");
        let mut config = NodeConfig::loopback(data.path());
        config.gateway = self::config(data.path());
        change(&mut config);
        let node = Node::start(config).await.expect("node starts");
        Self {
            gateway: Arc::clone(node.gateway()),
            node,
            data,
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.gateway.register_addr().expect("listening")
    }

    /// Starts simulated camera `id` registering here and waits until it is online; returns
    /// what stops it and the event stream (subscribed before it started).
    pub async fn online_camera(
        &self,
        id: &str,
        password: &str,
    ) -> (CancellationToken, broadcast::Receiver<Arc<Event>>) {
        let mut events = self.gateway.bus().subscribe();
        let stop = camera(self.addr(), cam(id, password));
        wait_for(&mut events, &format!("{id} online"), |e| {
            online_change(e, id, true, None)
        })
        .await;
        (stop, events)
    }

    pub async fn add(&self, id: &str, password: &str) {
        self.gateway
            .add_device(device_credentials(
                id,
                "admin",
                password,
                LoginProtocol::Auto,
            ))
            .await
            .expect("added");
    }
}

/// A simulated camera registering to `addr`; stops when the token fires.
pub fn camera(addr: SocketAddr, config: CameraConfig) -> CancellationToken {
    camera_with_counters(addr, config).0
}

/// Like [`camera`], and the camera itself, whose login counters a test can read.
pub fn camera_with_counters(
    addr: SocketAddr,
    config: CameraConfig,
) -> (CancellationToken, Arc<Camera>) {
    let cancel = CancellationToken::new();
    let config = CameraConfig {
        register: Some(RegisterTarget {
            address: addr.ip().to_string(),
            port: addr.port(),
            device_id: config.device_id.clone(),
        }),
        ..config
    };
    let options = RegisterOptions {
        backoff_min: Duration::from_millis(100),
        backoff_max: Duration::from_millis(500),
        ..RegisterOptions::default()
    };
    let camera = Arc::new(Camera::new(config));
    tokio::spawn(register::run(
        Arc::clone(&camera),
        options,
        Arc::new(Stats::default()),
        cancel.clone(),
    ));
    (cancel, camera)
}

/// The firmware profile of the tests' simulated cameras: `dvrip-only` (the most likely real
/// camera), or what `HOMEPORT_TEST_FIRMWARE` names; the test command runs every test that
/// logs in once more with `dvrip+dhip`.
pub fn firmware() -> Firmware {
    std::env::var("HOMEPORT_TEST_FIRMWARE")
        .ok()
        .map(|name| {
            name.parse()
                .unwrap_or_else(|e| panic!("HOMEPORT_TEST_FIRMWARE: {e}"))
        })
        .unwrap_or_default()
}

/// A camera config with the test password and the tests' firmware profile.
pub fn cam(id: &str, password: &str) -> CameraConfig {
    CameraConfig {
        firmware: firmware(),
        ..CameraConfig::new(id, "admin", password)
    }
}

/// Waits for the first event matching `want`.
pub async fn wait_for(
    events: &mut broadcast::Receiver<Arc<Event>>,
    what: &str,
    want: impl Fn(&Event) -> bool,
) -> Arc<Event> {
    let found = tokio::time::timeout(WAIT, async {
        loop {
            match events.recv().await {
                Ok(event) if want(&event) => return event,
                Ok(_) => {}
                Err(broadcast::error::RecvError::Lagged(n)) => panic!("missed {n} events"),
                Err(broadcast::error::RecvError::Closed) => panic!("bus closed"),
            }
        }
    })
    .await;
    found.unwrap_or_else(|_| panic!("no {what} within {WAIT:?}"))
}

/// Whether `event` is an online change of `device` to `online` (with `reason`, if given).
pub fn online_change(
    event: &Event,
    device: &str,
    online: bool,
    reason: Option<OnlineReason>,
) -> bool {
    event.device == device
        && matches!(&event.kind, EventKind::OnlineChanged { online: o, reason: r, .. } if *o == online && reason.is_none_or(|want| *r == want))
}

/// Polls `check` until it holds or the wait runs out.
pub async fn eventually(what: &str, check: impl Fn() -> bool) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while !check() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what} did not happen within {WAIT:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Asserts an admin API answer is the error `want`, with a message mentioning `contains`.
pub fn assert_error(
    status: reqwest::StatusCode,
    body: &serde_json::Value,
    want: reqwest::StatusCode,
    contains: &str,
) {
    assert_eq!(status, want, "{body}");
    let message = body["error"]
        .as_str()
        .unwrap_or_else(|| panic!("no error message: {body}"));
    assert!(
        message.contains(contains),
        "{message:?} does not mention {contains:?}"
    );
}

/// Every event already on `events`, without waiting.
pub fn drain(events: &mut broadcast::Receiver<Arc<Event>>) -> Vec<Arc<Event>> {
    let mut seen = Vec::new();
    loop {
        match events.try_recv() {
            Ok(event) => seen.push(event),
            Err(broadcast::error::TryRecvError::Lagged(n)) => panic!("missed {n} events"),
            Err(_) => return seen,
        }
    }
}
