//! A strict MPEG-TS client check, independent of the product's code:
//! sync, continuity counters per PID (honouring discontinuity_indicator),
//! PAT/PMT versions and elementary PIDs, and PES timestamps per PID.

use std::collections::{BTreeMap, BTreeSet};

#[derive(Debug, Default, Clone)]
pub struct PidInfo {
    pub stream_id: Option<u8>,
    /// Unwrapped DTS (PTS when no DTS) of every PES start, in 90 kHz.
    pub dts: Vec<i64>,
    pub pts: Vec<i64>,
    /// Byte offset of each PES start, parallel to `dts`.
    pub offsets: Vec<usize>,
    last_cc: Option<u8>,
}

#[derive(Debug, Default, Clone)]
pub struct TsReport {
    pub packets: usize,
    pub sync_errors: usize,
    /// (pid, byte offset) of continuity errors not flagged as discontinuities.
    pub cc_errors: Vec<(u16, usize)>,
    /// Packets whose adaptation field has the discontinuity indicator.
    pub discontinuities: Vec<(u16, usize)>,
    pub pat_versions: BTreeSet<u8>,
    pub pmt_versions: BTreeSet<u8>,
    pub pmt_pids: BTreeSet<u16>,
    /// (stream_type, pid) listed by every PMT seen.
    pub es: BTreeSet<(u8, u16)>,
    pub pids: BTreeMap<u16, PidInfo>,
}

fn ts33(b: &[u8]) -> i64 {
    (((b[0] as i64 >> 1) & 0x7) << 30)
        | ((b[1] as i64) << 22)
        | (((b[2] as i64) >> 1) << 15)
        | ((b[3] as i64) << 7)
        | ((b[4] as i64) >> 1)
}

fn unwrap(prev: Option<i64>, v: i64) -> i64 {
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

pub fn check(data: &[u8]) -> TsReport {
    let mut r = TsReport::default();
    let mut i = 0;
    while i + 188 <= data.len() {
        let p = &data[i..i + 188];
        if p[0] != 0x47 {
            r.sync_errors += 1;
            i += 1;
            continue;
        }
        r.packets += 1;
        let pid = ((p[1] as u16 & 0x1f) << 8) | p[2] as u16;
        let pusi = p[1] & 0x40 != 0;
        let afc = (p[3] >> 4) & 3;
        let cc = p[3] & 0xf;
        let mut payload = 4usize;
        let mut disc = false;
        if afc & 2 != 0 {
            let len = p[4] as usize;
            if len > 0 {
                disc = p[5] & 0x80 != 0;
            }
            payload = 5 + len;
        }
        if disc {
            r.discontinuities.push((pid, i));
        }
        if pid != 0x1fff {
            let info = r.pids.entry(pid).or_default();
            if afc & 1 != 0 {
                if let Some(last) = info.last_cc
                    && !disc
                    && cc != (last + 1) % 16
                {
                    r.cc_errors.push((pid, i));
                }
                info.last_cc = Some(cc);
            }
        }
        if afc & 1 != 0 && payload < 188 && pusi {
            let pl = &p[payload..];
            if pid == 0 || r.pmt_pids.contains(&pid) {
                parse_psi(&mut r, pid, pl);
            } else if pl.len() >= 14 && pl[0] == 0 && pl[1] == 0 && pl[2] == 1 {
                let flags = pl[7] >> 6;
                let info = r.pids.entry(pid).or_default();
                info.stream_id = Some(pl[3]);
                if flags & 2 != 0 {
                    let pts = unwrap(info.pts.last().copied(), ts33(&pl[9..14]));
                    let dts = if flags == 3 && pl.len() >= 19 {
                        unwrap(info.dts.last().copied(), ts33(&pl[14..19]))
                    } else {
                        pts
                    };
                    info.pts.push(pts);
                    info.dts.push(dts);
                    info.offsets.push(i);
                }
            }
        }
        i += 188;
    }
    r
}

fn parse_psi(r: &mut TsReport, pid: u16, pl: &[u8]) {
    let ptr = pl[0] as usize;
    let s = match pl.get(1 + ptr..) {
        Some(s) if s.len() >= 8 => s,
        _ => return,
    };
    let table_id = s[0];
    let len = (((s[1] as usize) & 0xf) << 8 | s[2] as usize).min(s.len().saturating_sub(3));
    let version = (s[5] >> 1) & 0x1f;
    let body_end = (3 + len).saturating_sub(4); // minus CRC
    if pid == 0 && table_id == 0 {
        r.pat_versions.insert(version);
        let mut k = 8;
        while k + 4 <= body_end {
            let program = (s[k] as u16) << 8 | s[k + 1] as u16;
            let ppid = ((s[k + 2] as u16 & 0x1f) << 8) | s[k + 3] as u16;
            if program != 0 {
                r.pmt_pids.insert(ppid);
            }
            k += 4;
        }
    } else if table_id == 2 && s.len() >= 12 {
        r.pmt_versions.insert(version);
        let pinfo = (((s[10] as usize) & 0xf) << 8) | s[11] as usize;
        let mut k = 12 + pinfo;
        while k + 5 <= body_end {
            let st = s[k];
            let epid = ((s[k + 1] as u16 & 0x1f) << 8) | s[k + 2] as u16;
            let eslen = (((s[k + 3] as usize) & 0xf) << 8) | s[k + 4] as usize;
            r.es.insert((st, epid));
            k += 5 + eslen;
        }
    }
}

impl TsReport {
    /// PIDs carrying PES with the given stream id range (video 0xE0.., audio 0xC0..).
    pub fn pes_pids(&self) -> BTreeSet<u16> {
        self.pids
            .iter()
            .filter(|(_, i)| i.stream_id.is_some())
            .map(|(p, _)| *p)
            .collect()
    }

    /// Problems with DTS per PID: non-increasing, or a step above `max_step_ms`.
    pub fn dts_problems(&self, max_step_ms: f64) -> Vec<String> {
        let mut out = Vec::new();
        for (pid, info) in &self.pids {
            for w in info.dts.windows(2).enumerate() {
                let (k, d) = w;
                let step = (d[1] - d[0]) as f64 / 90.0;
                if d[1] <= d[0] {
                    out.push(format!(
                        "pid {pid:#x}: DTS not increasing at PES {} ({} -> {})",
                        k + 1,
                        d[0],
                        d[1]
                    ));
                } else if step > max_step_ms {
                    out.push(format!(
                        "pid {pid:#x}: DTS step {step:.1} ms at PES {}",
                        k + 1
                    ));
                }
            }
        }
        out
    }

    /// The largest DTS step (ms) on a PID.
    pub fn max_dts_step_ms(&self, pid: u16) -> f64 {
        self.pids
            .get(&pid)
            .map(|i| {
                i.dts
                    .windows(2)
                    .map(|d| (d[1] - d[0]) as f64 / 90.0)
                    .fold(0.0, f64::max)
            })
            .unwrap_or(0.0)
    }

    /// Asserts a clean stream: synced, continuous, increasing DTS.
    pub fn assert_clean(&self, max_step_ms: f64) {
        assert!(self.packets > 0, "no TS packets");
        assert_eq!(self.sync_errors, 0, "sync errors");
        assert!(
            self.cc_errors.is_empty(),
            "continuity errors at {:?}",
            &self.cc_errors[..self.cc_errors.len().min(10)]
        );
        let p = self.dts_problems(max_step_ms);
        assert!(
            p.is_empty(),
            "timestamp problems: {:?}",
            &p[..p.len().min(10)]
        );
    }
}
