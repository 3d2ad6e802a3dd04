//! Plex tuner emulation: the HDHomeRun identity, HTTP API, discovery
//! (UDP 65001, SSDP), playlist.m3u and epg.xml.

pub mod device;

pub use device::Device;

use axum::Router;

use crate::http::AppState;

/// The HDHomeRun/Plex routes, merged into the main router.
pub fn routes() -> Router<AppState> {
    Router::new()
}
