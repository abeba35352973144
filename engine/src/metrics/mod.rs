//! Counters the gateway exposes on `/metrics`, [`exposition`], the one writer of the text
//! formats every producer uses, and [`process`], the standard `process_*` metrics.

pub mod exposition;
pub mod process;

use std::sync::atomic::{AtomicU64, Ordering};

use crate::event::DeviceState;
use crate::registry::Registry;

pub use exposition::{Exposition, Family, Format, Kind};

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
        let mut out = Exposition::new();
        self.render_into(registry, &mut out);
        out.finish()
    }

    /// Adds these counters, the registry's states and the bus to `out`.
    pub fn render_into(&self, registry: &Registry, out: &mut Exposition) {
        let get = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        out.family(
            "homeport_device_connections_open",
            Kind::Gauge,
            "Device connections open now.",
        )
        .sample(&[], get(&self.connections_open));
        out.family(
            "homeport_device_connections_total",
            Kind::Counter,
            "Device connections accepted since start.",
        )
        .sample(&[], get(&self.connections_total));
        out.family(
            "homeport_device_connections_refused_total",
            Kind::Counter,
            "Device connections refused at the connection limit.",
        )
        .sample(&[], get(&self.connections_refused));
        out.family(
            "homeport_bad_announcements_total",
            Kind::Counter,
            "Connections closed because they did not announce a device properly.",
        )
        .sample(&[], get(&self.bad_announcements));
        out.family(
            "homeport_duplicate_registrations_refused_total",
            Kind::Counter,
            "Connections refused because they announced the ID of an online device that still answers.",
        )
        .sample(&[], get(&self.duplicates_refused));
        out.family(
            "homeport_identity_mismatches_total",
            Kind::Counter,
            "Logins refused because the device's realm, serial or type differs from what it proved first.",
        )
        .sample(&[], registry.identity_refusals());
        let counts = registry.counts();
        let mut devices = out.family("homeport_devices", Kind::Gauge, "Devices by state.");
        for state in DeviceState::ALL {
            let count = counts.get(&state).copied().unwrap_or(0) as u64;
            devices.sample(&[("state", state.as_str())], count);
        }
        out.family(
            "homeport_events_total",
            Kind::Counter,
            "Events published since start.",
        )
        .sample(&[], registry.bus().published());
    }
}
