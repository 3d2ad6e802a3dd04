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
        .route("/auto/{vnum}", get(stream_auto))
        .route("/stream/{number}", get(stream_plain))
        .route("/{tuner}/{vnum}", get(stream_tuner))
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
            tracing::info!(channel = %ch.number, wait_ms = t0.elapsed().as_millis() as u64, "client streaming");
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
    queue: VecDeque<Bytes>,
    lags: VecDeque<Instant>,
    events: EventBus,
    last_lag_log: Option<Instant>,
}

/// The body of one client: shared ring slices, one frame each, so hyper
/// batches them into vectored writes. Ends when the ring ends or the reader
/// is dropped for being too slow.
fn client_body(reader: RingReader, guard: ClientGuard, events: EventBus) -> Body {
    let st = ClientState {
        reader,
        guard,
        queue: VecDeque::new(),
        lags: VecDeque::new(),
        events,
        last_lag_log: None,
    };
    let stream = futures_util::stream::unfold(st, |mut st| async move {
        loop {
            if let Some(b) = st.queue.pop_front() {
                return Some((Ok::<Bytes, std::io::Error>(b), st));
            }
            match st.reader.read().await {
                Read::Data(v) => st.queue.extend(v),
                Read::End => return None,
                Read::Lagged { skipped } => {
                    let shared = st.guard.shared();
                    shared.readers_lagged.fetch_add(1, Ordering::Relaxed);
                    let now = Instant::now();
                    st.lags.push_back(now);
                    while st
                        .lags
                        .front()
                        .is_some_and(|t| now.duration_since(*t) > DROP_WINDOW)
                    {
                        st.lags.pop_front();
                    }
                    if st
                        .last_lag_log
                        .is_none_or(|t| now.duration_since(t) >= Duration::from_secs(1))
                    {
                        tracing::warn!(channel = %shared.channel, skipped, "client too slow: moved to the newest join point");
                        st.last_lag_log = Some(now);
                    }
                    if st.lags.len() >= MAX_LAGS {
                        shared.readers_dropped.fetch_add(1, Ordering::Relaxed);
                        st.events.publish(
                            Some(&shared.channel),
                            EventKind::ReaderDropped {
                                lags: st.lags.len(),
                                window_s: DROP_WINDOW.as_secs(),
                                skipped_bytes: skipped,
                            },
                        );
                        return None;
                    }
                }
            }
        }
    });
    Body::from_stream(stream)
}
