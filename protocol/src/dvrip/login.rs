//! The DVRIP login packets: the opening (`a0`, +27 = `01`), the hash login (`a0`, +27 = `08`),
//! the old plain login, and the device's `b0` answers (realm challenge or login result).
//!
//! Real Dahua clients open with `a0 05 00 60`, the 3DES (Gen0) user and password at +8/+16
//! and the trailer `05 02 00 01 00 00 a1 aa`; then send the hash login as `a0 05 00 60` again
//! with trailer `05 02 00 08 00 00 a1 aa`. The step is told by byte +27, not by byte 1
//! (`reference/dahua-protocol-2.md` §1.5, §6 items 6–8).

use bytes::Bytes;

use super::frame::HEADER_LEN;

/// Bytes 24..32 of a login opening as the vendor's clients send it (+27 = `01`).
pub const OPEN_TRAILER: [u8; 8] = [0x05, 0x02, 0x00, 0x01, 0x00, 0x00, 0xa1, 0xaa];
/// Bytes 24..32 of a hash login as the vendor's clients send it (+27 = `08`).
pub const HASH_TRAILER: [u8; 8] = [0x05, 0x02, 0x00, 0x08, 0x00, 0x00, 0xa1, 0xaa];
/// Bytes 24..32 of the old plain login (`a0 00 00 60`) as the 2010 SDK and TaniDVR send it.
pub const PLAIN_TRAILER: [u8; 8] = [0x04, 0x01, 0x00, 0x00, 0x00, 0x00, 0xa1, 0xaa];
/// Bytes 24..28 of every `b0` answer, challenge and result alike.
pub const RESULT_MARK: [u8; 4] = [0x06, 0x00, 0xf9, 0x00];
/// Byte 3 of the vendor client's requests: protocol version 6 in the high nibble.
pub const CLIENT_VERSION: u8 = 0x60;
/// Offset of the step byte in a login request.
pub const STEP_AT: usize = 27;
/// Step byte of an opening.
pub const STEP_OPEN: u8 = 0x01;
/// Step byte of a hash login.
pub const STEP_HASH: u8 = 0x08;

/// The outcome carried in a login result: byte +8 (0 = success) and byte +9 (the reason).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginResult {
    /// +8 = 0 (the device sends +9 = 8: "sub-connections wait for an ack").
    Success,
    /// `01 00`.
    BadPassword,
    /// `01 01`.
    BadUser,
    /// `01 04`.
    Locked,
    /// `01 05`: the client's address is on the device's block list.
    Blocklisted,
    /// `01 11`.
    NotInitialised,
    /// `01 13`.
    NotImplemented,
    /// `03 03`.
    AlreadyLoggedIn,
    /// Any other pair.
    Other([u8; 2]),
}

impl LoginResult {
    /// Reads bytes +8 and +9.
    pub fn from_bytes(bytes: [u8; 2]) -> Self {
        match bytes {
            [0x00, _] => Self::Success,
            [0x01, 0x00] => Self::BadPassword,
            [0x01, 0x01] => Self::BadUser,
            [0x01, 0x04] => Self::Locked,
            [0x01, 0x05] => Self::Blocklisted,
            [0x01, 0x11] => Self::NotInitialised,
            [0x01, 0x13] => Self::NotImplemented,
            [0x03, 0x03] => Self::AlreadyLoggedIn,
            other => Self::Other(other),
        }
    }

    /// Bytes +8 and +9 as a device writes them.
    pub fn to_bytes(self) -> [u8; 2] {
        match self {
            Self::Success => [0x00, 0x08],
            Self::BadPassword => [0x01, 0x00],
            Self::BadUser => [0x01, 0x01],
            Self::Locked => [0x01, 0x04],
            Self::Blocklisted => [0x01, 0x05],
            Self::NotInitialised => [0x01, 0x11],
            Self::NotImplemented => [0x01, 0x13],
            Self::AlreadyLoggedIn => [0x03, 0x03],
            Self::Other(bytes) => bytes,
        }
    }
}

/// A `b0` login result, with what the device says about itself in the header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginReply {
    /// Success or the reason for refusal (+8, +9).
    pub result: LoginResult,
    /// Video channels (+10); the vendor SDK opens no channel at or above it.
    pub channels: u8,
    /// Encoder type (+11).
    pub encoder: u8,
    /// Product type (+12), e.g. `0x33` for the captured IPC.
    pub device_type: u8,
    /// Product subtype (+13).
    pub device_subtype: u8,
    /// The session id granted (+16).
    pub session: u32,
    /// Login attempts left before the account locks (+29); on success the capture has the
    /// device's budget there.
    pub remaining_tries: u8,
    /// The device's protocol version (high nibble of byte 3): 7 on current firmware.
    pub version: u8,
    /// Text some devices add (`DeviceClass:VTO`); usually empty.
    pub text: Bytes,
}

impl LoginReply {
    /// A success as a device answers it, with the header fields of the real capture.
    pub fn success(session: u32, channels: u8, device_type: u8, budget: u8) -> Self {
        Self {
            result: LoginResult::Success,
            channels,
            encoder: 0,
            device_type,
            device_subtype: 0,
            session,
            remaining_tries: budget,
            version: 7,
            text: Bytes::new(),
        }
    }

    /// A refusal with `remaining_tries` left.
    pub fn refused(result: LoginResult, remaining_tries: u8) -> Self {
        Self {
            result,
            channels: 0,
            encoder: 0,
            device_type: 0,
            device_subtype: 0,
            session: 0,
            remaining_tries,
            version: 7,
            text: Bytes::new(),
        }
    }

    pub(super) fn read(header: &[u8; HEADER_LEN], body: &Bytes) -> Self {
        Self {
            result: LoginResult::from_bytes([header[8], header[9]]),
            channels: header[10],
            encoder: header[11],
            device_type: header[12],
            device_subtype: header[13],
            session: u32::from_le_bytes([header[16], header[17], header[18], header[19]]),
            remaining_tries: header[29],
            version: header[3] >> 4,
            text: body.clone(),
        }
    }

    pub(super) fn write(&self) -> ([u8; HEADER_LEN], Bytes) {
        let mut h = answer_header(self.version);
        h[8..10].copy_from_slice(&self.result.to_bytes());
        if self.result == LoginResult::Success {
            h[10] = self.channels;
            h[11] = self.encoder;
            h[12] = self.device_type;
            h[13] = self.device_subtype;
        }
        h[16..20].copy_from_slice(&self.session.to_le_bytes());
        // Byte 29 serves both readings in use: one tool reads byte 29, another bytes 28..29
        // big-endian; with byte 28 zero they agree.
        h[29] = self.remaining_tries;
        (h, self.text.clone())
    }
}

/// The header every `b0` answer shares: byte 3 = version | 8, +20 = 1, the mark at +24, +31 = 2.
pub(super) fn answer_header(version: u8) -> [u8; HEADER_LEN] {
    let mut h = [0u8; HEADER_LEN];
    h[0] = super::frame::command::LOGIN_REPLY;
    h[3] = (version << 4) | 0x08;
    h[20] = 0x01;
    h[24..28].copy_from_slice(&RESULT_MARK);
    h[31] = 0x02;
    h
}

/// The header of a realm challenge, as captured: `b0 00 00 78`, +8 = `01 0e 01 00`, +20 = 1,
/// +24 = `06 00 f9 00 00 00 00 02`.
pub(super) fn challenge_header() -> [u8; HEADER_LEN] {
    let mut h = answer_header(7);
    h[8..12].copy_from_slice(&[0x01, 0x0e, 0x01, 0x00]);
    h
}

/// Whether a `b0` body is a realm challenge rather than a result's text.
pub(super) fn is_challenge(body: &[u8]) -> bool {
    body.windows(7).any(|w| w.eq_ignore_ascii_case(b"random:"))
}

/// Credentials an old plain login carries in clear: in the header when both fit 8 bytes,
/// otherwise as a `user&&password` body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlainCredentials {
    /// The user name.
    pub user: String,
    /// The password.
    pub password: String,
}

impl PlainCredentials {
    pub(super) fn read(header: &[u8; HEADER_LEN], body: &[u8]) -> Option<Self> {
        if body.is_empty() {
            let field = |bytes: &[u8]| {
                let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
                String::from_utf8(bytes[..end].to_vec()).ok()
            };
            return Some(Self {
                user: field(&header[8..16])?,
                password: field(&header[16..24])?,
            });
        }
        let text = std::str::from_utf8(body).ok()?;
        let text = text.trim_end_matches(['\0', '\r', '\n']);
        let (user, password) = text.split_once("&&")?;
        Some(Self {
            user: user.to_owned(),
            password: password.to_owned(),
        })
    }

    pub(super) fn write(&self) -> ([u8; HEADER_LEN], Bytes) {
        let mut h = [0u8; HEADER_LEN];
        h[0] = super::frame::command::LOGIN;
        h[3] = CLIENT_VERSION;
        h[24..].copy_from_slice(&PLAIN_TRAILER);
        if self.user.len() <= 8 && self.password.len() <= 8 {
            h[8..8 + self.user.len()].copy_from_slice(self.user.as_bytes());
            h[16..16 + self.password.len()].copy_from_slice(self.password.as_bytes());
            (h, Bytes::new())
        } else {
            (h, format!("{}&&{}", self.user, self.password).into())
        }
    }
}
