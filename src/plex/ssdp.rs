//! The SSDP responder (UPnP discovery) on 239.255.255.250:1900: answers
//! M-SEARCH for `ssdp:all`, `upnp:rootdevice`, our device type and our
//! UUID, sends `NOTIFY ssdp:alive` periodically and `ssdp:byebye` when
//! stopped. The messages are parsed and formatted by the pure functions of
//! `ssdp_msg`; the bind address and the NOTIFY target are options so tests
//! use 127.0.0.1:0.

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::sync::Arc;
use std::time::Duration;

use rand::Rng;
use tokio::net::UdpSocket;
use tokio::sync::oneshot;
use tokio::task::{JoinHandle, JoinSet};

use super::advert::Advert;
pub use super::ssdp_msg::{
    GROUP, MAX_AGE, MSearch, PORT, ROOT_DEVICE, notify_alive, notify_byebye, parse_msearch,
    search_response, targets,
};

/// Answers waiting for their random delay; more are dropped (a flood of
/// M-SEARCH must not grow memory).
const MAX_PENDING: usize = 64;

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
}

pub struct SsdpResponder {
    local_addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

fn bind_socket(opts: &SsdpOptions) -> std::io::Result<UdpSocket> {
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
        sock.join_multicast_v4(&GROUP, &Ipv4Addr::UNSPECIFIED)?;
        sock.set_multicast_ttl_v4(2)?;
    }
    UdpSocket::from_std(sock.into())
}

impl SsdpResponder {
    pub async fn start(opts: SsdpOptions, advert: Arc<Advert>) -> std::io::Result<Self> {
        let sock = bind_socket(&opts)?;
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
    let mut pending: JoinSet<()> = JoinSet::new();
    let mut alive = tokio::time::interval(opts.notify_every);
    loop {
        while pending.try_join_next().is_some() {}
        tokio::select! {
            _ = &mut stop => break,
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
                if answers.is_empty() {
                    continue;
                }
                if pending.len() >= MAX_PENDING {
                    tracing::debug!(%peer, "SSDP: too many pending answers, dropping a search");
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
