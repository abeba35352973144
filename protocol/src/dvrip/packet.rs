//! Typed DVRIP packets: what each command's header fields mean.
//!
//! Layouts come from public captures and tools (see `docs/protocols.md`); where the public
//! record is silent (the realm challenge's header flags, the login reply we send from the
//! simulator) the bytes are our convention and say so.

use bytes::Bytes;

use super::frame::{DvripFrame, HEADER_LEN, command};

/// Sub-codes of the `a4`/`b4` device-info query (the u32 at offset 8).
pub mod info {
    /// Serial number; also the sub-code of the auto-register announcement.
    pub const SERIAL: u32 = 7;
    /// Software version.
    pub const VERSION: u32 = 8;
    /// Device type.
    pub const DEVICE_TYPE: u32 = 0x0b;
}

/// Size of the NUL-padded device-ID field of the announcement (`szDevSerial[64]`).
pub const ANNOUNCED_ID_LEN: usize = 64;

/// Trailer of the realm-request header (bytes 24..32), as sent by public clients.
const REALM_REQUEST_TRAILER: [u8; 8] = [0x05, 0x02, 0x01, 0x01, 0x00, 0x00, 0xa1, 0xaa];
/// Trailer of the login-hash header (bytes 24..32).
const LOGIN_HASH_TRAILER: [u8; 8] = [0x05, 0x02, 0x00, 0x08, 0x00, 0x00, 0xa1, 0xaa];
/// Bytes 24..28 of a login result, which clients check before reading it.
const LOGIN_RESULT_MARK: [u8; 4] = [0x06, 0x00, 0xf9, 0x00];
/// The reply flag in byte 3.
const REPLY: u8 = 0x78;

/// Why a frame is not the packet it claims to be.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PacketError {
    /// The announced device ID is empty, not UTF-8, or holds control characters.
    #[error("announced device ID is invalid: {0}")]
    BadDeviceId(&'static str),
    /// A device ID longer than the 63 bytes the announcement can carry.
    #[error("device ID of {0} bytes does not fit the 64-byte announcement field")]
    DeviceIdTooLong(usize),
}

/// The outcome carried in a DVRIP login reply (bytes 8..9).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginResult {
    /// `00 08`.
    Success,
    /// `01 00`.
    BadPassword,
    /// `01 01`.
    BadUser,
    /// `01 04`.
    Locked,
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
    fn from_bytes(bytes: [u8; 2]) -> Self {
        match bytes {
            [0x00, 0x08] => Self::Success,
            [0x01, 0x00] => Self::BadPassword,
            [0x01, 0x01] => Self::BadUser,
            [0x01, 0x04] => Self::Locked,
            [0x01, 0x11] => Self::NotInitialised,
            [0x01, 0x13] => Self::NotImplemented,
            [0x03, 0x03] => Self::AlreadyLoggedIn,
            other => Self::Other(other),
        }
    }

    fn to_bytes(self) -> [u8; 2] {
        match self {
            Self::Success => [0x00, 0x08],
            Self::BadPassword => [0x01, 0x00],
            Self::BadUser => [0x01, 0x01],
            Self::Locked => [0x01, 0x04],
            Self::NotInitialised => [0x01, 0x11],
            Self::NotImplemented => [0x01, 0x13],
            Self::AlreadyLoggedIn => [0x03, 0x03],
            Self::Other(bytes) => bytes,
        }
    }
}

/// A DVRIP frame read by command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DvripPacket {
    /// `a4`: the client asks for a device-info string.
    InfoQuery {
        /// What is asked ([`info`]).
        sub: u32,
    },
    /// `b4`: a device-info string. With sub-code 7 sent unsolicited on the register socket,
    /// this is the auto-register announcement.
    InfoReply {
        /// What is answered ([`info`]).
        sub: u32,
        /// The value, NUL-padded in the announcement.
        value: Bytes,
    },
    /// `a0 01`: the client asks for the realm and random.
    RealmRequest,
    /// `b0` with a body: the realm challenge text (`Realm:…\r\nRandom:…\r\n`).
    RealmChallenge {
        /// The challenge text.
        text: Bytes,
    },
    /// `a0 05`: the client's `user&&hashes` login body.
    LoginHash {
        /// The login body.
        body: Bytes,
    },
    /// `b0` with the `06 00 f9 00` mark: the login result.
    LoginReply {
        /// Success or the reason for refusal.
        result: LoginResult,
        /// The session id granted (offset 16).
        session: u32,
        /// Login attempts left before the account locks (byte 29).
        remaining_tries: u8,
    },
    /// `f6`: a JSON-RPC message.
    Json {
        /// Request id (offset 8).
        request_id: u32,
        /// Session id (offset 24).
        session: u32,
        /// Whether byte 3 carries the reply flag.
        is_reply: bool,
        /// The JSON text.
        body: Bytes,
    },
    /// `0a`: logout of a session (offset 8).
    Logout {
        /// The session to end.
        session: u32,
    },
    /// `0b`: logout acknowledged.
    LogoutReply,
    /// Any other command, kept as it is.
    Other(DvripFrame),
}

fn header(first_four: [u8; 4]) -> [u8; HEADER_LEN] {
    let mut header = [0u8; HEADER_LEN];
    header[..4].copy_from_slice(&first_four);
    header
}

impl DvripPacket {
    /// Reads a frame as a typed packet; unknown shapes come back as [`DvripPacket::Other`].
    pub fn parse(frame: &DvripFrame) -> Self {
        let h = &frame.header;
        match frame.command() {
            command::INFO_QUERY => Self::InfoQuery {
                sub: frame.dword(8),
            },
            command::INFO_REPLY => Self::InfoReply {
                sub: frame.dword(8),
                value: frame.body.clone(),
            },
            command::LOGIN if h[1] == 0x01 => Self::RealmRequest,
            command::LOGIN if h[1] == 0x05 && h[3] == 0x00 => Self::LoginHash {
                body: frame.body.clone(),
            },
            command::LOGIN_REPLY if h[24..28] == LOGIN_RESULT_MARK => Self::LoginReply {
                result: LoginResult::from_bytes([h[8], h[9]]),
                session: frame.dword(16),
                remaining_tries: h[29],
            },
            command::LOGIN_REPLY if !frame.body.is_empty() => Self::RealmChallenge {
                text: frame.body.clone(),
            },
            command::JSON => Self::Json {
                request_id: frame.dword(8),
                session: frame.dword(24),
                is_reply: h[3] == REPLY,
                body: frame.body.clone(),
            },
            command::LOGOUT => Self::Logout {
                session: frame.dword(8),
            },
            command::LOGOUT_REPLY => Self::LogoutReply,
            _ => Self::Other(frame.clone()),
        }
    }

    /// The frame for this packet.
    pub fn to_frame(&self) -> DvripFrame {
        match self {
            Self::InfoQuery { sub } => {
                let mut h = header([command::INFO_QUERY, 0, 0, 0]);
                h[8..12].copy_from_slice(&sub.to_le_bytes());
                DvripFrame::new(h, Bytes::new())
            }
            Self::InfoReply { sub, value } => {
                let mut h = header([command::INFO_REPLY, 0, 0, REPLY]);
                h[8..12].copy_from_slice(&sub.to_le_bytes());
                DvripFrame::new(h, value.clone())
            }
            Self::RealmRequest => {
                let mut h = header([command::LOGIN, 0x01, 0, 0]);
                h[24..].copy_from_slice(&REALM_REQUEST_TRAILER);
                DvripFrame::new(h, Bytes::new())
            }
            Self::RealmChallenge { text } => {
                DvripFrame::new(header([command::LOGIN_REPLY, 0x01, 0, REPLY]), text.clone())
            }
            Self::LoginHash { body } => {
                let mut h = header([command::LOGIN, 0x05, 0, 0]);
                h[24..].copy_from_slice(&LOGIN_HASH_TRAILER);
                DvripFrame::new(h, body.clone())
            }
            Self::LoginReply {
                result,
                session,
                remaining_tries,
            } => {
                let mut h = header([command::LOGIN_REPLY, 0, 0, REPLY]);
                h[8..10].copy_from_slice(&result.to_bytes());
                h[16..20].copy_from_slice(&session.to_le_bytes());
                h[24..28].copy_from_slice(&LOGIN_RESULT_MARK);
                // Byte 29 serves both readings in use: one tool reads byte 29, another bytes
                // 28..29 big-endian; with byte 28 zero they agree.
                h[29] = *remaining_tries;
                DvripFrame::new(h, Bytes::new())
            }
            Self::Json {
                request_id,
                session,
                is_reply,
                body,
            } => {
                let mut h = header([command::JSON, 0, 0, if *is_reply { REPLY } else { 0 }]);
                h[8..12].copy_from_slice(&request_id.to_le_bytes());
                h[16..20].copy_from_slice(&(body.len() as u32).to_le_bytes());
                h[24..28].copy_from_slice(&session.to_le_bytes());
                DvripFrame::new(h, body.clone())
            }
            Self::Logout { session } => {
                let mut h = header([command::LOGOUT, 0, 0, 0]);
                h[8..12].copy_from_slice(&session.to_le_bytes());
                DvripFrame::new(h, Bytes::new())
            }
            Self::LogoutReply => DvripFrame::new(
                header([command::LOGOUT_REPLY, 0x01, 0, REPLY]),
                Bytes::new(),
            ),
            Self::Other(frame) => frame.clone(),
        }
    }

    /// The 96-byte auto-register announcement: `b4 00 00 78`, length 64, sub-code 7, and the
    /// device ID NUL-padded to 64 bytes.
    pub fn announcement(device_id: &str) -> Result<Self, PacketError> {
        validate_device_id(device_id)?;
        if device_id.len() >= ANNOUNCED_ID_LEN {
            return Err(PacketError::DeviceIdTooLong(device_id.len()));
        }
        let mut value = vec![0u8; ANNOUNCED_ID_LEN];
        value[..device_id.len()].copy_from_slice(device_id.as_bytes());
        Ok(Self::InfoReply {
            sub: info::SERIAL,
            value: value.into(),
        })
    }

    /// The device ID, if this is an announcement (`b4` with sub-code 7).
    ///
    /// The value ends at its first NUL. It must be non-empty UTF-8 without control
    /// characters: it ends up in logs, topics and file names.
    pub fn announced_id(&self) -> Option<Result<&str, PacketError>> {
        let Self::InfoReply {
            sub: info::SERIAL,
            value,
        } = self
        else {
            return None;
        };
        let end = value.iter().position(|&b| b == 0).unwrap_or(value.len());
        Some(
            std::str::from_utf8(&value[..end])
                .map_err(|_| PacketError::BadDeviceId("not UTF-8"))
                .and_then(|id| validate_device_id(id).map(|()| id)),
        )
    }
}

fn validate_device_id(id: &str) -> Result<(), PacketError> {
    if id.is_empty() {
        return Err(PacketError::BadDeviceId("empty"));
    }
    if id.chars().any(char::is_control) {
        return Err(PacketError::BadDeviceId("contains control characters"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn announcement_is_96_bytes_with_the_id_padded() {
        let frame = DvripPacket::announcement("test894")
            .expect("valid")
            .to_frame();
        let wire = frame.to_vec();
        assert_eq!(wire.len(), 96);
        assert_eq!(&wire[..12], &[0xb4, 0, 0, 0x78, 0x40, 0, 0, 0, 7, 0, 0, 0]);
        assert_eq!(&wire[32..39], b"test894");
        assert!(wire[39..].iter().all(|&b| b == 0));
        let packet = DvripPacket::parse(&frame);
        assert_eq!(packet.announced_id(), Some(Ok("test894")));
    }

    #[test]
    fn device_ids_that_cannot_be_announced_are_refused() {
        assert_eq!(
            DvripPacket::announcement("").err(),
            Some(PacketError::BadDeviceId("empty"))
        );
        assert_eq!(
            DvripPacket::announcement(&"x".repeat(64)).err(),
            Some(PacketError::DeviceIdTooLong(64))
        );
        let bad = DvripPacket::InfoReply {
            sub: info::SERIAL,
            value: Bytes::from_static(b"ab\ncd"),
        };
        assert!(matches!(bad.announced_id(), Some(Err(_))));
        let other = DvripPacket::InfoReply {
            sub: info::VERSION,
            value: Bytes::from_static(b"2.800"),
        };
        assert_eq!(other.announced_id(), None);
    }

    #[test]
    fn every_typed_packet_round_trips() {
        let packets = [
            DvripPacket::InfoQuery {
                sub: info::DEVICE_TYPE,
            },
            DvripPacket::RealmRequest,
            DvripPacket::RealmChallenge {
                text: Bytes::from_static(b"Realm:Login to X\r\nRandom:123\r\n"),
            },
            DvripPacket::LoginHash {
                body: Bytes::from_static(b"admin&&AB"),
            },
            DvripPacket::LoginReply {
                result: LoginResult::BadPassword,
                session: 0,
                remaining_tries: 4,
            },
            DvripPacket::LoginReply {
                result: LoginResult::Success,
                session: 77,
                remaining_tries: 0,
            },
            DvripPacket::Json {
                request_id: 3,
                session: 77,
                is_reply: true,
                body: Bytes::from_static(b"{}"),
            },
            DvripPacket::Logout { session: 77 },
            DvripPacket::LogoutReply,
        ];
        for packet in packets {
            assert_eq!(DvripPacket::parse(&packet.to_frame()), packet);
        }
    }

    #[test]
    fn login_reply_puts_remaining_tries_where_both_readings_find_it() {
        let frame = DvripPacket::LoginReply {
            result: LoginResult::BadPassword,
            session: 0,
            remaining_tries: 3,
        }
        .to_frame();
        assert_eq!(frame.header[29], 3);
        assert_eq!(u16::from_be_bytes([frame.header[28], frame.header[29]]), 3);
    }
}
