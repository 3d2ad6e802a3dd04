//! The `sources` and `provider_streams` tables: provider sources (from the
//! config or the API), their account status and sync results, and the
//! streams the last good sync stored, replaced in one transaction.

use chrono::{SecondsFormat, Utc};
use serde::Serialize;
use sqlx::{QueryBuilder, Row, Sqlite};

use super::{Store, StoreError};
use crate::redact::redact;

/// A source as stored. `password` never leaves the process: the API shows
/// [`SourceRow::view`].
#[derive(Clone, PartialEq)]
pub struct SourceRow {
    pub id: i64,
    pub kind: String,
    pub name: String,
    pub url: String,
    pub username: Option<String>,
    pub password: Option<String>,
    pub user_agent: Option<String>,
    pub max_connections: Option<i64>,
    pub priority: i64,
    pub sync_hours: i64,
    pub config_key: Option<String>,
    pub account_status: Option<String>,
    pub account_expires: Option<i64>,
    pub account_max_connections: Option<i64>,
    pub account_active_cons: Option<i64>,
    pub account_trial: Option<bool>,
    pub last_sync_at: Option<String>,
    pub last_sync_ok: Option<bool>,
    pub last_sync_message: Option<String>,
    pub last_sync_count: Option<i64>,
    pub auth_failures: i64,
}

impl std::fmt::Debug for SourceRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SourceRow")
            .field("id", &self.id)
            .field("kind", &self.kind)
            .field("name", &self.name)
            .field("url", &redact(&self.url))
            .finish_non_exhaustive()
    }
}

/// What the API shows of a source: no password, the URL redacted.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SourceView {
    pub id: i64,
    pub kind: String,
    pub name: String,
    pub url: String,
    pub username: Option<String>,
    pub has_password: bool,
    pub user_agent: Option<String>,
    pub max_connections: Option<i64>,
    pub priority: i64,
    pub sync_hours: i64,
    /// Declared in the config file (edit it there).
    pub from_config: bool,
    pub account: Option<AccountView>,
    pub last_sync: Option<LastSync>,
    pub streams: i64,
    pub stale_streams: i64,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct AccountView {
    pub status: Option<String>,
    /// Unix seconds; `null` for an account that does not expire.
    pub expires: Option<i64>,
    pub max_connections: Option<i64>,
    pub active_cons: Option<i64>,
    pub trial: Option<bool>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct LastSync {
    pub at: String,
    pub ok: bool,
    pub message: Option<String>,
    pub count: Option<i64>,
    pub auth_failures: i64,
}

/// A new or edited source.
#[derive(Clone, Default, PartialEq)]
pub struct NewSource {
    pub kind: String,
    pub name: String,
    pub url: String,
    pub username: Option<String>,
    pub password: Option<String>,
    pub user_agent: Option<String>,
    pub max_connections: Option<i64>,
    pub priority: i64,
    pub sync_hours: i64,
    pub config_key: Option<String>,
}

/// One stream as a sync ingested it.
#[derive(Clone, PartialEq, Eq)]
pub struct IngestedStream {
    pub key: String,
    pub name: String,
    pub url: String,
    pub tvg_id: Option<String>,
    pub tvg_name: Option<String>,
    pub logo: Option<String>,
    pub group: Option<String>,
    pub chno: Option<String>,
    pub user_agent: Option<String>,
    pub referrer: Option<String>,
}

impl std::fmt::Debug for IngestedStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IngestedStream")
            .field("key", &self.key)
            .field("name", &self.name)
            .field("url", &redact(&self.url))
            .finish_non_exhaustive()
    }
}

/// A `provider_streams` row (its usual column names) as a stream.
pub(super) fn ingested(r: &sqlx::sqlite::SqliteRow) -> IngestedStream {
    IngestedStream {
        key: r.get("stream_key"),
        name: r.get("name"),
        url: r.get("url"),
        tvg_id: r.get("tvg_id"),
        tvg_name: r.get("tvg_name"),
        logo: r.get("logo"),
        group: r.get("group_name"),
        chno: r.get("chno"),
        user_agent: r.get("user_agent"),
        referrer: r.get("referrer"),
    }
}

/// What a replace did.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq, Eq)]
pub struct ReplaceCounts {
    pub streams: u64,
    pub added: u64,
    pub stale: u64,
    pub removed: u64,
}

/// Rows per INSERT: 14 columns × 100 stays far below SQLite's limit of
/// bound parameters.
const ROWS_PER_STATEMENT: usize = 100;

fn now() -> String {
    Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true)
}

const COLUMNS: &str = "id, kind, name, url, username, password, user_agent, max_connections, priority, \
    sync_hours, config_key, account_status, account_expires, account_max_connections, \
    account_active_cons, account_trial, last_sync_at, last_sync_ok, last_sync_message, \
    last_sync_count, auth_failures";

fn row(r: &sqlx::sqlite::SqliteRow) -> SourceRow {
    SourceRow {
        id: r.get("id"),
        kind: r.get("kind"),
        name: r.get("name"),
        url: r.get("url"),
        username: r.get("username"),
        password: r.get("password"),
        user_agent: r.get("user_agent"),
        max_connections: r.get("max_connections"),
        priority: r.get("priority"),
        sync_hours: r.get("sync_hours"),
        config_key: r.get("config_key"),
        account_status: r.get("account_status"),
        account_expires: r.get("account_expires"),
        account_max_connections: r.get("account_max_connections"),
        account_active_cons: r.get("account_active_cons"),
        account_trial: r.get("account_trial"),
        last_sync_at: r.get("last_sync_at"),
        last_sync_ok: r.get("last_sync_ok"),
        last_sync_message: r.get("last_sync_message"),
        last_sync_count: r.get("last_sync_count"),
        auth_failures: r.get("auth_failures"),
    }
}

impl Store {
    pub async fn sources(&self) -> Result<Vec<SourceRow>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM sources ORDER BY priority, id"
        ))
        .fetch_all(self.pool())
        .await?;
        Ok(rows.iter().map(row).collect())
    }

    pub async fn source(&self, id: i64) -> Result<Option<SourceRow>, StoreError> {
        let r = sqlx::query(&format!("SELECT {COLUMNS} FROM sources WHERE id = ?"))
            .bind(id)
            .fetch_optional(self.pool())
            .await?;
        Ok(r.as_ref().map(row))
    }

    /// Inserts a source, or (same `config_key`) updates the one the config
    /// declared before, keeping its sync history. Returns its id.
    pub async fn upsert_source(&self, s: &NewSource) -> Result<i64, StoreError> {
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO sources (kind, name, url, username, password, user_agent, max_connections, \
             priority, sync_hours, config_key, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) \
             ON CONFLICT(config_key) DO UPDATE SET kind = excluded.kind, name = excluded.name, \
             url = excluded.url, username = excluded.username, password = excluded.password, \
             user_agent = excluded.user_agent, max_connections = excluded.max_connections, \
             priority = excluded.priority, sync_hours = excluded.sync_hours RETURNING id",
        )
        .bind(&s.kind)
        .bind(&s.name)
        .bind(&s.url)
        .bind(&s.username)
        .bind(&s.password)
        .bind(&s.user_agent)
        .bind(s.max_connections)
        .bind(s.priority)
        .bind(s.sync_hours)
        .bind(&s.config_key)
        .bind(now())
        .fetch_one(self.pool())
        .await?;
        Ok(id)
    }

    /// Edits a source; a `None` password keeps the stored one (passwords
    /// are write-only). Also clears the auth failure count.
    pub async fn update_source(&self, id: i64, s: &NewSource) -> Result<bool, StoreError> {
        let n = sqlx::query(
            "UPDATE sources SET name = ?, url = ?, username = ?, password = COALESCE(?, password), \
             user_agent = ?, max_connections = ?, priority = ?, sync_hours = ?, auth_failures = 0 \
             WHERE id = ?",
        )
        .bind(&s.name)
        .bind(&s.url)
        .bind(&s.username)
        .bind(&s.password)
        .bind(&s.user_agent)
        .bind(s.max_connections)
        .bind(s.priority)
        .bind(s.sync_hours)
        .bind(id)
        .execute(self.pool())
        .await?
        .rows_affected();
        Ok(n > 0)
    }

    pub async fn delete_source(&self, id: i64) -> Result<bool, StoreError> {
        let mut tx = self.pool().begin_with("BEGIN IMMEDIATE").await?;
        sqlx::query("DELETE FROM provider_streams WHERE source_id = ?")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        let n = sqlx::query("DELETE FROM sources WHERE id = ?")
            .bind(id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        tx.commit().await?;
        Ok(n > 0)
    }

    /// Config sources no longer in the config go, with their streams.
    pub async fn delete_config_sources_except(&self, keep: &[String]) -> Result<u64, StoreError> {
        let mut gone = 0;
        for s in self.sources().await? {
            if let Some(k) = &s.config_key
                && !keep.contains(k)
            {
                self.delete_source(s.id).await?;
                gone += 1;
            }
        }
        Ok(gone)
    }

    pub async fn record_account(
        &self,
        id: i64,
        status: &str,
        expires: Option<i64>,
        max_connections: Option<i64>,
        active_cons: Option<i64>,
        trial: bool,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE sources SET account_status = ?, account_expires = ?, account_max_connections = ?, \
             account_active_cons = ?, account_trial = ? WHERE id = ?",
        )
        .bind(status)
        .bind(expires)
        .bind(max_connections)
        .bind(active_cons)
        .bind(trial)
        .bind(id)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Records a sync's outcome; `auth_failed` counts towards pausing.
    pub async fn record_sync(
        &self,
        id: i64,
        ok: bool,
        message: Option<&str>,
        count: Option<i64>,
        auth_failed: bool,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE sources SET last_sync_at = ?, last_sync_ok = ?, last_sync_message = ?, \
             last_sync_count = COALESCE(?, last_sync_count), \
             auth_failures = CASE WHEN ? THEN auth_failures + 1 WHEN ? THEN 0 ELSE auth_failures END \
             WHERE id = ?",
        )
        .bind(now())
        .bind(ok)
        .bind(message)
        .bind(count)
        .bind(auth_failed)
        .bind(ok)
        .bind(id)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Streams the last good sync left active (not stale).
    pub async fn active_stream_count(&self, source_id: i64) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT COUNT(*) FROM provider_streams WHERE source_id = ? AND stale_since IS NULL",
        )
        .bind(source_id)
        .fetch_one(self.pool())
        .await?)
    }

    pub async fn stream_counts(&self, source_id: i64) -> Result<(i64, i64), StoreError> {
        let r = sqlx::query(
            "SELECT COUNT(*) - COUNT(stale_since) AS active, COUNT(stale_since) AS stale \
             FROM provider_streams WHERE source_id = ?",
        )
        .bind(source_id)
        .fetch_one(self.pool())
        .await?;
        Ok((r.get("active"), r.get("stale")))
    }

    /// Stores a sync's streams in one transaction: present ones are
    /// upserted (identity by key), missing ones marked stale, and stale
    /// ones older than `stale_days` deleted.
    pub async fn replace_streams(
        &self,
        source_id: i64,
        streams: &[IngestedStream],
        stale_days: u32,
    ) -> Result<ReplaceCounts, StoreError> {
        let t = now();
        let mut tx = self.pool().begin_with("BEGIN IMMEDIATE").await?;
        let before: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM provider_streams WHERE source_id = ?")
                .bind(source_id)
                .fetch_one(&mut *tx)
                .await?;
        // Seen this time: last_seen = t. Everything else is then stale.
        // Many rows a statement: SQLite's per-statement cost dominates.
        for chunk in streams.chunks(ROWS_PER_STATEMENT) {
            let mut q = QueryBuilder::<Sqlite>::new(
                "INSERT INTO provider_streams (source_id, stream_key, name, url, tvg_id, tvg_name, logo, \
                 group_name, chno, user_agent, referrer, first_seen, last_seen, stale_since) ",
            );
            q.push_values(chunk, |mut row, s| {
                row.push_bind(source_id)
                    .push_bind(s.key.clone())
                    .push_bind(s.name.clone())
                    .push_bind(s.url.clone())
                    .push_bind(s.tvg_id.clone())
                    .push_bind(s.tvg_name.clone())
                    .push_bind(s.logo.clone())
                    .push_bind(s.group.clone())
                    .push_bind(s.chno.clone())
                    .push_bind(s.user_agent.clone())
                    .push_bind(s.referrer.clone())
                    .push_bind(t.clone())
                    .push_bind(t.clone())
                    .push_bind(None::<String>);
            });
            q.push(
                " ON CONFLICT(source_id, stream_key) DO UPDATE SET name = excluded.name, url = excluded.url, \
                 tvg_id = excluded.tvg_id, tvg_name = excluded.tvg_name, logo = excluded.logo, \
                 group_name = excluded.group_name, chno = excluded.chno, user_agent = excluded.user_agent, \
                 referrer = excluded.referrer, last_seen = excluded.last_seen, stale_since = NULL",
            );
            q.build().execute(&mut *tx).await?;
        }
        let stale = sqlx::query(
            "UPDATE provider_streams SET stale_since = ? WHERE source_id = ? AND last_seen < ? AND stale_since IS NULL",
        )
        .bind(&t)
        .bind(source_id)
        .bind(&t)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        let cutoff = (Utc::now() - chrono::Duration::days(i64::from(stale_days)))
            .to_rfc3339_opts(SecondsFormat::Millis, true);
        let removed = sqlx::query(
            "DELETE FROM provider_streams WHERE source_id = ? AND stale_since IS NOT NULL AND stale_since < ?",
        )
        .bind(source_id)
        .bind(cutoff)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        let after: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM provider_streams WHERE source_id = ?")
                .bind(source_id)
                .fetch_one(&mut *tx)
                .await?;
        tx.commit().await?;
        Ok(ReplaceCounts {
            streams: streams.len() as u64,
            added: (after + removed as i64 - before).max(0) as u64,
            stale,
            removed,
        })
    }

    /// The stored streams of a source (URLs as stored: for the engine).
    pub async fn provider_streams(
        &self,
        source_id: i64,
    ) -> Result<Vec<(IngestedStream, bool)>, StoreError> {
        let rows = sqlx::query(
            "SELECT stream_key, name, url, tvg_id, tvg_name, logo, group_name, chno, user_agent, referrer, \
             stale_since IS NOT NULL AS stale FROM provider_streams WHERE source_id = ? ORDER BY name, stream_key",
        )
        .bind(source_id)
        .fetch_all(self.pool())
        .await?;
        Ok(rows
            .iter()
            .map(|r| (ingested(r), r.get::<bool, _>("stale")))
            .collect())
    }

    /// What the API shows of a source.
    pub async fn source_view(&self, s: &SourceRow) -> Result<SourceView, StoreError> {
        let (streams, stale_streams) = self.stream_counts(s.id).await?;
        Ok(SourceView {
            id: s.id,
            kind: s.kind.clone(),
            name: s.name.clone(),
            url: redact(&s.url),
            username: s.username.as_ref().map(|_| "***".to_string()),
            has_password: s.password.as_deref().is_some_and(|p| !p.is_empty()),
            user_agent: s.user_agent.clone(),
            max_connections: s.max_connections,
            priority: s.priority,
            sync_hours: s.sync_hours,
            from_config: s.config_key.is_some(),
            account: s.account_status.as_ref().map(|st| AccountView {
                status: Some(st.clone()),
                expires: s.account_expires,
                max_connections: s.account_max_connections,
                active_cons: s.account_active_cons,
                trial: s.account_trial,
            }),
            last_sync: s.last_sync_at.as_ref().map(|at| LastSync {
                at: at.clone(),
                ok: s.last_sync_ok.unwrap_or(false),
                message: s.last_sync_message.clone(),
                count: s.last_sync_count,
                auth_failures: s.auth_failures,
            }),
            streams,
            stale_streams,
        })
    }
}
