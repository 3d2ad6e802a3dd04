//! The `guide_channels` and `programmes` tables: each XMLTV source's guide
//! as its last good sync saw it. A sync writes the next generation of rows
//! in short transactions (so a 200 MB guide never holds the database's
//! write lock for long) and switches to it in one; a sync that fails
//! removes its partial generation and readers never saw it.

use sqlx::{QueryBuilder, Sqlite};

use super::{Store, StoreError};

/// Rows per INSERT: 12 columns × 200 stays far below SQLite's 32,766
/// bound parameters.
const ROWS_PER_STATEMENT: usize = 200;
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

/// The next generation of one source's guide, being written. Dropped
/// without [`GuideWriter::commit`] (call [`GuideWriter::abort`]), it
/// changes nothing readers see.
pub struct GuideWriter {
    store: Store,
    source_id: i64,
    generation: i64,
    channels: u64,
    programmes: u64,
}

impl Store {
    /// Starts writing the next generation of source `source_id`'s guide.
    pub async fn begin_guide(&self, source_id: i64) -> Result<GuideWriter, StoreError> {
        let current: i64 = sqlx::query_scalar("SELECT guide_gen FROM sources WHERE id = ?")
            .bind(source_id)
            .fetch_one(self.pool())
            .await?;
        let generation = current + 1;
        // Left over by a sync that died half-way.
        self.drop_stale_guide_gens(source_id).await?;
        Ok(GuideWriter {
            store: self.clone(),
            source_id,
            generation,
            channels: 0,
            programmes: 0,
        })
    }

    /// Deletes every generation of the guide but the one readers see.
    async fn drop_stale_guide_gens(&self, source_id: i64) -> Result<(), StoreError> {
        let mut tx = self.pool().begin_with("BEGIN IMMEDIATE").await?;
        for table in ["programmes", "guide_channels"] {
            sqlx::query(&format!(
                "DELETE FROM {table} WHERE source_id = ?1 AND gen <> (SELECT guide_gen FROM sources WHERE id = ?1)"
            ))
            .bind(source_id)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    pub async fn guide_channel_count(&self, source_id: i64) -> Result<i64, StoreError> {
        self.current_guide_rows("guide_channels", source_id).await
    }

    pub async fn programme_count(&self, source_id: i64) -> Result<i64, StoreError> {
        self.current_guide_rows("programmes", source_id).await
    }

    /// Rows of `table` in the generation readers see.
    async fn current_guide_rows(
        &self,
        table: &'static str,
        source_id: i64,
    ) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar(&format!(
            "SELECT COUNT(*) FROM {table} t JOIN sources s ON s.id = t.source_id \
             WHERE t.source_id = ? AND t.gen = s.guide_gen"
        ))
        .bind(source_id)
        .fetch_one(self.pool())
        .await?)
    }
}

impl GuideWriter {
    /// Writes one batch in its own short transaction, many rows a
    /// statement (SQLite's per-statement cost dominates row by row).
    pub async fn write(&mut self, b: &GuideBatch) -> Result<(), StoreError> {
        let mut tx = self.store.pool().begin_with("BEGIN IMMEDIATE").await?;
        for chunk in b.channels.chunks(ROWS_PER_STATEMENT) {
            let mut q = QueryBuilder::<Sqlite>::new(
                "INSERT INTO guide_channels (source_id, gen, channel_id, display_names, icon, lcn) ",
            );
            q.push_values(chunk, |mut row, c| {
                let names: Vec<serde_json::Value> = c
                    .display_names
                    .iter()
                    .map(|d| serde_json::json!({ "name": d.name, "lang": d.lang }))
                    .collect();
                row.push_bind(self.source_id)
                    .push_bind(self.generation)
                    .push_bind(c.id.clone())
                    .push_bind(serde_json::Value::Array(names).to_string())
                    .push_bind(c.icon.clone())
                    .push_bind(c.lcn.clone());
            });
            q.push(" ON CONFLICT DO NOTHING");
            self.channels += q.build().execute(&mut *tx).await?.rows_affected();
        }
        for chunk in b.programmes.chunks(ROWS_PER_STATEMENT) {
            let mut q = QueryBuilder::<Sqlite>::new(
                "INSERT INTO programmes (source_id, gen, channel_id, start, stop, title, sub_title, \
                 description, categories, episode_num, icon, rating) ",
            );
            q.push_values(chunk, |mut row, p| {
                let eps: Vec<serde_json::Value> = p
                    .episode_num
                    .iter()
                    .map(|(s, v)| serde_json::json!({ "system": s, "value": v }))
                    .collect();
                row.push_bind(self.source_id)
                    .push_bind(self.generation)
                    .push_bind(p.channel.clone())
                    .push_bind(p.start.timestamp())
                    .push_bind(p.stop.map(|t| t.timestamp()))
                    .push_bind(p.title.clone())
                    .push_bind(p.sub_title.clone())
                    .push_bind(p.desc.clone())
                    .push_bind(serde_json::to_string(&p.categories).unwrap_or_else(|_| "[]".into()))
                    .push_bind(serde_json::Value::Array(eps).to_string())
                    .push_bind(p.icon.clone())
                    .push_bind(p.rating.clone());
            });
            q.push(" ON CONFLICT DO NOTHING");
            self.programmes += q.build().execute(&mut *tx).await?.rows_affected();
        }
        tx.commit().await?;
        Ok(())
    }

    /// (channels, programmes) written so far.
    pub fn counts(&self) -> (u64, u64) {
        (self.channels, self.programmes)
    }

    /// Readers switch to this generation; the previous one goes.
    pub async fn commit(self) -> Result<(), StoreError> {
        let mut tx = self.store.pool().begin_with("BEGIN IMMEDIATE").await?;
        sqlx::query("UPDATE sources SET guide_gen = ? WHERE id = ?")
            .bind(self.generation)
            .bind(self.source_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        self.store.drop_stale_guide_gens(self.source_id).await
    }

    /// Removes what this generation wrote.
    pub async fn abort(self) -> Result<(), StoreError> {
        self.store.drop_stale_guide_gens(self.source_id).await
    }
}
