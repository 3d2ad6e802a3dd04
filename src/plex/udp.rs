//! The UDP 65001 discovery responder: receives discover requests
//! (broadcast or unicast), answers unicast to the sender, only peers in
//! the HTTP address's [`Scope`] and within the [`ReplyLimiter`]'s budget.
//! The codec is in `discovery.rs`, the policies in `limit.rs`; this file
//! is only the socket loop.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::net::UdpSocket;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::advert::Advert;
use super::discovery::{self, MAX_FRAME, Reply};
use super::limit::{Limits, ReplyLimiter, Scope};
use super::urls::local_ip_towards;

/// The port every HDHomeRun client broadcasts to.
pub const PORT: u16 = 65001;

pub struct UdpResponder {
    local_addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl UdpResponder {
    /// Binds `bind` (normally the HTTP address's [`Scope::bind_ip`] on
    /// port 65001) and starts answering the peers of that scope.
    pub async fn start(bind: SocketAddr, advert: Arc<Advert>) -> std::io::Result<Self> {
        let sock = UdpSocket::bind(bind).await?;
        // Requests arrive as broadcasts; replies go unicast, but allowing
        // broadcast costs nothing and matches real devices.
        let _ = sock.set_broadcast(true);
        let local_addr = sock.local_addr()?;
        let (tx, rx) = oneshot::channel();
        let task = tokio::spawn(serve(sock, advert, rx));
        tracing::info!(%local_addr, "HDHomeRun UDP discovery listening");
        Ok(Self {
            local_addr,
            stop: Some(tx),
            task: Some(task),
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    pub async fn stop(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.task.take() {
            let _ = t.await;
        }
    }
}

impl Drop for UdpResponder {
    fn drop(&mut self) {
        if let Some(t) = &self.task {
            t.abort();
        }
    }
}

/// The reply for `peer`, with URLs it can reach.
pub fn reply_for(advert: &Advert, peer: SocketAddr) -> Reply {
    let base = advert.base_for(peer.ip());
    Reply {
        device_id: advert.device.device_id,
        tuner_count: u8::try_from((advert.tuner_count)()).unwrap_or(u8::MAX),
        lineup_url: format!("{base}/lineup.json"),
        base_url: base,
    }
}

async fn serve(sock: UdpSocket, advert: Arc<Advert>, mut stop: oneshot::Receiver<()>) {
    let mut buf = vec![0u8; MAX_FRAME + 64];
    let mut last_warn: Option<Instant> = None;
    let scope = Scope::for_http(advert.http_addr.ip());
    let mut in_scope = ScopeCache::new(scope);
    let mut limiter = ReplyLimiter::new(Limits::DISCOVERY, Instant::now());
    let mut last_refusal_log: Option<Instant> = None;
    loop {
        let (n, peer) = tokio::select! {
            _ = &mut stop => break,
            r = sock.recv_from(&mut buf) => match r {
                Ok(x) => x,
                Err(e) => {
                    // Linux reports ICMP errors from earlier sends here;
                    // they are not fatal for the socket.
                    if last_warn.is_none_or(|t| t.elapsed() >= Duration::from_secs(10)) {
                        tracing::warn!("UDP discovery receive error: {e}");
                        last_warn = Some(Instant::now());
                    }
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                }
            },
        };
        match discovery::respond(&buf[..n], advert.device.device_id, || {
            reply_for(&advert, peer)
        }) {
            Ok(Some(_)) if !in_scope.serves(peer.ip()) => {
                tracing::trace!(%peer, ?scope, "discovery request from outside the HTTP interface");
            }
            Ok(Some(_)) if !limiter.allow(peer, Instant::now()) => {
                // At most one line every 10 s, however hard the flood.
                if last_refusal_log.is_none_or(|t| t.elapsed() >= Duration::from_secs(10)) {
                    tracing::debug!(%peer, refused = limiter.refused, "UDP discovery: over the reply rate, not answering");
                    last_refusal_log = Some(Instant::now());
                }
            }
            Ok(Some(reply)) => {
                tracing::debug!(%peer, "answering HDHomeRun discovery");
                if let Err(e) = sock.send_to(&reply, peer).await {
                    tracing::debug!(%peer, "cannot send discovery reply: {e}");
                }
            }
            Ok(None) => tracing::trace!(%peer, "discovery request for another device"),
            Err(e) => tracing::debug!(%peer, bytes = n, "ignoring discovery packet: {e}"),
        }
    }
    tracing::debug!("UDP discovery stopped");
}

/// [`Scope::serves`] remembered per peer IP, so a flood does not cost a
/// route lookup per packet; bounded (cleared when full).
pub(crate) struct ScopeCache {
    scope: Scope,
    seen: std::collections::HashMap<std::net::IpAddr, bool>,
}

impl ScopeCache {
    const MAX: usize = 1024;

    pub(crate) fn new(scope: Scope) -> Self {
        Self {
            scope,
            seen: Default::default(),
        }
    }

    pub(crate) fn serves(&mut self, peer: std::net::IpAddr) -> bool {
        if let Some(&ok) = self.seen.get(&peer) {
            return ok;
        }
        if self.seen.len() >= Self::MAX {
            self.seen.clear();
        }
        let ok = self.scope.serves(peer, local_ip_towards);
        self.seen.insert(peer, ok);
        ok
    }
}
