//! Plex tuner emulation: the HDHomeRun identity (`device`), HTTP API
//! (`hdhomerun`), discovery (`discovery` codec + `udp` responder on 65001,
//! `ssdp`), `playlist.m3u` (`playlist`), `epg.xml` (`epg`) and the
//! advertised addresses (`urls`). Streams themselves are `crate::http`'s.

pub mod device;
pub mod discovery;
pub mod epg;
pub mod hdhomerun;
pub mod playlist;
pub mod ssdp;
pub mod udp;
pub mod urls;

pub use device::Device;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::config::Config;
use crate::http::AppState;
use crate::media::manager::Sessions;

/// The HDHomeRun/Plex routes, merged into the main router.
pub fn routes() -> Router<AppState> {
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
        .route("/epg.xml", get(epg::epg_xml))
        .route("/api/urls", get(api_urls))
}

/// The bound HTTP address (the configured one before `run` records it).
fn http_addr(st: &AppState) -> SocketAddr {
    st.device
        .http_addr
        .or_else(|| st.config.server.listen.parse().ok())
        .unwrap_or(SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 5004))
}

/// The base URL to put in a response to this request.
pub(crate) fn base_url(st: &AppState, uri: &Uri, headers: &HeaderMap) -> String {
    urls::request_base(
        st.config.server.public_url.as_deref(),
        http_addr(st),
        uri,
        headers,
    )
}

async fn api_urls(State(st): State<AppState>) -> Response {
    Json(urls::SetupUrls::new(
        st.config.server.public_url.as_deref(),
        http_addr(&st),
    ))
    .into_response()
}

/// Escapes text for XML content and attributes, dropping the characters
/// XML 1.0 forbids and the C1 controls `tv_validate_file` flags, so
/// hostile provider data cannot break the document.
pub fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || (0x7F..=0x9F).contains(&(c as u32)) => {}
            '\u{FFFD}' | '\u{FFFE}' | '\u{FFFF}' => {}
            c => out.push(c),
        }
    }
    out
}

/// An absolute http(s) image URL without credentials (user info or a
/// secret query parameter), else nothing: a provider logo URL carrying a
/// token must not leak into a playlist or guide.
pub fn public_image_url(url: Option<&str>) -> Option<&str> {
    let u = url?.trim();
    let parsed = url::Url::parse(u).ok()?;
    let secret = crate::redact::has_credentials(&parsed);
    (matches!(parsed.scheme(), "http" | "https") && !secret && !u.chars().any(char::is_whitespace))
        .then_some(u)
}

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

/// The running discovery responders (each optional: disabled in config or
/// its port was unavailable).
pub struct Advertisers {
    pub udp: Option<udp::UdpResponder>,
    pub ssdp: Option<ssdp::SsdpResponder>,
}

impl Advertisers {
    /// Starts what `config.discovery` enables on the standard ports. A port
    /// that cannot be bound is a warning naming it, never an error: Plex
    /// can always add the tuner by address.
    pub async fn start(config: &Config, advert: Arc<Advert>) -> Self {
        let udp = if config.discovery.udp {
            let bind = SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), udp::PORT);
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
            let opts = ssdp::SsdpOptions::standard();
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_and_strip() {
        assert_eq!(xml_escape("a&b<c>\"d'"), "a&amp;b&lt;c&gt;&quot;d&apos;");
        assert_eq!(xml_escape("x\u{0}\u{8}\u{85}\u{FFFE}y\tz"), "xy\tz");
    }

    #[test]
    fn image_urls() {
        assert_eq!(
            public_image_url(Some("https://l.example/a.png")),
            Some("https://l.example/a.png")
        );
        assert_eq!(public_image_url(Some("http://u:p@l.example/a.png")), None);
        assert_eq!(
            public_image_url(Some("http://l.example/a.png?token=x")),
            None
        );
        assert_eq!(public_image_url(Some("file:///etc/passwd")), None);
        assert_eq!(public_image_url(Some("not a url")), None);
        assert_eq!(public_image_url(None), None);
    }
}
