//! The `lineup_channels` and `stream_matches` tables (numbers that never
//! move, the user's choices, how streams matched), and the guide as the
//! lineup reads it: guide channels merged over sources by priority, and a
//! channel's programmes from the best source that has it.

use chrono::{SecondsFormat, Utc};
use serde::Serialize;
use sqlx::{QueryBuilder, Row, Sqlite};

use super::sources::{IngestedStream, ingested};
use super::{Store, StoreError};

/// A lineup channel as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChannelRow {
    pub id: i64,
    pub key: String,
    pub number: String,
    pub name: String,
    pub guide_id: Option<String>,
    pub logo: Option<String>,
    pub group: Option<String>,
    pub enabled: bool,
    pub enabled_manual: bool,
    pub number_manual: bool,
    pub stale_since: Option<String>,
}

/// A stream's match as stored.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MatchRow {
    pub source_id: i64,
    pub stream_key: String,
    pub guide_id: Option<String>,
    pub confidence: Option<f64>,
    pub method: String,
    pub manual: bool,
    pub suggestions: serde_json::Value,
    pub rank: Option<i64>,
}

/// A guide channel as the matcher sees it, from the best source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GuideChannelRow {
    pub id: String,
    pub names: Vec<String>,
    pub icon: Option<String>,
    pub source_id: i64,
}

/// One stored programme.
#[derive(Debug, Clone, PartialEq)]
pub struct ProgrammeRow {
    pub start: i64,
    pub stop: Option<i64>,
    pub title: String,
    pub sub_title: Option<String>,
    pub desc: Option<String>,
    pub categories: Vec<String>,
    pub episode_num: Vec<(String, String)>,
    pub icon: Option<String>,
}

fn now() -> String {
    Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn channel_row(r: &sqlx::sqlite::SqliteRow) -> ChannelRow {
    ChannelRow {
        id: r.get("id"),
        key: r.get("key"),
        number: r.get("number"),
        name: r.get("name"),
        guide_id: r.get("guide_id"),
        logo: r.get("logo"),
        group: r.get("group_name"),
        enabled: r.get("enabled"),
        enabled_manual: r.get("enabled_manual"),
        number_manual: r.get("number_manual"),
        stale_since: r.get("stale_since"),
    }
}

impl Store {
    pub async fn lineup_channels(&self) -> Result<Vec<ChannelRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, key, number, name, guide_id, logo, group_name, enabled, enabled_manual, \
             number_manual, stale_since FROM lineup_channels ORDER BY id",
        )
        .fetch_all(self.pool())
        .await?;
        Ok(rows.iter().map(channel_row).collect())
    }

    pub async fn lineup_channel(&self, id: i64) -> Result<Option<ChannelRow>, StoreError> {
        let r = sqlx::query(
            "SELECT id, key, number, name, guide_id, logo, group_name, enabled, enabled_manual, \
             number_manual, stale_since FROM lineup_channels WHERE id = ?",
        )
        .bind(id)
        .fetch_optional(self.pool())
        .await?;
        Ok(r.as_ref().map(channel_row))
    }

    /// Stores what a lineup build decided, in one transaction: new
    /// channels are inserted, seen ones refreshed (never their number or
    /// the user's choices), unseen ones marked stale, and ones stale for
    /// longer than `stale_days` deleted (their number is free again).
    pub async fn save_lineup(
        &self,
        seen: &[ChannelRow],
        stale_days: u32,
    ) -> Result<Vec<ChannelRow>, StoreError> {
        let t = now();
        let mut tx = self.pool().begin_with("BEGIN IMMEDIATE").await?;
        for c in seen {
            sqlx::query(
                "INSERT INTO lineup_channels (key, number, name, guide_id, logo, group_name, enabled, created_at) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(key) DO UPDATE SET name = excluded.name, \
                 guide_id = excluded.guide_id, logo = excluded.logo, group_name = excluded.group_name, \
                 enabled = CASE WHEN enabled_manual THEN enabled ELSE excluded.enabled END, stale_since = NULL",
            )
            .bind(&c.key)
            .bind(&c.number)
            .bind(&c.name)
            .bind(&c.guide_id)
            .bind(&c.logo)
            .bind(&c.group)
            .bind(c.enabled)
            .bind(&t)
            .execute(&mut *tx)
            .await?;
        }
        let keys: std::collections::HashSet<&str> = seen.iter().map(|c| c.key.as_str()).collect();
        let all: Vec<(i64, String, Option<String>)> =
            sqlx::query_as("SELECT id, key, stale_since FROM lineup_channels")
                .fetch_all(&mut *tx)
                .await?;
        let cutoff = (Utc::now() - chrono::Duration::days(i64::from(stale_days)))
            .to_rfc3339_opts(SecondsFormat::Millis, true);
        for (id, key, stale) in all {
            if keys.contains(key.as_str()) {
                continue;
            }
            match stale {
                None => {
                    sqlx::query("UPDATE lineup_channels SET stale_since = ? WHERE id = ?")
                        .bind(&t)
                        .bind(id)
                        .execute(&mut *tx)
                        .await?;
                }
                Some(s) if s < cutoff => {
                    sqlx::query("DELETE FROM lineup_channels WHERE id = ?")
                        .bind(id)
                        .execute(&mut *tx)
                        .await?;
                }
                Some(_) => {}
            }
        }
        tx.commit().await?;
        self.lineup_channels().await
    }

    /// A person's change to a channel; `Err` names a number collision.
    pub async fn edit_lineup_channel(
        &self,
        id: i64,
        enabled: Option<bool>,
        number: Option<&str>,
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool().begin_with("BEGIN IMMEDIATE").await?;
        let mut changed = 0;
        if let Some(e) = enabled {
            changed += sqlx::query(
                "UPDATE lineup_channels SET enabled = ?, enabled_manual = 1 WHERE id = ?",
            )
            .bind(e)
            .bind(id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        }
        if let Some(n) = number {
            changed += sqlx::query(
                "UPDATE lineup_channels SET number = ?, number_manual = 1 WHERE id = ?",
            )
            .bind(n)
            .bind(id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        }
        tx.commit().await?;
        Ok(changed > 0)
    }

    pub async fn stream_matches(&self) -> Result<Vec<MatchRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT source_id, stream_key, guide_id, confidence, method, manual, suggestions, rank \
             FROM stream_matches",
        )
        .fetch_all(self.pool())
        .await?;
        Ok(rows
            .iter()
            .map(|r| MatchRow {
                source_id: r.get("source_id"),
                stream_key: r.get("stream_key"),
                guide_id: r.get("guide_id"),
                confidence: r.get("confidence"),
                method: r.get("method"),
                manual: r.get("manual"),
                suggestions: serde_json::from_str(r.get::<&str, _>("suggestions"))
                    .unwrap_or(serde_json::Value::Array(vec![])),
                rank: r.get("rank"),
            })
            .collect())
    }

    /// Stores automatic matches (one transaction, many rows a statement);
    /// manual ones are kept.
    pub async fn save_auto_matches(&self, rows: &[MatchRow]) -> Result<(), StoreError> {
        let mut tx = self.pool().begin_with("BEGIN IMMEDIATE").await?;
        for chunk in rows.chunks(200) {
            let mut q = QueryBuilder::<Sqlite>::new(
                "INSERT INTO stream_matches (source_id, stream_key, guide_id, confidence, method, manual, suggestions) ",
            );
            q.push_values(chunk, |mut row, m| {
                row.push_bind(m.source_id)
                    .push_bind(m.stream_key.clone())
                    .push_bind(m.guide_id.clone())
                    .push_bind(m.confidence)
                    .push_bind(m.method.clone())
                    .push_bind(false)
                    .push_bind(m.suggestions.to_string());
            });
            q.push(
                " ON CONFLICT(source_id, stream_key) DO UPDATE SET \
                 guide_id = CASE WHEN manual THEN guide_id ELSE excluded.guide_id END, \
                 confidence = CASE WHEN manual THEN confidence ELSE excluded.confidence END, \
                 method = CASE WHEN manual THEN method ELSE excluded.method END, \
                 suggestions = excluded.suggestions",
            );
            q.build().execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// A person's match: `Some(id)` pins the stream to that guide channel,
    /// `None` clears the pin (the next build matches it again).
    pub async fn set_manual_match(
        &self,
        source_id: i64,
        stream_key: &str,
        guide_id: Option<&str>,
    ) -> Result<(), StoreError> {
        match guide_id {
            Some(g) => {
                sqlx::query(
                    "INSERT INTO stream_matches (source_id, stream_key, guide_id, confidence, method, manual) \
                     VALUES (?, ?, ?, 1.0, 'manual', 1) ON CONFLICT(source_id, stream_key) DO UPDATE SET \
                     guide_id = excluded.guide_id, confidence = 1.0, method = 'manual', manual = 1",
                )
                .bind(source_id)
                .bind(stream_key)
                .bind(g)
                .execute(self.pool())
                .await?;
            }
            None => {
                sqlx::query(
                    "UPDATE stream_matches SET manual = 0, method = 'none', guide_id = NULL \
                     WHERE source_id = ? AND stream_key = ?",
                )
                .bind(source_id)
                .bind(stream_key)
                .execute(self.pool())
                .await?;
            }
        }
        Ok(())
    }

    /// A person's candidate order: `rank` per (source, stream key).
    pub async fn set_ranks(&self, ranks: &[(i64, String, i64)]) -> Result<(), StoreError> {
        let mut tx = self.pool().begin_with("BEGIN IMMEDIATE").await?;
        for (source_id, key, rank) in ranks {
            sqlx::query(
                "INSERT INTO stream_matches (source_id, stream_key, method, rank) VALUES (?, ?, 'none', ?) \
                 ON CONFLICT(source_id, stream_key) DO UPDATE SET rank = excluded.rank",
            )
            .bind(source_id)
            .bind(key)
            .bind(rank)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Every guide channel id once, from the best (lowest priority number)
    /// guide source that has it.
    pub async fn merged_guide_channels(&self) -> Result<Vec<GuideChannelRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT g.channel_id, g.display_names, g.icon, g.source_id FROM guide_channels g \
             JOIN sources s ON s.id = g.source_id AND g.gen = s.guide_gen \
             ORDER BY s.priority, s.id",
        )
        .fetch_all(self.pool())
        .await?;
        let mut seen = std::collections::HashSet::new();
        let mut out = Vec::new();
        for r in rows {
            let id: String = r.get("channel_id");
            if !seen.insert(id.to_ascii_lowercase()) {
                continue;
            }
            let names: Vec<serde_json::Value> =
                serde_json::from_str(r.get::<&str, _>("display_names")).unwrap_or_default();
            out.push(GuideChannelRow {
                id,
                names: names
                    .iter()
                    .filter_map(|n| n["name"].as_str().map(str::to_string))
                    .collect(),
                icon: r.get("icon"),
                source_id: r.get("source_id"),
            });
        }
        Ok(out)
    }

    /// A guide channel's programmes from one source, in start order,
    /// starting before `until` and ending after `from`.
    pub async fn programmes(
        &self,
        source_id: i64,
        channel_id: &str,
        from: i64,
        until: i64,
    ) -> Result<Vec<ProgrammeRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT p.start, p.stop, p.title, p.sub_title, p.description, p.categories, p.episode_num, p.icon \
             FROM programmes p JOIN sources s ON s.id = p.source_id AND p.gen = s.guide_gen \
             WHERE p.source_id = ? AND p.channel_id = ? AND p.start < ? AND COALESCE(p.stop, p.start + 3600) > ? \
             ORDER BY p.start",
        )
        .bind(source_id)
        .bind(channel_id)
        .bind(until)
        .bind(from)
        .fetch_all(self.pool())
        .await?;
        Ok(rows
            .iter()
            .map(|r| {
                let eps: Vec<serde_json::Value> =
                    serde_json::from_str(r.get::<&str, _>("episode_num")).unwrap_or_default();
                ProgrammeRow {
                    start: r.get("start"),
                    stop: r.get("stop"),
                    title: r.get("title"),
                    sub_title: r.get("sub_title"),
                    desc: r.get("description"),
                    categories: serde_json::from_str(r.get::<&str, _>("categories"))
                        .unwrap_or_default(),
                    episode_num: eps
                        .iter()
                        .filter_map(|e| {
                            Some((
                                e["system"].as_str()?.to_string(),
                                e["value"].as_str()?.to_string(),
                            ))
                        })
                        .collect(),
                    icon: r.get("icon"),
                }
            })
            .collect())
    }

    /// All stored streams of every stream source, with their source's
    /// priority: what a lineup build reads.
    pub async fn all_streams(&self) -> Result<Vec<StreamRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT p.source_id, s.name AS source_name, s.priority, p.stream_key, p.name, p.url, p.tvg_id, \
             p.tvg_name, p.logo, p.group_name, p.chno, p.user_agent, p.referrer, p.stale_since IS NOT NULL AS stale \
             FROM provider_streams p JOIN sources s ON s.id = p.source_id ORDER BY s.priority, s.id, p.name",
        )
        .fetch_all(self.pool())
        .await?;
        Ok(rows
            .iter()
            .map(|r| StreamRow {
                source_id: r.get("source_id"),
                source_name: r.get("source_name"),
                priority: r.get("priority"),
                stream: ingested(r),
                stale: r.get("stale"),
            })
            .collect())
    }
}

/// A stored stream with its source, as a lineup build reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamRow {
    pub source_id: i64,
    pub source_name: String,
    pub priority: i64,
    /// Its `url` holds credentials: never serialise it as is.
    pub stream: IngestedStream,
    pub stale: bool,
}
