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

/// Path prefixes of Xtream Codes stream URLs: `/live/U/P/123.ts`.
const XTREAM_KINDS: &[&str] = &["live", "movie", "series", "timeshift", "hls", "play"];

/// Returns `url` with user info, secret query values and Xtream path
/// credentials replaced by `***`. Text that is not a URL is returned
/// unchanged when it has no `://`, and as `<unparsable url>` otherwise, so a
/// malformed URL holding a password cannot leak through the fallback path.
pub fn redact(url: &str) -> String {
    let Ok(mut u) = Url::parse(url) else {
        return if url.contains("://") {
            "<unparsable url>".to_string()
        } else {
            url.to_string()
        };
    };
    if !u.username().is_empty() {
        let _ = u.set_username("***");
    }
    if u.password().is_some() {
        let _ = u.set_password(Some("***"));
    }
    if u.query().is_some() {
        let pairs: Vec<(String, String)> = u
            .query_pairs()
            .map(|(k, v)| {
                let secret = SECRET_PARAMS.contains(&k.to_ascii_lowercase().as_str());
                (
                    k.into_owned(),
                    if secret {
                        "***".to_string()
                    } else {
                        v.into_owned()
                    },
                )
            })
            .collect();
        u.query_pairs_mut().clear().extend_pairs(pairs);
    }
    if let Some(segs) = u.path_segments() {
        let segs: Vec<String> = segs.map(str::to_string).collect();
        if let Some(new) = redact_xtream_path(&segs) {
            u.set_path(&new.join("/"));
        }
    }
    // `url` percent-encodes `*` in queries; keep the marker readable.
    u.to_string().replace("%2A%2A%2A", "***")
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

/// `/live/U/P/123.ts` → `/live/***/***/123.ts`; `/U/P/123` (the short
/// form many panels serve) → `/***/***/123`.
fn redact_xtream_path(segs: &[String]) -> Option<Vec<String>> {
    let mut out = segs.to_vec();
    if segs.len() >= 4 && XTREAM_KINDS.contains(&segs[0].as_str()) {
        out[1] = "***".into();
        out[2] = "***".into();
        return Some(out);
    }
    let last_is_id = segs.last().map(|s| {
        let stem = s.split('.').next().unwrap_or("");
        !stem.is_empty() && stem.chars().all(|c| c.is_ascii_digit())
    });
    if segs.len() == 3 && last_is_id == Some(true) {
        out[0] = "***".into();
        out[1] = "***".into();
        return Some(out);
    }
    None
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
            "http://p.example/***/***/123"
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
        assert!(r.contains("username=***&password=***&type=m3u"), "{r}");
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
            "http://h.example/a/b.m3u8"
        );
        assert_eq!(redact("/srv/tv/file.ts"), "/srv/tv/file.ts");
        assert_eq!(redact("ht!tp://user:pw@[bad"), "<unparsable url>");
    }
}
