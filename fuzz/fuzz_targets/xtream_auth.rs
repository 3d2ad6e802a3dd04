//! Any status and body: `parse_auth` returns an account or a typed error,
//! never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use streamforge::providers::xtream;

fuzz_target!(|data: &[u8]| {
    let Some((status, body)) = data.split_first_chunk::<2>() else {
        return;
    };
    let status = 100 + u16::from_be_bytes(*status) % 500;
    let _ = xtream::parse_auth(status, body);
    let _ = xtream::parse_short_epg(body);
    if let Ok(text) = std::str::from_utf8(body) {
        let _ = xtream::decode_b64_lenient(text);
        let _ = xtream::normalise_base(text);
    }
});
