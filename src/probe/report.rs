//! The probe's report: the data (serialised as `--json`: ffprobe's `format`,
//! `programs`, `streams`, plus our `health`) and its compact human form,
//! meant to be pasted into a bug report. Every URL in here has already been
//! through `redact()`.

use std::io::Write;

use ffmpeg_next::format::context::Input;
use serde::Serialize;

use super::continuity::Continuity;
use super::describe::{Format, Program, Stream, describe, kbps};
use super::source::HttpInfo;
use super::stats::{AvOffset, BitrateSummary, Discontinuity, Gaps, Gop, Stall, Windows, round1};
use super::types::{End, Observed};

/// What the input is: known as soon as it is open.
#[derive(Debug, Clone, Serialize)]
pub struct Described {
    pub format: Format,
    pub programs: Vec<Program>,
    pub streams: Vec<Stream>,
    /// Shown early by the human report; in JSON it lives in `health.http`.
    #[serde(skip)]
    pub http: Option<HttpInfo>,
}

pub fn described(input: &Input, shown: &str, http: Option<&HttpInfo>) -> Described {
    let (format, programs, streams) = describe(input, shown);
    Described {
        format,
        programs,
        streams,
        http: http.cloned(),
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    #[serde(flatten)]
    pub described: Described,
    pub health: Health,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Timing {
    /// DNS + TCP (+ TLS) done.
    pub connect: Option<u64>,
    /// HTTP response headers received.
    pub response: Option<u64>,
    pub first_byte: Option<u64>,
    /// Input open and its streams known (libavformat's stream analysis,
    /// which waits for the first video keyframe).
    pub open: Option<u64>,
    /// When the bytes of the first demuxed packet arrived.
    pub first_packet: Option<u64>,
    /// When the first video keyframe had fully arrived.
    pub first_keyframe: Option<u64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Bitrate {
    /// "wire": bytes received per wall-clock second; "media": packet
    /// payload bytes per second of media time.
    pub basis: &'static str,
    #[serde(flatten)]
    pub summary: BitrateSummary,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Stalls {
    pub measured: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// "bytes": gaps between received chunks; "packets": between demuxed
    /// packets.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub basis: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub threshold_ms: Option<u64>,
    pub count: usize,
    pub total_ms: u64,
    pub events: Vec<Stall>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PidReport {
    pub pid: String,
    pub packets: u64,
    pub errors: u64,
    pub duplicates: u64,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct ContinuityReport {
    pub measured: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub errors: u64,
    pub duplicates: u64,
    pub sync_losses: u64,
    pub transport_errors: u64,
    pub packets: u64,
    pub pids: Vec<PidReport>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PacketCount {
    pub index: usize,
    pub packets: u64,
    pub bytes: u64,
    pub keyframes: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Health {
    /// The input (redacted).
    pub input: String,
    pub live: bool,
    /// "direct": bytes read by StreamForge and handed to libavformat;
    /// "libavformat": its own IO (HLS, other protocols).
    pub io: &'static str,
    /// Wall-clock time from the start of the probe to the end of reading.
    pub observed_ms: u64,
    /// Media time read, discontinuities taken out.
    pub media_ms: Option<u64>,
    pub end: String,
    pub http: Option<HttpInfo>,
    /// Milliseconds since the probe started.
    pub timing_ms: Timing,
    pub bitrate: Option<Bitrate>,
    /// Of the first video stream.
    pub gop: Option<Gop>,
    pub stalls: Stalls,
    pub continuity: ContinuityReport,
    pub discontinuities: Vec<Discontinuity>,
    pub av: Option<AvOffset>,
    /// Media time advanced per wall-clock time (live inputs).
    pub realtime_ratio: Option<f64>,
    pub packets: Vec<PacketCount>,
}

impl Health {
    pub fn new(input: &str, live: bool, io: &'static str, obs: &Observed, end_ms: u64) -> Self {
        let mut discontinuities: Vec<Discontinuity> = obs
            .tracks
            .iter()
            .flat_map(|t| t.discontinuities.iter().cloned())
            .collect();
        discontinuities.sort_by_key(|d| d.at_ms);
        let main = obs.video.or(obs.audio).and_then(|i| obs.tracks.get(i));
        Self {
            input: input.to_string(),
            live,
            io,
            observed_ms: end_ms,
            media_ms: obs
                .media
                .origin_ms()
                .map(|o| (obs.media_end_ms() - o).max(0.0) as u64),
            end: obs.end.text(),
            http: None,
            timing_ms: Timing {
                first_packet: obs.first_packet_ms,
                first_keyframe: obs.first_keyframe_ms,
                ..Timing::default()
            },
            bitrate: None,
            gop: obs
                .video
                .and_then(|v| obs.tracks.get(v))
                .and_then(|t| t.gop()),
            stalls: Stalls::default(),
            continuity: ContinuityReport::default(),
            discontinuities,
            av: None,
            realtime_ratio: if live {
                main.and_then(|t| t.realtime_ratio())
            } else {
                None
            },
            packets: obs
                .tracks
                .iter()
                .map(|t| PacketCount {
                    index: t.index,
                    packets: t.packets,
                    bytes: t.bytes,
                    keyframes: t.keyframes,
                })
                .collect(),
        }
    }

    pub fn set_wire_bitrate(&mut self, w: &Windows, end_ms: f64) {
        self.bitrate = w.summary(end_ms).map(|summary| Bitrate {
            basis: "wire",
            summary,
        });
    }

    pub fn set_media_bitrate(&mut self, w: &Windows, end_ms: f64) {
        self.bitrate = w.summary(end_ms).map(|summary| Bitrate {
            basis: "media",
            summary,
        });
    }

    pub fn set_stalls(&mut self, basis: &'static str, gaps: &Gaps, end_ms: u64) {
        let events = gaps.finish(end_ms);
        self.stalls = Stalls {
            measured: true,
            reason: None,
            basis: Some(basis),
            threshold_ms: Some(gaps.threshold_ms()),
            count: events.len(),
            total_ms: events.iter().map(|s| s.duration_ms).sum(),
            events,
        };
    }

    pub fn stalls_not_measured(&mut self, why: &str) {
        self.stalls = Stalls {
            reason: Some(why.to_string()),
            ..Stalls::default()
        };
    }

    pub fn set_continuity(&mut self, cc: &Continuity) {
        if !cc.is_ts() {
            self.continuity_not_measured("not an MPEG-TS byte stream");
            return;
        }
        self.continuity = ContinuityReport {
            measured: true,
            reason: None,
            errors: cc.errors(),
            duplicates: cc.pids().values().map(|p| p.duplicates).sum(),
            sync_losses: cc.sync_losses,
            transport_errors: cc.transport_errors,
            packets: cc.packets,
            pids: cc
                .pids()
                .iter()
                .map(|(pid, s)| PidReport {
                    pid: format!("{pid:#x}"),
                    packets: s.packets,
                    errors: s.errors,
                    duplicates: s.duplicates,
                })
                .collect(),
        };
    }

    pub fn continuity_not_measured(&mut self, why: &str) {
        self.continuity = ContinuityReport {
            reason: Some(why.to_string()),
            ..ContinuityReport::default()
        };
    }
}

impl Report {
    pub fn new(described: Described, mut health: Health, obs: &Observed) -> Self {
        if let (Some(v), Some(a)) = (obs.video, obs.audio) {
            let start = |i: usize| {
                described
                    .streams
                    .get(i)?
                    .start_time
                    .as_deref()?
                    .parse::<f64>()
                    .ok()
            };
            health.av = Some(AvOffset {
                video_stream: v,
                audio_stream: a,
                start_offset_ms: start(a)
                    .zip(start(v))
                    .map(|(a, v)| round1((a - v) * 1000.0)),
                interleave_mean_ms: obs.interleave.mean_ms(),
                interleave_max_ms: obs.interleave.max_abs_ms(),
            });
        }
        Self { described, health }
    }

    /// Resolution/codec for the channel table: "320x180 h264 + aac".
    pub fn media_summary(&self) -> String {
        let first = |t: &str| self.described.streams.iter().find(|s| s.codec_type == t);
        match (first("video"), first("audio")) {
            (Some(v), Some(a)) => format!("{} + {}", v.short(), a.short()),
            (Some(v), None) => v.short(),
            (None, Some(a)) => a.short(),
            (None, None) => "-".into(),
        }
    }
}

/// "850 ms" / "1.25 s".
pub fn time(ms: u64) -> String {
    if ms < 1000 {
        format!("{ms} ms")
    } else {
        format!("{:.2} s", ms as f64 / 1000.0)
    }
}

fn opt_time(ms: Option<u64>) -> Option<String> {
    ms.map(time)
}

/// The part of the human report known once the input is open.
pub fn write_described(out: &mut dyn Write, d: &Described) -> std::io::Result<()> {
    let f = &d.format;
    writeln!(out, "Input     {}", f.filename)?;
    if let Some(h) = &d.http {
        let mut line = format!(
            "HTTP      {} {}",
            h.status,
            h.content_type.as_deref().unwrap_or("(no content type)")
        );
        for r in &h.redirects {
            line.push_str(&format!(", {} -> {}", r.status, r.location));
        }
        writeln!(out, "{line}")?;
    }
    let mut parts = vec![format!("{} ({})", f.format_name, f.format_long_name)];
    if let Some(s) = f.start_time.as_deref().and_then(|s| s.parse::<f64>().ok()) {
        parts.push(format!("start {s:.3} s"));
    }
    if let Some(s) = f.duration.as_deref().and_then(|s| s.parse::<f64>().ok()) {
        parts.push(format!("duration {s:.3} s"));
    }
    if let Some(b) = f.bit_rate.as_deref().and_then(|b| b.parse::<u64>().ok()) {
        parts.push(kbps(b));
    }
    writeln!(out, "Format    {}", parts.join(", "))?;
    for p in &d.programs {
        let streams: Vec<String> = p.stream_indexes.iter().map(|i| format!("#{i}")).collect();
        let name = p
            .tags
            .get("service_name")
            .map(|n| format!(" \"{n}\""))
            .unwrap_or_default();
        let pids = if p.pmt_pid > 0 {
            format!("PMT {:#x}, PCR {:#x}, ", p.pmt_pid, p.pcr_pid)
        } else {
            String::new()
        };
        writeln!(
            out,
            "Program   {}{name}: {pids}streams {}",
            p.program_num,
            streams.join(" ")
        )?;
    }
    for s in &d.streams {
        let id =
            s.id.as_deref()
                .map(|i| format!(" [{i}]"))
                .unwrap_or_default();
        writeln!(
            out,
            "Stream    #{}{id} {}: {}",
            s.index,
            s.codec_type,
            s.summary()
        )?;
    }
    Ok(())
}

/// The health part of the human report.
pub fn write_health(out: &mut dyn Write, h: &Health) -> std::io::Result<()> {
    let how = if h.io == "direct" {
        "read directly"
    } else {
        "read by libavformat"
    };
    let media = h.media_ms.map(time).unwrap_or_else(|| "no media".into());
    if h.live {
        writeln!(
            out,
            "Health    over {} (media {media}), live, {how}; ended: {}",
            time(h.observed_ms),
            h.end
        )?;
    } else {
        writeln!(
            out,
            "Health    {media} of media in {}, file, {how}; ended: {}",
            time(h.observed_ms),
            h.end
        )?;
    }
    let t = &h.timing_ms;
    let timing: Vec<String> = [
        ("connect", t.connect),
        ("response", t.response),
        ("first byte", t.first_byte),
        ("first packet", t.first_packet),
        ("first keyframe", t.first_keyframe),
        ("open", t.open),
    ]
    .iter()
    .filter_map(|(k, v)| opt_time(*v).map(|v| format!("{k} {v}")))
    .collect();
    writeln!(
        out,
        "Timing    {}",
        if timing.is_empty() {
            "-".into()
        } else {
            timing.join(", ")
        }
    )?;
    match &h.bitrate {
        Some(b) => {
            let s = &b.summary;
            let range = match (s.min_bps, s.max_bps) {
                (Some(lo), Some(hi)) => format!(
                    ", min {}, max {} ({} x 1 s windows",
                    kbps(lo),
                    kbps(hi),
                    s.windows
                ),
                _ => " (no complete 1 s window".into(),
            };
            let basis = if b.basis == "wire" {
                "bytes received"
            } else {
                "payload per media second"
            };
            writeln!(out, "Bitrate   mean {}{range}, {basis})", kbps(s.mean_bps))?;
        }
        None => writeln!(out, "Bitrate   -")?,
    }
    match &h.gop {
        Some(g) if g.min_frames != g.max_frames => writeln!(
            out,
            "GOP       {} frames, {:.2} s (varies {}-{} over {} GOPs)",
            g.frames, g.seconds, g.min_frames, g.max_frames, g.count
        )?,
        Some(g) => writeln!(
            out,
            "GOP       {} frames, {:.2} s ({} seen)",
            g.frames, g.seconds, g.count
        )?,
        None => writeln!(out, "GOP       - (needs two video keyframes)")?,
    }
    let s = &h.stalls;
    if !s.measured {
        writeln!(
            out,
            "Stalls    not measured ({})",
            s.reason.as_deref().unwrap_or("-")
        )?;
    } else {
        let over = format!(
            "gaps > {} in {}",
            time(s.threshold_ms.unwrap_or(0)),
            s.basis.unwrap_or("data")
        );
        if s.events.is_empty() {
            writeln!(out, "Stalls    none ({over})")?;
        } else {
            let ev: Vec<String> = s
                .events
                .iter()
                .map(|e| {
                    let still = if e.ongoing {
                        ", still stalled at the end"
                    } else {
                        ""
                    };
                    format!("at {} for {}{still}", time(e.at_ms), time(e.duration_ms))
                })
                .collect();
            writeln!(out, "Stalls    {} ({over}): {}", s.count, ev.join("; "))?;
        }
    }
    let c = &h.continuity;
    if !c.measured {
        writeln!(
            out,
            "CC        not measured ({})",
            c.reason.as_deref().unwrap_or("-")
        )?;
    } else {
        let mut line = format!(
            "CC        {} error{} ({} PIDs, {} TS packets",
            c.errors,
            plural(c.errors),
            c.pids.len(),
            c.packets
        );
        if c.sync_losses > 0 {
            line.push_str(&format!(", {} sync losses", c.sync_losses));
        }
        if c.transport_errors > 0 {
            line.push_str(&format!(
                ", {} with transport error flag",
                c.transport_errors
            ));
        }
        if c.duplicates > 0 {
            line.push_str(&format!(", {} duplicates", c.duplicates));
        }
        line.push(')');
        let bad: Vec<String> = c
            .pids
            .iter()
            .filter(|p| p.errors > 0)
            .map(|p| format!("{} x{}", p.pid, p.errors))
            .collect();
        if !bad.is_empty() {
            line.push_str(&format!(": {}", bad.join(", ")));
        }
        writeln!(out, "{line}")?;
    }
    if h.discontinuities.is_empty() {
        writeln!(out, "Time      no timestamp discontinuity")?;
    } else {
        let ev: Vec<String> = h
            .discontinuities
            .iter()
            .take(5)
            .map(|d| {
                format!(
                    "#{} at {} jumped {:+} ms",
                    d.stream,
                    time(d.at_ms),
                    d.jump_ms
                )
            })
            .collect();
        let more = if h.discontinuities.len() > 5 {
            format!(" (+{} more)", h.discontinuities.len() - 5)
        } else {
            String::new()
        };
        writeln!(
            out,
            "Time      {} discontinuities: {}{more}",
            h.discontinuities.len(),
            ev.join("; ")
        )?;
    }
    if let Some(av) = &h.av {
        let mut parts = Vec::new();
        if let Some(o) = av.start_offset_ms {
            parts.push(format!("audio starts {o:+} ms from video"));
        }
        if let (Some(m), Some(x)) = (av.interleave_mean_ms, av.interleave_max_ms) {
            parts.push(format!("interleave mean {m:+} ms, max {x} ms"));
        }
        writeln!(
            out,
            "A/V       #{} vs #{}: {}",
            av.audio_stream,
            av.video_stream,
            parts.join("; ")
        )?;
    }
    if let Some(r) = h.realtime_ratio {
        writeln!(out, "Speed     {r:.2}x realtime")?;
    }
    let counts: Vec<String> = h
        .packets
        .iter()
        .map(|p| {
            if p.keyframes > 0 && p.keyframes < p.packets {
                format!("#{} {} ({} key)", p.index, p.packets, p.keyframes)
            } else {
                format!("#{} {}", p.index, p.packets)
            }
        })
        .collect();
    writeln!(out, "Packets   {}", counts.join(", "))?;
    Ok(())
}

fn plural(n: u64) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// One candidate of a channel, probed.
#[derive(Debug, Clone, Serialize)]
pub struct Candidate {
    /// Position in failover order, 1 = primary.
    pub tier: usize,
    pub source: String,
    pub alive: bool,
    /// Short reason when dead ("unreachable", "http_error", …).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub report: Option<Report>,
}

impl Candidate {
    fn status(&self) -> String {
        match (&self.report, self.reason) {
            (Some(r), _) => {
                let h = &r.health;
                let mut notes = Vec::new();
                if h.stalls.count > 0 {
                    notes.push(format!(
                        "{} stall{}",
                        h.stalls.count,
                        plural(h.stalls.count as u64)
                    ));
                }
                if h.continuity.errors > 0 {
                    notes.push(format!("{} CC err", h.continuity.errors));
                }
                if h.end != End::Duration.text() && h.live {
                    notes.push("ended early".into());
                }
                if notes.is_empty() {
                    "alive".into()
                } else {
                    format!("alive ({})", notes.join(", "))
                }
            }
            (None, Some("http_error")) => {
                let status = self
                    .error
                    .as_deref()
                    .and_then(|e| e.strip_prefix("HTTP "))
                    .and_then(|e| e.split(' ').next());
                format!("dead: HTTP {}", status.unwrap_or("error"))
            }
            (None, Some(r)) => format!("dead: {}", r.replace('_', " ")),
            (None, None) => "dead".into(),
        }
    }
}

/// The channel table, one row per candidate in failover order, then the
/// full error of each dead one.
pub fn write_channel_table(out: &mut dyn Write, rows: &[Candidate]) -> std::io::Result<()> {
    let cells: Vec<[String; 6]> = rows
        .iter()
        .map(|c| {
            let r = c.report.as_ref();
            [
                c.tier.to_string(),
                c.source.clone(),
                c.status(),
                r.and_then(|r| r.health.timing_ms.first_keyframe)
                    .map(time)
                    .unwrap_or_else(|| "-".into()),
                r.and_then(|r| r.health.bitrate.as_ref())
                    .map(|b| kbps(b.summary.mean_bps))
                    .unwrap_or_else(|| "-".into()),
                r.map(Report::media_summary).unwrap_or_else(|| "-".into()),
            ]
        })
        .collect();
    let header = ["TIER", "SOURCE", "STATUS", "KEYFRAME", "BITRATE", "MEDIA"];
    let mut widths = header.map(str::len);
    for row in &cells {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |cols: &[String]| {
        let mut s = String::new();
        for (i, (c, w)) in cols.iter().zip(widths).enumerate() {
            if i + 1 == cols.len() {
                s.push_str(c);
            } else {
                s.push_str(&format!("{c:<w$}  "));
            }
        }
        s
    };
    writeln!(out, "{}", line(&header.map(String::from)))?;
    for row in &cells {
        writeln!(out, "{}", line(row))?;
    }
    for c in rows.iter().filter(|c| !c.alive) {
        writeln!(
            out,
            "  tier {}: {}",
            c.tier,
            c.error.as_deref().unwrap_or("failed")
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units() {
        assert_eq!(time(850), "850 ms");
        assert_eq!(time(1250), "1.25 s");
        assert_eq!(kbps(511_600), "512 kb/s");
        assert_eq!(kbps(4_200_000), "4.20 Mb/s");
        assert_eq!(kbps(12_345_678), "12.3 Mb/s");
    }

    #[test]
    fn dead_candidates_show_their_reason() {
        let dead = |reason, error: &str| Candidate {
            tier: 1,
            source: "http://h/x".into(),
            alive: false,
            reason: Some(reason),
            error: Some(error.into()),
            report: None,
        };
        assert_eq!(
            dead("http_error", "HTTP 404 from http://h/x").status(),
            "dead: HTTP 404"
        );
        assert_eq!(
            dead("not_media", "not a media stream").status(),
            "dead: not media"
        );
        let mut out = Vec::new();
        write_channel_table(
            &mut out,
            &[dead(
                "unreachable",
                "connection refused or unreachable: http://h/x",
            )],
        )
        .expect("write");
        let text = String::from_utf8(out).expect("utf8");
        assert!(text.starts_with("TIER  SOURCE"), "{text}");
        assert!(
            text.contains("1     http://h/x  dead: unreachable"),
            "{text}"
        );
        assert!(text.contains("tier 1: connection refused"), "{text}");
    }
}
