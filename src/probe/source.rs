//! Where the probe's bytes come from when it reads them itself rather than
//! through libavformat's IO: an HTTP fetch on its own thread (reqwest on a
//! private current-thread runtime: never a tokio worker of the caller's)
//! that times the connection, records status, redirects and content type,
//! dates every chunk and counts TS continuity as the bytes arrive; and a
//! local file reader that counts continuity on the bytes the demuxer reads
//! in order. Both hand the bytes to libavformat through `Read` impls.

use std::fs::File;
use std::future::Future;
use std::io::{Read, Seek, SeekFrom};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::{Buf, Bytes};
use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use futures_util::StreamExt;
use parking_lot::Mutex;
use serde::Serialize;

use super::continuity::Continuity;
use super::stats::{ArrivalLog, Gaps, Windows};
use crate::media::input::OpenError;
use crate::redact::redact;

/// How often a blocked read wakes up to let FFmpeg check its interrupt
/// callback, and the fetch thread its stop flag.
const POLL: Duration = Duration::from_millis(50);

fn ms_since(t0: Instant) -> u64 {
    t0.elapsed().as_millis() as u64
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Redirect {
    pub status: u16,
    /// Where it pointed (redacted).
    pub location: String,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct HttpInfo {
    pub status: u16,
    pub content_type: Option<String>,
    /// After redirects (redacted).
    pub final_url: String,
    pub redirects: Vec<Redirect>,
}

/// What the wire showed, owned by the fetch thread and handed over when
/// it ends.
#[derive(Debug)]
pub struct WireStats {
    pub first_byte_ms: Option<u64>,
    pub windows: Windows,
    pub gaps: Gaps,
    pub cc: Continuity,
    /// Why the body ended: None when the probe stopped it.
    pub ended: Option<BodyEnd>,
    pub ended_ms: u64,
}

#[derive(Debug, Clone, PartialEq)]
pub enum BodyEnd {
    Closed,
    Error(String),
}

enum Msg {
    Chunk(Bytes, u64),
    End(BodyEnd),
}

/// What the body gave first (see [`Fetch::peek`]).
pub enum First {
    /// Bytes and when they arrived, ms since the probe started.
    Bytes(Bytes, u64),
    Ended(BodyEnd),
    Nothing,
}

impl First {
    pub fn bytes(&self) -> Option<&[u8]> {
        match self {
            First::Bytes(b, _) => Some(b),
            _ => None,
        }
    }

    pub fn at_ms(&self) -> Option<u64> {
        match self {
            First::Bytes(_, at) => Some(*at),
            _ => None,
        }
    }
}

pub struct FetchOptions {
    pub connect_timeout: Duration,
    pub user_agent: String,
    pub stall_threshold_ms: u64,
}

/// An HTTP response whose body is being read on the fetch thread.
pub struct Fetch {
    pub http: HttpInfo,
    /// DNS + TCP (+ TLS) done, ms since the probe started.
    pub connect_ms: Option<u64>,
    /// Response headers received.
    pub response_ms: u64,
    body: Receiver<Msg>,
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<WireStats>,
}

/// A response head or the reason there is none.
type Head = Result<(HttpInfo, Option<u64>, u64), OpenError>;

impl Fetch {
    /// Sends the GET and waits for the response head (at most the connect
    /// timeout, plus a margin for DNS). HTTP errors are errors here.
    pub fn start(url: &str, opts: FetchOptions, t0: Instant) -> Result<Fetch, OpenError> {
        let (head_tx, head_rx) = crossbeam_channel::bounded::<Head>(1);
        let (tx, body) = crossbeam_channel::unbounded();
        let stop = Arc::new(AtomicBool::new(false));
        let timeout = opts.connect_timeout;
        let (u, s) = (url.to_string(), Arc::clone(&stop));
        let thread = std::thread::Builder::new()
            .name("probe-http".into())
            .spawn(move || fetch_thread(&u, opts, t0, head_tx, tx, &s))
            .map_err(|e| OpenError::Other {
                url: redact(url),
                message: format!("cannot spawn thread: {e}"),
            })?;
        let head = head_rx
            .recv_timeout(timeout + Duration::from_millis(500))
            .unwrap_or_else(|_| {
                Err(OpenError::Timeout {
                    url: redact(url),
                    ms: timeout.as_millis() as u64,
                })
            });
        match head {
            Ok((http, connect_ms, response_ms)) => Ok(Fetch {
                http,
                connect_ms,
                response_ms,
                body,
                stop,
                thread,
            }),
            Err(e) => {
                stop.store(true, Ordering::Relaxed);
                Err(e)
            }
        }
    }

    /// Waits up to `timeout` for the first bytes (for sniffing).
    pub fn peek(&self, timeout: Duration) -> First {
        match self.body.recv_timeout(timeout) {
            Ok(Msg::Chunk(b, at)) => First::Bytes(b, at),
            Ok(Msg::End(e)) => First::Ended(e),
            Err(_) => First::Nothing,
        }
    }

    /// Reads what is left of a small body (a playlist), up to `limit` bytes.
    pub fn read_rest(&self, mut acc: Vec<u8>, timeout: Duration, limit: usize) -> Vec<u8> {
        let deadline = Instant::now() + timeout;
        while acc.len() < limit {
            match self.body.recv_deadline(deadline) {
                Ok(Msg::Chunk(b, _)) => acc.extend_from_slice(&b),
                _ => break,
            }
        }
        acc
    }

    /// A reader over the body for libavformat, starting with `first` (what
    /// [`Fetch::peek`] took), dating each chunk into `log`.
    pub fn reader(&self, first: First, log: Arc<Mutex<ArrivalLog>>) -> BodyReader {
        let mut r = BodyReader {
            rx: self.body.clone(),
            cur: Bytes::new(),
            ended: None,
            log,
        };
        match first {
            First::Bytes(b, at) => r.push(b, at),
            First::Ended(e) => r.ended = Some(e),
            First::Nothing => {}
        }
        r
    }

    /// Stops reading and returns what the wire showed.
    pub fn finish(self) -> WireStats {
        self.stop.store(true, Ordering::Relaxed);
        drop(self.body);
        self.thread.join().unwrap_or_else(|_| WireStats {
            first_byte_ms: None,
            windows: Windows::default(),
            gaps: Gaps::new(0),
            cc: Continuity::new(),
            ended: Some(BodyEnd::Error("fetch thread panicked".into())),
            ended_ms: 0,
        })
    }
}

fn error_text(e: &reqwest::Error) -> String {
    // reqwest's Display carries the URL (and its credentials); the source
    // chain does not.
    let mut msg = String::new();
    let mut src: Option<&dyn std::error::Error> = std::error::Error::source(e);
    while let Some(s) = src {
        if !msg.is_empty() {
            msg.push_str(": ");
        }
        msg.push_str(&s.to_string());
        src = s.source();
    }
    if msg.is_empty() {
        "request failed".into()
    } else {
        msg
    }
}

fn map_request_error(e: &reqwest::Error, url: &str, timeout: Duration) -> OpenError {
    let url = redact(url);
    if e.is_timeout() {
        OpenError::Timeout {
            url,
            ms: timeout.as_millis() as u64,
        }
    } else if e.is_connect() {
        OpenError::Unreachable { url }
    } else if e.is_redirect() {
        OpenError::Other {
            url,
            message: "too many redirects".into(),
        }
    } else {
        OpenError::Other {
            url,
            message: error_text(e),
        }
    }
}

fn fetch_thread(
    url: &str,
    opts: FetchOptions,
    t0: Instant,
    head_tx: Sender<Head>,
    tx: Sender<Msg>,
    stop: &AtomicBool,
) -> WireStats {
    let mut stats = WireStats {
        first_byte_ms: None,
        windows: Windows::default(),
        gaps: Gaps::new(opts.stall_threshold_ms),
        cc: Continuity::new(),
        ended: None,
        ended_ms: 0,
    };
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            let _ = head_tx.send(Err(OpenError::Other {
                url: redact(url),
                message: format!("cannot start a runtime: {e}"),
            }));
            return stats;
        }
    };
    rt.block_on(async {
        let redirects = Arc::new(Mutex::new(Vec::new()));
        let connected = Arc::new(AtomicU64::new(u64::MAX));
        let rec = Arc::clone(&redirects);
        let client = reqwest::Client::builder()
            .user_agent(opts.user_agent.as_str())
            .connect_timeout(opts.connect_timeout)
            .no_gzip()
            .redirect(reqwest::redirect::Policy::custom(move |a| {
                rec.lock().push(Redirect {
                    status: a.status().as_u16(),
                    location: redact(a.url().as_str()),
                });
                if a.previous().len() > 10 {
                    a.error("too many redirects")
                } else {
                    a.follow()
                }
            }))
            .connector_layer(ConnectTimer {
                t0,
                at: Arc::clone(&connected),
            })
            .build();
        let client = match client {
            Ok(c) => c,
            Err(e) => {
                let _ = head_tx.send(Err(OpenError::Other {
                    url: redact(url),
                    message: error_text(&e),
                }));
                return;
            }
        };
        let resp = match tokio::time::timeout(opts.connect_timeout, client.get(url).send()).await {
            Err(_) => Err(OpenError::Timeout {
                url: redact(url),
                ms: opts.connect_timeout.as_millis() as u64,
            }),
            Ok(Err(e)) => Err(map_request_error(&e, url, opts.connect_timeout)),
            Ok(Ok(r)) if !r.status().is_success() => Err(OpenError::Http {
                status: r.status().as_u16(),
                url: redact(url),
            }),
            Ok(Ok(r)) => Ok(r),
        };
        let resp = match resp {
            Ok(r) => r,
            Err(e) => {
                let _ = head_tx.send(Err(e));
                return;
            }
        };
        let response_ms = ms_since(t0);
        let http = HttpInfo {
            status: resp.status().as_u16(),
            content_type: resp
                .headers()
                .get(reqwest::header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string),
            final_url: redact(resp.url().as_str()),
            redirects: redirects.lock().clone(),
        };
        let connect_ms = Some(connected.load(Ordering::Relaxed)).filter(|&c| c != u64::MAX);
        if head_tx.send(Ok((http, connect_ms, response_ms))).is_err() {
            return;
        }
        let mut body = resp.bytes_stream();
        let end = loop {
            if stop.load(Ordering::Relaxed) {
                break None;
            }
            match tokio::time::timeout(POLL, body.next()).await {
                Err(_) => continue,
                Ok(None) => break Some(BodyEnd::Closed),
                Ok(Some(Err(e))) => break Some(BodyEnd::Error(error_text(&e))),
                Ok(Some(Ok(chunk))) => {
                    let at = ms_since(t0);
                    stats.first_byte_ms.get_or_insert(at);
                    stats.windows.add(at as f64, chunk.len() as u64);
                    stats.gaps.arrive(at);
                    stats.cc.feed(&chunk);
                    // The reader is gone once the demuxer is done; keep
                    // measuring until told to stop.
                    let _ = tx.send(Msg::Chunk(chunk, at));
                }
            }
        };
        if let Some(e) = &end {
            let _ = tx.send(Msg::End(e.clone()));
        }
        stats.ended = end;
    });
    stats.ended_ms = ms_since(t0);
    stats
}

/// Tower layer around reqwest's connector: notes when the first
/// connection (DNS, TCP, TLS) was established.
#[derive(Clone)]
struct ConnectTimer {
    t0: Instant,
    at: Arc<AtomicU64>,
}

impl<S> tower_layer::Layer<S> for ConnectTimer {
    type Service = Timed<S>;
    fn layer(&self, inner: S) -> Timed<S> {
        Timed {
            inner,
            t0: self.t0,
            at: Arc::clone(&self.at),
        }
    }
}

#[derive(Clone)]
struct Timed<S> {
    inner: S,
    t0: Instant,
    at: Arc<AtomicU64>,
}

impl<S, R> tower_service::Service<R> for Timed<S>
where
    S: tower_service::Service<R>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: R) -> Self::Future {
        let fut = self.inner.call(req);
        let (t0, at) = (self.t0, Arc::clone(&self.at));
        Box::pin(async move {
            let r = fut.await;
            if r.is_ok() {
                let _ = at.compare_exchange(
                    u64::MAX,
                    ms_since(t0),
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                );
            }
            r
        })
    }
}

/// The HTTP body as libavformat reads it. A read with nothing to give
/// waits at most [`POLL`] and then reports `Interrupted`, which
/// ffmpeg-next's AVIO glue retries after checking the interrupt callback:
/// that is how a stalled upstream is abandoned at the probe's deadline.
pub struct BodyReader {
    rx: Receiver<Msg>,
    cur: Bytes,
    ended: Option<BodyEnd>,
    /// Written here (inside `av_read_frame`), read by the probe loop on
    /// the same thread; the mutex is never contended.
    log: Arc<Mutex<ArrivalLog>>,
}

impl BodyReader {
    fn push(&mut self, b: Bytes, at: u64) {
        self.log.lock().push(b.len(), at);
        self.cur = b;
    }
}

impl Read for BodyReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        loop {
            if !self.cur.is_empty() {
                let n = self.cur.len().min(buf.len());
                buf[..n].copy_from_slice(&self.cur[..n]);
                self.cur.advance(n);
                return Ok(n);
            }
            match &self.ended {
                Some(BodyEnd::Closed) => return Ok(0),
                Some(BodyEnd::Error(e)) => return Err(std::io::Error::other(e.clone())),
                None => {}
            }
            match self.rx.recv_timeout(POLL) {
                Ok(Msg::Chunk(b, at)) => self.push(b, at),
                Ok(Msg::End(e)) => self.ended = Some(e),
                Err(RecvTimeoutError::Timeout) => {
                    return Err(std::io::ErrorKind::Interrupted.into());
                }
                Err(RecvTimeoutError::Disconnected) => self.ended = Some(BodyEnd::Closed),
            }
        }
    }
}

/// A local file for libavformat, counting continuity on the bytes it reads
/// in order. libavformat also seeks (to the end, to estimate the duration,
/// and back); only bytes that extend the contiguous run from the start are
/// counted, so each byte is counted once and in order.
pub struct FileReader {
    file: File,
    pos: u64,
    counted: u64,
    /// Written here (inside libavformat calls), read by the probe loop on
    /// the same thread once reading is done.
    cc: Arc<Mutex<Continuity>>,
}

impl FileReader {
    pub fn new(file: File, cc: Arc<Mutex<Continuity>>) -> Self {
        Self {
            file,
            pos: 0,
            counted: 0,
            cc,
        }
    }
}

impl Read for FileReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.file.read(buf)?;
        let end = self.pos + n as u64;
        if self.pos <= self.counted && end > self.counted {
            let from = (self.counted - self.pos) as usize;
            self.cc.lock().feed(&buf[from..n]);
            self.counted = end;
        }
        self.pos = end;
        Ok(n)
    }
}

impl Seek for FileReader {
    fn seek(&mut self, to: SeekFrom) -> std::io::Result<u64> {
        self.pos = self.file.seek(to)?;
        Ok(self.pos)
    }
}
