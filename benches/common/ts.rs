//! A small incremental MPEG-TS parser for the benches: PES timestamps
//! (unwrapped per PID), arrival times, keyframe flags, and content hashes
//! (one per video access unit, one per AAC frame) that tell which upstream
//! file a PES of a capture came from. Reduced from the ideas in
//! `tests/util/tscheck.rs`, which benches cannot import.

use std::collections::HashMap;

pub const TS: usize = 188;

/// One PES start with timestamps (90 kHz, unwrapped per PID).
#[derive(Debug, Clone)]
pub struct Pes {
    /// Arrival, ms after the capture's reference instant.
    pub at_ms: f64,
    /// Byte offset of the packet in the capture.
    pub pos: u64,
    pub pid: u16,
    pub video: bool,
    pub audio: bool,
    /// random_access_indicator on the packet opening the PES.
    pub key: bool,
    pub pts: i64,
    pub dts: i64,
    /// Once the PES is complete (the next one on its PID started): a hash
    /// of the elementary stream bytes (video), or one hash per ADTS frame
    /// (audio). Remuxing copies these bytes unchanged, so they identify
    /// which upstream file a PES came from.
    pub hashes: Vec<u64>,
    /// Audio only: 90 kHz duration of one ADTS frame.
    pub frame_dur: Option<i64>,
    /// Arrival of its last byte: the declared PES length reached, or the
    /// next PES on its PID started (unbounded video PES).
    pub done_ms: Option<f64>,
}

impl Pes {
    /// Audio only: 90 kHz duration of the whole PES, once complete.
    pub fn dur(&self) -> Option<i64> {
        Some(self.frame_dur? * self.hashes.len() as i64)
    }
}

/// Incremental parser: feed bytes as they arrive.
#[derive(Default)]
pub struct TsScan {
    carry: Vec<u8>,
    pub bytes: u64,
    pub sync_losses: u64,
    pub pes: Vec<Pes>,
    last_ts: HashMap<u16, (i64, i64)>,
    /// PES being reassembled per PID: (index in `pes`, payload bytes).
    open: HashMap<u16, (usize, Vec<u8>)>,
    pub first_key_ms: Option<f64>,
    /// Arrival of the first video PES after the first keyframe: by then the
    /// keyframe is complete and a demuxer can hand it out.
    pub first_key_complete_ms: Option<f64>,
}

fn ts33(b: &[u8]) -> i64 {
    (((i64::from(b[0]) >> 1) & 0x7) << 30)
        | (i64::from(b[1]) << 22)
        | ((i64::from(b[2]) >> 1) << 15)
        | (i64::from(b[3]) << 7)
        | (i64::from(b[4]) >> 1)
}

fn unwrap33(prev: Option<i64>, v: i64) -> i64 {
    const WRAP: i64 = 1 << 33;
    match prev {
        None => v,
        Some(p) => {
            let base = p - p.rem_euclid(WRAP);
            [base - WRAP + v, base + v, base + WRAP + v]
                .into_iter()
                .min_by_key(|c| (c - p).abs())
                .unwrap_or(v)
        }
    }
}

fn hash(b: &[u8]) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    b.hash(&mut h);
    h.finish()
}

/// The elementary stream bytes of a complete PES (header stripped).
fn es_bytes(pes: &[u8]) -> Option<&[u8]> {
    let start = 9 + usize::from(*pes.get(8)?);
    let es = pes.get(start..)?;
    let declared = usize::from(u16::from_be_bytes([pes[4], pes[5]]));
    // A declared length trims stuffing; 0 means "unbounded" (video).
    Some(
        if declared > 0 && 6 + declared <= pes.len() && 6 + declared >= start {
            &pes[start..6 + declared]
        } else {
            es
        },
    )
}

/// Hashes of the ADTS frames in an AAC elementary stream, and the 90 kHz
/// duration of one frame.
fn adts_frames(es: &[u8]) -> (Vec<u64>, Option<i64>) {
    const RATES: [i64; 13] = [
        96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350,
    ];
    let (mut out, mut dur, mut i) = (Vec::new(), None, 0);
    while i + 7 <= es.len() {
        let h = &es[i..];
        if h[0] != 0xff || h[1] & 0xf0 != 0xf0 {
            break;
        }
        let len = (usize::from(h[3] & 3) << 11) | (usize::from(h[4]) << 3) | usize::from(h[5] >> 5);
        if len < 7 || i + len > es.len() {
            break;
        }
        if let Some(rate) = RATES.get(usize::from((h[2] >> 2) & 0xf)) {
            dur = Some(1024 * 90_000 / rate);
        }
        out.push(hash(&es[i..i + len]));
        i += len;
    }
    (out, dur)
}

impl TsScan {
    pub fn feed(&mut self, at_ms: f64, data: &[u8]) {
        if self.carry.is_empty() {
            let n = self.consume(at_ms, data);
            self.carry = data[n..].to_vec();
        } else {
            let mut joined = std::mem::take(&mut self.carry);
            joined.extend_from_slice(data);
            let n = self.consume(at_ms, &joined);
            self.carry = joined[n..].to_vec();
        }
    }

    fn consume(&mut self, at_ms: f64, data: &[u8]) -> usize {
        let mut i = 0;
        while i + TS <= data.len() {
            if data[i] != 0x47 {
                self.sync_losses += 1;
                i += 1;
                self.bytes += 1;
                continue;
            }
            self.packet(at_ms, &data[i..i + TS]);
            self.bytes += TS as u64;
            i += TS;
        }
        i
    }

    fn packet(&mut self, at_ms: f64, p: &[u8]) {
        let pid = (u16::from(p[1] & 0x1f) << 8) | u16::from(p[2]);
        let pusi = p[1] & 0x40 != 0;
        let afc = (p[3] >> 4) & 3;
        let mut payload = 4usize;
        let mut rai = false;
        if afc & 2 != 0 {
            let len = usize::from(p[4]);
            if len > 0 {
                rai = p[5] & 0x40 != 0;
            }
            payload = 5 + len;
        }
        if afc & 1 == 0 || payload >= TS {
            return;
        }
        let pl = &p[payload..];
        if pusi {
            self.close(pid, Some(at_ms));
            if pl.len() < 14 || pl[0] != 0 || pl[1] != 0 || pl[2] != 1 {
                return;
            }
            let sid = pl[3];
            let video = (0xe0..=0xef).contains(&sid);
            let audio = (0xc0..=0xdf).contains(&sid);
            let flags = pl[7] >> 6;
            if flags & 2 == 0 || !(video || audio) {
                return;
            }
            let prev = self.last_ts.get(&pid).copied();
            let pts = unwrap33(prev.map(|p| p.0), ts33(&pl[9..14]));
            let dts = if flags == 3 && pl.len() >= 19 {
                unwrap33(prev.map(|p| p.1), ts33(&pl[14..19]))
            } else {
                pts
            };
            self.last_ts.insert(pid, (pts, dts));
            let key = video && rai;
            if video && self.first_key_ms.is_some() && self.first_key_complete_ms.is_none() {
                self.first_key_complete_ms = Some(at_ms);
            }
            if key && self.first_key_ms.is_none() {
                self.first_key_ms = Some(at_ms);
            }
            self.open.insert(pid, (self.pes.len(), pl.to_vec()));
            self.pes.push(Pes {
                at_ms,
                pos: self.bytes,
                pid,
                video,
                audio,
                key,
                pts,
                dts,
                hashes: Vec::new(),
                frame_dur: None,
                done_ms: None,
            });
            self.check_done(pid, at_ms);
        } else if let Some((_, buf)) = self.open.get_mut(&pid) {
            buf.extend_from_slice(pl);
            self.check_done(pid, at_ms);
        }
    }

    /// Marks the open PES on `pid` done once its declared length arrived.
    fn check_done(&mut self, pid: u16, at_ms: f64) {
        if let Some((idx, buf)) = self.open.get(&pid) {
            let declared = usize::from(u16::from_be_bytes([buf[4], buf[5]]));
            if declared > 0 && buf.len() >= 6 + declared && self.pes[*idx].done_ms.is_none() {
                self.pes[*idx].done_ms = Some(at_ms);
            }
        }
    }

    /// Completes the PES open on `pid` (the next one started at `at_ms`):
    /// its hashes become known.
    fn close(&mut self, pid: u16, at_ms: Option<f64>) {
        let Some((idx, buf)) = self.open.remove(&pid) else {
            return;
        };
        if self.pes[idx].done_ms.is_none() {
            self.pes[idx].done_ms = at_ms;
        }
        let Some(es) = es_bytes(&buf) else {
            return;
        };
        let pes = &mut self.pes[idx];
        if pes.video {
            pes.hashes = vec![hash(es)];
        } else {
            let (h, d) = adts_frames(es);
            pes.hashes = h;
            pes.frame_dur = d;
        }
    }

    /// Completes every open PES (at the end of a file).
    pub fn finish(&mut self) {
        let pids: Vec<u16> = self.open.keys().copied().collect();
        for pid in pids {
            self.close(pid, None);
        }
    }

    pub fn video(&self) -> impl Iterator<Item = &Pes> {
        self.pes.iter().filter(|p| p.video)
    }

    pub fn audio(&self) -> impl Iterator<Item = &Pes> {
        self.pes.iter().filter(|p| p.audio)
    }
}

/// Hashes of every video access unit and every AAC frame of a TS file,
/// each with the source PTS values it occurs at.
pub struct Origin {
    pub video: HashMap<u64, Vec<i64>>,
    pub audio: HashMap<u64, Vec<i64>>,
}

impl Origin {
    pub fn of(ts: &[u8]) -> Self {
        let mut scan = TsScan::default();
        scan.feed(0.0, ts);
        scan.finish();
        let mut o = Self {
            video: HashMap::new(),
            audio: HashMap::new(),
        };
        for p in &scan.pes {
            let map = if p.video { &mut o.video } else { &mut o.audio };
            let fd = p.frame_dur.unwrap_or(0);
            for (j, h) in p.hashes.iter().enumerate() {
                map.entry(*h).or_default().push(p.pts + j as i64 * fd);
            }
        }
        o
    }

    /// The offset (output PTS − source PTS) most of `frames` agree on, with
    /// how many agree: content repeats (a static picture, a periodic tone)
    /// make single frames ambiguous, a run of them is not.
    pub fn offset(
        map: &HashMap<u64, Vec<i64>>,
        frames: impl Iterator<Item = (i64, u64)>,
    ) -> Option<(i64, usize, usize)> {
        let mut counts: HashMap<i64, usize> = HashMap::new();
        let mut n = 0;
        for (out_pts, h) in frames {
            let Some(srcs) = map.get(&h) else { continue };
            n += 1;
            for s in srcs {
                *counts.entry(out_pts - s).or_default() += 1;
            }
        }
        let (off, c) = counts.into_iter().max_by_key(|(o, c)| (*c, -o.abs()))?;
        Some((off, c, n))
    }
}
