//! SSDP messages, pure: parsing an M-SEARCH from bytes, choosing what to
//! answer, formatting answers and NOTIFYs. No sockets here (the responder
//! is `ssdp`), so the parser can be fuzzed on its own.

use std::net::Ipv4Addr;

use super::hdhomerun::DEVICE_TYPE;

pub const GROUP: Ipv4Addr = Ipv4Addr::new(239, 255, 255, 250);
pub const PORT: u16 = 1900;
pub const MAX_AGE: u32 = 1800;
pub const ROOT_DEVICE: &str = "upnp:rootdevice";
/// A parsed M-SEARCH.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MSearch {
    pub st: String,
    /// Seconds; absent for unicast searches (answer at once).
    pub mx: Option<u32>,
}

/// Parses an `M-SEARCH * HTTP/1.1` with `MAN: "ssdp:discover"`; anything
/// else (NOTIFY, responses, garbage) is `None`.
pub fn parse_msearch(bytes: &[u8]) -> Option<MSearch> {
    let text = std::str::from_utf8(bytes).ok()?;
    let mut lines = text.split("\r\n").flat_map(|l| l.split('\n'));
    let request_line = lines.next()?.trim();
    let mut parts = request_line.split_whitespace();
    if parts.next()? != "M-SEARCH" || parts.next()? != "*" || !parts.next()?.starts_with("HTTP/1.")
    {
        return None;
    }
    let (mut man, mut st, mut mx) = (None, None, None);
    for line in lines {
        if line.trim().is_empty() {
            break;
        }
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        match name.trim().to_ascii_uppercase().as_str() {
            "MAN" => man = Some(value.trim_matches('"').to_string()),
            "ST" => st = Some(value.to_string()),
            "MX" => mx = value.parse::<u32>().ok(),
            _ => {}
        }
    }
    if man.as_deref() != Some("ssdp:discover") {
        return None;
    }
    Some(MSearch {
        st: st.filter(|s| !s.is_empty())?,
        mx,
    })
}

/// The targets to answer for a search target: the three we advertise for
/// `ssdp:all` (UPnP's rule: one answer per target), the one asked for
/// otherwise, none for a target we do not have.
pub fn targets(st: &str, udn: &str) -> Vec<String> {
    let uuid = format!("uuid:{udn}");
    match st {
        "ssdp:all" => vec![ROOT_DEVICE.to_string(), uuid, DEVICE_TYPE.to_string()],
        ROOT_DEVICE | DEVICE_TYPE => vec![st.to_string()],
        _ if st.eq_ignore_ascii_case(&uuid) => vec![uuid],
        _ => Vec::new(),
    }
}

/// The USN for a target: `uuid:<udn>` alone for the UUID target, else
/// `uuid:<udn>::<target>`.
pub fn usn(target: &str, udn: &str) -> String {
    if target.starts_with("uuid:") {
        format!("uuid:{udn}")
    } else {
        format!("uuid:{udn}::{target}")
    }
}

pub fn server_header() -> String {
    format!(
        "{}/1.0 UPnP/1.0 StreamForge/{}",
        std::env::consts::OS,
        env!("CARGO_PKG_VERSION")
    )
}

/// The unicast answer to an M-SEARCH.
pub fn search_response(target: &str, location: &str, udn: &str) -> String {
    format!(
        "HTTP/1.1 200 OK\r\nCACHE-CONTROL: max-age={MAX_AGE}\r\nEXT:\r\nLOCATION: {location}\r\nSERVER: {}\r\nST: {target}\r\nUSN: {}\r\n\r\n",
        server_header(),
        usn(target, udn)
    )
}

pub fn notify_alive(target: &str, location: &str, udn: &str) -> String {
    format!(
        "NOTIFY * HTTP/1.1\r\nHOST: {GROUP}:{PORT}\r\nCACHE-CONTROL: max-age={MAX_AGE}\r\nLOCATION: {location}\r\nNT: {target}\r\nNTS: ssdp:alive\r\nSERVER: {}\r\nUSN: {}\r\n\r\n",
        server_header(),
        usn(target, udn)
    )
}

pub fn notify_byebye(target: &str, udn: &str) -> String {
    format!(
        "NOTIFY * HTTP/1.1\r\nHOST: {GROUP}:{PORT}\r\nNT: {target}\r\nNTS: ssdp:byebye\r\nUSN: {}\r\n\r\n",
        usn(target, udn)
    )
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    const UDN: &str = "105404be-5354-4652-8000-0000105404be";

    #[test]
    fn parses_a_standard_search() {
        let m = b"M-SEARCH * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\nMAN: \"ssdp:discover\"\r\nMX: 3\r\nST: upnp:rootdevice\r\n\r\n";
        assert_eq!(
            parse_msearch(m),
            Some(MSearch {
                st: "upnp:rootdevice".into(),
                mx: Some(3)
            })
        );
        let lower = b"M-SEARCH * HTTP/1.1\nman: \"ssdp:discover\"\nst: ssdp:all\n\n";
        assert_eq!(
            parse_msearch(lower),
            Some(MSearch {
                st: "ssdp:all".into(),
                mx: None
            })
        );
    }

    #[test]
    fn rejects_other_messages() {
        assert_eq!(
            parse_msearch(b"NOTIFY * HTTP/1.1\r\nNT: upnp:rootdevice\r\nNTS: ssdp:alive\r\n\r\n"),
            None
        );
        assert_eq!(
            parse_msearch(b"M-SEARCH * HTTP/1.1\r\nST: ssdp:all\r\n\r\n"),
            None,
            "no MAN"
        );
        assert_eq!(
            parse_msearch(b"M-SEARCH * HTTP/1.1\r\nMAN: \"ssdp:discover\"\r\n\r\n"),
            None,
            "no ST"
        );
        assert_eq!(parse_msearch(&[0xff, 0xfe, 0]), None);
    }

    #[test]
    fn target_rules() {
        assert_eq!(targets("ssdp:all", UDN).len(), 3);
        assert_eq!(targets(ROOT_DEVICE, UDN), [ROOT_DEVICE]);
        assert_eq!(targets(DEVICE_TYPE, UDN), [DEVICE_TYPE]);
        assert_eq!(
            targets(&format!("uuid:{UDN}"), UDN),
            [format!("uuid:{UDN}")]
        );
        assert!(targets("urn:schemas-upnp-org:device:InternetGatewayDevice:1", UDN).is_empty());
        assert!(targets("uuid:someone-else", UDN).is_empty());
    }

    #[test]
    fn response_format() {
        let r = search_response(ROOT_DEVICE, "http://10.0.0.2:5004/device.xml", UDN);
        assert!(r.starts_with("HTTP/1.1 200 OK\r\n"));
        assert!(r.contains("\r\nCACHE-CONTROL: max-age=1800\r\n"));
        assert!(r.contains("\r\nEXT:\r\n"));
        assert!(r.contains("\r\nLOCATION: http://10.0.0.2:5004/device.xml\r\n"));
        assert!(r.contains(&format!("\r\nUSN: uuid:{UDN}::upnp:rootdevice\r\n")));
        assert!(r.ends_with("\r\n\r\n"));
        let b = notify_byebye(DEVICE_TYPE, UDN);
        assert!(
            b.contains("NTS: ssdp:byebye\r\n")
                && b.contains(&format!("USN: uuid:{UDN}::{DEVICE_TYPE}\r\n"))
        );
    }

    proptest! {
        #[test]
        fn garbage_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
            let _ = parse_msearch(&bytes);
        }

        #[test]
        fn header_soup_never_panics(lines in proptest::collection::vec("[ -~]{0,40}", 0..12)) {
            let msg = format!("M-SEARCH * HTTP/1.1\r\n{}\r\n\r\n", lines.join("\r\n"));
            let _ = parse_msearch(msg.as_bytes());
        }
    }
}
