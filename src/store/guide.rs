//! The `guide_channels` and `programmes` tables: each XMLTV source's guide
//! as its last good sync saw it, written in one transaction that the
//! caller commits only once the whole guide parsed.

use sqlx::{Sqlite, Transaction};

use super::{Store, StoreError};
use crate::providers::xmltv::{Channel, Programme};

/// Channels and programmes parsed since the last batch.
#[derive(Debug, Default)]
pub struct GuideBatch {
    pub channels: Vec<Channel>,
    pub programmes: Vec<Programme>,
}

impl GuideBatch {
    pub fn len(&self) -> usize {
        self.channels.len() + self.programmes.len()
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// An open replace of one source's guide: dropped without `commit`, it
/// changes nothing.
pub struct GuideWriter {
    tx: Transaction<'static, Sqlite>,
    source_id: i64,
    channels: u64,
    programmes: u64,
}

impl Store {
    /// Starts replacing source `source_id`'s guide.
    pub async fn begin_guide(&self, source_id: i64) -> Result<GuideWriter, StoreError> {
        let mut tx = self.pool().begin().await?;
        sqlx::query("DELETE FROM programmes WHERE source_id = ?")
            .bind(source_id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM guide_channels WHERE source_id = ?")
            .bind(source_id)
            .execute(&mut *tx)
            .await?;
        Ok(GuideWriter {
            tx,
            source_id,
            channels: 0,
            programmes: 0,
        })
    }

    pub async fn guide_channel_count(&self, source_id: i64) -> Result<i64, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT COUNT(*) FROM guide_channels WHERE source_id = ?")
                .bind(source_id)
                .fetch_one(self.pool())
                .await?,
        )
    }

    pub async fn programme_count(&self, source_id: i64) -> Result<i64, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT COUNT(*) FROM programmes WHERE source_id = ?")
                .bind(source_id)
                .fetch_one(self.pool())
                .await?,
        )
    }
}

impl GuideWriter {
    pub async fn write(&mut self, b: &GuideBatch) -> Result<(), StoreError> {
        for c in &b.channels {
            let names: Vec<serde_json::Value> = c
                .display_names
                .iter()
                .map(|d| serde_json::json!({ "name": d.name, "lang": d.lang }))
                .collect();
            let n = sqlx::query(
                "INSERT INTO guide_channels (source_id, channel_id, display_names, icon, lcn) \
                 VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            )
            .bind(self.source_id)
            .bind(&c.id)
            .bind(serde_json::Value::Array(names).to_string())
            .bind(&c.icon)
            .bind(&c.lcn)
            .execute(&mut *self.tx)
            .await?
            .rows_affected();
            self.channels += n;
        }
        for p in &b.programmes {
            let eps: Vec<serde_json::Value> = p
                .episode_num
                .iter()
                .map(|(s, v)| serde_json::json!({ "system": s, "value": v }))
                .collect();
            let n = sqlx::query(
                "INSERT INTO programmes (source_id, channel_id, start, stop, title, sub_title, description, \
                 categories, episode_num, icon, rating) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) \
                 ON CONFLICT DO NOTHING",
            )
            .bind(self.source_id)
            .bind(&p.channel)
            .bind(p.start.timestamp())
            .bind(p.stop.map(|t| t.timestamp()))
            .bind(&p.title)
            .bind(&p.sub_title)
            .bind(&p.desc)
            .bind(serde_json::to_string(&p.categories).unwrap_or_else(|_| "[]".into()))
            .bind(serde_json::Value::Array(eps).to_string())
            .bind(&p.icon)
            .bind(&p.rating)
            .execute(&mut *self.tx)
            .await?
            .rows_affected();
            self.programmes += n;
        }
        Ok(())
    }

    /// (channels, programmes) written so far.
    pub fn counts(&self) -> (u64, u64) {
        (self.channels, self.programmes)
    }

    pub async fn commit(self) -> Result<(), StoreError> {
        self.tx.commit().await?;
        Ok(())
    }
}
