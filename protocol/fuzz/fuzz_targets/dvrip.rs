//! DVRIP: arbitrary bytes, cut into reads at fuzzer-chosen points, through `DvripCodec`.
//!
//! Decoding must never panic or over-allocate; every frame decoded must re-encode to itself,
//! read as a typed packet whose own frame reads back as the same packet, and (for `f6`)
//! read as JSON-RPC or be refused.

#![no_main]

use homeport_protocol::dvrip::DvripCodec;
use homeport_protocol_fuzz::{Input, MAX_MESSAGE, check_dvrip_frame, decode_stream};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let input = Input::new(data);
    decode_stream(&mut DvripCodec::new(MAX_MESSAGE), &input, |frame| {
        check_dvrip_frame(&frame, input.fragment_size);
    });
});
