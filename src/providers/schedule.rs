//! When sources sync: the config's sources are brought into the store at
//! start; then each source syncs when its last sync is older than its
//! interval (jittered per source so accounts on one panel do not sync in
//! the same second), a failed one again after a shorter back-off, and one
//! paused after refused logins not at all until it is edited or a sync is
//! asked for.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::sync::{MAX_AUTH_FAILURES, Syncer};
use crate::config::Config;
use crate::store::sources::{NewSource, SourceRow};
use crate::store::{Store, StoreError, parse_ts};

/// How often the scheduler looks for due sources.
const TICK: Duration = Duration::from_secs(30);
/// After a failed sync, the next try comes this long after (at most the
/// interval).
const RETRY_AFTER: Duration = Duration::from_secs(30 * 60);

/// The config's `[[source]]` and `[[epg]]` entries as stored sources; a
/// config source no longer in the file is removed with what it ingested.
pub async fn sync_config_sources(store: &Store, config: &Config) -> Result<Vec<i64>, StoreError> {
    let mut keys = Vec::new();
    let mut ids = Vec::new();
    for s in &config.source {
        let key = format!(
            "config:{}:{}:{}",
            s.kind.as_str(),
            s.url,
            s.username.as_deref().unwrap_or("")
        );
        let name = s.name.clone().unwrap_or_else(|| default_name(&s.url));
        ids.push(
            store
                .upsert_source(&NewSource {
                    kind: s.kind.as_str().into(),
                    name,
                    url: s.url.clone(),
                    username: s.username.clone(),
                    password: s.password.clone(),
                    user_agent: s.user_agent.clone(),
                    max_connections: s.max_connections.map(i64::from),
                    priority: s.priority,
                    sync_hours: i64::from(s.sync_hours),
                    config_key: Some(key.clone()),
                })
                .await?,
        );
        keys.push(key);
    }
    for e in &config.epg {
        let key = format!("config:xmltv:{}", e.url);
        ids.push(
            store
                .upsert_source(&NewSource {
                    kind: "xmltv".into(),
                    name: e.name.clone().unwrap_or_else(|| default_name(&e.url)),
                    url: e.url.clone(),
                    priority: e.priority,
                    sync_hours: i64::from(e.sync_hours),
                    config_key: Some(key.clone()),
                    ..Default::default()
                })
                .await?,
        );
        keys.push(key);
    }
    let gone = store.delete_config_sources_except(&keys).await?;
    if gone > 0 {
        tracing::info!(
            sources = gone,
            "sources removed from the config were deleted"
        );
    }
    Ok(ids)
}

/// A source's name when none is given: the URL's host, or the file name.
pub fn default_name(location: &str) -> String {
    if let Ok(u) = url::Url::parse(location)
        && let Some(h) = u.host_str()
    {
        return h.to_string();
    }
    std::path::Path::new(location)
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_else(|| "source".into())
}

/// When `s` should sync next (`None`: not by itself).
pub fn next_due(s: &SourceRow) -> Option<DateTime<Utc>> {
    if s.auth_failures >= MAX_AUTH_FAILURES {
        return None;
    }
    let Some(last) = s.last_sync_at.as_deref().and_then(parse_ts) else {
        return Some(DateTime::<Utc>::MIN_UTC);
    };
    let interval = Duration::from_secs(s.sync_hours.max(1) as u64 * 3600);
    let wait = if s.last_sync_ok == Some(true) {
        // ±5 % by source id: spread, but stable for one source.
        let spread = interval.as_secs() / 20;
        let jitter = (s.id as u64).wrapping_mul(2_654_435_761) % (2 * spread + 1);
        Duration::from_secs(interval.as_secs() - spread + jitter)
    } else {
        RETRY_AFTER.min(interval)
    };
    Some(last + chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::hours(12)))
}

/// Runs due syncs until the task is dropped; one source at a time, so a
/// box with many sources never floods its uplink or a panel.
pub fn spawn(syncer: Arc<Syncer>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        // What the store said last time: a change made elsewhere (the
        // `streamforge sync` command on the same data) rebuilds the lineup.
        let mut last_seen: Option<Vec<(i64, Option<String>)>> = None;
        loop {
            match syncer.store.sources().await {
                Ok(sources) => {
                    let seen: Vec<(i64, Option<String>)> = sources
                        .iter()
                        .map(|s| (s.id, s.last_sync_at.clone()))
                        .collect();
                    if last_seen.as_ref().is_some_and(|l| *l != seen) {
                        syncer.changed.notify_one();
                    }
                    last_seen = Some(seen);
                    let now = Utc::now();
                    for s in sources {
                        if next_due(&s).is_some_and(|t| t <= now) {
                            // Failures are events; nothing to do here.
                            let _ = syncer.sync(s.id, false).await;
                        }
                    }
                }
                Err(e) => tracing::error!("sync scheduler cannot read sources: {e:#}"),
            }
            tokio::time::sleep(TICK).await;
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row() -> SourceRow {
        SourceRow {
            id: 7,
            kind: "m3u".into(),
            name: "x".into(),
            url: "http://h/x.m3u".into(),
            username: None,
            password: None,
            user_agent: None,
            max_connections: None,
            priority: 10,
            sync_hours: 12,
            config_key: None,
            account_status: None,
            account_expires: None,
            account_max_connections: None,
            account_active_cons: None,
            account_trial: None,
            last_sync_at: None,
            last_sync_ok: None,
            last_sync_message: None,
            last_sync_count: None,
            auth_failures: 0,
        }
    }

    #[test]
    fn due_at_once_then_every_interval_with_jitter_and_backoff() {
        let mut s = row();
        assert!(next_due(&s).unwrap() < Utc::now(), "never synced: due now");
        s.last_sync_at = Some("2026-01-01T00:00:00.000Z".into());
        s.last_sync_ok = Some(true);
        let last = parse_ts("2026-01-01T00:00:00.000Z").unwrap();
        let d = next_due(&s).unwrap() - last;
        let h = d.num_minutes() as f64 / 60.0;
        assert!((11.4..=12.6).contains(&h), "12 h ± 5 %: {h}");
        s.last_sync_ok = Some(false);
        assert_eq!((next_due(&s).unwrap() - last).num_minutes(), 30, "back-off");
        s.auth_failures = MAX_AUTH_FAILURES;
        assert!(next_due(&s).is_none(), "paused after refused logins");
    }

    #[test]
    fn names_default_to_the_host_or_file() {
        assert_eq!(
            default_name("http://u:p@panel.example:8080/x"),
            "panel.example"
        );
        assert_eq!(default_name("/srv/lists/uk.m3u"), "uk.m3u");
    }
}
