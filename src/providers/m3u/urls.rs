//! What a playlist URL may be and what identifies its stream: the scheme
//! and host check every entry passes, and the stable key that survives a
//! provider changing hosts or credentials.

use percent_encoding::percent_decode_str;
use url::Url;

/// Whether a playlist URL may be fetched: `http` or `https` with a host.
/// Everything else a stranger could write (`file://`, `concat:`, `udp://`,
/// `data:`, relative paths) is refused.
pub fn is_allowed_provider_url(url: &str) -> bool {
    check_provider_url(url).is_ok()
}

pub(super) fn check_provider_url(url: &str) -> Result<(), String> {
    let parsed = Url::parse(url.trim()).map_err(|_| "not an absolute URL".to_string())?;
    match parsed.scheme() {
        "http" | "https" => {}
        other => {
            let other: String = other.chars().take(16).collect();
            return Err(format!("scheme \"{other}\" is not http or https"));
        }
    }
    match parsed.host_str() {
        Some(h) if !h.is_empty() => Ok(()),
        _ => Err("no host".into()),
    }
}

/// The last non-empty path segment of a URL, percent-decoded; the host
/// when the path is empty.
pub(super) fn last_segment_name(url: &str) -> String {
    let Ok(u) = Url::parse(url) else {
        return url.to_string();
    };
    let segment = u
        .path_segments()
        .and_then(|mut s| s.rfind(|s| !s.is_empty()))
        .map(|s| percent_decode_str(s).decode_utf8_lossy().into_owned());
    segment
        .or_else(|| u.host_str().map(str::to_string))
        .unwrap_or_else(|| url.to_string())
}

/// Stems that name a container or a session, not a stream, also with a
/// number after them (`index.m3u8`, `chunklist_w1234.m3u8`, `stream1`).
const GENERIC_STEMS: &[&str] = &[
    "index",
    "playlist",
    "master",
    "chunklist",
    "chunklist_w",
    "stream",
    "live",
    "mono",
    "video",
    "media",
    "manifest",
];

/// The stream's identity from its URL path, surviving a change of host,
/// port or credentials: the last path segment without its extension,
/// when it looks like an id: ASCII letters, digits, `-`, `_`, at least one
/// digit, at most 64 characters, and not a generic name with a number
/// (`index2`, `chunklist_w123`). `http://h:8080/live/U/P/12345.ts` and
/// `http://other/U/P/12345` give `"12345"`; `index.m3u8` gives None.
pub fn stream_key(url: &str) -> Option<String> {
    let u = Url::parse(url.trim()).ok()?;
    let segment = u.path_segments()?.rfind(|s| !s.is_empty())?;
    let stem = segment.split('.').next()?;
    let id_like = !stem.is_empty()
        && stem.len() <= 64
        && stem
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        && stem.bytes().any(|b| b.is_ascii_digit())
        && !GENERIC_STEMS.contains(
            &stem
                .to_ascii_lowercase()
                .trim_end_matches(|c: char| c.is_ascii_digit() || c == '_' || c == '-'),
        );
    id_like.then(|| stem.to_string())
}
