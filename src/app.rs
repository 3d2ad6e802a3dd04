//! The application state: one value holding every long-lived part, built
//! once by `crate::run`. Each area's routes take only the sub-state they
//! need (`FromRef`), so no area imports another's state or this module;
//! this module is the only one that knows them all.

use std::sync::Arc;

use axum::extract::FromRef;

use crate::config::Config;
use crate::events::EventBus;
use crate::http::auth::Auth;
use crate::http::{ApiState, ChannelsState, SourcesState, StreamState};
use crate::lineup::Lineup;
use crate::lineup::live::Rebuild;
use crate::media::manager::Sessions;
use crate::plex::guide_cache::GuideCache;
use crate::plex::{Device, PlexState};
use crate::providers::sync::Syncer;
use crate::store::Store;

#[derive(Clone)]
pub struct AppState {
    /// The configuration as loaded; channels are read from `lineup`.
    pub config: Arc<Config>,
    /// The live lineup, swapped as a whole.
    pub lineup: Arc<Lineup>,
    pub sessions: Arc<Sessions>,
    pub store: Store,
    pub events: EventBus,
    /// HDHomeRun identity (stable DeviceID from the store).
    pub device: Arc<Device>,
    /// Provider syncs (API triggers and the schedule share it).
    pub syncer: Arc<Syncer>,
    /// Asks for a lineup rebuild (after a person's change).
    pub rebuild: Rebuild,
    /// The rendered guide, until the lineup changes.
    pub guide_cache: Arc<GuideCache>,
    /// The admin gate (sessions, tokens, which hosts are ours).
    pub auth: Arc<Auth>,
}

impl FromRef<AppState> for Arc<Auth> {
    fn from_ref(s: &AppState) -> Self {
        Arc::clone(&s.auth)
    }
}

impl FromRef<AppState> for ChannelsState {
    fn from_ref(s: &AppState) -> Self {
        Self {
            lineup: Arc::clone(&s.lineup),
            store: s.store.clone(),
            rebuild: s.rebuild.clone(),
        }
    }
}

impl FromRef<AppState> for SourcesState {
    fn from_ref(s: &AppState) -> Self {
        Self {
            store: s.store.clone(),
            syncer: Arc::clone(&s.syncer),
        }
    }
}

impl FromRef<AppState> for StreamState {
    fn from_ref(s: &AppState) -> Self {
        Self {
            lineup: Arc::clone(&s.lineup),
            sessions: Arc::clone(&s.sessions),
            events: s.events.clone(),
        }
    }
}

impl FromRef<AppState> for ApiState {
    fn from_ref(s: &AppState) -> Self {
        Self {
            sessions: Arc::clone(&s.sessions),
            store: s.store.clone(),
            events: s.events.clone(),
        }
    }
}

impl FromRef<AppState> for PlexState {
    fn from_ref(s: &AppState) -> Self {
        Self {
            lineup: Arc::clone(&s.lineup),
            device: Arc::clone(&s.device),
            sessions: Arc::clone(&s.sessions),
            public_url: s.config.server.public_url.clone(),
            listen: s.config.server.listen.clone(),
            store: s.store.clone(),
            guide_cache: Arc::clone(&s.guide_cache),
            guide_days: s.config.sync.guide_days,
            hosts: Arc::clone(&s.auth.hosts),
        }
    }
}
