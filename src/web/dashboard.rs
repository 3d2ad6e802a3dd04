//! What the dashboard keeps between requests: a few minutes of each live
//! session's bitrate (sampled from `Sessions`, the numbers `/api/sessions`
//! shows), per-channel counts the session views lack (stalls, from the
//! bus), the last probe of each channel, the metrics, and whether
//! discovery listens. Two tasks fill it: a bus subscriber and a sampler;
//! both stop on [`Dashboard::close`] (and when it is dropped).

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Weak};
use std::time::Duration;

use parking_lot::Mutex;
use serde::Serialize;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::metrics::Metrics;
use crate::events::{Event, EventBus, EventKind, Subscriber};
use crate::media::health::State;
use crate::media::manager::Sessions;
use crate::plex::{ssdp, udp};

/// How often a session's bitrate is sampled for its chart.
pub const SAMPLE_EVERY: Duration = Duration::from_secs(2);
/// Samples kept per session: five minutes.
pub const SAMPLES: usize = 150;

/// Whether one discovery responder listens, or why not.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Listening {
    pub on: bool,
    pub text: String,
}

/// The discovery responders' state, known once `run` started them.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Discovery {
    pub udp: Listening,
    pub ssdp: Listening,
}

impl Discovery {
    /// From the config switches and whether each responder started (a
    /// port that could not be bound is logged by the responder).
    pub fn new(udp_wanted: bool, udp_on: bool, ssdp_wanted: bool, ssdp_on: bool) -> Self {
        let one = |wanted: bool, on: bool, key: &str, port: u16, what: &str| Listening {
            on,
            text: match (wanted, on) {
                (_, true) => format!("listening on UDP {port} ({what})"),
                (false, false) => format!("off: discovery.{key} = false in the config"),
                (true, false) => format!(
                    "off: UDP port {port} could not be bound (another tuner program on this machine?); the server log says why. Add the tuner in Plex by its address"
                ),
            },
        };
        Self {
            udp: one(udp_wanted, udp_on, "udp", udp::PORT, "HDHomeRun discovery"),
            ssdp: one(ssdp_wanted, ssdp_on, "ssdp", ssdp::PORT, "SSDP/UPnP"),
        }
    }
}

/// Per channel, since its session started.
#[derive(Debug, Clone, Default)]
pub struct ChannelLive {
    pub stalls: u64,
    /// The last failover, in words.
    pub last_failover: Option<String>,
}

/// A channel's last probe, for the channels page.
#[derive(Debug, Clone, Serialize)]
pub struct LastProbe {
    pub at: String,
    /// One line per candidate, in failover order.
    pub candidates: Vec<String>,
}

pub struct Dashboard {
    pub metrics: Metrics,
    pub discovery: Discovery,
    /// Bitrate samples (bits/s) per channel, oldest first. Written by the
    /// sampler, read by page renders.
    history: Mutex<HashMap<String, VecDeque<u64>>>,
    /// Written by the bus subscriber, read by page renders.
    live: Mutex<HashMap<String, ChannelLive>>,
    /// Written by the probe endpoint, read by the channels page.
    probes: Mutex<HashMap<String, LastProbe>>,
    /// One probe at a time: each opens real provider connections.
    pub probe_lock: tokio::sync::Mutex<()>,
    closing: watch::Sender<bool>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
}

impl Dashboard {
    /// Starts the bus subscriber and the sampler.
    pub fn start(events: &EventBus, sessions: &Arc<Sessions>, discovery: Discovery) -> Arc<Self> {
        let (closing, _) = watch::channel(false);
        let d = Arc::new(Self {
            metrics: Metrics::new(),
            discovery,
            history: Mutex::default(),
            live: Mutex::default(),
            probes: Mutex::default(),
            probe_lock: tokio::sync::Mutex::new(()),
            closing,
            tasks: Mutex::default(),
        });
        // The tasks hold weak handles: the dashboard owns them, not the
        // other way round, and a sampler must not keep `Sessions` (and so
        // the bus) alive past shutdown.
        let mut sub = events.subscribe(Subscriber::Other);
        let weak = Arc::downgrade(&d);
        let listener = tokio::spawn(async move {
            while let Some(e) = sub.recv().await {
                let Some(d) = weak.upgrade() else { return };
                d.observe(&e);
            }
        });
        let weak = Arc::downgrade(&d);
        let sessions: Weak<Sessions> = Arc::downgrade(sessions);
        let sampler = tokio::spawn(async move {
            let mut tick = tokio::time::interval(SAMPLE_EVERY);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
            loop {
                tick.tick().await;
                let (Some(d), Some(s)) = (weak.upgrade(), sessions.upgrade()) else {
                    return;
                };
                d.sample(&s);
            }
        });
        d.tasks.lock().extend([listener, sampler]);
        d
    }

    /// Ends the live streams and stops the tasks (at shutdown: an open
    /// SSE stream would otherwise hold the graceful shutdown forever).
    pub fn close(&self) {
        self.closing.send_replace(true);
        for t in self.tasks.lock().drain(..) {
            t.abort();
        }
    }

    /// Resolves once [`Dashboard::close`] was called.
    pub fn closed(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        let mut rx = self.closing.subscribe();
        async move {
            let _ = rx.wait_for(|c| *c).await;
        }
    }

    fn observe(&self, e: &Event) {
        self.metrics.observe(e);
        let Some(ch) = e.channel.as_deref() else {
            return;
        };
        let mut live = self.live.lock();
        match &e.kind {
            EventKind::SessionStart { .. } => {
                live.insert(ch.to_string(), ChannelLive::default());
            }
            EventKind::Stall { .. } => live.entry(ch.to_string()).or_default().stalls += 1,
            EventKind::Failover(f) => {
                live.entry(ch.to_string()).or_default().last_failover = Some(format!(
                    "#{} → #{} ({}, {:.0} ms)",
                    f.from_index + 1,
                    f.to_index + 1,
                    f.reason,
                    f.switch_ms
                ));
            }
            _ => {}
        }
    }

    fn sample(&self, sessions: &Sessions) {
        let views = sessions.views();
        let mut h = self.history.lock();
        h.retain(|ch, _| views.iter().any(|v| &v.channel == ch));
        for v in views.iter().filter(|v| v.state != State::Ended) {
            let q = h.entry(v.channel.clone()).or_default();
            if q.len() == SAMPLES {
                q.pop_front();
            }
            q.push_back(v.bitrate_bps);
        }
    }

    /// The bitrate samples of a channel's session, oldest first.
    pub fn history(&self, channel: &str) -> Vec<u64> {
        self.history
            .lock()
            .get(channel)
            .map(|q| q.iter().copied().collect())
            .unwrap_or_default()
    }

    pub fn live(&self, channel: &str) -> ChannelLive {
        self.live.lock().get(channel).cloned().unwrap_or_default()
    }

    pub fn set_probe(&self, channel_id: &str, p: LastProbe) {
        self.probes.lock().insert(channel_id.to_string(), p);
    }

    pub fn probe(&self, channel_id: &str) -> Option<LastProbe> {
        self.probes.lock().get(channel_id).cloned()
    }
}

impl Drop for Dashboard {
    fn drop(&mut self) {
        for t in self.tasks.get_mut().drain(..) {
            t.abort();
        }
    }
}
