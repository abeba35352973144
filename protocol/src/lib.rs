//! homeport's wire formats, with no sockets and no async.
//!
//! Everything a peer of a Dahua device (or of a camera-sync client app) must put on or read
//! from the wire lives here, as plain types and bounded codecs:
//!
//! - [`dhip`] — the DHIP framing: 32-byte header (`20 00 00 00 "DHIP"`), JSON body with an
//!   optional `\n` + binary payload, messages split into packets and reassembled.
//! - [`dvrip`] — the older DVRIP framing: 32-byte command header (`a0`/`b0` realm login,
//!   `a4`/`b4` info queries and the auto-register announcement, `f6` JSON, `0a`/`0b` logout).
//! - [`wire`] — tells DHIP from DVRIP by a frame's first bytes, and a codec that reads both on
//!   one socket (a registering camera announces in DVRIP, then speaks DHIP), and JSON-RPC
//!   requests, replies and notifications framed in either.
//! - [`hash`] — the login hashes: `Default` (two-step MD5), `OldDigest` (Gen1), the DVRIP realm
//!   hash, and the legacy 3DES (Gen0).
//! - [`rpc`] — JSON-RPC requests, replies and notifications, with typed params for the calls
//!   homeport makes (login, keepalive, config, events, device info, snapshot, logout).
//! - [`sync`] — the camera-sync line protocol spoken by client apps.
//!
//! Every decoder takes a maximum size and refuses a larger length before allocating for it;
//! "need more bytes" is `Ok(None)`, never an error.

#![forbid(unsafe_code)]

pub mod dhip;
pub mod dvrip;
pub mod hash;
pub mod rpc;
pub mod sync;
pub mod wire;
