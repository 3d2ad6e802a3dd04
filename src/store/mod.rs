//! The SQLite store (sqlx, migrations in `migrations/`): events and small
//! persistent settings. Threads that cannot await (the demux threads) hand
//! events to [`EventSink`], whose task writes them in order and logs them.

use std::path::Path;
use std::str::FromStr;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;
use sqlx::Row;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions};
use tokio::sync::mpsc;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot create data directory {path}: {source}")]
    DataDir {
        path: String,
        source: std::io::Error,
    },
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

/// One stored event. `detail` is a JSON object; URLs in it are redacted by
/// whoever builds it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Event {
    pub ts: String,
    pub kind: String,
    pub channel: Option<String>,
    pub detail: serde_json::Value,
}

impl Event {
    pub fn new(kind: &str, channel: Option<&str>, detail: serde_json::Value) -> Self {
        Self {
            ts: Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true),
            kind: kind.to_string(),
            channel: channel.map(str::to_string),
            detail,
        }
    }
}

#[derive(Clone)]
pub struct Store {
    pool: SqlitePool,
}

impl Store {
    /// Opens (creating when needed) `data_dir/streamforge.db` and migrates it.
    pub async fn open(data_dir: &Path) -> Result<Self, StoreError> {
        std::fs::create_dir_all(data_dir).map_err(|source| StoreError::DataDir {
            path: data_dir.display().to_string(),
            source,
        })?;
        let path = data_dir.join("streamforge.db");
        let opts = SqliteConnectOptions::from_str(&format!("sqlite://{}", path.display()))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .busy_timeout(std::time::Duration::from_secs(5));
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(opts)
            .await?;
        sqlx::migrate!("./migrations").run(&pool).await?;
        Ok(Self { pool })
    }

    pub async fn insert_event(&self, e: &Event) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO events (ts, kind, channel, detail) VALUES (?, ?, ?, ?)")
            .bind(&e.ts)
            .bind(&e.kind)
            .bind(&e.channel)
            .bind(e.detail.to_string())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Newest first.
    pub async fn events(&self, limit: u32, kind: Option<&str>) -> Result<Vec<Event>, StoreError> {
        let rows = sqlx::query(
            "SELECT ts, kind, channel, detail FROM events WHERE (?1 IS NULL OR kind = ?1) ORDER BY id DESC LIMIT ?2",
        )
        .bind(kind)
        .bind(limit as i64)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|r| Event {
                ts: r.get("ts"),
                kind: r.get("kind"),
                channel: r.get("channel"),
                detail: serde_json::from_str(r.get::<&str, _>("detail"))
                    .unwrap_or(serde_json::Value::Null),
            })
            .collect())
    }

    pub async fn get_kv(&self, key: &str) -> Result<Option<String>, StoreError> {
        Ok(sqlx::query_scalar("SELECT value FROM kv WHERE key = ?")
            .bind(key)
            .fetch_optional(&self.pool)
            .await?)
    }

    pub async fn set_kv(&self, key: &str, value: &str) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO kv (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value")
            .bind(key)
            .bind(value)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// A cheap, cloneable handle any thread can record events through. Events
/// are logged at once and written by one task in the order they were sent.
#[derive(Clone)]
pub struct EventSink {
    tx: mpsc::UnboundedSender<Event>,
}

impl EventSink {
    /// Starts the writer task; it ends when every sink is dropped, after
    /// writing what was queued.
    pub fn start(store: Store) -> (Self, tokio::task::JoinHandle<()>) {
        let (tx, mut rx) = mpsc::unbounded_channel::<Event>();
        let task = tokio::spawn(async move {
            while let Some(e) = rx.recv().await {
                if let Err(err) = store.insert_event(&e).await {
                    tracing::error!(kind = %e.kind, "cannot store event: {err:#}");
                }
            }
        });
        (Self { tx }, task)
    }

    pub fn emit(&self, kind: &str, channel: Option<&str>, detail: serde_json::Value) {
        let e = Event::new(kind, channel, detail);
        match kind {
            "candidate_failed" | "stall" | "failover" | "exhausted" | "reader_dropped"
            | "reader_lagged" => {
                tracing::warn!(channel = channel.unwrap_or("-"), kind, detail = %e.detail, "event")
            }
            _ => {
                tracing::info!(channel = channel.unwrap_or("-"), kind, detail = %e.detail, "event")
            }
        }
        let _ = self.tx.send(e);
    }
}

/// Parses an RFC 3339 timestamp as stored in `events.ts`.
pub fn parse_ts(ts: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(ts)
        .ok()
        .map(|d| d.with_timezone(&Utc))
}
