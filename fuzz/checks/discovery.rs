//! Any bytes as a UDP 65001 packet: the decoders return a value or a typed
//! error, never panic; whatever decodes re-encodes to a frame that decodes
//! to the same value (the codec round trip), and the responder answers
//! exactly the requests that match.
//!
//! The invariants of fuzz target `discovery`, shared with the stable
//! replay of fuzz/regressions/ (tests/fuzz_regressions.rs).

use streamforge::plex::discovery::{self, MAX_FRAME, Reply, Request};

const OURS: u32 = 0x1054_04BE;

fn reply() -> Reply {
    Reply {
        device_id: OURS,
        tuner_count: 2,
        base_url: "http://127.0.0.1:5004".into(),
        lineup_url: "http://127.0.0.1:5004/lineup.json".into(),
    }
}

/// Panics when `data` breaks an invariant.
pub fn run(data: &[u8]) {
    // Raw bytes, then the same bytes wrapped in a valid frame so the TLV
    // parser sees them past the CRC check.
    let framed_req = discovery::encode_frame(discovery::TYPE_DISCOVER_REQ, data);
    let framed_rpy = discovery::encode_frame(discovery::TYPE_DISCOVER_RPY, data);
    for frame in [data, &framed_req[..], &framed_rpy[..]] {
        if let Ok(req) = Request::decode(frame) {
            let again = Request::decode(&req.encode()).expect("an encoded request decodes");
            assert_eq!(again, req);
            let answer = discovery::respond(frame, OURS, reply).expect("decoded once");
            assert_eq!(answer.is_some(), req.matches(OURS));
            if let Some(a) = answer {
                assert!(a.len() <= MAX_FRAME);
                assert_eq!(Reply::decode(&a).expect("our reply decodes"), reply());
            }
        }
        if let Ok(rpy) = Reply::decode(frame) {
            let encoded = rpy.encode();
            assert!(encoded.len() <= MAX_FRAME || rpy.base_url.len() > 600);
            if rpy.base_url.len() <= 600 && rpy.lineup_url.len() <= 600 {
                assert_eq!(
                    Reply::decode(&encoded).expect("an encoded reply decodes"),
                    rpy
                );
            }
        }
        for t in discovery::tlvs(frame) {
            if t.is_err() {
                break;
            }
        }
    }
}
