//! Extended M3U playlists, as IPTV providers write them.
//!
//! [`parse`] turns a playlist body (plain or gzip) into [`Entry`] values
//! and a list of what it [`Skipped`] and why; it is lenient about
//! everything a real playlist gets wrong (BOM, CRLF or lone CR, no
//! `#EXTM3U`, commas inside quoted attributes, unquoted attributes, an
//! `#EXTINF` without a URL) and refuses only what is clearly not a
//! playlist. A playlist is written by a stranger: only `http`/`https`
//! URLs with a host become entries ([`is_allowed_provider_url`]).
//! [`stream_key`] gives a stream an identity that survives the provider
//! changing hosts or credentials.
//!
//! No I/O here: fetching, redacted logging and storing belong to the sync.

use std::fmt;

use super::{GzipError, gunzip_if_needed};
use crate::redact::redact;

mod urls;

use urls::{check_provider_url, last_segment_name};
pub use urls::{is_allowed_provider_url, stream_key};

/// Inflated size [`parse`] accepts: far above any real playlist (100,000
/// entries are about 40 MB), low enough to refuse a gzip bomb.
pub const MAX_PLAYLIST_BYTES: usize = 256 * 1024 * 1024;

/// A parsed playlist. Its `Debug` output redacts credentials in URLs.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Playlist {
    /// Guide URLs from `x-tvg-url`, `url-tvg` and `tvg-url` on `#EXTM3U`
    /// (each may be a comma-separated list), in order, without duplicates.
    pub epg_urls: Vec<String>,
    pub entries: Vec<Entry>,
    /// Lines that held something but gave no entry.
    pub skipped: Vec<Skipped>,
}

/// One channel of a playlist. `url` is the stream address as written,
/// credentials included (it is needed to play); `Debug` redacts it.
#[derive(Clone, PartialEq, Eq)]
pub struct Entry {
    /// 1-based line of the entry's `#EXTINF`, or of its URL when it has none.
    pub line: usize,
    /// The display name after the `#EXTINF` comma; else `tvg-name`; else
    /// the URL's last path segment.
    pub name: String,
    pub tvg_id: Option<String>,
    pub tvg_name: Option<String>,
    pub tvg_logo: Option<String>,
    /// `group-title`, else the last `#EXTGRP` seen above the entry.
    pub group: Option<String>,
    /// `tvg-chno`, as written.
    pub chno: Option<String>,
    pub url: String,
    /// `#EXTVLCOPT:http-user-agent=`, else the `http-user-agent` attribute.
    pub user_agent: Option<String>,
    /// `#EXTVLCOPT:http-referrer=` (or `http-referer`), else the attribute.
    pub referrer: Option<String>,
    /// The `#EXTINF` duration (`-1` for live, and when absent).
    pub duration: i64,
}

impl fmt::Debug for Playlist {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let epg: Vec<String> = self.epg_urls.iter().map(|u| redact(u)).collect();
        f.debug_struct("Playlist")
            .field("epg_urls", &epg)
            .field("entries", &self.entries)
            .field("skipped", &self.skipped)
            .finish()
    }
}

impl fmt::Debug for Entry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Entry")
            .field("line", &self.line)
            .field("name", &self.name)
            .field("tvg_id", &self.tvg_id)
            .field("tvg_name", &self.tvg_name)
            .field("tvg_logo", &self.tvg_logo)
            .field("group", &self.group)
            .field("chno", &self.chno)
            .field("url", &redact(&self.url))
            .field("user_agent", &self.user_agent)
            .field("referrer", &self.referrer)
            .field("duration", &self.duration)
            .finish()
    }
}

/// A line that gave no entry. `reason` never quotes the line's URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    /// 1-based line number.
    pub line: usize,
    pub reason: String,
}

/// Why a body is not a playlist.
#[derive(Debug, thiserror::Error)]
pub enum M3uError {
    #[error("not a playlist: line {line} starts an HTML/XML page{}", title_suffix(.title))]
    Markup { line: usize, title: Option<String> },
    #[error("not a playlist: line {line} starts a JSON document (an API error answer?)")]
    Json { line: usize },
    #[error("not a playlist: binary data (byte {offset} is a control byte)")]
    Binary { offset: usize },
    #[error("not a playlist: no entries in {lines} lines{}", first_skip_suffix(.skipped, .first_skip))]
    NoEntries {
        lines: usize,
        skipped: usize,
        /// The first skipped line and its reason, if any.
        first_skip: Option<Skipped>,
    },
    #[error("playlist body: {0}")]
    Gzip(#[from] GzipError),
}

fn title_suffix(title: &Option<String>) -> String {
    title
        .as_ref()
        .map(|t| format!(" titled \"{t}\""))
        .unwrap_or_default()
}

fn first_skip_suffix(skipped: &usize, first: &Option<Skipped>) -> String {
    match first {
        Some(s) => format!(
            " ({skipped} skipped; first at line {}: {})",
            s.line, s.reason
        ),
        None => String::new(),
    }
}

/// Parses a playlist body, inflating it first when it is gzip. See
/// [`parse_with_limit`].
pub fn parse(bytes: &[u8]) -> Result<Playlist, M3uError> {
    parse_with_limit(bytes, MAX_PLAYLIST_BYTES)
}

/// Parses a playlist body whose inflated size may not exceed `max_len`.
/// Invalid UTF-8 is decoded lossily. A body that looks like HTML, JSON or
/// binary data, or that yields no entry, is an error.
pub fn parse_with_limit(bytes: &[u8], max_len: usize) -> Result<Playlist, M3uError> {
    let body = gunzip_if_needed(bytes, max_len)?;
    let body: &[u8] = body.as_ref();
    let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
    if let Some(offset) = binary_offset(body) {
        return Err(M3uError::Binary { offset });
    }
    let text = String::from_utf8_lossy(body);
    let mut state = State::default();
    let mut lines = 0;
    for (n, raw) in Lines::new(&text) {
        lines = n;
        let line = raw.trim();
        if line.is_empty() {
            continue;
        }
        if state.first_content {
            state.first_content = false;
            if line.starts_with('<') {
                let title = super::page_title_snippet(body);
                return Err(M3uError::Markup { line: n, title });
            }
            if line.starts_with('{') || line.starts_with('[') {
                return Err(M3uError::Json { line: n });
            }
        }
        state.line(n, line);
    }
    let mut playlist = state.finish();
    if playlist.entries.is_empty() {
        return Err(M3uError::NoEntries {
            lines,
            skipped: playlist.skipped.len(),
            first_skip: playlist.skipped.drain(..).next(),
        });
    }
    Ok(playlist)
}

/// Where a NUL, or a run of control bytes no text holds, shows the body
/// is binary (a video segment, an image, a zip).
fn binary_offset(body: &[u8]) -> Option<usize> {
    let head = &body[..body.len().min(4096)];
    let is_control = |b: &u8| b.is_ascii_control() && !matches!(b, b'\t' | b'\n' | b'\r' | 0x0c);
    if let Some(i) = head.iter().position(|&b| b == 0) {
        return Some(i);
    }
    let controls = head.iter().filter(|b| is_control(b)).count();
    (controls * 20 > head.len()).then(|| head.iter().position(is_control).unwrap_or(0))
}

/// Lines split at `\r\n`, `\n` or a lone `\r`, numbered from 1.
struct Lines<'a> {
    rest: &'a str,
    n: usize,
    done: bool,
}

impl<'a> Lines<'a> {
    fn new(text: &'a str) -> Self {
        Lines {
            rest: text,
            n: 0,
            done: false,
        }
    }
}

impl<'a> Iterator for Lines<'a> {
    type Item = (usize, &'a str);

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        self.n += 1;
        match self.rest.find(['\r', '\n']) {
            Some(i) => {
                let line = &self.rest[..i];
                let skip = if self.rest[i..].starts_with("\r\n") {
                    2
                } else {
                    1
                };
                self.rest = &self.rest[i + skip..];
                Some((self.n, line))
            }
            None => {
                self.done = true;
                Some((self.n, self.rest))
            }
        }
    }
}

/// What an `#EXTINF` said, waiting for its URL.
#[derive(Default)]
struct Pending {
    line: usize,
    duration: i64,
    name: String,
    attrs: Vec<(String, String)>,
}

impl Pending {
    fn attr(&self, key: &str) -> Option<String> {
        self.attrs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
    }
}

struct State {
    first_content: bool,
    out: Playlist,
    pending: Option<Pending>,
    /// Sticky: an `#EXTGRP` names the group of the entries below it.
    extgrp: Option<String>,
    /// From `#EXTVLCOPT`/`#EXTHTTP`, for the next URL only.
    user_agent: Option<String>,
    referrer: Option<String>,
}

impl Default for State {
    fn default() -> Self {
        State {
            first_content: true,
            out: Playlist::default(),
            pending: None,
            extgrp: None,
            user_agent: None,
            referrer: None,
        }
    }
}

impl State {
    fn line(&mut self, n: usize, line: &str) {
        if let Some(rest) = strip_prefix_ci(line, "#EXTM3U") {
            for (key, value) in parse_attrs(rest).0 {
                if matches!(key.as_str(), "x-tvg-url" | "url-tvg" | "tvg-url") {
                    self.add_epg_urls(&value);
                }
            }
        } else if let Some(rest) = strip_prefix_ci(line, "#EXTINF:") {
            if let Some(prev) = self.pending.take() {
                self.skip(
                    prev.line,
                    format!("#EXTINF without a URL (another #EXTINF follows at line {n})"),
                );
            }
            self.pending = Some(parse_extinf(n, rest));
        } else if let Some(rest) = strip_prefix_ci(line, "#EXTGRP:") {
            self.extgrp = non_empty(rest.trim());
        } else if let Some(rest) = strip_prefix_ci(line, "#EXTVLCOPT:") {
            let (key, value) = rest.split_once('=').unwrap_or((rest, ""));
            match key.trim().to_ascii_lowercase().as_str() {
                "http-user-agent" => self.user_agent = non_empty(value.trim()),
                "http-referrer" | "http-referer" => self.referrer = non_empty(value.trim()),
                _ => {}
            }
        } else if let Some(rest) = strip_prefix_ci(line, "#EXTHTTP:") {
            self.exthttp(rest);
        } else if line.starts_with('#') {
            // #KODIPROP, #EXT-X-…, #PLAYLIST, comments: nothing we use.
        } else {
            self.url(n, line);
        }
    }

    /// `#EXTHTTP:{"User-Agent":"…","Referer":"…"}` (Kodi, TiviMate).
    fn exthttp(&mut self, json: &str) {
        let Ok(serde_json::Value::Object(map)) = serde_json::from_str(json) else {
            return;
        };
        for (k, v) in map {
            let Some(v) = v.as_str().and_then(|v| non_empty(v.trim())) else {
                continue;
            };
            match k.to_ascii_lowercase().as_str() {
                "user-agent" => self.user_agent = Some(v),
                "referer" | "referrer" => self.referrer = Some(v),
                _ => {}
            }
        }
    }

    fn add_epg_urls(&mut self, list: &str) {
        for url in list.split(',').map(str::trim).filter(|u| !u.is_empty()) {
            if !self.out.epg_urls.iter().any(|u| u == url) {
                self.out.epg_urls.push(url.to_string());
            }
        }
    }

    fn url(&mut self, n: usize, url: &str) {
        let pending = self.pending.take();
        let user_agent = self.user_agent.take();
        let referrer = self.referrer.take();
        if let Err(why) = check_provider_url(url) {
            let line = pending.as_ref().map_or(n, |p| p.line);
            self.skip(line, format!("refused URL at line {n}: {why}"));
            return;
        }
        let p = pending.unwrap_or(Pending {
            line: n,
            duration: -1,
            ..Pending::default()
        });
        let tvg_name = p.attr("tvg-name");
        let name = non_empty(p.name.trim())
            .or_else(|| tvg_name.clone())
            .unwrap_or_else(|| last_segment_name(url));
        self.out.entries.push(Entry {
            line: p.line,
            name,
            tvg_id: p.attr("tvg-id"),
            tvg_name,
            tvg_logo: p.attr("tvg-logo"),
            group: p.attr("group-title").or_else(|| self.extgrp.clone()),
            chno: p.attr("tvg-chno"),
            url: url.to_string(),
            user_agent: user_agent.or_else(|| p.attr("http-user-agent")),
            referrer: referrer
                .or_else(|| p.attr("http-referrer"))
                .or_else(|| p.attr("http-referer")),
            duration: p.duration,
        });
    }

    fn skip(&mut self, line: usize, reason: String) {
        self.out.skipped.push(Skipped { line, reason });
    }

    fn finish(mut self) -> Playlist {
        if let Some(p) = self.pending.take() {
            self.skip(
                p.line,
                "#EXTINF without a URL at the end of the playlist".into(),
            );
        }
        self.out
    }
}

fn strip_prefix_ci<'a>(line: &'a str, prefix: &str) -> Option<&'a str> {
    let head = line.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &line[prefix.len()..])
}

fn non_empty(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_string())
}

/// `-1 tvg-id="a" group-title="News, UK",Display Name`.
fn parse_extinf(line: usize, rest: &str) -> Pending {
    let rest = rest.trim_start();
    let end = rest
        .find(|c: char| c.is_whitespace() || c == ',')
        .unwrap_or(rest.len());
    let (duration, after) = rest.split_at(end);
    let (attrs, name) = parse_attrs(after);
    Pending {
        line,
        duration: parse_duration(duration),
        name: name.unwrap_or_default(),
        attrs,
    }
}

fn parse_duration(s: &str) -> i64 {
    if let Ok(d) = s.parse::<i64>() {
        return d;
    }
    match s.parse::<f64>() {
        Ok(f) if f.is_finite() && f.abs() < 1e15 => f as i64,
        _ => -1,
    }
}

/// Splits `key="value" key2=value2 …,name` into lower-cased keys with
/// non-empty values, and the name after the first comma outside quotes.
fn parse_attrs(s: &str) -> (Vec<(String, String)>, Option<String>) {
    let mut attrs = Vec::new();
    let mut rest = s;
    loop {
        rest = rest.trim_start();
        if rest.is_empty() {
            return (attrs, None);
        }
        if let Some(name) = rest.strip_prefix(',') {
            return (attrs, Some(name.trim().to_string()));
        }
        let key_end = rest
            .find(|c: char| c == '=' || c == ',' || c.is_whitespace())
            .unwrap_or(rest.len());
        let key = rest[..key_end].to_ascii_lowercase();
        rest = &rest[key_end..];
        let Some(after_eq) = rest.strip_prefix('=') else {
            // A bare word: not an attribute; its separator is handled above.
            continue;
        };
        let (value, after) = take_value(after_eq);
        rest = after;
        let value = value.trim();
        if !key.is_empty() && !value.is_empty() {
            attrs.push((key, value.to_string()));
        }
    }
}

/// A quoted (`"…"` or `'…'`) or bare value, and what follows it. A quote
/// that never closes runs to the next comma, so the name survives.
fn take_value(s: &str) -> (&str, &str) {
    for quote in ['"', '\''] {
        if let Some(inner) = s.strip_prefix(quote) {
            if let Some(end) = inner.find(quote) {
                return (&inner[..end], &inner[end + 1..]);
            }
            let end = inner.find(',').unwrap_or(inner.len());
            return (&inner[..end], &inner[end..]);
        }
    }
    let end = s
        .find(|c: char| c == ',' || c.is_whitespace())
        .unwrap_or(s.len());
    (&s[..end], &s[end..])
}

#[cfg(test)]
#[path = "m3u_tests.rs"]
mod tests;
