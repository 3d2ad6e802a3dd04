//! What discovery announces: the device, its addresses, the tuner budget.
//! Read by both responders (`udp`, `ssdp`); started by `responders`.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use super::device::Device;
use super::urls;
use crate::config::Config;
use crate::media::manager::Sessions;

/// What the discovery responders announce. Read-only once built.
pub struct Advert {
    pub device: Arc<Device>,
    /// The bound HTTP address (its port goes into every URL).
    pub http_addr: SocketAddr,
    pub public_url: Option<String>,
    /// The current tuner budget.
    pub tuner_count: Box<dyn Fn() -> u32 + Send + Sync>,
}

impl Advert {
    pub fn new(
        config: &Config,
        device: Arc<Device>,
        http_addr: SocketAddr,
        sessions: Arc<Sessions>,
    ) -> Self {
        Self {
            device,
            http_addr,
            public_url: config.server.public_url.clone(),
            tuner_count: Box::new(move || sessions.tuner_count()),
        }
    }

    /// The base URL as seen from `peer`.
    pub fn base_for(&self, peer: IpAddr) -> String {
        urls::base_for_peer(self.public_url.as_deref(), self.http_addr, peer)
    }

    /// The base URL for multicast announcements (no particular peer).
    pub fn advertised_base(&self) -> String {
        urls::advertised_base(self.public_url.as_deref(), self.http_addr).0
    }
}
