//! Plex tuner emulation: the HDHomeRun identity (`device`), HTTP API
//! (`hdhomerun`, with the 805/806/807 tune error codes), discovery
//! (`discovery` codec + `udp` responder on 65001, `ssdp_msg` parser +
//! `ssdp` responder, `advert` for what they announce), `playlist.m3u`
//! (`playlist`), `epg.xml` (`epg`) and the advertised addresses (`urls`).
//! Its routes need only [`PlexState`]; streams are `crate::http`'s.

pub mod advert;
pub mod device;
pub mod discovery;
pub mod epg;
pub mod hdhomerun;
pub mod playlist;
pub mod ssdp;
pub mod ssdp_msg;
pub mod udp;
pub mod urls;

pub use advert::{Advert, Advertisers, log_setup_urls};
pub use device::Device;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::extract::{FromRef, State};
use axum::http::{HeaderMap, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::lineup::Lineup;
use crate::media::manager::Sessions;

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
}

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
        .route("/epg.xml", get(epg::epg_xml))
        .route("/api/urls", get(api_urls))
}

/// The bound HTTP address (the configured one before `run` records it).
fn http_addr(st: &PlexState) -> SocketAddr {
    st.device
        .http_addr
        .or_else(|| st.listen.parse().ok())
        .unwrap_or(SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 5004))
}

/// The base URL to put in a response to this request.
pub(crate) fn base_url(st: &PlexState, uri: &Uri, headers: &HeaderMap) -> String {
    urls::request_base(st.public_url.as_deref(), http_addr(st), uri, headers)
}

async fn api_urls(State(st): State<PlexState>) -> Response {
    Json(urls::SetupUrls::new(
        st.public_url.as_deref(),
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
