//! Redaction of provider credentials in URLs. Every log line, event, API
//! field and error message that can carry an upstream URL goes through
//! [`redact`]; nothing else in the crate formats a provider URL.

use url::Url;

/// Query parameters whose values are secrets.
const SECRET_PARAMS: &[&str] = &[
    "username",
    "password",
    "user",
    "pass",
    "passwd",
    "pwd",
    "token",
    "auth",
    "key",
    "apikey",
    "api_key",
    "access_token",
    "signature",
    "sig",
];

/// Returns `url` as scheme, host, port and a masked remainder: user info
/// becomes `***:***`, the path keeps its first segment and a last segment
/// that is a plain number (a stream id, `123.ts`), every other segment is
/// `***`, every query value is `***` (names stay), a fragment is `#***`.
/// An allowlist, not a guess at secret shapes: `/live/U/P/1.ts`,
/// `/iptv/live/U/P/2.ts`, `/U/P/abc.ts`, `?u=U&p=P`, `/token/T/…` and
/// `#password=…` all lose their secrets. Text that is not a URL is
/// returned unchanged when it has no `://`, and as `<unparsable url>`
/// otherwise, so a malformed URL holding a password cannot leak.
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
                if i == 0 || seg.is_empty() || (last && is_stream_number(seg)) {
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
            .map(|(k, _)| format!("{}=***", short(&k)))
            .collect();
        out.push('?');
        out.push_str(&names.join("&"));
    }
    if u.fragment().is_some() {
        out.push_str("#***");
    }
    out
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

/// Query names are shown, but a name is no place for a secret either:
/// long or odd ones are cut.
fn short(name: &str) -> String {
    if name.len() <= 32
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
    {
        name.to_string()
    } else {
        "***".to_string()
    }
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

/// Redacts every URL (`scheme://…` up to whitespace or a quote) inside a
/// free text such as a parser's error message.
pub fn redact_in_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(pos) = rest.find("://") {
        // The scheme: the letters right before "://".
        let head = &rest[..pos];
        let scheme_start = head
            .rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '+' || c == '-' || c == '.'))
            .map(|i| i + 1)
            .unwrap_or(0);
        let tail = &rest[pos..];
        let end = tail
            .find(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | '`' | '<' | '>'))
            .unwrap_or(tail.len());
        out.push_str(&head[..scheme_start]);
        out.push_str(&redact(&rest[scheme_start..pos + end]));
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn xtream_live_path() {
        assert_eq!(
            redact("http://p.example:8080/live/alice/s3cret/123.ts"),
            "http://p.example:8080/live/***/***/123.ts"
        );
        assert_eq!(
            redact("http://p.example/alice/s3cret/123"),
            "http://p.example/alice/***/123"
        );
    }

    #[test]
    fn query_and_userinfo() {
        let r = redact("http://bob:pw@h.example/get.php?username=alice&password=s3cret&type=m3u");
        assert!(
            !r.contains("alice")
                && !r.contains("s3cret")
                && !r.contains("bob")
                && !r.contains("pw@"),
            "{r}"
        );
        assert!(r.contains("username=***&password=***&type=***"), "{r}");
        assert!(r.starts_with("http://***:***@h.example/get.php?"), "{r}");
    }

    #[test]
    fn urls_inside_text() {
        let t = r#"invalid type: string "http://h.example/live/alice/s3cret/1.ts", expected a sequence"#;
        let r = super::redact_in_text(t);
        assert_eq!(
            r,
            r#"invalid type: string "http://h.example/live/***/***/1.ts", expected a sequence"#
        );
        let t = "1 | streams = [\"http://u:pw@h.example/a?password=pw\"\n";
        let r = super::redact_in_text(t);
        assert!(!r.contains("pw@") && !r.contains("password=pw"), "{r}");
        assert_eq!(super::redact_in_text("no urls here"), "no urls here");
    }

    #[test]
    fn plain_urls_and_text_unchanged() {
        assert_eq!(
            redact("http://h.example/a/b.m3u8"),
            "http://h.example/a/***"
        );
        assert_eq!(redact("http://h.example:8080/"), "http://h.example:8080/");
        assert_eq!(redact("/srv/tv/file.ts"), "/srv/tv/file.ts");
        assert_eq!(redact("ht!tp://user:pw@[bad"), "<unparsable url>");
    }

    /// Issue 9/12: the URL shapes the old guessing redaction missed.
    #[test]
    fn allowlist_hides_every_secret_shape() {
        let cases = [
            (
                "http://h.example/iptv/live/U1/P1/2.ts",
                "http://h.example/iptv/***/***/***/2.ts",
            ),
            (
                "http://h.example/LIVE/U1/P1/3.ts",
                "http://h.example/LIVE/***/***/3.ts",
            ),
            (
                "http://h.example/U1/P1/abc.ts",
                "http://h.example/U1/***/***",
            ),
            (
                "http://h.example/s.m3u?u=U1&p=P1",
                "http://h.example/s.m3u?u=***&p=***",
            ),
            (
                "http://h.example/x?secret=P1&passcode=P1&access-token=P1",
                "http://h.example/x?secret=***&passcode=***&access-token=***",
            ),
            (
                "https://b.s3.example/k?X-Amz-Signature=P1",
                "https://b.s3.example/k?X-Amz-Signature=***",
            ),
            (
                "http://h.example/token/P1/index.m3u8",
                "http://h.example/token/***/***",
            ),
            ("http://h.example/a#password=P1", "http://h.example/a#***"),
            ("http://h.example/a?P1=1", "http://h.example/a?P1=***"),
        ];
        for (url, want) in cases {
            assert_eq!(redact(url), want, "{url}");
        }
        assert!(!redact("http://h.example/live/U1/P1/9.ts").contains("P1"));
        assert_eq!(redact("concat:/etc/passwd|x"), "concat:/etc/***");
    }
}
