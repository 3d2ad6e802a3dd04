//! The running discovery responders (UDP 65001 and SSDP), started from the
//! config and stopped as one, and the setup URLs logged at start-up.

use std::net::SocketAddr;
use std::sync::Arc;

use super::advert::Advert;
use super::limit::Scope;
use super::{ssdp, udp, urls};
use crate::config::Config;

/// The running discovery responders (each optional: disabled in config or
/// its port was unavailable).
pub struct Advertisers {
    pub udp: Option<udp::UdpResponder>,
    pub ssdp: Option<ssdp::SsdpResponder>,
}

impl Advertisers {
    /// Starts what `config.discovery` enables on the standard ports, on
    /// the interfaces HTTP serves (HTTP on loopback: discovery on loopback
    /// only). A port that cannot be bound is a warning naming it, never an
    /// error: Plex can always add the tuner by address.
    pub async fn start(config: &Config, advert: Arc<Advert>) -> Self {
        let scope = Scope::for_http(advert.http_addr.ip());
        let udp = if config.discovery.udp {
            let bind = SocketAddr::new(scope.bind_ip(), udp::PORT);
            match udp::UdpResponder::start(bind, Arc::clone(&advert)).await {
                Ok(r) => Some(r),
                Err(e) => {
                    tracing::warn!(
                        "HDHomeRun discovery off: cannot bind UDP port {} ({bind}): {e}; add the tuner in Plex by address",
                        udp::PORT
                    );
                    None
                }
            }
        } else {
            None
        };
        let ssdp = if config.discovery.ssdp {
            let opts = ssdp::SsdpOptions::for_scope(scope);
            let bind = opts.bind;
            match ssdp::SsdpResponder::start(opts, Arc::clone(&advert)).await {
                Ok(r) => Some(r),
                Err(e) => {
                    tracing::warn!(
                        "SSDP off: cannot bind UDP port {} ({bind}): {e}",
                        ssdp::PORT
                    );
                    None
                }
            }
        } else {
            None
        };
        Self { udp, ssdp }
    }

    /// Says `ssdp:byebye`, then closes both sockets.
    pub async fn stop(self) {
        if let Some(s) = self.ssdp {
            s.stop().await;
        }
        if let Some(u) = self.udp {
            u.stop().await;
        }
    }
}

/// Logs the setup URLs once at start-up.
pub fn log_setup_urls(config: &Config, http_addr: SocketAddr) {
    for line in urls::SetupUrls::new(config.server.public_url.as_deref(), http_addr).lines() {
        tracing::info!("{line}");
    }
}
