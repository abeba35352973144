//! Testing plugins natively (not on `wasm32`): a [`Harness`] that drives a [`Plugin`] the
//! way the host does, and fixture events.
//!
//! ```
//! use homeport_sdk::testing::{self, Harness};
//! use homeport_sdk::{Decision, Event, NoConfig, Plugin};
//!
//! struct PassAll;
//!
//! impl Plugin for PassAll {
//!     type Config = NoConfig;
//!     fn init(_: NoConfig) -> Result<Self, String> {
//!         Ok(Self)
//!     }
//!     fn process(&mut self, _: Event) -> Result<Decision, String> {
//!         Ok(Decision::pass())
//!     }
//! }
//!
//! let mut harness = Harness::<PassAll>::new(serde_json::json!({}))?;
//! let decision = harness.process(testing::alarm("D1", "VideoMotion", "start"))?;
//! assert!(decision.is_pass());
//! # Ok::<(), String>(())
//! ```
//!
//! [`Plugin`]: crate::Plugin

mod harness;

pub use harness::{Harness, KvEntry, KvQuota, LogLine};

use crate::Event;

/// An alarm from `device` on channel 0, e.g. `alarm("D1", "VideoMotion", "start")`.
pub fn alarm(device: &str, code: &str, action: &str) -> Event {
    Event::new_alarm(device, code, action)
}

/// `device` went online (logged in) or offline (its connection closed).
pub fn online(device: &str, online: bool) -> Event {
    Event::new_online_changed(device, online)
}

/// `device` announced itself by serial from `peer` (`ip:port`).
pub fn registered(device: &str, peer: &str) -> Event {
    Event::new_registered(device, peer)
}
