//! Both framings on one socket: tell DHIP from DVRIP by a frame's first bytes.
//!
//! A Dahua service port sorts connections by their first bytes, and a registering camera
//! announces itself with a DVRIP `b4` packet before the platform speaks DHIP to it. So the
//! choice is made per frame: `20 00 00 00 DHIP` opens a DHIP packet, a known DVRIP command
//! byte opens a DVRIP frame, anything else is refused at its first byte.
//!
//! `rpc_frame.rs` puts JSON-RPC into a frame of either framing ([`Framing::request_frame`],
//! [`Framing::reply_frame`], [`Framing::notification_frame`]) and finds it again
//! ([`WireFrame::try_into_rpc_body`]).

use bytes::BytesMut;
use tokio_util::codec::{Decoder, Encoder};

use crate::dhip::{DHIP_MAGIC, DhipCodec, DhipError, DhipMessage};
use crate::dvrip::{DvripCodec, DvripError, DvripFrame, command};

mod rpc_frame;

/// Which framing a frame uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// DHIP: JSON messages behind a `DHIP` header.
    Dhip,
    /// DVRIP: binary command headers.
    Dvrip,
}

/// Tells the framing of the frame that starts `bytes`.
///
/// `Ok(None)` means no byte yet. The DHIP header's first byte (0x20) is no DVRIP command, so
/// one byte decides; the DHIP codec then checks the rest of the magic as it arrives.
pub fn detect(bytes: &[u8]) -> Result<Option<Framing>, WireError> {
    match bytes.first() {
        None => Ok(None),
        Some(&b) if b == DHIP_MAGIC[0] => Ok(Some(Framing::Dhip)),
        Some(&b) if command::is_known(b) => Ok(Some(Framing::Dvrip)),
        Some(&b) => Err(WireError::UnknownFraming(b)),
    }
}

/// A frame of either framing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WireFrame {
    /// A reassembled DHIP message.
    Dhip(DhipMessage),
    /// A DVRIP frame (`f6` messages reassembled).
    Dvrip(DvripFrame),
}

/// Why a mixed stream could not be decoded or encoded.
#[derive(Debug, thiserror::Error)]
pub enum WireError {
    /// The first byte opens neither framing.
    #[error("neither DHIP nor DVRIP: first byte {0:#04x}")]
    UnknownFraming(u8),
    /// The DHIP codec refused the stream.
    #[error(transparent)]
    Dhip(#[from] DhipError),
    /// The DVRIP codec refused the stream.
    #[error(transparent)]
    Dvrip(#[from] DvripError),
    /// The socket failed.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
}

/// Reads frames of both framings, choosing per frame; writes either.
#[derive(Debug, Default)]
pub struct WireCodec {
    dhip: DhipCodec,
    dvrip: DvripCodec,
    lenient: bool,
}

impl WireCodec {
    /// A codec refusing anything longer than `max_message` bytes in either framing.
    pub fn new(max_message: usize) -> Self {
        Self {
            dhip: DhipCodec::new(max_message),
            dvrip: DvripCodec::new(max_message),
            lenient: false,
        }
    }

    /// Splits written messages into packets of at most `size` body bytes.
    pub fn with_fragment_size(self, size: usize) -> Self {
        Self {
            dhip: self.dhip.with_fragment_size(size),
            dvrip: self.dvrip.with_fragment_size(size),
            lenient: self.lenient,
        }
    }

    /// Changes the largest message accepted in either framing from now on: small while the
    /// peer is a stranger, larger once it proved who it is.
    pub fn set_max_message(&mut self, max_message: usize) {
        self.dhip.set_max_message(max_message);
        self.dvrip.set_max_frame(max_message);
    }

    /// Once the peer proved who it is: DVRIP frames with command bytes nobody documented are
    /// read (and can be skipped) instead of ending the connection. Anything that does not open
    /// DHIP is then read as DVRIP.
    pub fn set_lenient(&mut self, lenient: bool) {
        self.lenient = lenient;
        self.dvrip.set_lenient(lenient);
    }

    fn framing(&self, src: &[u8]) -> Result<Option<Framing>, WireError> {
        // A message in the middle of reassembly keeps its framing.
        if self.dhip.is_assembling() {
            return Ok(Some(Framing::Dhip));
        }
        if self.dvrip.is_assembling() {
            return Ok(Some(Framing::Dvrip));
        }
        match detect(src) {
            Err(WireError::UnknownFraming(_)) if self.lenient => Ok(Some(Framing::Dvrip)),
            other => other,
        }
    }
}

impl Decoder for WireCodec {
    type Item = WireFrame;
    type Error = WireError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<WireFrame>, WireError> {
        match self.framing(src)? {
            None => Ok(None),
            Some(Framing::Dhip) => Ok(self.dhip.decode(src)?.map(WireFrame::Dhip)),
            Some(Framing::Dvrip) => Ok(self.dvrip.decode(src)?.map(WireFrame::Dvrip)),
        }
    }

    fn decode_eof(&mut self, buf: &mut BytesMut) -> Result<Option<WireFrame>, WireError> {
        match self.framing(buf)? {
            None => Ok(None),
            Some(Framing::Dhip) => Ok(self.dhip.decode_eof(buf)?.map(WireFrame::Dhip)),
            Some(Framing::Dvrip) => Ok(self.dvrip.decode_eof(buf)?.map(WireFrame::Dvrip)),
        }
    }
}

impl Encoder<&DhipMessage> for WireCodec {
    type Error = WireError;

    fn encode(&mut self, item: &DhipMessage, dst: &mut BytesMut) -> Result<(), WireError> {
        Ok(self.dhip.encode(item, dst)?)
    }
}

impl Encoder<&DvripFrame> for WireCodec {
    type Error = WireError;

    fn encode(&mut self, item: &DvripFrame, dst: &mut BytesMut) -> Result<(), WireError> {
        Ok(self.dvrip.encode(item, dst)?)
    }
}

impl Encoder<&WireFrame> for WireCodec {
    type Error = WireError;

    fn encode(&mut self, item: &WireFrame, dst: &mut BytesMut) -> Result<(), WireError> {
        match item {
            WireFrame::Dhip(message) => self.encode(message, dst),
            WireFrame::Dvrip(frame) => self.encode(frame, dst),
        }
    }
}

impl Encoder<WireFrame> for WireCodec {
    type Error = WireError;

    fn encode(&mut self, item: WireFrame, dst: &mut BytesMut) -> Result<(), WireError> {
        self.encode(&item, dst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dvrip::DvripPacket;

    #[test]
    fn announcement_then_dhip_decode_on_one_stream() {
        let mut codec = WireCodec::default();
        let mut wire = BytesMut::new();
        let announcement = DvripPacket::announcement("cam-1")
            .expect("valid")
            .to_frame();
        let login = DhipMessage::new(0, 0, &b"{\"id\":0}"[..]);
        codec.encode(&announcement, &mut wire).expect("encodes");
        codec.encode(&login, &mut wire).expect("encodes");
        assert_eq!(
            codec.decode(&mut wire).expect("decodes"),
            Some(WireFrame::Dvrip(announcement))
        );
        assert_eq!(
            codec.decode(&mut wire).expect("decodes"),
            Some(WireFrame::Dhip(login))
        );
        assert_eq!(codec.decode(&mut wire).expect("decodes"), None);
    }

    #[test]
    fn a_trusted_peers_undocumented_commands_are_read_not_fatal() {
        let mut frame = DvripPacket::KeepAlive.to_frame();
        frame.header[0] = 0x42;
        let wire = frame.to_vec();
        let mut codec = WireCodec::default();
        assert!(codec.decode(&mut BytesMut::from(&wire[..])).is_err());
        codec.set_lenient(true);
        let decoded = codec
            .decode(&mut BytesMut::from(&wire[..]))
            .expect("decodes")
            .expect("complete");
        assert_eq!(decoded, WireFrame::Dvrip(frame));
    }

    #[test]
    fn the_limit_can_grow_once_the_peer_is_known() {
        let big = DhipMessage::new(0, 0, vec![b' '; 1000]);
        let mut wire = BytesMut::new();
        WireCodec::default()
            .encode(&big, &mut wire)
            .expect("encodes");
        let mut codec = WireCodec::new(64);
        assert!(
            codec.decode(&mut wire.clone()).is_err(),
            "too large for a stranger"
        );
        codec.set_max_message(4096);
        assert!(codec.decode(&mut wire).expect("decodes").is_some());
    }

    #[test]
    fn unknown_first_byte_is_refused() {
        assert!(matches!(
            detect(b"GET / HTTP/1.1"),
            Err(WireError::UnknownFraming(b'G'))
        ));
        assert_eq!(detect(b"").expect("empty"), None);
        assert_eq!(detect(&DHIP_MAGIC).expect("dhip"), Some(Framing::Dhip));
        assert_eq!(detect(&[0xb4]).expect("dvrip"), Some(Framing::Dvrip));
    }
}
