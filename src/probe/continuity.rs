//! MPEG-TS continuity counting per PID, from raw bytes in whatever chunks
//! they arrive. Pure: no I/O, never panics on any input. The rules are
//! FFmpeg's (`mpegts.c`, "Continuity check failed"): the counter must step
//! by one on packets with a payload and stay put on adaptation-only ones;
//! the discontinuity indicator and the null PID are exempt. One repeat of a
//! payload packet (same counter) is a legal duplicate (ISO 13818-1 2.4.3.3)
//! and is counted apart rather than as an error.

use std::collections::BTreeMap;

use crate::media::ts::{SYNC, TS_PACKET};

/// Bytes without finding sync after which the input is declared not TS.
const GIVE_UP_BYTES: u64 = 64 * 1024;
const NULL_PID: u16 = 0x1fff;

#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct PidStats {
    pub packets: u64,
    pub errors: u64,
    pub duplicates: u64,
    #[serde(skip)]
    last_cc: Option<u8>,
    #[serde(skip)]
    last_was_dup: bool,
}

/// Continuity state of one transport stream.
#[derive(Debug, Default)]
pub struct Continuity {
    /// Bytes not yet consumed (a partial packet, or bytes being searched
    /// for sync).
    pending: Vec<u8>,
    synced: bool,
    ever_synced: bool,
    pids: BTreeMap<u16, PidStats>,
    /// Times sync was lost after having been found.
    pub sync_losses: u64,
    /// Bytes dropped while searching for sync.
    pub bytes_skipped: u64,
    /// Packets with the transport error indicator set.
    pub transport_errors: u64,
    pub packets: u64,
}

impl Continuity {
    pub fn new() -> Self {
        Self::default()
    }

    /// True once the bytes have shown TS framing.
    pub fn is_ts(&self) -> bool {
        self.ever_synced
    }

    /// True when enough bytes went by without TS framing to stop looking.
    pub fn gave_up(&self) -> bool {
        !self.ever_synced && self.bytes_skipped >= GIVE_UP_BYTES
    }

    pub fn errors(&self) -> u64 {
        self.pids.values().map(|p| p.errors).sum()
    }

    pub fn pids(&self) -> &BTreeMap<u16, PidStats> {
        &self.pids
    }

    pub fn feed(&mut self, bytes: &[u8]) {
        if self.gave_up() {
            return;
        }
        self.pending.extend_from_slice(bytes);
        let mut at = 0usize;
        loop {
            if !self.synced {
                match find_sync(&self.pending[at..]) {
                    Some(off) => {
                        self.bytes_skipped += off as u64;
                        at += off;
                        self.synced = true;
                        self.ever_synced = true;
                    }
                    None => {
                        // Keep the tail that could still start a sync run.
                        let keep = (self.pending.len() - at).min(3 * TS_PACKET);
                        let drop = self.pending.len() - at - keep;
                        self.bytes_skipped += drop as u64;
                        at += drop;
                        break;
                    }
                }
            }
            if self.pending.len() - at < TS_PACKET {
                break;
            }
            if self.pending[at] != SYNC {
                self.synced = false;
                self.sync_losses += 1;
                continue;
            }
            let mut pkt = [0u8; TS_PACKET];
            pkt.copy_from_slice(&self.pending[at..at + TS_PACKET]);
            self.packet(&pkt);
            at += TS_PACKET;
        }
        self.pending.drain(..at);
    }

    fn packet(&mut self, pkt: &[u8; TS_PACKET]) {
        self.packets += 1;
        if pkt[1] & 0x80 != 0 {
            self.transport_errors += 1;
        }
        let pid = (u16::from(pkt[1] & 0x1f) << 8) | u16::from(pkt[2]);
        if pid == NULL_PID {
            return;
        }
        let afc = (pkt[3] >> 4) & 0x3;
        let has_payload = afc & 0x1 != 0;
        let discontinuity = afc & 0x2 != 0 && pkt[4] > 0 && pkt[5] & 0x80 != 0;
        let cc = pkt[3] & 0x0f;
        let st = self.pids.entry(pid).or_default();
        st.packets += 1;
        let mut dup = false;
        if let Some(last) = st.last_cc
            && !discontinuity
        {
            let expected = if has_payload { (last + 1) & 0x0f } else { last };
            if cc != expected {
                if has_payload && cc == last && !st.last_was_dup {
                    dup = true;
                    st.duplicates += 1;
                } else {
                    st.errors += 1;
                }
            }
        }
        st.last_was_dup = dup;
        st.last_cc = Some(cc);
    }
}

/// Offset of the first place where three packets in a row start with the
/// sync byte, or None when `buf` holds no such run.
fn find_sync(buf: &[u8]) -> Option<usize> {
    if buf.len() < 2 * TS_PACKET + 1 {
        return None;
    }
    (0..=buf.len() - (2 * TS_PACKET + 1))
        .find(|&i| buf[i] == SYNC && buf[i + TS_PACKET] == SYNC && buf[i + 2 * TS_PACKET] == SYNC)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pkt(pid: u16, cc: u8, payload: bool) -> Vec<u8> {
        let mut p = vec![0xffu8; TS_PACKET];
        p[0] = SYNC;
        p[1] = (pid >> 8) as u8 & 0x1f;
        p[2] = pid as u8;
        p[3] = if payload { 0x10 } else { 0x20 } | (cc & 0x0f);
        if !payload {
            p[4] = 183;
            p[5] = 0;
        }
        p
    }

    fn stream(ccs: &[(u16, u8, bool)]) -> Vec<u8> {
        ccs.iter()
            .flat_map(|&(pid, cc, pl)| pkt(pid, cc, pl))
            .collect()
    }

    #[test]
    fn continuous_counters_have_no_errors_in_any_chunking() {
        let s = stream(&(0..40u8).map(|i| (0x100, i % 16, true)).collect::<Vec<_>>());
        for chunk in [1, 7, 188, 189, 1000] {
            let mut c = Continuity::new();
            for part in s.chunks(chunk) {
                c.feed(part);
            }
            assert!(c.is_ts());
            assert_eq!(c.packets, 40, "chunk {chunk}");
            assert_eq!(c.errors(), 0, "chunk {chunk}");
        }
    }

    #[test]
    fn a_lost_packet_is_one_error_on_its_pid() {
        let mut c = Continuity::new();
        c.feed(&stream(&[
            (0x100, 0, true),
            (0x101, 5, true),
            (0x100, 1, true),
            (0x100, 3, true),
            (0x101, 6, true),
        ]));
        assert_eq!(c.pids()[&0x100].errors, 1);
        assert_eq!(c.pids()[&0x101].errors, 0);
    }

    #[test]
    fn adaptation_only_packets_keep_the_counter_and_one_duplicate_is_legal() {
        let mut c = Continuity::new();
        c.feed(&stream(&[
            (0x100, 0, true),
            (0x100, 0, false),
            (0x100, 1, true),
            (0x100, 1, true),
            (0x100, 2, true),
        ]));
        assert_eq!(c.errors(), 0);
        assert_eq!(c.pids()[&0x100].duplicates, 1);
        let mut c = Continuity::new();
        c.feed(&stream(&[
            (0x100, 1, true),
            (0x100, 1, true),
            (0x100, 1, true),
        ]));
        assert_eq!(c.errors(), 1, "a second repeat is an error");
    }

    #[test]
    fn discontinuity_indicator_and_null_pid_are_exempt() {
        let mut disc = pkt(0x100, 9, true);
        disc[3] = 0x30 | 9;
        disc[4] = 1;
        disc[5] = 0x80;
        let mut s = stream(&[(0x100, 0, true), (0x1fff, 3, true), (0x1fff, 3, true)]);
        s.extend_from_slice(&disc);
        s.extend(stream(&[(0x100, 10, true)]));
        let mut c = Continuity::new();
        c.feed(&s);
        assert_eq!(c.errors(), 0);
    }

    #[test]
    fn resyncs_after_garbage_and_gives_up_on_non_ts() {
        let mut s = vec![0x12u8; 50];
        s.extend(stream(&[
            (0x100, 0, true),
            (0x100, 1, true),
            (0x100, 2, true),
        ]));
        s.extend_from_slice(&[0u8; 10]);
        s.extend(stream(&[
            (0x100, 3, true),
            (0x100, 4, true),
            (0x100, 5, true),
        ]));
        let mut c = Continuity::new();
        c.feed(&s);
        assert_eq!(c.sync_losses, 1);
        assert_eq!(c.packets, 6);
        assert_eq!(c.errors(), 0);
        let mut html = Continuity::new();
        for _ in 0..100 {
            html.feed(&[b'<'; 1024]);
        }
        assert!(html.gave_up());
        assert!(!html.is_ts());
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        let mut c = Continuity::new();
        for n in 0..2000usize {
            let b: Vec<u8> = (0..n % 613)
                .map(|i| {
                    if i % 188 == 0 {
                        SYNC
                    } else {
                        (i * 31 + n) as u8
                    }
                })
                .collect();
            c.feed(&b);
        }
    }
}
