//! Property-style round trips over generated messages, fields and garbage lines.
//!
//! A small deterministic generator (xorshift) keeps failures reproducible without extra crates.

use bytes::BytesMut;
use tokio_util::codec::{Decoder, Encoder};

use super::escape::{Separator, escape, split_unescaped, unescape};
use super::{CommandName, DataPort, MAX_QUERY_IDS, OnlineStatus, SyncLineCodec, SyncMessage};

/// Pieces that stress the escaping: every special character, look-alikes of escape letters,
/// multi-byte characters, spaces and dots.
const PIECES: &[&str] = &[
    "a", "Z", "0", "9", " ", "  ", "\\", "\\\\", "|", ";", ":", "\n", "\r", "\r\n", "n", "r", ".",
    "\t", "用", "户", "😀", "true", "null", "Login", "\\n", "é",
];

/// xorshift64*: deterministic, good enough to explore shapes.
#[derive(Debug)]
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn chance(&mut self, one_in: usize) -> bool {
        self.below(one_in) == 0
    }

    fn text(&mut self) -> String {
        let pieces = self.below(10);
        (0..pieces)
            .map(|_| PIECES[self.below(PIECES.len())])
            .collect()
    }

    fn non_empty_text(&mut self) -> String {
        let text = self.text();
        if text.is_empty() {
            "x".to_owned()
        } else {
            text
        }
    }

    fn optional_text(&mut self) -> Option<String> {
        if self.chance(3) {
            None
        } else {
            Some(self.non_empty_text())
        }
    }

    fn number(&mut self) -> u32 {
        match self.below(4) {
            0 => 0,
            1 => u32::MAX,
            2 => self.below(100) as u32,
            _ => self.next() as u32,
        }
    }

    fn status(&mut self) -> OnlineStatus {
        [
            OnlineStatus::Online,
            OnlineStatus::Offline,
            OnlineStatus::Unknown,
        ][self.below(3)]
    }

    fn message(&mut self, command: CommandName) -> SyncMessage {
        match command {
            CommandName::Login => SyncMessage::Login {
                user: self.text(),
                password: self.text(),
            },
            CommandName::LoginOk => SyncMessage::LoginOk {
                camera_count: self.number(),
                last_login_time: self.optional_text(),
                last_login_ip: self.optional_text(),
            },
            CommandName::LoginError => SyncMessage::LoginError {
                reason: self.text(),
            },
            CommandName::CreatDataSocket => SyncMessage::CreatDataSocket {
                user: self.text(),
                password: self.text(),
                token: self.chance(2),
            },
            CommandName::ReturnDataSocketPort => {
                SyncMessage::ReturnDataSocketPort((!self.chance(3)).then(|| DataPort {
                    port: self.next() as u16,
                    token: self.chance(2).then(|| self.text()),
                }))
            }
            CommandName::UploadCaramer => SyncMessage::UploadCaramer {
                camera_id: self.text(),
                camera_password: self.text(),
                current: self.number(),
                total: self.number(),
            },
            CommandName::UploadSucess => SyncMessage::UploadSucess {
                camera_id: self.text(),
                online: self.status(),
                synced: self.number(),
                total: self.number(),
            },
            CommandName::UploadFail => SyncMessage::UploadFail {
                camera_id: self.text(),
                reason: self.text(),
                synced: self.number(),
                total: self.number(),
            },
            CommandName::DownLoadCaramer => SyncMessage::DownLoadCaramer {
                downloaded: self.number(),
            },
            CommandName::DownloadSucess => SyncMessage::DownloadSucess {
                camera_id: self.text(),
                camera_password: self.text(),
                online: self.status(),
                current: self.number(),
                total: self.number(),
            },
            CommandName::DownloadFail => SyncMessage::DownloadFail {
                reason: self.text(),
            },
            CommandName::CheckCaramerOnlineStatus => {
                let count = self.below(MAX_QUERY_IDS + 1);
                SyncMessage::CheckCaramerOnlineStatus(
                    (0..count).map(|_| self.non_empty_text()).collect(),
                )
            }
            CommandName::ReturnCaramerOnlineStatus => {
                let count = self.below(30);
                SyncMessage::ReturnCaramerOnlineStatus(
                    (0..count)
                        .map(|_| (self.non_empty_text(), self.status()))
                        .collect(),
                )
            }
            CommandName::PrushCaramerOnlineStatus => SyncMessage::PrushCaramerOnlineStatus {
                camera_id: self.text(),
                online: self.chance(2),
            },
            CommandName::PrushCaramerAlarmInfo => SyncMessage::PrushCaramerAlarmInfo {
                camera_id: self.text(),
                alarm_type: self.text(),
            },
            CommandName::Heartbeat => SyncMessage::Heartbeat,
            CommandName::Logout => SyncMessage::Logout,
            CommandName::LogoutOk => SyncMessage::LogoutOk,
            CommandName::DeleteCaramer => SyncMessage::DeleteCaramer {
                camera_id: self.text(),
            },
            CommandName::DeleteSucess => SyncMessage::DeleteSucess {
                camera_id: self.text(),
            },
            CommandName::DeleteFail => SyncMessage::DeleteFail {
                camera_id: self.text(),
                reason: self.text(),
            },
            CommandName::ChangeCaramerPassword => SyncMessage::ChangeCaramerPassword {
                camera_id: self.text(),
                camera_password: self.text(),
            },
            CommandName::ChangeSucess => SyncMessage::ChangeSucess {
                camera_id: self.text(),
            },
            CommandName::ChangeFail => SyncMessage::ChangeFail {
                camera_id: self.text(),
                reason: self.text(),
            },
            CommandName::BindDataSocket => SyncMessage::BindDataSocket { token: self.text() },
        }
    }

    fn any_message(&mut self) -> SyncMessage {
        let command = CommandName::ALL[self.below(CommandName::ALL.len())];
        self.message(command)
    }
}

#[test]
fn generated_messages_survive_encode_then_parse() {
    let mut rng = Rng(0x5eed_0003_f18f_8db9);
    for _ in 0..20_000 {
        let message = rng.any_message();
        let line = message.encode();
        assert!(
            !line.contains('\n') && !line.contains('\r'),
            "raw line break in {line:?}"
        );
        let parsed = SyncMessage::parse(&line)
            .unwrap_or_else(|error| panic!("{line:?} does not parse: {error}"));
        assert_eq!(parsed, message, "{line:?}");
        assert_eq!(parsed.encode(), line);
    }
}

#[test]
fn generated_fields_survive_escape_then_unescape_for_any_separators() {
    let mut rng = Rng(0x00e5_ca9e);
    let sets: [&[Separator]; 4] = [
        &[],
        &[Separator::Pipe],
        &[Separator::Pipe, Separator::Semicolon],
        &[Separator::Colon],
    ];
    for _ in 0..20_000 {
        let separators = sets[rng.below(sets.len())];
        let fields: Vec<String> = (0..1 + rng.below(5)).map(|_| rng.text()).collect();
        for field in &fields {
            assert_eq!(
                unescape(&escape(field, separators)).as_deref(),
                Ok(field.as_str())
            );
        }
        for &separator in separators {
            let joined = fields
                .iter()
                .map(|f| escape(f, separators))
                .collect::<Vec<_>>()
                .join(&separator.as_char().to_string());
            let back: Vec<String> = split_unescaped(&joined, separator)
                .map(|piece| unescape(piece).expect("escaped by us").into_owned())
                .collect();
            assert_eq!(back, fields, "{joined:?}");
        }
    }
}

#[test]
fn any_line_that_parses_reads_the_same_after_re_encoding() {
    let mut rng = Rng(0x0bad_11e5);
    let mut parsed_count = 0;
    for _ in 0..50_000 {
        let command = CommandName::ALL[rng.below(CommandName::ALL.len())];
        let name = if rng.chance(4) {
            format!("{}.{command}", command.group())
        } else {
            command.as_str().to_owned()
        };
        let mut param = String::new();
        for _ in 0..rng.below(6) {
            param.push_str(&rng.text().replace(['\n'], ""));
            param.push_str(["|", ";", ":", "", "1", "true"][rng.below(6)]);
        }
        let line = format!("{name} {param}");
        if let Ok(message) = SyncMessage::parse(&line) {
            parsed_count += 1;
            assert_eq!(
                SyncMessage::parse(&message.encode()).as_ref(),
                Ok(&message),
                "{line:?}"
            );
        }
    }
    assert!(parsed_count > 1000, "generator too hostile: {parsed_count}");
}

#[test]
fn generated_streams_decode_the_same_whatever_the_chunking() {
    let mut rng = Rng(0xc0de_c0de);
    for _ in 0..200 {
        let messages: Vec<SyncMessage> =
            (0..1 + rng.below(20)).map(|_| rng.any_message()).collect();
        let mut wire = BytesMut::new();
        let mut codec = SyncLineCodec::new();
        for message in &messages {
            codec.encode(message, &mut wire).expect("fits");
        }
        let mut decoder = SyncLineCodec::new();
        let mut buf = BytesMut::new();
        let mut received = Vec::new();
        let mut rest = &wire[..];
        while !rest.is_empty() {
            let take = (1 + rng.below(40)).min(rest.len());
            buf.extend_from_slice(&rest[..take]);
            rest = &rest[take..];
            while let Some(item) = decoder.decode(&mut buf).expect("framed") {
                received.push(item.expect("parses"));
            }
        }
        assert!(decoder.decode_eof(&mut buf).expect("clean end").is_none());
        assert_eq!(received, messages);
    }
}
