//! Fuzzes the camera-sync line decoder with arbitrary bytes arriving in arbitrary pieces.
//!
//! Checked on every input: no panic; "need more bytes" never holds more than max bytes (an
//! overlong line is refused before its `\n`); every decoded message survives encode → parse.

#![no_main]

use bytes::BytesMut;
use homeport_protocol::sync::{SyncLineCodec, SyncMessage};
use tokio_util::codec::Decoder;

/// Small, so the fuzzer reaches the too-long path often.
const MAX_LINE: usize = 256;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    // The first byte picks the size of the pieces the rest arrives in.
    let Some((&piece, data)) = data.split_first() else {
        return;
    };
    let piece = usize::from(piece).max(1);
    let mut codec = SyncLineCodec::with_max_length(MAX_LINE);
    let mut buf = BytesMut::new();
    for chunk in data.chunks(piece) {
        buf.extend_from_slice(chunk);
        loop {
            match codec.decode(&mut buf) {
                Ok(Some(item)) => check(item),
                Ok(None) => {
                    assert!(buf.len() <= MAX_LINE, "waiting with {} bytes", buf.len());
                    break;
                }
                Err(_) => return,
            }
        }
    }
    while let Ok(Some(item)) = codec.decode_eof(&mut buf) {
        check(item);
    }
});

/// A decoded message must write back to one line that reads as the same message.
fn check(item: Result<SyncMessage, homeport_protocol::sync::ParseError>) {
    let Ok(message) = item else {
        return;
    };
    let line = message.encode();
    assert!(!line.contains('\n'), "raw line feed in {line:?}");
    assert_eq!(SyncMessage::parse(&line).as_ref(), Ok(&message), "{line:?}");
}
