//! What the Plex routes read ([`PlexState`]) and the base URL each of
//! their answers is built on.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

use axum::http::{HeaderMap, Uri};

use super::device::Device;
use super::guide_cache::GuideCache;
use super::hosts::HostPolicy;
use super::urls;
use crate::lineup::Lineup;
use crate::media::manager::Sessions;
use crate::store::Store;

/// What the Plex/HDHomeRun routes read.
#[derive(Clone)]
pub struct PlexState {
    pub lineup: Arc<Lineup>,
    /// HDHomeRun identity (stable DeviceID from the store).
    pub device: Arc<Device>,
    /// The tuner budget.
    pub sessions: Arc<Sessions>,
    pub public_url: Option<String>,
    /// The configured `server.listen` (used until the bound address is known).
    pub listen: String,
    /// Where the stored guide is.
    pub store: Store,
    pub guide_cache: Arc<GuideCache>,
    /// Days of guide served.
    pub guide_days: u32,
    /// Which `Host` values may become the `BaseURL`.
    pub hosts: Arc<HostPolicy>,
}

/// The bound HTTP address (the configured one before `run` records it).
pub(crate) fn http_addr(st: &PlexState) -> SocketAddr {
    st.device
        .http_addr
        .or_else(|| st.listen.parse().ok())
        .unwrap_or(SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 5004))
}

/// The base URL to put in a response to this request.
pub(crate) fn base_url(st: &PlexState, uri: &Uri, headers: &HeaderMap) -> String {
    urls::request_base(
        st.public_url.as_deref(),
        http_addr(st),
        &st.hosts,
        uri,
        headers,
    )
}
