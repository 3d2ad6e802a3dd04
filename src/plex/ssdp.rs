//! The SSDP responder (UPnP discovery) on 239.255.255.250:1900: answers
//! M-SEARCH for `ssdp:all`, `upnp:rootdevice`, our device type and our
//! UUID, sends `NOTIFY ssdp:alive` periodically and `ssdp:byebye` when
//! stopped. The messages are parsed and formatted by the pure functions of
//! `ssdp_msg`; the bind address and the NOTIFY target are options so tests
//! use 127.0.0.1:0. Answers go only to peers in the HTTP address's
//! [`Scope`], within the [`ReplyLimiter`]'s budget, and at most
//! [`PendingCaps`] of them wait for their MX delay at once.

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::Rng;
use tokio::net::UdpSocket;
use tokio::sync::oneshot;
use tokio::task::{JoinHandle, JoinSet};

use super::advert::Advert;
use super::limit::{Limits, PendingCaps, ReplyLimiter, Scope};
pub use super::ssdp_msg::{
    GROUP, MAX_AGE, MSearch, PORT, ROOT_DEVICE, notify_alive, notify_byebye, parse_msearch,
    search_response, targets,
};
use super::udp::ScopeCache;

/// Answers waiting for their random delay; more are dropped (a flood of
/// M-SEARCH must not grow memory), and one source may hold only a few of
/// them (a flood from one socket or host must not starve another's
/// search: issue 12).
const MAX_PENDING: usize = 64;
const MAX_PENDING_PER_SOCKET: usize = 2;
const MAX_PENDING_PER_IP: usize = 8;

/// Where the responder listens and announces.
#[derive(Debug, Clone)]
pub struct SsdpOptions {
    pub bind: SocketAddr,
    /// Join 239.255.255.250 on the default interface.
    pub join_multicast: bool,
    /// Where NOTIFY messages go; `None` sends none.
    pub notify_to: Option<SocketAddr>,
    /// Interval of `ssdp:alive` (under half of `max-age`, per UPnP).
    pub notify_every: Duration,
}

impl SsdpOptions {
    /// The standard multicast setup on 0.0.0.0:1900.
    pub fn standard() -> Self {
        let group = SocketAddr::V4(SocketAddrV4::new(GROUP, PORT));
        Self {
            bind: SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, PORT)),
            join_multicast: true,
            notify_to: Some(group),
            notify_every: Duration::from_secs(600),
        }
    }

    /// The setup for HTTP serving `scope`: all interfaces as
    /// [`standard`](Self::standard); loopback binds the loopback address
    /// on 1900 and neither joins the group nor announces (nothing beyond
    /// this machine may learn of us); one interface joins the group there
    /// only, and announces from it.
    pub fn for_scope(scope: Scope) -> Self {
        let mut opts = Self::standard();
        match scope {
            Scope::All => {}
            Scope::Loopback(ip) => {
                opts.bind = SocketAddr::new(ip, PORT);
                opts.join_multicast = false;
                opts.notify_to = None;
            }
            Scope::Interface(_) => {}
        }
        opts
    }
}

pub struct SsdpResponder {
    local_addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

/// Binds `opts.bind`; joins the group on `iface` (unspecified: the
/// default interface).
fn bind_socket(opts: &SsdpOptions, iface: Ipv4Addr) -> std::io::Result<UdpSocket> {
    use socket2::{Domain, Protocol, Socket, Type};
    let sock = Socket::new(
        Domain::for_address(opts.bind),
        Type::DGRAM,
        Some(Protocol::UDP),
    )?;
    // Plex Media Server and DLNA servers on the same host listen on 1900
    // too; sharing the port lets each receive the multicast searches.
    sock.set_reuse_address(true)?;
    sock.set_nonblocking(true)?;
    sock.bind(&opts.bind.into())?;
    if opts.join_multicast {
        sock.join_multicast_v4(&GROUP, &iface)?;
        sock.set_multicast_ttl_v4(2)?;
        if !iface.is_unspecified() {
            sock.set_multicast_if_v4(&iface)?;
        }
    }
    UdpSocket::from_std(sock.into())
}

impl SsdpResponder {
    pub async fn start(opts: SsdpOptions, advert: Arc<Advert>) -> std::io::Result<Self> {
        let iface = match Scope::for_http(advert.http_addr.ip()) {
            Scope::Interface(std::net::IpAddr::V4(ip)) => ip,
            _ => Ipv4Addr::UNSPECIFIED,
        };
        let sock = bind_socket(&opts, iface)?;
        let local_addr = sock.local_addr()?;
        let (tx, rx) = oneshot::channel();
        let task = tokio::spawn(serve(Arc::new(sock), opts, advert, rx));
        tracing::info!(%local_addr, "SSDP responder listening");
        Ok(Self {
            local_addr,
            stop: Some(tx),
            task: Some(task),
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Sends `ssdp:byebye` for every target, then stops.
    pub async fn stop(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.task.take() {
            let _ = tokio::time::timeout(Duration::from_secs(2), t).await;
        }
    }
}

impl Drop for SsdpResponder {
    fn drop(&mut self) {
        if let Some(t) = &self.task {
            t.abort();
        }
    }
}

async fn announce(sock: &UdpSocket, to: SocketAddr, messages: Vec<String>) {
    for m in messages {
        if let Err(e) = sock.send_to(m.as_bytes(), to).await {
            tracing::debug!(%to, "cannot send SSDP NOTIFY: {e}");
        }
    }
}

async fn serve(
    sock: Arc<UdpSocket>,
    opts: SsdpOptions,
    advert: Arc<Advert>,
    mut stop: oneshot::Receiver<()>,
) {
    let udn = advert.device.udn();
    let all = targets("ssdp:all", &udn);
    let mut buf = vec![0u8; 2048];
    let mut pending: JoinSet<SocketAddr> = JoinSet::new();
    let mut caps = PendingCaps::new(MAX_PENDING_PER_SOCKET, MAX_PENDING_PER_IP, MAX_PENDING);
    let scope = Scope::for_http(advert.http_addr.ip());
    let mut in_scope = ScopeCache::new(scope);
    let mut limiter = ReplyLimiter::new(Limits::DISCOVERY, Instant::now());
    let mut last_refusal_log: Option<Instant> = None;
    let mut alive = tokio::time::interval(opts.notify_every);
    loop {
        while let Some(done) = pending.try_join_next() {
            if let Ok(peer) = done {
                caps.remove(peer);
            }
        }
        tokio::select! {
            _ = &mut stop => break,
            Some(Ok(peer)) = pending.join_next(), if !pending.is_empty() => caps.remove(peer),
            _ = alive.tick() => {
                if let Some(to) = opts.notify_to {
                    let location = format!("{}/device.xml", advert.advertised_base());
                    let msgs = all.iter().map(|t| notify_alive(t, &location, &udn)).collect();
                    announce(&sock, to, msgs).await;
                }
            }
            r = sock.recv_from(&mut buf) => {
                let (n, peer) = match r {
                    Ok(x) => x,
                    Err(e) => {
                        tracing::debug!("SSDP receive error: {e}");
                        tokio::time::sleep(Duration::from_millis(20)).await;
                        continue;
                    }
                };
                let Some(search) = parse_msearch(&buf[..n]) else { continue };
                let answers = targets(&search.st, &udn);
                if answers.is_empty() || !in_scope.serves(peer.ip()) {
                    continue;
                }
                // The queue caps first (they cost no tokens), then the rate.
                let refused = if !caps.try_add(peer) {
                    Some("too many pending answers for this source")
                } else if !limiter.allow(peer, Instant::now()) {
                    caps.remove(peer);
                    Some("over the reply rate")
                } else {
                    None
                };
                if let Some(why) = refused {
                    if last_refusal_log.is_none_or(|t| t.elapsed() >= Duration::from_secs(10)) {
                        tracing::debug!(%peer, pending = caps.pending(), refused = limiter.refused, "SSDP: {why}, dropping a search");
                        last_refusal_log = Some(Instant::now());
                    }
                    continue;
                }
                tracing::debug!(%peer, st = %search.st, "answering SSDP M-SEARCH");
                let delay_ms = search.mx.map_or(0, |mx| rand::thread_rng().gen_range(0..=u64::from(mx.min(2)) * 1000));
                let location = format!("{}/device.xml", advert.base_for(peer.ip()));
                let (sock, udn) = (Arc::clone(&sock), udn.clone());
                pending.spawn(async move {
                    tokio::time::sleep(Duration::from_millis(delay_ms)).await;
                    for t in answers {
                        if let Err(e) = sock.send_to(search_response(&t, &location, &udn).as_bytes(), peer).await {
                            tracing::debug!(%peer, "cannot send SSDP answer: {e}");
                        }
                    }
                    peer
                });
            }
        }
    }
    pending.abort_all();
    if let Some(to) = opts.notify_to {
        announce(
            &sock,
            to,
            all.iter().map(|t| notify_byebye(t, &udn)).collect(),
        )
        .await;
        tracing::info!("SSDP: sent ssdp:byebye");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 12: HTTP on loopback keeps SSDP on loopback, silent on the LAN.
    #[test]
    fn options_follow_the_http_scope() {
        let lo = "127.0.0.1".parse().unwrap();
        let o = SsdpOptions::for_scope(Scope::Loopback(lo));
        assert_eq!(o.bind, SocketAddr::new(lo, PORT));
        assert!(!o.join_multicast && o.notify_to.is_none());
        let o = SsdpOptions::for_scope(Scope::All);
        assert!(o.bind.ip().is_unspecified() && o.join_multicast && o.notify_to.is_some());
        let o = SsdpOptions::for_scope(Scope::Interface("192.168.1.5".parse().unwrap()));
        assert!(o.bind.ip().is_unspecified() && o.join_multicast);
    }
}
