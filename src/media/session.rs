//! The failover policy, in one place: a channel session's demux thread
//! tries candidates in order at connect time, watches the live input
//! (through its watchdog thread), opens a warm standby when it stalls,
//! switches at the failover threshold or at once on close/error, stays on
//! the backup, and ends cleanly with an `exhausted` event when nothing is
//! left. Provider connection limits are part of the policy: a candidate
//! needs a free connection of its account ([`budget`](super::budget)) or
//! is skipped (`account_full`), a standby that would exceed the limit is
//! not opened (the switch then closes the primary first and opens the
//! backup cold), and a starting session gives a channel-changing client's
//! old channel a short grace to let go. The thresholds and the thread that
//! watches them are in `watchdog.rs`; the splice itself is in `remux.rs`;
//! the bytes go to `ring.rs`.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use ffmpeg::Packet;
use ffmpeg_next as ffmpeg;
use parking_lot::Mutex;

use super::batch;
use super::budget::{AccountId, ConnectionBudget, Holder, Permit};
use super::health::{Phase, Shared, State};
use super::input::{self, Interrupt, OpenOptions, Opened};
use super::remux::{Attach, InputMap, Kind, Remuxer};
use super::sanitize::{Discontinuity, Sanitizer};
use super::standby::{AudioPreroll, Handover, Standby};
use super::upstream::{ReadEnd, Target, connect, read_packet};
use super::watchdog::Watchdog;
use crate::config::StreamConfig;
use crate::events::{EventBus, EventKind, Failover, Failure, SpliceSteps};
use crate::redact::redact;

/// Most media lead credited against stall detection (covers 10 s HLS
/// segments; bounds the delay a drifting upstream clock could add).
const MAX_LEAD_MS: u64 = 12_000;

/// Everything a session thread needs.
pub struct Plan {
    pub channel: String,
    pub candidates: Vec<Target>,
    pub stream: StreamConfig,
    /// A session stopped to free this tuner: wait (bounded) for its
    /// upstream connection to close before opening ours.
    pub predecessor: Option<std::thread::JoinHandle<()>>,
    /// Provider connection limits, shared by every session.
    pub budget: Arc<ConnectionBudget>,
    /// This session, as the holder of its account connections.
    pub holder: Holder,
    /// How long a starting session waits for an account connection held
    /// by a session that still has clients (`tuner.zap_grace_ms`).
    pub zap_grace: Duration,
    pub reclaim: Reclaim,
}

/// Asks the session registry to free a connection of `account` for the
/// session `requester` (its id): holders with no clients left (lingering)
/// are stopped. Answers whether a release is on its way (a holder was
/// stopped or is stopping, or it is the requester's own input closing).
pub type Reclaim = Arc<dyn Fn(AccountId, u64) -> bool + Send + Sync>;

/// Longest wait for a predecessor session to let go of its upstream.
const PREDECESSOR_WAIT: Duration = Duration::from_secs(2);
/// Longest wait for an account connection its holder is already giving
/// back (a stopped lingering session, our own standby being closed).
const RELEASE_WAIT: Duration = PREDECESSOR_WAIT;
/// While waiting for an account connection, lingering holders are asked
/// to yield this often (a zapping client may leave its old channel now).
const BUDGET_POLL: Duration = Duration::from_millis(50);

impl Plan {
    fn open_options(&self) -> OpenOptions {
        OpenOptions {
            connect_timeout: Duration::from_millis(self.stream.connect_timeout_ms),
            user_agent: self.stream.user_agent.clone(),
            referrer: None,
            protocols: None,
            skip_fps_probe: true,
        }
    }
    fn connect_timeout(&self) -> Duration {
        Duration::from_millis(self.stream.connect_timeout_ms)
    }
    fn failover_after(&self) -> Duration {
        Duration::from_millis(self.stream.failover_after_ms)
    }
}

/// The live input.
struct Live {
    index: usize,
    opened: Opened,
    map: InputMap,
    /// Video packets are dropped until a keyframe (a fresh connection).
    waiting_key: bool,
    /// Established once its first packet reached the muxer: from then on
    /// the deadline follows `failover_after`, before it `connect_timeout`.
    established: bool,
    /// A failover event to complete once the first packet is written.
    pending_failover: Option<(Instant, Failover)>,
    /// A completed switch whose event waits for the splice measurements
    /// (A/V offset after needs a packet of each stream): (event, writes).
    unreported: Option<(Failover, u32)>,
    /// `map.jumps` already counted in the session's total.
    jumps_seen: u64,
    /// (output DTS, `now_ms()`) at this input's first written packet: the
    /// origin for measuring how far media runs ahead of wall time.
    origin: Option<(i64, u64)>,
    /// Media received ahead of wall time, ms (see `Shared::quiet_ms`).
    lead_ms: u64,
    /// Corrupt packets out; each stream's newest packet held back until
    /// the next one: when an input ends (deadline, close, error) or jumps,
    /// libavformat's parser hands out the partial frame it had as an
    /// ordinary packet, and holding one back keeps it out of the splice.
    sanitize: Sanitizer,
    /// Audio read while waiting for the first keyframe (a cold open): it
    /// fills the splice's audio up to the keyframe.
    preroll: AudioPreroll,
    /// When the last `discontinuity` event was published, for corrupt
    /// packets and for jumps (each rate-limited on its own).
    last_discontinuity: [Option<Instant>; 2],
}

impl Live {
    fn new(index: usize, opened: Opened, map: InputMap, waiting_key: bool) -> Self {
        let sanitize = Sanitizer::new(map.params(Kind::Audio));
        Self {
            index,
            opened,
            map,
            waiting_key,
            established: false,
            pending_failover: None,
            unreported: None,
            jumps_seen: 0,
            origin: None,
            lead_ms: 0,
            sanitize,
            preroll: AudioPreroll::default(),
            last_discontinuity: [None; 2],
        }
    }
}

/// At most one `discontinuity` event per input this often (a flood of
/// corrupt packets is one event, with its count).
const DISCONTINUITY_EVENT_EVERY: Duration = Duration::from_secs(1);

struct Runner {
    plan: Plan,
    shared: Arc<Shared>,
    events: EventBus,
    remux: Remuxer,
    failures: Vec<Failure>,
    standby: Arc<Mutex<Option<Standby>>>,
    /// Set by the watchdog when the standby was not opened for lack of an
    /// account connection; the next failover event carries it.
    standby_note: Arc<Mutex<Option<String>>>,
    /// A join point reached the ring: clients are being served.
    ready: bool,
}

/// Starts the session's demux thread (named `demux-<channel>`).
pub fn spawn(
    plan: Plan,
    shared: Arc<Shared>,
    events: EventBus,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    let name = format!("demux-{}", plan.channel);
    std::thread::Builder::new().name(name).spawn(move || {
        let channel = plan.channel.clone();
        let guard = Arc::clone(&shared);
        let sink = events.clone();
        let remux = Remuxer::new(Arc::clone(&shared.ring));
        let mut r = Runner {
            plan,
            shared,
            events,
            remux,
            failures: Vec::new(),
            standby: Arc::new(Mutex::new(None)),
            standby_note: Arc::new(Mutex::new(None)),
            ready: false,
        };
        // A bug must not leave clients waiting on a session that is gone.
        if std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| r.run())).is_err() {
            tracing::error!(%channel, "session thread panicked; ending the session");
            sink.publish(Some(&channel), EventKind::SessionCrashed {});
            guard.set_state(State::Ended);
            guard.ring.close();
            guard.phase.send_if_modified(|p| {
                let starting = *p == Phase::Starting;
                if starting {
                    *p = Phase::Failed("session thread crashed".into());
                }
                starting
            });
        }
    })
}

impl Runner {
    fn ev(&self, kind: EventKind) {
        self.events.publish(Some(&self.plan.channel), kind);
    }

    fn run(&mut self) {
        let started = Instant::now();
        if let Some(prev) = self.plan.predecessor.take() {
            while !prev.is_finished() && started.elapsed() < PREDECESSOR_WAIT {
                std::thread::sleep(Duration::from_millis(10));
            }
            if prev.is_finished() {
                let _ = prev.join();
            }
        }
        self.ev(EventKind::SessionStart {
            candidates: self.plan.candidates.len(),
        });
        let watchdog = self.spawn_watchdog();
        let mut live = self.connect_from(0, None);
        while let Some(mut cur) = live.take() {
            let end = self.pump(&mut cur);
            // A switch completed but not yet reported is reported now.
            if let Some((ctx, _)) = cur.unreported.take() {
                self.report_failover(ctx);
            }
            match end {
                ReadEnd::Stopped => break,
                end => {
                    // The watchdog dates the stall from the last data; the
                    // demuxer may still hand out buffered packets after it.
                    let since = self.shared.stall_since_ms.load(Ordering::Relaxed);
                    let stall_ms = if since > 0 {
                        input::now_ms().saturating_sub(since)
                    } else {
                        self.shared.ms_since_data()
                    };
                    // Before the first keyframe reached a client this is
                    // still the connect phase.
                    // A session being stopped (shutdown, linger over) sees
                    // its upstream end: that is no candidate failure.
                    if self.shared.is_stopping() {
                        break;
                    }
                    let phase = if self.ready { "midstream" } else { "connect" };
                    self.record_failure(cur.index, phase, end.kind(), &end.to_string());
                    let decided = Instant::now();
                    self.shared.set_state(State::Switching);
                    let ctx = Failover {
                        from: redact(&self.plan.candidates[cur.index].url),
                        from_index: cur.index,
                        reason: end.kind().to_string(),
                        stall_ms: if matches!(end, ReadEnd::Stalled) {
                            stall_ms
                        } else {
                            0
                        },
                        note: self.standby_note.lock().take(),
                        ..Default::default()
                    };
                    let from = cur.index;
                    // Closes the failed upstream connection and gives its
                    // account connection back, before anything else opens.
                    drop(cur);
                    live = self.switch(from, decided, ctx);
                }
            }
        }
        *self.standby.lock() = None;
        self.remux.finish();
        let exhausted = !self.shared.is_stopping();
        if exhausted {
            self.ev(EventKind::Exhausted {
                candidates: self.failures.clone(),
                ran_ms: started.elapsed().as_millis() as u64,
                failovers: self.shared.failovers.load(Ordering::Relaxed),
                bytes_in: self.shared.bytes_in.load(Ordering::Relaxed),
            });
        }
        // Whoever still waits for this session to start gets an answer.
        let reason = if exhausted {
            let list = self
                .failures
                .iter()
                .map(|f| format!("#{} {}", f.index, f.reason))
                .collect::<Vec<_>>()
                .join(", ");
            format!("every candidate failed: {list}")
        } else {
            "session stopped".to_string()
        };
        self.shared.phase.send_if_modified(|p| {
            let starting = *p == Phase::Starting;
            if starting {
                *p = Phase::Failed(reason);
            }
            starting
        });
        self.shared.set_state(State::Ended);
        self.shared.ring.close();
        if let Some(w) = watchdog {
            w.thread().unpark();
            let _ = w.join();
        }
        self.ev(EventKind::SessionStop {
            ran_ms: started.elapsed().as_millis() as u64,
            bytes_in: self.shared.bytes_in.load(Ordering::Relaxed),
            bytes_out: self.shared.ring.written(),
            failovers: self.shared.failovers.load(Ordering::Relaxed),
            exhausted,
        });
    }

    fn report_failover(&self, mut ctx: Failover) {
        ctx.splice = self.remux.last_splice.map(|r| SpliceSteps {
            dts_step_ms: r.video_dts_step_ms,
            av_offset_before_ms: r.av_offset_before_ms,
            av_offset_after_ms: r.av_offset_after_ms,
        });
        self.ev(EventKind::Failover(ctx));
    }

    fn record_failure(&mut self, index: usize, phase: &'static str, reason: &str, error: &str) {
        let f = Failure {
            index,
            source: redact(&self.plan.candidates[index].url),
            phase,
            reason: reason.to_string(),
            error: error.to_string(),
        };
        self.ev(EventKind::CandidateFailed(f.clone()));
        self.failures.push(f);
    }

    /// The account connection candidate `index` needs (`None` for a config
    /// candidate). When its account is full, lingering holders are made to
    /// yield and waited for (bounded); a starting session (a tune, perhaps
    /// a client changing channel on the same account) also gives holders
    /// that still have clients `zap_grace` to let go. `Err` says why the
    /// candidate is skipped.
    fn permit_for(&self, index: usize) -> Result<Option<Permit>, String> {
        let Some(account) = self.plan.candidates[index].account else {
            return Ok(None);
        };
        let (budget, holder) = (&self.plan.budget, &self.plan.holder);
        if let Some(p) = budget.try_acquire_as(account, holder) {
            return Ok(Some(p));
        }
        let started = Instant::now();
        let grace = if self.ready {
            Duration::ZERO
        } else {
            self.plan.zap_grace
        };
        let mut deadline = started + grace;
        let mut releasing = false;
        loop {
            if self.shared.is_stopping() {
                return Err("session stopping".into());
            }
            if (self.plan.reclaim)(account, holder.session) && !releasing {
                releasing = true;
                deadline = deadline.max(Instant::now() + RELEASE_WAIT);
            }
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            let slice = (deadline - now).min(BUDGET_POLL);
            if let Some(p) = budget.acquire_timeout(account, holder, slice) {
                tracing::info!(channel = %self.plan.channel, index, account,
                    waited_ms = started.elapsed().as_millis() as u64,
                    "provider account connection freed");
                return Ok(Some(p));
            }
        }
        let max = budget
            .limit(account)
            .map_or("unlimited".to_string(), |m| m.to_string());
        Err(format!(
            "provider account {account} has no free connection ({} of {max} in use, waited {} ms)",
            budget.in_use(account),
            started.elapsed().as_millis()
        ))
    }

    /// Opens candidates from `start` on, in order, until one connects.
    fn connect_from(
        &mut self,
        start: usize,
        failover: Option<(Instant, Failover)>,
    ) -> Option<Live> {
        let opts = self.plan.open_options();
        for index in start..self.plan.candidates.len() {
            if self.shared.is_stopping() {
                return None;
            }
            let permit = match self.permit_for(index) {
                Ok(p) => p,
                Err(_) if self.shared.is_stopping() => return None,
                Err(e) => {
                    self.record_failure(index, "connect", "account_full", &e);
                    continue;
                }
            };
            let target = self.plan.candidates[index].clone();
            let interrupt = Interrupt::new(Arc::clone(&self.shared.stop), opts.connect_timeout);
            let name = format!("demux-{}-{index}", self.plan.channel);
            match connect(&name, &target, &opts, interrupt, permit) {
                Ok((opened, map)) => {
                    // The first keyframe must come within one more timeout.
                    opened.interrupt.extend(opts.connect_timeout);
                    let has_video = map.has(Kind::Video);
                    let pending = failover.clone().map(|(t, mut ctx)| {
                        ctx.warm_standby = false;
                        (t, ctx)
                    });
                    let mut live = Live::new(index, opened, map, has_video);
                    live.pending_failover = pending;
                    if self.attach(&mut live).is_some() {
                        return Some(live);
                    }
                }
                Err(e) => self.record_failure(index, "connect", e.reason(), &e.to_string()),
            }
        }
        None
    }

    /// Attaches a new live input to the muxer; `None` (failure recorded)
    /// when the muxer cannot take it.
    fn attach(&mut self, live: &mut Live) -> Option<()> {
        match self.remux.attach(&mut live.map) {
            Ok(a) => {
                self.shared.ring.set_audio_only(!live.map.has(Kind::Video));
                // A standby for this candidate or an earlier one is stale.
                let mut sb = self.standby.lock();
                if sb.as_ref().is_some_and(|s| s.index <= live.index) {
                    *sb = None;
                }
                drop(sb);
                self.shared.set_source(live.index, redact(&live.opened.url));
                if let Some((_, ctx)) = live.pending_failover.as_mut() {
                    ctx.new_muxer = matches!(a, Attach::NewMuxer { .. });
                    if let Attach::NewMuxer { reason } = &a {
                        let note = format!(
                            "new muxer, PAT/PMT version bumped, discontinuity flagged: {reason}"
                        );
                        ctx.note = Some(match ctx.note.take() {
                            Some(n) => format!("{n}; {note}"),
                            None => note,
                        });
                    }
                    ctx.dropped_streams = live.map.dropped_streams;
                    if let Some((w, h)) = live.map.video_size() {
                        ctx.video_size = Some(format!("{w}x{h}"));
                    }
                }
                tracing::info!(channel = %self.plan.channel, index = live.index, source = %redact(&live.opened.url),
                    open_ms = live.opened.open_ms, attach = ?a, "candidate attached");
                Some(())
            }
            Err(e) => {
                self.record_failure(live.index, "connect", "mux_error", &e.to_string());
                None
            }
        }
    }

    /// Moves on from the failed candidate `from`: the warm standby when it
    /// holds the next candidate, else the next candidates in order.
    fn switch(&mut self, from: usize, decided: Instant, ctx: Failover) -> Option<Live> {
        let sb = self.standby.lock().take();
        let next = match sb {
            Some(sb) if sb.index == from + 1 => match self.use_standby(sb, decided, &ctx) {
                Some(live) => return Some(live),
                // Its failure is recorded; go on after it.
                None => from + 2,
            },
            // A stale standby goes now: it may hold an account connection
            // the next candidate needs.
            stale => {
                drop(stale);
                from + 1
            }
        };
        self.connect_from(next, Some((decided, ctx)))
    }

    /// Takes the standby over and splices its held packets in. `None` (the
    /// failure recorded) when it cannot be used.
    fn use_standby(&mut self, sb: Standby, decided: Instant, ctx: &Failover) -> Option<Live> {
        let index = sb.index;
        let Handover {
            opened,
            map,
            held,
            starts_at_key,
        } = match sb.take(self.plan.connect_timeout()) {
            Ok(h) => h,
            Err((reason, error)) => {
                self.record_failure(index, "standby", &reason, &error);
                return None;
            }
        };
        let mut ctx = ctx.clone();
        ctx.warm_standby = true;
        ctx.held_packets = Some(held.len());
        opened.interrupt.extend(self.plan.connect_timeout());
        let mut live = Live::new(index, opened, map, !starts_at_key);
        live.pending_failover = Some((decided, ctx));
        self.attach(&mut live)?;
        for (kind, p) in held {
            if let Err(e) = self.write(&mut live, kind, p) {
                self.record_failure(index, "switch", "mux_error", &e);
                return None;
            }
        }
        // The held GOP was a burst refilling clients drained by the stall:
        // it is no credit against the next stall, so measure from here.
        live.origin = None;
        live.lead_ms = 0;
        self.shared.set_media_lead(0);
        Some(live)
    }

    /// Reads and writes packets until the live input ends.
    fn pump(&mut self, cur: &mut Live) -> ReadEnd {
        let failover_after = self.plan.failover_after();
        let mut next_tune = 0;
        let batch_len = batch::batch_for(self.plan.stream.stall_detect_ms);
        loop {
            let pkt = match read_packet(&mut cur.opened) {
                Ok(p) => p,
                Err(ReadEnd::Again) => {
                    std::thread::sleep(Duration::from_millis(5));
                    continue;
                }
                Err(ReadEnd::Stalled) if !cur.established => {
                    return ReadEnd::Error("no keyframe within the connect timeout".into());
                }
                Err(e) => return e,
            };
            self.shared.add_bytes(pkt.size());
            // Only packets we forward count as data: a teletext or data
            // stream must not keep a session "healthy" whose video stopped.
            let Some((kind, p)) = cur.map.prepare(pkt) else {
                continue;
            };
            self.shared.mark_data();
            if cur.established {
                cur.opened
                    .interrupt
                    .extend(failover_after + Duration::from_millis(cur.lead_ms));
                let now = input::now_ms();
                if now >= next_tune {
                    next_tune = now + batch::TUNE_EVERY_MS;
                    let b = &cur.opened.interrupt.batch;
                    let ring = Arc::clone(&self.shared.ring);
                    b.before_sleep(move || ring.flush());
                    b.tune(&cur.opened.input, self.shared.bitrate_bps(), batch_len);
                }
            }
            let dropped = cur.sanitize.dropped;
            let (out, disc) = cur.sanitize.push(kind, p);
            self.shared
                .corrupt_dropped
                .fetch_add(cur.sanitize.dropped - dropped, Ordering::Relaxed);
            if let Some(d) = disc {
                self.discontinuity(cur, d);
            }
            let Some(p) = out else {
                continue;
            };
            if cur.waiting_key {
                if kind == Kind::Video && p.is_key() {
                    cur.waiting_key = false;
                    for (k, a) in cur.preroll.take_before(p.dts()) {
                        if let Err(e) = self.write(cur, k, a) {
                            return ReadEnd::Error(e);
                        }
                    }
                } else {
                    if kind == Kind::Audio {
                        cur.preroll.push(p);
                    }
                    continue;
                }
            }
            if let Err(e) = self.write(cur, kind, p) {
                return ReadEnd::Error(e);
            }
        }
    }

    /// Counts and reports a break inside the live input (rate-limited).
    fn discontinuity(&self, cur: &mut Live, d: Discontinuity) {
        let now = Instant::now();
        // One event per break (its other stream follows within the
        // second), and a run of corrupt packets is one event.
        let slot = &mut cur.last_discontinuity[usize::from(d.cause != "corrupt")];
        if slot.is_some_and(|t| now.duration_since(t) < DISCONTINUITY_EVENT_EVERY) {
            return;
        }
        *slot = Some(now);
        let stream = match d.kind {
            Kind::Video => "video",
            Kind::Audio => "audio",
        };
        tracing::info!(channel = %self.plan.channel, source = %redact(&cur.opened.url), stream,
            cause = d.cause, jump_ms = d.jump_ms, dropped = cur.sanitize.dropped,
            "discontinuity inside the input");
        self.ev(EventKind::Discontinuity {
            source_index: cur.index,
            stream,
            cause: d.cause,
            jump_ms: d.jump_ms,
            dropped_packets: cur.sanitize.dropped,
        });
    }

    fn write(&mut self, cur: &mut Live, kind: Kind, p: Packet) -> Result<(), String> {
        let wrote = self
            .remux
            .write(&mut cur.map, kind, p)
            .map_err(|e| e.to_string())?;
        if cur.map.jumps != cur.jumps_seen {
            self.shared
                .timestamp_jumps
                .fetch_add(cur.map.jumps - cur.jumps_seen, Ordering::Relaxed);
            cur.jumps_seen = cur.map.jumps;
            tracing::info!(channel = %self.plan.channel, source = %redact(&cur.opened.url),
                "timestamp jump inside the input absorbed (wrap, loop or encoder restart)");
        }
        if !wrote {
            return Ok(());
        }
        if let Some(dts) = self.remux.newest_dts() {
            let now = input::now_ms();
            let (dts0, wall0) = *cur.origin.get_or_insert((dts, now));
            let media = (dts - dts0).max(0) as u64 / 90;
            cur.lead_ms = media.saturating_sub(now - wall0).min(MAX_LEAD_MS);
            self.shared.set_media_lead(cur.lead_ms);
        }
        if !cur.established {
            cur.established = true;
            cur.opened.interrupt.extend(self.plan.failover_after());
            self.shared.mark_data();
        }
        if let Some((decided, mut ctx)) = cur.pending_failover.take() {
            ctx.to = redact(&cur.opened.url);
            ctx.to_index = cur.index;
            ctx.switch_ms = decided.elapsed().as_secs_f64() * 1000.0;
            self.shared.failovers.fetch_add(1, Ordering::Relaxed);
            self.shared.stall_since_ms.store(0, Ordering::Relaxed);
            self.shared.set_state(State::Healthy);
            cur.unreported = Some((ctx, 0));
        }
        if let Some((ctx, writes)) = cur.unreported.take() {
            let report = self.remux.last_splice;
            let complete = report.is_some_and(|r| r.av_offset_after_ms.is_some());
            // A stream may never show up after the splice: report anyway.
            if complete || writes >= 200 {
                self.report_failover(ctx);
            } else {
                cur.unreported = Some((ctx, writes + 1));
            }
        }
        if !self.ready && self.shared.ring.has_join_point() {
            // Whatever happened before (a candidate lost before its first
            // keyframe), clients can be served from here.
            self.ready = true;
            self.shared.transition(State::Starting, State::Healthy);
            self.shared.transition(State::Switching, State::Healthy);
            self.shared.phase.send_replace(Phase::Ready);
        }
        Ok(())
    }

    /// The watchdog marks stalls and recoveries and manages the standby
    /// (`watchdog.rs`).
    fn spawn_watchdog(&self) -> Option<std::thread::JoinHandle<()>> {
        Watchdog {
            shared: Arc::clone(&self.shared),
            events: self.events.clone(),
            standby: Arc::clone(&self.standby),
            channel: self.plan.channel.clone(),
            candidates: self.plan.candidates.clone(),
            cfg: self.plan.stream.clone(),
            opts: self.plan.open_options(),
            budget: Arc::clone(&self.plan.budget),
            holder: self.plan.holder.clone(),
            note: Arc::clone(&self.standby_note),
        }
        .spawn()
    }
}
