//! The splice: one MPEG-TS output muxer per session, fed by whichever input
//! is live. Streams are mapped by media type (first video, first audio;
//! extras dropped), timestamps are rebased with one offset per input so A/V
//! sync survives a switch, jumps inside an input are absorbed, and a final
//! guard keeps DTS strictly increasing. Only a codec change forces a new
//! muxer (PAT/PMT version bump, discontinuity flagged).

use std::io::Write;
use std::sync::Arc;

use ffmpeg::codec::{self, Parameters};
use ffmpeg::format::context::{Input, Output, StreamIo};
use ffmpeg::media::Type as MediaType;
use ffmpeg::{Packet, Rational};
use ffmpeg_next as ffmpeg;

use super::ring::Ring;

/// Output time base of the mpegts muxer.
pub const TB90K: Rational = Rational(1, 90_000);
/// A jump forward larger than this inside one input is a discontinuity.
const JUMP_FORWARD: i64 = 10 * 90_000;
/// Going back by more than this inside one input is a discontinuity.
const JUMP_BACK: i64 = 90_000;
/// Whether a DTS step inside one input is a discontinuity.
pub fn is_jump(step: i64) -> bool {
    !(-JUMP_BACK..=JUMP_FORWARD).contains(&step)
}

/// Packets held at most while waiting for every mapped stream to show one.
const MAX_HELD: usize = 600;
/// AVIO buffer: a multiple of 188 so flushes fall on TS packet boundaries.
const IO_BUFFER: usize = 188 * 100;

#[derive(Debug, thiserror::Error)]
pub enum RemuxError {
    #[error("input has neither audio nor video")]
    NoStreams,
    #[error("packet written before an input was attached")]
    NoMuxer,
    #[error("muxer error while {op}: {source}")]
    Ffmpeg {
        op: &'static str,
        source: ffmpeg::Error,
    },
}

fn ff(op: &'static str) -> impl FnOnce(ffmpeg::Error) -> RemuxError {
    move |source| RemuxError::Ffmpeg { op, source }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Video = 0,
    Audio = 1,
}

const KINDS: [Kind; 2] = [Kind::Video, Kind::Audio];

#[derive(Clone)]
struct SrcTrack {
    index: usize,
    time_base: Rational,
    params: Parameters,
}

/// A jump absorbed on one stream, waiting for the others to show it.
#[derive(Debug, Clone, Copy)]
struct PendingJump {
    delta: i64,
    applied: [bool; 2],
    /// Packets of the other streams seen still on the old timeline.
    waited: u32,
}

/// Packets a stream may stay on the old timeline after another stream
/// jumped before the jump is taken to concern that stream only.
const JUMP_FOLLOW_PACKETS: u32 = 500;

/// How one input's streams map onto the output, and its timestamp state.
pub struct InputMap {
    src: [Option<SrcTrack>; 2],
    /// Streams of the input that are not mapped (extra audio, subtitles, data).
    pub dropped_streams: usize,
    /// One offset per input, in 90 kHz; per-kind copies only differ while a
    /// jump has been absorbed on one stream and not yet on the other.
    offset: Option<[i64; 2]>,
    held: Vec<(Kind, Packet)>,
    last_in: [Option<i64>; 2],
    /// Largest input PTS + duration per stream since the last jump.
    pts_end_in: [Option<i64>; 2],
    jump: Option<PendingJump>,
    /// Input DTS of the video keyframe this input starts at.
    key_dts: Option<i64>,
    /// Audio timed before the keyframe fills the time since the previous
    /// input's last audio (set at the splice when there was one).
    fill_audio: bool,
    /// Jumps absorbed inside this input (wrap, loop, encoder restart).
    pub jumps: u64,
}

impl InputMap {
    pub fn new(input: &Input) -> Result<Self, RemuxError> {
        let mut src: [Option<SrcTrack>; 2] = [None, None];
        let mut dropped = 0;
        for s in input.streams() {
            let kind = match s.parameters().medium() {
                MediaType::Video => Kind::Video,
                MediaType::Audio => Kind::Audio,
                _ => {
                    dropped += 1;
                    continue;
                }
            };
            let slot = &mut src[kind as usize];
            if slot.is_none() && s.parameters().id() != codec::Id::None {
                *slot = Some(SrcTrack {
                    index: s.index(),
                    time_base: s.time_base(),
                    params: s.parameters(),
                });
            } else {
                dropped += 1;
            }
        }
        if src.iter().all(Option::is_none) {
            return Err(RemuxError::NoStreams);
        }
        Ok(Self {
            src,
            dropped_streams: dropped,
            offset: None,
            held: Vec::new(),
            last_in: [None; 2],
            pts_end_in: [None; 2],
            jump: None,
            jumps: 0,
            key_dts: None,
            fill_audio: false,
        })
    }

    /// Codec parameters of the input stream mapped to `kind`.
    pub fn params(&self, kind: Kind) -> Option<Parameters> {
        self.src[kind as usize].as_ref().map(|t| t.params.clone())
    }

    /// The output kind of an input stream index, if mapped.
    pub fn kind_of(&self, stream_index: usize) -> Option<Kind> {
        KINDS.into_iter().find(|k| {
            self.src[*k as usize]
                .as_ref()
                .is_some_and(|t| t.index == stream_index)
        })
    }

    pub fn has(&self, kind: Kind) -> bool {
        self.src[kind as usize].is_some()
    }

    pub fn codec(&self, kind: Kind) -> Option<codec::Id> {
        self.src[kind as usize].as_ref().map(|t| t.params.id())
    }

    pub fn video_size(&self) -> Option<(i32, i32)> {
        self.src[0]
            .as_ref()
            .map(|t| super::input::video_size(&t.params))
    }

    /// Converts a demuxed packet to 90 kHz, tagged with its output kind.
    /// `None` for streams that are not mapped or packets without timestamps.
    pub fn prepare(&self, mut pkt: Packet) -> Option<(Kind, Packet)> {
        let kind = self.kind_of(pkt.stream())?;
        let tb = self.src[kind as usize].as_ref()?.time_base;
        pkt.rescale_ts(tb, TB90K);
        if pkt.dts().is_none() {
            pkt.set_dts(pkt.pts());
        }
        pkt.dts()?;
        if pkt.pts().is_none() {
            pkt.set_pts(pkt.dts());
        }
        Some((kind, pkt))
    }
}

#[derive(Default, Clone, Copy, Debug)]
struct OutTrack {
    index: usize,
    last_dts: Option<i64>,
    /// Largest pts + duration written.
    max_pts_end: Option<i64>,
    last_dur: i64,
}

/// What attaching an input did to the output.
#[derive(Debug, Clone, PartialEq)]
pub enum Attach {
    /// The first muxer of the session.
    First,
    /// Same codecs: the muxer, its PIDs and continuity counters carry on.
    Continued,
    /// A new muxer (codec or layout change); PAT/PMT version bumped.
    NewMuxer { reason: String },
}

/// Measured at the first packet written after a splice.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct SpliceReport {
    /// Output DTS step on the video stream across the splice, in ms.
    pub video_dts_step_ms: f64,
    /// Audio DTS minus video DTS (ms) of the last packets before and the
    /// first packets after the splice.
    pub av_offset_before_ms: Option<f64>,
    pub av_offset_after_ms: Option<f64>,
}

struct RingWriter(Arc<Ring>);

impl Write for RingWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.push(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Owns the output muxer for a session's whole life.
pub struct Remuxer {
    ring: Arc<Ring>,
    out: Option<Output>,
    /// Codecs of the current muxer's (video, audio) streams.
    layout: [Option<codec::Id>; 2],
    tracks: [Option<OutTrack>; 2],
    tables_version: i32,
    /// A muxer was opened before (even if it is gone after an error).
    had_muxer: bool,
    /// Set at an attach after the first; filled at the first write.
    pending_splice: Option<(Option<i64>, Option<f64>)>,
    pub last_splice: Option<SpliceReport>,
    /// Which output streams have been written since the last splice.
    since_splice: [bool; 2],
    pub packets_out: u64,
    /// Video packets whose DTS had to be pushed forward.
    pub clamped: u64,
    /// Audio packets dropped because they would have gone back in time.
    pub dropped: u64,
}

impl Remuxer {
    pub fn new(ring: Arc<Ring>) -> Self {
        Self {
            ring,
            out: None,
            layout: [None, None],
            tracks: [None, None],
            tables_version: 0,
            had_muxer: false,
            pending_splice: None,
            last_splice: None,
            since_splice: [false; 2],
            packets_out: 0,
            clamped: 0,
            dropped: 0,
        }
    }

    /// Makes `map` the live input: reuses the muxer when the codecs match,
    /// otherwise starts a new one on the same ring.
    pub fn attach(&mut self, map: &mut InputMap) -> Result<Attach, RemuxError> {
        let wanted = [map.codec(Kind::Video), map.codec(Kind::Audio)];
        let result = if self.out.is_none() && !self.had_muxer {
            self.open_muxer(map, false)?;
            Attach::First
        } else if wanted == self.layout && self.out.is_some() {
            Attach::Continued
        } else if self.out.is_none() {
            self.open_muxer(map, true)?;
            Attach::NewMuxer {
                reason: "the previous muxer failed".into(),
            }
        } else {
            let reason = format!(
                "layout changed: video {:?} → {:?}, audio {:?} → {:?}",
                self.layout[0], wanted[0], self.layout[1], wanted[1]
            );
            if let Some(mut old) = self.out.take() {
                let _ = old.write_trailer();
            }
            // Also after a muxer that failed to open: the continuity
            // counters restart, so the discontinuity must be flagged.
            self.open_muxer(map, true)?;
            Attach::NewMuxer { reason }
        };
        if result != Attach::First {
            let v = self.tracks[0].and_then(|t| t.last_dts);
            self.pending_splice = Some((v, self.av_offset()));
            self.since_splice = [false; 2];
        }
        map.offset = None;
        Ok(result)
    }

    /// The newest output DTS (90 kHz) of the video stream, else audio.
    pub fn newest_dts(&self) -> Option<i64> {
        self.tracks[0]
            .and_then(|t| t.last_dts)
            .or_else(|| self.tracks[1].and_then(|t| t.last_dts))
    }

    fn av_offset(&self) -> Option<f64> {
        let v = self.tracks[0]?.last_dts?;
        let a = self.tracks[1]?.last_dts?;
        Some((a - v) as f64 / 90.0)
    }

    fn open_muxer(&mut self, map: &InputMap, bump: bool) -> Result<(), RemuxError> {
        let io = StreamIo::from_write_with_capacity(RingWriter(Arc::clone(&self.ring)), IO_BUFFER)
            .map_err(ff("creating IO"))?;
        let mut out = ffmpeg::format::output_to_stream(io, None, Some("mpegts"))
            .map_err(ff("creating muxer"))?;
        let mut indices = [0usize; 2];
        for kind in KINDS {
            if let Some(t) = &map.src[kind as usize] {
                let mut st = out
                    .add_stream(ffmpeg::encoder::find(codec::Id::None))
                    .map_err(ff("adding stream"))?;
                st.set_parameters(t.params.clone());
                // SAFETY: the stream's codecpar is valid and owned by `out`;
                // a codec tag from another container must not be copied.
                unsafe { (*st.parameters().as_mut_ptr()).codec_tag = 0 };
                st.set_time_base(TB90K);
                indices[kind as usize] = st.index();
            }
        }
        if bump {
            self.tables_version = (self.tables_version + 1) % 32;
        }
        let mut opts = ffmpeg::Dictionary::new();
        opts.set("max_delay", "700000");
        opts.set("flush_packets", "1");
        opts.set("tables_version", &self.tables_version.to_string());
        if bump {
            opts.set("mpegts_flags", "+resend_headers+initial_discontinuity");
        }
        out.write_header_with(opts).map_err(ff("writing header"))?;
        for kind in KINDS {
            let i = kind as usize;
            self.tracks[i] = map.src[i].as_ref().map(|_| OutTrack {
                index: indices[i],
                // Timelines carry over from the previous muxer of the session.
                ..self.tracks[i].unwrap_or_default()
            });
        }
        self.layout = [map.codec(Kind::Video), map.codec(Kind::Audio)];
        self.out = Some(out);
        self.had_muxer = true;
        Ok(())
    }

    /// Writes one prepared packet of `map` (see [`InputMap::prepare`]).
    /// Returns true when packets reached the muxer (false while holding).
    pub fn write(
        &mut self,
        map: &mut InputMap,
        kind: Kind,
        pkt: Packet,
    ) -> Result<bool, RemuxError> {
        if map.offset.is_none() {
            map.held.push((kind, pkt));
            // The video keyframe (the session and the standby hand packets
            // over from one) fixes the offset: video's terms decide it,
            // and audio timed before the keyframe is dropped anyway, so
            // waiting for an audio packet would only delay the first byte.
            let ready = !map.has(Kind::Video) || map.held.iter().any(|(k, _)| *k == Kind::Video);
            if !ready && map.held.len() < MAX_HELD {
                return Ok(false);
            }
            // Audio timed before the keyframe belongs to the previous GOP:
            // it must not pull the offset back (that would step the video
            // forward), so the offset is computed without it. After a
            // splice it then fills the time between the previous input's
            // last audio and the keyframe (the write guard keeps what
            // lands after that audio); on the first input it is dropped.
            let key_dts = map
                .held
                .iter()
                .find(|(k, _)| *k == Kind::Video)
                .and_then(|(_, p)| p.dts());
            map.key_dts = key_dts;
            map.fill_audio =
                self.tracks[Kind::Audio as usize].is_some_and(|t| t.last_dts.is_some());
            let before_key = |k: Kind, p: &Packet| {
                k == Kind::Audio && key_dts.is_some_and(|kd| p.dts().is_some_and(|d| d < kd))
            };
            if !map.fill_audio {
                let before = map.held.len();
                map.held.retain(|(k, p)| !before_key(*k, p));
                self.dropped += (before - map.held.len()) as u64;
            }
            let basis: Vec<(Kind, Option<i64>, Option<i64>)> = map
                .held
                .iter()
                .filter(|(k, p)| !before_key(*k, p))
                .map(|(k, p)| (*k, p.dts(), p.pts()))
                .collect();
            map.offset = Some([self.initial_offset(&basis); 2]);
            for (k, p) in std::mem::take(&mut map.held) {
                self.write_one(map, k, p)?;
            }
            return Ok(true);
        }
        self.write_one(map, kind, pkt)?;
        Ok(true)
    }

    /// The splice rule (docs/design/splice.md): one offset for all streams of the input,
    /// large enough that neither DTS nor presentation time steps back.
    /// Each stream's terms compare its own first new packet with its own
    /// last output: comparing audio's first PTS with video's reordered
    /// largest PTS would push video forward by the reorder depth (measured:
    /// 3 frames instead of 1 at the splice).
    /// `held`: (kind, dts, pts) of the new input's first packets.
    fn initial_offset(&self, held: &[(Kind, Option<i64>, Option<i64>)]) -> i64 {
        let first_dts = held.iter().filter_map(|h| h.1).min().unwrap_or(0);
        let mut off: Option<i64> = None;
        for kind in KINDS {
            let Some(t) = self.tracks[kind as usize] else {
                continue;
            };
            let mine = held.iter().filter(|h| h.0 == kind);
            let (Some(fd), Some(fp)) = (
                mine.clone().filter_map(|h| h.1).min(),
                mine.filter_map(|h| h.2).min(),
            ) else {
                continue;
            };
            if let Some(d) = t.last_dts {
                off = off.max(Some(d + t.last_dur.max(1) - fd));
            }
            if let Some(p) = t.max_pts_end {
                off = off.max(Some(p - fp));
            }
        }
        off.unwrap_or(-first_dts)
    }

    /// Absorbs a timestamp jump inside one input with a single delta for
    /// all its streams: the first stream to jump sets the delta; each other
    /// stream takes it at its first packet that lies closer to the new
    /// timeline than to the old one (so a jump just under the threshold on
    /// one stream and just over it on another cannot split A/V).
    /// Each stream's own delta is the largest that steps neither its DTS
    /// nor its presentation time back (`pts_end_in`: the largest input
    /// PTS + duration before the jump); when a following stream needs a
    /// smaller one than the stream that set it, both take the smaller (the
    /// first stream then gets a gap, never a step back, and A/V stays as
    /// in the input). Measured: an encoder restart cut where the audio
    /// ran ahead of the video set the delta from audio and stepped video
    /// back by two frames (`non monotonically increasing dts` in ffmpeg).
    fn absorb_jump(map: &mut InputMap, kind: Kind, dts_in: i64, pts_in: i64, dur: i64) {
        let i = kind as usize;
        let Some(last) = map.last_in[i] else { return };
        let Some(off) = map.offset.as_mut() else {
            return;
        };
        let expected = last + dur.max(1);
        let own = |pts_end: Option<i64>| {
            let d = dts_in - expected;
            pts_end.map_or(d, |e| d.min(pts_in - e))
        };
        if let Some(pending) = map.jump.as_mut()
            && !pending.applied[i]
        {
            if (dts_in - (expected + pending.delta)).abs() < (dts_in - expected).abs() {
                let mine = own(map.pts_end_in[i]);
                if mine < pending.delta {
                    for k in KINDS {
                        if pending.applied[k as usize] && k != kind {
                            off[k as usize] += pending.delta - mine;
                        }
                    }
                    pending.delta = mine;
                }
                off[i] -= pending.delta;
                pending.applied[i] = true;
                map.pts_end_in[i] = None;
            } else {
                pending.waited += 1;
            }
            // Done when every stream followed, or when one never does.
            if pending.applied.iter().all(|a| *a) || pending.waited > JUMP_FOLLOW_PACKETS {
                map.jump = None;
            }
            return;
        }
        let step = dts_in - last;
        if !is_jump(step) {
            return;
        }
        let delta = own(map.pts_end_in[i]);
        map.pts_end_in[i] = None;
        off[i] -= delta;
        let mut applied = [true; 2];
        for k in KINDS {
            applied[k as usize] = k == kind || !map.has(k);
        }
        map.jumps += 1;
        map.jump = (!applied.iter().all(|a| *a)).then_some(PendingJump {
            delta,
            applied,
            waited: 0,
        });
    }

    fn write_one(
        &mut self,
        map: &mut InputMap,
        kind: Kind,
        mut pkt: Packet,
    ) -> Result<(), RemuxError> {
        let i = kind as usize;
        let Some(mut track) = self.tracks[i] else {
            return Ok(());
        };
        let (Some(dts_in), Some(pts_in)) = (pkt.dts(), pkt.pts()) else {
            return Ok(());
        };
        let dur = if pkt.duration() > 0 {
            pkt.duration()
        } else {
            track.last_dur.max(1)
        };
        Self::absorb_jump(map, kind, dts_in, pts_in, dur);
        map.last_in[i] = Some(dts_in);
        map.pts_end_in[i] = Some(map.pts_end_in[i].map_or(pts_in + dur, |e| e.max(pts_in + dur)));
        // Audio timed before the first input's keyframe, arriving after
        // it (after a splice such audio fills, see `write`).
        if kind == Kind::Audio
            && !map.fill_audio
            && map.jumps == 0
            && map.key_dts.is_some_and(|k| dts_in < k)
        {
            self.dropped += 1;
            return Ok(());
        }
        let off = map.offset.map(|o| o[i]).unwrap_or(0);
        let mut dts = dts_in + off;
        let mut pts = pts_in + off;
        if let Some(last) = track.last_dts {
            if kind == Kind::Audio && dts < last + track.last_dur.max(2) / 2 {
                // Audio frames stand alone: dropping one that would go back
                // in time or overlap the previous one by more than half
                // (around a splice or a jump) beats squeezing it in with a
                // fake timestamp a decoder then trips over. What is left
                // of a gap is then under one frame.
                self.dropped += 1;
                return Ok(());
            }
            if dts <= last {
                dts = last + 1;
                self.clamped += 1;
            }
        }
        if pts < dts {
            pts = dts;
        }
        if let Some((v_before, av_before)) = self.pending_splice
            && kind == Kind::Video
        {
            let step = v_before.map(|v| (dts - v) as f64 / 90.0).unwrap_or(0.0);
            self.last_splice = Some(SpliceReport {
                video_dts_step_ms: step,
                av_offset_before_ms: av_before,
                av_offset_after_ms: None,
            });
            self.pending_splice = None;
        }
        pkt.set_dts(Some(dts));
        pkt.set_pts(Some(pts));
        pkt.set_duration(dur);
        pkt.set_stream(track.index);
        pkt.set_position(-1);
        let Some(out) = self.out.as_mut() else {
            return Err(RemuxError::NoMuxer);
        };
        pkt.write(out).map_err(ff("writing packet"))?;
        track.last_dts = Some(dts);
        track.last_dur = dur;
        track.max_pts_end = Some(track.max_pts_end.unwrap_or(i64::MIN).max(pts + dur));
        self.tracks[i] = Some(track);
        self.packets_out += 1;
        self.since_splice[i] = true;
        let all_seen = KINDS
            .iter()
            .all(|k| self.tracks[*k as usize].is_none() || self.since_splice[*k as usize]);
        let av = self.av_offset();
        if let Some(r) = self.last_splice.as_mut()
            && r.av_offset_after_ms.is_none()
            && all_seen
        {
            r.av_offset_after_ms = av;
        }
        Ok(())
    }

    /// Flushes the muxer at the end of the session.
    pub fn finish(&mut self) {
        if let Some(mut out) = self.out.take() {
            let _ = out.write_trailer();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map_av() -> InputMap {
        let track = |medium| {
            let mut params = Parameters::new();
            params.set_medium(medium);
            Some(SrcTrack {
                index: 0,
                time_base: TB90K,
                params,
            })
        };
        InputMap {
            src: [track(MediaType::Video), track(MediaType::Audio)],
            dropped_streams: 0,
            offset: Some([0, 0]),
            held: Vec::new(),
            last_in: [Some(1_000_000), Some(1_000_000)],
            pts_end_in: [None; 2],
            jump: None,
            jumps: 0,
            key_dts: None,
            fill_audio: false,
        }
    }

    /// A jump just over the threshold on video (40 ms frames) and just
    /// under it on audio (21 ms frames) moves both by the same delta.
    #[test]
    fn jump_near_threshold_moves_both_streams() {
        let mut m = map_av();
        let j = 897_300; // 9.97 s
        Remuxer::absorb_jump(
            &mut m,
            Kind::Video,
            1_000_000 + 3600 + j,
            1_000_000 + 3600 + j,
            3600,
        );
        assert_eq!(m.jumps, 1);
        Remuxer::absorb_jump(
            &mut m,
            Kind::Audio,
            1_000_000 + 1920 + j,
            1_000_000 + 1920 + j,
            1920,
        );
        assert_eq!(m.offset, Some([-j, -j]));
        assert!(m.jump.is_none());
    }

    /// Audio still on the old timeline waits; its first packet on the new
    /// one takes the delta. A 33-bit wrap is a jump back by 2^33.
    #[test]
    fn other_stream_follows_when_it_reaches_the_new_timeline() {
        let mut m = map_av();
        let wrap = 1i64 << 33;
        m.last_in = [Some(wrap - 3600), Some(wrap - 5000)];
        Remuxer::absorb_jump(&mut m, Kind::Video, 0, 0, 3600);
        Remuxer::absorb_jump(
            &mut m,
            Kind::Audio,
            wrap - 5000 + 1920,
            wrap - 5000 + 1920,
            1920,
        );
        assert_eq!(
            m.offset,
            Some([wrap, 0]),
            "audio not moved while on the old timeline"
        );
        m.last_in[1] = Some(wrap - 3080);
        Remuxer::absorb_jump(
            &mut m,
            Kind::Audio,
            1920 - 3080 + 1920,
            1920 - 3080 + 1920,
            1920,
        );
        assert_eq!(m.offset, Some([wrap, wrap]));
        assert_eq!(m.jumps, 1);
    }

    /// Audio jumps first with a delta that would put video back: video
    /// takes its own smaller delta and audio moves along (a gap, not a
    /// step back). Video's PTS term counts (a keyframe shown 2 frames
    /// after its DTS, the frames before it shown up to 3 frames later).
    #[test]
    fn follower_needing_a_smaller_delta_moves_both_issue15() {
        let mut m = map_av();
        m.pts_end_in = [Some(1_000_000 + 5 * 3600), Some(1_000_000 + 1920)];
        let back = 12 * 90_000;
        Remuxer::absorb_jump(
            &mut m,
            Kind::Audio,
            1_000_000 + 1920 - back,
            1_000_000 + 1920 - back,
            1920,
        );
        assert_eq!(m.offset, Some([0, back]));
        // Video's first new frame: DTS one frame on, PTS two frames later.
        let (d, p) = (1_000_000 + 3600 - back, 1_000_000 + 3 * 3600 - back);
        Remuxer::absorb_jump(&mut m, Kind::Video, d, p, 3600);
        let mine = (d - (1_000_000 + 3600)).min(p - (1_000_000 + 5 * 3600));
        assert_eq!(mine, -back - 2 * 3600, "the PTS term decides");
        assert_eq!(m.offset, Some([-mine, -mine]), "audio moved along");
        assert!(m.jump.is_none());
    }

    #[test]
    fn small_steps_are_not_jumps() {
        let mut m = map_av();
        Remuxer::absorb_jump(
            &mut m,
            Kind::Video,
            1_000_000 + 3600,
            1_000_000 + 3600,
            3600,
        );
        Remuxer::absorb_jump(
            &mut m,
            Kind::Audio,
            1_000_000 - 20_000,
            1_000_000 - 20_000,
            1920,
        );
        assert_eq!((m.jumps, m.offset), (0, Some([0, 0])));
    }
}
