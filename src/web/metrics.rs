//! `/metrics` in the Prometheus text format (0.0.4), through
//! `prometheus-client`. Counters are fed by the dashboard's bus subscriber
//! ([`Metrics::observe`]); gauges are read at scrape time from `Sessions`
//! and the connection budget, the numbers `/api/sessions` and
//! `/api/accounts` show. One registry per server (no global recorder), so
//! servers in one process (the tests) do not share counters.

use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::Mutex;
use prometheus_client::encoding::prometheus_text;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use crate::events::{Event, EventBus, EventKind};
use crate::media::health::State as SessionState;
use crate::media::manager::Sessions;

/// The Prometheus text format, version 0.0.4.
pub const CONTENT_TYPE: &str = prometheus_text::CONTENT_TYPE;

type Labels = Vec<(String, String)>;

fn labels(pairs: &[(&str, &str)]) -> Labels {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// A counter that grows from totals computed at scrape time (ended
/// sessions plus live ones), never backwards: a session that just ended
/// may be missing from both for a moment.
#[derive(Default)]
struct Monotonic {
    counter: Counter,
    last: Mutex<u64>,
}

impl Monotonic {
    fn observe_total(&self, total: u64) {
        let mut last = self.last.lock();
        if total > *last {
            self.counter.inc_by(total - *last);
            *last = total;
        }
    }
}

pub struct Metrics {
    registry: Registry,
    sessions: Gauge,
    clients: Gauge,
    tuners: Gauge,
    bitrate_in: Gauge,
    bytes_in: Monotonic,
    bytes_out: Monotonic,
    /// Bytes of sessions that ended (from `session_stop`).
    ended_in: AtomicU64,
    ended_out: AtomicU64,
    sessions_started: Counter,
    stalls: Family<Labels, Counter>,
    failovers: Family<Labels, Counter>,
    switch_seconds: Histogram,
    exhausted: Counter,
    candidate_failures: Family<Labels, Counter>,
    readers_dropped: Counter,
    syncs: Family<Labels, Counter>,
    connections_in_use: Family<Labels, Gauge>,
    connections_max: Family<Labels, Gauge>,
    events_published: Monotonic,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut m = Self {
            registry: Registry::with_prefix("streamforge"),
            sessions: Gauge::default(),
            clients: Gauge::default(),
            tuners: Gauge::default(),
            bitrate_in: Gauge::default(),
            bytes_in: Monotonic::default(),
            bytes_out: Monotonic::default(),
            ended_in: AtomicU64::new(0),
            ended_out: AtomicU64::new(0),
            sessions_started: Counter::default(),
            stalls: Family::default(),
            failovers: Family::default(),
            switch_seconds: Histogram::new([0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0]),
            exhausted: Counter::default(),
            candidate_failures: Family::default(),
            readers_dropped: Counter::default(),
            syncs: Family::default(),
            connections_in_use: Family::default(),
            connections_max: Family::default(),
            events_published: Monotonic::default(),
        };
        let r = &mut m.registry;
        r.register("sessions", "Live channel sessions", m.sessions.clone());
        r.register(
            "clients",
            "Clients reading a channel session",
            m.clients.clone(),
        );
        r.register("tuners", "Tuners offered to Plex", m.tuners.clone());
        r.register(
            "bitrate_in_bits_per_second",
            "Upstream bitrate summed over live sessions",
            m.bitrate_in.clone(),
        );
        r.register(
            "bytes_in",
            "Bytes read from upstreams",
            m.bytes_in.counter.clone(),
        );
        r.register(
            "bytes_out",
            "Bytes muxed into channel rings (each client is sent these; per-client delivery is not counted)",
            m.bytes_out.counter.clone(),
        );
        r.register(
            "sessions_started",
            "Channel sessions started",
            m.sessions_started.clone(),
        );
        r.register("stalls", "Upstream stalls by channel", m.stalls.clone());
        r.register(
            "failovers",
            "Switches to another candidate, by the reason the previous one was left",
            m.failovers.clone(),
        );
        r.register(
            "failover_switch_seconds",
            "From the switch decision to the first packet of the new input",
            m.switch_seconds.clone(),
        );
        r.register(
            "exhausted",
            "Sessions that ended because every candidate failed",
            m.exhausted.clone(),
        );
        r.register(
            "candidate_failures",
            "Candidates that failed to open or play, by reason",
            m.candidate_failures.clone(),
        );
        r.register(
            "readers_dropped",
            "Clients disconnected for being too slow",
            m.readers_dropped.clone(),
        );
        r.register(
            "syncs",
            "Provider syncs by source and result (ok or the failure reason)",
            m.syncs.clone(),
        );
        r.register(
            "connections_in_use",
            "Provider connections open per account",
            m.connections_in_use.clone(),
        );
        r.register(
            "connections_max",
            "Provider connection limit per account (accounts with a limit)",
            m.connections_max.clone(),
        );
        r.register(
            "events",
            "Events published on the bus",
            m.events_published.counter.clone(),
        );
        m
    }

    /// Counts one bus event.
    pub fn observe(&self, e: &Event) {
        let channel = e.channel.as_deref().unwrap_or("");
        match &e.kind {
            EventKind::SessionStart { .. } => {
                self.sessions_started.inc();
            }
            EventKind::SessionStop {
                bytes_in,
                bytes_out,
                ..
            } => {
                self.ended_in.fetch_add(*bytes_in, Ordering::Relaxed);
                self.ended_out.fetch_add(*bytes_out, Ordering::Relaxed);
            }
            EventKind::Stall { .. } => {
                self.stalls
                    .get_or_create(&labels(&[("channel", channel)]))
                    .inc();
            }
            EventKind::Failover(f) => {
                self.failovers
                    .get_or_create(&labels(&[("reason", &f.reason)]))
                    .inc();
                self.switch_seconds.observe(f.switch_ms / 1000.0);
            }
            EventKind::Exhausted { .. } => {
                self.exhausted.inc();
            }
            EventKind::CandidateFailed(f) => {
                self.candidate_failures
                    .get_or_create(&labels(&[("reason", &f.reason)]))
                    .inc();
            }
            EventKind::ReaderDropped { .. } => {
                self.readers_dropped.inc();
            }
            EventKind::SyncCompleted(s) => {
                let id = s.source_id.to_string();
                self.syncs
                    .get_or_create(&labels(&[
                        ("source_id", &id),
                        ("kind", &s.source_kind),
                        ("result", "ok"),
                    ]))
                    .inc();
            }
            EventKind::SyncFailed(s) => {
                let id = s.source_id.to_string();
                self.syncs
                    .get_or_create(&labels(&[
                        ("source_id", &id),
                        ("kind", &s.source_kind),
                        ("result", &s.reason),
                    ]))
                    .inc();
            }
            _ => {}
        }
    }

    /// Reads the gauges and renders every metric.
    pub fn render(&self, sessions: &Sessions, events: &EventBus) -> String {
        let views = sessions.views();
        let live: Vec<_> = views
            .iter()
            .filter(|v| v.state != SessionState::Ended)
            .collect();
        self.sessions.set(live.len() as i64);
        self.clients
            .set(live.iter().map(|v| v.clients as i64).sum::<i64>());
        self.tuners.set(i64::from(sessions.tuner_count()));
        self.bitrate_in
            .set(live.iter().map(|v| v.bitrate_bps as i64).sum::<i64>());
        let live_in: u64 = live.iter().map(|v| v.bytes_in).sum();
        let live_out: u64 = live.iter().map(|v| v.bytes_out_ring).sum();
        self.bytes_in
            .observe_total(self.ended_in.load(Ordering::Relaxed) + live_in);
        self.bytes_out
            .observe_total(self.ended_out.load(Ordering::Relaxed) + live_out);
        self.events_published
            .observe_total(events.counts().published);
        self.connections_in_use.clear();
        self.connections_max.clear();
        for a in sessions.budget().view() {
            let l = labels(&[("account", &a.account.to_string())]);
            self.connections_in_use
                .get_or_create(&l)
                .set(i64::from(a.in_use));
            if let Some(max) = a.max {
                self.connections_max.get_or_create(&l).set(i64::from(max));
            }
        }
        let mut out = String::new();
        if let Err(e) = prometheus_text::encode(&mut out, &self.registry) {
            tracing::error!("cannot encode metrics: {e}");
        }
        out
    }
}
