//! Redaction: any text is redacted without a panic and redacting twice
//! changes nothing; a URL built from fuzz bytes with a planted secret in
//! its user info, path, query or fragment never shows the secret, alone
//! or inside a longer text.
//!
//! The invariants of fuzz target `redact`, shared with the stable
//! replay of fuzz/regressions/ (tests/fuzz_regressions.rs).

use streamforge::redact::{redact, redact_in_text};

const SECRET: &str = "Zq9SECRETxK";
const SCHEMES: &[&str] = &[
    "http", "https", "rtmp", "rtsp", "udp", "srt", "ftp", "x-custom",
];

/// Panics when `data` breaks an invariant.
pub fn run(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let once = redact(&text);
    assert_eq!(redact(&once), once, "redact is not idempotent on {text:?}");
    let in_text = redact_in_text(&text);
    assert_eq!(
        redact_in_text(&in_text),
        in_text,
        "redact_in_text on {text:?}"
    );

    // Planted secret: [scheme][where][host len] host, then the rest.
    if data.len() < 3 || text.contains(SECRET) {
        return;
    }
    let scheme = SCHEMES[usize::from(data[0]) % SCHEMES.len()];
    let host_len = usize::from(data[2] % 24) + 1;
    let host: String = data[3..]
        .iter()
        .take(host_len)
        .map(|b| match b % 38 {
            n @ 0..=25 => char::from(b'a' + n),
            n @ 26..=35 => char::from(b'0' + n - 26),
            36 => '.',
            _ => '-',
        })
        .collect();
    let rest = String::from_utf8_lossy(data.get(3 + host_len..).unwrap_or(&[]));
    let url = match data[1] % 7 {
        0 => format!("{scheme}://u:{SECRET}@{host}/{rest}"),
        1 => format!("{scheme}://{SECRET}@{host}/{rest}"),
        2 => format!("{scheme}://{host}/{rest}/{SECRET}/1.ts"),
        3 => format!("{scheme}://{host}/{SECRET}{rest}"),
        4 => format!("{scheme}://{host}/live?{rest}&x={SECRET}"),
        5 => format!("{scheme}://{host}/live?{SECRET}={rest}"),
        _ => format!("{scheme}://{host}/live/{rest}#{SECRET}"),
    };
    let r = redact(&url);
    assert!(!r.contains(SECRET), "{url:?} -> {r:?}");
    // In a text a URL ends at whitespace or a quote (what follows is the
    // text's own words), so only a URL without them is one token there.
    let token = !url
        .chars()
        .any(|c| c.is_whitespace() || matches!(c, '"' | '\'' | '`' | '<' | '>'));
    if token {
        let r = redact_in_text(&format!("cannot open {url}: refused"));
        assert!(!r.contains(SECRET), "{url:?} in text -> {r:?}");
    }
}
