//! Redaction of provider credentials in URLs. Every log line, event, API
//! field and error message that can carry an upstream URL goes through
//! [`redact`]; nothing else in the crate formats a provider URL.
//!
//! An allowlist, not a guess at secret shapes: what is shown is the
//! scheme, host and port, a first path segment from [`SAFE_FIRST_SEGMENTS`],
//! a last segment that is a stream number, and query names from
//! [`SECRET_PARAMS`] or [`PLAIN_QUERY_NAMES`]; everything else is `***`. A shape nobody thought
//! of loses its secret by default.

use url::Url;

/// Query parameters whose values are secrets (for [`has_credentials`]);
/// their names are shown, their values never.
const SECRET_PARAMS: &[&str] = &[
    "username",
    "password",
    "user",
    "pass",
    "passwd",
    "pwd",
    "u",
    "p",
    "token",
    "auth",
    "key",
    "apikey",
    "api_key",
    "access_token",
    "access-token",
    "secret",
    "passcode",
    "signature",
    "sig",
    "x-amz-signature",
    "x-amz-credential",
    "x-amz-security-token",
];

/// First path segments shown as they are (compared case-insensitively):
/// the Xtream and HLS route names, never a user's own word. A path that
/// starts with anything else (`/alice/s3cret/1.ts`) starts with `***`.
pub const SAFE_FIRST_SEGMENTS: &[&str] = &[
    "live",
    "movie",
    "movies",
    "series",
    "hls",
    "iptv",
    "tv",
    "stream",
    "streams",
    "play",
    "playlist",
    "channel",
    "channels",
    "timeshift",
    "auto",
    "epg",
    "healthz",
    "get.php",
    "player_api.php",
    "xmltv.php",
    "panel_api.php",
    "playlist.m3u",
    "playlist.m3u8",
    "index.m3u8",
];

/// Query names shown besides [`SECRET_PARAMS`]' (compared
/// case-insensitively; their values never are). Any other name, which
/// could itself be a token (`?s3cret`), is `***`.
pub const PLAIN_QUERY_NAMES: &[&str] = &[
    "type",
    "output",
    "action",
    "category_id",
    "stream_id",
    "limit",
    "format",
    "expires",
];

/// Query names starting with these are shown too (S3 and CloudFront
/// presigned URLs), values masked like every other.
const SAFE_QUERY_PREFIXES: &[&str] = &["x-amz-"];

/// Returns `url` as scheme, host, port and a masked remainder: user info
/// becomes `***:***`, the path keeps a first segment from
/// [`SAFE_FIRST_SEGMENTS`] and a last segment that is a plain number (a
/// stream id, `123.ts`), every other segment is `***`, every query value
/// is `***` (names from [`SECRET_PARAMS`] and [`PLAIN_QUERY_NAMES`] stay), a fragment is `#***`.
/// `/live/U/P/1.ts`, `/iptv/live/U/P/2.ts`, `/U/P/abc.ts`, `?u=U&p=P`,
/// `/token/T/…` and `#password=…` all lose their secrets. Text that is
/// not a URL is returned unchanged when it has no `://`, and as
/// `<unparsable url>` otherwise, so a malformed URL holding a password
/// cannot leak. Redacting a redacted URL changes nothing.
pub fn redact(url: &str) -> String {
    let Ok(u) = Url::parse(url) else {
        return if url.contains("://") {
            "<unparsable url>".to_string()
        } else {
            url.to_string()
        };
    };
    let mut out = format!("{}:", u.scheme());
    if let Some(host) = u.host_str() {
        out.push_str("//");
        if !u.username().is_empty() || u.password().is_some() {
            out.push_str("***:***@");
        }
        out.push_str(host);
        if let Some(port) = u.port() {
            out.push_str(&format!(":{port}"));
        }
    }
    match u.path_segments() {
        Some(segs) => {
            let segs: Vec<&str> = segs.collect();
            for (i, seg) in segs.iter().enumerate() {
                out.push('/');
                let last = i + 1 == segs.len() && i > 0;
                if seg.is_empty()
                    || (i == 0 && is_safe_first_segment(seg))
                    || (last && is_stream_number(seg))
                {
                    out.push_str(seg);
                } else {
                    out.push_str("***");
                }
            }
        }
        // `data:`, `concat:` and the like: nothing after the scheme.
        None if !u.path().is_empty() => out.push_str("***"),
        None => {}
    }
    if u.query().is_some() {
        let names: Vec<String> = u
            .query_pairs()
            .map(|(k, _)| format!("{}=***", safe_query_name(&k)))
            .collect();
        out.push('?');
        out.push_str(&names.join("&"));
    }
    if u.fragment().is_some() {
        out.push_str("#***");
    }
    out
}

fn is_safe_first_segment(seg: &str) -> bool {
    SAFE_FIRST_SEGMENTS
        .iter()
        .any(|s| s.eq_ignore_ascii_case(seg))
}

/// `123`, `123.ts`, `4567.m3u8`: a stream number, shown.
fn is_stream_number(seg: &str) -> bool {
    let (stem, ext) = seg.split_once('.').unwrap_or((seg, ""));
    !stem.is_empty()
        && stem.len() <= 12
        && stem.bytes().all(|b| b.is_ascii_digit())
        && ext.len() <= 5
        && ext.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// A query name as shown: itself when on the allowlist, else `***`.
fn safe_query_name(name: &str) -> &str {
    let lower = name.to_ascii_lowercase();
    let known = SECRET_PARAMS.contains(&lower.as_str())
        || PLAIN_QUERY_NAMES.contains(&lower.as_str())
        || SAFE_QUERY_PREFIXES.iter().any(|p| {
            lower.starts_with(p)
                && lower.len() <= 40
                && lower
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        });
    if known { name } else { "***" }
}

/// Whether a URL carries credentials: user info or a secret query
/// parameter. (Xtream path credentials cannot be told from a plain path;
/// `redact` handles those by shape.)
pub fn has_credentials(u: &Url) -> bool {
    !u.username().is_empty()
        || u.password().is_some()
        || u.query_pairs()
            .any(|(k, _)| SECRET_PARAMS.contains(&k.to_ascii_lowercase().as_str()))
}

/// Redacts every URL (`scheme://…` up to whitespace or a quote, less
/// trailing punctuation) inside a free text such as a parser's error
/// message.
pub fn redact_in_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(pos) = rest.find("://") {
        // The scheme: the letters right before "://".
        let head = &rest[..pos];
        // (Past the whole character found: it may be more than one byte,
        // as the `redact` fuzz target showed with `h\u{FFFD}tp://…`.)
        let scheme_start = head
            .char_indices()
            .rfind(|&(_, c)| !(c.is_ascii_alphanumeric() || c == '+' || c == '-' || c == '.'))
            .map_or(0, |(i, c)| i + c.len_utf8());
        let tail = &rest[pos..];
        let end = tail
            .find(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | '`' | '<' | '>'))
            .unwrap_or(tail.len());
        // Sentence punctuation after a URL is the text's, not the URL's.
        let end = tail[..end]
            .trim_end_matches([',', ';', ':', '.', ')', ']'])
            .len()
            .max(3);
        out.push_str(&head[..scheme_start]);
        out.push_str(&redact(&rest[scheme_start..pos + end]));
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::{redact, redact_in_text};

    /// Issue 9/12: every URL shape that leaked, and the ones that must
    /// keep their useful parts, in one table. The planted secrets are
    /// `U1`, `P1` and `T1`; no output may hold them.
    #[test]
    fn every_secret_shape_is_masked_issue_12() {
        let cases = [
            // Xtream live paths, with and without a prefix, any case.
            (
                "http://p.example:8080/live/U1/P1/123.ts",
                "http://p.example:8080/live/***/***/123.ts",
            ),
            (
                "http://h.example/iptv/live/U1/P1/2.ts",
                "http://h.example/iptv/***/***/***/2.ts",
            ),
            (
                "http://h.example/LIVE/U1/P1/3.ts",
                "http://h.example/LIVE/***/***/3.ts",
            ),
            (
                "http://h.example/Movie/U1/P1/4.mkv",
                "http://h.example/Movie/***/***/4.mkv",
            ),
            (
                "http://h.example/series/U1/P1/5.mp4",
                "http://h.example/series/***/***/5.mp4",
            ),
            // The short Xtream form starts with the user name itself.
            (
                "http://h.example/U1/P1/abc.ts",
                "http://h.example/***/***/***",
            ),
            ("http://h.example/U1/P1/77", "http://h.example/***/***/77"),
            ("http://h.example/U1", "http://h.example/***"),
            // Query credentials under any name.
            (
                "http://h.example/get.php?username=U1&password=P1&type=m3u_plus",
                "http://h.example/get.php?username=***&password=***&type=***",
            ),
            (
                "http://h.example/s.m3u?u=U1&p=P1",
                "http://h.example/***?u=***&p=***",
            ),
            (
                "http://h.example/x?secret=P1&passcode=P1&access-token=T1",
                "http://h.example/***?secret=***&passcode=***&access-token=***",
            ),
            (
                "https://b.s3.example/k?X-Amz-Credential=U1&X-Amz-Signature=P1",
                "https://b.s3.example/***?X-Amz-Credential=***&X-Amz-Signature=***",
            ),
            // A query name that is itself the token.
            ("http://h.example/a?P1=1", "http://h.example/***?***=***"),
            (
                "http://h.example/hls/x?T1",
                "http://h.example/hls/***?***=***",
            ),
            // Path tokens.
            (
                "http://h.example/token/T1/index.m3u8",
                "http://h.example/***/***/***",
            ),
            (
                "http://h.example/hls/T1/index.m3u8",
                "http://h.example/hls/***/***",
            ),
            // Fragments and user info.
            (
                "http://h.example/live#password=P1",
                "http://h.example/live#***",
            ),
            (
                "http://U1:P1@h.example/live/9.ts",
                "http://***:***@h.example/live/9.ts",
            ),
            (
                "rtmp://U1@h.example:1935/live",
                "rtmp://***:***@h.example:1935/live",
            ),
            // What stays: host, port, empty paths, route names.
            ("http://h.example:8080/", "http://h.example:8080/"),
            ("https://h.example", "https://h.example/"),
            (
                "http://h.example/player_api.php?username=U1&password=P1&action=get_live_streams",
                "http://h.example/player_api.php?username=***&password=***&action=***",
            ),
            // Not URLs / not parsable.
            ("/srv/tv/file.ts", "/srv/tv/file.ts"),
            ("ht!tp://U1:P1@[bad", "<unparsable url>"),
            ("http://U1:P1@[::1/live", "<unparsable url>"),
            ("concat:/etc/P1|x", "concat:/***/***"),
            ("data:text/plain,P1", "data:***"),
        ];
        for (url, want) in cases {
            let got = redact(url);
            assert_eq!(got, want, "{url}");
            for secret in ["U1", "P1", "T1"] {
                assert!(!got.contains(secret), "{url} -> {got}");
            }
            assert_eq!(redact(&got), got, "not idempotent for {url}");
        }
    }

    #[test]
    fn urls_inside_text() {
        let t = r#"invalid type: string "http://h.example/live/alice/s3cret/1.ts", expected a sequence"#;
        assert_eq!(
            redact_in_text(t),
            r#"invalid type: string "http://h.example/live/***/***/1.ts", expected a sequence"#
        );
        let t = "1 | streams = [\"http://u:pw@h.example/a?password=pw\"\n";
        let r = redact_in_text(t);
        assert!(!r.contains("pw@") && !r.contains("password=pw"), "{r}");
        let t = "cannot open http://h.example/alice/s3cret/1.ts: 404; then rtsp://a:b@c/d";
        assert_eq!(
            redact_in_text(t),
            "cannot open http://h.example/***/***/1.ts: 404; then rtsp://***:***@c/***"
        );
        assert_eq!(redact_in_text("no urls here"), "no urls here");
        // Found by fuzzing: a multi-byte character right before the scheme.
        assert_eq!(
            redact_in_text("h\u{FFFD}tp://h.example/U1/P1"),
            "h\u{FFFD}tp://h.example/***/***"
        );
    }
}
