//! `GET /epg.xml` from the stored guide: enabled channels with their
//! programmes from the best guide source that has their guide id (by
//! priority), placeholders for the rest, bounded to `sync.guide_days`.
//! The gzip rendering is cached until the lineup changes (every sync
//! rebuilds it), so Plex's repeated fetches cost nothing.

use std::collections::HashMap;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use chrono::{TimeZone, Utc};

use super::epg::{Programme, accepts_gzip, guide_body, guide_response, render_gzip};
use super::state::PlexState;
use crate::lineup::Channel;
use crate::store::Store;
use crate::store::lineup::ProgrammeRow;

fn programme(p: ProgrammeRow) -> Programme {
    Programme {
        start: Utc.timestamp_opt(p.start, 0).single().unwrap_or_default(),
        stop: p.stop.and_then(|s| Utc.timestamp_opt(s, 0).single()),
        title: p.title,
        sub_title: p.sub_title,
        desc: p.desc,
        date: None,
        categories: p.categories,
        icon: p.icon,
        episode_num: p.episode_num,
    }
}

/// A `programmes_for` that reads the store; it blocks on the runtime, so
/// it must run on a blocking thread (where the guide is written).
async fn stored_programmes(
    store: &Store,
    days: u32,
) -> impl FnMut(&Channel) -> Vec<Programme> + Send + 'static {
    let sources: HashMap<String, i64> = match store.merged_guide_channels().await {
        Ok(g) => g
            .into_iter()
            .map(|c| (c.id.to_ascii_lowercase(), c.source_id))
            .collect(),
        Err(e) => {
            tracing::error!("cannot read the guide, serving placeholders: {e:#}");
            HashMap::new()
        }
    };
    let store = store.clone();
    let rt = tokio::runtime::Handle::current();
    let now = Utc::now().timestamp();
    let (from, until) = (now - 3 * 3600, now + i64::from(days) * 86_400);
    move |ch: &Channel| {
        let Some(id) = ch.guide_id.as_deref() else {
            return Vec::new();
        };
        let Some(source) = sources.get(&id.to_ascii_lowercase()) else {
            return Vec::new();
        };
        match rt.block_on(store.programmes(*source, id, from, until)) {
            Ok(rows) => rows.into_iter().map(programme).collect(),
            Err(e) => {
                tracing::warn!(channel = %ch.number, "cannot read programmes: {e:#}");
                Vec::new()
            }
        }
    }
}

pub async fn epg_xml(State(st): State<PlexState>, headers: HeaderMap) -> Response {
    let gzip = accepts_gzip(&headers);
    let version = st.lineup.version();
    if gzip && let Some(body) = st.guide_cache.get(version) {
        return gzip_response(body);
    }
    let channels = st.lineup.enabled();
    let programmes_for = stored_programmes(&st.store, st.guide_days).await;
    if !gzip {
        return guide_response(channels, false, programmes_for);
    }
    let now = Utc::now();
    let rendered =
        tokio::task::spawn_blocking(move || render_gzip(&channels, now, programmes_for)).await;
    match rendered {
        Ok(body) => {
            let body = Bytes::from(body);
            st.guide_cache.put(version, body.clone());
            gzip_response(body)
        }
        Err(e) => {
            tracing::error!("guide rendering stopped: {e}");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

fn gzip_response(body: Bytes) -> Response {
    guide_body(Body::from(body), true)
}
