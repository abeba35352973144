//! One DVRIP frame: a raw 32-byte header and a body.
//!
//! There is no magic: byte 0 is the command, byte 3's high nibble is the protocol version
//! (requests from the vendor's clients `60`, replies `78` / `68` / `58`: low nibble 8), and the
//! u32 LE at offset 4 is the body length for every command seen in public captures. The other fields mean different things per command, so the
//! header is kept as raw bytes and [`super::packet`] reads it per command.

use bytes::Bytes;

/// Length of every DVRIP header.
pub const HEADER_LEN: usize = 32;

/// Command bytes seen in public captures and the vendor's SDK (byte 0 of the header).
pub mod command {
    /// Logout request.
    pub const LOGOUT: u8 = 0x0a;
    /// Logout reply.
    pub const LOGOUT_REPLY: u8 = 0x0b;
    /// Live video or (with +28 = 10) snapshot request.
    pub const MEDIA_REQUEST: u8 = 0x11;
    /// Two-way talk: audio and its start / stop.
    pub const TALK: u8 = 0x1d;
    /// Talk started or stopped by the device.
    pub const TALK_DEVICE: u8 = 0x1e;
    /// Time query (seen after login in captures).
    pub const TIME: u8 = 0x24;
    /// Clear logs.
    pub const CLEAR_LOG: u8 = 0x60;
    /// Legacy alarm subscription.
    pub const ALARM_SUBSCRIBE: u8 = 0x68;
    /// Legacy alarm state.
    pub const ALARM_STATE: u8 = 0x69;
    /// Force an I-frame.
    pub const I_FRAME: u8 = 0x80;
    /// The disabled registration ack of the 2010 SDK.
    pub const REGISTER_ACK: u8 = 0x82;
    /// Media capability query.
    pub const MEDIA_CAPS: u8 = 0x83;
    /// Seen after login in captures.
    pub const CMD_99: u8 = 0x99;
    /// Login request (`a0`; the step is byte 27).
    pub const LOGIN: u8 = 0xa0;
    /// Keep-life probe.
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
    /// Channel names reply.
    pub const CHANNEL_NAMES_REPLY: u8 = 0xb8;
    /// Media data (DHAV pieces) or, with +24 = 10, snapshot pieces.
    pub const MEDIA_DATA: u8 = 0xbc;
    /// Talk channel control.
    pub const TALK_CONTROL: u8 = 0xc0;
    /// Sub-connection set-up of protocol 5.
    pub const SUB_CONNECTION: u8 = 0xf1;
    /// Text `key:value` RPC.
    pub const F4: u8 = 0xf4;
    /// JSON-RPC carrier.
    pub const JSON: u8 = 0xf6;

    /// Whether `byte` opens a DVRIP header we know.
    pub fn is_known(byte: u8) -> bool {
        matches!(
            byte,
            LOGOUT
                | LOGOUT_REPLY
                | MEDIA_REQUEST
                | TALK
                | TALK_DEVICE
                | TIME
                | CLEAR_LOG
                | ALARM_SUBSCRIBE
                | ALARM_STATE
                | I_FRAME
                | REGISTER_ACK
                | MEDIA_CAPS
                | CMD_99
                | LOGIN
                | PROBE
                | DISCOVERY
                | INFO_QUERY
                | USER_INFO
                | CHANNEL_NAMES
                | LOGIN_REPLY
                | PROBE_REPLY
                | DISCOVERY_REPLY
                | INFO_REPLY
                | CHANNEL_NAMES_REPLY
                | MEDIA_DATA
                | TALK_CONTROL
                | SUB_CONNECTION
                | F4
                | JSON
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
