//! What the fixture tests share: hex text to bytes, and a DVRIP round trip.

#![allow(dead_code, unreachable_pub)]

use bytes::BytesMut;
use homeport_protocol::dvrip::{DvripCodec, DvripFrame};
use tokio_util::codec::{Decoder, Encoder};

/// Bytes from hex text; anything that is not a hex digit (spaces, `|`) is skipped.
pub fn hex(text: &str) -> Vec<u8> {
    let digits: Vec<u8> = text.bytes().filter(u8::is_ascii_hexdigit).collect();
    digits
        .chunks(2)
        .map(|pair| u8::from_str_radix(std::str::from_utf8(pair).expect("ascii"), 16).expect("hex"))
        .collect()
}

/// Decodes `wire` as exactly one DVRIP frame and checks it re-encodes to the same bytes.
pub fn dvrip_round_trip(wire: &[u8]) -> DvripFrame {
    let mut buf = BytesMut::from(wire);
    let mut codec = DvripCodec::default();
    let frame = codec.decode(&mut buf).expect("decodes").expect("complete");
    assert!(buf.is_empty(), "one frame");
    let mut out = BytesMut::new();
    codec.encode(&frame, &mut out).expect("encodes");
    assert_eq!(&out[..], wire, "re-encodes byte-identically");
    frame
}
