//! `streamforge sync`: brings the config's sources into the database and
//! syncs them (or one) now, printing one line per source. SQLite's WAL
//! and busy timeout let it run beside a server on the same data directory.

use std::time::Duration;

use anyhow::Context;

use super::schedule::sync_config_sources;
use super::sync::Syncer;
use crate::config::Config;
use crate::store::Store;
use crate::store::events::EventLog;

pub async fn run(config: Config, only: Option<i64>) -> anyhow::Result<()> {
    let store = Store::open(&config.server.data_dir)
        .await
        .with_context(|| {
            format!(
                "opening the database in {}",
                config.server.data_dir.display()
            )
        })?;
    let event_log = EventLog::start(&store, &config.events);
    let bus = event_log.bus.clone();
    sync_config_sources(&store, &config).await?;
    let sources = store.sources().await?;
    if sources.is_empty() {
        anyhow::bail!("no sources: add [[source]] or [[epg]] to the config, or POST /api/sources");
    }
    if let Some(id) = only
        && !sources.iter().any(|s| s.id == id)
    {
        anyhow::bail!("no source with id {id}");
    }
    let syncer = Syncer::new(
        store.clone(),
        bus.clone(),
        config.sync.clone(),
        &config.stream.user_agent,
    );
    let mut failed = 0;
    for s in sources.iter().filter(|s| only.is_none_or(|id| id == s.id)) {
        match syncer.sync(s.id, true).await {
            Ok(o) => println!(
                "{:>3} {:<6} {}: ok, {} items ({} new, {} stale, {} removed, {} skipped){} in {} ms",
                s.id,
                s.kind,
                s.name,
                o.items,
                o.added,
                o.stale,
                o.removed,
                o.skipped,
                o.programmes
                    .map(|p| format!(", {p} programmes"))
                    .unwrap_or_default(),
                o.ms
            ),
            Err(e) => {
                failed += 1;
                println!(
                    "{:>3} {:<6} {}: FAILED ({}), previous data kept: {}",
                    s.id,
                    s.kind,
                    s.name,
                    e.reason(),
                    crate::redact::redact_in_text(&e.to_string())
                );
            }
        }
    }
    drop(syncer);
    drop(bus);
    event_log
        .finish(Duration::from_secs(5), Duration::from_secs(1))
        .await;
    store.close().await;
    if failed > 0 {
        anyhow::bail!("{failed} source(s) failed to sync");
    }
    Ok(())
}
