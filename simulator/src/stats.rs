//! Counters a fleet of simulated cameras shares, and the end-of-run summary.

use std::sync::atomic::{AtomicU64, Ordering};

use serde::Serialize;

/// Live counters, updated by every camera task.
#[derive(Debug, Default)]
pub struct Stats {
    connected_now: AtomicU64,
    logged_in_now: AtomicU64,
    devices_connected: AtomicU64,
    devices_logged_in: AtomicU64,
    alarms_sent: AtomicU64,
    connects: AtomicU64,
    login_refusals: AtomicU64,
}

/// A point-in-time reading of [`Stats`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Snapshot {
    /// Sockets open now.
    pub connected_now: u64,
    /// Sessions logged in now.
    pub logged_in_now: u64,
    /// Distinct devices that connected at least once.
    pub devices_connected: u64,
    /// Distinct devices that were logged in at least once.
    pub devices_logged_in: u64,
    /// Alarm events written to logged-in, subscribed sessions.
    pub alarms_sent: u64,
    /// Successful TCP connects, reconnects included.
    pub connects: u64,
    /// Logins the cameras refused.
    pub login_refusals: u64,
}

/// The one JSON line `homeport sim` prints at the end of a fleet run.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Summary {
    /// Cameras simulated.
    pub devices: u64,
    /// Distinct cameras that connected at least once.
    pub connected: u64,
    /// Distinct cameras that were logged in at least once.
    pub logged_in: u64,
    /// Alarm events written to logged-in sessions.
    pub alarms_sent: u64,
    /// Wall-clock seconds of the run.
    pub elapsed_s: f64,
}

impl Stats {
    /// A socket opened; `first` if it is this device's first.
    pub fn connected(&self, first: bool) {
        self.connects.fetch_add(1, Ordering::Relaxed);
        self.connected_now.fetch_add(1, Ordering::Relaxed);
        if first {
            self.devices_connected.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// A socket closed.
    pub fn disconnected(&self) {
        self.connected_now.fetch_sub(1, Ordering::Relaxed);
    }

    /// A login succeeded; `first` if it is this device's first.
    pub fn logged_in(&self, first: bool) {
        self.logged_in_now.fetch_add(1, Ordering::Relaxed);
        if first {
            self.devices_logged_in.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// A logged-in session ended.
    pub fn logged_out(&self) {
        self.logged_in_now.fetch_sub(1, Ordering::Relaxed);
    }

    /// The camera refused a login.
    pub fn login_refused(&self) {
        self.login_refusals.fetch_add(1, Ordering::Relaxed);
    }

    /// `count` alarm events were written.
    pub fn alarms(&self, count: u64) {
        self.alarms_sent.fetch_add(count, Ordering::Relaxed);
    }

    /// The counters now.
    pub fn snapshot(&self) -> Snapshot {
        let get = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        Snapshot {
            connected_now: get(&self.connected_now),
            logged_in_now: get(&self.logged_in_now),
            devices_connected: get(&self.devices_connected),
            devices_logged_in: get(&self.devices_logged_in),
            alarms_sent: get(&self.alarms_sent),
            connects: get(&self.connects),
            login_refusals: get(&self.login_refusals),
        }
    }

    /// The end-of-run summary for a fleet of `devices` after `elapsed_s` seconds.
    pub fn summary(&self, devices: u64, elapsed_s: f64) -> Summary {
        let now = self.snapshot();
        Summary {
            devices,
            connected: now.devices_connected,
            logged_in: now.devices_logged_in,
            alarms_sent: now.alarms_sent,
            elapsed_s: (elapsed_s * 1000.0).round() / 1000.0,
        }
    }
}
