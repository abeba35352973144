//! DVRIP framing: the older binary protocol with a 32-byte command header.
//!
//! - [`frame`] — one frame: its raw 32-byte header and its body.
//! - [`codec`] — a bounded tokio-util codec (with reassembly of fragmented `f6` JSON).
//! - [`packet`] — typed packets: the auto-register announcement, info queries, the realm
//!   login, JSON-RPC carriers, logout.

pub mod codec;
pub mod frame;
pub mod packet;

pub use codec::{DvripCodec, DvripError};
pub use frame::{DvripFrame, HEADER_LEN, command};
pub use packet::{DvripPacket, LoginResult, PacketError};
