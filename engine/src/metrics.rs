//! Counters the gateway exposes on `/metrics` (Prometheus text format).

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::event::DeviceState;
use crate::registry::Registry;

/// Process-wide counters.
#[derive(Debug, Default)]
pub struct Metrics {
    connections_open: AtomicU64,
    connections_total: AtomicU64,
    connections_refused: AtomicU64,
    bad_announcements: AtomicU64,
    duplicates_refused: AtomicU64,
}

impl Metrics {
    /// A device connection was accepted.
    pub fn connection_opened(&self) {
        self.connections_open.fetch_add(1, Ordering::Relaxed);
        self.connections_total.fetch_add(1, Ordering::Relaxed);
    }

    /// A device connection closed.
    pub fn connection_closed(&self) {
        self.connections_open.fetch_sub(1, Ordering::Relaxed);
    }

    /// A connection was refused at the limit.
    pub fn refused(&self) {
        self.connections_refused.fetch_add(1, Ordering::Relaxed);
    }

    /// A connection sent something other than an announcement.
    pub fn bad_announcement(&self) {
        self.bad_announcements.fetch_add(1, Ordering::Relaxed);
    }

    /// A second connection for an online, answering device was refused.
    pub fn duplicate(&self) {
        self.duplicates_refused.fetch_add(1, Ordering::Relaxed);
    }

    /// Open device connections now.
    pub fn open_connections(&self) -> u64 {
        self.connections_open.load(Ordering::Relaxed)
    }

    /// The Prometheus exposition of these counters, the registry's states and the bus.
    pub fn render(&self, registry: &Registry) -> String {
        let mut out = String::new();
        let mut metric = |name: &str, kind: &str, help: &str, samples: &[(String, u64)]| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
            for (labels, value) in samples {
                let _ = writeln!(out, "{name}{labels} {value}");
            }
        };
        let get = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        metric(
            "homeport_device_connections",
            "gauge",
            "Device connections open now.",
            &[(String::new(), get(&self.connections_open))],
        );
        metric(
            "homeport_device_connections_total",
            "counter",
            "Device connections accepted since start.",
            &[(String::new(), get(&self.connections_total))],
        );
        metric(
            "homeport_device_connections_refused_total",
            "counter",
            "Device connections refused at the connection limit.",
            &[(String::new(), get(&self.connections_refused))],
        );
        metric(
            "homeport_bad_announcements_total",
            "counter",
            "Connections closed because they did not announce a device properly.",
            &[(String::new(), get(&self.bad_announcements))],
        );
        metric(
            "homeport_duplicate_registrations_refused_total",
            "counter",
            "Connections refused because they announced the ID of an online device that still answers.",
            &[(String::new(), get(&self.duplicates_refused))],
        );
        metric(
            "homeport_identity_mismatches_total",
            "counter",
            "Logins refused because the device's realm, serial or type differs from what it proved first.",
            &[(String::new(), registry.identity_refusals())],
        );
        let counts = registry.counts();
        let states = [
            DeviceState::Pending,
            DeviceState::LoggingIn,
            DeviceState::Online,
            DeviceState::Offline,
            DeviceState::LoginFailed,
        ]
        .map(|s| {
            (
                format!("{{state=\"{}\"}}", s.as_str()),
                counts.get(&s).copied().unwrap_or(0) as u64,
            )
        });
        metric("homeport_devices", "gauge", "Devices by state.", &states);
        metric(
            "homeport_events_total",
            "counter",
            "Events published since start.",
            &[(String::new(), registry.bus().published())],
        );
        out
    }
}
