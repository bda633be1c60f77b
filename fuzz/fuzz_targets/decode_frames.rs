//! Feeds arbitrary bytes to the server's frame decoder and the client's message decoder: they
//! must return errors, never panic, hang or allocate beyond the frame limit.

#![no_main]

use libfuzzer_sys::fuzz_target;
use matchwright_transport::codec::{self, LENGTH_BYTES, MAX_FRAME_BYTES};

fuzz_target!(|bytes: &[u8]| {
    let decoded = codec::decode_client_stream(bytes, MAX_FRAME_BYTES);
    assert!(decoded.iter().filter(|one| one.is_err()).count() <= 1);
    if let Some(body) = bytes.get(LENGTH_BYTES..) {
        let _ = codec::decode_server(body);
    }
});
