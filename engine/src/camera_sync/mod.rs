//! The camera-sync server for client apps (the seed's socket protocol): apps log in to an
//! account, sync their camera list, ask which cameras are online, and get pushes.
//!
//! - [`server`] — the sync listener and one task per app connection (main or data).
//! - [`hub`] — the live app sessions, their accounts, and sending lines to them.
//! - [`texts`] — the reason texts apps display (Chinese by default, English selectable).
//! - [`tls`] — optional TLS on the listener and data ports (rustls, PEM files).
//!
//! The connection tasks only frame lines: every command becomes a `sync_request` event, and
//! the `camera_sync` pipeline stage answers it; the `sync_push` stage pushes online changes
//! and alarms. So an integrator can put stages in front (custom auth, logging).

pub mod hub;
pub mod server;
pub mod texts;
pub mod tls;

pub use hub::{SyncConfig, SyncHub};
pub use server::SyncServer;
pub use texts::Language;
pub use tls::{SyncTls, TlsError};
