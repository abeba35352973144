//! A bounded tokio-util codec for camera-sync: `\n`-terminated UTF-8 lines in and out.
//!
//! Framing (ours; the seed gives none): a line ends at `\n`, and one `\r` just before it is
//! dropped, so CRLF peers work. The maximum line length counts every byte before the `\n`,
//! **including** the `\r` of a CRLF ending: with the default 65 536, a 65 536-byte line plus
//! `\n` is accepted and one byte more is refused. The refusal comes as soon as max + 1 bytes
//! without a `\n` are buffered, never by waiting for the end of the line.
//!
//! Two kinds of failure, kept apart on purpose:
//! - A [`SyncCodecError`] (I/O, line too long, invalid UTF-8, connection closed mid-line) means
//!   the byte stream itself is broken; a `FramedRead` ends after it, and the server closes the
//!   connection (the reference: answer nothing, log, close).
//! - A line that is framed correctly but is not a valid message is delivered as an item,
//!   `Err(ParseError)`, so the session decides what to do and the stream goes on.

use std::io;
use std::str::Utf8Error;

use bytes::{BufMut, BytesMut};
use tokio_util::codec::{Decoder, Encoder};

use super::command::CommandName;
use super::error::ParseError;
use super::message::SyncMessage;

/// Default longest line, in bytes before the `\n` (the reference's 64 KiB).
pub const DEFAULT_MAX_LINE_LENGTH: usize = 64 * 1024;

/// Why a camera-sync byte stream cannot be read or written. Any of these ends the connection.
#[derive(Debug, thiserror::Error)]
pub enum SyncCodecError {
    /// The socket failed.
    #[error("I/O error: {0}")]
    Io(#[from] io::Error),
    /// More than the maximum number of bytes arrived without a `\n`.
    #[error("camera-sync line longer than {max_length} bytes")]
    LineTooLong {
        /// The configured maximum.
        max_length: usize,
    },
    /// A line is not valid UTF-8.
    #[error("camera-sync line is not UTF-8: {0}")]
    InvalidUtf8(#[source] Utf8Error),
    /// The peer closed the connection in the middle of a line.
    #[error("connection closed inside a camera-sync line ({length} bytes without a line feed)")]
    UnterminatedLine {
        /// How many bytes of the unfinished line were received.
        length: usize,
    },
    /// A message to send encodes to a line longer than the maximum (the peer would refuse it).
    #[error("{command} line of {length} bytes exceeds the maximum of {max_length}")]
    MessageTooLong {
        /// The message's command.
        command: CommandName,
        /// The encoded line's length, without the `\n`.
        length: usize,
        /// The configured maximum.
        max_length: usize,
    },
}

/// Reads and writes camera-sync lines as [`SyncMessage`]s, refusing lines longer than a maximum.
///
/// Decoding yields `Result<SyncMessage, ParseError>`: an `Err` item is a line that was framed
/// correctly but does not parse, and the stream continues after it. Encoding appends the `\n`
/// to [`SyncMessage::encode`].
#[derive(Debug, Clone)]
pub struct SyncLineCodec {
    max_length: usize,
    /// How far the buffer is known to hold no `\n`, so a line arriving in pieces is scanned once.
    next_index: usize,
}

impl Default for SyncLineCodec {
    fn default() -> Self {
        Self::new()
    }
}

impl SyncLineCodec {
    /// A codec refusing lines longer than [`DEFAULT_MAX_LINE_LENGTH`] bytes.
    pub fn new() -> Self {
        Self::with_max_length(DEFAULT_MAX_LINE_LENGTH)
    }

    /// A codec refusing lines longer than `max_length` bytes (counted before the `\n`).
    pub fn with_max_length(max_length: usize) -> Self {
        Self {
            max_length,
            next_index: 0,
        }
    }

    /// The longest line accepted or written, in bytes before the `\n`.
    pub fn max_length(&self) -> usize {
        self.max_length
    }
}

impl Decoder for SyncLineCodec {
    type Item = Result<SyncMessage, ParseError>;
    type Error = SyncCodecError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Self::Item>, SyncCodecError> {
        // A longest line is max_length bytes plus its `\n`: never look further than that.
        let window = self.max_length.saturating_add(1).min(src.len());
        let start = self.next_index.min(window);
        let Some(offset) = src[start..window].iter().position(|&b| b == b'\n') else {
            if src.len() > self.max_length {
                return Err(SyncCodecError::LineTooLong {
                    max_length: self.max_length,
                });
            }
            self.next_index = window;
            return Ok(None);
        };
        self.next_index = 0;
        let newline = start + offset;
        let frame = src.split_to(newline + 1);
        let line = &frame[..newline];
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let line = std::str::from_utf8(line).map_err(SyncCodecError::InvalidUtf8)?;
        Ok(Some(SyncMessage::parse(line)))
    }

    fn decode_eof(&mut self, src: &mut BytesMut) -> Result<Option<Self::Item>, SyncCodecError> {
        match self.decode(src)? {
            Some(item) => Ok(Some(item)),
            None if src.is_empty() => Ok(None),
            None => Err(SyncCodecError::UnterminatedLine { length: src.len() }),
        }
    }
}

impl Encoder<&SyncMessage> for SyncLineCodec {
    type Error = SyncCodecError;

    fn encode(&mut self, message: &SyncMessage, dst: &mut BytesMut) -> Result<(), SyncCodecError> {
        let line = message.encode();
        if line.len() > self.max_length {
            return Err(SyncCodecError::MessageTooLong {
                command: message.command(),
                length: line.len(),
                max_length: self.max_length,
            });
        }
        dst.reserve(line.len() + 1);
        dst.put_slice(line.as_bytes());
        dst.put_u8(b'\n');
        Ok(())
    }
}

impl Encoder<SyncMessage> for SyncLineCodec {
    type Error = SyncCodecError;

    fn encode(&mut self, message: SyncMessage, dst: &mut BytesMut) -> Result<(), SyncCodecError> {
        self.encode(&message, dst)
    }
}

#[cfg(test)]
mod tests {
    use futures::{SinkExt, StreamExt};
    use tokio::io::AsyncWriteExt;
    use tokio_util::codec::{FramedRead, FramedWrite};

    use super::*;

    /// Decodes everything complete in `bytes`, panicking on a framing error.
    fn decode_all(codec: &mut SyncLineCodec, bytes: &[u8]) -> Vec<Result<SyncMessage, ParseError>> {
        let mut buf = BytesMut::from(bytes);
        let mut items = Vec::new();
        while let Some(item) = codec.decode(&mut buf).expect("well framed") {
            items.push(item);
        }
        items
    }

    /// A message whose encoded line is exactly `length` bytes long.
    fn message_of_length(length: usize) -> SyncMessage {
        let prefix = "LoginError ".len();
        SyncMessage::LoginError {
            reason: "x".repeat(length - prefix),
        }
    }

    #[test]
    fn a_line_is_decoded_once_its_line_feed_arrives() {
        let mut codec = SyncLineCodec::new();
        let mut buf = BytesMut::from(&b"Heartbeat"[..]);
        assert!(matches!(codec.decode(&mut buf), Ok(None)));
        buf.extend_from_slice(b"\nLogin a|b\nDownLoad");
        assert_eq!(
            codec.decode(&mut buf).expect("framed"),
            Some(Ok(SyncMessage::Heartbeat))
        );
        assert_eq!(
            codec.decode(&mut buf).expect("framed"),
            Some(Ok(SyncMessage::Login {
                user: "a".into(),
                password: "b".into()
            }))
        );
        assert!(matches!(codec.decode(&mut buf), Ok(None)));
        assert_eq!(&buf[..], b"DownLoad");
    }

    #[test]
    fn a_line_split_byte_by_byte_across_decode_calls_comes_out_whole() {
        let line = "LoginOk 3|2024-05-01 10:00:00|1.2.3.4\r\n".as_bytes();
        let mut codec = SyncLineCodec::new();
        let mut buf = BytesMut::new();
        let mut items = Vec::new();
        for &byte in line {
            buf.put_u8(byte);
            if let Some(item) = codec.decode(&mut buf).expect("framed") {
                items.push(item);
            }
        }
        assert_eq!(
            items,
            [SyncMessage::parse("LoginOk 3|2024-05-01 10:00:00|1.2.3.4")]
        );
        assert!(buf.is_empty());
    }

    #[test]
    fn a_multibyte_character_split_across_reads_is_not_an_error() {
        let line = "LoginError 用户名或者密码错误!\n".as_bytes();
        let mut codec = SyncLineCodec::new();
        let mut buf = BytesMut::from(&line[..13]); // inside the first Chinese character
        assert!(matches!(codec.decode(&mut buf), Ok(None)));
        buf.extend_from_slice(&line[13..]);
        assert_eq!(
            codec.decode(&mut buf).expect("framed"),
            Some(Ok(SyncMessage::LoginError {
                reason: "用户名或者密码错误!".into()
            }))
        );
    }

    #[test]
    fn crlf_and_lf_endings_read_the_same() {
        let mut codec = SyncLineCodec::new();
        let items = decode_all(&mut codec, b"Login a|b\r\nLogin a|b\n");
        assert_eq!(items.len(), 2);
        assert_eq!(items[0], items[1]);
        // Only the `\r` right before the `\n` is framing; an earlier one belongs to the field.
        let items = decode_all(&mut codec, b"LoginError a\r\r\n");
        assert_eq!(
            items,
            [Ok(SyncMessage::LoginError {
                reason: "a\r".into()
            })]
        );
    }

    #[test]
    fn a_line_of_exactly_the_maximum_is_accepted() {
        let mut codec = SyncLineCodec::new();
        let message = message_of_length(65_536);
        let mut buf = BytesMut::new();
        codec.encode(&message, &mut buf).expect("fits");
        assert_eq!(buf.len(), 65_537);
        assert_eq!(codec.decode(&mut buf).expect("framed"), Some(Ok(message)));
    }

    #[test]
    fn a_line_one_byte_over_the_maximum_is_refused() {
        let mut codec = SyncLineCodec::new();
        let mut buf =
            BytesMut::from(format!("{}\n", message_of_length(65_537).encode()).as_bytes());
        assert!(matches!(
            codec.decode(&mut buf),
            Err(SyncCodecError::LineTooLong { max_length: 65_536 })
        ));
    }

    #[test]
    fn a_crlf_counts_its_carriage_return_against_the_maximum() {
        let mut codec = SyncLineCodec::with_max_length(10);
        let items = decode_all(&mut codec, b"Heartbeat\r\n"); // 10 bytes before `\n`
        assert_eq!(items, [Ok(SyncMessage::Heartbeat)]);
        let mut buf = BytesMut::from(&b"LoginError\r\n"[..]); // 11 bytes before `\n`
        assert!(matches!(
            codec.decode(&mut buf),
            Err(SyncCodecError::LineTooLong { max_length: 10 })
        ));
    }

    #[test]
    fn an_overlong_line_is_refused_before_its_line_feed_arrives() {
        let mut codec = SyncLineCodec::new();
        let mut buf = BytesMut::new();
        // Arrives in 1000-byte pieces: need more bytes until max + 1 are buffered, then refuse.
        let mut fed = 0;
        let result = loop {
            let piece = 1000.min(65_537 - fed);
            buf.extend_from_slice(&vec![b'a'; piece]);
            fed += piece;
            match codec.decode(&mut buf) {
                Ok(None) => assert!(fed < 65_537, "still waiting after {fed} bytes"),
                other => break other,
            }
        };
        assert_eq!(fed, 65_537);
        assert!(matches!(result, Err(SyncCodecError::LineTooLong { .. })));
    }

    #[test]
    fn a_small_maximum_is_configurable() {
        let mut codec = SyncLineCodec::with_max_length(9);
        assert_eq!(codec.max_length(), 9);
        assert_eq!(
            decode_all(&mut codec, b"Heartbeat\n"),
            [Ok(SyncMessage::Heartbeat)]
        );
        let mut buf = BytesMut::from(&b"Heartbeat!"[..]);
        assert!(matches!(
            codec.decode(&mut buf),
            Err(SyncCodecError::LineTooLong { max_length: 9 })
        ));
        assert_eq!(
            SyncLineCodec::default().max_length(),
            DEFAULT_MAX_LINE_LENGTH
        );
    }

    #[test]
    fn writing_a_line_over_the_maximum_is_refused_with_its_command() {
        let mut codec = SyncLineCodec::with_max_length(20);
        let mut buf = BytesMut::new();
        let error = codec
            .encode(message_of_length(21), &mut buf)
            .expect_err("too long");
        assert!(matches!(
            error,
            SyncCodecError::MessageTooLong {
                command: CommandName::LoginError,
                length: 21,
                max_length: 20,
            }
        ));
        assert!(buf.is_empty());
    }

    #[test]
    fn invalid_utf8_is_a_framing_error() {
        let mut codec = SyncLineCodec::new();
        let mut buf = BytesMut::from(&b"LoginError \xff\xfe\n"[..]);
        let error = codec.decode(&mut buf).expect_err("not UTF-8");
        assert!(matches!(error, SyncCodecError::InvalidUtf8(_)));
        assert!(
            error
                .to_string()
                .starts_with("camera-sync line is not UTF-8")
        );
    }

    #[test]
    fn a_line_that_does_not_parse_is_an_item_and_the_stream_goes_on() {
        let mut codec = SyncLineCodec::new();
        let items = decode_all(&mut codec, b"Teleport now\n\nHeartbeat\n");
        assert_eq!(items.len(), 3);
        assert!(matches!(items[0], Err(ParseError::Command(_))));
        assert_eq!(items[1], Err(ParseError::EmptyLine));
        assert_eq!(items[2], Ok(SyncMessage::Heartbeat));
    }

    #[test]
    fn the_connection_closing_mid_line_is_an_error_and_at_a_boundary_is_not() {
        let mut codec = SyncLineCodec::new();
        let mut buf = BytesMut::from(&b"Heartbeat\nHeart"[..]);
        assert_eq!(
            codec.decode_eof(&mut buf).expect("framed"),
            Some(Ok(SyncMessage::Heartbeat))
        );
        assert!(matches!(
            codec.decode_eof(&mut buf),
            Err(SyncCodecError::UnterminatedLine { length: 5 })
        ));
        let mut empty = BytesMut::new();
        assert!(matches!(codec.decode_eof(&mut empty), Ok(None)));
    }

    #[tokio::test]
    async fn messages_cross_a_duplex_pipe_in_pieces() {
        let (client, server) = tokio::io::duplex(7);
        let mut writer = FramedWrite::new(client, SyncLineCodec::new());
        let mut reader = FramedRead::new(server, SyncLineCodec::new());
        let sent = vec![
            SyncMessage::Login {
                user: "用户|1".into(),
                password: "p\\w\n".into(),
            },
            SyncMessage::ReturnDataSocketPort(None),
            SyncMessage::CheckCaramerOnlineStatus(vec!["a;b".into(), "c".into()]),
            SyncMessage::Heartbeat,
        ];
        let to_send = sent.clone();
        let writing = tokio::spawn(async move {
            for message in to_send {
                writer.send(message).await.expect("sent");
            }
            writer.get_mut().shutdown().await.expect("closed");
        });
        let mut received = Vec::new();
        while let Some(item) = reader.next().await {
            received.push(item.expect("framed").expect("parses"));
        }
        writing.await.expect("writer task");
        assert_eq!(received, sent);
    }
}
