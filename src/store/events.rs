//! The `events` table: the writer that subscribes to the event bus and
//! stores what it publishes in batches, the queries the API makes (newest
//! first, by kind, by channel) and retention (by age and by row count).

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use chrono::{SecondsFormat, Utc};
use serde::Serialize;
use sqlx::Row;

use super::{Store, StoreError};
use crate::config::EventsConfig;
use crate::events::{Event, EventBus, Subscriber};

/// One stored event as the API returns it. `detail` is a JSON object;
/// URLs in it were redacted by whoever published the event.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct StoredEvent {
    pub id: i64,
    pub ts: String,
    pub kind: String,
    pub channel: Option<String>,
    pub detail: serde_json::Value,
}

/// A page of events, newest first.
#[derive(Debug, Clone, Default)]
pub struct EventQuery {
    pub limit: u32,
    pub kind: Option<String>,
    pub channel: Option<String>,
    /// Only events older than this id (the next page).
    pub before_id: Option<i64>,
}

/// How much history the table keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    pub max_age: Duration,
    pub max_rows: u64,
}

impl From<&EventsConfig> for Retention {
    fn from(c: &EventsConfig) -> Self {
        Self {
            max_age: Duration::from_secs(u64::from(c.retention_days) * 86_400),
            max_rows: c.max_rows,
        }
    }
}

/// The event log of a process: the bus, the store writer and the log
/// subscriber, started together and drained together.
pub struct EventLog {
    pub bus: EventBus,
    writer: tokio::task::JoinHandle<()>,
    logger: tokio::task::JoinHandle<()>,
}

impl EventLog {
    pub fn start(store: &Store, cfg: &EventsConfig) -> Self {
        let bus = EventBus::new(crate::events::DEFAULT_CAPACITY);
        let writer = spawn_writer(&bus, store.clone(), Retention::from(cfg));
        let logger = crate::events::spawn_logger(&bus);
        Self {
            bus,
            writer,
            logger,
        }
    }

    /// Once every other bus handle is gone, waits (at most the given
    /// times) for the queue to be written and logged.
    pub async fn finish(self, writer_wait: Duration, logger_wait: Duration) {
        drop(self.bus);
        let _ = tokio::time::timeout(writer_wait, self.writer).await;
        let _ = tokio::time::timeout(logger_wait, self.logger).await;
    }
}

/// Most events written in one transaction.
const BATCH: usize = 256;
/// Retention runs at most this often, and after this many inserts.
const PRUNE_EVERY: Duration = Duration::from_secs(60);
const PRUNE_AFTER_ROWS: u64 = 5_000;

impl Store {
    /// Writes events in one transaction, in order.
    pub async fn insert_events(&self, events: &[Arc<Event>]) -> Result<(), StoreError> {
        let mut tx = self.pool().begin_with("BEGIN IMMEDIATE").await?;
        for e in events {
            sqlx::query("INSERT INTO events (ts, kind, channel, detail) VALUES (?, ?, ?, ?)")
                .bind(e.ts_text())
                .bind(e.kind.name())
                .bind(&e.channel)
                .bind(e.detail().to_string())
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Newest first.
    pub async fn events(&self, q: &EventQuery) -> Result<Vec<StoredEvent>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, ts, kind, channel, detail FROM events \
             WHERE (?1 IS NULL OR kind = ?1) AND (?2 IS NULL OR channel = ?2) AND (?3 IS NULL OR id < ?3) \
             ORDER BY id DESC LIMIT ?4",
        )
        .bind(q.kind.as_deref())
        .bind(q.channel.as_deref())
        .bind(q.before_id)
        .bind(q.limit as i64)
        .fetch_all(self.pool())
        .await?;
        Ok(rows
            .into_iter()
            .map(|r| StoredEvent {
                id: r.get("id"),
                ts: r.get("ts"),
                kind: r.get("kind"),
                channel: r.get("channel"),
                detail: serde_json::from_str(r.get::<&str, _>("detail"))
                    .unwrap_or(serde_json::Value::Null),
            })
            .collect())
    }

    pub async fn event_count(&self) -> Result<u64, StoreError> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM events")
            .fetch_one(self.pool())
            .await?;
        Ok(n as u64)
    }

    /// Deletes events older than the age limit, then the oldest beyond the
    /// row limit. Returns how many rows went.
    pub async fn prune_events(&self, r: Retention) -> Result<u64, StoreError> {
        let cutoff = Utc::now()
            - chrono::Duration::from_std(r.max_age).unwrap_or(chrono::Duration::days(36500));
        let cutoff = cutoff.to_rfc3339_opts(SecondsFormat::Millis, true);
        let by_age = sqlx::query("DELETE FROM events WHERE ts < ?")
            .bind(cutoff)
            .execute(self.pool())
            .await?
            .rows_affected();
        let by_count = sqlx::query(
            "DELETE FROM events WHERE id <= (SELECT id FROM events ORDER BY id DESC LIMIT 1 OFFSET ?)",
        )
        .bind(r.max_rows as i64)
        .execute(self.pool())
        .await?
        .rows_affected();
        Ok(by_age + by_count)
    }
}

/// Where the writer puts events: the store, or in tests a store made slow.
pub trait EventTable: Send + Sync + 'static {
    fn insert(&self, events: &[Arc<Event>]) -> impl Future<Output = Result<(), StoreError>> + Send;
    fn prune(&self, r: Retention) -> impl Future<Output = Result<u64, StoreError>> + Send;
}

impl EventTable for Store {
    async fn insert(&self, events: &[Arc<Event>]) -> Result<(), StoreError> {
        self.insert_events(events).await
    }
    async fn prune(&self, r: Retention) -> Result<u64, StoreError> {
        self.prune_events(r).await
    }
}

/// Starts the writer: it subscribes to `bus` now (nothing published after
/// this call is missed unless the writer falls a whole bus capacity
/// behind, which is counted) and ends once every bus handle is gone and
/// the queue is written.
pub fn spawn_writer<T: EventTable>(
    bus: &EventBus,
    table: T,
    retention: Retention,
) -> tokio::task::JoinHandle<()> {
    let mut sub = bus.subscribe(Subscriber::Store);
    tokio::spawn(async move {
        prune(&table, retention).await;
        let mut last_prune = tokio::time::Instant::now();
        let mut since_prune = 0u64;
        let mut batch = Vec::with_capacity(BATCH);
        while let Some(first) = sub.recv().await {
            batch.push(first);
            while batch.len() < BATCH {
                match sub.try_recv() {
                    Some(e) => batch.push(e),
                    None => break,
                }
            }
            if let Err(err) = table.insert(&batch).await {
                tracing::error!(events = batch.len(), "cannot store events: {err:#}");
            }
            since_prune += batch.len() as u64;
            batch.clear();
            if since_prune >= PRUNE_AFTER_ROWS || last_prune.elapsed() >= PRUNE_EVERY {
                prune(&table, retention).await;
                last_prune = tokio::time::Instant::now();
                since_prune = 0;
            }
        }
    })
}

async fn prune<T: EventTable>(table: &T, retention: Retention) {
    match table.prune(retention).await {
        Ok(0) => {}
        Ok(n) => tracing::debug!(rows = n, "pruned old events"),
        Err(e) => tracing::error!("cannot prune events: {e:#}"),
    }
}
