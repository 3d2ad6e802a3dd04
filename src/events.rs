//! Typed events and the in-process bus they travel on.
//!
//! What belongs here: the [`EventKind`] enum (one variant per kind, with
//! structured fields), the [`EventBus`] every producer publishes to, and
//! the log subscriber. What does not: storage (the SQLite writer is a
//! subscriber in `store::events`), HTTP, anything from `media`.
//!
//! Producers never wait: the bus is a bounded broadcast ring. A subscriber
//! that falls behind loses the oldest events it had not read, and counts
//! them ([`BusStats`]); memory never grows with a slow subscriber.
//!
//! Serialised with `kind` as the tag, an event's fields other than `kind`
//! are what the store keeps as `detail` and the API returns, unchanged
//! from the untyped JSON that came before.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;
use tokio::sync::broadcast;

/// How many events the bus holds for a subscriber that is behind.
pub const DEFAULT_CAPACITY: usize = 4096;

/// One candidate's failure, as reported in `candidate_failed` and in the
/// `exhausted` summary. `source` is redacted by whoever builds it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Failure {
    pub index: usize,
    pub source: String,
    pub phase: &'static str,
    pub reason: String,
    pub error: String,
}

/// A completed switch from one candidate to another.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Failover {
    pub from: String,
    pub from_index: usize,
    /// Why the previous candidate was left (`stall`, `closed`, …).
    pub reason: String,
    /// How long the previous candidate had been quiet (0 unless a stall).
    pub stall_ms: u64,
    pub warm_standby: bool,
    /// Packets the warm standby held from its keyframe on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub held_packets: Option<usize>,
    pub new_muxer: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    pub dropped_streams: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub video_size: Option<String>,
    pub to: String,
    pub to_index: usize,
    /// From the decision to the first packet of the new input, in ms.
    pub switch_ms: f64,
    /// The splice measurements, when the remuxer made them.
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub splice: Option<SpliceSteps>,
}

/// What the splice did to the timeline (see `media::remux`).
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq)]
pub struct SpliceSteps {
    pub dts_step_ms: f64,
    pub av_offset_before_ms: Option<f64>,
    pub av_offset_after_ms: Option<f64>,
}

/// Every kind of event, with its fields. Later issues add sync results.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum EventKind {
    SessionStart {
        candidates: usize,
    },
    SessionStop {
        ran_ms: u64,
        bytes_in: u64,
        bytes_out: u64,
        failovers: u64,
        exhausted: bool,
    },
    /// The session thread panicked; the session was ended.
    SessionCrashed {},
    CandidateFailed(Failure),
    Stall {
        source: String,
        source_index: usize,
        quiet_ms: u64,
    },
    StallRecovered {
        source: String,
        stall_ms: u64,
    },
    Failover(Failover),
    /// Every candidate failed; the session ended.
    Exhausted {
        candidates: Vec<Failure>,
        ran_ms: u64,
        failovers: u64,
        bytes_in: u64,
    },
    /// A client too slow for the ring was disconnected.
    ReaderDropped {
        lags: usize,
        window_s: u64,
        skipped_bytes: u64,
    },
    /// A break inside one input, absorbed: a timestamp jump (`jump_ms`,
    /// input DTS after minus before; a 33-bit `wrap` is one too) or a
    /// byte-stream break the demuxer flagged (`corrupt`, `jump_ms` 0).
    /// `dropped_packets` counts the input's packets kept from the muxer
    /// so far for being corrupt or cut short.
    Discontinuity {
        source_index: usize,
        stream: &'static str,
        cause: &'static str,
        jump_ms: f64,
        dropped_packets: u64,
    },
    /// A provider sync stored its result.
    SyncCompleted(SyncCompleted),
    /// A provider sync changed nothing: the previous data stays.
    SyncFailed(SyncFailed),
    /// The lineup was rebuilt from the store.
    LineupBuilt {
        channels: u64,
        enabled: u64,
        streams: u64,
        matched: u64,
        suggested: u64,
        unmatched: u64,
        numbers_assigned: u64,
        stale_channels: u64,
        ms: u64,
    },
}

/// A provider sync that stored its result.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct SyncCompleted {
    pub source_id: i64,
    pub source: String,
    pub source_kind: String,
    /// Streams (or guide channels) in this sync.
    pub items: u64,
    pub added: u64,
    /// Missing from this sync, kept for now.
    pub stale: u64,
    /// Gone after their stale window.
    pub removed: u64,
    /// Entries the parser refused (bad URL, no id…).
    pub skipped: u64,
    /// Guide programmes stored (XMLTV).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub programmes: Option<u64>,
    pub ms: u64,
}

/// A provider sync that failed or was refused.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct SyncFailed {
    pub source_id: i64,
    pub source: String,
    pub source_kind: String,
    /// `auth_failed`, `account_inactive`, `fetch`, `http`, `parse`,
    /// `empty`, `drop`, `paused`, `store`.
    pub reason: String,
    /// What went wrong, with URLs redacted.
    pub error: String,
    /// Items still stored from the previous good sync.
    pub kept: u64,
}

impl EventKind {
    /// The `kind` tag as stored.
    pub fn name(&self) -> &'static str {
        match self {
            EventKind::SessionStart { .. } => "session_start",
            EventKind::SessionStop { .. } => "session_stop",
            EventKind::SessionCrashed {} => "session_crashed",
            EventKind::CandidateFailed(_) => "candidate_failed",
            EventKind::Stall { .. } => "stall",
            EventKind::StallRecovered { .. } => "stall_recovered",
            EventKind::Failover(_) => "failover",
            EventKind::Exhausted { .. } => "exhausted",
            EventKind::ReaderDropped { .. } => "reader_dropped",
            EventKind::Discontinuity { .. } => "discontinuity",
            EventKind::SyncCompleted(_) => "sync_completed",
            EventKind::SyncFailed(_) => "sync_failed",
            EventKind::LineupBuilt { .. } => "lineup_built",
        }
    }

    /// How loud the log subscriber is: WARN for trouble, INFO for a
    /// session's, a sync's or the lineup's milestones, DEBUG for what
    /// happened to one client (issue 12: a busy or hostile client base
    /// must not write a line per client at INFO; the store keeps every
    /// event whatever its level).
    pub fn log_level(&self) -> tracing::Level {
        if self.is_per_client() {
            tracing::Level::DEBUG
        } else if self.is_warning() {
            tracing::Level::WARN
        } else {
            tracing::Level::INFO
        }
    }

    /// About one client of a session, not the session itself.
    pub fn is_per_client(&self) -> bool {
        matches!(self, EventKind::ReaderDropped { .. })
    }

    /// Logged as a warning rather than as information (unless per client).
    pub fn is_warning(&self) -> bool {
        matches!(
            self,
            EventKind::CandidateFailed(_)
                | EventKind::Stall { .. }
                | EventKind::Failover(_)
                | EventKind::Exhausted { .. }
                | EventKind::ReaderDropped { .. }
                | EventKind::SessionCrashed {}
                | EventKind::SyncFailed(_)
        )
    }
}

/// An event as published: when, which channel, what.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub ts: DateTime<Utc>,
    pub channel: Option<String>,
    pub kind: EventKind,
}

impl Event {
    pub fn new(channel: Option<&str>, kind: EventKind) -> Self {
        Self {
            ts: Utc::now(),
            channel: channel.map(str::to_string),
            kind,
        }
    }

    /// RFC 3339 with milliseconds, UTC: sorts as text.
    pub fn ts_text(&self) -> String {
        self.ts.to_rfc3339_opts(SecondsFormat::Millis, true)
    }

    /// The fields other than `kind`, as a JSON object.
    pub fn detail(&self) -> serde_json::Value {
        let mut v = serde_json::to_value(&self.kind)
            .unwrap_or_else(|_| serde_json::Value::Object(Default::default()));
        if let Some(o) = v.as_object_mut() {
            o.remove("kind");
        }
        v
    }
}

/// Counters of the bus, shared by every handle.
#[derive(Debug, Default)]
pub struct BusStats {
    /// Events published.
    pub published: AtomicU64,
    /// Events the store writer never saw because it fell behind.
    pub dropped_store: AtomicU64,
    /// Events the log subscriber never saw because it fell behind.
    pub dropped_log: AtomicU64,
    /// Events other subscribers (the dashboard) missed.
    pub dropped_other: AtomicU64,
}

/// Counters as numbers, for the API.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
pub struct BusCounts {
    pub published: u64,
    pub dropped_store: u64,
    pub dropped_log: u64,
    pub dropped_other: u64,
}

/// Which counter a subscriber's losses go to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subscriber {
    Store,
    Log,
    Other,
}

/// A cheap, cloneable handle any thread can publish through; it never
/// blocks and never allocates beyond the event itself.
#[derive(Clone)]
pub struct EventBus {
    tx: broadcast::Sender<Arc<Event>>,
    stats: Arc<BusStats>,
}

impl EventBus {
    pub fn new(capacity: usize) -> Self {
        let (tx, _) = broadcast::channel(capacity.max(16));
        Self {
            tx,
            stats: Arc::new(BusStats::default()),
        }
    }

    pub fn publish(&self, channel: Option<&str>, kind: EventKind) {
        self.stats.published.fetch_add(1, Ordering::Relaxed);
        // No subscriber: nobody to tell.
        let _ = self.tx.send(Arc::new(Event::new(channel, kind)));
    }

    pub fn subscribe(&self, who: Subscriber) -> Subscription {
        Subscription {
            rx: self.tx.subscribe(),
            stats: Arc::clone(&self.stats),
            who,
        }
    }

    /// Events waiting for the slowest subscriber (at most the capacity).
    pub fn queued(&self) -> usize {
        self.tx.len()
    }

    pub fn counts(&self) -> BusCounts {
        self.stats.counts()
    }

    /// The counters, readable after every bus handle is gone.
    pub fn stats(&self) -> Arc<BusStats> {
        Arc::clone(&self.stats)
    }
}

impl BusStats {
    pub fn counts(&self) -> BusCounts {
        BusCounts {
            published: self.published.load(Ordering::Relaxed),
            dropped_store: self.dropped_store.load(Ordering::Relaxed),
            dropped_log: self.dropped_log.load(Ordering::Relaxed),
            dropped_other: self.dropped_other.load(Ordering::Relaxed),
        }
    }
}

/// One subscriber's end of the bus.
pub struct Subscription {
    rx: broadcast::Receiver<Arc<Event>>,
    stats: Arc<BusStats>,
    who: Subscriber,
}

impl Subscription {
    /// The next event; `None` once every [`EventBus`] handle is gone and
    /// everything queued was read. Events lost by falling behind are
    /// counted and skipped.
    pub async fn recv(&mut self) -> Option<Arc<Event>> {
        loop {
            match self.rx.recv().await {
                Ok(e) => return Some(e),
                Err(broadcast::error::RecvError::Lagged(n)) => self.count_lost(n),
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    }

    /// An event already queued, without waiting.
    pub fn try_recv(&mut self) -> Option<Arc<Event>> {
        loop {
            match self.rx.try_recv() {
                Ok(e) => return Some(e),
                Err(broadcast::error::TryRecvError::Lagged(n)) => self.count_lost(n),
                Err(_) => return None,
            }
        }
    }

    fn count_lost(&self, n: u64) {
        let c = match self.who {
            Subscriber::Store => &self.stats.dropped_store,
            Subscriber::Log => &self.stats.dropped_log,
            Subscriber::Other => &self.stats.dropped_other,
        };
        c.fetch_add(n, Ordering::Relaxed);
        if self.who != Subscriber::Log {
            tracing::warn!(subscriber = ?self.who, lost = n, "event subscriber fell behind: events skipped");
        }
    }
}

/// Logs every event through `tracing`, warnings for trouble. Ends when the
/// bus does.
pub fn spawn_logger(bus: &EventBus) -> tokio::task::JoinHandle<()> {
    let mut sub = bus.subscribe(Subscriber::Log);
    tokio::spawn(async move {
        while let Some(e) = sub.recv().await {
            log(&e);
        }
    })
}

fn log(e: &Event) {
    let channel = e.channel.as_deref().unwrap_or("-");
    let kind = e.kind.name();
    let detail = e.detail();
    match e.kind.log_level() {
        tracing::Level::WARN => tracing::warn!(channel, kind, %detail, "event"),
        tracing::Level::INFO => tracing::info!(channel, kind, %detail, "event"),
        _ => tracing::debug!(channel, kind, %detail, "event"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detail_keeps_the_old_shape() {
        let e = Event::new(
            Some("101"),
            EventKind::Stall {
                source: "http://h/***".into(),
                source_index: 0,
                quiet_ms: 3000,
            },
        );
        assert_eq!(
            e.detail(),
            serde_json::json!({"source": "http://h/***", "source_index": 0, "quiet_ms": 3000})
        );
        let f = EventKind::Failover(Failover {
            reason: "stall".into(),
            splice: Some(SpliceSteps {
                dts_step_ms: 40.0,
                av_offset_before_ms: Some(-20.0),
                av_offset_after_ms: None,
            }),
            ..Default::default()
        });
        let d = Event::new(None, f).detail();
        assert_eq!(d["dts_step_ms"], 40.0);
        assert_eq!(d["av_offset_after_ms"], serde_json::Value::Null);
        assert!(d.get("note").is_none() && d.get("held_packets").is_none());
        assert!(d.get("kind").is_none());
        let c = Event::new(None, EventKind::SessionCrashed {});
        assert_eq!(c.detail(), serde_json::json!({}));
    }

    fn one_of_each_kind() -> Vec<EventKind> {
        vec![
            EventKind::SessionStart { candidates: 1 },
            EventKind::SessionStop {
                ran_ms: 0,
                bytes_in: 0,
                bytes_out: 0,
                failovers: 0,
                exhausted: false,
            },
            EventKind::SessionCrashed {},
            EventKind::CandidateFailed(Failure {
                index: 0,
                source: String::new(),
                phase: "connect",
                reason: String::new(),
                error: String::new(),
            }),
            EventKind::Stall {
                source: String::new(),
                source_index: 0,
                quiet_ms: 0,
            },
            EventKind::StallRecovered {
                source: String::new(),
                stall_ms: 0,
            },
            EventKind::Failover(Failover::default()),
            EventKind::Exhausted {
                candidates: vec![],
                ran_ms: 0,
                failovers: 0,
                bytes_in: 0,
            },
            EventKind::ReaderDropped {
                lags: 3,
                window_s: 30,
                skipped_bytes: 0,
            },
            EventKind::Discontinuity {
                source_index: 0,
                stream: "audio",
                cause: "timestamp_jump",
                jump_ms: -12_000.0,
                dropped_packets: 3,
            },
            EventKind::SyncCompleted(SyncCompleted::default()),
            EventKind::SyncFailed(SyncFailed::default()),
            EventKind::LineupBuilt {
                channels: 0,
                enabled: 0,
                streams: 0,
                matched: 0,
                suggested: 0,
                unmatched: 0,
                numbers_assigned: 0,
                stale_channels: 0,
                ms: 0,
            },
        ]
    }

    #[test]
    fn every_name_matches_the_serde_tag() {
        for k in one_of_each_kind() {
            let v = serde_json::to_value(&k).unwrap();
            assert_eq!(v["kind"], k.name());
        }
    }

    /// Issue 12: what one client did is DEBUG; sessions, failovers,
    /// stalls, exhaustion and syncs keep their INFO/WARN lines.
    #[test]
    fn per_client_events_log_at_debug_issue_12() {
        use tracing::Level;
        let want = |k: &EventKind| match k.name() {
            "reader_dropped" => Level::DEBUG,
            "candidate_failed" | "stall" | "failover" | "exhausted" | "session_crashed"
            | "sync_failed" => Level::WARN,
            "session_start" | "session_stop" | "stall_recovered" | "sync_completed"
            | "lineup_built" | "discontinuity" => Level::INFO,
            other => panic!("no level decided for {other}"),
        };
        for k in one_of_each_kind() {
            assert_eq!(k.log_level(), want(&k), "{}", k.name());
        }
    }

    /// The log subscriber's lines at the default `info` filter: the
    /// session start is there, the per-client drop is not.
    #[test]
    fn info_log_has_no_per_client_lines_issue_12() {
        #[derive(Clone, Default)]
        struct Buf(Arc<parking_lot::Mutex<Vec<u8>>>);
        impl std::io::Write for Buf {
            fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
                self.0.lock().extend_from_slice(b);
                Ok(b.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let buf = Buf::default();
        let sink = buf.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::INFO)
            .with_ansi(false)
            .with_writer(move || sink.clone())
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            for k in one_of_each_kind() {
                log(&Event::new(Some("101"), k));
            }
        });
        let text = String::from_utf8(buf.0.lock().clone()).unwrap();
        assert!(text.contains("kind=\"session_start\""), "{text}");
        assert!(text.contains("kind=\"failover\""), "{text}");
        assert!(!text.contains("reader_dropped"), "{text}");
    }

    #[tokio::test]
    async fn a_slow_subscriber_loses_and_counts_never_grows() {
        let bus = EventBus::new(16);
        let mut sub = bus.subscribe(Subscriber::Other);
        for i in 0..1000 {
            bus.publish(None, EventKind::SessionStart { candidates: i });
            assert!(bus.queued() <= 16);
        }
        let mut got = 0;
        while sub.try_recv().is_some() {
            got += 1;
        }
        let c = bus.counts();
        assert_eq!(c.published, 1000);
        assert_eq!(got, 16);
        assert_eq!(c.dropped_other, 1000 - 16);
    }
}
