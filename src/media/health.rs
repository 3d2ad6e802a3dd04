//! Per-session shared state: health, counters and the state machine value
//! the API shows. Written by the session's threads (demux, watchdog),
//! read by the HTTP layer. Everything is atomics or short mutex sections.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, AtomicUsize, Ordering};
use std::time::Instant;

use parking_lot::Mutex;
use serde::Serialize;

use super::input::now_ms;
use super::ring::Ring;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    Starting = 0,
    Healthy = 1,
    Stalled = 2,
    Switching = 3,
    Ended = 4,
}

impl State {
    fn from_u8(v: u8) -> Self {
        match v {
            0 => State::Starting,
            1 => State::Healthy,
            2 => State::Stalled,
            3 => State::Switching,
            _ => State::Ended,
        }
    }
}

/// How a session's start went, for the first request waiting on it.
#[derive(Debug, Clone, PartialEq)]
pub enum Phase {
    Starting,
    /// The ring holds a join point: clients can be served.
    Ready,
    /// Every candidate failed before anything could be served.
    Failed(String),
}

/// Shared by the demux thread (writer), the watchdog and the HTTP layer.
pub struct Shared {
    pub channel: String,
    pub ring: Arc<Ring>,
    pub started: Instant,
    /// Set to stop the session (last client gone, shutdown); polled by every
    /// FFmpeg interrupt callback of the session.
    pub stop: Arc<AtomicBool>,
    state: AtomicU8,
    pub source_index: AtomicUsize,
    /// Redacted URL of the candidate now playing.
    pub source: Mutex<String>,
    pub clients: AtomicUsize,
    /// Demuxed bytes from upstream, all candidates together.
    pub bytes_in: AtomicU64,
    pub packets_in: AtomicU64,
    pub failovers: AtomicU64,
    /// `now_ms()` of the last packet from the live input.
    pub last_data_ms: AtomicU64,
    /// Media received ahead of wall time at the last data, ms.
    media_lead_ms: AtomicU64,
    /// `now_ms()` of the last data before the current stall (0: none).
    pub stall_since_ms: AtomicU64,
    pub readers_lagged: AtomicU64,
    pub readers_dropped: AtomicU64,
    /// Timestamp jumps absorbed inside inputs (wrap, loop, encoder restart).
    pub timestamp_jumps: AtomicU64,
    /// Input packets kept from the muxer as corrupt or cut short.
    pub corrupt_dropped: AtomicU64,
    /// The clients reading the ring, for their lag in the API. Registered
    /// by the HTTP layer per client (weak: a client gone is pruned).
    readers: Mutex<Vec<std::sync::Weak<ReaderStat>>>,
    /// Samples of (ms, bytes_in) for the bitrate over a sliding window.
    rate: Mutex<VecDeque<(u64, u64)>>,
    next_reader: AtomicU64,
    pub phase: tokio::sync::watch::Sender<Phase>,
}

/// Bitrate window.
const RATE_WINDOW_MS: u64 = 5000;

impl Shared {
    pub fn new(channel: &str, ring: Arc<Ring>, stop: Arc<AtomicBool>) -> Arc<Self> {
        Arc::new(Self {
            channel: channel.to_string(),
            ring,
            started: Instant::now(),
            stop,
            state: AtomicU8::new(State::Starting as u8),
            source_index: AtomicUsize::new(0),
            source: Mutex::new(String::new()),
            clients: AtomicUsize::new(0),
            bytes_in: AtomicU64::new(0),
            packets_in: AtomicU64::new(0),
            failovers: AtomicU64::new(0),
            last_data_ms: AtomicU64::new(now_ms()),
            media_lead_ms: AtomicU64::new(0),
            stall_since_ms: AtomicU64::new(0),
            readers_lagged: AtomicU64::new(0),
            readers_dropped: AtomicU64::new(0),
            timestamp_jumps: AtomicU64::new(0),
            corrupt_dropped: AtomicU64::new(0),
            readers: Mutex::new(Vec::new()),
            next_reader: AtomicU64::new(1),
            rate: Mutex::new(VecDeque::new()),
            phase: tokio::sync::watch::channel(Phase::Starting).0,
        })
    }

    pub fn state(&self) -> State {
        State::from_u8(self.state.load(Ordering::Relaxed))
    }

    pub fn set_state(&self, s: State) {
        self.state.store(s as u8, Ordering::Relaxed);
    }

    /// Moves from `from` to `to` only if the state is still `from`.
    pub fn transition(&self, from: State, to: State) -> bool {
        self.state
            .compare_exchange(from as u8, to as u8, Ordering::AcqRel, Ordering::Relaxed)
            .is_ok()
    }

    /// Counts a demuxed packet's bytes (every stream, forwarded or not).
    pub fn add_bytes(&self, bytes: usize) {
        self.bytes_in.fetch_add(bytes as u64, Ordering::Relaxed);
        self.packets_in.fetch_add(1, Ordering::Relaxed);
    }

    /// Media we forward arrived: the clock stall detection runs on.
    pub fn mark_data(&self) {
        self.last_data_ms.store(now_ms(), Ordering::Relaxed);
    }

    pub fn ms_since_data(&self) -> u64 {
        now_ms().saturating_sub(self.last_data_ms.load(Ordering::Relaxed))
    }

    /// Records how far the media received runs ahead of wall time (a
    /// burst at connect, an HLS segment fetched whole).
    pub fn set_media_lead(&self, lead_ms: u64) {
        self.media_lead_ms.store(lead_ms, Ordering::Relaxed);
    }

    /// How long the session has been without media: time since the last
    /// data, minus the media that data carried ahead of wall time. This is
    /// what the stall thresholds apply to, so an input that delivers in
    /// bursts (HLS) is not mistaken for a stalled one between bursts.
    pub fn quiet_ms(&self) -> u64 {
        self.ms_since_data()
            .saturating_sub(self.media_lead_ms.load(Ordering::Relaxed))
    }

    /// Called periodically (the watchdog tick) to sample the byte counter.
    pub fn sample_rate(&self) {
        let now = now_ms();
        let bytes = self.bytes_in.load(Ordering::Relaxed);
        let mut r = self.rate.lock();
        r.push_back((now, bytes));
        while r.front().is_some_and(|(t, _)| now - t > RATE_WINDOW_MS) {
            r.pop_front();
        }
    }

    pub fn bitrate_bps(&self) -> u64 {
        let r = self.rate.lock();
        match (r.front(), r.back()) {
            (Some((t0, b0)), Some((t1, b1))) if t1 > t0 => (b1 - b0) * 8 * 1000 / (t1 - t0),
            _ => 0,
        }
    }

    pub fn set_source(&self, index: usize, redacted_url: String) {
        self.source_index.store(index, Ordering::Relaxed);
        *self.source.lock() = redacted_url;
    }

    pub fn is_stopping(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }
}

/// One client's delivery, written by its HTTP body stream, read by the API.
#[derive(Debug)]
pub struct ReaderStat {
    pub id: u64,
    pub since: Instant,
    /// Ring offset up to which the client's connection has taken the bytes
    /// (handed to its writer: at most the writer's buffer and the socket's
    /// send buffer are still on their way).
    pub position: AtomicU64,
    /// Bytes handed to the connection.
    pub bytes: AtomicU64,
    /// Times it was moved to the newest keyframe for lagging.
    pub lags: AtomicU64,
}

impl ReaderStat {
    pub fn set_position(&self, pos: u64) {
        self.position.store(pos, Ordering::Relaxed);
    }
}

/// A client as `GET /api/sessions` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct ReaderView {
    pub id: u64,
    /// How far behind live its delivery is, in time.
    pub lag_ms: u64,
    pub lags: u64,
    pub bytes_sent: u64,
    pub connected_s: u64,
}

impl Shared {
    /// Registers a client of the ring (see [`ReaderStat`]).
    pub fn add_reader(&self) -> Arc<ReaderStat> {
        let r = Arc::new(ReaderStat {
            id: self.next_reader.fetch_add(1, Ordering::Relaxed),
            since: Instant::now(),
            position: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
            lags: AtomicU64::new(0),
        });
        let mut g = self.readers.lock();
        g.retain(|w| w.strong_count() > 0);
        g.push(Arc::downgrade(&r));
        r
    }

    pub fn reader_views(&self) -> Vec<ReaderView> {
        let readers: Vec<Arc<ReaderStat>> = {
            let mut g = self.readers.lock();
            g.retain(|w| w.strong_count() > 0);
            g.iter().filter_map(std::sync::Weak::upgrade).collect()
        };
        readers
            .iter()
            .map(|r| ReaderView {
                id: r.id,
                lag_ms: self
                    .ring
                    .lag(r.position.load(Ordering::Relaxed))
                    .as_millis() as u64,
                lags: r.lags.load(Ordering::Relaxed),
                bytes_sent: r.bytes.load(Ordering::Relaxed),
                connected_s: r.since.elapsed().as_secs(),
            })
            .collect()
    }
}

/// What `GET /api/sessions` shows for one session.
#[derive(Debug, Clone, Serialize)]
pub struct SessionView {
    pub channel: String,
    pub state: State,
    pub source_index: usize,
    pub source: String,
    pub clients: usize,
    pub bytes_in: u64,
    pub bitrate_bps: u64,
    pub failovers: u64,
    pub uptime_s: u64,
    pub bytes_out_ring: u64,
    pub readers_lagged: u64,
    pub readers_dropped: u64,
    pub timestamp_jumps: u64,
    pub corrupt_dropped: u64,
    pub ms_since_data: u64,
    pub media_lead_ms: u64,
    /// Output bytes the ring holds now.
    pub ring_bytes: u64,
    /// Each client: its lag behind live, lags, bytes.
    pub readers: Vec<ReaderView>,
}

impl Shared {
    pub fn view(&self) -> SessionView {
        SessionView {
            channel: self.channel.clone(),
            state: self.state(),
            source_index: self.source_index.load(Ordering::Relaxed),
            source: self.source.lock().clone(),
            clients: self.clients.load(Ordering::Relaxed),
            bytes_in: self.bytes_in.load(Ordering::Relaxed),
            bitrate_bps: self.bitrate_bps(),
            failovers: self.failovers.load(Ordering::Relaxed),
            uptime_s: self.started.elapsed().as_secs(),
            bytes_out_ring: self.ring.written(),
            readers_lagged: self.readers_lagged.load(Ordering::Relaxed),
            readers_dropped: self.readers_dropped.load(Ordering::Relaxed),
            timestamp_jumps: self.timestamp_jumps.load(Ordering::Relaxed),
            corrupt_dropped: self.corrupt_dropped.load(Ordering::Relaxed),
            ms_since_data: self.ms_since_data(),
            media_lead_ms: self.media_lead_ms.load(Ordering::Relaxed),
            ring_bytes: self.ring.held_bytes(),
            readers: self.reader_views(),
        }
    }
}
