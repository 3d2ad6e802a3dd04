//! One probe of one input, on the calling (non-async) thread: open it
//! through our own byte source where we can (HTTP MPEG-TS, local files: so
//! the wire can be timed and continuity counted) and through libavformat's
//! IO otherwise (HLS, other protocols), describe it, observe it for the
//! duration, and assemble the report.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use ffmpeg::format::context::StreamIo;
use ffmpeg::media::Type as MediaType;
use ffmpeg_next as ffmpeg;
use parking_lot::Mutex;

use super::continuity::Continuity;
use super::report::{self, Described, Health, Report};
use super::source::{BodyEnd, Fetch, FetchOptions, FileReader, HttpInfo, WireStats};
use super::stats::{ArrivalLog, Gaps, Interleave, Track, Windows};
use super::types::{End, LIVE_DEFAULT, Observed, ProbeError};
use crate::media::input::{self, Interrupt, OpenError, OpenOptions, Opened};
use crate::media::upstream::{ReadEnd, read_packet};
use crate::redact::redact;

/// Gaps in the arrival of bytes longer than this are stalls. A live TS
/// upstream delivers every few tens of ms; a second without a byte is
/// already visible to a viewer with a small buffer.
pub const STALL_MS: u64 = 1000;

#[derive(Debug, Clone)]
pub struct Options {
    /// How long to observe a live input; how much media time of a file to
    /// read (None: the whole file).
    pub duration: Option<Duration>,
    pub connect_timeout: Duration,
    pub user_agent: String,
}

/// What kind of input a string names.
#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    Http(String),
    File(PathBuf),
    /// Another protocol libavformat knows (rtmp, udp, srt, …).
    Other(String),
}

pub fn classify(input: &str) -> Source {
    if let Some(p) = input.strip_prefix("file://") {
        return Source::File(PathBuf::from(p));
    }
    match url::Url::parse(input) {
        Ok(u) if matches!(u.scheme(), "http" | "https") => Source::Http(input.to_string()),
        // One-letter "schemes" are Windows drive letters.
        Ok(u) if u.scheme().len() > 1 => Source::Other(input.to_string()),
        _ => Source::File(PathBuf::from(input)),
    }
}

/// Probes `input`. `described` is called once the input is open and its
/// streams are known, before the observation (the human report prints
/// that part at once).
pub fn probe(
    input: &str,
    opts: &Options,
    described: &mut dyn FnMut(&Described),
) -> Result<Report, ProbeError> {
    input::init_ffmpeg();
    let t0 = Instant::now();
    match classify(input) {
        Source::File(path) => probe_file(&path, input, opts, t0, described),
        Source::Http(url) => probe_http(&url, opts, t0, described),
        Source::Other(url) => probe_libav(&url, opts, t0, None, described),
    }
}

fn open_error(http: Option<&HttpInfo>) -> impl Fn(OpenError) -> ProbeError + '_ {
    move |error| ProbeError::Open {
        error,
        http: http.cloned().map(Box::new),
    }
}

/// Opens a custom-IO input and checks it holds media.
fn open_custom(
    io: StreamIo,
    hint: Option<&str>,
    url: &str,
    interrupt: Arc<Interrupt>,
    timeout: Duration,
) -> Result<Opened, OpenError> {
    let started = Instant::now();
    let cb = Arc::clone(&interrupt);
    let input =
        ffmpeg::format::input_from_stream_with_interrupt(io, hint, None, move || cb.should_abort())
            .map_err(|e| OpenError::from_ffmpeg(e, url, &interrupt, timeout))?;
    input::finish_open(input, interrupt, url, started, timeout)
}

fn new_interrupt(timeout: Duration) -> Arc<Interrupt> {
    Interrupt::new(Arc::new(AtomicBool::new(false)), timeout)
}

fn remaining(t0: Instant, total: Duration) -> Duration {
    total.saturating_sub(t0.elapsed())
}

fn ms_since(t0: Instant) -> u64 {
    t0.elapsed().as_millis() as u64
}

fn probe_file(
    path: &Path,
    shown: &str,
    opts: &Options,
    t0: Instant,
    described: &mut dyn FnMut(&Described),
) -> Result<Report, ProbeError> {
    // `shown`, redacted: an unparsable URL lands here as a "file", with
    // its password (issue 12).
    let shown = redact(shown);
    let file = std::fs::File::open(path).map_err(|error| ProbeError::File {
        path: shown.clone(),
        error,
    })?;
    let cc = Arc::new(Mutex::new(Continuity::new()));
    let io = StreamIo::from_read_seek(FileReader::new(file, Arc::clone(&cc))).map_err(|e| {
        ProbeError::File {
            path: shown.clone(),
            error: std::io::Error::other(e.to_string()),
        }
    })?;
    // A file never blocks; the deadline only guards against the absurd.
    let interrupt = new_interrupt(Duration::from_secs(24 * 3600));
    let name = path.to_string_lossy().into_owned();
    let mut opened = open_custom(io, Some(&name), &name, interrupt, opts.connect_timeout)
        .map_err(open_error(None))?;
    let open_ms = ms_since(t0);
    let desc = report::described(&opened.input, &shown, None);
    described(&desc);
    let watch = Watch {
        live: false,
        media_limit_ms: opts.duration.map(|d| d.as_secs_f64() * 1000.0),
        log: None,
        delivery_stall_ms: u64::MAX,
    };
    let obs = observe(&mut opened, t0, watch);
    drop(opened);
    let cc = std::mem::take(&mut *cc.lock());
    let end_ms = obs.end_ms;
    let mut health = Health::new(&shown, false, "direct", &obs, end_ms);
    health.timing_ms.open = Some(open_ms);
    health.set_media_bitrate(&obs.media, obs.media_end_ms());
    health.stalls_not_measured("a file has no arrival times");
    health.set_continuity(&cc);
    Ok(Report::new(desc, health, &obs))
}

fn is_playlist(http: &HttpInfo, first: Option<&[u8]>) -> bool {
    let ct = http
        .content_type
        .as_deref()
        .unwrap_or("")
        .to_ascii_lowercase();
    if ct.contains("mpegurl") {
        return true;
    }
    let Some(b) = first else { return false };
    let b = b.strip_prefix(b"\xef\xbb\xbf").unwrap_or(b);
    let start = b
        .iter()
        .position(|c| !c.is_ascii_whitespace())
        .unwrap_or(b.len());
    b[start..].starts_with(b"#EXTM3U")
}

/// `#EXT-X-TARGETDURATION` in seconds, when the playlist is a media
/// playlist that has one.
pub fn target_duration(playlist: &str) -> Option<f64> {
    playlist.lines().find_map(|l| {
        l.trim()
            .strip_prefix("#EXT-X-TARGETDURATION:")?
            .trim()
            .parse::<f64>()
            .ok()
    })
}

/// Why an HTTP input goes to libavformat's own IO after all.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Handoff {
    /// A playlist: libavformat fetches the segments.
    Hls { target_s: Option<f64> },
    /// MP4 may need to seek (its index can sit at the end): libavformat's
    /// HTTP does that with range requests.
    Mp4,
}

/// MP4/MOV files start with an `ftyp` box.
fn is_mp4(first: Option<&[u8]>) -> bool {
    first.is_some_and(|b| b.len() >= 8 && &b[4..8] == b"ftyp")
}

/// What our own first request showed, before the handoff.
struct FirstRequest {
    http: HttpInfo,
    connect_ms: Option<u64>,
    response_ms: u64,
    first_byte_ms: Option<u64>,
    handoff: Handoff,
}

fn probe_http(
    url: &str,
    opts: &Options,
    t0: Instant,
    described: &mut dyn FnMut(&Described),
) -> Result<Report, ProbeError> {
    let shown = redact(url);
    let fetch_opts = FetchOptions {
        connect_timeout: opts.connect_timeout,
        user_agent: opts.user_agent.clone(),
        stall_threshold_ms: STALL_MS,
    };
    let fetch = Fetch::start(url, fetch_opts, t0).map_err(open_error(None))?;
    let http = fetch.http.clone();
    let first = fetch.peek(remaining(t0, opts.connect_timeout));
    let first_bytes = first.bytes();
    let handoff = if is_playlist(&http, first_bytes) {
        let text = fetch.read_rest(
            first_bytes.unwrap_or_default().to_vec(),
            Duration::from_secs(2),
            1 << 20,
        );
        Some(Handoff::Hls {
            target_s: target_duration(&String::from_utf8_lossy(&text)),
        })
    } else if is_mp4(first_bytes) {
        Some(Handoff::Mp4)
    } else {
        None
    };
    if let Some(handoff) = handoff {
        let request = FirstRequest {
            http,
            connect_ms: fetch.connect_ms,
            response_ms: fetch.response_ms,
            first_byte_ms: first.at_ms(),
            handoff,
        };
        drop(fetch.finish());
        return probe_libav(url, opts, t0, Some(request), described);
    }
    let log = Arc::new(Mutex::new(ArrivalLog::default()));
    let io = match StreamIo::from_read(fetch.reader(first, Arc::clone(&log))) {
        Ok(io) => io,
        Err(e) => {
            drop(fetch.finish());
            return Err(open_error(Some(&http))(OpenError::Other {
                url: shown,
                message: e.to_string(),
            }));
        }
    };
    let interrupt = new_interrupt(remaining(t0, opts.connect_timeout));
    let mut opened = match open_custom(io, None, url, Arc::clone(&interrupt), opts.connect_timeout)
    {
        Ok(o) => o,
        Err(e) => {
            drop(fetch.finish());
            return Err(open_error(Some(&http))(e));
        }
    };
    let open_ms = ms_since(t0);
    let desc = report::described(&opened.input, &shown, Some(&http));
    described(&desc);
    let duration = opts.duration.unwrap_or(LIVE_DEFAULT);
    interrupt.extend(remaining(t0, duration));
    let watch = Watch {
        live: true,
        media_limit_ms: None,
        log: Some(&log),
        delivery_stall_ms: u64::MAX,
    };
    let obs = observe(&mut opened, t0, watch);
    drop(opened);
    let (connect_ms, response_ms) = (fetch.connect_ms, fetch.response_ms);
    let wire: WireStats = fetch.finish();
    let end_ms = wire.ended_ms.max(obs.end_ms);
    let mut health = Health::new(&shown, true, "direct", &obs, end_ms);
    // The wire ending is the truer reason when the demuxer only saw EOF.
    if let (End::Closed | End::Error(_), Some(BodyEnd::Error(e))) = (&obs.end, &wire.ended) {
        health.end = End::Error(e.clone()).text();
    }
    health.http = Some(http);
    health.timing_ms.connect = connect_ms;
    health.timing_ms.response = Some(response_ms);
    health.timing_ms.first_byte = wire.first_byte_ms;
    health.timing_ms.open = Some(open_ms);
    let wire_end = match wire.ended {
        Some(_) => wire.ended_ms.min(end_ms),
        None => end_ms,
    };
    health.set_wire_bitrate(&wire.windows, wire_end as f64);
    health.set_stalls("bytes", &wire.gaps, end_ms);
    health.set_continuity(&wire.cc);
    Ok(Report::new(desc, health, &obs))
}

/// HLS, MP4 over HTTP and other protocols: libavformat's own IO. No
/// byte-level view, so continuity is not measured and stalls are gaps
/// between packets.
fn probe_libav(
    url: &str,
    opts: &Options,
    t0: Instant,
    request: Option<FirstRequest>,
    described: &mut dyn FnMut(&Described),
) -> Result<Report, ProbeError> {
    let shown = redact(url);
    let http = request.as_ref().map(|p| p.http.clone());
    let handoff = request.as_ref().map(|r| r.handoff);
    let interrupt = new_interrupt(remaining(t0, opts.connect_timeout));
    let open_opts = OpenOptions {
        connect_timeout: opts.connect_timeout,
        user_agent: opts.user_agent.clone(),
        skip_fps_probe: false,
        referrer: None,
        protocols: None,
    };
    // DNS cannot be interrupted: open on a thread we can stop waiting for.
    let rx = input::open_in_background(
        "probe-open".into(),
        url.to_string(),
        open_opts,
        Arc::clone(&interrupt),
    );
    let mut opened =
        match rx.recv_timeout(remaining(t0, opts.connect_timeout) + Duration::from_millis(500)) {
            Ok(r) => r.map_err(open_error(http.as_ref()))?,
            Err(_) => {
                interrupt.cancel();
                let e = OpenError::Timeout {
                    url: shown,
                    ms: opts.connect_timeout.as_millis() as u64,
                };
                return Err(open_error(http.as_ref())(e));
            }
        };
    let open_ms = ms_since(t0);
    let desc = report::described(&opened.input, &shown, http.as_ref());
    described(&desc);
    let duration = opts.duration.unwrap_or(LIVE_DEFAULT);
    opened.interrupt.extend(remaining(t0, duration));
    let threshold = match handoff {
        // Segments arrive in bursts about a target duration apart (6 s
        // when the playlist does not say: Apple's recommendation).
        Some(Handoff::Hls { target_s }) => {
            ((target_s.unwrap_or(6.0) * 1500.0) as u64).max(STALL_MS)
        }
        Some(Handoff::Mp4) | None => STALL_MS,
    };
    let watch = Watch {
        live: true,
        // A file served over HTTP downloads faster than real time: stop at
        // the duration of media too rather than fetch it all.
        media_limit_ms: (handoff == Some(Handoff::Mp4)).then_some(duration.as_secs_f64() * 1000.0),
        log: None,
        delivery_stall_ms: threshold,
    };
    let obs = observe(&mut opened, t0, watch);
    drop(opened);
    let end_ms = obs.end_ms;
    let mut health = Health::new(&shown, true, "libavformat", &obs, end_ms);
    health.timing_ms.open = Some(open_ms);
    if let Some(p) = &request {
        health.http = Some(p.http.clone());
        health.timing_ms.connect = p.connect_ms;
        health.timing_ms.response = Some(p.response_ms);
        health.timing_ms.first_byte = p.first_byte_ms;
    }
    health.set_media_bitrate(&obs.media, obs.media_end_ms());
    health.set_stalls("packets", &obs.delivery, end_ms);
    let why = match handoff {
        Some(Handoff::Hls { .. }) => "HLS segments are read by libavformat",
        Some(Handoff::Mp4) => "not an MPEG-TS byte stream",
        None => "read by libavformat",
    };
    health.continuity_not_measured(why);
    Ok(Report::new(desc, health, &obs))
}

struct Watch<'a> {
    live: bool,
    /// Files: stop after this much media time.
    media_limit_ms: Option<f64>,
    /// Direct IO: when each byte arrived.
    log: Option<&'a Arc<Mutex<ArrivalLog>>>,
    /// Gaps between packet deliveries longer than this are stalls.
    delivery_stall_ms: u64,
}

/// Reads packets until the interrupt deadline (live), the media-time limit
/// (files), the end of the input or an error.
fn observe(opened: &mut Opened, t0: Instant, w: Watch<'_>) -> Observed {
    let Watch {
        live,
        media_limit_ms,
        log,
        delivery_stall_ms,
    } = w;
    let tbs: Vec<(f64, f64)> = opened
        .input
        .streams()
        .map(|s| {
            (
                f64::from(s.time_base().numerator()),
                f64::from(s.time_base().denominator()),
            )
        })
        .collect();
    let kind = |m: MediaType| {
        opened
            .input
            .streams()
            .find(|s| s.parameters().medium() == m)
            .map(|s| s.index())
    };
    let (video, audio) = (kind(MediaType::Video), kind(MediaType::Audio));
    let mut obs = Observed {
        tracks: (0..tbs.len()).map(Track::new).collect(),
        video,
        audio,
        interleave: Interleave::default(),
        media: Windows::default(),
        media_last_ms: None,
        delivery: Gaps::new(delivery_stall_ms),
        first_packet_ms: None,
        first_keyframe_ms: None,
        end: End::Duration,
        end_ms: 0,
    };
    let mut media_origin: Option<f64> = None;
    obs.end = loop {
        let pkt = match read_packet(opened) {
            Ok(p) => p,
            Err(ReadEnd::Again) => {
                std::thread::sleep(Duration::from_millis(5));
                continue;
            }
            Err(ReadEnd::Stalled | ReadEnd::Stopped) => break End::Duration,
            // Some demuxers (HLS) report an interrupted read as the end.
            Err(ReadEnd::Closed) if live && opened.interrupt.timed_out() => break End::Duration,
            Err(ReadEnd::Closed) => break if live { End::Closed } else { End::Eof },
            Err(ReadEnd::Error(e)) => break End::Error(e),
        };
        let now = ms_since(t0);
        let idx = pkt.stream();
        let Some(&(num, den)) = tbs.get(idx) else {
            continue;
        };
        if den == 0.0 {
            continue;
        }
        let to_ms = |ts: i64| ts as f64 * num / den * 1000.0;
        let t = pkt.dts().or(pkt.pts()).map(to_ms);
        let end = pkt.pts().map(|p| to_ms(p + pkt.duration().max(0)));
        let size = pkt.size() as u64;
        let key = pkt.is_key();
        let (arrived, complete) = match (log, pkt.position()) {
            (Some(log), pos) if pos >= 0 => {
                let mut l = log.lock();
                (
                    l.when(pos as u64).unwrap_or(now),
                    l.when(pos as u64 + size).unwrap_or(now),
                )
            }
            _ => (now, now),
        };
        obs.first_packet_ms.get_or_insert(arrived);
        if Some(idx) == video && key {
            obs.first_keyframe_ms.get_or_insert(complete);
        }
        obs.tracks[idx].packet(t, end, size, key, arrived);
        obs.delivery.arrive(now);
        if let Some(t) = t {
            if Some(idx) == video {
                obs.interleave.video(t);
            } else if Some(idx) == audio {
                obs.interleave.audio(t);
            }
            // Bitrate over media time that runs on across discontinuities.
            let tc = obs.tracks[idx].continuous_ms(t);
            obs.media.add(tc, size);
            obs.media_last_ms = Some(obs.media_last_ms.map_or(tc, |m| m.max(tc)));
            let origin = *media_origin.get_or_insert(tc);
            if media_limit_ms.is_some_and(|limit| tc - origin >= limit) {
                break End::Duration;
            }
        }
    };
    obs.end_ms = ms_since(t0);
    obs
}
