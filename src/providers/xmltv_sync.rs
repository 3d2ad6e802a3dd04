//! Storing a guide: the XMLTV parser runs on a blocking thread over the
//! downloaded file, handing channels and programmes in batches through a
//! bounded channel to one transaction, so a 200 MB guide is never whole
//! in memory and a guide that breaks off mid-file changes nothing.

use std::fs::File;
use std::time::Duration;

use chrono::Utc;
use tokio::sync::mpsc;

use super::outcome::{Outcome, SyncError};
use super::xmltv::{self, Item};
use crate::store::Store;
use crate::store::guide::GuideBatch;

/// Items per batch handed to the writer.
const BATCH: usize = 10_000;

/// Parses `file` and replaces source `source_id`'s guide with it, keeping
/// programmes from a day ago to `days` ahead.
pub async fn store_guide(
    store: &Store,
    source_id: i64,
    file: File,
    days: u32,
) -> Result<Outcome, SyncError> {
    let now = Utc::now().timestamp();
    let (from, to) = (now - 86_400, now + i64::from(days) * 86_400);
    let (tx, mut rx) = mpsc::channel::<GuideBatch>(2);
    let parser = tokio::task::spawn_blocking(move || -> Result<u64, SyncError> {
        let mut reader = xmltv::open(file).map_err(|e| SyncError::Parse(format!("guide: {e}")))?;
        let mut batch = GuideBatch::default();
        loop {
            match reader.next() {
                Ok(Some(Item::Channel(c))) => batch.channels.push(c),
                Ok(Some(Item::Programme(p))) => {
                    let start = p.start.timestamp();
                    if start >= from && start <= to {
                        batch.programmes.push(p);
                    }
                }
                Ok(None) => break,
                Err(e) => return Err(SyncError::Parse(format!("guide: {e}"))),
            }
            if batch.len() >= BATCH {
                let full = std::mem::take(&mut batch);
                if tx.blocking_send(full).is_err() {
                    return Err(SyncError::Parse("guide writer stopped".into()));
                }
            }
        }
        if !batch.is_empty() && tx.blocking_send(batch).is_err() {
            return Err(SyncError::Parse("guide writer stopped".into()));
        }
        Ok(reader.skipped() as u64)
    });
    let mut w = store.begin_guide(source_id).await?;
    let mut written = Ok(());
    while let Some(b) = rx.recv().await {
        if let Err(e) = w.write(&b).await {
            written = Err(e);
            break;
        }
    }
    // Dropping the receiver stops a parser still sending.
    drop(rx);
    let parsed = match tokio::time::timeout(Duration::from_secs(60), parser).await {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => Err(SyncError::Parse(format!("guide parser stopped: {e}"))),
        Err(_) => Err(SyncError::Parse("guide parser did not finish".into())),
    };
    let (channels, programmes) = w.counts();
    let outcome = match (written, parsed) {
        (Err(e), _) => Err(SyncError::Store(e)),
        (Ok(()), Err(e)) => Err(e),
        (Ok(()), Ok(_)) if channels == 0 => {
            Err(SyncError::Parse("the guide holds no channels".into()))
        }
        (Ok(()), Ok(skipped)) => Ok(skipped),
    };
    let skipped = match outcome {
        Ok(s) => s,
        Err(e) => {
            if let Err(a) = w.abort().await {
                tracing::warn!("cannot remove a partial guide: {a:#}");
            }
            return Err(e);
        }
    };
    let before = store.guide_channel_count(source_id).await?;
    w.commit().await?;
    Ok(Outcome {
        items: channels,
        added: channels.saturating_sub(before.max(0) as u64),
        stale: 0,
        removed: (before.max(0) as u64).saturating_sub(channels),
        skipped,
        programmes: Some(programmes),
        ms: 0,
    })
}
