//! Any bytes cut into 188-byte packets: the TS classifier and join-point
//! scanner never panic, and every join point reported is the offset of a
//! PAT fed earlier, after the previous join point.
//!
//! The invariants of fuzz target `ts_join`, shared with the stable
//! replay of fuzz/regressions/ (tests/fuzz_regressions.rs).

use streamforge::media::ts::{self, JoinScanner, PacketKind, TS_PACKET};

/// Panics when `data` breaks an invariant.
pub fn run(data: &[u8]) {
    let Some((&mode, data)) = data.split_first() else {
        return;
    };
    let mut scanner = JoinScanner::default();
    scanner.audio_only = mode & 1 == 1;
    let mut pats = Vec::new();
    let mut last_join: Option<u64> = None;
    for (i, pkt) in data.chunks(TS_PACKET).enumerate() {
        let offset = (i * TS_PACKET) as u64;
        let kind = ts::classify(pkt);
        let _ = ts::pid(pkt);
        if kind == PacketKind::Pat {
            pats.push(offset);
        }
        if pkt.len() < TS_PACKET {
            assert_eq!(kind, PacketKind::Invalid);
        }
        if let Some(join) = scanner.feed(offset, pkt) {
            assert!(join <= offset, "join {join} after packet {offset}");
            assert!(pats.contains(&join), "join {join} is not a PAT");
            assert!(
                last_join.is_none_or(|l| join > l),
                "join {join} not after {last_join:?}"
            );
            last_join = Some(join);
        }
    }
}
