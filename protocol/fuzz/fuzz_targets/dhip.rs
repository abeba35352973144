//! DHIP: arbitrary bytes, cut into reads at fuzzer-chosen points, through `DhipCodec`.
//!
//! Decoding must never panic or over-allocate; every message decoded must split into its
//! parts (or be refused) cleanly, read as JSON-RPC (or be refused), and re-encode to itself.

#![no_main]

use homeport_protocol::dhip::DhipCodec;
use homeport_protocol_fuzz::{Input, MAX_MESSAGE, check_dhip_message, decode_stream};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let input = Input::new(data);
    decode_stream(&mut DhipCodec::new(MAX_MESSAGE), &input, |message| {
        check_dhip_message(&message, input.fragment_size);
    });
});
