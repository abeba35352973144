//! One device's transcript file, and the per-connection decoding that feeds it.
//!
//! Every frame becomes an entry: UTC time, peer, direction, what it is, and its bytes in hex.
//! What could let a reader log in is removed before anything is written:
//! - the 3DES user and password of a DVRIP opening (+8..+24) and of a plain login;
//! - the `user&&hashes` body of a DVRIP hash login (the user name is kept);
//! - in JSON, the value of every key naming a password, hash, token or secret
//!   (`password`, `authorityInfo`, …), and the binary payload after the JSON is cut to 64 bytes.
//!
//! The file is bounded: past [`MAX_FILE`] bytes the transcript stops with a note.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::Path;

use bytes::BytesMut;
use homeport_protocol::dhip::{DhipHeader, DhipMessage};
use homeport_protocol::dvrip::{DvripFrame, DvripPacket, HEADER_LEN};
use homeport_protocol::wire::{WireCodec, WireFrame};
use serde_json::Value;
use tokio_util::codec::Decoder;

use crate::device::link::MAX_MESSAGE;

/// Largest transcript file written.
pub const MAX_FILE: u64 = 64 * 1024 * 1024;
/// Body bytes shown in hex per frame.
const HEX_BODY: usize = 64;

/// Which way bytes went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Device → gateway.
    FromDevice,
    /// Gateway → device.
    ToDevice,
}

impl Direction {
    fn arrow(self) -> &'static str {
        match self {
            Self::FromDevice => "device -> gateway",
            Self::ToDevice => "gateway -> device",
        }
    }
}

/// A device's transcript file.
#[derive(Debug)]
pub struct Transcript {
    file: Option<File>,
    written: u64,
}

impl Transcript {
    /// Opens (appending) the transcript at `path`, mode 0600, in a 0700 directory.
    pub fn create(path: &Path, id: &str) -> std::io::Result<Self> {
        if let Some(dir) = path.parent() {
            let mut builder = std::fs::DirBuilder::new();
            builder.recursive(true);
            #[cfg(unix)]
            std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
            builder.create(dir)?;
        }
        let mut options = OpenOptions::new();
        options.create(true).append(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let file = options.open(path)?;
        let written = file.metadata().map(|m| m.len()).unwrap_or(0);
        let mut transcript = Self {
            file: Some(file),
            written,
        };
        transcript.line(&format!(
            "# {} transcript of device {id:?} started; passwords, login hashes and 3DES credentials are redacted",
            now()
        ));
        Ok(transcript)
    }

    fn line(&mut self, text: &str) {
        let Some(file) = self.file.as_mut() else {
            return;
        };
        if self.written + text.len() as u64 + 1 > MAX_FILE {
            let _ = writeln!(file, "# transcript stopped: it reached {MAX_FILE} bytes");
            self.file = None;
            return;
        }
        if writeln!(file, "{text}").is_err() {
            self.file = None;
            return;
        }
        self.written += text.len() as u64 + 1;
    }

    /// Writes one entry.
    pub(crate) fn entry(&mut self, peer: &str, direction: Direction, what: &str, hex: &str) {
        self.line(&format!("{} {peer} {} {what}", now(), direction.arrow()));
        if !hex.is_empty() {
            self.line(&format!("    {hex}"));
        }
    }
}

fn now() -> String {
    humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string()
}

/// One direction of one connection: bytes in, frames out.
#[derive(Debug)]
pub(crate) struct Stream {
    direction: Direction,
    codec: WireCodec,
    buffer: BytesMut,
    broken: bool,
}

impl Stream {
    pub(crate) fn new(direction: Direction) -> Self {
        Self {
            direction,
            codec: WireCodec::new(MAX_MESSAGE),
            buffer: BytesMut::new(),
            broken: false,
        }
    }

    /// Feeds bytes; writes an entry per complete frame.
    pub(crate) fn feed(&mut self, bytes: &[u8], peer: &str, transcript: &mut Transcript) {
        if self.broken {
            transcript.entry(
                peer,
                self.direction,
                &format!("{} more bytes (not decoded)", bytes.len()),
                "",
            );
            return;
        }
        self.buffer.extend_from_slice(bytes);
        loop {
            match self.codec.decode(&mut self.buffer) {
                Ok(Some(frame)) => {
                    let (what, hex) = describe(&frame);
                    transcript.entry(peer, self.direction, &what, &hex);
                }
                Ok(None) => break,
                Err(e) => {
                    // Undecodable bytes are not shown: they may hold anything.
                    transcript.entry(
                        peer,
                        self.direction,
                        &format!(
                            "{} bytes that do not decode ({e}); not shown",
                            self.buffer.len()
                        ),
                        "",
                    );
                    self.buffer = BytesMut::new();
                    self.broken = true;
                    break;
                }
            }
        }
    }
}

/// What a frame is, and its redacted hex.
pub(crate) fn describe(frame: &WireFrame) -> (String, String) {
    match frame {
        WireFrame::Dhip(message) => {
            // The header of the (reassembled) message as one packet: the body is shown
            // decoded and redacted, never in hex.
            let len = u32::try_from(message.body.len()).unwrap_or(u32::MAX);
            let header = DhipHeader {
                session: message.session,
                request_id: message.request_id,
                packet_len: len,
                reserved20: 0,
                total_len: len,
                reserved28: 0,
            }
            .to_bytes();
            (
                format!(
                    "DHIP session {} id {}: {}",
                    message.session,
                    message.request_id,
                    json_text(message)
                ),
                hex(&header),
            )
        }
        WireFrame::Dvrip(frame) => describe_dvrip(frame),
    }
}

fn describe_dvrip(frame: &DvripFrame) -> (String, String) {
    let mut header = frame.header;
    let mut body_hex = true;
    let packet = DvripPacket::parse(frame);
    if let Some(Ok(id)) = packet.announced_id() {
        return (
            format!("DVRIP b4 announcement, device ID {id:?}"),
            hex(&frame.to_vec()[..frame.body.len().min(HEX_BODY) + HEADER_LEN]),
        );
    }
    let what = match packet {
        DvripPacket::InfoReply { sub, value } => {
            format!(
                "DVRIP b4 info reply {sub}: {:?}",
                String::from_utf8_lossy(&value)
            )
        }
        DvripPacket::InfoQuery { sub } => format!("DVRIP a4 info query {sub}"),
        DvripPacket::LoginOpen { credentials } => {
            let carried = credentials.iter().any(|&b| b != 0);
            header[8..24].fill(0);
            if carried {
                "DVRIP a0 login opening (+27 = 01) [3DES credentials redacted]".to_owned()
            } else {
                "DVRIP a0 login opening (+27 = 01), no credentials".to_owned()
            }
        }
        DvripPacket::RealmChallenge { text } => format!(
            "DVRIP b0 realm challenge: {:?}",
            String::from_utf8_lossy(&text)
        ),
        DvripPacket::LoginHash { body } => {
            body_hex = false;
            let user = body
                .split(|&b| b == b'&')
                .next()
                .map(String::from_utf8_lossy)
                .unwrap_or_default();
            format!(
                "DVRIP a0 hash login (+27 = 08), user {user:?}, {} body bytes [hashes redacted]",
                body.len()
            )
        }
        DvripPacket::PlainLogin { credentials } => {
            body_hex = false;
            header[8..24].fill(0);
            let user = credentials.map(|c| c.user).unwrap_or_default();
            format!("DVRIP a0 plain login, user {user:?} [password redacted]")
        }
        DvripPacket::LoginReply(reply) => format!(
            "DVRIP b0 login result {:?}: session {}, channels {}, device type {:#04x}, tries {}, protocol version {}",
            reply.result,
            reply.session,
            reply.channels,
            reply.device_type,
            reply.remaining_tries,
            reply.version
        ),
        DvripPacket::KeepAlive => "DVRIP a1 keep-life".to_owned(),
        DvripPacket::KeepAliveReply => "DVRIP b1 keep-life answer".to_owned(),
        DvripPacket::Json {
            request_id,
            session,
            body,
            ..
        } => {
            body_hex = false;
            let message = DhipMessage::new(session, request_id, body);
            format!(
                "DVRIP f6 id {request_id} session {session}: {}",
                json_text(&message)
            )
        }
        DvripPacket::TextRpc { body, .. } => {
            body_hex = false;
            format!(
                "DVRIP f4 text RPC: {:?}",
                redact_text(&String::from_utf8_lossy(&body))
            )
        }
        DvripPacket::AlarmSubscribe { op, kind } => {
            format!("DVRIP 68 alarm subscription op {op} kind {kind}")
        }
        DvripPacket::AlarmState { op, kind, states } => {
            format!("DVRIP 69 alarm state op {op} kind {kind}: {states:?}")
        }
        DvripPacket::SnapRequest {
            channel,
            mode,
            serial,
        } => {
            format!("DVRIP 11 snapshot request channel {channel} mode {mode} serial {serial}")
        }
        DvripPacket::SnapData {
            channel,
            serial,
            chunk,
        } => {
            format!(
                "DVRIP bc snapshot piece channel {channel} serial {serial}: {} bytes",
                chunk.len()
            )
        }
        DvripPacket::Logout { session } => format!("DVRIP 0a logout of session {session}"),
        DvripPacket::LogoutReply => "DVRIP 0b logout answer".to_owned(),
        DvripPacket::Other(frame) => format!(
            "DVRIP {:02x} ({} body bytes)",
            frame.command(),
            frame.body.len()
        ),
    };
    let mut shown = hex(&header[..HEADER_LEN]);
    if body_hex && !frame.body.is_empty() {
        let cut = frame.body.len().min(HEX_BODY);
        shown.push_str(" | ");
        shown.push_str(&hex(&frame.body[..cut]));
        if cut < frame.body.len() {
            shown.push_str(&format!(" … (+{} bytes)", frame.body.len() - cut));
        }
    }
    (what, shown)
}

/// The JSON of a message with secrets replaced; the binary payload only by its length.
fn json_text(message: &DhipMessage) -> String {
    let Ok((json, payload)) = message.parts() else {
        return format!("{} bytes that are not JSON; not shown", message.body.len());
    };
    let Ok(mut value) = serde_json::from_slice::<Value>(json) else {
        return format!("{} bytes that are not JSON; not shown", message.body.len());
    };
    redact(&mut value);
    let mut text = value.to_string();
    if let Some(payload) = payload {
        text.push_str(&format!(" + {} binary bytes", payload.len()));
    }
    text
}

/// Whether a key names a secret.
fn secret_key(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    [
        "password",
        "passwd",
        "pwd",
        "authority",
        "hash",
        "token",
        "secret",
        "cipher",
        "key",
    ]
    .iter()
    .any(|word| key.contains(word))
}

/// Replaces the values of secret-named keys, at any depth.
pub(crate) fn redact(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (key, inner) in map.iter_mut() {
                if secret_key(key) && !matches!(inner, Value::Null) {
                    *inner = Value::String("[redacted]".to_owned());
                } else {
                    redact(inner);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(redact),
        _ => {}
    }
}

/// `key:value` lines with secret-named values replaced.
fn redact_text(text: &str) -> String {
    text.split("\r\n")
        .map(|line| match line.split_once(':') {
            Some((key, _)) if secret_key(key) => format!("{key}:[redacted]"),
            _ => line.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("\r\n")
}

fn hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use homeport_protocol::dvrip::PlainCredentials;
    use serde_json::json;

    #[test]
    fn secrets_in_json_are_redacted_at_any_depth() {
        let mut value = json!({"params": {"userName": "admin", "password": "p@ss", "authorityType": "Default",
            "list": [{"Password": "x"}], "keep": 1}});
        redact(&mut value);
        let text = value.to_string();
        assert!(!text.contains("p@ss") && !text.contains("\"x\""), "{text}");
        assert!(
            text.contains("admin") && text.contains("\"keep\":1"),
            "{text}"
        );
    }

    #[test]
    fn login_packets_lose_their_credentials() {
        let open = DvripPacket::LoginOpen {
            credentials: [0xab; 16],
        }
        .to_frame();
        let (what, hex) = describe(&WireFrame::Dvrip(open));
        assert!(what.contains("redacted"), "{what}");
        assert!(!hex.contains("ab ab"), "{hex}");
        let hash = DvripPacket::LoginHash {
            body: Bytes::from_static(
                b"admin&&0123456789ABCDEF0123456789ABCDEFFEDCBA9876543210FEDCBA9876543210",
            ),
        }
        .to_frame();
        let (what, hex) = describe(&WireFrame::Dvrip(hash));
        assert!(
            what.contains("\"admin\"") && !what.contains("0123"),
            "{what}"
        );
        assert!(!hex.contains("30 31 32"), "{hex}");
        let plain = DvripPacket::PlainLogin {
            credentials: Some(PlainCredentials {
                user: "admin".to_owned(),
                password: "hunter2".to_owned(),
            }),
        }
        .to_frame();
        let (what, hex) = describe(&WireFrame::Dvrip(plain));
        assert!(!what.contains("hunter2"), "{what}");
        assert!(!hex.contains("68 75 6e"), "{hex}");
    }

    #[test]
    fn undecodable_bytes_are_counted_not_shown() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("t.log");
        let mut transcript = Transcript::create(&path, "cam").expect("created");
        let mut stream = Stream::new(Direction::FromDevice);
        stream.feed(b"GET /secret HTTP/1.1\r\n", "127.0.0.1:1", &mut transcript);
        let text = std::fs::read_to_string(&path).expect("read");
        assert!(
            text.contains("do not decode") && !text.contains("secret"),
            "{text}"
        );
    }
}
