//! The camera-sync line protocol spoken by client apps, as pure types and a bounded codec.
//!
//! Seed 003 lists the commands; `camera-sync-protocol.md` adds the framing. Bottom to top:
//!
//! - [`command`] — [`CommandName`]: the seed's names, misspellings included, read short
//!   (`Login`) or as the seed's dotted path (`SocketCommand.LoginCommand.Login`), plus ours:
//!   `Heartbeat` and the commands the truncated seed implies (`Logout`, `DeleteCaramer`,
//!   `ChangeCaramerPassword` and their answers, `BindDataSocket`), tabled there.
//! - [`escape`] — backslash escaping of fields and splitting on unescaped separators; only the
//!   separators of the command at hand are escaped, so seed traffic stays byte-identical.
//! - [`status`] — [`OnlineStatus`]: `true`, `false` or `null`.
//! - [`message`] — [`SyncMessage`], one variant per command with typed fields, written with
//!   [`SyncMessage::encode`] (no `\n`) and read with [`SyncMessage::parse`].
//! - [`error`] — [`ParseError`]: why a well-framed line is not a valid message.
//! - [`codec`] — [`SyncLineCodec`]: `\n`-terminated UTF-8 lines (a `\r` before the `\n` is
//!   dropped), at most 64 KiB by default, refused as soon as they exceed it.
//!
//! A line that is framed correctly but does not parse is a decoded *item*
//! (`Err(ParseError)`), not a stream error: the session decides whether to answer or close.
//! Stream errors ([`SyncCodecError`]) end the connection.

pub mod codec;
pub mod command;
pub mod error;
pub mod escape;
mod fields;
pub mod message;
pub mod status;

#[cfg(test)]
mod roundtrip_tests;

pub use codec::{DEFAULT_MAX_LINE_LENGTH, SyncCodecError, SyncLineCodec};
pub use command::{CommandError, CommandName};
pub use error::ParseError;
pub use escape::{EscapeError, Separator};
pub use message::{DataPort, MAX_QUERY_IDS, SyncMessage};
pub use status::OnlineStatus;
