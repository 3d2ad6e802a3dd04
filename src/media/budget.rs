//! Provider connection budget: how many upstream connections each provider
//! account may have open at once (its `max_connections`), and who holds
//! them. Providers count connections per account and kill streams or ban
//! accounts past the limit, so this, not `tuner.count`, is the real tuner
//! budget. A [`Permit`] stands for one open connection: the engine takes
//! one before opening a provider candidate (live input or warm standby)
//! and keeps it inside the opened input, so it is released only once the
//! connection is closed. Candidates typed into the config belong to no
//! account and need no permit.
//!
//! What a session does when an account is full (wait, make a lingering
//! session yield, skip the candidate) is failover policy and lives in
//! `session.rs` and `manager.rs`; this module only counts.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};
use serde::Serialize;

/// A provider account: the `source_id` of `CandidateSource::Provider`.
pub type AccountId = i64;

/// After a connection of a limited account closes, a new one on that
/// account waits this long: the provider must see the old connection go
/// (our FIN reaches it, it updates its count) before the new one arrives,
/// or for a moment it counts both. Cheap next to a cold open (a second).
pub const RELEASE_SETTLE: Duration = Duration::from_millis(100);

/// Who holds a connection: a session (by its id, unique per process run)
/// and its channel, for the API and for making lingering sessions yield.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Holder {
    /// 0: not a session (a tool, a test).
    pub session: u64,
    pub channel: String,
}

impl Holder {
    pub fn session(session: u64, channel: &str) -> Self {
        Self {
            session,
            channel: channel.to_string(),
        }
    }

    /// A holder that is not a session.
    pub fn external() -> Self {
        Self {
            session: 0,
            channel: String::new(),
        }
    }
}

#[derive(Debug, Default)]
struct Account {
    /// `None`: unlimited (counted, never refused).
    max: Option<u32>,
    /// One entry per outstanding permit: (permit id, holder).
    holders: Vec<(u64, Holder)>,
    last_release: Option<Instant>,
}

impl Account {
    fn in_use(&self) -> u32 {
        self.holders.len() as u32
    }

    fn has_room(&self) -> bool {
        self.max.is_none_or(|m| self.in_use() < m)
    }

    /// Nothing worth keeping: no limit and no holder.
    fn is_empty(&self) -> bool {
        self.max.is_none() && self.holders.is_empty()
    }
}

#[derive(Debug, Default)]
struct Inner {
    accounts: HashMap<AccountId, Account>,
    next_id: u64,
}

/// Shared (`Arc`) by the session registry, every session thread and its
/// warm standby, and whoever sets the limits (the app, from the provider
/// sources' `max_connections`). Session threads acquire and release;
/// the app writes limits; the API reads [`ConnectionBudget::view`].
#[derive(Debug, Default)]
pub struct ConnectionBudget {
    /// A `parking_lot::Mutex` around a small map: every section is a
    /// lookup or a push/remove on a handful of holders, never I/O.
    inner: Mutex<Inner>,
    /// Notified whenever a permit is released or a limit changes.
    freed: Condvar,
}

/// One account's line in the API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AccountView {
    pub account: AccountId,
    pub in_use: u32,
    /// `None`: unlimited.
    pub max: Option<u32>,
    pub holders: Vec<Holder>,
}

/// One open (or opening) upstream connection of an account. Dropping it
/// gives the connection back and wakes whoever waits for one. Keep it
/// where the connection lives (`input::Opened` holds it after the input,
/// so the socket is closed before the permit goes).
#[derive(Debug)]
pub struct Permit {
    budget: Arc<ConnectionBudget>,
    account: AccountId,
    id: u64,
}

impl Permit {
    pub fn account(&self) -> AccountId {
        self.account
    }

    /// How long to wait before opening the connection this permit stands
    /// for: the rest of [`RELEASE_SETTLE`] after the account's last release
    /// (limited accounts only).
    pub fn settle_delay(&self) -> Duration {
        let inner = self.budget.inner.lock();
        let Some(a) = inner.accounts.get(&self.account) else {
            return Duration::ZERO;
        };
        match (a.max, a.last_release) {
            (Some(_), Some(t)) => RELEASE_SETTLE.saturating_sub(t.elapsed()),
            _ => Duration::ZERO,
        }
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        let mut inner = self.budget.inner.lock();
        if let Some(a) = inner.accounts.get_mut(&self.account) {
            a.holders.retain(|(id, _)| *id != self.id);
            a.last_release = Some(Instant::now());
        }
        drop(inner);
        self.budget.freed.notify_all();
    }
}

impl ConnectionBudget {
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// Sets (or with `None` clears: unlimited) an account's limit. Lowering
    /// it below the connections in use closes nothing: new ones are
    /// refused until enough are released.
    pub fn set_limit(&self, account: AccountId, max: Option<u32>) {
        let mut inner = self.inner.lock();
        let a = inner.accounts.entry(account).or_default();
        a.max = max;
        if a.is_empty() {
            inner.accounts.remove(&account);
        }
        drop(inner);
        self.freed.notify_all();
    }

    pub fn limit(&self, account: AccountId) -> Option<u32> {
        self.inner.lock().accounts.get(&account).and_then(|a| a.max)
    }

    /// A connection of `account` for a holder that is not a session.
    pub fn try_acquire(self: &Arc<Self>, account: AccountId) -> Option<Permit> {
        self.try_acquire_as(account, &Holder::external())
    }

    /// A connection of `account` for `holder`, or `None` when the account
    /// is at its limit.
    pub fn try_acquire_as(self: &Arc<Self>, account: AccountId, holder: &Holder) -> Option<Permit> {
        let mut inner = self.inner.lock();
        Self::take(self, &mut inner, account, holder)
    }

    /// Like [`ConnectionBudget::try_acquire_as`], waiting up to `timeout`
    /// for a release.
    pub fn acquire_timeout(
        self: &Arc<Self>,
        account: AccountId,
        holder: &Holder,
        timeout: Duration,
    ) -> Option<Permit> {
        let deadline = Instant::now() + timeout;
        let mut inner = self.inner.lock();
        loop {
            if let Some(p) = Self::take(self, &mut inner, account, holder) {
                return Some(p);
            }
            if self.freed.wait_until(&mut inner, deadline).timed_out() {
                return Self::take(self, &mut inner, account, holder);
            }
        }
    }

    fn take(
        me: &Arc<Self>,
        inner: &mut Inner,
        account: AccountId,
        holder: &Holder,
    ) -> Option<Permit> {
        let id = inner.next_id;
        let a = inner.accounts.entry(account).or_default();
        if !a.has_room() {
            return None;
        }
        a.holders.push((id, holder.clone()));
        inner.next_id += 1;
        Some(Permit {
            budget: Arc::clone(me),
            account,
            id,
        })
    }

    /// Connections of `account` open (or opening) now.
    pub fn in_use(&self, account: AccountId) -> u32 {
        self.inner
            .lock()
            .accounts
            .get(&account)
            .map_or(0, Account::in_use)
    }

    /// Who holds `account`'s connections, one entry per connection.
    pub fn holders(&self, account: AccountId) -> Vec<Holder> {
        self.inner
            .lock()
            .accounts
            .get(&account)
            .map(|a| a.holders.iter().map(|(_, h)| h.clone()).collect())
            .unwrap_or_default()
    }

    /// Every account with a limit or a connection, by account id.
    pub fn view(&self) -> Vec<AccountView> {
        let inner = self.inner.lock();
        let mut v: Vec<AccountView> = inner
            .accounts
            .iter()
            .filter(|(_, a)| !a.is_empty())
            .map(|(id, a)| AccountView {
                account: *id,
                in_use: a.in_use(),
                max: a.max,
                holders: a.holders.iter().map(|(_, h)| h.clone()).collect(),
            })
            .collect();
        v.sort_by_key(|a| a.account);
        v
    }
}

// Permits move into the threads that open and read inputs.
const _: fn() = || {
    fn assert_send<T: Send + Sync>() {}
    assert_send::<Permit>();
    assert_send::<ConnectionBudget>();
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_limited_account_refuses_past_its_limit_and_a_drop_releases() {
        let b = ConnectionBudget::new();
        b.set_limit(1, Some(2));
        let p1 = b.try_acquire(1).expect("first");
        let p2 = b.try_acquire(1).expect("second");
        assert_eq!(b.in_use(1), 2);
        assert!(b.try_acquire(1).is_none(), "third refused at max 2");
        drop(p1);
        assert_eq!(b.in_use(1), 1);
        let p3 = b.try_acquire(1).expect("room again after a release");
        assert_eq!(p3.account(), 1);
        drop((p2, p3));
        assert_eq!(b.in_use(1), 0);
    }

    #[test]
    fn none_is_unlimited_and_accounts_are_separate() {
        let b = ConnectionBudget::new();
        let many: Vec<Permit> = (0..50).map(|_| b.try_acquire(7).unwrap()).collect();
        assert_eq!(b.in_use(7), 50, "no limit set: unlimited, still counted");
        b.set_limit(8, Some(1));
        let _one = b.try_acquire(8).unwrap();
        assert!(b.try_acquire(8).is_none());
        assert!(b.try_acquire(9).is_some(), "another account is unaffected");
        b.set_limit(8, None);
        assert!(b.try_acquire(8).is_some(), "clearing the limit: unlimited");
        drop(many);
        assert_eq!(b.in_use(7), 0);
        assert_eq!(b.limit(8), None);
    }

    #[test]
    fn lowering_a_limit_keeps_open_connections_and_refuses_new_ones() {
        let b = ConnectionBudget::new();
        b.set_limit(1, Some(3));
        let held: Vec<Permit> = (0..3).map(|_| b.try_acquire(1).unwrap()).collect();
        b.set_limit(1, Some(1));
        assert_eq!(b.in_use(1), 3);
        assert!(b.try_acquire(1).is_none());
        let mut held = held;
        held.pop();
        held.pop();
        assert!(b.try_acquire(1).is_none(), "1 in use at max 1");
        held.pop();
        assert!(b.try_acquire(1).is_some());
    }

    #[test]
    fn view_lists_limits_and_holders() {
        let b = ConnectionBudget::new();
        b.set_limit(2, Some(1));
        b.set_limit(1, Some(4));
        let _p = b.try_acquire_as(1, &Holder::session(5, "101")).unwrap();
        let _q = b.try_acquire_as(3, &Holder::session(6, "102")).unwrap();
        let v = b.view();
        assert_eq!(
            v.iter()
                .map(|a| (a.account, a.in_use, a.max))
                .collect::<Vec<_>>(),
            [(1, 1, Some(4)), (2, 0, Some(1)), (3, 1, None)]
        );
        assert_eq!(v[0].holders, [Holder::session(5, "101")]);
        assert_eq!(b.holders(3)[0].channel, "102");
        let json = serde_json::to_value(&v[1]).unwrap();
        assert_eq!(json["max"], 1);
        assert_eq!(json["in_use"], 0);
        drop(_q);
        assert_eq!(
            b.view().len(),
            2,
            "an unlimited account with nothing open is not listed"
        );
    }

    #[test]
    fn acquire_timeout_waits_for_a_release() {
        let b = ConnectionBudget::new();
        b.set_limit(1, Some(1));
        let p = b.try_acquire(1).unwrap();
        let t = Instant::now();
        assert!(
            b.acquire_timeout(1, &Holder::external(), Duration::from_millis(50))
                .is_none()
        );
        assert!(t.elapsed() >= Duration::from_millis(50));
        let releaser = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(30));
            drop(p);
        });
        let t = Instant::now();
        let got = b.acquire_timeout(1, &Holder::external(), Duration::from_secs(5));
        assert!(got.is_some(), "woken by the release");
        assert!(t.elapsed() < Duration::from_secs(2));
        releaser.join().unwrap();
        // Raising the limit wakes waiters too.
        let b2 = Arc::clone(&b);
        let raiser = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(30));
            b2.set_limit(1, Some(2));
        });
        assert!(
            b.acquire_timeout(1, &Holder::external(), Duration::from_secs(5))
                .is_some()
        );
        raiser.join().unwrap();
    }

    #[test]
    fn a_new_connection_waits_for_the_last_one_to_settle() {
        let b = ConnectionBudget::new();
        let free = b.try_acquire(9).unwrap();
        drop(free);
        let p = b.try_acquire(9).unwrap();
        assert_eq!(p.settle_delay(), Duration::ZERO, "unlimited: no wait");
        drop(p);
        b.set_limit(1, Some(1));
        let p = b.try_acquire(1).unwrap();
        assert_eq!(p.settle_delay(), Duration::ZERO, "nothing released yet");
        drop(p);
        let p = b.try_acquire(1).unwrap();
        let d = p.settle_delay();
        assert!(d > Duration::ZERO && d <= RELEASE_SETTLE, "{d:?}");
    }

    #[test]
    fn never_more_than_max_under_contention() {
        let b = ConnectionBudget::new();
        b.set_limit(1, Some(2));
        let peak = Arc::new(std::sync::atomic::AtomicU32::new(0));
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let (b, peak) = (Arc::clone(&b), Arc::clone(&peak));
                std::thread::spawn(move || {
                    for _ in 0..200 {
                        if let Some(p) =
                            b.acquire_timeout(1, &Holder::external(), Duration::from_millis(5))
                        {
                            peak.fetch_max(b.in_use(1), std::sync::atomic::Ordering::SeqCst);
                            drop(p);
                        }
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert!(peak.load(std::sync::atomic::Ordering::SeqCst) <= 2);
        assert_eq!(b.in_use(1), 0);
    }
}
