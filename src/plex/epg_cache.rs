//! `GET /epg.xml` from the stored guide: enabled channels with their
//! programmes from the best guide source that has their guide id (by
//! priority), placeholders for the rest, bounded to `sync.guide_days`.
//! The gzip rendering is cached until the lineup changes (every sync
//! rebuilds it), and rendered again in the background once a new lineup
//! settles, so Plex's fetches are served from memory.

use std::collections::HashMap;

use axum::body::Body;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
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

/// Renders the guide of the current lineup into the cache (gzip), unless
/// it is there already. Returns whether it rendered.
pub async fn prerender(st: &PlexState) -> bool {
    let version = st.lineup.version();
    if st.guide_cache.get(version).is_some() {
        return false;
    }
    let channels = st.lineup.enabled();
    let programmes_for = stored_programmes(&st.store, st.guide_days).await;
    let now = Utc::now();
    match tokio::task::spawn_blocking(move || render_gzip(&channels, now, programmes_for)).await {
        Ok(body) => {
            st.guide_cache.put(version, Bytes::from(body));
            true
        }
        Err(e) => {
            tracing::error!("guide rendering stopped: {e}");
            false
        }
    }
}

/// Keeps the cache warm: a lineup that stayed the same for a few seconds
/// (a sync or a person's edits settled) has its guide rendered before Plex
/// asks for it. Ends when dropped.
pub fn spawn_prerender(st: PlexState) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut seen = st.lineup.version();
        loop {
            tokio::time::sleep(std::time::Duration::from_secs(3)).await;
            let v = st.lineup.version();
            if v == seen {
                let t0 = std::time::Instant::now();
                if prerender(&st).await {
                    tracing::debug!(
                        ms = t0.elapsed().as_millis() as u64,
                        "guide rendered ahead of Plex"
                    );
                }
            }
            seen = v;
        }
    })
}

pub async fn epg_xml(State(st): State<PlexState>, headers: HeaderMap) -> Response {
    let gzip = accepts_gzip(&headers);
    if gzip {
        let version = st.lineup.version();
        if st.guide_cache.get(version).is_none() {
            prerender(&st).await;
        }
        if let Some(body) = st.guide_cache.get(version) {
            return gzip_response(body);
        }
        // The lineup changed while rendering: stream the new one.
    }
    let channels = st.lineup.enabled();
    let programmes_for = stored_programmes(&st.store, st.guide_days).await;
    guide_response(channels, gzip, programmes_for)
}

fn gzip_response(body: Bytes) -> Response {
    guide_body(Body::from(body), true)
}
