//! `GET /web/live[?sessions=1]`: the dashboard's server-sent events. Every
//! bus event goes out as `event: event` with its channel, kind and the
//! table row the events page shows; with `sessions=1`, the "Now playing"
//! fragment goes out as `event: sessions` every second (and at once after
//! an event about a channel). Ends when the server shuts down.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::{Query, State};
use axum::response::sse::{Event as Sse, KeepAlive};
use axum::response::{IntoResponse, Response};
use futures_util::stream::{self, Stream};
use serde::Deserialize;
use serde_json::json;

use super::state::WebState;
use super::{events, now};
use crate::events::{Event, Subscriber, Subscription};

/// How often "Now playing" is re-sent.
pub const SESSIONS_EVERY: Duration = Duration::from_secs(1);

#[derive(Deserialize, Default)]
pub struct Want {
    pub sessions: Option<u8>,
}

/// The payload of one bus event.
pub fn event_json(e: &Event) -> String {
    let detail = e.detail();
    let ts = e.ts_text();
    let kind = e.kind.name();
    json!({
        "channel": e.channel,
        "kind": kind,
        "ts": ts,
        "html": events::row(&ts, e.channel.as_deref(), kind, &detail).into_string(),
    })
    .to_string()
}

struct Live {
    st: WebState,
    sub: Subscription,
    tick: Option<tokio::time::Interval>,
    closed: std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>,
    /// Send the sessions fragment next (an event about a channel came).
    sessions_now: bool,
}

enum Next {
    Closed,
    Event(Option<std::sync::Arc<Event>>),
    Tick,
}

fn sessions_event(st: &WebState) -> Sse {
    Sse::default()
        .event("sessions")
        .data(now::sessions_fragment(st).into_string())
}

fn live_stream(st: WebState, sessions: bool) -> impl Stream<Item = Result<Sse, Infallible>> {
    let sub = st.events.subscribe(Subscriber::Other);
    let closed = Box::pin(st.dashboard.closed());
    let tick = sessions.then(|| {
        let mut t = tokio::time::interval(SESSIONS_EVERY);
        t.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        t
    });
    let live = Live {
        st,
        sub,
        tick,
        closed,
        sessions_now: false,
    };
    stream::unfold(live, |mut l| async move {
        if l.sessions_now {
            l.sessions_now = false;
            let ev = sessions_event(&l.st);
            return Some((Ok(ev), l));
        }
        let next = {
            let tick = async {
                match l.tick.as_mut() {
                    Some(t) => {
                        t.tick().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                _ = &mut l.closed => Next::Closed,
                e = l.sub.recv() => Next::Event(e),
                _ = tick => Next::Tick,
            }
        };
        match next {
            Next::Closed | Next::Event(None) => None,
            Next::Event(Some(e)) => {
                l.sessions_now = l.tick.is_some() && e.channel.is_some();
                let ev = Sse::default().event("event").data(event_json(&e));
                Some((Ok(ev), l))
            }
            Next::Tick => {
                let ev = sessions_event(&l.st);
                Some((Ok(ev), l))
            }
        }
    })
}

pub async fn stream(State(st): State<WebState>, Query(w): Query<Want>) -> Response {
    axum::response::Sse::new(live_stream(st, w.sessions == Some(1)))
        .keep_alive(KeepAlive::default())
        .into_response()
}
