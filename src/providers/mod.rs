//! Provider formats: what an IPTV provider hands us, turned into typed
//! values.
//!
//! What belongs here now: the pure parsers, one module per format. They
//! take bytes (`&[u8]`) or a `std::io::BufRead` and return values or a
//! typed error that carries a position (line, byte offset, JSON line and
//! column). They do no I/O of their own (no sockets, no files, no clock),
//! never panic on any input (they are fuzzed, see `fuzz/`) and keep no
//! credential in what they return.
//!
//! - [`m3u`]: extended M3U playlists (`#EXTM3U`, `#EXTINF`, `#EXTVLCOPT`…).
//! - [`xtream`]: Xtream Codes `player_api.php` JSON and URL builders.
//! - [`xmltv`]: a streaming XMLTV guide reader with bounded memory.
//!
//! What comes later, on top of these types: the sync (HTTP fetch with
//! redacted logging, the SQLite store, scheduling, the API). It must not
//! move into the parser modules.

use std::borrow::Cow;
use std::io::Read;

use flate2::read::MultiGzDecoder;

pub mod cli;
pub mod m3u;
pub mod outcome;
pub mod schedule;
pub mod sync;
pub mod xmltv;
pub mod xmltv_sync;
pub mod xtream;

/// The two bytes every gzip member starts with.
pub const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// Why a gzip body could not be inflated.
#[derive(Debug, thiserror::Error)]
pub enum GzipError {
    /// The inflated body would exceed the caller's cap (a gzip bomb, or a
    /// body far larger than any real playlist).
    #[error("gzip body inflates to more than {limit} bytes")]
    TooLarge { limit: usize },
    /// The gzip stream is corrupt or truncated; `offset` is how many
    /// inflated bytes were produced before the failure.
    #[error("corrupt gzip body after {offset} inflated bytes: {source}")]
    Corrupt {
        offset: usize,
        #[source]
        source: std::io::Error,
    },
}

/// Whether `bytes` starts with the gzip magic (the file name and the
/// `Content-Type` are not trusted: providers mislabel both).
pub fn is_gzip(bytes: &[u8]) -> bool {
    bytes.starts_with(&GZIP_MAGIC)
}

/// Returns `bytes` inflated when they start with the gzip magic, borrowed
/// unchanged otherwise. Concatenated gzip members are all inflated. More
/// than `max_len` inflated bytes is [`GzipError::TooLarge`].
pub fn gunzip_if_needed(bytes: &[u8], max_len: usize) -> Result<Cow<'_, [u8]>, GzipError> {
    if !is_gzip(bytes) {
        return Ok(Cow::Borrowed(bytes));
    }
    let mut out = Vec::with_capacity(bytes.len().saturating_mul(4).min(max_len));
    // One byte past the cap tells "exactly the cap" from "more".
    let cap = u64::try_from(max_len).unwrap_or(u64::MAX).saturating_add(1);
    let mut decoder = MultiGzDecoder::new(bytes).take(cap);
    if let Err(source) = decoder.read_to_end(&mut out) {
        return Err(GzipError::Corrupt {
            offset: out.len(),
            source,
        });
    }
    if out.len() > max_len {
        return Err(GzipError::TooLarge { limit: max_len });
    }
    Ok(Cow::Owned(out))
}

/// Whether the text, past a BOM and leading whitespace, starts like a
/// markup page (`<!DOCTYPE html>`, `<html>`, `<?xml …>`): what panels and
/// CDNs send for errors, logins and captchas.
pub(crate) fn looks_like_markup(bytes: &[u8]) -> bool {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    bytes
        .iter()
        .find(|b| !b.is_ascii_whitespace())
        .is_some_and(|&b| b == b'<')
}

/// The `<title>` of an HTML page, whitespace collapsed, at most 80
/// characters, with every word that could carry a credential (a URL, a
/// path, a `key=value`, an address) replaced by `***`. None when there is
/// no title.
pub(crate) fn page_title_snippet(bytes: &[u8]) -> Option<String> {
    const MAX_SCAN: usize = 64 * 1024;
    const MAX_CHARS: usize = 80;
    let head = String::from_utf8_lossy(&bytes[..bytes.len().min(MAX_SCAN)]);
    let lower = head.to_ascii_lowercase();
    let open = lower.find("<title")?;
    let start = open + lower[open..].find('>')? + 1;
    let end = start
        + lower[start..]
            .find("</title")
            .unwrap_or(lower.len() - start);
    // `to_ascii_lowercase` keeps byte offsets, so they index `head` too.
    let title = head.get(start..end)?;
    let mut out = String::new();
    for word in title.split_whitespace() {
        let word = if word.contains(['/', '=', '@', '?', '&', ':']) {
            "***"
        } else {
            word
        };
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    if out.chars().count() > MAX_CHARS {
        out = out.chars().take(MAX_CHARS).collect();
        out.push('…');
    }
    (!out.is_empty()).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn gz(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn plain_bytes_are_borrowed() {
        let out = gunzip_if_needed(b"#EXTM3U\n", 10).unwrap();
        assert!(matches!(out, Cow::Borrowed(b"#EXTM3U\n")));
    }

    #[test]
    fn gzip_is_detected_by_magic_and_members_concatenate() {
        let mut two = gz(b"hello ");
        two.extend(gz(b"world"));
        assert_eq!(&*gunzip_if_needed(&two, 100).unwrap(), b"hello world");
    }

    #[test]
    fn gzip_bomb_is_refused_at_the_cap() {
        let bomb = gz(&vec![0u8; 1 << 20]);
        assert!(bomb.len() < 4096);
        let err = gunzip_if_needed(&bomb, 1000).unwrap_err();
        assert!(matches!(err, GzipError::TooLarge { limit: 1000 }), "{err}");
        // Exactly the cap is fine.
        assert_eq!(gunzip_if_needed(&gz(b"12345"), 5).unwrap().len(), 5);
    }

    #[test]
    fn truncated_gzip_is_corrupt() {
        let body = gz(b"some playlist text that is long enough");
        let err = gunzip_if_needed(&body[..body.len() - 6], 1000).unwrap_err();
        assert!(matches!(err, GzipError::Corrupt { .. }), "{err}");
        let err = gunzip_if_needed(&GZIP_MAGIC, 1000).unwrap_err();
        assert!(matches!(err, GzipError::Corrupt { .. }), "{err}");
    }

    #[test]
    fn title_snippet_hides_credential_like_words() {
        let page = b"<html><head><TITLE>\n Error  http://h/get.php?username=bob&password=s3cret user=bob\n</TITLE>";
        assert_eq!(page_title_snippet(page).as_deref(), Some("Error *** ***"));
        assert_eq!(page_title_snippet(b"<html><body>x</body>"), None);
        assert_eq!(page_title_snippet(b"<title>"), None);
        let long = format!("<title>{}</title>", "word ".repeat(40));
        assert_eq!(
            page_title_snippet(long.as_bytes()).unwrap().chars().count(),
            81
        );
    }

    #[test]
    fn markup_sniffing() {
        assert!(looks_like_markup(b"\xEF\xBB\xBF \r\n<!DOCTYPE html>"));
        assert!(!looks_like_markup(b"#EXTM3U"));
        assert!(!looks_like_markup(b""));
    }
}
