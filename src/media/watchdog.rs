//! The session's watchdog thread (`watch-<channel>`): every tick it
//! compares the quiet time of the live input with the thresholds, marks
//! `stalled` and recovered (with their events), opens the warm standby
//! early enough to reach the backup's keyframe (only when the backup's
//! provider account has a free connection), drops it when data returns,
//! and samples the bitrate. The switch itself is the demux thread's
//! (`session.rs`), when the input's interrupt deadline fires.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use parking_lot::Mutex;

use super::budget::{ConnectionBudget, Holder};
use super::health::{Shared, State};
use super::input::{self, OpenOptions};
use super::standby::Standby;
use super::upstream::Target;
use crate::config::StreamConfig;
use crate::events::{EventBus, EventKind};

/// Watchdog period near a threshold: stall detection is accurate to about
/// this.
const TICK: Duration = Duration::from_millis(50);
/// Period while the input is far from every threshold: at 100 channels
/// the watchdogs' 2,000 wakeups a second at [`TICK`] were 8 % of the
/// process's CPU (issue 11). Quiet time cannot cross a threshold during
/// one of these without [`next_tick`] having switched to [`TICK`] first.
const IDLE_TICK: Duration = Duration::from_millis(250);
/// How often the bitrate is sampled.
const SAMPLE_EVERY_MS: u64 = 250;

/// The next period for an input quiet for `quiet_ms` whose first threshold
/// (the warm standby's, [`standby_after_ms`]) is `first_ms`.
pub fn next_tick(quiet_ms: u64, first_ms: u64) -> Duration {
    let slow = (IDLE_TICK + TICK).as_millis() as u64;
    if quiet_ms + slow < first_ms {
        IDLE_TICK
    } else {
        TICK
    }
}

/// What the watchdog makes of a quiet upstream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Healthy,
    /// Quiet for `stall_detect_ms`: mark `stalled`, open the warm standby.
    Stalled,
    /// Quiet for `failover_after_ms`: the input's interrupt deadline fires
    /// and the demux thread switches.
    FailoverDue,
}

pub fn verdict(quiet_ms: u64, s: &StreamConfig) -> Verdict {
    if quiet_ms > s.failover_after_ms {
        Verdict::FailoverDue
    } else if quiet_ms >= s.stall_detect_ms {
        Verdict::Stalled
    } else {
        Verdict::Healthy
    }
}

/// The warm standby needs time to reach the backup's first keyframe (up
/// to a GOP, ~2 s with many providers) before the failover decision.
const STANDBY_LEAD_MS: u64 = 2500;

/// Quiet time after which the warm standby is opened: at the stall, or
/// earlier when the window between stall and failover is shorter than
/// [`STANDBY_LEAD_MS`] (never before half the stall threshold, so a
/// passing hiccup does not open connections).
pub fn standby_after_ms(s: &StreamConfig) -> u64 {
    s.stall_detect_ms
        .min(s.failover_after_ms.saturating_sub(STANDBY_LEAD_MS))
        .max(s.stall_detect_ms / 2)
}

/// What the watchdog thread needs (clones of the session's handles).
pub(super) struct Watchdog {
    pub shared: Arc<Shared>,
    pub events: EventBus,
    /// The warm standby slot, shared with the demux thread.
    pub standby: Arc<Mutex<Option<Standby>>>,
    pub channel: String,
    pub candidates: Vec<Target>,
    pub cfg: StreamConfig,
    pub opts: OpenOptions,
    pub budget: Arc<ConnectionBudget>,
    pub holder: Holder,
    /// Why no warm standby was opened, for the failover event.
    pub note: Arc<Mutex<Option<String>>>,
}

impl Watchdog {
    pub(super) fn spawn(self) -> Option<std::thread::JoinHandle<()>> {
        let Watchdog {
            shared,
            events,
            standby,
            channel,
            candidates,
            cfg,
            opts,
            budget,
            holder,
            note,
        } = self;
        let spawned = std::thread::Builder::new()
            .name(format!("watch-{channel}"))
            .spawn(move || {
                let mut stalled_since: Option<u64> = None;
                let mut sampled = input::now_ms();
                let standby_at = standby_after_ms(&cfg);
                let mut tick = TICK;
                // One standby per quiet spell.
                let mut standby_tried = false;
                while !matches!(shared.state(), State::Ended) && !shared.is_stopping() {
                    // The session unparks it when it ends.
                    std::thread::park_timeout(tick);
                    shared.ring.flush_stale();
                    let now = input::now_ms();
                    if now >= sampled + SAMPLE_EVERY_MS {
                        sampled = now;
                        shared.sample_rate();
                    }
                    let quiet = shared.quiet_ms();
                    tick = next_tick(quiet, standby_at);
                    let v = verdict(quiet, &cfg);
                    let index = shared.source_index.load(Ordering::Relaxed);
                    let playing = || matches!(shared.state(), State::Healthy | State::Stalled);
                    if quiet < standby_at {
                        // Data again: a standby opened for this spell goes.
                        standby_tried = false;
                        *note.lock() = None;
                        let mut slot = standby.lock();
                        if slot.is_some() && playing() {
                            *slot = None;
                        }
                    } else if cfg.warm_standby
                        && !standby_tried
                        && index + 1 < candidates.len()
                        && playing()
                    {
                        standby_tried = true;
                        // The standby is one more connection of its
                        // account: without a free one it is not opened,
                        // and the switch closes the primary first.
                        let next = &candidates[index + 1];
                        let permit = match next.account {
                            None => Ok(None),
                            Some(a) => budget.try_acquire_as(a, &holder).map(Some).ok_or(a),
                        };
                        let started = match permit {
                            Err(account) => {
                                let max = budget.limit(account).unwrap_or_default();
                                tracing::info!(%channel, index = index + 1, account,
                                    "no warm standby: the backup's provider account has no free connection; the switch will be cold");
                                *note.lock() = Some(format!(
                                    "no warm standby: provider account {account} had no free connection ({max} max); primary closed first, backup opened cold"
                                ));
                                None
                            }
                            Ok(permit) => Some(Standby::start(
                                &channel,
                                index + 1,
                                next.clone(),
                                opts.clone(),
                                Arc::clone(&shared.stop),
                                Duration::from_millis(cfg.failover_after_ms),
                                permit,
                            )),
                        };
                        match started {
                            None => {}
                            Some(Ok(sb)) => {
                                // Keep it only if the session is still on the
                                // input it was opened for.
                                let mut slot = standby.lock();
                                if playing() && shared.source_index.load(Ordering::Relaxed) == index
                                {
                                    *slot = Some(sb);
                                }
                            }
                            Some(Err(e)) => {
                                tracing::warn!(%channel, "cannot start standby thread: {e}")
                            }
                        }
                    }
                    if v != Verdict::Healthy && shared.transition(State::Healthy, State::Stalled) {
                        stalled_since = Some(input::now_ms() - quiet);
                        shared
                            .stall_since_ms
                            .store(input::now_ms() - quiet, Ordering::Relaxed);
                        events.publish(
                            Some(&channel),
                            EventKind::Stall {
                                source: shared.source.lock().clone(),
                                source_index: index,
                                quiet_ms: quiet,
                            },
                        );
                    } else if v == Verdict::Healthy
                        && shared.transition(State::Stalled, State::Healthy)
                    {
                        let since = stalled_since.take().unwrap_or_default();
                        shared.stall_since_ms.store(0, Ordering::Relaxed);
                        events.publish(
                            Some(&channel),
                            EventKind::StallRecovered {
                                source: shared.source.lock().clone(),
                                stall_ms: input::now_ms().saturating_sub(since),
                            },
                        );
                    }
                    if shared.state() != State::Stalled {
                        stalled_since = None;
                    }
                }
            });
        spawned
            .map_err(|e| tracing::error!("cannot start watchdog: {e}"))
            .ok()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::AtomicBool;
    use std::time::Duration;

    use super::*;
    use crate::media::input::Interrupt;

    /// The default thresholds' logic (3000/5000 ms), without waiting.
    #[test]
    fn default_thresholds() {
        let d = StreamConfig::default();
        assert_eq!(verdict(0, &d), Verdict::Healthy);
        assert_eq!(verdict(2999, &d), Verdict::Healthy);
        assert_eq!(verdict(3000, &d), Verdict::Stalled);
        assert_eq!(verdict(5000, &d), Verdict::Stalled);
        assert_eq!(verdict(5001, &d), Verdict::FailoverDue);
        // The demux thread's deadline follows failover_after_ms.
        let irq = Interrupt::new(
            Arc::new(AtomicBool::new(false)),
            Duration::from_millis(d.failover_after_ms),
        );
        let now = input::now_ms();
        assert!(!irq.expired_at(now + 4999));
        assert!(irq.expired_at(now + 5001));
        irq.extend(Duration::from_millis(d.failover_after_ms));
        assert!(
            !irq.expired_at(now + 5001 - 1),
            "extended by the next packet"
        );
    }

    #[test]
    fn ticks_fast_before_any_threshold_can_pass() {
        let d = StreamConfig::default();
        let first = standby_after_ms(&d);
        assert_eq!(next_tick(0, first), IDLE_TICK);
        assert_eq!(next_tick(2000, first), IDLE_TICK);
        // From here one idle period could end past the standby's moment.
        assert_eq!(next_tick(2201, first), TICK);
        assert_eq!(next_tick(first, first), TICK);
        assert_eq!(next_tick(60_000, first), TICK);
        // Short thresholds (the tests') always tick fast.
        let fast = StreamConfig {
            stall_detect_ms: 300,
            failover_after_ms: 500,
            ..d
        };
        assert_eq!(next_tick(0, standby_after_ms(&fast)), TICK);
        // Whatever the quiet time, the next check comes before the first
        // threshold is more than one fast period behind.
        for quiet in (0..first).step_by(7) {
            let t = next_tick(quiet, first).as_millis() as u64;
            assert!(
                quiet + t <= first + TICK.as_millis() as u64,
                "quiet {quiet} tick {t}"
            );
        }
    }

    #[test]
    fn standby_opens_early_enough_to_reach_a_keyframe() {
        let d = StreamConfig::default();
        assert_eq!(
            standby_after_ms(&d),
            2500,
            "defaults: 2.5 s before the 5 s failover"
        );
        let fast = StreamConfig {
            stall_detect_ms: 1000,
            failover_after_ms: 1500,
            ..d.clone()
        };
        assert_eq!(
            standby_after_ms(&fast),
            500,
            "no earlier than half the stall threshold"
        );
        let slow = StreamConfig {
            stall_detect_ms: 3000,
            failover_after_ms: 10_000,
            ..d
        };
        assert_eq!(
            standby_after_ms(&slow),
            3000,
            "at the stall when there is time"
        );
    }

    #[test]
    fn per_channel_overrides_apply() {
        let ch = crate::config::ChannelConfig {
            stall_detect_ms: Some(1000),
            failover_after_ms: Some(1500),
            ..Default::default()
        };
        let ch = crate::lineup::Channel::from_config(&ch);
        let s = ch.effective_stream(&StreamConfig::default());
        assert_eq!(verdict(999, &s), Verdict::Healthy);
        assert_eq!(verdict(1000, &s), Verdict::Stalled);
        assert_eq!(verdict(1501, &s), Verdict::FailoverDue);
    }
}
