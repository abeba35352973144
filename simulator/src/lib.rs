//! Simulated Dahua cameras: the device side of `homeport-protocol`, for tests, demos and load.
//!
//! - [`camera`] — one camera's identity, credentials and config tables (shared by all of its
//!   connections).
//! - [`firmware`] — firmware profiles: which logins and framings a camera answers on its
//!   registration socket and on a direct connection, and its protocol version.
//! - [`session`] — the per-connection state machine: logins (DHIP two-step; DVRIP realm,
//!   plain and 3DES), keepalive, config, events and legacy alarms, device info, the `f4` text
//!   RPC, snapshots (JSON and DVRIP), logout. No async, no sockets.
//! - [`clock`] — wall-clock time as devices print it.
//! - [`alarm`] — random alarm arrivals: mixed codes, start/stop pairs, pulses, states.
//! - [`fault`] — faults on demand: wrong password, silent, slow, flapping, garbage.
//! - [`connection`] — drives one socket with a session: frames in, replies and alarms out.
//! - [`register`] — register mode: dial the platform, announce, serve, reconnect with backoff.
//! - [`direct`] — direct mode: listen like a camera's 37777 service port.
//! - [`fleet`] — many register-mode cameras in one process, with shared counters.
//! - [`stats`] — the counters a fleet reports.
//! - [`snapshot`] — the JPEG a camera returns.

#![forbid(unsafe_code)]

pub mod alarm;
pub mod camera;
pub mod clock;
pub mod connection;
pub mod direct;
pub mod fault;
pub mod firmware;
pub mod fleet;
pub mod register;
pub mod session;
pub mod snapshot;
pub mod stats;

pub use camera::{Camera, CameraConfig, ConfigError};
pub use fault::{Fault, FaultPlan};
pub use firmware::Firmware;
pub use fleet::{Fleet, FleetConfig};
pub use stats::{Stats, Summary};

/// The value among `all` whose CLI `name` is `s`, or an error naming `what` and the good names.
fn parse_name<T: Copy>(
    what: &str,
    all: &[T],
    name: fn(T) -> &'static str,
    s: &str,
) -> Result<T, String> {
    all.iter().copied().find(|&v| name(v) == s).ok_or_else(|| {
        let names: Vec<_> = all.iter().map(|&v| name(v)).collect();
        format!("unknown {what} {s:?}; expected one of {}", names.join(", "))
    })
}
