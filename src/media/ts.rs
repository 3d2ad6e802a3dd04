//! Pure MPEG-TS packet inspection used by the ring to index join points:
//! a join point is the PAT the muxer writes right before a video keyframe.
//! No I/O here; the functions take bytes and never panic on any input.

pub const TS_PACKET: usize = 188;
pub const SYNC: u8 = 0x47;

/// What the ring needs to know about one 188-byte packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PacketKind {
    /// PID 0: a PAT (the muxer writes PAT/PMT before every video keyframe).
    Pat,
    /// Start of a video PES whose adaptation field has the random-access flag.
    VideoKeyframeStart,
    /// Start of any other video PES.
    VideoStart,
    Other,
    /// Not a sync-aligned TS packet.
    Invalid,
}

pub fn pid(pkt: &[u8]) -> Option<u16> {
    (pkt.len() >= 4 && pkt[0] == SYNC).then(|| (u16::from(pkt[1] & 0x1f) << 8) | u16::from(pkt[2]))
}

pub fn classify(pkt: &[u8]) -> PacketKind {
    if pkt.len() < TS_PACKET || pkt[0] != SYNC {
        return PacketKind::Invalid;
    }
    let pid = (u16::from(pkt[1] & 0x1f) << 8) | u16::from(pkt[2]);
    if pid == 0 {
        return PacketKind::Pat;
    }
    let pusi = pkt[1] & 0x40 != 0;
    if !pusi {
        return PacketKind::Other;
    }
    let afc = (pkt[3] >> 4) & 0x3;
    let mut payload = 4usize;
    let mut random_access = false;
    if afc & 0x2 != 0 {
        let af_len = usize::from(pkt[4]);
        if af_len > 0 {
            random_access = pkt[5] & 0x40 != 0;
        }
        payload = 5 + af_len;
    }
    if afc & 0x1 == 0 || payload + 4 > TS_PACKET {
        return PacketKind::Other;
    }
    let p = &pkt[payload..];
    let is_video_pes = p[0] == 0 && p[1] == 0 && p[2] == 1 && (0xE0..=0xEF).contains(&p[3]);
    match (is_video_pes, random_access) {
        (true, true) => PacketKind::VideoKeyframeStart,
        (true, false) => PacketKind::VideoStart,
        _ => PacketKind::Other,
    }
}

/// Tracks PAT → video keyframe sequences across packets and reports the
/// byte offset of the PAT that opens a keyframe: a place a new reader can
/// start decoding from.
#[derive(Debug, Default)]
pub struct JoinScanner {
    pending_pat: Option<u64>,
    /// Audio-only output: every PAT is a join point.
    pub audio_only: bool,
}

impl JoinScanner {
    /// Feeds the packet at absolute `offset`; returns a join offset when the
    /// packet completes one.
    pub fn feed(&mut self, offset: u64, pkt: &[u8]) -> Option<u64> {
        match classify(pkt) {
            PacketKind::Pat if self.audio_only => Some(offset),
            PacketKind::Pat => {
                if self.pending_pat.is_none() {
                    self.pending_pat = Some(offset);
                }
                None
            }
            PacketKind::VideoKeyframeStart => self.pending_pat.take(),
            PacketKind::VideoStart => {
                self.pending_pat = None;
                None
            }
            PacketKind::Other | PacketKind::Invalid => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn packet(pid: u16, pusi: bool, rai: bool, stream_id: u8) -> Vec<u8> {
        let mut p = vec![0xffu8; TS_PACKET];
        p[0] = SYNC;
        p[1] = ((pid >> 8) as u8 & 0x1f) | if pusi { 0x40 } else { 0 };
        p[2] = pid as u8;
        p[3] = 0x30; // adaptation + payload
        p[4] = 1;
        p[5] = if rai { 0x40 } else { 0 };
        p[6..10].copy_from_slice(&[0, 0, 1, stream_id]);
        p
    }

    #[test]
    fn pat_then_keyframe_is_a_join_point() {
        let mut s = JoinScanner::default();
        assert_eq!(s.feed(0, &packet(0, true, false, 0)), None);
        assert_eq!(s.feed(188, &packet(0x1000, true, false, 0)), None); // PMT
        assert_eq!(s.feed(376, &packet(0x101, true, true, 0xC0)), None); // audio key
        assert_eq!(s.feed(564, &packet(0x100, true, true, 0xE0)), Some(0));
        assert_eq!(
            s.feed(752, &packet(0x100, true, true, 0xE0)),
            None,
            "no PAT before it"
        );
    }

    #[test]
    fn periodic_pat_before_non_key_frame_is_not_a_join_point() {
        let mut s = JoinScanner::default();
        s.feed(0, &packet(0, true, false, 0));
        assert_eq!(s.feed(188, &packet(0x100, true, false, 0xE0)), None);
        assert_eq!(s.feed(376, &packet(0x100, true, true, 0xE0)), None);
    }

    #[test]
    fn garbage_never_panics() {
        for len in 0..400 {
            let buf: Vec<u8> = (0..len).map(|i| (i * 37 % 256) as u8).collect();
            let _ = classify(&buf);
            let mut b = buf.clone();
            if !b.is_empty() {
                b[0] = SYNC;
            }
            let _ = classify(&b);
            let _ = pid(&b);
        }
        let mut p = packet(0x100, true, true, 0xE0);
        p[4] = 183; // adaptation field fills the packet
        assert_eq!(classify(&p), PacketKind::Other);
    }
}
