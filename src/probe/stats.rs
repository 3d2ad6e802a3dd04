//! Pure accumulators behind the probe's health report: bitrate over 1 s
//! windows, stalls (gaps in arrival), GOP length, timestamp discontinuities,
//! A/V offset, and the map from byte offset to arrival time. Times are
//! milliseconds since the probe started (or of media time where stated);
//! nothing here reads a clock or does I/O.

use std::collections::VecDeque;

use serde::Serialize;

/// Bytes per 1-second window on some time axis (wall clock for wire bytes,
/// media time for payload bytes).
#[derive(Debug, Clone, Default)]
pub struct Windows {
    origin_ms: Option<f64>,
    bytes: Vec<u64>,
    total: u64,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct BitrateSummary {
    /// Over the same complete 1 s windows as min/max, so that
    /// `min <= mean <= max` always holds (a partial last window holding a
    /// burst put the mean above the max before; issue 14). Over the whole
    /// observed span only when no window completed.
    pub mean_bps: u64,
    /// Over complete 1 s windows only; None when none completed.
    pub min_bps: Option<u64>,
    pub max_bps: Option<u64>,
    pub windows: usize,
    pub bytes: u64,
}

impl Windows {
    /// Adds `bytes` at time `t_ms`. The first call sets the origin; earlier
    /// times (media time can step back) land in the first window.
    pub fn add(&mut self, t_ms: f64, bytes: u64) {
        let origin = *self.origin_ms.get_or_insert(t_ms);
        let idx = ((t_ms - origin).max(0.0) / 1000.0) as usize;
        // A jump far ahead (a timestamp discontinuity) must not allocate
        // without bound; such bytes count in the total only.
        if idx < 100_000 {
            if self.bytes.len() <= idx {
                self.bytes.resize(idx + 1, 0);
            }
            self.bytes[idx] += bytes;
        }
        self.total += bytes;
    }

    pub fn origin_ms(&self) -> Option<f64> {
        self.origin_ms
    }

    /// Summary with the observation ending at `end_ms` (same axis). Windows
    /// that end after `end_ms` are partial and left out of min, max and
    /// mean alike; `bytes` still counts everything added.
    pub fn summary(&self, end_ms: f64) -> Option<BitrateSummary> {
        let origin = self.origin_ms?;
        let span_ms = (end_ms - origin).max(1.0);
        let complete = ((span_ms / 1000.0) as usize).min(100_000);
        let full: Vec<u64> = (0..complete)
            .map(|i| self.bytes.get(i).copied().unwrap_or(0) * 8)
            .collect();
        let mean_bps = if full.is_empty() {
            (self.total as f64 * 8.0 * 1000.0 / span_ms) as u64
        } else {
            full.iter().sum::<u64>() / full.len() as u64
        };
        Some(BitrateSummary {
            mean_bps,
            min_bps: full.iter().copied().min(),
            max_bps: full.iter().copied().max(),
            windows: full.len(),
            bytes: self.total,
        })
    }
}

/// A period with no arrivals longer than the threshold.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Stall {
    /// When the last data before the gap arrived.
    pub at_ms: u64,
    pub duration_ms: u64,
    /// Still going when the observation ended.
    pub ongoing: bool,
}

/// Turns arrival instants into stalls.
#[derive(Debug, Clone)]
pub struct Gaps {
    threshold_ms: u64,
    last_ms: Option<u64>,
    stalls: Vec<Stall>,
}

impl Gaps {
    pub fn new(threshold_ms: u64) -> Self {
        Self {
            threshold_ms,
            last_ms: None,
            stalls: Vec::new(),
        }
    }

    pub fn threshold_ms(&self) -> u64 {
        self.threshold_ms
    }

    pub fn arrive(&mut self, t_ms: u64) {
        if let Some(last) = self.last_ms {
            let gap = t_ms.saturating_sub(last);
            if gap > self.threshold_ms {
                self.stalls.push(Stall {
                    at_ms: last,
                    duration_ms: gap,
                    ongoing: false,
                });
            }
        }
        self.last_ms = Some(self.last_ms.map_or(t_ms, |l| l.max(t_ms)));
    }

    /// Stalls, with one still going at `end_ms` included as ongoing.
    pub fn finish(&self, end_ms: u64) -> Vec<Stall> {
        let mut out = self.stalls.clone();
        if let Some(last) = self.last_ms {
            let gap = end_ms.saturating_sub(last);
            if gap > self.threshold_ms {
                out.push(Stall {
                    at_ms: last,
                    duration_ms: gap,
                    ongoing: true,
                });
            }
        }
        out
    }
}

/// A timestamp jump inside one stream.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Discontinuity {
    pub stream: usize,
    /// When the packet after the jump was read, ms since the probe started.
    pub at_ms: u64,
    /// Media-time step, negative when time went backwards.
    pub jump_ms: i64,
}

/// Forward steps larger than this are discontinuities (no stream of ours
/// has a second between packets of one stream).
pub const JUMP_FORWARD_MS: f64 = 1000.0;

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Gop {
    /// The most recent complete GOP.
    pub frames: u64,
    pub seconds: f64,
    pub min_frames: u64,
    pub max_frames: u64,
    /// Complete GOPs seen (keyframe to keyframe).
    pub count: u64,
}

/// Per-stream packet bookkeeping.
#[derive(Debug, Clone, Default)]
pub struct Track {
    pub index: usize,
    pub packets: u64,
    pub bytes: u64,
    pub keyframes: u64,
    /// Media time in ms of the first and latest packets (dts or pts).
    pub first_ms: Option<f64>,
    pub last_ms: Option<f64>,
    /// Largest end time (pts + duration) seen, ms.
    pub end_ms: Option<f64>,
    /// When the first and latest packets were read, ms since the probe
    /// started.
    pub first_wall_ms: Option<u64>,
    pub last_wall_ms: Option<u64>,
    frames_since_key: Option<u64>,
    last_key_ms: Option<f64>,
    gop: Option<Gop>,
    pub discontinuities: Vec<Discontinuity>,
    /// Media time skipped or repeated by discontinuities, to keep "media
    /// time advanced" honest across them.
    jumped_ms: f64,
}

impl Track {
    pub fn new(index: usize) -> Self {
        Self {
            index,
            ..Self::default()
        }
    }

    /// Records one packet. `t_ms` is its dts (or pts) in ms of media time;
    /// `end_ms` its pts + duration; `wall_ms` when it was read.
    pub fn packet(
        &mut self,
        t_ms: Option<f64>,
        end_ms: Option<f64>,
        size: u64,
        key: bool,
        wall_ms: u64,
    ) {
        self.packets += 1;
        self.bytes += size;
        self.first_wall_ms.get_or_insert(wall_ms);
        self.last_wall_ms = Some(wall_ms);
        if let Some(t) = t_ms {
            if let Some(last) = self.last_ms {
                let step = t - last;
                if !(0.0..=JUMP_FORWARD_MS).contains(&step) {
                    self.discontinuities.push(Discontinuity {
                        stream: self.index,
                        at_ms: wall_ms,
                        jump_ms: step.round() as i64,
                    });
                    self.jumped_ms += step;
                    // A GOP spanning a jump has no meaningful length.
                    self.last_key_ms = None;
                    self.frames_since_key = None;
                }
            }
            self.first_ms.get_or_insert(t);
            self.last_ms = Some(t);
        }
        if let Some(e) = end_ms {
            self.end_ms = Some(self.end_ms.map_or(e, |x| x.max(e)));
        }
        if key {
            self.keyframes += 1;
            if let (Some(n), Some(prev), Some(t)) = (self.frames_since_key, self.last_key_ms, t_ms)
            {
                let g = self.gop.get_or_insert(Gop {
                    frames: n,
                    seconds: 0.0,
                    min_frames: n,
                    max_frames: n,
                    count: 0,
                });
                g.frames = n;
                g.seconds = ((t - prev) / 10.0).round() / 100.0;
                g.min_frames = g.min_frames.min(n);
                g.max_frames = g.max_frames.max(n);
                g.count += 1;
            }
            self.frames_since_key = Some(1);
            self.last_key_ms = t_ms;
        } else if let Some(n) = self.frames_since_key.as_mut() {
            *n += 1;
        }
    }

    pub fn gop(&self) -> Option<Gop> {
        self.gop.clone()
    }

    /// `t_ms` on a timeline with this stream's discontinuities taken out.
    pub fn continuous_ms(&self, t_ms: f64) -> f64 {
        t_ms - self.jumped_ms
    }

    /// Media time this stream advanced, discontinuities taken out.
    pub fn advanced_ms(&self) -> Option<f64> {
        Some(self.last_ms? - self.first_ms? - self.jumped_ms)
    }

    /// Media time advanced per wall-clock time between the first and the
    /// latest packet; None over less than a second.
    pub fn realtime_ratio(&self) -> Option<f64> {
        let wall = self.last_wall_ms?.checked_sub(self.first_wall_ms?)?;
        let advanced = self.advanced_ms()?;
        (wall >= 1000).then(|| (advanced / wall as f64 * 100.0).round() / 100.0)
    }
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct AvOffset {
    pub video_stream: usize,
    pub audio_stream: usize,
    /// Audio start minus video start (the streams' `start_time`), ms.
    pub start_offset_ms: Option<f64>,
    /// Audio dts minus the latest video dts when each audio packet was read:
    /// how far apart the muxer interleaves them.
    pub interleave_mean_ms: Option<f64>,
    pub interleave_max_ms: Option<f64>,
}

/// Audio-against-video interleaving.
#[derive(Debug, Clone, Default)]
pub struct Interleave {
    last_video_ms: Option<f64>,
    sum: f64,
    max_abs: f64,
    n: u64,
}

impl Interleave {
    pub fn video(&mut self, t_ms: f64) {
        self.last_video_ms = Some(t_ms);
    }

    pub fn audio(&mut self, t_ms: f64) {
        if let Some(v) = self.last_video_ms {
            let d = t_ms - v;
            // Across a discontinuity the two are on different timelines.
            if d.abs() < 10_000.0 {
                self.sum += d;
                self.max_abs = self.max_abs.max(d.abs());
                self.n += 1;
            }
        }
    }

    pub fn mean_ms(&self) -> Option<f64> {
        (self.n > 0).then(|| round1(self.sum / self.n as f64))
    }

    pub fn max_abs_ms(&self) -> Option<f64> {
        (self.n > 0).then(|| round1(self.max_abs))
    }
}

pub fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

/// Arrival times of the bytes of a stream read in order: `(end offset, ms)`
/// per chunk. Lets a demuxed packet (which knows its byte position) be
/// dated by when its bytes came off the wire rather than when the demuxer
/// got round to it.
#[derive(Debug, Default)]
pub struct ArrivalLog {
    chunks: VecDeque<(u64, u64)>,
    end: u64,
}

impl ArrivalLog {
    pub fn push(&mut self, len: usize, at_ms: u64) {
        self.end += len as u64;
        self.chunks.push_back((self.end, at_ms));
    }

    /// When the byte at `offset` arrived; None if it has not (yet) or was
    /// forgotten. Entries wholly before `offset - 4 MiB` are forgotten, so
    /// the log stays small on long probes.
    pub fn when(&mut self, offset: u64) -> Option<u64> {
        let horizon = offset.saturating_sub(4 << 20);
        while self.chunks.len() > 1 && self.chunks.front().is_some_and(|c| c.0 <= horizon) {
            self.chunks.pop_front();
        }
        let i = self.chunks.partition_point(|c| c.0 <= offset);
        self.chunks.get(i).map(|c| c.1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_mean_min_max() {
        let mut w = Windows::default();
        for ms in (0..3000).step_by(100) {
            w.add(1000.0 + ms as f64, if ms < 1000 { 100 } else { 200 });
        }
        let s = w.summary(4000.0).expect("summary");
        assert_eq!(s.windows, 3);
        assert_eq!(s.min_bps, Some(8000));
        assert_eq!(s.max_bps, Some(16000));
        assert_eq!(s.mean_bps, (5000 * 8) / 3);
        // Before any window completes the mean covers the span.
        let mut short = Windows::default();
        for ms in (0..500).step_by(100) {
            short.add(ms as f64, 100);
        }
        let s = short.summary(500.0).expect("summary");
        assert_eq!((s.windows, s.min_bps, s.max_bps), (0, None, None));
        assert_eq!(s.mean_bps, 500 * 8 * 1000 / 500);
        let partial = w.summary(2500.0).expect("summary");
        assert_eq!(
            partial.windows, 1,
            "only the first window is complete at 1.5 s"
        );
    }

    /// Issue 14: a live probe reported `"max_bps":559488,"mean_bps":570967`.
    /// The mean spanned the partial last window, min and max only the
    /// complete ones, so a burst just before the end lifted the mean alone.
    #[test]
    fn windows_mean_within_min_max_with_a_burst_in_the_partial_window_issue_14() {
        let mut w = Windows::default();
        for ms in (0..3000).step_by(100) {
            w.add(ms as f64, 70_000 / 10);
        }
        // 3.0 s to 3.2 s: a keyframe's worth arrives in one go.
        w.add(3050.0, 40_000);
        let s = w.summary(3200.0).expect("summary");
        assert_eq!(s.windows, 3);
        assert_eq!((s.min_bps, s.max_bps), (Some(560_000), Some(560_000)));
        let (lo, hi) = (s.min_bps.unwrap(), s.max_bps.unwrap());
        assert!(lo <= s.mean_bps && s.mean_bps <= hi, "{s:?}");
        assert_eq!(s.bytes, 210_000 + 40_000, "bytes counts every window");
    }

    #[test]
    fn gaps_report_stalls_and_an_ongoing_one() {
        let mut g = Gaps::new(1000);
        for t in [100, 150, 200, 1700, 1750] {
            g.arrive(t);
        }
        let s = g.finish(3000);
        assert_eq!(
            s,
            vec![
                Stall {
                    at_ms: 200,
                    duration_ms: 1500,
                    ongoing: false
                },
                Stall {
                    at_ms: 1750,
                    duration_ms: 1250,
                    ongoing: true
                },
            ]
        );
        assert!(
            Gaps::new(1000).finish(10_000).is_empty(),
            "no data at all is not a stall"
        );
    }

    #[test]
    fn track_measures_gop_and_jumps() {
        let mut t = Track::new(0);
        let mut ms = 0.0;
        for i in 0..160u64 {
            t.packet(Some(ms), Some(ms + 40.0), 10, i % 50 == 0, i);
            ms += 40.0;
            if i == 120 {
                ms += 5000.0;
            }
        }
        let gop = t.gop().expect("gop");
        assert_eq!((gop.frames, gop.seconds, gop.count), (50, 2.0, 2));
        assert_eq!(t.discontinuities.len(), 1);
        assert_eq!(t.discontinuities[0].jump_ms, 5040);
        assert_eq!(t.advanced_ms(), Some(159.0 * 40.0 + 5000.0 - 5040.0));
    }

    #[test]
    fn backwards_time_is_a_discontinuity() {
        let mut t = Track::new(1);
        t.packet(Some(20_000.0), None, 1, true, 5);
        t.packet(Some(0.0), None, 1, true, 6);
        assert_eq!(t.discontinuities[0].jump_ms, -20_000);
    }

    #[test]
    fn arrival_log_dates_offsets() {
        let mut a = ArrivalLog::default();
        a.push(100, 10);
        a.push(100, 20);
        assert_eq!(a.when(0), Some(10));
        assert_eq!(a.when(99), Some(10));
        assert_eq!(a.when(100), Some(20));
        assert_eq!(a.when(200), None);
    }

    #[test]
    fn interleave() {
        let mut i = Interleave::default();
        assert_eq!(i.mean_ms(), None);
        i.video(1000.0);
        i.audio(980.0);
        i.audio(1060.0);
        assert_eq!(i.mean_ms(), Some(20.0));
        assert_eq!(i.max_abs_ms(), Some(60.0));
    }
}
