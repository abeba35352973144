//! Typed DVRIP packets: what each command's header fields mean.
//!
//! Layouts come from public captures, independent tools and the vendor's own SDK (see
//! `docs/protocols.md`, which labels each rule); the login layouts are in [`super::login`].
//! Where the record is silent (the legacy alarm kinds) the choice is our convention and says
//! so.

use bytes::Bytes;

use super::frame::{DvripFrame, HEADER_LEN, command};
use super::login::{self, LoginReply, PlainCredentials};

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

/// The reply flag in byte 3: protocol version 7, low nibble 8.
const REPLY: u8 = 0x78;
/// The marker at +28 (request) and +24 (data) of the DVRIP snapshot.
pub const SNAP_MARK: u8 = 10;
/// Body length of the DVRIP snapshot request.
pub const SNAP_REQUEST_LEN: usize = 40;

/// Why a frame is not the packet it claims to be.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PacketError {
    /// The announced device ID is empty, not UTF-8, or holds control characters.
    #[error("announced device ID is invalid: {0}")]
    BadDeviceId(&'static str),
    /// A device ID longer than the 63 bytes the announcement can carry.
    #[error("device ID of {0} bytes is longer than the 63 bytes homeport accepts")]
    DeviceIdTooLong(usize),
}

/// Longest device ID accepted (the 64-byte `szDevSerial` field with its NUL).
pub const MAX_DEVICE_ID: usize = ANNOUNCED_ID_LEN - 1;
/// Longest device ID the 2010 vendor SDK keeps (`DEV_SERIAL_NUM_LEN` 48 with its NUL).
pub const PORTABLE_DEVICE_ID: usize = 47;

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
    /// `a0` with +27 = `01` (or `a0 01`, as mcw0 sends it): a login opening. A device with the
    /// realm login answers a [`DvripPacket::RealmChallenge`]; an old one checks the Gen0
    /// credentials and answers a [`DvripPacket::LoginReply`].
    LoginOpen {
        /// Bytes +8..+24: the 3DES user and password, or zeros.
        credentials: [u8; 16],
    },
    /// `b0` with a `Realm:…\r\nRandom:…` body: the realm challenge.
    RealmChallenge {
        /// The challenge text.
        text: Bytes,
    },
    /// `a0` with +27 = `08`: the client's `user&&hashes` login body.
    LoginHash {
        /// The login body.
        body: Bytes,
    },
    /// `a0` with any other step byte: the old plain login (`a0 00 00 60`).
    PlainLogin {
        /// The credentials, if they could be read.
        credentials: Option<PlainCredentials>,
    },
    /// `b0` without a challenge: the login result.
    LoginReply(LoginReply),
    /// `a1`: the keep-life packet (all zeros).
    KeepAlive,
    /// `b1`: its answer.
    KeepAliveReply,
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
    /// `f4`: a text `key:value` RPC ([`super::text`]).
    TextRpc {
        /// Whether byte 3 carries the reply flag.
        is_reply: bool,
        /// The text.
        body: Bytes,
    },
    /// `68`: subscribe to (or query) one kind of legacy alarm.
    AlarmSubscribe {
        /// Operation (+8): 2 = subscribe, as the vendor's clients send it.
        op: u8,
        /// Alarm kind (+12), see [`alarm`].
        kind: u8,
    },
    /// `69`: the state of one kind of legacy alarm, one byte per channel (1 = active).
    AlarmState {
        /// Operation (+8), echoed.
        op: u8,
        /// Alarm kind (+12).
        kind: u8,
        /// One byte per channel.
        states: Bytes,
    },
    /// `11` with +28 = 10: take a snapshot.
    SnapRequest {
        /// The channel.
        channel: u32,
        /// 0 = one picture, 1 = timed, -1 = stop.
        mode: i32,
        /// A command serial the answer echoes (low byte).
        serial: u32,
    },
    /// `bc` with +24 = 10: a piece of a snapshot; an empty one ends the picture.
    SnapData {
        /// The channel (+8).
        channel: u8,
        /// The request's serial (+25).
        serial: u8,
        /// The piece.
        chunk: Bytes,
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

/// Kinds of legacy alarm (+12 of `68` / `69`). The numbers are our convention: the vendor's
/// clients subscribe to 1, 2–16, 18–20, 0x9c, 0xa1–0xa2 (TaniDVR), and which is which is not
/// public.
pub mod alarm {
    /// External alarm input.
    pub const INPUT: u8 = 1;
    /// Motion detection.
    pub const MOTION: u8 = 2;
    /// Video loss.
    pub const VIDEO_LOSS: u8 = 3;
    /// Camera blinded (tamper).
    pub const VIDEO_BLIND: u8 = 4;

    /// The JSON event code a kind maps to.
    pub fn code(kind: u8) -> Option<&'static str> {
        Some(match kind {
            INPUT => "AlarmLocal",
            MOTION => "VideoMotion",
            VIDEO_LOSS => "VideoLoss",
            VIDEO_BLIND => "VideoBlind",
            _ => return None,
        })
    }

    /// The kind a JSON event code maps to.
    pub fn kind(code: &str) -> Option<u8> {
        [INPUT, MOTION, VIDEO_LOSS, VIDEO_BLIND]
            .into_iter()
            .find(|&k| self::code(k) == Some(code))
    }

    /// Every kind homeport names.
    pub const ALL: [u8; 4] = [INPUT, MOTION, VIDEO_LOSS, VIDEO_BLIND];
}

fn header(first_four: [u8; 4]) -> [u8; HEADER_LEN] {
    let mut header = [0u8; HEADER_LEN];
    header[..4].copy_from_slice(&first_four);
    header
}

/// Whether byte 3 marks a reply (low nibble 8: `78`, `68`, `58`).
fn is_reply(h: &[u8; HEADER_LEN]) -> bool {
    h[3] & 0x0f == 0x08
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
            command::LOGIN if h[login::STEP_AT] == login::STEP_HASH => Self::LoginHash {
                body: frame.body.clone(),
            },
            command::LOGIN if h[login::STEP_AT] == login::STEP_OPEN || h[1] == 0x01 => {
                let mut credentials = [0u8; 16];
                credentials.copy_from_slice(&h[8..24]);
                Self::LoginOpen { credentials }
            }
            command::LOGIN => Self::PlainLogin {
                credentials: PlainCredentials::read(h, &frame.body),
            },
            command::LOGIN_REPLY if login::is_challenge(&frame.body) => Self::RealmChallenge {
                text: frame.body.clone(),
            },
            command::LOGIN_REPLY => Self::LoginReply(LoginReply::read(h, &frame.body)),
            command::PROBE => Self::KeepAlive,
            command::PROBE_REPLY => Self::KeepAliveReply,
            command::JSON => Self::Json {
                request_id: frame.dword(8),
                session: frame.dword(24),
                is_reply: is_reply(h),
                body: frame.body.clone(),
            },
            command::F4 => Self::TextRpc {
                is_reply: is_reply(h),
                body: frame.body.clone(),
            },
            command::ALARM_SUBSCRIBE => Self::AlarmSubscribe {
                op: h[8],
                kind: h[12],
            },
            command::ALARM_STATE => Self::AlarmState {
                op: h[8],
                kind: h[12],
                states: frame.body.clone(),
            },
            command::MEDIA_REQUEST if h[28] == SNAP_MARK && frame.body.len() >= 24 => {
                let b = &frame.body;
                let word = |at: usize| u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]]);
                Self::SnapRequest {
                    channel: word(0),
                    mode: word(12) as i32,
                    serial: word(20),
                }
            }
            command::MEDIA_DATA if h[24] == SNAP_MARK => Self::SnapData {
                channel: h[8],
                serial: h[25],
                chunk: frame.body.clone(),
            },
            command::LOGOUT => Self::Logout {
                session: frame.dword(8),
            },
            command::LOGOUT_REPLY => Self::LogoutReply,
            _ => Self::Other(frame.clone()),
        }
    }

    /// The frame for this packet. Requests are framed the way the vendor's clients frame
    /// them; answers carry the header bytes of real devices.
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
            Self::LoginOpen { credentials } => {
                let mut h = header([command::LOGIN, 0x05, 0, login::CLIENT_VERSION]);
                h[8..24].copy_from_slice(credentials);
                h[24..].copy_from_slice(&login::OPEN_TRAILER);
                DvripFrame::new(h, Bytes::new())
            }
            Self::RealmChallenge { text } => {
                DvripFrame::new(login::challenge_header(), text.clone())
            }
            Self::LoginHash { body } => {
                let mut h = header([command::LOGIN, 0x05, 0, login::CLIENT_VERSION]);
                h[24..].copy_from_slice(&login::HASH_TRAILER);
                DvripFrame::new(h, body.clone())
            }
            Self::PlainLogin { credentials } => {
                let credentials = credentials.clone().unwrap_or(PlainCredentials {
                    user: String::new(),
                    password: String::new(),
                });
                let (h, body) = credentials.write();
                DvripFrame::new(h, body)
            }
            Self::LoginReply(reply) => {
                let (h, body) = reply.write();
                DvripFrame::new(h, body)
            }
            Self::KeepAlive => DvripFrame::new(header([command::PROBE, 0, 0, 0]), Bytes::new()),
            Self::KeepAliveReply => {
                DvripFrame::new(header([command::PROBE_REPLY, 0, 0, REPLY]), Bytes::new())
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
            Self::TextRpc { is_reply, body } => DvripFrame::new(
                header([command::F4, 0, 0, if *is_reply { REPLY } else { 0 }]),
                body.clone(),
            ),
            Self::AlarmSubscribe { op, kind } => {
                let mut h = header([command::ALARM_SUBSCRIBE, 0, 0, 0]);
                h[8] = *op;
                h[12] = *kind;
                DvripFrame::new(h, Bytes::new())
            }
            Self::AlarmState { op, kind, states } => {
                let mut h = header([command::ALARM_STATE, 0, 0, REPLY]);
                h[8] = *op;
                h[12] = *kind;
                DvripFrame::new(h, states.clone())
            }
            Self::SnapRequest {
                channel,
                mode,
                serial,
            } => {
                let mut h = header([command::MEDIA_REQUEST, 0, 0, 0]);
                h[28] = SNAP_MARK;
                let mut body = [0u8; SNAP_REQUEST_LEN];
                body[0..4].copy_from_slice(&channel.to_le_bytes());
                body[12..16].copy_from_slice(&mode.to_le_bytes());
                body[20..24].copy_from_slice(&serial.to_le_bytes());
                body[24] = u8::from(*mode >= 0);
                DvripFrame::new(h, Bytes::copy_from_slice(&body))
            }
            Self::SnapData {
                channel,
                serial,
                chunk,
            } => {
                let mut h = header([command::MEDIA_DATA, 0, 0, REPLY]);
                h[8] = *channel;
                h[24] = SNAP_MARK;
                h[25] = *serial;
                DvripFrame::new(h, chunk.clone())
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
        Self::announcement_sized(device_id, ANNOUNCED_ID_LEN)
    }

    /// An announcement whose ID field is `field` bytes (at least the ID and its NUL): the
    /// vendor's listener takes the length from the header, so any size works.
    pub fn announcement_sized(device_id: &str, field: usize) -> Result<Self, PacketError> {
        validate_device_id(device_id)?;
        let mut value = vec![0u8; field.max(device_id.len() + 1)];
        value[..device_id.len()].copy_from_slice(device_id.as_bytes());
        Ok(Self::InfoReply {
            sub: info::SERIAL,
            value: value.into(),
        })
    }

    /// The device ID, if this is an announcement (`b4` with sub-code 7).
    ///
    /// The value ends at its first NUL, whatever the body length. It must be 1–63 bytes of
    /// UTF-8 without control characters: it ends up in logs, topics and file names.
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
    if id.len() > MAX_DEVICE_ID {
        return Err(PacketError::DeviceIdTooLong(id.len()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dvrip::login::LoginResult;

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
    fn announcements_of_any_body_length_carry_the_id_to_the_first_nul() {
        for field in [8, 48, 64, 200] {
            let frame = DvripPacket::announcement_sized("cam7", field)
                .expect("valid")
                .to_frame();
            assert_eq!(frame.body.len(), field);
            assert_eq!(DvripPacket::parse(&frame).announced_id(), Some(Ok("cam7")));
        }
        let bare = DvripPacket::InfoReply {
            sub: info::SERIAL,
            value: Bytes::from_static(b"no-nul-at-all"),
        };
        assert_eq!(bare.announced_id(), Some(Ok("no-nul-at-all")));
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
        let long = DvripPacket::InfoReply {
            sub: info::SERIAL,
            value: Bytes::from("y".repeat(100)),
        };
        assert_eq!(
            long.announced_id(),
            Some(Err(PacketError::DeviceIdTooLong(100)))
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
            DvripPacket::LoginOpen {
                credentials: [0; 16],
            },
            DvripPacket::LoginOpen {
                credentials: [7; 16],
            },
            DvripPacket::RealmChallenge {
                text: Bytes::from_static(b"Realm:Login to X\r\nRandom:123\r\n\r\n"),
            },
            DvripPacket::LoginHash {
                body: Bytes::from_static(b"admin&&AB"),
            },
            DvripPacket::PlainLogin {
                credentials: Some(PlainCredentials {
                    user: "admin".to_owned(),
                    password: "pw".to_owned(),
                }),
            },
            DvripPacket::PlainLogin {
                credentials: Some(PlainCredentials {
                    user: "administrator".to_owned(),
                    password: "a long password".to_owned(),
                }),
            },
            DvripPacket::LoginReply(LoginReply::refused(LoginResult::BadPassword, 4)),
            DvripPacket::LoginReply(LoginReply::success(77, 4, 0x33, 5)),
            DvripPacket::KeepAlive,
            DvripPacket::KeepAliveReply,
            DvripPacket::Json {
                request_id: 3,
                session: 77,
                is_reply: true,
                body: Bytes::from_static(b"{}"),
            },
            DvripPacket::TextRpc {
                is_reply: false,
                body: Bytes::from_static(b"Method:AddObject\r\n\r\n"),
            },
            DvripPacket::AlarmSubscribe {
                op: 2,
                kind: alarm::MOTION,
            },
            DvripPacket::AlarmState {
                op: 2,
                kind: alarm::MOTION,
                states: Bytes::from_static(&[0, 1]),
            },
            DvripPacket::SnapRequest {
                channel: 1,
                mode: 0,
                serial: 9,
            },
            DvripPacket::SnapData {
                channel: 1,
                serial: 9,
                chunk: Bytes::from_static(b"\xff\xd8"),
            },
            DvripPacket::Logout { session: 77 },
            DvripPacket::LogoutReply,
        ];
        for packet in packets {
            assert_eq!(DvripPacket::parse(&packet.to_frame()), packet);
        }
    }

    #[test]
    fn login_steps_are_told_by_byte_27_not_byte_1() {
        let mut open = DvripPacket::LoginOpen {
            credentials: [0; 16],
        }
        .to_frame();
        assert_eq!(&open.header[..4], &[0xa0, 0x05, 0x00, 0x60]);
        assert_eq!(open.header[27], 0x01);
        let mut hash = DvripPacket::LoginHash {
            body: Bytes::from_static(b"admin&&x"),
        }
        .to_frame();
        assert_eq!(&hash.header[..4], &[0xa0, 0x05, 0x00, 0x60]);
        assert_eq!(hash.header[27], 0x08);
        // The older forms still read the same way.
        open.header[..4].copy_from_slice(&[0xa0, 0x01, 0x00, 0x00]);
        open.header[27] = 0x01;
        assert!(matches!(
            DvripPacket::parse(&open),
            DvripPacket::LoginOpen { .. }
        ));
        hash.header[3] = 0x00;
        assert!(matches!(
            DvripPacket::parse(&hash),
            DvripPacket::LoginHash { .. }
        ));
    }

    #[test]
    fn a_plain_login_reads_credentials_from_the_header_or_the_body() {
        let mut h = [0u8; HEADER_LEN];
        h[..4].copy_from_slice(&[0xa0, 0, 0, 0x60]);
        h[8..13].copy_from_slice(b"admin");
        h[16..19].copy_from_slice(b"abc");
        h[24] = 4;
        h[25] = 1;
        let from_header = DvripPacket::parse(&DvripFrame::new(h, Bytes::new()));
        let want = |user: &str, password: &str| DvripPacket::PlainLogin {
            credentials: Some(PlainCredentials {
                user: user.to_owned(),
                password: password.to_owned(),
            }),
        };
        assert_eq!(from_header, want("admin", "abc"));
        // gst-dmsssrc's shifted trailer, credentials in the body.
        let mut h = [0u8; HEADER_LEN];
        h[..4].copy_from_slice(&[0xa0, 0, 0, 0x60]);
        h[24..31].copy_from_slice(&[0x04, 0x02, 0x03, 0x00, 0x01, 0xa1, 0xaa]);
        let from_body = DvripPacket::parse(&DvripFrame::new(h, &b"admin&&secret"[..]));
        assert_eq!(from_body, want("admin", "secret"));
    }

    #[test]
    fn a_challenge_with_the_result_mark_is_still_a_challenge() {
        let frame = DvripPacket::RealmChallenge {
            text: Bytes::from_static(b"Realm:Login to 1\r\nRandom:2\r\n\r\n"),
        }
        .to_frame();
        assert_eq!(&frame.header[24..28], &[0x06, 0x00, 0xf9, 0x00]);
        assert!(matches!(
            DvripPacket::parse(&frame),
            DvripPacket::RealmChallenge { .. }
        ));
        let vto = DvripPacket::LoginReply(LoginReply {
            text: Bytes::from_static(b"DeviceClass:VTO\r\n"),
            ..LoginReply::success(5, 1, 0x33, 5)
        });
        assert_eq!(DvripPacket::parse(&vto.to_frame()), vto);
    }

    #[test]
    fn login_reply_puts_remaining_tries_where_both_readings_find_it() {
        let frame =
            DvripPacket::LoginReply(LoginReply::refused(LoginResult::BadPassword, 3)).to_frame();
        assert_eq!(frame.header[29], 3);
        assert_eq!(u16::from_be_bytes([frame.header[28], frame.header[29]]), 3);
    }

    #[test]
    fn legacy_alarm_codes_map_both_ways() {
        for kind in alarm::ALL {
            let code = alarm::code(kind).expect("named");
            assert_eq!(alarm::kind(code), Some(kind));
        }
        assert_eq!(alarm::code(0x9c), None);
    }
}
