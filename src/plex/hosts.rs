//! Which `Host` values we answer to as ourselves: the machine's own
//! addresses (read from its interfaces, refreshed every 30 s so a DHCP
//! change is picked up), loopback names, the machine's host name (and
//! `<name>.local`), `public_url`'s host and `server.allowed_hosts`. A
//! request naming any other host (a DNS-rebinding page, an absolute-form
//! URI pointing elsewhere) never has its `Host` turned into a `BaseURL`,
//! and management routes refuse it (`crate::http::auth`).

use std::collections::HashSet;
use std::net::IpAddr;
use std::str::FromStr;
use std::time::{Duration, Instant};

use axum::http::uri::Authority;
use parking_lot::Mutex;

use crate::config::ServerConfig;

const REFRESH: Duration = Duration::from_secs(30);

#[derive(Debug)]
pub struct HostPolicy {
    /// Lower-case names and addresses from the config and the machine.
    names: HashSet<String>,
    /// The interfaces' addresses and when they were read. A
    /// `parking_lot::Mutex`: held to compare, or to swap in a fresh read.
    own: Mutex<(Instant, HashSet<IpAddr>)>,
    /// Read the interfaces (tests pass a fixed set).
    read_own: fn() -> HashSet<IpAddr>,
}

fn interface_addrs() -> HashSet<IpAddr> {
    if_addrs::get_if_addrs()
        .map(|v| v.into_iter().map(|i| i.ip()).collect())
        .unwrap_or_default()
}

/// The host part of `host[:port]` or `[v6]:port`, lower-case, without a
/// trailing dot; `None` when it is not an authority at all.
pub fn host_part(authority: &str) -> Option<String> {
    if authority.contains('@') {
        return None;
    }
    let a = Authority::from_str(authority).ok()?;
    let h = a.host().trim_start_matches('[').trim_end_matches(']');
    let h = h.trim_end_matches('.').to_ascii_lowercase();
    (!h.is_empty()).then_some(h)
}

impl HostPolicy {
    pub fn new(server: &ServerConfig) -> Self {
        Self::with_interfaces(server, interface_addrs)
    }

    pub fn with_interfaces(server: &ServerConfig, read_own: fn() -> HashSet<IpAddr>) -> Self {
        let mut names: HashSet<String> = ["localhost", "localhost.localdomain"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        if let Some(h) = server
            .public_url
            .as_deref()
            .and_then(|u| url::Url::parse(u).ok())
            .and_then(|u| u.host_str().map(str::to_string))
        {
            names.insert(
                h.trim_start_matches('[')
                    .trim_end_matches(']')
                    .to_ascii_lowercase(),
            );
        }
        if let Some(ip) = server
            .listen
            .parse::<std::net::SocketAddr>()
            .ok()
            .map(|a| a.ip())
            && !ip.is_unspecified()
        {
            names.insert(ip.to_string());
        }
        if let Ok(h) = hostname::get()
            && let Some(h) = h.to_str()
            && !h.is_empty()
        {
            let h = h.to_ascii_lowercase();
            names.insert(format!("{h}.local"));
            names.insert(h);
        }
        for h in &server.allowed_hosts {
            names.insert(
                h.trim_start_matches('[')
                    .trim_end_matches(']')
                    .trim_end_matches('.')
                    .to_ascii_lowercase(),
            );
        }
        Self {
            names,
            own: Mutex::new((Instant::now(), read_own())),
            read_own,
        }
    }

    /// Whether `authority` (a `Host` header or a URI's authority) names us.
    pub fn allows(&self, authority: &str) -> bool {
        let Some(host) = host_part(authority) else {
            return false;
        };
        if self.names.contains(&host) {
            return true;
        }
        let Ok(ip) = host.parse::<IpAddr>() else {
            return false;
        };
        if ip.is_loopback() {
            return true;
        }
        let mut own = self.own.lock();
        if own.1.contains(&ip) {
            return true;
        }
        if own.0.elapsed() >= REFRESH {
            *own = (Instant::now(), (self.read_own)());
            return own.1.contains(&ip);
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lan() -> HashSet<IpAddr> {
        ["192.168.1.20".parse().unwrap(), "fe80::1".parse().unwrap()]
            .into_iter()
            .collect()
    }

    #[test]
    fn own_addresses_names_and_configured_hosts_are_allowed() {
        let server = ServerConfig {
            public_url: Some("http://tv.example.org:8080/sf".into()),
            allowed_hosts: vec!["Plex-Box.LAN".into()],
            ..ServerConfig::default()
        };
        let p = HostPolicy::with_interfaces(&server, lan);
        for ok in [
            "192.168.1.20:5004",
            "192.168.1.20",
            "[fe80::1]:5004",
            "127.0.0.1:5004",
            "[::1]:5004",
            "localhost:5004",
            "tv.example.org",
            "plex-box.lan:5004",
            "plex-box.lan.",
        ] {
            assert!(p.allows(ok), "{ok} should be allowed");
        }
        for bad in [
            "evil.example.com:5004",
            "192.168.1.21:5004",
            "attacker.tv.example.org",
            "user@192.168.1.20",
            "",
            "a b",
            "evil\"><x",
        ] {
            assert!(!p.allows(bad), "{bad} should be refused");
        }
    }

    #[test]
    fn host_part_strips_port_brackets_and_case() {
        assert_eq!(host_part("Example.ORG:80").as_deref(), Some("example.org"));
        assert_eq!(host_part("[::1]:5004").as_deref(), Some("::1"));
        assert_eq!(host_part("x.lan.").as_deref(), Some("x.lan"));
        assert_eq!(host_part("u:p@x.lan"), None);
    }
}
