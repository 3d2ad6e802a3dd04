//! The dashboard, served by the same binary on the same port: pages
//! rendered on the server (maud, compiled in), assets embedded in the
//! binary (`assets`), live updates over server-sent events from the event
//! bus (`live`), the channel probe behind "test this channel" (`probe`) and
//! `/metrics` (`metrics`).
//!
//! Pages read the state the JSON API reads; every change a person makes
//! goes through the JSON API (`crate::http`) from the embedded script, so
//! the dashboard has no write path of its own. Nothing here renders a
//! password, and every URL shown goes through `redact`.
//!
//! Who may see what is `http::auth::gate`'s call, in front of every
//! route: the login page and `/static/*` are open (the login page needs its
//! assets), everything else here is management (an admin session once a
//! password is set, loopback only before). That includes `/metrics`: a
//! scraper sends an API token. The routes still come in three groups
//! ([`pages`], [`api`], [`open`]) so a per-group layer stays one line.

pub mod assets;
pub mod channels;
pub mod dashboard;
pub mod events;
pub mod layout;
pub mod live;
pub mod login;
pub mod metrics;
pub mod now;
pub mod plex_setup;
pub mod probe;
pub mod sources;

use std::sync::Arc;

use axum::Router;
use axum::extract::FromRef;
use axum::routing::{get, post};

use crate::config::Config;
use crate::events::EventBus;
use crate::lineup::Lineup;
use crate::media::manager::Sessions;
use crate::plex::Device;
use crate::providers::sync::Syncer;
use crate::store::Store;

pub use dashboard::{Dashboard, Discovery};

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

/// Every dashboard route.
pub fn routes<S>() -> Router<S>
where
    S: Clone + Send + Sync + 'static,
    WebState: FromRef<S>,
{
    Router::new().merge(pages()).merge(api()).merge(open())
}

/// The management pages and their live stream.
pub fn pages<S>() -> Router<S>
where
    S: Clone + Send + Sync + 'static,
    WebState: FromRef<S>,
{
    Router::new()
        .route("/", get(now::page))
        .route("/events", get(events::page))
        .route("/channels", get(channels::page))
        .route("/sources", get(sources::page))
        .route("/plex", get(plex_setup::page))
        .route("/web/live", get(live::stream))
}

/// The dashboard's own JSON endpoints (management API).
pub fn api<S>() -> Router<S>
where
    S: Clone + Send + Sync + 'static,
    WebState: FromRef<S>,
{
    Router::new().route("/api/probe/{number}", post(probe::probe_channel))
}

/// The login page, the assets it needs, and the Prometheus scrape.
pub fn open<S>() -> Router<S>
where
    S: Clone + Send + Sync + 'static,
    WebState: FromRef<S>,
{
    Router::new()
        .route("/login", get(login::page))
        .route("/static/{*path}", get(assets::serve))
        .route("/metrics", get(metrics::scrape))
}
