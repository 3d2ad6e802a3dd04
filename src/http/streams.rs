//! Channel streams: `/auto/v<n>`, `/tuner<N>/v<n>`, `/stream/<n>` and
//! the body each client reads (shared ring slices, slow readers moved on
//! or dropped). A refused tune answers as a real HDHomeRun would
//! (`plex::hdhomerun::tune_error_response`).

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::{FromRef, Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use bytes::Bytes;

use crate::events::{EventBus, EventKind};
use crate::lineup::Lineup;
use crate::media::manager::{ClientGuard, Sessions};
use crate::media::ring::{Read, RingReader};
use crate::plex::hdhomerun::tune_error_response;

/// A reader lagging this many times within [`DROP_WINDOW`] is dropped.
const MAX_LAGS: usize = 3;
const DROP_WINDOW: Duration = Duration::from_secs(30);

/// What the stream routes read.
#[derive(Clone)]
pub struct StreamState {
    pub lineup: Arc<Lineup>,
    pub sessions: Arc<Sessions>,
    pub events: EventBus,
}

pub fn routes<S>() -> Router<S>
where
    S: Clone + Send + Sync + 'static,
    StreamState: FromRef<S>,
{
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        // HEAD answers from the lineup alone: without its own handler axum
        // would run the GET one (tuning the channel) and drop the body.
        .route("/auto/{vnum}", get(stream_auto).head(head_auto))
        .route("/stream/{number}", get(stream_plain).head(head_plain))
        .route("/{tuner}/{vnum}", get(stream_tuner).head(head_tuner))
}

/// The channel a stream path names, if it exists: `/auto/v<n>`,
/// `/stream/<n>` (`tuner` `None`) or `/tuner<N>/v<n>`.
fn channel_number<'a>(st: &StreamState, tuner: Option<&str>, path: &'a str) -> Option<&'a str> {
    let number = match tuner {
        None => path,
        Some(t) => {
            let idx = t.strip_prefix("tuner")?.parse::<u32>().ok()?;
            (idx < st.sessions.tuner_count()).then_some(())?;
            path.strip_prefix('v')?
        }
    };
    st.lineup.get(number).is_some().then_some(number)
}

/// The headers a GET would answer with, without tuning.
fn head_response(found: bool, what: &str) -> Response {
    if !found {
        return not_found(what);
    }
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "video/mp2t")
        .header(header::CACHE_CONTROL, "no-cache, no-store")
        .body(Body::empty())
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

async fn head_auto(State(st): State<StreamState>, Path(vnum): Path<String>) -> Response {
    let found = vnum
        .strip_prefix('v')
        .and_then(|n| channel_number(&st, None, n))
        .is_some();
    head_response(found, &vnum)
}

async fn head_plain(State(st): State<StreamState>, Path(number): Path<String>) -> Response {
    let found = channel_number(&st, None, &number).is_some();
    head_response(found, &number)
}

async fn head_tuner(
    State(st): State<StreamState>,
    Path((tuner, vnum)): Path<(String, String)>,
) -> Response {
    let found = channel_number(&st, Some(&tuner), &vnum).is_some();
    head_response(found, &format!("{tuner}/{vnum}"))
}

async fn stream_auto(State(st): State<StreamState>, Path(vnum): Path<String>) -> Response {
    match vnum.strip_prefix('v') {
        Some(n) => serve_channel(st, n).await,
        None => not_found(&vnum),
    }
}

async fn stream_plain(State(st): State<StreamState>, Path(number): Path<String>) -> Response {
    serve_channel(st, &number).await
}

/// `/tuner<N>/v<number>`: any tuner index below the budget is accepted;
/// sessions are shared per channel either way.
async fn stream_tuner(
    State(st): State<StreamState>,
    Path((tuner, vnum)): Path<(String, String)>,
) -> Response {
    let idx = tuner
        .strip_prefix("tuner")
        .and_then(|n| n.parse::<u32>().ok());
    match (idx, vnum.strip_prefix('v')) {
        (Some(i), Some(n)) if i < st.sessions.tuner_count() => serve_channel(st, n).await,
        _ => not_found(&format!("{tuner}/{vnum}")),
    }
}

fn not_found(what: &str) -> Response {
    (StatusCode::NOT_FOUND, format!("no such channel: {what}\n")).into_response()
}

async fn serve_channel(st: StreamState, number: &str) -> Response {
    let Some(ch) = st.lineup.get(number) else {
        return not_found(number);
    };
    let t0 = Instant::now();
    match st.sessions.tune(&ch).await {
        Ok((reader, guard)) => {
            tracing::debug!(channel = %ch.number, wait_ms = t0.elapsed().as_millis() as u64, "client streaming");
            let body = client_body(reader, guard, st.events.clone());
            Response::builder()
                .status(StatusCode::OK)
                .header(header::CONTENT_TYPE, "video/mp2t")
                .header(header::CACHE_CONTROL, "no-cache, no-store")
                .body(body)
                .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
        }
        Err(e) => {
            tracing::warn!(channel = %ch.number, "tune refused: {e}");
            tune_error_response(&e)
        }
    }
}

struct ClientState {
    reader: RingReader,
    guard: ClientGuard,
    /// Slices read from the ring, with their ring offsets, not yet taken
    /// by the connection.
    queue: VecDeque<(u64, Bytes)>,
    lags: VecDeque<Instant>,
    events: EventBus,
    last_lag_log: Option<Instant>,
    /// Lags since the last log line (logged at most once a second).
    unlogged_lags: u64,
}

/// Why a client was moved forward.
enum Lag {
    /// Its cursor fell out of the ring.
    Evicted,
    /// What it has taken is this far behind live.
    Behind(Duration),
}

impl ClientState {
    /// Counts a lag; answers whether the client is to be dropped.
    fn lagged(&mut self, skipped: u64, why: Lag) -> bool {
        let shared = Arc::clone(self.guard.shared());
        shared.readers_lagged.fetch_add(1, Ordering::Relaxed);
        self.guard.reader().lags.fetch_add(1, Ordering::Relaxed);
        let now = Instant::now();
        self.lags.push_back(now);
        while self
            .lags
            .front()
            .is_some_and(|t| now.duration_since(*t) > DROP_WINDOW)
        {
            self.lags.pop_front();
        }
        self.unlogged_lags += 1;
        if self
            .last_lag_log
            .is_none_or(|t| now.duration_since(t) >= Duration::from_secs(1))
        {
            let (cause, lag_ms) = match why {
                Lag::Evicted => ("fell out of the ring", None),
                Lag::Behind(d) => ("behind live", Some(d.as_millis() as u64)),
            };
            tracing::warn!(channel = %shared.channel, client = self.guard.reader().id, skipped, lag_ms,
                max_lag_ms = self.guard.max_lag().as_millis() as u64, lags = self.unlogged_lags,
                "client too slow ({cause}): moved to the newest join point");
            self.last_lag_log = Some(now);
            self.unlogged_lags = 0;
        }
        if self.lags.len() >= MAX_LAGS {
            shared.readers_dropped.fetch_add(1, Ordering::Relaxed);
            self.events.publish(
                Some(&shared.channel),
                EventKind::ReaderDropped {
                    lags: self.lags.len(),
                    window_s: DROP_WINDOW.as_secs(),
                    skipped_bytes: skipped,
                },
            );
            return true;
        }
        false
    }
}

/// The body of one client: shared ring slices, one frame each, so hyper
/// batches them into vectored writes. Before each slice, what the client
/// has taken so far is compared with live: past `max_lag` (a weak link:
/// the bytes pile up in its socket and writer buffers) it is moved to the
/// newest join point. Ends when the ring ends or the client is dropped for
/// lagging too often.
fn client_body(reader: RingReader, guard: ClientGuard, events: EventBus) -> Body {
    let st = ClientState {
        reader,
        guard,
        queue: VecDeque::new(),
        lags: VecDeque::new(),
        events,
        last_lag_log: None,
        unlogged_lags: 0,
    };
    let stream = futures_util::stream::unfold(st, |mut st| async move {
        loop {
            if let Some((off, b)) = st.queue.pop_front() {
                // Everything before `off` has been taken by the connection.
                st.guard.reader().set_position(off);
                let lag = st.reader.ring().lag(off);
                if lag > st.guard.max_lag() {
                    let skipped = st.reader.skip_to_newest_join(off);
                    if skipped > 0 {
                        st.queue.clear();
                        st.guard.reader().set_position(st.reader.position());
                        if st.lagged(skipped, Lag::Behind(lag)) {
                            return None;
                        }
                        continue;
                    }
                }
                st.guard
                    .reader()
                    .bytes
                    .fetch_add(b.len() as u64, Ordering::Relaxed);
                return Some((Ok::<Bytes, std::io::Error>(b), st));
            }
            st.guard.reader().set_position(st.reader.position());
            match st.reader.read().await {
                Read::Data(v) => {
                    let total: u64 = v.iter().map(|b| b.len() as u64).sum();
                    let mut off = st.reader.position() - total;
                    for b in v {
                        let len = b.len() as u64;
                        st.queue.push_back((off, b));
                        off += len;
                    }
                }
                Read::End => return None,
                Read::Lagged { skipped } => {
                    if st.lagged(skipped, Lag::Evicted) {
                        return None;
                    }
                }
            }
        }
    });
    Body::from_stream(stream)
}

/// The kernel send buffer a stream connection should have (`SO_SNDBUF`,
/// which Linux doubles; `server.send_buffer_bytes`): small enough that a
/// client on a weak link shows its lag in what it takes from the ring
/// within about a second at HD bitrates, instead of hiding up to 4 MiB
/// (autotuned) in the kernel.
pub const STREAM_SEND_BUFFER: usize = 64 * 1024;
