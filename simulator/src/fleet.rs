//! Many register-mode cameras in one process: IDs `PFX1` … `PFXN`, shared counters, an
//! optional ramp, and several loopback source addresses when one would run out of ports.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::camera::{Camera, CameraConfig, ConfigError, RegisterTarget};
use crate::fault::FaultPlan;
use crate::firmware::Firmware;
use crate::register::{self, RegisterOptions};
use crate::stats::Stats;

/// Connections one source address can hold to one server port before ephemeral ports run
/// short (Linux's default range has about 28 000).
pub const DEVICES_PER_SOURCE: usize = 20_000;

/// What a fleet simulates.
#[derive(Debug, Clone)]
pub struct FleetConfig {
    /// The platform's register address, `host:port`.
    pub server: String,
    /// Number of cameras.
    pub devices: usize,
    /// Device IDs are this prefix followed by 1..=devices.
    pub id_prefix: String,
    /// Login user of every camera.
    pub user: String,
    /// Login password of every camera.
    pub password: String,
    /// Mean alarms per camera per second, once attached.
    pub alarm_rate: f64,
    /// Alarms per camera connection after which it sends no more (none: no end).
    pub alarm_limit: Option<u64>,
    /// Video channels per camera.
    pub channels: u32,
    /// Keepalive interval the cameras ask for, in seconds.
    pub keep_alive_interval: u32,
    /// Faults and which cameras get them.
    pub faults: FaultPlan,
    /// Source addresses to spread connections over; empty picks them automatically.
    pub sources: Vec<IpAddr>,
    /// Cameras started per second; `None` starts them all at once.
    pub ramp: Option<f64>,
    /// Hang up if the platform does not log in within this.
    pub login_timeout: Duration,
    /// Firmware profile of every camera.
    pub firmware: Firmware,
}

impl FleetConfig {
    /// `devices` well-behaved cameras registering to `server`.
    pub fn new(
        server: impl Into<String>,
        devices: usize,
        id_prefix: impl Into<String>,
        password: impl Into<String>,
    ) -> Self {
        Self {
            server: server.into(),
            devices,
            id_prefix: id_prefix.into(),
            user: "admin".to_owned(),
            password: password.into(),
            alarm_rate: 0.0,
            alarm_limit: None,
            channels: 1,
            keep_alive_interval: 60,
            faults: FaultPlan::default(),
            sources: Vec::new(),
            ramp: None,
            login_timeout: Duration::from_secs(120),
            firmware: Firmware::default(),
        }
    }

    /// Checks every camera's config (the longest ID is the last one's). No I/O.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let (host, port) = split_server(&self.server);
        match self.devices.checked_sub(1) {
            Some(last) => self.camera_config(last, &host, port).validate(),
            None => Ok(()),
        }
    }

    /// The config of camera `index` (0-based), registering to `host:port`.
    fn camera_config(&self, index: usize, host: &str, port: u16) -> CameraConfig {
        let device_id = format!("{}{}", self.id_prefix, index + 1);
        CameraConfig {
            alarm_rate: self.alarm_rate,
            alarm_limit: self.alarm_limit,
            channels: self.channels,
            keep_alive_interval: self.keep_alive_interval,
            faults: self.faults.faults_for(index, self.devices),
            slow_delay: self.faults.slow_delay,
            flap_max: self.faults.flap_max,
            register: Some(RegisterTarget {
                address: host.to_owned(),
                port,
                device_id: device_id.clone(),
            }),
            firmware: self.firmware,
            ..CameraConfig::new(device_id, self.user.clone(), self.password.clone())
        }
    }

    /// The source address of camera `index`: the configured ones in turn, or, for a
    /// loopback server and a fleet too large for one address, 127.0.0.1, 127.0.0.2, …
    fn source_for(&self, index: usize, server_is_loopback: bool) -> Option<IpAddr> {
        if !self.sources.is_empty() {
            return Some(self.sources[index % self.sources.len()]);
        }
        if server_is_loopback && self.devices > DEVICES_PER_SOURCE {
            let block = (index / DEVICES_PER_SOURCE) as u32;
            return Some(IpAddr::V4(Ipv4Addr::from(
                u32::from(Ipv4Addr::new(127, 0, 0, 1)) + block,
            )));
        }
        None
    }
}

/// A running fleet.
#[derive(Debug)]
pub struct Fleet {
    stats: Arc<Stats>,
    cancel: CancellationToken,
    tracker: TaskTracker,
    devices: usize,
}

impl Fleet {
    /// Starts the fleet's cameras (in the background when a ramp is set).
    pub fn start(config: FleetConfig) -> Self {
        let stats = Arc::new(Stats::default());
        let cancel = CancellationToken::new();
        let tracker = TaskTracker::new();
        let devices = config.devices;
        let spawner = {
            let (stats, cancel, tracker) = (Arc::clone(&stats), cancel.clone(), tracker.clone());
            async move { spawn_all(config, stats, cancel, tracker).await }
        };
        tracker.spawn(spawner);
        Self {
            stats,
            cancel,
            tracker,
            devices,
        }
    }

    /// The fleet's counters.
    pub fn stats(&self) -> &Arc<Stats> {
        &self.stats
    }

    /// Number of cameras.
    pub fn devices(&self) -> usize {
        self.devices
    }

    /// Stops every camera and waits for them to close their sockets.
    pub async fn stop(self) {
        self.cancel.cancel();
        self.tracker.close();
        self.tracker.wait().await;
    }
}

async fn spawn_all(
    config: FleetConfig,
    stats: Arc<Stats>,
    cancel: CancellationToken,
    tracker: TaskTracker,
) {
    let (host, port) = split_server(&config.server);
    let server_is_loopback = host
        .parse::<IpAddr>()
        .map(|ip| ip.is_loopback())
        .unwrap_or(host == "localhost");
    let started = tokio::time::Instant::now();
    for index in 0..config.devices {
        if let Some(rate) = config.ramp.filter(|r| *r > 0.0) {
            let due = started + Duration::from_secs_f64(index as f64 / rate);
            tokio::select! {
                () = cancel.cancelled() => return,
                () = tokio::time::sleep_until(due) => {}
            }
        } else if index % 256 == 255 {
            tokio::task::yield_now().await;
        }
        let camera = Camera::new(config.camera_config(index, &host, port));
        let options = RegisterOptions {
            source: config.source_for(index, server_is_loopback),
            login_timeout: config.login_timeout,
            ..RegisterOptions::default()
        };
        tracker.spawn(register::run(
            Arc::new(camera),
            options,
            Arc::clone(&stats),
            cancel.clone(),
        ));
    }
}

/// `host:port` → (host, port); a missing or bad port reads as 9500.
fn split_server(server: &str) -> (String, u16) {
    match server.rsplit_once(':') {
        Some((host, port)) => (
            host.trim_matches(['[', ']']).to_owned(),
            port.parse().unwrap_or(9500),
        ),
        None => (server.to_owned(), 9500),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn large_loopback_fleets_spread_over_source_addresses() {
        let config = FleetConfig::new("127.0.0.1:9500", 50_000, "cam", "pw");
        assert_eq!(
            config.source_for(0, true),
            Some("127.0.0.1".parse().expect("ip"))
        );
        assert_eq!(
            config.source_for(DEVICES_PER_SOURCE, true),
            Some("127.0.0.2".parse().expect("ip"))
        );
        assert_eq!(
            config.source_for(49_999, true),
            Some("127.0.0.3".parse().expect("ip"))
        );
        assert_eq!(config.source_for(0, false), None);
        let small = FleetConfig::new("127.0.0.1:9500", 100, "cam", "pw");
        assert_eq!(small.source_for(5, true), None);
    }

    #[test]
    fn a_2010_fleet_whose_last_id_is_too_long_is_refused() {
        let prefix = "p".repeat(45);
        let mut config = FleetConfig::new("127.0.0.1:9500", 99, prefix, "pw");
        config.firmware = Firmware::Legacy2010;
        assert_eq!(config.validate(), Ok(()), "p…p99 is 47 bytes");
        config.devices = 100;
        assert!(config.validate().is_err(), "p…p100 is 48 bytes");
        config.firmware = Firmware::DvripOnly;
        assert_eq!(config.validate(), Ok(()));
    }

    #[test]
    fn server_addresses_split_into_host_and_port() {
        assert_eq!(
            split_server("127.0.0.1:9600"),
            ("127.0.0.1".to_owned(), 9600)
        );
        assert_eq!(split_server("[::1]:9600"), ("::1".to_owned(), 9600));
        assert_eq!(split_server("localhost"), ("localhost".to_owned(), 9500));
    }
}
