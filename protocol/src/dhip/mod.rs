//! DHIP framing: a 32-byte header, then a JSON body with an optional `\n` + binary payload.
//!
//! - [`header`] — the header's fields and their byte layout.
//! - [`message`] — one reassembled message: session, request id and body.
//! - [`codec`] — a bounded tokio-util codec that reassembles fragments on read and splits
//!   large messages into packets on write.

pub mod codec;
pub mod header;
pub mod message;

pub use codec::{DhipCodec, DhipError};
pub use header::{DHIP_MAGIC, DhipHeader, HEADER_LEN};
pub use message::DhipMessage;
