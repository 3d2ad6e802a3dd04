//! The live lineup: the one source of channels for every consumer after
//! start-up (stream endpoints, `lineup.json`, `playlist.m3u`, `epg.xml`,
//! `probe` by number, logs). It is swapped as a whole, so a reader sees
//! either the old lineup or the new one, never half of each. The channel
//! model is in `channel`; `build` makes the lineup from ingested streams
//! (matching by `matching` and its private helpers, tiers, numbers that
//! never move), `live` rebuilds and swaps it.

pub mod build;
pub mod channel;
mod countries;
mod guide_index;
pub mod live;
pub mod matching;
mod normalize;
mod scoring;

pub use channel::{Candidate, CandidateSource, Channel, EngineOverrides, Tier};

use std::sync::Arc;

use parking_lot::RwLock;

use crate::config::Config;

/// Readers take a snapshot (`Arc`) and never hold the lock while serving;
/// the lock is held only to clone or replace that `Arc`.
pub struct Lineup {
    channels: RwLock<Arc<Vec<Channel>>>,
    /// Bumped at every replace: caches of what is derived from the lineup
    /// (the rendered guide) compare it.
    version: std::sync::atomic::AtomicU64,
}

impl Lineup {
    pub fn new(channels: Vec<Channel>) -> Arc<Self> {
        Arc::new(Self {
            channels: RwLock::new(Arc::new(channels)),
            version: std::sync::atomic::AtomicU64::new(0),
        })
    }

    /// The config's `[[channel]]` entries, in order.
    pub fn from_config(config: &Config) -> Arc<Self> {
        Self::new(config.channel.iter().map(Channel::from_config).collect())
    }

    /// Every channel, enabled or not, in channel order.
    pub fn all(&self) -> Arc<Vec<Channel>> {
        Arc::clone(&self.channels.read())
    }

    /// Enabled channels in channel order.
    pub fn enabled(&self) -> Vec<Channel> {
        self.all()
            .iter()
            .filter(|c| c.is_enabled())
            .cloned()
            .collect()
    }

    /// An enabled channel by its number.
    pub fn get(&self, number: &str) -> Option<Channel> {
        self.all()
            .iter()
            .find(|c| c.number == number && c.is_enabled())
            .cloned()
    }

    /// Any channel by its number, enabled or not (diagnostics).
    pub fn find(&self, number: &str) -> Option<Channel> {
        self.all().iter().find(|c| c.number == number).cloned()
    }

    /// Replaces the whole lineup at once.
    pub fn replace(&self, channels: Vec<Channel>) {
        let mut w = self.channels.write();
        *w = Arc::new(channels);
        self.version
            .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
    }

    /// Changes with every [`Lineup::replace`].
    pub fn version(&self) -> u64 {
        self.version.load(std::sync::atomic::Ordering::Acquire)
    }

    pub fn len(&self) -> usize {
        self.channels.read().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_snapshot_survives_a_swap() {
        let l = Lineup::new(vec![Channel::new("101", "A", &["http://h/a.ts"])]);
        let before = l.all();
        let mut off = Channel::new("102", "B", &["http://h/b.ts"]);
        off.enabled = false;
        l.replace(vec![Channel::new("103", "C", &["http://h/c.ts"]), off]);
        assert_eq!(before[0].number, "101", "readers keep what they took");
        assert!(l.get("101").is_none());
        assert!(l.get("103").is_some());
        assert!(l.get("102").is_none() && l.find("102").is_some());
        assert_eq!(l.enabled().len(), 1);
        assert_eq!(l.len(), 2);
    }
}
