//! Both framings on one stream: arbitrary bytes, cut into reads, through `WireCodec`.
//!
//! Each frame decoded gets its framing's checks, and goes back through a `WireCodec` to
//! itself; `detect` on the raw stream must agree with the codec about the first frame.

#![no_main]

use bytes::BytesMut;
use homeport_protocol::wire::{Framing, WireCodec, WireFrame, detect};
use homeport_protocol_fuzz::{
    Input, MAX_MESSAGE, check_dhip_message, check_dvrip_frame, decode_stream,
};
use libfuzzer_sys::fuzz_target;
use tokio_util::codec::{Decoder, Encoder};

fuzz_target!(|data: &[u8]| {
    let input = Input::new(data);
    let first = detect(input.stream);
    let mut seen_first = false;
    decode_stream(&mut WireCodec::new(MAX_MESSAGE), &input, |frame| {
        if !seen_first {
            seen_first = true;
            let framing = match &frame {
                WireFrame::Dhip(_) => Framing::Dhip,
                WireFrame::Dvrip(_) => Framing::Dvrip,
            };
            assert_eq!(first.as_ref().ok().copied().flatten(), Some(framing));
        }
        match &frame {
            WireFrame::Dhip(message) => check_dhip_message(message, input.fragment_size),
            WireFrame::Dvrip(dvrip) => check_dvrip_frame(dvrip, input.fragment_size),
        }
        let mut wire = BytesMut::new();
        WireCodec::new(MAX_MESSAGE)
            .encode(&frame, &mut wire)
            .expect("a decoded frame re-encodes");
        let again = WireCodec::new(MAX_MESSAGE)
            .decode(&mut wire)
            .expect("a re-encoded frame decodes");
        assert_eq!(again.as_ref(), Some(&frame));
        assert!(wire.is_empty());
    });
});
