//! Text that goes into XML and playlists: escaping that survives hostile
//! provider data, and image URLs that carry no credentials.

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
