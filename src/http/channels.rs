//! The lineup API: `GET /api/channels` (filter, paginate) with each
//! channel's candidates in failover order; `PATCH /api/channels/{id}`
//! (enable, disable, renumber: collisions refused) and `PATCH
//! /api/channels` (enable or disable many); `GET /api/streams`
//! with every ingested stream's match or best suggestion;
//! `PUT /api/streams/{source}/{key}/match` (pin or clear a manual match);
//! `PUT /api/channels/{id}/order` (candidate order); `POST /api/lineup/rebuild`.
//! Every change rebuilds the lineup; URLs are always redacted.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::extract::{FromRef, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch, post, put};
use serde::Deserialize;
use serde_json::json;

use crate::lineup::Lineup;
use crate::lineup::live::Rebuild;
use crate::redact::redact;
use crate::store::Store;
use crate::store::lineup::MatchRow;

/// What the lineup routes read.
#[derive(Clone)]
pub struct ChannelsState {
    pub lineup: Arc<Lineup>,
    pub store: Store,
    pub rebuild: Rebuild,
}

pub fn routes<S>() -> Router<S>
where
    S: Clone + Send + Sync + 'static,
    ChannelsState: FromRef<S>,
{
    Router::new()
        .route("/api/channels", get(list_channels).patch(edit_many))
        .route("/api/channels/{id}", patch(edit_channel))
        .route("/api/channels/{id}/order", put(order_channel))
        .route("/api/streams", get(list_streams))
        .route("/api/streams/{source}/{key}/match", put(set_match))
        .route("/api/lineup/rebuild", post(rebuild))
}

#[derive(Deserialize)]
struct Page {
    q: Option<String>,
    enabled: Option<bool>,
    offset: Option<usize>,
    limit: Option<usize>,
}

fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(json!({ "error": message.into() }))).into_response()
}

fn store_error(e: impl std::fmt::Display) -> Response {
    tracing::error!("lineup API: {e}");
    error(StatusCode::INTERNAL_SERVER_ERROR, "database error")
}

/// Every stored match, by (source, stream key).
async fn matches_by_stream(store: &Store) -> Result<HashMap<(i64, String), MatchRow>, Response> {
    let m = store.stream_matches().await.map_err(store_error)?;
    Ok(m.into_iter()
        .map(|m| ((m.source_id, m.stream_key.clone()), m))
        .collect())
}

fn page<T>(items: Vec<T>, p: &Page) -> (usize, Vec<T>) {
    let total = items.len();
    let offset = p.offset.unwrap_or(0);
    let limit = p.limit.unwrap_or(500).clamp(1, 5000);
    (total, items.into_iter().skip(offset).take(limit).collect())
}

async fn list_channels(State(st): State<ChannelsState>, Query(p): Query<Page>) -> Response {
    let matches = match matches_by_stream(&st.store).await {
        Ok(m) => m,
        Err(r) => return r,
    };
    let q = p.q.as_deref().map(str::to_lowercase);
    let all = st.lineup.all();
    let items: Vec<serde_json::Value> = all
        .iter()
        .filter(|c| p.enabled.is_none_or(|e| c.enabled == e))
        .filter(|c| {
            q.as_deref()
                .is_none_or(|q| c.name.to_lowercase().contains(q) || c.number == q)
        })
        .map(|c| {
            let candidates: Vec<serde_json::Value> = c
                .candidates
                .iter()
                .map(|k| {
                    let m = match (&k.source, &k.stream_key) {
                        (crate::lineup::CandidateSource::Provider { source_id, .. }, Some(key)) => {
                            matches.get(&(*source_id, key.clone()))
                        }
                        _ => None,
                    };
                    json!({
                        "source": k.source,
                        "stream_key": k.stream_key,
                        "provider_name": k.stream_name,
                        "tier": k.tier,
                        "url": redact(&k.url),
                        "match": m.map(|m| json!({
                            "method": m.method, "manual": m.manual, "confidence": m.confidence,
                        })),
                    })
                })
                .collect();
            let status = if c.id.starts_with("config:") {
                "manual"
            } else if c.guide_id.is_none() {
                "unmatched"
            } else {
                "matched"
            };
            json!({
                "id": c.id, "number": c.number, "name": c.name, "enabled": c.enabled,
                "guide_id": c.guide_id, "logo": c.logo.as_deref().map(shown_logo), "group": c.group,
                "match_status": status, "candidates": candidates,
            })
        })
        .collect();
    let (total, items) = page(items, &p);
    Json(json!({ "total": total, "channels": items })).into_response()
}

/// `lineup:<n>` → n (config channels are edited in the config file).
fn stored_id(id: &str) -> Option<i64> {
    id.strip_prefix("lineup:").unwrap_or(id).parse().ok()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ChannelEdit {
    enabled: Option<bool>,
    number: Option<String>,
}

async fn edit_channel(
    State(st): State<ChannelsState>,
    Path(id): Path<String>,
    Json(e): Json<ChannelEdit>,
) -> Response {
    let Some(id) = stored_id(&id) else {
        return error(
            StatusCode::CONFLICT,
            "config channels are edited in the config file",
        );
    };
    if let Some(n) = &e.number {
        let ok = !n.is_empty() && n.chars().all(|c| c.is_ascii_digit() || c == '.');
        if !ok {
            return error(
                StatusCode::BAD_REQUEST,
                format!("number ({n:?}) must be digits like \"101\" or \"5.1\""),
            );
        }
        if st
            .lineup
            .all()
            .iter()
            .any(|c| &c.number == n && c.id != format!("lineup:{id}"))
        {
            return error(
                StatusCode::CONFLICT,
                format!("number {n} is taken by another channel"),
            );
        }
    }
    match st
        .store
        .edit_lineup_channel(id, e.enabled, e.number.as_deref())
        .await
    {
        Ok(true) => {}
        Ok(false) => return error(StatusCode::NOT_FOUND, format!("no channel lineup:{id}")),
        // The unique index refuses a number a stale channel still holds.
        Err(crate::store::StoreError::Db(sqlx::Error::Database(d))) if d.is_unique_violation() => {
            return error(
                StatusCode::CONFLICT,
                "that number is reserved by another channel",
            );
        }
        Err(err) => return store_error(err),
    }
    st.rebuild.request();
    match st.store.lineup_channel(id).await {
        Ok(Some(c)) => Json(c).into_response(),
        Ok(None) => error(StatusCode::NOT_FOUND, format!("no channel lineup:{id}")),
        Err(e) => store_error(e),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ManyEdit {
    ids: Vec<String>,
    enabled: bool,
}

/// Enables or disables many channels at once.
async fn edit_many(State(st): State<ChannelsState>, Json(e): Json<ManyEdit>) -> Response {
    let mut changed = 0;
    let mut refused = Vec::new();
    for id in &e.ids {
        let Some(n) = stored_id(id) else {
            refused.push(id.clone());
            continue;
        };
        match st.store.edit_lineup_channel(n, Some(e.enabled), None).await {
            Ok(true) => changed += 1,
            Ok(false) => refused.push(id.clone()),
            Err(err) => return store_error(err),
        }
    }
    if changed > 0 {
        st.rebuild.request();
    }
    Json(json!({ "changed": changed, "not_found_or_config": refused })).into_response()
}

#[derive(Deserialize)]
struct StreamRef {
    source_id: i64,
    stream_key: String,
}

/// Sets the candidate order of a channel: the streams in the order given.
async fn order_channel(
    State(st): State<ChannelsState>,
    Path(_id): Path<String>,
    Json(order): Json<Vec<StreamRef>>,
) -> Response {
    let ranks: Vec<(i64, String, i64)> = order
        .into_iter()
        .enumerate()
        .map(|(i, r)| (r.source_id, r.stream_key, i as i64))
        .collect();
    if let Err(e) = st.store.set_ranks(&ranks).await {
        return store_error(e);
    }
    st.rebuild.request();
    StatusCode::NO_CONTENT.into_response()
}

async fn list_streams(State(st): State<ChannelsState>, Query(p): Query<Page>) -> Response {
    let streams = match st.store.all_streams().await {
        Ok(s) => s,
        Err(e) => return store_error(e),
    };
    let matches = match matches_by_stream(&st.store).await {
        Ok(m) => m,
        Err(r) => return r,
    };
    let q = p.q.as_deref().map(str::to_lowercase);
    let items: Vec<serde_json::Value> = streams
        .iter()
        .filter(|s| {
            q.as_deref()
                .is_none_or(|q| s.stream.name.to_lowercase().contains(q))
        })
        .map(|s| {
            let m = matches.get(&(s.source_id, s.stream.key.clone()));
            json!({
                "source_id": s.source_id, "source": s.source_name, "stream_key": s.stream.key,
                "name": s.stream.name, "url": redact(&s.stream.url), "group": s.stream.group, "stale": s.stale,
                "tier": crate::lineup::matching::tier_of(&s.stream.name),
                "guide_id": m.and_then(|m| m.guide_id.clone()),
                "confidence": m.and_then(|m| m.confidence),
                "method": m.map(|m| m.method.clone()),
                "manual": m.is_some_and(|m| m.manual),
                "suggestions": m.map(|m| m.suggestions.clone()),
            })
        })
        .collect();
    let (total, items) = page(items, &p);
    Json(json!({ "total": total, "streams": items })).into_response()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MatchEdit {
    /// The guide channel id; `null` clears a manual match.
    guide_id: Option<String>,
}

async fn set_match(
    State(st): State<ChannelsState>,
    Path((source, key)): Path<(i64, String)>,
    Json(m): Json<MatchEdit>,
) -> Response {
    if let Some(g) = &m.guide_id {
        match st.store.merged_guide_channels().await {
            Ok(guide) if guide.iter().any(|c| c.id.eq_ignore_ascii_case(g)) => {}
            Ok(_) => return error(StatusCode::BAD_REQUEST, format!("no guide channel {g:?}")),
            Err(e) => return store_error(e),
        }
    }
    if let Err(e) = st
        .store
        .set_manual_match(source, &key, m.guide_id.as_deref())
        .await
    {
        return store_error(e);
    }
    st.rebuild.request();
    StatusCode::NO_CONTENT.into_response()
}

async fn rebuild(State(st): State<ChannelsState>) -> Response {
    st.rebuild.request();
    (
        StatusCode::ACCEPTED,
        Json(json!({ "rebuild": "requested" })),
    )
        .into_response()
}

/// A logo URL as the API shows it: as is, unless it carries credentials
/// (user info, or a query, where provider tokens go); then redacted.
fn shown_logo(logo: &str) -> String {
    match url::Url::parse(logo) {
        Ok(u) if crate::redact::has_credentials(&u) || u.query().is_some() => {
            crate::redact::redact(logo)
        }
        _ => logo.to_string(),
    }
}
