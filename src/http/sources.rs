//! The sources API: Xtream accounts and M3U playlists under
//! `/api/sources`, XMLTV guides under `/api/epg-sources`: list, add, show,
//! edit, remove, and ask for a sync. Passwords are write-only (never
//! returned), URLs are redacted, and local paths are accepted only from
//! the config file, never over HTTP.

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::extract::{FromRef, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::json;

use crate::config::sources::{validate_epg, validate_source};
use crate::config::{EpgConfig, SourceConfig, SourceKind};
use crate::providers::schedule::default_name;
use crate::providers::sync::Syncer;
use crate::store::Store;
use crate::store::sources::{NewSource, SourceRow};

/// What the sources routes read.
#[derive(Clone)]
pub struct SourcesState {
    pub store: Store,
    pub syncer: Arc<Syncer>,
}

pub fn routes<S>() -> Router<S>
where
    S: Clone + Send + Sync + 'static,
    SourcesState: FromRef<S>,
{
    Router::new()
        .route("/api/sources", get(list_streams).post(create_streams))
        .route(
            "/api/sources/{id}",
            get(show_streams).put(update_streams).delete(delete_streams),
        )
        .route("/api/sources/{id}/sync", post(sync_streams))
        .route("/api/epg-sources", get(list_guides).post(create_guides))
        .route(
            "/api/epg-sources/{id}",
            get(show_guides).put(update_guides).delete(delete_guides),
        )
        .route("/api/epg-sources/{id}/sync", post(sync_guides))
}

/// Which half of the API a route is in.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Family {
    Streams,
    Guides,
}

impl Family {
    fn holds(self, kind: &str) -> bool {
        (kind == "xmltv") == (self == Family::Guides)
    }
}

/// A source as sent by a client. Absent fields keep their value on PUT;
/// `password` is never echoed back.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Body {
    kind: Option<String>,
    name: Option<String>,
    url: Option<String>,
    username: Option<String>,
    password: Option<String>,
    user_agent: Option<String>,
    max_connections: Option<u32>,
    priority: Option<i64>,
    sync_hours: Option<u32>,
}

fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(json!({ "error": message.into() }))).into_response()
}

fn store_error(e: impl std::fmt::Display) -> Response {
    tracing::error!("sources API: {e}");
    error(StatusCode::INTERNAL_SERVER_ERROR, "database error")
}

/// A source as the API shows it, with its sync state and progress.
async fn view_json(st: &SourcesState, s: &SourceRow) -> Result<serde_json::Value, Response> {
    let v = st.store.source_view(s).await.map_err(store_error)?;
    let mut j = serde_json::to_value(&v).unwrap_or_default();
    let progress = st.syncer.progress(s.id);
    j["state"] = json!(if progress.is_some() {
        "syncing"
    } else {
        "idle"
    });
    j["progress"] = json!(progress);
    Ok(j)
}

async fn view(st: &SourcesState, s: &SourceRow) -> Response {
    match view_json(st, s).await {
        Ok(j) => Json(j).into_response(),
        Err(r) => r,
    }
}

async fn list(st: SourcesState, fam: Family) -> Response {
    let sources = match st.store.sources().await {
        Ok(s) => s,
        Err(e) => return store_error(e),
    };
    let mut out = Vec::new();
    for s in sources.iter().filter(|s| fam.holds(&s.kind)) {
        match view_json(&st, s).await {
            Ok(j) => out.push(j),
            Err(r) => return r,
        }
    }
    Json(out).into_response()
}

async fn find(st: &SourcesState, id: i64, fam: Family) -> Result<SourceRow, Response> {
    match st.store.source(id).await {
        Ok(Some(s)) if fam.holds(&s.kind) => Ok(s),
        Ok(_) => Err(error(
            StatusCode::NOT_FOUND,
            format!("no source with id {id}"),
        )),
        Err(e) => Err(store_error(e)),
    }
}

/// A source a person may change over HTTP: not one the config declares.
async fn find_editable(
    st: &SourcesState,
    id: i64,
    fam: Family,
    verb: &str,
) -> Result<SourceRow, Response> {
    let cur = find(st, id, fam).await?;
    if cur.config_key.is_some() {
        return Err(error(
            StatusCode::CONFLICT,
            format!("this source is declared in the config file: {verb} it there"),
        ));
    }
    Ok(cur)
}

/// Checks a body with the config's own rules; a local path is refused
/// (a web client must not make the server read its files).
/// `Err` is the message of a 400 answer.
fn checked(fam: Family, b: &Body, base: Option<&SourceRow>) -> Result<NewSource, String> {
    let bad = |m: String| Err(m);
    let url = b
        .url
        .clone()
        .or_else(|| base.map(|s| s.url.clone()))
        .unwrap_or_default();
    let remote = url::Url::parse(&url)
        .is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some());
    if !remote {
        return bad(format!(
            "url ({}) must be an http(s) URL (local files only from the config file)",
            crate::redact::redact(&url)
        ));
    }
    let key = |k: &str| k.to_string();
    let name = b
        .name
        .clone()
        .filter(|n| !n.trim().is_empty())
        .or_else(|| base.map(|s| s.name.clone()))
        .unwrap_or_else(|| default_name(&url));
    let priority = b.priority.or(base.map(|s| s.priority)).unwrap_or(10);
    match fam {
        Family::Guides => {
            let sync_hours = b
                .sync_hours
                .or(base.map(|s| s.sync_hours as u32))
                .unwrap_or(24);
            if b.kind.as_deref().is_some_and(|k| k != "xmltv") {
                return bad("kind must be \"xmltv\" under /api/epg-sources".into());
            }
            let e = EpgConfig {
                name: Some(name.clone()),
                url: url.clone(),
                priority,
                sync_hours,
            };
            if let Err(e) = validate_epg(&key, &e) {
                return bad(e.to_string());
            }
            Ok(NewSource {
                kind: "xmltv".into(),
                name,
                url,
                priority,
                sync_hours: i64::from(sync_hours),
                ..Default::default()
            })
        }
        Family::Streams => {
            let kind = match b.kind.as_deref().or(base.map(|s| s.kind.as_str())) {
                Some("xtream") => SourceKind::Xtream,
                Some("m3u") => SourceKind::M3u,
                Some(other) => {
                    return bad(format!("kind ({other:?}) must be \"xtream\" or \"m3u\""));
                }
                None => return bad("kind is required: \"xtream\" or \"m3u\"".into()),
            };
            if base.is_some_and(|s| s.kind != kind.as_str()) {
                return bad("kind cannot change; add a new source instead".into());
            }
            let sync_hours = b
                .sync_hours
                .or(base.map(|s| s.sync_hours as u32))
                .unwrap_or(12);
            let username = b
                .username
                .clone()
                .or_else(|| base.and_then(|s| s.username.clone()));
            // Write-only: an absent password keeps the stored one.
            let stored_password = base.and_then(|s| s.password.clone());
            let c = SourceConfig {
                kind,
                name: Some(name.clone()),
                url: url.clone(),
                username: username.clone(),
                password: b.password.clone().or(stored_password),
                user_agent: b
                    .user_agent
                    .clone()
                    .or_else(|| base.and_then(|s| s.user_agent.clone())),
                max_connections: b
                    .max_connections
                    .or(base.and_then(|s| s.max_connections.map(|m| m as u32))),
                priority,
                sync_hours,
            };
            if let Err(e) = validate_source(&key, &c) {
                return bad(e.to_string());
            }
            Ok(NewSource {
                kind: kind.as_str().into(),
                name,
                url,
                username,
                password: b.password.clone(),
                user_agent: c.user_agent,
                max_connections: c.max_connections.map(i64::from),
                priority,
                sync_hours: i64::from(sync_hours),
                config_key: None,
            })
        }
    }
}

async fn create(st: SourcesState, fam: Family, body: Body) -> Response {
    let new = match checked(fam, &body, None) {
        Ok(n) => n,
        Err(m) => return error(StatusCode::BAD_REQUEST, m),
    };
    let id = match st.store.upsert_source(&new).await {
        Ok(id) => id,
        Err(e) => return store_error(e),
    };
    start_sync(&st, id);
    match find(&st, id, fam).await {
        Ok(s) => {
            let mut r = view(&st, &s).await;
            *r.status_mut() = StatusCode::CREATED;
            r
        }
        Err(r) => r,
    }
}

async fn update(st: SourcesState, fam: Family, id: i64, body: Body) -> Response {
    let cur = match find_editable(&st, id, fam, "edit").await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let new = match checked(fam, &body, Some(&cur)) {
        Ok(n) => n,
        Err(m) => return error(StatusCode::BAD_REQUEST, m),
    };
    match st.store.update_source(id, &new).await {
        // A new priority or name changes the lineup's order.
        Ok(true) => st.syncer.changed.notify_one(),
        Ok(false) => return error(StatusCode::NOT_FOUND, format!("no source with id {id}")),
        Err(e) => return store_error(e),
    }
    match find(&st, id, fam).await {
        Ok(s) => view(&st, &s).await,
        Err(r) => r,
    }
}

async fn delete(st: SourcesState, fam: Family, id: i64) -> Response {
    if let Err(r) = find_editable(&st, id, fam, "remove").await {
        return r;
    }
    match st.store.delete_source(id).await {
        Ok(_) => {
            // Its channels go stale in the lineup (their numbers stay reserved).
            st.syncer.changed.notify_one();
            StatusCode::NO_CONTENT.into_response()
        }
        Err(e) => store_error(e),
    }
}

fn start_sync(st: &SourcesState, id: i64) {
    let syncer = Arc::clone(&st.syncer);
    tokio::spawn(async move {
        // The outcome is recorded and published by the syncer.
        let _ = syncer.sync(id, true).await;
    });
}

async fn trigger(st: SourcesState, fam: Family, id: i64) -> Response {
    if let Err(r) = find(&st, id, fam).await {
        return r;
    }
    if st.syncer.progress(id).is_some() {
        return error(
            StatusCode::CONFLICT,
            "a sync of this source is already running",
        );
    }
    start_sync(&st, id);
    (
        StatusCode::ACCEPTED,
        Json(json!({ "id": id, "state": "syncing" })),
    )
        .into_response()
}

async fn list_streams(State(st): State<SourcesState>) -> Response {
    list(st, Family::Streams).await
}
async fn list_guides(State(st): State<SourcesState>) -> Response {
    list(st, Family::Guides).await
}
async fn create_streams(State(st): State<SourcesState>, Json(b): Json<Body>) -> Response {
    create(st, Family::Streams, b).await
}
async fn create_guides(State(st): State<SourcesState>, Json(b): Json<Body>) -> Response {
    create(st, Family::Guides, b).await
}
async fn show_streams(State(st): State<SourcesState>, Path(id): Path<i64>) -> Response {
    match find(&st, id, Family::Streams).await {
        Ok(s) => view(&st, &s).await,
        Err(r) => r,
    }
}
async fn show_guides(State(st): State<SourcesState>, Path(id): Path<i64>) -> Response {
    match find(&st, id, Family::Guides).await {
        Ok(s) => view(&st, &s).await,
        Err(r) => r,
    }
}
async fn update_streams(
    State(st): State<SourcesState>,
    Path(id): Path<i64>,
    Json(b): Json<Body>,
) -> Response {
    update(st, Family::Streams, id, b).await
}
async fn update_guides(
    State(st): State<SourcesState>,
    Path(id): Path<i64>,
    Json(b): Json<Body>,
) -> Response {
    update(st, Family::Guides, id, b).await
}
async fn delete_streams(State(st): State<SourcesState>, Path(id): Path<i64>) -> Response {
    delete(st, Family::Streams, id).await
}
async fn delete_guides(State(st): State<SourcesState>, Path(id): Path<i64>) -> Response {
    delete(st, Family::Guides, id).await
}
async fn sync_streams(State(st): State<SourcesState>, Path(id): Path<i64>) -> Response {
    trigger(st, Family::Streams, id).await
}
async fn sync_guides(State(st): State<SourcesState>, Path(id): Path<i64>) -> Response {
    trigger(st, Family::Guides, id).await
}
