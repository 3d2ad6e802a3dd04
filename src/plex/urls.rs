//! Which address we advertise: `server.public_url` when set; otherwise, for
//! an HTTP request, the Host the client used; for a discovery packet, our
//! address on the route back to its sender; and for `streamforge urls`,
//! `GET /api/urls` and the start-up banner, the machine's primary LAN
//! address. Never `localhost` unless the client itself came over loopback.

use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};

use axum::http::HeaderMap;
use axum::http::header::HOST;
use serde::Serialize;

use super::hosts::HostPolicy;

/// `public_url` without its trailing slashes, so paths can be appended.
pub fn trim_base(public_url: &str) -> String {
    public_url.trim_end_matches('/').to_string()
}

/// The local address the kernel would use to reach `peer`. Connecting a
/// UDP socket only looks up the route: no packet is sent.
pub fn local_ip_towards(peer: IpAddr) -> Option<IpAddr> {
    let bind: SocketAddr = match peer {
        IpAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
        IpAddr::V6(_) => (std::net::Ipv6Addr::UNSPECIFIED, 0).into(),
    };
    let sock = UdpSocket::bind(bind).ok()?;
    sock.connect((peer, 9)).ok()?;
    sock.local_addr().ok().map(|a| a.ip())
}

/// The machine's primary non-loopback IPv4 address: the source address of
/// the default route (looked up with an unsent UDP "connection" to a
/// TEST-NET address).
pub fn primary_lan_ipv4() -> Option<Ipv4Addr> {
    match local_ip_towards(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)))? {
        IpAddr::V4(ip) if !ip.is_loopback() && !ip.is_unspecified() => Some(ip),
        _ => None,
    }
}

fn http_base(ip: IpAddr, port: u16) -> String {
    format!("http://{}", SocketAddr::new(ip, port))
}

/// The base URL LAN clients should use when no request tells us more,
/// with a note when that address is not reachable from other machines.
pub fn advertised_base(
    public_url: Option<&str>,
    http_addr: SocketAddr,
) -> (String, Option<String>) {
    if let Some(u) = public_url {
        return (trim_base(u), None);
    }
    let ip = http_addr.ip();
    if !ip.is_unspecified() {
        let note = ip.is_loopback().then(|| {
            format!(
                "server.listen ({http_addr}) is a loopback address: Plex on another machine cannot reach it; listen on 0.0.0.0 or a LAN address"
            )
        });
        return (http_base(ip, http_addr.port()), note);
    }
    match primary_lan_ipv4() {
        Some(lan) => (http_base(IpAddr::V4(lan), http_addr.port()), None),
        None => (
            http_base(IpAddr::V4(Ipv4Addr::LOCALHOST), http_addr.port()),
            Some(
                "no non-loopback IPv4 address found (no default route): set server.public_url"
                    .to_string(),
            ),
        ),
    }
}

/// The base URL for a discovery answer to `peer`.
pub fn base_for_peer(public_url: Option<&str>, http_addr: SocketAddr, peer: IpAddr) -> String {
    if let Some(u) = public_url {
        return trim_base(u);
    }
    if !http_addr.ip().is_unspecified() {
        return http_base(http_addr.ip(), http_addr.port());
    }
    match local_ip_towards(peer) {
        Some(ip) if !ip.is_unspecified() => http_base(ip, http_addr.port()),
        _ => advertised_base(None, http_addr).0,
    }
}

/// `host[:port]` from a Host header, when it is a plausible authority (a
/// hostile value must not end up in our JSON or XML as anything else).
pub fn valid_host(host: &str) -> bool {
    !host.is_empty()
        && host.len() <= 255
        && host.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b':' | b'[' | b']')
        })
        && !host.starts_with(':')
}

/// The base URL for an HTTP response: public URL, else the request's Host
/// (or the authority of an absolute-form URI) when `hosts` allows it, else
/// the advertised base.
pub fn request_base(
    public_url: Option<&str>,
    http_addr: SocketAddr,
    hosts: &HostPolicy,
    uri: &axum::http::Uri,
    headers: &HeaderMap,
) -> String {
    if let Some(u) = public_url {
        return trim_base(u);
    }
    let host = uri.authority().map(|a| a.as_str().to_string()).or_else(|| {
        headers
            .get(HOST)
            .and_then(|h| h.to_str().ok())
            .map(str::to_string)
    });
    match host {
        Some(h) if valid_host(&h) && hosts.allows(&h) => format!("http://{h}"),
        _ => advertised_base(None, http_addr).0,
    }
}

/// What to enter in Plex and in other IPTV clients; printed by
/// `streamforge urls`, logged at start-up and served at `GET /api/urls`.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SetupUrls {
    /// What Plex's "enter its network address manually" box takes.
    pub tuner_address: String,
    pub base_url: String,
    pub discover_url: String,
    pub lineup_url: String,
    pub m3u_url: String,
    pub xmltv_url: String,
    /// Warnings about reachability; empty when all is well.
    pub notes: Vec<String>,
}

impl SetupUrls {
    pub fn new(public_url: Option<&str>, http_addr: SocketAddr) -> Self {
        let (base, note) = advertised_base(public_url, http_addr);
        Self::from_base(base, note.into_iter().collect())
    }

    pub fn from_base(base: String, notes: Vec<String>) -> Self {
        let tuner_address = match url::Url::parse(&base) {
            Ok(u) if u.path() == "/" || u.path().is_empty() => {
                match (u.host_str(), u.port_or_known_default()) {
                    (Some(h), Some(p)) => format!("{h}:{p}"),
                    _ => base.clone(),
                }
            }
            _ => base.clone(),
        };
        Self {
            tuner_address,
            discover_url: format!("{base}/discover.json"),
            lineup_url: format!("{base}/lineup.json"),
            m3u_url: format!("{base}/playlist.m3u"),
            xmltv_url: format!("{base}/epg.xml"),
            base_url: base,
            notes,
        }
    }

    /// Human-readable lines for the terminal.
    pub fn lines(&self) -> Vec<String> {
        let mut v = vec![
            "Plex: Settings > Live TV & DVR > Set up Plex DVR; if the tuner is not listed,"
                .to_string(),
            format!(
                "      enter its network address manually: {}",
                self.tuner_address
            ),
            format!("M3U playlist (other IPTV clients):      {}", self.m3u_url),
            format!("XMLTV guide:                            {}", self.xmltv_url),
            format!(
                "HDHomeRun discovery (for checking):     {}",
                self.discover_url
            ),
        ];
        v.extend(self.notes.iter().map(|n| format!("note: {n}")));
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_url_wins_and_loses_its_slash() {
        let addr: SocketAddr = "0.0.0.0:5004".parse().unwrap();
        let u = SetupUrls::new(Some("https://tv.example.org/sf/"), addr);
        assert_eq!(u.base_url, "https://tv.example.org/sf");
        assert_eq!(u.xmltv_url, "https://tv.example.org/sf/epg.xml");
        assert_eq!(u.tuner_address, "https://tv.example.org/sf");
        let u = SetupUrls::new(Some("http://192.168.1.9:5004"), addr);
        assert_eq!(u.tuner_address, "192.168.1.9:5004");
        assert!(u.notes.is_empty());
    }

    #[test]
    fn specific_listen_address_is_used_as_is() {
        let u = SetupUrls::new(None, "192.168.1.20:6077".parse().unwrap());
        assert_eq!(u.base_url, "http://192.168.1.20:6077");
        assert_eq!(u.m3u_url, "http://192.168.1.20:6077/playlist.m3u");
        let u = SetupUrls::new(None, "127.0.0.1:6077".parse().unwrap());
        assert_eq!(u.notes.len(), 1, "loopback listen gets a warning");
    }

    #[test]
    fn unspecified_listen_uses_a_lan_address() {
        let u = SetupUrls::new(None, "0.0.0.0:5004".parse().unwrap());
        match primary_lan_ipv4() {
            Some(ip) => assert_eq!(u.base_url, format!("http://{ip}:5004")),
            None => assert_eq!(u.notes.len(), 1),
        }
        assert!(!u.base_url.contains("0.0.0.0"));
    }

    #[test]
    fn loopback_peer_gets_loopback() {
        let b = base_for_peer(
            None,
            "0.0.0.0:5004".parse().unwrap(),
            IpAddr::V4(Ipv4Addr::LOCALHOST),
        );
        assert_eq!(b, "http://127.0.0.1:5004");
    }

    #[test]
    fn host_header_rules() {
        let addr: SocketAddr = "0.0.0.0:5004".parse().unwrap();
        let hosts = HostPolicy::with_interfaces(&crate::config::ServerConfig::default(), || {
            [IpAddr::V4(Ipv4Addr::new(10, 1, 2, 3))]
                .into_iter()
                .collect()
        });
        let uri: axum::http::Uri = "/discover.json".parse().unwrap();
        let mut h = HeaderMap::new();
        h.insert(HOST, "10.1.2.3:5004".parse().unwrap());
        assert_eq!(
            request_base(None, addr, &hosts, &uri, &h),
            "http://10.1.2.3:5004"
        );
        assert_eq!(
            request_base(Some("http://x.lan:1/"), addr, &hosts, &uri, &h),
            "http://x.lan:1"
        );
        h.insert(HOST, "evil\"><x".parse().unwrap());
        assert!(!request_base(None, addr, &hosts, &uri, &h).contains("evil"));
        // A name we are not (DNS rebinding), or an absolute-form URI
        // pointing elsewhere, never becomes the base.
        h.insert(HOST, "rebind.attacker.example:5004".parse().unwrap());
        assert!(!request_base(None, addr, &hosts, &uri, &h).contains("attacker"));
        h.insert(HOST, "10.1.2.3:5004".parse().unwrap());
        let abs: axum::http::Uri = "http://elsewhere.example/lineup.json".parse().unwrap();
        assert!(!request_base(None, addr, &hosts, &abs, &h).contains("elsewhere"));
        assert!(valid_host("[::1]:5004"));
        assert!(!valid_host(""));
    }
}
