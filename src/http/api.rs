//! The JSON API: live sessions and the event log (newest first, by kind
//! or channel, paginated with `before`), and the event bus's counters.
//! Provider and lineup management join here later.

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::extract::{FromRef, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;
use serde_json::json;

use crate::events::EventBus;
use crate::media::manager::Sessions;
use crate::store::Store;
use crate::store::events::EventQuery;

/// What the API routes read.
#[derive(Clone)]
pub struct ApiState {
    pub sessions: Arc<Sessions>,
    pub store: Store,
    pub events: EventBus,
}

pub fn routes<S>() -> Router<S>
where
    S: Clone + Send + Sync + 'static,
    ApiState: FromRef<S>,
{
    Router::new()
        .route("/api/sessions", get(api_sessions))
        .route("/api/events", get(api_events))
        .route("/api/events/stats", get(api_event_stats))
        .route("/api/accounts", get(api_accounts))
}

async fn api_sessions(State(st): State<ApiState>) -> Response {
    Json(st.sessions.views()).into_response()
}

#[derive(Deserialize)]
struct EventsQuery {
    limit: Option<u32>,
    kind: Option<String>,
    channel: Option<String>,
    /// Only events with a smaller `id` (the next page).
    before: Option<i64>,
}

async fn api_events(State(st): State<ApiState>, Query(q): Query<EventsQuery>) -> Response {
    let limit = q.limit.unwrap_or(100).clamp(1, 10_000);
    let query = EventQuery {
        limit,
        kind: q.kind,
        channel: q.channel,
        before_id: q.before,
    };
    match st.store.events(&query).await {
        Ok(ev) => Json(ev).into_response(),
        Err(e) => {
            tracing::error!("cannot read events: {e:#}");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                Json(json!({ "error": e.to_string() })),
            )
                .into_response()
        }
    }
}

/// Published and dropped event counts (a subscriber that fell behind).
async fn api_event_stats(State(st): State<ApiState>) -> Response {
    let stored = st.store.event_count().await.ok();
    Json(json!({ "bus": st.events.counts(), "queued": st.events.queued(), "stored": stored }))
        .into_response()
}

/// Provider connections in use per account, of their limit.
async fn api_accounts(State(st): State<ApiState>) -> Response {
    Json(st.sessions.budget().view()).into_response()
}
