//! The camera-sync server for client apps (the seed's socket protocol): apps log in to an
//! account, sync their camera list, ask which cameras are online, and get pushes.
//!
//! - [`server`] — the sync listener and one task per app connection; a connection waits for
//!   the answer to its login before it hands on more.
//! - [`data_port`] — the one-connection data ports, bound to their session (token, address,
//!   window).
//! - [`hub`] — the live app sessions, their accounts, and sending lines to them.
//! - [`guard`] — what logins and camera-password checks may cost: backoff per source and per
//!   account, the hash slots, giving up the work of closed connections.
//! - [`throttle`] — the failure ledgers and backoff behind the guard (pure state).
//! - [`hash_slots`] — the two-queue semaphore capping concurrent login hashes.
//! - [`texts`] — the reason texts apps display (Chinese by default, English selectable).
//! - [`waiting`] — the data ports waiting for their connection.
//! - [`tls`] — TLS on the listener and data ports (rustls, PEM files).
//!
//! The connection tasks only frame lines: every command becomes a `sync_request` event, and
//! the `camera_sync` pipeline stage answers it; the `sync_push` stage pushes online changes
//! and alarms. So an integrator can put stages in front (custom auth, logging).

pub mod data_port;
pub mod guard;
pub mod hash_slots;
pub mod hub;
pub mod server;
pub mod texts;
pub mod throttle;
pub mod tls;
pub mod waiting;

pub use guard::{Attempt, Guard, GuardStats};
pub use hub::{DataToken, SyncConfig, SyncHub};
pub use server::SyncServer;
pub use texts::Language;
pub use tls::{SyncTls, TlsError};
