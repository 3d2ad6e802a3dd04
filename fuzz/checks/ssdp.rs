//! Any bytes as an SSDP datagram: `parse_msearch` returns a search or
//! `None`, never panics; a search it accepts, written back out as an
//! M-SEARCH, parses to the same search; what we would answer is at most
//! our three targets and every answer is one well-formed header block.
//!
//! The invariants of fuzz target `ssdp`, shared with the stable
//! replay of fuzz/regressions/ (tests/fuzz_regressions.rs).

use streamforge::plex::ssdp_msg::{parse_msearch, search_response, targets};

const UDN: &str = "105404be-5354-4652-8000-0000105404be";

/// Panics when `data` breaks an invariant.
pub fn run(data: &[u8]) {
    let Some(search) = parse_msearch(data) else {
        return;
    };
    assert!(!search.st.is_empty());
    assert_eq!(search.st, search.st.trim());
    let mx = search
        .mx
        .map(|m| format!("MX: {m}\r\n"))
        .unwrap_or_default();
    let again = format!(
        "M-SEARCH * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\nMAN: \"ssdp:discover\"\r\n{mx}ST: {}\r\n\r\n",
        search.st
    );
    assert_eq!(parse_msearch(again.as_bytes()), Some(search.clone()));
    let answers = targets(&search.st, UDN);
    assert!(answers.len() <= 3);
    for t in &answers {
        let r = search_response(t, "http://127.0.0.1:5004/device.xml", UDN);
        assert!(r.starts_with("HTTP/1.1 200 OK\r\n") && r.ends_with("\r\n\r\n"));
        // One header block: the search's text cannot add lines to it.
        assert_eq!(r.matches("\r\n\r\n").count(), 1);
    }
}
