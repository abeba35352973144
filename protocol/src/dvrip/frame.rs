//! One DVRIP frame: a raw 32-byte header and a body.
//!
//! There is no magic: byte 0 is the command, bytes 1..3 are flags (requests `00 00 00`,
//! replies end in `78`), and the u32 LE at offset 4 is the body length for every command
//! seen in public captures. The other fields mean different things per command, so the
//! header is kept as raw bytes and [`super::packet`] reads it per command.

use bytes::Bytes;

/// Length of every DVRIP header.
pub const HEADER_LEN: usize = 32;

/// Command bytes seen in public captures (byte 0 of the header).
pub mod command {
    /// Login request (`a0 01` realm request, `a0 05` hash, `a0 00` 3DES).
    pub const LOGIN: u8 = 0xa0;
    /// Probe request.
    pub const PROBE: u8 = 0xa1;
    /// Discovery / old binary config request.
    pub const DISCOVERY: u8 = 0xa3;
    /// Device info query; the sub-code is the u32 at offset 8.
    pub const INFO_QUERY: u8 = 0xa4;
    /// User and group info request.
    pub const USER_INFO: u8 = 0xa6;
    /// Channel names request.
    pub const CHANNEL_NAMES: u8 = 0xa8;
    /// Login reply (realm challenge or result).
    pub const LOGIN_REPLY: u8 = 0xb0;
    /// Probe reply.
    pub const PROBE_REPLY: u8 = 0xb1;
    /// Discovery reply.
    pub const DISCOVERY_REPLY: u8 = 0xb3;
    /// Device info reply; also the unsolicited auto-register announcement (sub-code 7).
    pub const INFO_REPLY: u8 = 0xb4;
    /// Seen right after login in captures; meaning unknown.
    pub const F4: u8 = 0xf4;
    /// JSON-RPC carrier.
    pub const JSON: u8 = 0xf6;
    /// Logout request.
    pub const LOGOUT: u8 = 0x0a;
    /// Logout reply.
    pub const LOGOUT_REPLY: u8 = 0x0b;
    /// Clear logs.
    pub const CLEAR_LOG: u8 = 0x60;

    /// Whether `byte` opens a DVRIP header we know.
    pub fn is_known(byte: u8) -> bool {
        matches!(
            byte,
            LOGIN
                | PROBE
                | DISCOVERY
                | INFO_QUERY
                | USER_INFO
                | CHANNEL_NAMES
                | LOGIN_REPLY
                | PROBE_REPLY
                | DISCOVERY_REPLY
                | INFO_REPLY
                | F4
                | JSON
                | LOGOUT
                | LOGOUT_REPLY
                | CLEAR_LOG
        )
    }
}

/// A DVRIP frame. The body length field (offset 4) always equals `body.len()` once encoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DvripFrame {
    /// The 32 header bytes as they are (or will be) on the wire.
    pub header: [u8; HEADER_LEN],
    /// The body that follows the header.
    pub body: Bytes,
}

impl DvripFrame {
    /// A frame from a header and a body; the length at offset 4 is set from the body.
    pub fn new(mut header: [u8; HEADER_LEN], body: impl Into<Bytes>) -> Self {
        let body = body.into();
        header[4..8].copy_from_slice(&(body.len() as u32).to_le_bytes());
        Self { header, body }
    }

    /// Byte 0: the command.
    pub fn command(&self) -> u8 {
        self.header[0]
    }

    /// The u32 LE at `offset` in the header.
    pub fn dword(&self, offset: usize) -> u32 {
        read_dword(&self.header, offset)
    }

    /// Writes a u32 LE at `offset` in the header.
    pub fn set_dword(&mut self, offset: usize, value: u32) {
        self.header[offset..offset + 4].copy_from_slice(&value.to_le_bytes());
    }

    /// The whole frame's wire bytes.
    pub fn to_vec(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(HEADER_LEN + self.body.len());
        out.extend_from_slice(&self.header);
        out.extend_from_slice(&self.body);
        out
    }
}

/// The u32 LE at `offset` of a header.
pub(crate) fn read_dword(header: &[u8; HEADER_LEN], offset: usize) -> u32 {
    u32::from_le_bytes([
        header[offset],
        header[offset + 1],
        header[offset + 2],
        header[offset + 3],
    ])
}
