//! DVRIP framing: the older binary protocol with a 32-byte command header.
//!
//! - [`frame`] — one frame: its raw 32-byte header and its body.
//! - [`codec`] — a bounded tokio-util codec (with reassembly of fragmented `f6` JSON).
//! - [`packet`] — typed packets: the auto-register announcement, info queries, the login
//!   steps, keep-life, JSON and text RPC carriers, legacy alarms, snapshot pieces, logout.
//! - [`login`] — the login packets' layouts: the vendor clients' opening and hash login, the
//!   old plain login, and the device's challenge and result headers.
//! - [`text`] — the `f4` text `key:value` RPC.

pub mod codec;
pub mod frame;
pub mod login;
pub mod packet;
pub mod text;

pub use codec::{DvripCodec, DvripError};
pub use frame::{DvripFrame, HEADER_LEN, command};
pub use login::{LoginReply, LoginResult, PlainCredentials};
pub use packet::{DvripPacket, PacketError};
pub use text::TextRpc;
