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
pub mod state;

use axum::Router;
use axum::extract::FromRef;
use axum::routing::{get, post};

pub use dashboard::{Dashboard, Discovery};
pub use state::WebState;

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
        .route("/metrics", get(scrape))
}

/// `/metrics`: the gauges read now, every metric in the text format.
async fn scrape(
    axum::extract::State(st): axum::extract::State<WebState>,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let body = st.dashboard.metrics.render(&st.sessions, &st.events);
    (
        [(axum::http::header::CONTENT_TYPE, metrics::CONTENT_TYPE)],
        body,
    )
        .into_response()
}
