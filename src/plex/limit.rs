//! What discovery may send, pure: which peers it answers ([`Scope`], from
//! the address HTTP serves), how often ([`ReplyLimiter`], token buckets per
//! socket, per IP and in total) and how many SSDP answers may wait for
//! their MX delay ([`PendingCaps`]). No sockets and no clock of its own:
//! callers pass `Instant`s, so tests drive time by hand.
//!
//! Why three levels: a reply is up to 9x the request, so an unlimited
//! responder is an amplifier; a per-IP bucket alone would let one flooding
//! socket starve another program on the same host, a per-socket bucket
//! alone would let one host rotate source ports; the global bucket bounds
//! a spoofed flood from many addresses.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Instant;

/// Which peers discovery serves: those that can reach the HTTP address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// HTTP listens on every interface.
    All,
    /// HTTP listens on loopback: discovery binds the same address, so only
    /// this machine can ask.
    Loopback(IpAddr),
    /// HTTP listens on one LAN address: discovery binds all (broadcasts are
    /// not delivered to a socket bound to a unicast address) and answers
    /// only peers whose route from here leaves through that address.
    Interface(IpAddr),
}

impl Scope {
    pub fn for_http(ip: IpAddr) -> Self {
        if ip.is_unspecified() {
            Scope::All
        } else if ip.is_loopback() {
            Scope::Loopback(ip)
        } else {
            Scope::Interface(ip)
        }
    }

    /// The address the discovery sockets bind (with the protocol's port).
    pub fn bind_ip(&self) -> IpAddr {
        match self {
            Scope::Loopback(ip) => *ip,
            Scope::All | Scope::Interface(_) => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        }
    }

    /// Whether to answer `peer`; `route` is the local address towards it
    /// (`urls::local_ip_towards`), asked only for [`Scope::Interface`].
    pub fn serves(&self, peer: IpAddr, route: impl FnOnce(IpAddr) -> Option<IpAddr>) -> bool {
        match self {
            Scope::All => true,
            Scope::Loopback(_) => peer.is_loopback(),
            Scope::Interface(ip) => peer == *ip || route(peer) == Some(*ip),
        }
    }
}

/// A token bucket's shape: `burst` replies at once, `per_sec` after that.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate {
    pub per_sec: f64,
    pub burst: f64,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    last: Instant,
}

impl Bucket {
    fn full(rate: Rate, now: Instant) -> Self {
        Self {
            tokens: rate.burst,
            last: now,
        }
    }

    /// Refills for the time since the last call; true when a token is left.
    fn refill(&mut self, rate: Rate, now: Instant) -> bool {
        let dt = now.saturating_duration_since(self.last).as_secs_f64();
        self.tokens = (self.tokens + dt * rate.per_sec).min(rate.burst);
        self.last = now;
        self.tokens >= 1.0
    }

    fn is_full(&self, rate: Rate, now: Instant) -> bool {
        let dt = now.saturating_duration_since(self.last).as_secs_f64();
        self.tokens + dt * rate.per_sec >= rate.burst
    }
}

/// The budgets of a [`ReplyLimiter`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limits {
    pub per_socket: Rate,
    pub per_ip: Rate,
    pub global: Rate,
    /// Sources tracked at most; past it idle ones are forgotten.
    pub max_sources: usize,
}

impl Limits {
    /// Discovery clients send a request or two per scan; 4 replies/s to a
    /// socket, 10/s to a host and 50/s in all is far above that and far
    /// below a useful amplifier.
    pub const DISCOVERY: Limits = Limits {
        per_socket: Rate {
            per_sec: 4.0,
            burst: 8.0,
        },
        per_ip: Rate {
            per_sec: 10.0,
            burst: 20.0,
        },
        global: Rate {
            per_sec: 50.0,
            burst: 100.0,
        },
        max_sources: 4096,
    };
}

/// Token buckets per socket, per IP and in total: a reply goes out only
/// when all three have a token, and then takes one from each. Owned by
/// one responder task.
#[derive(Debug)]
pub struct ReplyLimiter {
    limits: Limits,
    global: Bucket,
    ips: HashMap<IpAddr, Bucket>,
    sockets: HashMap<SocketAddr, Bucket>,
    /// Replies refused, for the log.
    pub refused: u64,
}

impl ReplyLimiter {
    pub fn new(limits: Limits, now: Instant) -> Self {
        Self {
            limits,
            global: Bucket::full(limits.global, now),
            ips: HashMap::new(),
            sockets: HashMap::new(),
            refused: 0,
        }
    }

    /// Whether a reply to `peer` may go now; takes the tokens if so.
    pub fn allow(&mut self, peer: SocketAddr, now: Instant) -> bool {
        self.forget_idle(now);
        let l = self.limits;
        let socket = self
            .sockets
            .entry(peer)
            .or_insert_with(|| Bucket::full(l.per_socket, now));
        let socket_ok = socket.refill(l.per_socket, now);
        let ip = self
            .ips
            .entry(peer.ip())
            .or_insert_with(|| Bucket::full(l.per_ip, now));
        let ip_ok = ip.refill(l.per_ip, now);
        let global_ok = self.global.refill(l.global, now);
        if !(socket_ok && ip_ok && global_ok) {
            self.refused += 1;
            return false;
        }
        for b in [
            self.sockets.get_mut(&peer),
            self.ips.get_mut(&peer.ip()),
            Some(&mut self.global),
        ]
        .into_iter()
        .flatten()
        {
            b.tokens -= 1.0;
        }
        true
    }

    /// Sources tracked now (bounded by `max_sources`).
    pub fn tracked(&self) -> usize {
        self.sockets.len() + self.ips.len()
    }

    /// Keeps the tables bounded: at the cap, sources whose buckets have
    /// refilled are dropped (forgetting them changes nothing), and if a
    /// flood of distinct sources left none idle, all are (the global
    /// bucket still bounds what goes out).
    fn forget_idle(&mut self, now: Instant) {
        let l = self.limits;
        if self.sockets.len() >= l.max_sources {
            self.sockets.retain(|_, b| !b.is_full(l.per_socket, now));
            if self.sockets.len() >= l.max_sources {
                self.sockets.clear();
            }
        }
        if self.ips.len() >= l.max_sources {
            self.ips.retain(|_, b| !b.is_full(l.per_ip, now));
            if self.ips.len() >= l.max_sources {
                self.ips.clear();
            }
        }
    }
}

/// Caps on SSDP answers waiting for their random MX delay, per socket, per
/// IP and in total, so one source's flood of M-SEARCH cannot fill the
/// queue another source's search needs.
#[derive(Debug)]
pub struct PendingCaps {
    per_socket: usize,
    per_ip: usize,
    total: usize,
    sockets: HashMap<SocketAddr, usize>,
    ips: HashMap<IpAddr, usize>,
    pending: usize,
}

impl PendingCaps {
    pub fn new(per_socket: usize, per_ip: usize, total: usize) -> Self {
        Self {
            per_socket,
            per_ip,
            total,
            sockets: HashMap::new(),
            ips: HashMap::new(),
            pending: 0,
        }
    }

    /// Reserves a place for an answer to `peer`; false when a cap is hit.
    pub fn try_add(&mut self, peer: SocketAddr) -> bool {
        let s = self.sockets.get(&peer).copied().unwrap_or(0);
        let i = self.ips.get(&peer.ip()).copied().unwrap_or(0);
        if s >= self.per_socket || i >= self.per_ip || self.pending >= self.total {
            return false;
        }
        *self.sockets.entry(peer).or_default() += 1;
        *self.ips.entry(peer.ip()).or_default() += 1;
        self.pending += 1;
        true
    }

    /// Frees the place of an answer to `peer` that was sent or dropped.
    pub fn remove(&mut self, peer: SocketAddr) {
        fn dec<K: std::hash::Hash + Eq>(m: &mut HashMap<K, usize>, k: K) -> bool {
            match m.get_mut(&k) {
                Some(n) if *n > 1 => {
                    *n -= 1;
                    true
                }
                Some(_) => {
                    m.remove(&k);
                    true
                }
                None => false,
            }
        }
        if dec(&mut self.sockets, peer) {
            dec(&mut self.ips, peer.ip());
            self.pending -= 1;
        }
    }

    pub fn pending(&self) -> usize {
        self.pending
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    const SMALL: Limits = Limits {
        per_socket: Rate {
            per_sec: 2.0,
            burst: 3.0,
        },
        per_ip: Rate {
            per_sec: 5.0,
            burst: 6.0,
        },
        global: Rate {
            per_sec: 10.0,
            burst: 10.0,
        },
        max_sources: 64,
    };

    /// Replies allowed out of `n` asks from `peer` at `at`.
    fn burst(l: &mut ReplyLimiter, peer: SocketAddr, n: usize, at: Instant) -> usize {
        (0..n).filter(|_| l.allow(peer, at)).count()
    }

    #[test]
    fn a_socket_gets_its_burst_then_its_rate() {
        let t0 = Instant::now();
        let mut l = ReplyLimiter::new(SMALL, t0);
        let a = addr("10.0.0.5:40000");
        assert_eq!(burst(&mut l, a, 190, t0), 3);
        assert_eq!(l.refused, 187);
        // Half a second refills one token (2/s), a full second two.
        assert_eq!(burst(&mut l, a, 10, t0 + Duration::from_millis(500)), 1);
        assert_eq!(burst(&mut l, a, 10, t0 + Duration::from_millis(1500)), 2);
        // Idle for long: back to the burst, never more.
        assert_eq!(burst(&mut l, a, 10, t0 + Duration::from_secs(60)), 3);
    }

    #[test]
    fn a_flooding_socket_leaves_room_for_another_on_the_same_host() {
        let t0 = Instant::now();
        let mut l = ReplyLimiter::new(SMALL, t0);
        let (a, b) = (addr("10.0.0.5:40000"), addr("10.0.0.5:40001"));
        assert_eq!(burst(&mut l, a, 190, t0), 3);
        assert!(l.allow(b, t0), "the other socket still has its share");
        // The host's own cap: a third and fourth socket share what is left.
        let c = addr("10.0.0.5:40002");
        let d = addr("10.0.0.5:40003");
        assert_eq!(burst(&mut l, c, 10, t0) + burst(&mut l, d, 10, t0), 2);
        // Another host is untouched by all of it.
        assert_eq!(burst(&mut l, addr("10.0.0.6:1"), 10, t0), 3);
    }

    #[test]
    fn the_global_cap_bounds_many_sources() {
        let t0 = Instant::now();
        let mut l = ReplyLimiter::new(SMALL, t0);
        let sent: usize = (0..50)
            .map(|i| burst(&mut l, addr(&format!("10.1.0.{i}:9")), 5, t0))
            .sum();
        assert_eq!(sent, 10);
        let one_second = t0 + Duration::from_secs(1);
        let sent: usize = (50..100)
            .map(|i| burst(&mut l, addr(&format!("10.1.0.{i}:9")), 5, one_second))
            .sum();
        assert_eq!(sent, 10);
    }

    #[test]
    fn a_refusal_takes_no_token() {
        let t0 = Instant::now();
        let mut l = ReplyLimiter::new(SMALL, t0);
        // Exhaust the global bucket from other hosts.
        for i in 0..10 {
            assert!(l.allow(addr(&format!("10.2.0.{i}:9")), t0));
        }
        let a = addr("10.3.0.1:9");
        assert!(!l.allow(a, t0));
        // A second later the global bucket has 10 again, and `a` its 3.
        assert_eq!(burst(&mut l, a, 10, t0 + Duration::from_secs(1)), 3);
    }

    #[test]
    fn tables_stay_bounded_under_distinct_sources() {
        let t0 = Instant::now();
        let mut l = ReplyLimiter::new(SMALL, t0);
        for i in 0..10_000u32 {
            let ip = Ipv4Addr::from(0x0A00_0000 + i);
            l.allow(SocketAddr::new(IpAddr::V4(ip), 9), t0);
            assert!(l.tracked() <= 2 * SMALL.max_sources);
        }
    }

    #[test]
    fn clock_going_nowhere_or_back_never_mints_tokens() {
        let t0 = Instant::now() + Duration::from_secs(10);
        let mut l = ReplyLimiter::new(SMALL, t0);
        let a = addr("10.0.0.5:1");
        assert_eq!(burst(&mut l, a, 5, t0), 3);
        assert_eq!(burst(&mut l, a, 5, t0 - Duration::from_secs(5)), 0);
    }

    #[test]
    fn pending_caps_per_socket_per_ip_and_total() {
        let mut p = PendingCaps::new(2, 3, 4);
        let (a, b, c) = (addr("10.0.0.5:1"), addr("10.0.0.5:2"), addr("10.0.0.6:1"));
        assert!(p.try_add(a) && p.try_add(a));
        assert!(!p.try_add(a), "socket cap");
        assert!(p.try_add(b));
        assert!(!p.try_add(b), "host cap (3 for 10.0.0.5)");
        assert!(p.try_add(c));
        assert!(!p.try_add(addr("10.0.0.7:1")), "total cap");
        p.remove(a);
        assert_eq!(p.pending(), 3);
        assert!(p.try_add(addr("10.0.0.7:1")));
        // Removing what was never added changes nothing.
        p.remove(addr("10.9.9.9:9"));
        assert_eq!(p.pending(), 4);
        for x in [a, b, c, addr("10.0.0.7:1")] {
            p.remove(x);
        }
        assert_eq!(p.pending(), 0);
        assert!(p.try_add(a) && p.try_add(a));
    }

    #[test]
    fn scope_follows_the_http_address() {
        let lo: IpAddr = "127.0.0.1".parse().unwrap();
        let lan: IpAddr = "192.168.1.5".parse().unwrap();
        let other: IpAddr = "10.0.0.9".parse().unwrap();
        let no_route = |_| None;
        let s = Scope::for_http(lo);
        assert_eq!(s, Scope::Loopback(lo));
        assert_eq!(s.bind_ip(), lo);
        assert!(s.serves(lo, no_route) && !s.serves(lan, no_route));
        let s = Scope::for_http("0.0.0.0".parse().unwrap());
        assert_eq!(s, Scope::All);
        assert!(s.bind_ip().is_unspecified());
        assert!(s.serves(other, no_route));
        let s = Scope::for_http(lan);
        assert!(s.bind_ip().is_unspecified());
        assert!(s.serves("192.168.1.20".parse().unwrap(), |_| Some(lan)));
        assert!(!s.serves(other, |_| Some("10.0.0.1".parse().unwrap())));
        assert!(
            !s.serves(lo, |_| Some(lo)),
            "loopback is not the LAN interface"
        );
    }
}
