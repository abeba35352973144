//! What the fuzz targets share: how an input becomes a stream cut into reads, the decode
//! loop, and the checks every decoded DHIP message or DVRIP frame must pass.
//!
//! An input is read as
//!
//! | bytes | meaning |
//! |---|---|
//! | 0 | low 3 bits: how many cut lengths follow (0–7) |
//! | 1..3 | fragment size used when re-encoding, u16 LE (0 reads as 1) |
//! | 3..3+2n | cut lengths, u16 LE each (0 reads as 1), used in turn, cyclically |
//! | the rest | the stream the decoder reads |
//!
//! With no cut lengths the whole stream arrives in one read. A short input is all header and
//! an empty stream. `make_seeds.py` writes seeds with a few such prefixes.

use bytes::BytesMut;
use homeport_protocol::dhip::{DhipCodec, DhipMessage};
use homeport_protocol::dvrip::{DvripCodec, DvripFrame, DvripPacket, command};
use homeport_protocol::rpc::Incoming;
use tokio_util::codec::{Decoder, Encoder};

/// The largest message every target's codec accepts.
pub const MAX_MESSAGE: usize = 64 * 1024;

/// A fuzz input split into its control fields and the stream.
#[derive(Debug)]
pub struct Input<'a> {
    cuts: Vec<usize>,
    /// Packet body size used when a decoded message is written back.
    pub fragment_size: usize,
    /// The bytes the decoder reads.
    pub stream: &'a [u8],
}

impl<'a> Input<'a> {
    /// Reads the control fields off the front of `data`.
    pub fn new(data: &'a [u8]) -> Self {
        let word = |at: usize| usize::from(u16::from_le_bytes([data[at], data[at + 1]]));
        let Some(&control) = data.first() else {
            return Self::whole(data);
        };
        let count = usize::from(control & 0x07);
        let header = 3 + 2 * count;
        if data.len() < header {
            return Self::whole(&data[data.len()..]);
        }
        Self {
            cuts: (0..count).map(|i| word(3 + 2 * i).max(1)).collect(),
            fragment_size: word(1).max(1),
            stream: &data[header..],
        }
    }

    fn whole(stream: &'a [u8]) -> Self {
        Self {
            cuts: Vec::new(),
            fragment_size: 1,
            stream,
        }
    }

    /// The stream as the successive reads a socket would deliver.
    pub fn reads(&self) -> impl Iterator<Item = &'a [u8]> + '_ {
        let mut rest = self.stream;
        let mut cuts = self.cuts.iter().cycle();
        std::iter::from_fn(move || {
            if rest.is_empty() {
                return None;
            }
            let len = cuts.next().map_or(rest.len(), |&cut| cut.min(rest.len()));
            let (read, after) = rest.split_at(len);
            rest = after;
            Some(read)
        })
    }
}

/// Feeds `input`'s reads to `codec` as `Framed` would, handing every decoded item to
/// `on_item`, and stops at the first error (the connection would be closed).
pub fn decode_stream<D: Decoder>(
    codec: &mut D,
    input: &Input<'_>,
    mut on_item: impl FnMut(D::Item),
) {
    let mut buf = BytesMut::new();
    for read in input.reads() {
        buf.extend_from_slice(read);
        loop {
            match codec.decode(&mut buf) {
                Ok(Some(item)) => on_item(item),
                Ok(None) => break,
                Err(_) => return,
            }
        }
    }
    while let Ok(Some(item)) = codec.decode_eof(&mut buf) {
        on_item(item);
    }
}

/// Encodes `item` with `writer`, decodes the bytes with `reader`, and returns what came back,
/// checking that it came back whole and that nothing was left over.
fn round_trip<'i, T, C>(writer: &mut C, reader: &mut C, item: &'i T) -> C::Item
where
    C: Decoder + Encoder<&'i T>,
    <C as Decoder>::Error: std::fmt::Debug,
    <C as Encoder<&'i T>>::Error: std::fmt::Debug,
{
    let mut wire = BytesMut::new();
    writer
        .encode(item, &mut wire)
        .expect("a decoded item re-encodes");
    let again = reader
        .decode(&mut wire)
        .expect("a re-encoded item decodes")
        .expect("a re-encoded item is complete");
    assert!(wire.is_empty(), "bytes left after the re-encoded item");
    again
}

/// Reads a JSON-RPC message the way the gateway does, exercising its accessors.
pub fn check_json_rpc(json: &[u8]) {
    match Incoming::parse(json) {
        Ok(Incoming::Call(call)) => {
            let _ = call.is_notification();
            let _ = call.to_json();
        }
        Ok(Incoming::Reply(reply)) => {
            let _ = (reply.is_ok(), reply.error_code());
            let _ = reply.to_json();
        }
        Err(_) => {}
    }
}

/// A decoded DHIP message: within bounds, its body splits (or is refused) without panicking,
/// and it re-encodes, at the default fragment size and at the input's, to itself.
pub fn check_dhip_message(message: &DhipMessage, fragment_size: usize) {
    assert!(
        message.body.len() <= MAX_MESSAGE,
        "message over the maximum"
    );
    if let Ok((json, payload)) = message.parts() {
        let used = json.len() + payload.map_or(0, |p| 1 + p.len());
        assert!(used <= message.body.len(), "parts longer than the body");
        check_json_rpc(json);
    }
    check_json_rpc(&message.body);

    let mut reader = DhipCodec::new(MAX_MESSAGE);
    let again = round_trip(&mut DhipCodec::new(MAX_MESSAGE), &mut reader, message);
    assert_eq!(&again, message, "round trip at the default fragment size");
    let mut writer = DhipCodec::new(MAX_MESSAGE).with_fragment_size(fragment_size);
    let again = round_trip(&mut writer, &mut reader, message);
    assert_eq!(
        &again, message,
        "round trip at fragment size {fragment_size}"
    );
    assert!(!reader.is_assembling());
}

/// A decoded DVRIP frame: within bounds with its length field right, byte-identical through
/// the codec, and its typed packet stable: `parse(packet.to_frame()) == packet`.
pub fn check_dvrip_frame(frame: &DvripFrame, fragment_size: usize) {
    assert!(frame.body.len() <= MAX_MESSAGE, "frame over the maximum");
    assert_eq!(
        frame.dword(4) as usize,
        frame.body.len(),
        "length at offset 4"
    );

    let mut reader = DvripCodec::new(MAX_MESSAGE);
    let again = round_trip(&mut DvripCodec::new(MAX_MESSAGE), &mut reader, frame);
    assert_eq!(&again, frame, "round trip at the default fragment size");
    // Splitting rewrites an f6 header's total (offset 16), so a frame whose total does not
    // already say its length comes back with it corrected; every other frame is unchanged.
    let mut writer = DvripCodec::new(MAX_MESSAGE).with_fragment_size(fragment_size);
    let again = round_trip(&mut writer, &mut reader, frame);
    if frame.command() != command::JSON || frame.dword(16) as usize == frame.body.len() {
        assert_eq!(&again, frame, "round trip at fragment size {fragment_size}");
    } else {
        assert_eq!(
            again.body, frame.body,
            "f6 body at fragment size {fragment_size}"
        );
    }
    assert!(!reader.is_assembling());

    let packet = DvripPacket::parse(frame);
    let _ = packet.announced_id();
    if let DvripPacket::Json { body, .. } = &packet {
        check_json_rpc(body);
    }
    let typed = packet.to_frame();
    if let DvripPacket::Other(_) = &packet {
        assert_eq!(&typed, frame, "an unknown frame is kept as it is");
    }
    assert_eq!(
        DvripPacket::parse(&typed),
        packet,
        "typed packet round trip"
    );
    let mut writer = DvripCodec::new(MAX_MESSAGE).with_fragment_size(fragment_size);
    let again = round_trip(&mut writer, &mut reader, &typed);
    assert_eq!(again, typed, "typed frame through the codec");
}
