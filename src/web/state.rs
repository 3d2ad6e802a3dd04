//! What the dashboard reads: one sub-state cut from the app's, kept in a
//! file of its own so the page modules import it without importing the
//! module that declares them.

use std::sync::Arc;

use super::dashboard::Dashboard;
use crate::config::Config;
use crate::events::EventBus;
use crate::lineup::Lineup;
use crate::media::manager::Sessions;
use crate::plex::Device;
use crate::providers::sync::Syncer;
use crate::store::Store;

/// What the dashboard reads.
#[derive(Clone)]
pub struct WebState {
    pub config: Arc<Config>,
    pub lineup: Arc<Lineup>,
    pub sessions: Arc<Sessions>,
    pub store: Store,
    pub events: EventBus,
    pub device: Arc<Device>,
    pub syncer: Arc<Syncer>,
    /// History, live counters, metrics and the discovery status.
    pub dashboard: Arc<Dashboard>,
}
