//! Channel sessions: one per tuned channel, shared by all its clients.
//! Starts a session on the first request, joins later clients to it,
//! enforces the tuner budget, lingers after the last client leaves, makes
//! a lingering session yield its provider account connection to a session
//! that needs it (see `budget`), and stops everything at shutdown.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use parking_lot::Mutex;

use super::budget::{AccountId, ConnectionBudget, Holder};
use super::health::{Phase, ReaderStat, SessionView, Shared, State};
use super::input;
use super::ring::{Ring, RingReader};
use super::session::{self, Plan, Reclaim};
use super::upstream::Target;
use crate::config::{StreamConfig, TunerConfig};
use crate::events::EventBus;
use crate::lineup::{CandidateSource, Channel};

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum TuneError {
    #[error("all {0} tuners are in use")]
    AllTunersBusy(u32),
    #[error("tuning failed: {0}")]
    Failed(String),
    #[error("server is shutting down")]
    ShuttingDown,
}

struct Entry {
    /// Unique per process run: the session's name in the budget.
    id: u64,
    shared: Arc<Shared>,
    /// Bumped whenever a client joins; a linger timer only stops the
    /// session if nobody joined since it was armed.
    generation: Arc<AtomicU64>,
    linger: Duration,
    join_behind: Duration,
    max_lag: Duration,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// Owned by the HTTP state; the map is guarded by a mutex held only for
/// lookups and inserts, never across awaits or FFmpeg calls.
pub struct Sessions {
    map: Mutex<HashMap<String, Entry>>,
    tuners: u32,
    stream: StreamConfig,
    events: EventBus,
    shutting_down: AtomicBool,
    /// Provider connection limits; the app sets them, sessions take
    /// connections from it.
    budget: Arc<ConnectionBudget>,
    /// `tuner.zap_grace_ms`.
    zap_grace: Duration,
    /// The next session id (ids start at 1; 0 is "not a session").
    next_id: AtomicU64,
}

/// A client's hold on a session; dropping it (the HTTP body ended) may
/// start the linger timer.
pub struct ClientGuard {
    sessions: Arc<Sessions>,
    channel: String,
    shared: Arc<Shared>,
    /// This client's line in `/api/sessions` (lag, lags, bytes).
    reader: Arc<ReaderStat>,
    max_lag: Duration,
}

impl Drop for ClientGuard {
    fn drop(&mut self) {
        let left = self.shared.clients.fetch_sub(1, Ordering::AcqRel) - 1;
        tracing::debug!(channel = %self.channel, clients = left, "client left");
        if left == 0 {
            self.sessions.arm_linger(&self.channel, &self.shared);
        }
    }
}

impl ClientGuard {
    pub fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    pub fn reader(&self) -> &Arc<ReaderStat> {
        &self.reader
    }

    /// Past this lag behind live the client is moved to the newest keyframe.
    pub fn max_lag(&self) -> Duration {
        self.max_lag
    }
}

impl Sessions {
    /// `budget` holds the provider accounts' connection limits: the app
    /// keeps a handle (or uses [`Sessions::budget`]) and calls
    /// [`ConnectionBudget::set_limit`] with each provider source's
    /// `max_connections` (accounts are `CandidateSource::Provider`'s
    /// `source_id`); an account with no limit set is unlimited.
    pub fn new(
        tuner: &TunerConfig,
        stream: StreamConfig,
        events: EventBus,
        budget: Arc<ConnectionBudget>,
    ) -> Arc<Self> {
        Arc::new(Self {
            map: Mutex::new(HashMap::new()),
            tuners: tuner.count,
            stream,
            events,
            shutting_down: AtomicBool::new(false),
            budget,
            zap_grace: Duration::from_millis(tuner.zap_grace_ms),
            next_id: AtomicU64::new(1),
        })
    }

    pub fn tuner_count(&self) -> u32 {
        self.tuners
    }

    /// The provider connection budget every session draws from: set limits
    /// with [`ConnectionBudget::set_limit`], show
    /// [`ConnectionBudget::view`] in the API.
    pub fn budget(&self) -> &Arc<ConnectionBudget> {
        &self.budget
    }

    /// Joins or starts the channel's session and waits until it can serve
    /// (a join point is in the ring) or has failed.
    pub async fn tune(
        self: &Arc<Self>,
        ch: &Channel,
    ) -> Result<(RingReader, ClientGuard), TuneError> {
        if self.shutting_down.load(Ordering::Relaxed) {
            return Err(TuneError::ShuttingDown);
        }
        let (shared, join_behind, max_lag) = self.join_or_start(ch)?;
        let guard = ClientGuard {
            sessions: Arc::clone(self),
            channel: ch.number.clone(),
            reader: shared.add_reader(),
            shared: Arc::clone(&shared),
            max_lag,
        };
        let mut phase = shared.phase.subscribe();
        let outcome = phase
            .wait_for(|p| *p != Phase::Starting)
            .await
            .map(|p| p.clone());
        match outcome {
            Ok(Phase::Ready) => {}
            Ok(Phase::Failed(reason)) => return Err(TuneError::Failed(reason)),
            _ => return Err(TuneError::Failed("session ended while starting".into())),
        }
        match shared.ring.reader(join_behind) {
            Some(r) => {
                guard.reader.set_position(r.position());
                Ok((r, guard))
            }
            None => Err(TuneError::Failed(
                "session ended before any keyframe".into(),
            )),
        }
    }

    fn join_or_start(
        self: &Arc<Self>,
        ch: &Channel,
    ) -> Result<(Arc<Shared>, Duration, Duration), TuneError> {
        let mut map = self.map.lock();
        if let Some(e) = map.get(&ch.number)
            && e.shared.state() != State::Ended
            && !e.shared.is_stopping()
        {
            e.generation.fetch_add(1, Ordering::AcqRel);
            let n = e.shared.clients.fetch_add(1, Ordering::AcqRel) + 1;
            tracing::debug!(channel = %ch.number, clients = n, "client joined running session");
            return Ok((Arc::clone(&e.shared), e.join_behind, e.max_lag));
        }
        // Ended sessions (exhausted) give their tuner back.
        if let Some(e) = map.remove(&ch.number) {
            Self::stop_entry(e);
        }
        map.retain(|_, e| e.shared.state() != State::Ended);
        let mut predecessor = None;
        if map.len() as u32 >= self.tuners {
            // A lingering session (no clients) yields its tuner.
            let idle = map
                .iter()
                .find(|(_, e)| e.shared.clients.load(Ordering::Acquire) == 0)
                .map(|(k, _)| k.clone());
            match idle {
                Some(k) => {
                    if let Some(mut e) = map.remove(&k) {
                        tracing::info!(channel = %k, "stopping idle session to free a tuner");
                        // The new session waits for this one's upstream to
                        // close: providers count connections.
                        predecessor = e.thread.take();
                        Self::stop_entry(e);
                    }
                }
                None => return Err(TuneError::AllTunersBusy(self.tuners)),
            }
        }
        let cfg = ch.effective_stream(&self.stream);
        // Sized by time: what a reader at the lag limit and a joiner need.
        let ring = Ring::with_max_age((cfg.ring_mb as usize) << 20, cfg.ring_age());
        let stop = Arc::new(AtomicBool::new(false));
        let shared = Shared::new(&ch.number, ring, stop);
        shared.clients.store(1, Ordering::Release);
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let me: Weak<Self> = Arc::downgrade(self);
        let reclaim: Reclaim = Arc::new(move |account, requester| {
            me.upgrade().is_some_and(|s| s.reclaim(account, requester))
        });
        let plan = Plan {
            channel: ch.number.clone(),
            candidates: ch
                .candidates
                .iter()
                .map(|c| Target {
                    url: c.url.clone(),
                    user_agent: c.user_agent.clone(),
                    referrer: c.referrer.clone(),
                    local_files: c.source == CandidateSource::Config,
                    account: match &c.source {
                        CandidateSource::Provider { source_id, .. } => Some(*source_id),
                        CandidateSource::Config => None,
                    },
                })
                .collect(),
            stream: cfg.clone(),
            predecessor,
            budget: Arc::clone(&self.budget),
            holder: Holder::session(id, &ch.number),
            zap_grace: self.zap_grace,
            reclaim,
        };
        let thread = session::spawn(plan, Arc::clone(&shared), self.events.clone())
            .map_err(|e| TuneError::Failed(format!("cannot start session thread: {e}")))?;
        let join_behind = Duration::from_millis(cfg.join_behind_ms);
        map.insert(
            ch.number.clone(),
            Entry {
                id,
                shared: Arc::clone(&shared),
                generation: Arc::new(AtomicU64::new(0)),
                linger: Duration::from_millis(cfg.linger_ms),
                join_behind,
                max_lag: cfg.max_lag(),
                thread: Some(thread),
            },
        );
        tracing::info!(channel = %ch.number, "session started");
        Ok((shared, join_behind, cfg.max_lag()))
    }

    /// Frees a connection of `account` for session `requester`: a holder
    /// with no clients left (lingering after its last client, e.g. the
    /// channel a client just changed away from) is stopped at once, as an
    /// idle session yields its tuner. Answers whether a release is on its
    /// way: a holder was stopped here or earlier (no longer in the map, its
    /// thread closing), or the holder is the requester itself (its standby
    /// or an abandoned open closing). Holders with clients keep theirs.
    fn reclaim(&self, account: AccountId, requester: u64) -> bool {
        let holders = self.budget.holders(account);
        if holders.is_empty() {
            return false;
        }
        let mut map = self.map.lock();
        let mut releasing = false;
        for h in holders {
            if h.session == 0 {
                continue; // not a session: nothing to ask
            }
            if h.session == requester {
                releasing = true;
                continue;
            }
            let Some((key, e)) = map.iter().find(|(_, e)| e.id == h.session) else {
                releasing = true; // removed from the map: stopping
                continue;
            };
            if e.shared.is_stopping() || e.shared.state() == State::Ended {
                releasing = true;
            } else if e.shared.clients.load(Ordering::Acquire) == 0 {
                let key = key.clone();
                if let Some(e) = map.remove(&key) {
                    tracing::info!(channel = %key, account,
                        "stopping lingering session to free a provider account connection");
                    Self::stop_entry(e);
                    releasing = true;
                }
            }
        }
        releasing
    }

    /// Asks the session to stop without waiting: its thread ends within
    /// one interrupt poll (shutdown and a successor session join it).
    fn stop_entry(e: Entry) {
        e.shared.stop.store(true, Ordering::Release);
    }

    fn arm_linger(self: &Arc<Self>, channel: &str, shared: &Arc<Shared>) {
        let (generation, linger) = {
            let map = self.map.lock();
            match map.get(channel) {
                Some(e) if Arc::ptr_eq(&e.shared, shared) => {
                    (e.generation.load(Ordering::Acquire), e.linger)
                }
                _ => return,
            }
        };
        let Ok(rt) = tokio::runtime::Handle::try_current() else {
            self.stop_if_idle(channel, shared, generation);
            return;
        };
        let me = Arc::clone(self);
        let channel = channel.to_string();
        let shared = Arc::clone(shared);
        rt.spawn(async move {
            tokio::time::sleep(linger).await;
            me.stop_if_idle(&channel, &shared, generation);
        });
    }

    fn stop_if_idle(&self, channel: &str, shared: &Arc<Shared>, generation: u64) {
        let mut map = self.map.lock();
        let idle = map.get(channel).is_some_and(|e| {
            Arc::ptr_eq(&e.shared, shared)
                && e.generation.load(Ordering::Acquire) == generation
                && e.shared.clients.load(Ordering::Acquire) == 0
        });
        if idle && let Some(e) = map.remove(channel) {
            tracing::info!(%channel, "last client gone and linger over: stopping session");
            Self::stop_entry(e);
        }
    }

    pub fn views(&self) -> Vec<SessionView> {
        let mut v: Vec<SessionView> = self.map.lock().values().map(|e| e.shared.view()).collect();
        v.sort_by(|a, b| a.channel.cmp(&b.channel));
        v
    }

    pub fn active(&self) -> usize {
        self.map
            .lock()
            .values()
            .filter(|e| e.shared.state() != State::Ended)
            .count()
    }

    /// Stops every session and waits (up to `timeout`) for their threads.
    pub fn shutdown(&self, timeout: Duration) {
        self.shutting_down.store(true, Ordering::Relaxed);
        let entries: Vec<Entry> = self.map.lock().drain().map(|(_, e)| e).collect();
        let mut threads = Vec::new();
        for mut e in entries {
            e.shared.stop.store(true, Ordering::Release);
            e.shared.ring.close();
            threads.extend(e.thread.take());
        }
        let deadline = std::time::Instant::now() + timeout;
        for t in threads {
            while !t.is_finished() && std::time::Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(10));
            }
            if t.is_finished() {
                let _ = t.join();
            }
        }
        // Open threads the sessions abandoned (cancelled, so they end
        // within an interrupt poll unless DNS holds them). Process-wide:
        // bounded so another server's stuck open cannot hold this one.
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        let stuck = input::join_open_threads(left.min(OPEN_JOIN_WAIT));
        if stuck > 0 {
            tracing::warn!(
                threads = stuck,
                "open threads still blocked at shutdown (DNS); they end with the process"
            );
        }
    }
}

/// Longest wait at shutdown for abandoned open threads.
const OPEN_JOIN_WAIT: Duration = Duration::from_secs(1);
