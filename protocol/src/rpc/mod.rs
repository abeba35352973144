//! JSON-RPC over DHIP (and DVRIP `f6`): messages and the typed params homeport uses.
//!
//! - [`message`] — requests, replies, notifications, and telling them apart.
//! - [`method`] — the method names, in one place.
//! - [`codes`] — the error codes devices send.
//! - [`login`] — `global.login` in two steps, and the login reply shapes.
//! - [`keepalive`] — `global.keepAlive`.
//! - [`config`] — `configManager.*` and the typed `DVRIP` table.
//! - [`event`] — `eventManager.attach` and `client.notifyEventStream`.
//! - [`device`] — `magicBox.*`, `global.getCurrentTime`, `system.multicall`, active users.
//! - [`snapshot`] — homeport's snapshot convention (`snapManager.snapPicture`).

pub mod codes;
pub mod config;
pub mod device;
pub mod event;
pub mod keepalive;
pub mod login;
pub mod message;
pub mod method;
pub mod snapshot;

pub use message::{ErrorObject, Incoming, Reply, Request};
