//! The HTTP accept loop: hyper's HTTP/1 connection driver under limits
//! `axum::serve` does not have. Each connection gets a header-read
//! deadline (which in hyper also bounds an idle keep-alive connection
//! waiting for its next request), a write-stall deadline while a request
//! is in flight (a stream is exempt while its bytes move), and a place in
//! a registry capped at `server.max_connections`. At the cap a new
//! connection evicts the longest-quiet connection that has no request in
//! flight (a slowloris or idle keep-alive one); when every connection is
//! serving, the newcomer gets a 503 and is closed. So a flood of idle or
//! trickling connections cannot keep `/healthz` or a new tune out.
//!
//! Not here: routing and what each route does (`crate::router`), who may
//! call management routes (`auth`).

use std::collections::{HashMap, HashSet};
use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, Response, StatusCode, header};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use parking_lot::Mutex;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, Semaphore, mpsc, watch};
use tower_service::Service;

use crate::config::ServerConfig;

/// The connection limits, from `[server]`.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Connections served at once (also bounded by the open-files limit).
    pub max_connections: usize,
    /// A request's headers must arrive within this; also how long an idle
    /// keep-alive connection may wait for its next request.
    pub header_timeout: Duration,
    /// A connection with a request in flight whose socket moves no byte
    /// for this long is closed (a client that stopped reading).
    pub idle_timeout: Duration,
    /// `SO_SNDBUF` for accepted sockets (0: the kernel's autotuning). A
    /// bounded send buffer keeps a slow stream client's lag in the ring,
    /// where it is measured, instead of in the kernel.
    pub send_buffer: usize,
}

impl Limits {
    pub fn from_config(c: &ServerConfig) -> Self {
        Self {
            max_connections: c.max_connections as usize,
            header_timeout: Duration::from_millis(c.header_timeout_ms),
            idle_timeout: Duration::from_millis(c.idle_timeout_ms),
            send_buffer: c.send_buffer_bytes as usize,
        }
    }

    /// Lowers `max_connections` to what the open-files limit leaves after
    /// `reserve` descriptors (upstreams, the database, discovery), with a
    /// warning naming both.
    pub fn fit_to_files(mut self, nofile: u64, reserve: u64) -> Self {
        let room = nofile.saturating_sub(reserve).max(16) as usize;
        if self.max_connections > room {
            tracing::warn!(
                max_connections = self.max_connections,
                open_files_limit = nofile,
                "server.max_connections lowered to {room}: the open-files limit ({nofile}) keeps {reserve} for upstreams and the database; raise it (ulimit -n, LimitNOFILE=) to serve more"
            );
            self.max_connections = room;
        }
        self
    }
}

/// Connections the kernel may queue before we accept them. Under a flood
/// of reconnects a short queue drops SYNs, and a dropped SYN costs the
/// client a 1 s retransmit (the kernel caps it at `net.core.somaxconn`).
pub const LISTEN_BACKLOG: u32 = 4096;

/// Binds `addr` (`host:port`) with [`LISTEN_BACKLOG`] and `SO_REUSEADDR`.
pub fn listen(addr: &str) -> io::Result<TcpListener> {
    let addr: SocketAddr = addr.parse().map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            "not an address like 0.0.0.0:5004",
        )
    })?;
    let sock = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    sock.set_reuseaddr(true)?;
    sock.bind(addr)?;
    sock.listen(LISTEN_BACKLOG)
}

/// Raises the soft open-files limit to the hard one; returns the limit in
/// force (logged).
pub fn raise_open_files_limit() -> u64 {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(n) => {
            tracing::info!(open_files_limit = n, "open-files limit");
            n
        }
        Err(e) => {
            let (soft, _) = rlimit::Resource::NOFILE.get().unwrap_or((1024, 1024));
            tracing::warn!("cannot raise the open-files limit (staying at {soft}): {e}");
            soft
        }
    }
}

/// One accepted connection, as the registry sees it.
struct Conn {
    /// Requests whose response body has not ended. Written by the service
    /// wrapper, read by the registry when it looks for a connection to evict.
    in_flight: AtomicU32,
    /// Milliseconds since the registry's start at the last byte read or
    /// written. Written by [`ActivityIo`], read by the registry and the
    /// connection's own stall check.
    last_io: AtomicU64,
    /// Told to close by the registry (evicted for a newcomer).
    evict: Notify,
}

/// Every open connection, and which peer address holds how many. A
/// `parking_lot::Mutex` around two maps: held for an insert, a remove, or
/// (at the cap only) one scan of the busiest peer's connections.
struct Registry {
    inner: Mutex<Conns>,
    next_id: AtomicU64,
    start: Instant,
    max: usize,
}

#[derive(Default)]
struct Conns {
    by_id: HashMap<u64, (IpAddr, Arc<Conn>)>,
    by_peer: HashMap<IpAddr, HashSet<u64>>,
}

impl Conns {
    fn remove(&mut self, id: u64) -> Option<Arc<Conn>> {
        let (ip, c) = self.by_id.remove(&id)?;
        if let Some(set) = self.by_peer.get_mut(&ip) {
            set.remove(&id);
            if set.is_empty() {
                self.by_peer.remove(&ip);
            }
        }
        Some(c)
    }

    /// The quietest connection without a request in flight among `ids`.
    fn quietest<'a>(&self, ids: impl Iterator<Item = &'a u64>) -> Option<u64> {
        ids.filter_map(|id| self.by_id.get(id).map(|(_, c)| (*id, c)))
            .filter(|(_, c)| c.in_flight.load(Ordering::Relaxed) == 0)
            .min_by_key(|(_, c)| c.last_io.load(Ordering::Relaxed))
            .map(|(id, _)| id)
    }

    /// Who makes room for a newcomer: first the peer address holding the
    /// most connections gives up its quietest idle one (a flood from one
    /// host cannot push out another host's clients), else the quietest
    /// idle connection of anyone.
    fn victim(&self) -> Option<u64> {
        let busiest = self
            .by_peer
            .iter()
            .max_by_key(|(_, ids)| ids.len())
            .map(|(_, ids)| ids);
        busiest
            .and_then(|ids| self.quietest(ids.iter()))
            .or_else(|| self.quietest(self.by_id.keys()))
    }
}

enum Admit {
    In(u64, Arc<Conn>),
    Full,
}

impl Registry {
    fn new(max: usize) -> Self {
        Self {
            inner: Mutex::new(Conns::default()),
            next_id: AtomicU64::new(0),
            start: Instant::now(),
            max: max.max(1),
        }
    }

    fn now_ms(&self) -> u64 {
        self.start.elapsed().as_millis() as u64
    }

    fn admit(&self, peer: IpAddr) -> Admit {
        let mut conns = self.inner.lock();
        if conns.by_id.len() >= self.max {
            match conns.victim().and_then(|id| conns.remove(id)) {
                Some(c) => c.evict.notify_one(),
                None => return Admit::Full,
            }
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let conn = Arc::new(Conn {
            in_flight: AtomicU32::new(0),
            last_io: AtomicU64::new(self.now_ms()),
            evict: Notify::new(),
        });
        conns.by_id.insert(id, (peer, Arc::clone(&conn)));
        conns.by_peer.entry(peer).or_default().insert(id);
        Admit::In(id, conn)
    }

    fn remove(&self, id: u64) {
        self.inner.lock().remove(id);
    }

    fn len(&self) -> usize {
        self.inner.lock().by_id.len()
    }
}

/// A socket that stamps its connection's `last_io` on every byte moved.
struct ActivityIo {
    inner: TcpStream,
    conn: Arc<Conn>,
    registry: Arc<Registry>,
}

impl ActivityIo {
    fn touch(&self) {
        self.conn
            .last_io
            .store(self.registry.now_ms(), Ordering::Relaxed);
    }
}

impl AsyncRead for ActivityIo {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(r, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.touch();
        }
        r
    }
}

impl AsyncWrite for ActivityIo {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write(cx, buf);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            self.touch();
        }
        r
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            self.touch();
        }
        r
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// Decrements its connection's `in_flight` when the response body it rides
/// on is dropped (ended, or the connection went away).
struct InFlight(Arc<Conn>);

impl InFlight {
    fn start(conn: &Arc<Conn>) -> Self {
        conn.in_flight.fetch_add(1, Ordering::Relaxed);
        Self(Arc::clone(conn))
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

/// How many refusals (503 to a newcomer at the cap) may be open at once;
/// past it a newcomer is closed without an answer.
const MAX_REFUSALS: usize = 64;
/// Descriptors kept out of `max_connections`' reach: upstreams, SQLite,
/// discovery, plus refusals and evictions in progress.
pub const RESERVED_FILES: u64 = 256 + (MAX_REFUSALS + EVICTION_SLACK) as u64;
/// Evicted connections that may still be closing while newcomers are
/// accepted; past it the loop waits for them.
const EVICTION_SLACK: usize = 64;

/// Serves `app` on `listener` until `signal` resolves, then stops
/// accepting, lets in-flight requests finish (their bodies end when the
/// caller's shutdown ends the sessions) and waits up to `drain` for them.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    signal: impl Future<Output = ()> + Send + 'static,
    drain: Duration,
) -> io::Result<()> {
    let registry = Arc::new(Registry::new(limits.max_connections));
    let refusals = Arc::new(Semaphore::new(MAX_REFUSALS));
    // One permit per open socket, held until it is closed: connections,
    // refusals, and evicted connections not yet closed. The loop accepts
    // only with a permit in hand, so it never runs into EMFILE.
    let sockets = Arc::new(Semaphore::new(registry.max + MAX_REFUSALS + EVICTION_SLACK));
    let (stop_tx, stop_rx) = watch::channel(false);
    // Every connection task holds a clone; `recv` returns `None` once all
    // have ended.
    let (alive_tx, mut alive_rx) = mpsc::channel::<()>(1);
    let mut signal = std::pin::pin!(signal);
    let mut last_accept_error: Option<Instant> = None;
    loop {
        let socket = tokio::select! {
            _ = &mut signal => break,
            p = Arc::clone(&sockets).acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => break,
            },
        };
        let (stream, peer) = tokio::select! {
            _ = &mut signal => break,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // EMFILE and friends: say so at most once a second and
                    // give the descriptors a moment to come back.
                    if last_accept_error.is_none_or(|t| t.elapsed() >= Duration::from_secs(1)) {
                        tracing::warn!(open_connections = registry.len(), "accept error: {e}");
                        last_accept_error = Some(Instant::now());
                    }
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                }
            },
        };
        if limits.send_buffer > 0 {
            let _ = socket2::SockRef::from(&stream).set_send_buffer_size(limits.send_buffer);
        }
        match registry.admit(peer.ip()) {
            Admit::In(id, conn) => {
                let task = Connection {
                    id,
                    conn,
                    registry: Arc::clone(&registry),
                    app: app.clone(),
                    limits: limits.clone(),
                    peer,
                    stop: stop_rx.clone(),
                    _alive: alive_tx.clone(),
                };
                tokio::spawn(async move {
                    task.run(stream).await;
                    drop(socket);
                });
            }
            Admit::Full => match Arc::clone(&refusals).try_acquire_owned() {
                Ok(permit) => {
                    tracing::debug!(%peer, "refusing a connection: server.max_connections reached");
                    tokio::spawn(async move {
                        refuse(stream).await;
                        drop(permit);
                        drop(socket);
                    });
                }
                Err(_) => drop(stream),
            },
        }
    }
    drop(listener);
    let _ = stop_tx.send(true);
    drop(alive_tx);
    if tokio::time::timeout(drain, alive_rx.recv()).await.is_err() {
        tracing::warn!(
            open_connections = registry.len(),
            "connections still open after {drain:?}; closing them"
        );
    }
    Ok(())
}

/// One admitted connection's task.
struct Connection {
    id: u64,
    conn: Arc<Conn>,
    registry: Arc<Registry>,
    app: Router,
    limits: Limits,
    peer: SocketAddr,
    stop: watch::Receiver<bool>,
    _alive: mpsc::Sender<()>,
}

impl Connection {
    async fn run(mut self, stream: TcpStream) {
        let io = TokioIo::new(ActivityIo {
            inner: stream,
            conn: Arc::clone(&self.conn),
            registry: Arc::clone(&self.registry),
        });
        let conn = Arc::clone(&self.conn);
        let app = self.app.clone();
        let peer = self.peer;
        let service = hyper::service::service_fn(move |mut req: Request<Incoming>| {
            let guard = InFlight::start(&conn);
            req.extensions_mut().insert(ConnectInfo(peer));
            let mut app = app.clone();
            async move {
                let resp = match app.call(req).await {
                    Ok(r) => r,
                    Err(never) => match never {},
                };
                // The guard lives as long as the body: a stream is in
                // flight until its last byte or its client's departure.
                Ok::<_, Infallible>(resp.map(|b| {
                    Body::new(b.map_frame(move |f| {
                        let _ = &guard;
                        f
                    }))
                }))
            }
        });
        let mut builder = hyper::server::conn::http1::Builder::new();
        builder
            .timer(TokioTimer::new())
            .header_read_timeout(self.limits.header_timeout);
        let driver = builder.serve_connection(io, service);
        let mut driver = std::pin::pin!(driver);
        let idle = self.limits.idle_timeout;
        let mut stopping = *self.stop.borrow();
        if stopping {
            driver.as_mut().graceful_shutdown();
        }
        let quiet = |c: &Self| {
            Duration::from_millis(
                c.registry
                    .now_ms()
                    .saturating_sub(c.conn.last_io.load(Ordering::Relaxed)),
            )
        };
        let mut check_in = idle;
        loop {
            tokio::select! {
                r = driver.as_mut() => {
                    if let Err(e) = r {
                        tracing::debug!(peer = %self.peer, "connection ended: {e}");
                    }
                    break;
                }
                _ = self.conn.evict.notified() => {
                    tracing::debug!(peer = %self.peer, "closing a quiet connection to admit a new one");
                    break;
                }
                changed = self.stop.changed(), if !stopping => {
                    stopping = true;
                    if changed.is_ok() {
                        driver.as_mut().graceful_shutdown();
                    }
                }
                _ = tokio::time::sleep(check_in) => {
                    let q = quiet(&self);
                    // Without a request in flight the header deadline is
                    // hyper's to enforce; check again a full period on.
                    if q < idle {
                        check_in = idle - q;
                    } else if self.conn.in_flight.load(Ordering::Relaxed) > 0 {
                        tracing::debug!(peer = %self.peer, "closing a connection that moved no byte for {q:?}");
                        break;
                    } else {
                        check_in = idle;
                    }
                }
            }
        }
        self.registry.remove(self.id);
    }
}

/// Answers every request on a connection past the cap with 503 and closes.
async fn refuse(stream: TcpStream) {
    let service = hyper::service::service_fn(|_req: Request<Incoming>| async {
        let mut resp = Response::new(Body::from(
            "too many connections: server.max_connections reached; try again shortly\n",
        ));
        *resp.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
        let h = resp.headers_mut();
        h.insert(header::CONNECTION, "close".parse().expect("static header"));
        h.insert(header::RETRY_AFTER, "1".parse().expect("static header"));
        h.insert(
            header::CONTENT_TYPE,
            "text/plain; charset=utf-8".parse().expect("static header"),
        );
        Ok::<_, Infallible>(resp)
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(Duration::from_secs(2))
        .keep_alive(false);
    let driver = builder.serve_connection(TokioIo::new(stream), service);
    let _ = tokio::time::timeout(Duration::from_secs(3), driver).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn registry(max: usize) -> Registry {
        Registry::new(max)
    }

    const HOST: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 168, 1, 5));

    fn admit(r: &Registry) -> Option<(u64, Arc<Conn>)> {
        admit_from(r, HOST)
    }

    fn admit_from(r: &Registry, ip: IpAddr) -> Option<(u64, Arc<Conn>)> {
        match r.admit(ip) {
            Admit::In(id, c) => Some((id, c)),
            Admit::Full => None,
        }
    }

    #[test]
    fn at_the_cap_the_quietest_idle_connection_makes_room() {
        let r = registry(3);
        let (_, busy) = admit(&r).unwrap();
        busy.in_flight.store(1, Ordering::Relaxed);
        busy.last_io.store(0, Ordering::Relaxed);
        let (quiet_id, quiet) = admit(&r).unwrap();
        quiet.last_io.store(5, Ordering::Relaxed);
        let (_, recent) = admit(&r).unwrap();
        recent.last_io.store(50, Ordering::Relaxed);
        // The busy one is quieter still, but it is serving.
        let (new_id, _) = admit(&r).expect("an idle connection is evicted");
        assert!(!r.inner.lock().by_id.contains_key(&quiet_id));
        assert!(r.inner.lock().by_id.contains_key(&new_id));
        assert_eq!(r.len(), 3);
        // The evicted connection's task is woken.
        let woke = quiet.evict.notified();
        let mut woke = std::pin::pin!(woke);
        let waker = futures_util::task::noop_waker();
        let mut cx = Context::from_waker(&waker);
        assert!(woke.as_mut().poll(&mut cx).is_ready());
    }

    #[test]
    fn the_peer_holding_the_most_connections_makes_room() {
        let r = registry(4);
        let plex = IpAddr::V4(std::net::Ipv4Addr::new(192, 168, 1, 9));
        let attacker = IpAddr::V4(std::net::Ipv4Addr::new(192, 168, 1, 66));
        // Plex's idle keep-alive connection is the quietest of all...
        let (plex_id, plex_conn) = admit_from(&r, plex).unwrap();
        plex_conn.last_io.store(0, Ordering::Relaxed);
        for _ in 0..3 {
            let (_, c) = admit_from(&r, attacker).unwrap();
            c.last_io.store(100, Ordering::Relaxed);
        }
        // ...but the attacker holds more, so it is the attacker that gives
        // way, for its own newcomers and for anyone else's.
        admit_from(&r, attacker).unwrap();
        admit_from(&r, plex).unwrap();
        let conns = r.inner.lock();
        assert!(conns.by_id.contains_key(&plex_id));
        assert_eq!(conns.by_peer[&plex].len(), 2);
        assert_eq!(conns.by_peer[&attacker].len(), 2);
    }

    #[test]
    fn when_every_connection_is_serving_a_newcomer_is_refused() {
        let r = registry(2);
        for _ in 0..2 {
            let (_, c) = admit(&r).unwrap();
            c.in_flight.store(1, Ordering::Relaxed);
        }
        assert!(admit(&r).is_none());
        assert_eq!(r.len(), 2);
    }

    #[test]
    fn max_connections_fits_the_open_files_limit() {
        let l = Limits {
            max_connections: 4000,
            header_timeout: Duration::from_secs(1),
            idle_timeout: Duration::from_secs(1),
            send_buffer: 0,
        };
        assert_eq!(l.clone().fit_to_files(1024, 256).max_connections, 768);
        assert_eq!(l.fit_to_files(1 << 20, 256).max_connections, 4000);
    }
}
