//! Plex tuner emulation: the HDHomeRun identity (`device`), HTTP API
//! (`hdhomerun`, with the 805/806/807 tune error codes), discovery
//! (`discovery` codec + `udp` responder on 65001, `ssdp_msg` parser +
//! `ssdp` responder, `advert` for what they announce, `limit` for whom
//! and how often they answer, `responders` to run them), `playlist.m3u` (`playlist`), `epg.xml` (`epg`), escaping
//! (`xml`) and the advertised addresses (`urls`). Its routes need only
//! [`PlexState`] (`state`); streams are `crate::http`'s. This file only
//! declares and routes: nothing below imports it.

pub mod advert;
pub mod device;
pub mod discovery;
pub mod epg;
pub mod epg_cache;
pub mod guide_cache;
pub mod hdhomerun;
pub mod hosts;
pub mod limit;
pub mod playlist;
pub mod responders;
pub mod ssdp;
pub mod ssdp_msg;
pub mod state;
pub mod udp;
pub mod urls;
pub mod xml;

pub use advert::Advert;
pub use device::Device;
pub use responders::{Advertisers, log_setup_urls};
pub use state::PlexState;
pub use xml::{public_image_url, xml_escape};

use axum::Json;
use axum::Router;
use axum::extract::{FromRef, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

/// The HDHomeRun/Plex routes, for any app state they can be cut from.
pub fn routes<S>() -> Router<S>
where
    S: Clone + Send + Sync + 'static,
    PlexState: FromRef<S>,
{
    Router::new()
        .route("/discover.json", get(hdhomerun::discover))
        .route("/lineup_status.json", get(hdhomerun::lineup_status))
        .route("/lineup.json", get(hdhomerun::lineup))
        // GET too: a 405 here reads as "device not found" to Plex.
        .route(
            "/lineup.post",
            get(hdhomerun::lineup_post).post(hdhomerun::lineup_post),
        )
        .route("/device.xml", get(hdhomerun::device_xml))
        .route("/capability", get(hdhomerun::device_xml))
        .route("/playlist.m3u", get(playlist::playlist))
        .route("/epg.xml", get(epg_cache::epg_xml))
        .route("/api/urls", get(api_urls))
}

async fn api_urls(State(st): State<PlexState>) -> Response {
    Json(urls::SetupUrls::new(
        st.public_url.as_deref(),
        state::http_addr(&st),
    ))
    .into_response()
}
