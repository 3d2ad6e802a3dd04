//! The channel lineup every consumer reads (stream endpoints, Plex lineup,
//! playlist, guide). The config feeds it today; provider ingestion replaces
//! it atomically, so a broken provider list never leaves a half lineup.

use std::sync::Arc;

use parking_lot::RwLock;

use crate::config::ChannelConfig;

/// Readers take a snapshot (`Arc`) and never hold the lock while serving.
pub struct Lineup {
    channels: RwLock<Arc<Vec<ChannelConfig>>>,
}

impl Lineup {
    pub fn new(channels: Vec<ChannelConfig>) -> Arc<Self> {
        Arc::new(Self {
            channels: RwLock::new(Arc::new(channels)),
        })
    }

    /// Every channel, enabled or not, in channel order.
    pub fn all(&self) -> Arc<Vec<ChannelConfig>> {
        Arc::clone(&self.channels.read())
    }

    /// Enabled channels in channel order.
    pub fn enabled(&self) -> Vec<ChannelConfig> {
        self.all()
            .iter()
            .filter(|c| c.is_enabled())
            .cloned()
            .collect()
    }

    /// An enabled channel by its number.
    pub fn get(&self, number: &str) -> Option<ChannelConfig> {
        self.all()
            .iter()
            .find(|c| c.number == number && c.is_enabled())
            .cloned()
    }

    /// Replaces the whole lineup at once.
    pub fn replace(&self, channels: Vec<ChannelConfig>) {
        *self.channels.write() = Arc::new(channels);
    }
}
