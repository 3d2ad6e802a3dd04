//! A loopback IPTV upstream for the demo and the tests: serves TS fixtures
//! paced in real time by their PCR (joined at the live point, looping), a
//! live sliding-window HLS playlist cut at keyframes, and on command stalls
//! (socket open, no bytes), closes, answers an HTTP error, never answers,
//! sends an HTML page or random bytes instead of media, restarts its
//! "encoder" (the stream jumps back to the start of the file) or trickles
//! slower than real time.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use bytes::Bytes;
use parking_lot::{Mutex, RwLock};

use crate::media::ts::{JoinScanner, TS_PACKET};

/// How a feed answers, evaluated at connect time and (for playing
/// connections) on every tick.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Play,
    /// Playing connections keep their socket open and send nothing; new
    /// connections get their headers and then nothing.
    Stall,
    /// Playing connections are closed; new ones get an empty 200.
    Close,
    /// Answer with this HTTP status.
    Status(u16),
    /// Accept the connection and never answer.
    BlackHole,
    /// 200 with a provider's "account suspended" HTML page.
    Html,
    /// 200 with random bytes.
    Garbage,
    /// Every connection plays this many ms, then stalls for good.
    StallAfter(u64),
    /// Every connection plays this many ms, then is closed.
    CloseAfter(u64),
    /// Every connection plays this many ms, then its byte stream jumps back
    /// to byte 0 of the file, cutting an audio PES short (an encoder that
    /// restarts): continuity counters break, timestamps jump back. Once
    /// per connection; the file then plays on from its start.
    RestartAfter(u64),
    /// The encoder restarted: playing connections jump back to the start
    /// of the file (timestamps and continuity counters with it) and play
    /// on from there in real time; new connections join that restarted
    /// timeline. Each connection jumps once per [`Feed::set_mode`] call.
    Restart,
    /// Playing connections go on at the stream's byte rate but send seeded
    /// random bytes instead of its packets; new connections get the same.
    Corrupt,
    /// A slow upstream: every connection gets at most this many bytes a
    /// second (whole packets, in order), falling behind the live point.
    Trickle(u64),
}

/// One TS file served live.
pub struct Feed {
    data: Bytes,
    /// Due time of each 188-byte packet, ms from the start of the file.
    due_ms: Vec<u32>,
    duration_ms: u64,
    /// (first packet, end packet, duration ms) of each HLS segment.
    segments: Vec<(usize, usize, u64)>,
    mode: Mutex<Mode>,
    /// When the last [`Mode::Restart`] was set.
    restart_epoch: Mutex<Option<Instant>>,
    /// Bumped by [`Feed::kick`]: playing connections opened before end.
    kicks: AtomicU64,
    /// TS connections accepted (HLS segment fetches not included).
    pub connections: AtomicU64,
    pub active: AtomicU64,
    pub bytes_sent: AtomicU64,
    /// PID of the first audio PES (stream id 0xC0–0xDF), if any.
    audio_pid: Option<u16>,
}

/// The PID of the first audio PES in `data` (whole TS packets).
fn find_audio_pid(data: &[u8]) -> Option<u16> {
    data.chunks_exact(TS_PACKET).find_map(|p| {
        let pusi = p[1] & 0x40 != 0;
        let afc = (p[3] >> 4) & 3;
        let start = if afc & 2 != 0 { 5 + p[4] as usize } else { 4 };
        let pes = p.get(start..start + 4)?;
        (pusi && afc & 1 != 0 && pes[..3] == [0, 0, 1] && (0xC0..=0xDF).contains(&pes[3]))
            .then(|| (u16::from(p[1] & 0x1f) << 8) | u16::from(p[2]))
    })
}

impl Feed {
    pub fn new(data: Bytes) -> Self {
        Self::with_segment_gops(data, 1)
    }

    /// Like [`Feed::new`], with HLS segments of `gops` GOPs each.
    pub fn with_segment_gops(data: Bytes, gops: usize) -> Self {
        let n = data.len() / TS_PACKET;
        let data = data.slice(..n * TS_PACKET);
        let mut pcrs: Vec<(usize, f64)> = Vec::new();
        for i in 0..n {
            let p = &data[i * TS_PACKET..(i + 1) * TS_PACKET];
            if p[0] == 0x47 && p[3] & 0x20 != 0 && p[4] >= 7 && p[5] & 0x10 != 0 {
                let base = (u64::from(p[6]) << 25)
                    | (u64::from(p[7]) << 17)
                    | (u64::from(p[8]) << 9)
                    | (u64::from(p[9]) << 1)
                    | (u64::from(p[10]) >> 7);
                // Unwrap the 33-bit clock so a file that wraps paces evenly.
                let mut ms = base as f64 / 90.0;
                if let Some(&(_, prev)) = pcrs.last() {
                    while ms + 1_000_000.0 < prev {
                        ms += (1u64 << 33) as f64 / 90.0;
                    }
                }
                pcrs.push((i, ms));
            }
        }
        let mut due_ms = vec![0u32; n];
        let duration_ms;
        if pcrs.len() >= 2 {
            let (i0, t0) = pcrs[0];
            let (il, tl) = pcrs[pcrs.len() - 1];
            let rate = (tl - t0) / (il - i0).max(1) as f64; // ms per packet
            let mut seg = 0;
            for (i, due) in due_ms.iter_mut().enumerate() {
                while seg + 1 < pcrs.len() && pcrs[seg + 1].0 <= i {
                    seg += 1;
                }
                let t = if i <= i0 {
                    0.0
                } else if seg + 1 < pcrs.len() {
                    let (a, ta) = pcrs[seg];
                    let (b, tb) = pcrs[seg + 1];
                    ta - t0 + (tb - ta) * (i - a) as f64 / (b - a) as f64
                } else {
                    tl - t0 + rate * (i - il) as f64
                };
                *due = t.max(0.0) as u32;
            }
            duration_ms = (due_ms[n - 1] as f64 + rate).ceil() as u64;
        } else {
            // No PCR: pace at 2 Mbit/s.
            for (i, due) in due_ms.iter_mut().enumerate() {
                *due = (i as u64 * TS_PACKET as u64 * 8 / 2000) as u32;
            }
            duration_ms = (n as u64 * TS_PACKET as u64 * 8 / 2000).max(1);
        }
        let mut joins = Vec::new();
        let mut scanner = JoinScanner::default();
        for i in 0..n {
            if let Some(off) = scanner.feed(
                (i * TS_PACKET) as u64,
                &data[i * TS_PACKET..(i + 1) * TS_PACKET],
            ) {
                joins.push(off as usize / TS_PACKET);
            }
        }
        if joins.first() != Some(&0) {
            joins.insert(0, 0);
        }
        let joins: Vec<usize> = joins.into_iter().step_by(gops.max(1)).collect();
        let mut segments = Vec::new();
        for (k, &s) in joins.iter().enumerate() {
            let e = joins.get(k + 1).copied().unwrap_or(n);
            let end_ms = if e < n {
                u64::from(due_ms[e])
            } else {
                duration_ms
            };
            segments.push((s, e, end_ms.saturating_sub(u64::from(due_ms[s])).max(1)));
        }
        let audio_pid = find_audio_pid(&data);
        Self {
            audio_pid,
            data,
            due_ms,
            duration_ms: duration_ms.max(1),
            segments,
            mode: Mutex::new(Mode::Play),
            restart_epoch: Mutex::new(None),
            kicks: AtomicU64::new(0),
            connections: AtomicU64::new(0),
            active: AtomicU64::new(0),
            bytes_sent: AtomicU64::new(0),
        }
    }

    pub fn packets(&self) -> usize {
        self.due_ms.len()
    }

    pub fn duration(&self) -> Duration {
        Duration::from_millis(self.duration_ms)
    }

    pub fn set_mode(&self, m: Mode) {
        if m == Mode::Restart {
            *self.restart_epoch.lock() = Some(Instant::now());
        }
        *self.mode.lock() = m;
    }

    /// Ends every playing connection (at its next tick); the mode decides
    /// what reconnections get. With [`Mode::Status`], [`Mode::Html`],
    /// [`Mode::Garbage`] or [`Mode::BlackHole`] this is an upstream that
    /// drops the stream and then refuses it.
    pub fn kick(&self) {
        self.kicks.fetch_add(1, Ordering::Relaxed);
    }

    pub fn mode(&self) -> Mode {
        *self.mode.lock()
    }

    /// Absolute packet index (counting loops) due at `elapsed`.
    fn live_index(&self, elapsed: Duration) -> u64 {
        let ms = elapsed.as_millis() as u64;
        let loops = ms / self.duration_ms;
        let within = (ms % self.duration_ms) as u32;
        let idx = self.due_ms.partition_point(|d| *d <= within);
        loops * self.packets() as u64 + idx as u64
    }

    /// Whether absolute packet `abs` continues an audio PES (an encoder
    /// restart cut there leaves that PES short).
    fn continues_audio(&self, abs: u64) -> bool {
        let i = (abs % self.packets() as u64) as usize * TS_PACKET;
        let p = &self.data[i..i + TS_PACKET];
        let pid = (u16::from(p[1] & 0x1f) << 8) | u16::from(p[2]);
        Some(pid) == self.audio_pid && p[1] & 0x40 == 0
    }

    /// Bytes of absolute packets `[from, to)`, as up to two zero-copy slices.
    fn slices(&self, from: u64, to: u64) -> Vec<Bytes> {
        let n = self.packets() as u64;
        let mut out = Vec::new();
        let mut a = from;
        while a < to {
            let i = a % n;
            let run = (n - i).min(to - a);
            out.push(
                self.data
                    .slice(i as usize * TS_PACKET..(i + run) as usize * TS_PACKET),
            );
            a += run;
        }
        out
    }
}

struct Inner {
    feeds: RwLock<HashMap<String, Arc<Feed>>>,
    started: Instant,
}

/// A running upstream on 127.0.0.1:<random port>.
pub struct Upstream {
    pub addr: SocketAddr,
    inner: Arc<Inner>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Upstream {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Upstream {
    /// Binds 127.0.0.1:0 and serves until dropped.
    pub async fn start() -> std::io::Result<Self> {
        Self::start_on("127.0.0.1:0".parse().expect("literal address")).await
    }

    pub async fn start_on(addr: SocketAddr) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        // The feeds have been "live" for a while: the HLS window is full at
        // once and connections join mid-file, as with a real provider.
        let started = Instant::now()
            .checked_sub(Duration::from_secs(97))
            .unwrap_or_else(Instant::now);
        let inner = Arc::new(Inner {
            feeds: RwLock::new(HashMap::new()),
            started,
        });
        let app = Router::new()
            .route("/ts/{name}", get(serve_ts))
            .route("/hls/{name}/index.m3u8", get(serve_playlist))
            .route("/hls/{name}/{seg}", get(serve_segment))
            .with_state(Arc::clone(&inner));
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self { addr, inner, task })
    }

    /// Adds (or replaces) a feed served at `/ts/<name>` and `/hls/<name>/index.m3u8`.
    pub fn add(&self, name: &str, data: Bytes) -> Arc<Feed> {
        let feed = Arc::new(Feed::new(data));
        self.inner
            .feeds
            .write()
            .insert(name.to_string(), Arc::clone(&feed));
        feed
    }

    /// Adds a feed whose HLS segments hold `gops` GOPs each (long segments
    /// arrive as bursts with long gaps between them).
    pub fn add_with_segment_gops(&self, name: &str, data: Bytes, gops: usize) -> Arc<Feed> {
        let feed = Arc::new(Feed::with_segment_gops(data, gops));
        self.inner
            .feeds
            .write()
            .insert(name.to_string(), Arc::clone(&feed));
        feed
    }

    pub fn feed(&self, name: &str) -> Option<Arc<Feed>> {
        self.inner.feeds.read().get(name).cloned()
    }

    pub fn ts_url(&self, name: &str) -> String {
        format!("http://{}/ts/{name}", self.addr)
    }

    pub fn hls_url(&self, name: &str) -> String {
        format!("http://{}/hls/{name}/index.m3u8", self.addr)
    }
}

fn find(inner: &Inner, name: &str) -> Option<Arc<Feed>> {
    inner
        .feeds
        .read()
        .get(name.trim_end_matches(".ts"))
        .cloned()
}

const HTML: &str = "<!DOCTYPE html><html><head><title>Account suspended</title></head><body><h1>Your account has been suspended</h1></body></html>\n";

async fn serve_ts(State(inner): State<Arc<Inner>>, Path(name): Path<String>) -> Response {
    let Some(feed) = find(&inner, &name) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    feed.connections.fetch_add(1, Ordering::Relaxed);
    match feed.mode() {
        Mode::Status(code) => {
            return (
                StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
                "upstream error\n",
            )
                .into_response();
        }
        Mode::BlackHole => {
            std::future::pending::<()>().await;
            unreachable!("pending never resolves");
        }
        Mode::Html => return ([(header::CONTENT_TYPE, "text/html")], HTML).into_response(),
        Mode::Garbage => {
            // Seeded: the same bytes every run. Unseeded noise now and
            // then happens to probe as raw H.263, which made the tests
            // that want "not media" flaky.
            use rand::{Rng, SeedableRng};
            let mut rng = rand::rngs::StdRng::seed_from_u64(0x5F0F_0E5E);
            let junk: Vec<u8> = (0..512 * 1024).map(|_| rng.r#gen::<u8>()).collect();
            return ([(header::CONTENT_TYPE, "video/mp2t")], junk).into_response();
        }
        Mode::Close => return ([(header::CONTENT_TYPE, "video/mp2t")], "").into_response(),
        _ => {}
    }
    let connected = Instant::now();
    let kicks = feed.kicks.load(Ordering::Relaxed);
    // The timeline this connection follows: the feed's, or the one a
    // restart began (a connection opened during a restart joins it).
    let mut clock = Clock {
        origin: inner.started,
        epoch: None,
    };
    if feed.mode() == Mode::Restart {
        clock.restart(*feed.restart_epoch.lock());
    }
    let cursor = feed.live_index(clock.origin.elapsed());
    let active = ActiveGuard::new(Arc::clone(&feed));
    // Packets sent are the live ones shifted by `shift` (an encoder
    // restart moves the byte stream back to the file's start).
    let state = (feed, cursor, active, (clock, 0u64), (0u64, false));
    let stream = futures_util::stream::unfold(
        state,
        move |(feed, mut cursor, active, (mut clock, mut budget), (mut shift, mut restarted))| async move {
            loop {
                tokio::time::sleep(Duration::from_millis(10)).await;
                if feed.kicks.load(Ordering::Relaxed) != kicks {
                    return None;
                }
                let mode = feed.mode();
                if mode == Mode::Restart {
                    let epoch = *feed.restart_epoch.lock();
                    if epoch.is_some() && epoch != clock.epoch {
                        clock.restart(epoch);
                        cursor = 0;
                    }
                }
                let mut live = feed.live_index(clock.origin.elapsed());
                let played = connected.elapsed().as_millis() as u64;
                let mut restart_now = false;
                match mode {
                    Mode::Close => return None,
                    Mode::CloseAfter(ms) if played >= ms => return None,
                    Mode::Stall => {
                        cursor = live; // resume at the live point
                        continue;
                    }
                    Mode::StallAfter(ms) if played >= ms => continue,
                    Mode::RestartAfter(ms) if played >= ms && !restarted => restart_now = true,
                    Mode::Trickle(bps) => {
                        // 10 ms worth of the rate, whole packets, carried over.
                        budget = budget.saturating_add(bps.div_ceil(100)).min(bps.max(188));
                        let n = budget / TS_PACKET as u64;
                        if n == 0 {
                            continue;
                        }
                        live = live.min(cursor + n);
                        budget -= (live.saturating_sub(cursor)) * TS_PACKET as u64;
                    }
                    _ => budget = 0,
                }
                if live > cursor && mode == Mode::Corrupt {
                    use rand::{Rng, SeedableRng};
                    let mut rng = rand::rngs::StdRng::seed_from_u64(cursor);
                    let n = (live - cursor) as usize * TS_PACKET;
                    let junk: Vec<u8> = (0..n).map(|_| rng.r#gen::<u8>()).collect();
                    cursor = live;
                    return Some((
                        Ok::<Bytes, std::io::Error>(Bytes::from(junk)),
                        (feed, cursor, active, (clock, budget), (shift, restarted)),
                    ));
                }
                if live > cursor {
                    let mut out = Vec::new();
                    let cut = restart_now
                        .then(|| (cursor..live).find(|&a| feed.continues_audio(a + shift)))
                        .flatten();
                    if let Some(c) = cut {
                        out.extend(feed.slices(cursor + shift, c + shift));
                        let n = feed.packets() as u64;
                        shift += n - (c + shift) % n;
                        restarted = true;
                        out.extend(feed.slices(c + shift, live + shift));
                    } else {
                        out.extend(feed.slices(cursor + shift, live + shift));
                    }
                    cursor = live;
                    let body: Vec<u8> = out.iter().flat_map(|b| b.iter().copied()).collect();
                    feed.bytes_sent
                        .fetch_add(body.len() as u64, Ordering::Relaxed);
                    return Some((
                        Ok::<Bytes, std::io::Error>(Bytes::from(body)),
                        (feed, cursor, active, (clock, budget), (shift, restarted)),
                    ));
                }
            }
        },
    );
    (
        [(header::CONTENT_TYPE, "video/mp2t")],
        Body::from_stream(stream),
    )
        .into_response()
}

/// The origin a connection computes its live point from.
#[derive(Clone, Copy)]
struct Clock {
    origin: Instant,
    /// The restart it follows, if any.
    epoch: Option<Instant>,
}

impl Clock {
    fn restart(&mut self, epoch: Option<Instant>) {
        if let Some(e) = epoch {
            self.origin = e;
            self.epoch = Some(e);
        }
    }
}

/// Counts a playing connection while its body lives.
struct ActiveGuard(Arc<Feed>);

impl ActiveGuard {
    fn new(f: Arc<Feed>) -> Self {
        f.active.fetch_add(1, Ordering::Relaxed);
        Self(f)
    }
}

impl Drop for ActiveGuard {
    fn drop(&mut self) {
        self.0.active.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Segments in the live window of the playlist.
const HLS_WINDOW: u64 = 4;

async fn serve_playlist(State(inner): State<Arc<Inner>>, Path(name): Path<String>) -> Response {
    let Some(feed) = find(&inner, &name) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    if let Mode::Status(code) = feed.mode() {
        return StatusCode::from_u16(code)
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
            .into_response();
    }
    let nseg = feed.segments.len() as u64;
    let live = feed.live_index(inner.started.elapsed());
    let n = feed.packets() as u64;
    let (loops, within) = (live / n, (live % n) as usize);
    // The segment being produced now is not listed; the ones before it are.
    let current = feed
        .segments
        .iter()
        .position(|(s, e, _)| within >= *s && within < *e)
        .unwrap_or(0) as u64;
    let current_abs = loops * nseg + current;
    let first = current_abs.saturating_sub(HLS_WINDOW);
    let target = feed
        .segments
        .iter()
        .map(|s| s.2)
        .max()
        .unwrap_or(2000)
        .div_ceil(1000);
    let mut m3u = format!(
        "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:{target}\n#EXT-X-MEDIA-SEQUENCE:{first}\n"
    );
    for abs in first..current_abs {
        let seg = &feed.segments[(abs % nseg) as usize];
        let disc = if abs % nseg == 0 && abs > 0 {
            "#EXT-X-DISCONTINUITY\n"
        } else {
            ""
        };
        m3u.push_str(&format!(
            "{disc}#EXTINF:{:.3},\n{abs}.ts\n",
            seg.2 as f64 / 1000.0
        ));
    }
    (
        [(header::CONTENT_TYPE, "application/vnd.apple.mpegurl")],
        m3u,
    )
        .into_response()
}

async fn serve_segment(
    State(inner): State<Arc<Inner>>,
    Path((name, seg)): Path<(String, String)>,
) -> Response {
    let Some(feed) = find(&inner, &name) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let Some(abs) = seg.strip_suffix(".ts").and_then(|s| s.parse::<u64>().ok()) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let (s, e, _) = feed.segments[(abs % feed.segments.len() as u64) as usize];
    let body = feed.data.slice(s * TS_PACKET..e * TS_PACKET);
    ([(header::CONTENT_TYPE, "video/mp2t")], body).into_response()
}
