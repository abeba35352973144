//! The platform side of a device connection.
//!
//! - [`link`] — JSON-RPC over one socket: requests out, replies and notifications in, in
//!   either framing.
//! - [`login`] — logging in as a client: the DVRIP login as the vendor's platform sends it,
//!   DHIP two-step (`Default` hash), and `auto` (DVRIP first, DHIP as the fallback).
//! - [`protocol`] — which login a device gets (`auto`, `dvrip`, `dhip`, `legacy`).
//! - [`handle`] — the cheap, cloneable handle commands go through.
//! - [`identity`] — what a device proved at its first login, checked at every later one.
//! - [`labels`] — what an operator says about a device: its name and tags.

pub mod handle;
pub mod identity;
pub mod labels;
pub mod link;
pub mod login;
pub mod protocol;

pub use handle::{Command, CommandError, DeviceHandle};
pub use labels::{EventLabels, LabelChange, Labels};
pub use link::{Link, LinkError, Message};
pub use login::{LoginError, LoginOk};
pub use protocol::{LoginProtocol, ParseLoginProtocolError};
