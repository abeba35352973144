//! A bounded tokio-util codec for DHIP: packets in, whole messages out, and back.
//!
//! A large message travels as several packets, each with its own header carrying that
//! packet's length at offset 16 and the whole message's length at offset 24; the reader
//! appends packets until the total is reached. Every length is checked against the maximum
//! message size *before* anything is reserved for it, so a hostile length costs nothing.

use bytes::{Buf, BufMut, BytesMut};
use tokio_util::codec::{Decoder, Encoder};

use super::header::{DHIP_MAGIC, DhipHeader, HEADER_LEN};
use super::message::DhipMessage;

/// Default largest message accepted: 16 MiB (room for a high-resolution snapshot).
pub const DEFAULT_MAX_MESSAGE: usize = 16 * 1024 * 1024;

/// Default largest packet body written: larger messages are split.
pub const DEFAULT_FRAGMENT_SIZE: usize = 64 * 1024;

/// Why a DHIP stream could not be decoded or encoded. Any of these ends the connection.
#[derive(Debug, thiserror::Error)]
pub enum DhipError {
    /// The socket failed.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// The bytes where a header should start are not `20 00 00 00 DHIP`.
    #[error("not a DHIP header: first bytes {0:02x?}")]
    BadMagic(Vec<u8>),
    /// A length field exceeds the configured maximum.
    #[error("DHIP message of {len} bytes exceeds the maximum of {max}")]
    TooLarge {
        /// The length the peer announced.
        len: u64,
        /// The configured maximum.
        max: usize,
    },
    /// The packets of one message disagree on their lengths.
    #[error("inconsistent DHIP fragment: {0}")]
    Inconsistent(&'static str),
}

/// A message being reassembled from its packets.
#[derive(Debug)]
struct Assembly {
    first: DhipHeader,
    body: BytesMut,
}

/// Reads and writes DHIP messages, reassembling and splitting packets.
#[derive(Debug)]
pub struct DhipCodec {
    max_message: usize,
    fragment_size: usize,
    assembling: Option<Assembly>,
}

impl Default for DhipCodec {
    fn default() -> Self {
        Self::new(DEFAULT_MAX_MESSAGE)
    }
}

impl DhipCodec {
    /// A codec refusing messages longer than `max_message` bytes.
    pub fn new(max_message: usize) -> Self {
        Self {
            max_message,
            fragment_size: DEFAULT_FRAGMENT_SIZE,
            assembling: None,
        }
    }

    /// Splits written messages into packets of at most `size` body bytes (at least 1).
    pub fn with_fragment_size(mut self, size: usize) -> Self {
        self.fragment_size = size.max(1);
        self
    }

    /// The largest message this codec accepts.
    pub fn max_message(&self) -> usize {
        self.max_message
    }

    /// Changes the largest message accepted from now on (a peer that proved who it is may
    /// send more than a stranger).
    pub fn set_max_message(&mut self, max_message: usize) {
        self.max_message = max_message;
    }

    /// Whether a message is partly read (its remaining packets are still due).
    pub fn is_assembling(&self) -> bool {
        self.assembling.is_some()
    }

    /// Reads the next packet header out of `src` if it is complete, checking its bounds.
    fn peek_header(&self, src: &[u8]) -> Result<Option<DhipHeader>, DhipError> {
        // Refuse garbage as soon as the bytes we have stop matching the magic.
        let seen = src.len().min(DHIP_MAGIC.len());
        if src[..seen] != DHIP_MAGIC[..seen] {
            return Err(DhipError::BadMagic(src[..seen].to_vec()));
        }
        let Some(bytes) = src.first_chunk::<HEADER_LEN>() else {
            return Ok(None);
        };
        let header =
            DhipHeader::parse(bytes).ok_or_else(|| DhipError::BadMagic(bytes[..8].to_vec()))?;
        let too_large = |len: u32| DhipError::TooLarge {
            len: u64::from(len),
            max: self.max_message,
        };
        if header.total_len as usize > self.max_message {
            return Err(too_large(header.total_len));
        }
        if header.packet_len as usize > self.max_message {
            return Err(too_large(header.packet_len));
        }
        Ok(Some(header))
    }
}

impl Decoder for DhipCodec {
    type Item = DhipMessage;
    type Error = DhipError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<DhipMessage>, DhipError> {
        loop {
            let Some(header) = self.peek_header(src)? else {
                return Ok(None);
            };
            let packet_len = header.packet_len as usize;
            let total_len = header.total_len as usize;
            let received = self.assembling.as_ref().map_or(0, |a| a.body.len());
            if let Some(assembly) = &self.assembling
                && header.total_len != assembly.first.total_len
            {
                return Err(DhipError::Inconsistent(
                    "total length changed between packets",
                ));
            }
            if received + packet_len > total_len {
                return Err(DhipError::Inconsistent("packets exceed the total length"));
            }
            if src.len() < HEADER_LEN + packet_len {
                // Bounded above: packet_len <= max_message.
                src.reserve(HEADER_LEN + packet_len - src.len());
                return Ok(None);
            }
            src.advance(HEADER_LEN);
            let chunk = src.split_to(packet_len);

            if self.assembling.is_none() && packet_len == total_len {
                return Ok(Some(DhipMessage::new(
                    header.session,
                    header.request_id,
                    chunk.freeze(),
                )));
            }
            let assembly = self.assembling.get_or_insert_with(|| Assembly {
                first: header,
                body: BytesMut::new(),
            });
            assembly.body.unsplit(chunk);
            if assembly.body.len() == total_len {
                let done = self.assembling.take().expect("assembly present");
                return Ok(Some(DhipMessage::new(
                    done.first.session,
                    done.first.request_id,
                    done.body.freeze(),
                )));
            }
        }
    }

    fn decode_eof(&mut self, buf: &mut BytesMut) -> Result<Option<DhipMessage>, DhipError> {
        match self.decode(buf)? {
            Some(message) => Ok(Some(message)),
            None if buf.is_empty() && self.assembling.is_none() => Ok(None),
            None => Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "connection closed inside a DHIP message",
            )
            .into()),
        }
    }
}

impl Encoder<&DhipMessage> for DhipCodec {
    type Error = DhipError;

    fn encode(&mut self, message: &DhipMessage, dst: &mut BytesMut) -> Result<(), DhipError> {
        let total = message.body.len();
        if total > self.max_message || u32::try_from(total).is_err() {
            return Err(DhipError::TooLarge {
                len: total as u64,
                max: self.max_message,
            });
        }
        let packets = total.div_ceil(self.fragment_size).max(1);
        dst.reserve(total + packets * HEADER_LEN);
        let mut header = DhipHeader {
            session: message.session,
            request_id: message.request_id,
            total_len: total as u32,
            ..DhipHeader::default()
        };
        if total == 0 {
            dst.put_slice(&header.to_bytes());
            return Ok(());
        }
        for chunk in message.body.chunks(self.fragment_size) {
            header.packet_len = chunk.len() as u32;
            dst.put_slice(&header.to_bytes());
            dst.put_slice(chunk);
        }
        Ok(())
    }
}

impl Encoder<DhipMessage> for DhipCodec {
    type Error = DhipError;

    fn encode(&mut self, message: DhipMessage, dst: &mut BytesMut) -> Result<(), DhipError> {
        self.encode(&message, dst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode(codec: &mut DhipCodec, message: &DhipMessage) -> BytesMut {
        let mut out = BytesMut::new();
        codec.encode(message, &mut out).expect("encodes");
        out
    }

    #[test]
    fn message_round_trips_in_one_packet() {
        let mut codec = DhipCodec::default();
        let message = DhipMessage::new(5, 9, &b"{\"id\":9}"[..]);
        let mut wire = encode(&mut codec, &message);
        assert_eq!(wire.len(), HEADER_LEN + 8);
        assert_eq!(codec.decode(&mut wire).expect("decodes"), Some(message));
        assert!(wire.is_empty());
    }

    #[test]
    fn large_message_is_split_and_reassembled() {
        let body: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
        let message = DhipMessage::new(1, 2, body);
        let mut codec = DhipCodec::default().with_fragment_size(3000);
        let mut wire = encode(&mut codec, &message);
        assert_eq!(wire.len(), 10_000 + 4 * HEADER_LEN);
        // Every packet carries its own length at +16 and the total at +24.
        assert_eq!(&wire[16..20], &3000u32.to_le_bytes());
        assert_eq!(&wire[24..28], &10_000u32.to_le_bytes());
        assert_eq!(codec.decode(&mut wire).expect("decodes"), Some(message));
    }

    #[test]
    fn fragments_arriving_byte_by_byte_reassemble() {
        let message = DhipMessage::new(3, 4, vec![b'x'; 700]);
        let wire = encode(&mut DhipCodec::default().with_fragment_size(256), &message);
        let mut codec = DhipCodec::default();
        let mut buf = BytesMut::new();
        let mut out = Vec::new();
        for byte in wire.iter() {
            buf.put_u8(*byte);
            if let Some(decoded) = codec.decode(&mut buf).expect("decodes") {
                out.push(decoded);
            }
        }
        assert_eq!(out, vec![message]);
    }

    #[test]
    fn oversize_length_is_refused_before_allocating() {
        let mut codec = DhipCodec::new(1024);
        let header = DhipHeader {
            packet_len: u32::MAX,
            total_len: u32::MAX,
            ..Default::default()
        };
        let mut wire = BytesMut::from(&header.to_bytes()[..]);
        let err = codec.decode(&mut wire).expect_err("refused");
        assert!(
            matches!(err, DhipError::TooLarge { len, max: 1024 } if len == u64::from(u32::MAX))
        );
        assert!(
            wire.capacity() < 4096,
            "no room was reserved for the announced length"
        );
    }

    #[test]
    fn garbage_is_refused_on_its_first_byte() {
        let mut codec = DhipCodec::default();
        let mut wire = BytesMut::from(&b"GET"[..]);
        assert!(matches!(
            codec.decode(&mut wire),
            Err(DhipError::BadMagic(_))
        ));
        let mut partial = BytesMut::from(&DHIP_MAGIC[..5]);
        assert_eq!(codec.decode(&mut partial).expect("need more"), None);
    }

    #[test]
    fn packet_longer_than_its_total_is_inconsistent() {
        let header = DhipHeader {
            packet_len: 10,
            total_len: 5,
            ..Default::default()
        };
        let mut wire = BytesMut::from(&header.to_bytes()[..]);
        wire.put_slice(&[0; 10]);
        assert!(matches!(
            DhipCodec::default().decode(&mut wire),
            Err(DhipError::Inconsistent(_))
        ));
    }

    #[test]
    fn eof_inside_a_message_is_an_error() {
        let mut wire = encode(
            &mut DhipCodec::default(),
            &DhipMessage::new(0, 0, &b"{}"[..]),
        );
        wire.truncate(HEADER_LEN + 1);
        assert!(DhipCodec::default().decode_eof(&mut wire).is_err());
    }
}
