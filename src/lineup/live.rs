//! Keeping the live lineup current: rebuilt from the store at start, after
//! every successful provider sync and after a person's change, then
//! swapped in as a whole. One rebuild at a time; requests that arrive
//! while one runs fold into one more.

use std::sync::Arc;

use tokio::sync::Notify;

use super::Lineup;
use super::build::{BuildSummary, build};
use crate::config::Config;
use crate::events::{EventBus, EventKind};
use crate::media::budget::ConnectionBudget;
use crate::store::{Store, StoreError};

/// Asks for a rebuild; cheap to clone and call from anywhere async.
#[derive(Clone, Default)]
pub struct Rebuild(pub Arc<Notify>);

impl Rebuild {
    pub fn request(&self) {
        self.0.notify_one();
    }
}

/// Each provider account's connection limit, from the store: the one the
/// user set (config or API) wins over what the panel reports; none is
/// unlimited. The engine never opens more than this to one account.
pub async fn apply_limits(store: &Store, budget: &ConnectionBudget) -> Result<(), StoreError> {
    for s in store.sources().await? {
        if s.kind == "xmltv" {
            continue;
        }
        let max = s
            .max_connections
            .or(s.account_max_connections)
            .filter(|m| *m > 0)
            .map(|m| m.min(i64::from(u32::MAX)) as u32);
        budget.set_limit(s.id, max);
    }
    Ok(())
}

/// Builds once now (so the server starts with the stored lineup).
pub async fn rebuild_now(
    store: &Store,
    config: &Config,
    lineup: &Lineup,
    events: &EventBus,
    budget: &ConnectionBudget,
) -> Result<BuildSummary, StoreError> {
    let t0 = std::time::Instant::now();
    apply_limits(store, budget).await?;
    let (channels, summary) = build(store, config).await?;
    lineup.replace(channels);
    tracing::info!(
        channels = summary.channels,
        enabled = summary.enabled,
        matched = summary.matched,
        suggested = summary.suggested,
        unmatched = summary.unmatched,
        ms = t0.elapsed().as_millis() as u64,
        "lineup built"
    );
    events.publish(
        None,
        EventKind::LineupBuilt {
            channels: summary.channels as u64,
            enabled: summary.enabled as u64,
            streams: summary.streams as u64,
            matched: summary.matched as u64,
            suggested: summary.suggested as u64,
            unmatched: summary.unmatched as u64,
            numbers_assigned: summary.numbers_assigned as u64,
            stale_channels: summary.stale_channels as u64,
            ms: t0.elapsed().as_millis() as u64,
        },
    );
    Ok(summary)
}

/// Rebuilds on every request until dropped.
pub fn spawn(
    store: Store,
    config: Arc<Config>,
    lineup: Arc<Lineup>,
    events: EventBus,
    budget: Arc<ConnectionBudget>,
    rebuild: Rebuild,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            rebuild.0.notified().await;
            if let Err(e) = rebuild_now(&store, &config, &lineup, &events, &budget).await {
                // The previous lineup stays.
                tracing::error!("cannot rebuild the lineup, the previous one stays: {e:#}");
            }
        }
    })
}
