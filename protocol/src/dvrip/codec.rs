//! A bounded tokio-util codec for DVRIP frames.
//!
//! Frames are a 32-byte header plus the body length at offset 4. JSON carried in `f6`
//! packets may be split like DHIP: the u32 at offset 16 holds the whole message's length,
//! and the reader appends `f6` packets until it is reached. Lengths are checked against the
//! maximum before anything is reserved.

use bytes::{Buf, BufMut, BytesMut};
use tokio_util::codec::{Decoder, Encoder};

use super::frame::{DvripFrame, HEADER_LEN, command, read_dword};

/// Default largest frame (or reassembled `f6` message) accepted: 16 MiB.
pub const DEFAULT_MAX_FRAME: usize = 16 * 1024 * 1024;

/// Default largest `f6` packet body written; larger JSON messages are split.
pub const DEFAULT_FRAGMENT_SIZE: usize = 64 * 1024;

/// Offset of the whole-message length in an `f6` header.
const F6_TOTAL_AT: usize = 16;

/// Why a DVRIP stream could not be decoded or encoded. Any of these ends the connection.
#[derive(Debug, thiserror::Error)]
pub enum DvripError {
    /// The socket failed.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// Byte 0 is not a DVRIP command we know.
    #[error("not a DVRIP header: command byte {0:#04x}")]
    UnknownCommand(u8),
    /// A length field exceeds the configured maximum.
    #[error("DVRIP frame of {len} bytes exceeds the maximum of {max}")]
    TooLarge {
        /// The length the peer announced.
        len: u64,
        /// The configured maximum.
        max: usize,
    },
    /// The packets of one `f6` message disagree.
    #[error("inconsistent DVRIP fragment: {0}")]
    Inconsistent(&'static str),
}

/// Reads and writes DVRIP frames.
#[derive(Debug)]
pub struct DvripCodec {
    max_frame: usize,
    fragment_size: usize,
    lenient: bool,
    assembling: Option<(DvripFrame, BytesMut, usize)>,
}

impl Default for DvripCodec {
    fn default() -> Self {
        Self::new(DEFAULT_MAX_FRAME)
    }
}

impl DvripCodec {
    /// A codec refusing frames longer than `max_frame` bytes.
    pub fn new(max_frame: usize) -> Self {
        Self {
            max_frame,
            fragment_size: DEFAULT_FRAGMENT_SIZE,
            lenient: false,
            assembling: None,
        }
    }

    /// Splits written `f6` messages into packets of at most `size` body bytes (at least 1).
    pub fn with_fragment_size(mut self, size: usize) -> Self {
        self.fragment_size = size.max(1);
        self
    }

    /// Reads frames of command bytes it does not know instead of refusing them: for a peer
    /// that proved who it is, whose firmware may send commands nobody has documented. A
    /// stranger's first byte is still checked, as DVRIP has no magic to resynchronise on.
    pub fn set_lenient(&mut self, lenient: bool) {
        self.lenient = lenient;
    }

    /// Changes the largest frame accepted from now on.
    pub fn set_max_frame(&mut self, max_frame: usize) {
        self.max_frame = max_frame;
    }

    /// Whether an `f6` message is partly read.
    pub fn is_assembling(&self) -> bool {
        self.assembling.is_some()
    }

    fn too_large(&self, len: u32) -> DvripError {
        DvripError::TooLarge {
            len: u64::from(len),
            max: self.max_frame,
        }
    }
}

impl Decoder for DvripCodec {
    type Item = DvripFrame;
    type Error = DvripError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<DvripFrame>, DvripError> {
        loop {
            if let Some(&first) = src.first()
                && !self.lenient
                && !command::is_known(first)
            {
                return Err(DvripError::UnknownCommand(first));
            }
            let Some(header) = src.first_chunk::<HEADER_LEN>().copied() else {
                return Ok(None);
            };
            let body_len = read_dword(&header, 4);
            if body_len as usize > self.max_frame {
                return Err(self.too_large(body_len));
            }
            let is_json = header[0] == command::JSON;
            let total = if is_json {
                read_dword(&header, F6_TOTAL_AT)
            } else {
                0
            };
            if total as usize > self.max_frame {
                return Err(self.too_large(total));
            }
            if let Some((_, body, expected)) = &self.assembling {
                if !is_json || total as usize != *expected {
                    return Err(DvripError::Inconsistent(
                        "f6 message interrupted or its total changed",
                    ));
                }
                if body.len() + body_len as usize > *expected {
                    return Err(DvripError::Inconsistent(
                        "f6 packets exceed the total length",
                    ));
                }
            }
            let frame_len = HEADER_LEN + body_len as usize;
            if src.len() < frame_len {
                src.reserve(frame_len - src.len());
                return Ok(None);
            }
            src.advance(HEADER_LEN);
            let body = src.split_to(body_len as usize);

            let starts_fragmented = is_json && self.assembling.is_none() && total > body_len;
            if !starts_fragmented && self.assembling.is_none() {
                return Ok(Some(DvripFrame {
                    header,
                    body: body.freeze(),
                }));
            }
            let (_, assembled, expected) = self.assembling.get_or_insert_with(|| {
                (
                    DvripFrame {
                        header,
                        body: Default::default(),
                    },
                    BytesMut::new(),
                    total as usize,
                )
            });
            assembled.unsplit(body);
            if assembled.len() == *expected {
                let (first, assembled, _) = self.assembling.take().expect("assembly present");
                return Ok(Some(DvripFrame::new(first.header, assembled.freeze())));
            }
        }
    }

    fn decode_eof(&mut self, buf: &mut BytesMut) -> Result<Option<DvripFrame>, DvripError> {
        match self.decode(buf)? {
            Some(frame) => Ok(Some(frame)),
            None if buf.is_empty() && self.assembling.is_none() => Ok(None),
            None => Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "connection closed inside a DVRIP frame",
            )
            .into()),
        }
    }
}

impl Encoder<&DvripFrame> for DvripCodec {
    type Error = DvripError;

    fn encode(&mut self, frame: &DvripFrame, dst: &mut BytesMut) -> Result<(), DvripError> {
        let total = frame.body.len();
        if total > self.max_frame || u32::try_from(total).is_err() {
            return Err(DvripError::TooLarge {
                len: total as u64,
                max: self.max_frame,
            });
        }
        let mut header = frame.header;
        let split = frame.command() == command::JSON && total > self.fragment_size;
        if !split {
            header[4..8].copy_from_slice(&(total as u32).to_le_bytes());
            dst.reserve(HEADER_LEN + total);
            dst.put_slice(&header);
            dst.put_slice(&frame.body);
            return Ok(());
        }
        header[F6_TOTAL_AT..F6_TOTAL_AT + 4].copy_from_slice(&(total as u32).to_le_bytes());
        dst.reserve(total + total.div_ceil(self.fragment_size) * HEADER_LEN);
        for chunk in frame.body.chunks(self.fragment_size) {
            header[4..8].copy_from_slice(&(chunk.len() as u32).to_le_bytes());
            dst.put_slice(&header);
            dst.put_slice(chunk);
        }
        Ok(())
    }
}

impl Encoder<DvripFrame> for DvripCodec {
    type Error = DvripError;

    fn encode(&mut self, frame: DvripFrame, dst: &mut BytesMut) -> Result<(), DvripError> {
        self.encode(&frame, dst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json_frame(body: &[u8]) -> DvripFrame {
        let mut header = [0u8; HEADER_LEN];
        header[0] = command::JSON;
        header[16..20].copy_from_slice(&(body.len() as u32).to_le_bytes());
        DvripFrame::new(header, body.to_vec())
    }

    #[test]
    fn frame_round_trips() {
        let frame = json_frame(b"{\"method\":\"global.keepAlive\"}");
        let mut codec = DvripCodec::default();
        let mut wire = BytesMut::new();
        codec.encode(&frame, &mut wire).expect("encodes");
        assert_eq!(&wire[..], &frame.to_vec()[..]);
        assert_eq!(codec.decode(&mut wire).expect("decodes"), Some(frame));
    }

    #[test]
    fn split_json_is_reassembled() {
        let body: Vec<u8> = (0..5000u32).map(|i| b'a' + (i % 26) as u8).collect();
        let frame = json_frame(&body);
        let mut writer = DvripCodec::default().with_fragment_size(1024);
        let mut wire = BytesMut::new();
        writer.encode(&frame, &mut wire).expect("encodes");
        assert_eq!(wire.len(), 5000 + 5 * HEADER_LEN);
        let mut reader = DvripCodec::default();
        let mut out = Vec::new();
        let mut buf = BytesMut::new();
        for chunk in wire.chunks(7) {
            buf.extend_from_slice(chunk);
            while let Some(decoded) = reader.decode(&mut buf).expect("decodes") {
                out.push(decoded);
            }
        }
        assert_eq!(out, vec![frame]);
    }

    #[test]
    fn oversize_length_is_refused_before_allocating() {
        let mut header = [0u8; HEADER_LEN];
        header[0] = command::INFO_REPLY;
        header[4..8].copy_from_slice(&u32::MAX.to_le_bytes());
        let mut wire = BytesMut::from(&header[..]);
        let err = DvripCodec::new(4096)
            .decode(&mut wire)
            .expect_err("refused");
        assert!(matches!(err, DvripError::TooLarge { max: 4096, .. }));
        assert!(wire.capacity() < 8192);
    }

    #[test]
    fn unknown_command_byte_is_refused_at_once() {
        let mut wire = BytesMut::from(&b"\x16\x03\x01"[..]);
        assert!(matches!(
            DvripCodec::default().decode(&mut wire),
            Err(DvripError::UnknownCommand(0x16))
        ));
    }

    #[test]
    fn another_command_inside_a_split_message_is_inconsistent() {
        let mut header = [0u8; HEADER_LEN];
        header[0] = command::JSON;
        header[16..20].copy_from_slice(&100u32.to_le_bytes());
        let mut wire = BytesMut::new();
        wire.put_slice(&DvripFrame::new(header, vec![b'{'; 10]).to_vec());
        let mut logout = [0u8; HEADER_LEN];
        logout[0] = command::LOGOUT;
        wire.put_slice(&logout);
        assert!(matches!(
            DvripCodec::default().decode(&mut wire),
            Err(DvripError::Inconsistent(_))
        ));
    }
}
