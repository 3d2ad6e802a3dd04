//! `GET /epg.xml`: XMLTV for the enabled channels, written in 64 KiB
//! chunks on a blocking thread and streamed (gzip when the client accepts
//! it), so a 7-day guide for thousands of channels is never held in memory.
//!
//! Valid against the XMLTV DTD (no `<lcn>`; children in DTD order) and
//! `tv_validate_file` (ids in `name.tld` form, unique, and at least one
//! programme per channel). Channels without guide data get placeholder
//! blocks titled with the channel name, as other tuner proxies do: Plex
//! hides a channel that has no programmes at all. Stored guide data feeds
//! [`write_guide`] through `programmes_for` (`epg_cache` serves it).

use std::collections::HashSet;
use std::io::Write;

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use bytes::Bytes;
use chrono::{DateTime, Duration, TimeZone, Utc};
use flate2::Compression;
use flate2::write::GzEncoder;

use super::xml::{public_image_url, xml_escape};
use crate::lineup::Channel;

/// Flush a chunk to the client once this much XML is pending.
pub const CHUNK: usize = 64 * 1024;
/// How far ahead placeholders reach (Plex shows up to two weeks).
pub const PLACEHOLDER_DAYS: i64 = 7;
/// Length of one placeholder block.
pub const PLACEHOLDER_HOURS: i64 = 2;
/// Suffix of ids derived from channel numbers ("101.streamforge").
pub const ID_DOMAIN: &str = "streamforge";

/// One guide entry, with the XMLTV fields we emit.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Programme {
    pub start: DateTime<Utc>,
    pub stop: Option<DateTime<Utc>>,
    pub title: String,
    pub sub_title: Option<String>,
    pub desc: Option<String>,
    /// `YYYY` or `YYYYMMDD`.
    pub date: Option<String>,
    pub categories: Vec<String>,
    pub icon: Option<String>,
    /// `(system, value)`, e.g. `("xmltv_ns", "1.4.")` or `("onscreen", "S02E05")`.
    pub episode_num: Vec<(String, String)>,
}

/// Whether `id` is what `tv_validate_file` accepts:
/// `^[-a-zA-Z0-9]+(\.[-a-zA-Z0-9]+)+$`.
pub fn valid_xmltv_id(id: &str) -> bool {
    let mut parts = 0;
    for seg in id.split('.') {
        if seg.is_empty() || !seg.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
            return false;
        }
        parts += 1;
    }
    parts >= 2
}

/// "101" → "101.streamforge"; anything outside `[-a-zA-Z0-9.]` becomes '-'.
fn derived_id(number: &str) -> String {
    let segs: Vec<String> = number
        .split('.')
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || c == '-' {
                        c
                    } else {
                        '-'
                    }
                })
                .collect()
        })
        .collect();
    if segs.is_empty() {
        format!("channel.{ID_DOMAIN}")
    } else {
        format!("{}.{ID_DOMAIN}", segs.join("."))
    }
}

/// The XMLTV id of each channel, index for index: its `tvg_id` when that
/// is valid and not taken by an earlier channel, else one derived from its
/// number. The playlist uses the same ids so clients can match them.
pub fn xmltv_ids(channels: &[Channel]) -> Vec<String> {
    let mut used = HashSet::with_capacity(channels.len());
    channels
        .iter()
        .map(|c| {
            let id = match c.guide_id.as_deref().map(str::trim) {
                Some(t) if valid_xmltv_id(t) && !used.contains(t) => t.to_string(),
                _ => {
                    let base = derived_id(&c.number);
                    let mut id = base.clone();
                    let mut n = 2;
                    while used.contains(&id) {
                        id = format!("{n}-{base}");
                        n += 1;
                    }
                    id
                }
            };
            used.insert(id.clone());
            id
        })
        .collect()
}

/// Placeholder blocks for a channel without guide data: `PLACEHOLDER_HOURS`
/// blocks from midnight UTC today for `PLACEHOLDER_DAYS`, titled with the
/// channel name.
pub fn placeholder_programmes(channel: &Channel, now: DateTime<Utc>) -> Vec<Programme> {
    let midnight = now
        .date_naive()
        .and_hms_opt(0, 0, 0)
        .map(|t| Utc.from_utc_datetime(&t))
        .unwrap_or(now);
    let blocks = PLACEHOLDER_DAYS * 24 / PLACEHOLDER_HOURS;
    (0..blocks)
        .map(|i| {
            let start = midnight + Duration::hours(i * PLACEHOLDER_HOURS);
            Programme {
                start,
                stop: Some(start + Duration::hours(PLACEHOLDER_HOURS)),
                title: channel.name.clone(),
                ..Default::default()
            }
        })
        .collect()
}

pub fn xmltv_time(t: &DateTime<Utc>) -> String {
    t.format("%Y%m%d%H%M%S +0000").to_string()
}

/// No `<!DOCTYPE tv SYSTEM "xmltv.dtd">`: a relative DTD reference makes
/// validating parsers fetch `xmltv.dtd` next to our URL (a 404) or warn.
pub fn write_header(out: &mut Vec<u8>) {
    out.extend_from_slice(
        b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<tv generator-info-name=\"StreamForge\">\n",
    );
}

pub fn write_footer(out: &mut Vec<u8>) {
    out.extend_from_slice(b"</tv>\n");
}

/// `<channel>`: id, display-name (name, then number for Plex's matching),
/// icon.
pub fn write_channel(out: &mut Vec<u8>, id: &str, channel: &Channel) {
    let _ = write!(
        out,
        "  <channel id=\"{}\">\n    <display-name>{}</display-name>\n    <display-name>{}</display-name>\n",
        xml_escape(id),
        xml_escape(&channel.name),
        xml_escape(&channel.number)
    );
    if let Some(src) = public_image_url(channel.logo.as_deref()) {
        let _ = writeln!(out, "    <icon src=\"{}\"/>", xml_escape(src));
    }
    out.extend_from_slice(b"  </channel>\n");
}

/// `<programme>` with children in DTD order. Returns false (and writes
/// nothing) for a programme without a title, which the DTD allows but
/// `tv_validate_file` rejects.
pub fn write_programme(out: &mut Vec<u8>, channel_id: &str, p: &Programme) -> bool {
    let title = xml_escape(p.title.trim());
    if title.is_empty() {
        return false;
    }
    let _ = write!(out, "  <programme start=\"{}\"", xmltv_time(&p.start));
    if let Some(stop) = &p.stop {
        let _ = write!(out, " stop=\"{}\"", xmltv_time(stop));
    }
    let _ = write!(
        out,
        " channel=\"{}\">\n    <title>{title}</title>\n",
        xml_escape(channel_id)
    );
    let text = |s: &Option<String>| {
        s.as_deref()
            .map(|s| xml_escape(s.trim()))
            .filter(|s| !s.is_empty())
    };
    if let Some(s) = text(&p.sub_title) {
        let _ = writeln!(out, "    <sub-title>{s}</sub-title>");
    }
    if let Some(s) = text(&p.desc) {
        let _ = writeln!(out, "    <desc>{s}</desc>");
    }
    if let Some(s) = text(&p.date) {
        let _ = writeln!(out, "    <date>{s}</date>");
    }
    for c in p
        .categories
        .iter()
        .map(|c| xml_escape(c.trim()))
        .filter(|c| !c.is_empty())
    {
        let _ = writeln!(out, "    <category>{c}</category>");
    }
    if let Some(src) = public_image_url(p.icon.as_deref()) {
        let _ = writeln!(out, "    <icon src=\"{}\"/>", xml_escape(src));
    }
    for (system, value) in &p.episode_num {
        let value = xml_escape(value.trim());
        if !value.is_empty() {
            let _ = writeln!(
                out,
                "    <episode-num system=\"{}\">{value}</episode-num>",
                xml_escape(system)
            );
        }
    }
    out.extend_from_slice(b"  </programme>\n");
    true
}

/// Writes the whole guide for `channels` (assumed enabled) through `emit`,
/// in chunks of about [`CHUNK`] bytes. `programmes_for` gives a channel's
/// programmes in start order; an empty answer gets placeholders. Stops
/// early (returning false) when `emit` returns false (client gone).
pub fn write_guide(
    channels: &[Channel],
    now: DateTime<Utc>,
    mut programmes_for: impl FnMut(&Channel) -> Vec<Programme>,
    mut emit: impl FnMut(Vec<u8>) -> bool,
) -> bool {
    let ids = xmltv_ids(channels);
    let mut buf = Vec::with_capacity(CHUNK + 4096);
    let mut flush = |buf: &mut Vec<u8>, force: bool| {
        if buf.len() >= CHUNK || (force && !buf.is_empty()) {
            let chunk = std::mem::replace(buf, Vec::with_capacity(CHUNK + 4096));
            return emit(chunk);
        }
        true
    };
    write_header(&mut buf);
    for (ch, id) in channels.iter().zip(&ids) {
        write_channel(&mut buf, id, ch);
        if !flush(&mut buf, false) {
            return false;
        }
    }
    for (ch, id) in channels.iter().zip(&ids) {
        let mut programmes = programmes_for(ch);
        let mut written = 0;
        for p in &programmes {
            written += usize::from(write_programme(&mut buf, id, p));
            if !flush(&mut buf, false) {
                return false;
            }
        }
        if written == 0 {
            programmes = placeholder_programmes(ch, now);
            for p in &programmes {
                write_programme(&mut buf, id, p);
                if !flush(&mut buf, false) {
                    return false;
                }
            }
        }
    }
    write_footer(&mut buf);
    flush(&mut buf, true)
}

/// Whether `Accept-Encoding` allows gzip (`gzip`, `x-gzip` or `*` with a
/// non-zero q).
pub fn accepts_gzip(headers: &HeaderMap) -> bool {
    let Some(v) = headers
        .get(header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    v.split(',').any(|item| {
        let mut parts = item.split(';').map(str::trim);
        let coding = parts.next().unwrap_or("").to_ascii_lowercase();
        let q = parts
            .find_map(|p| p.strip_prefix("q=").or_else(|| p.strip_prefix("Q=")))
            .and_then(|q| q.trim().parse::<f32>().ok())
            .unwrap_or(1.0);
        matches!(coding.as_str(), "gzip" | "x-gzip" | "*") && q > 0.0
    })
}

/// A gzip stage between the writer and the client: compresses each chunk
/// as it comes and hands on whatever output the encoder produced.
struct Gzip<F: FnMut(Vec<u8>) -> bool> {
    enc: GzEncoder<Vec<u8>>,
    emit: F,
}

impl<F: FnMut(Vec<u8>) -> bool> Gzip<F> {
    fn push(&mut self, chunk: &[u8]) -> bool {
        if self.enc.write_all(chunk).is_err() {
            return false;
        }
        let out = std::mem::take(self.enc.get_mut());
        out.is_empty() || (self.emit)(out)
    }

    fn finish(self) -> bool {
        let mut emit = self.emit;
        match self.enc.finish() {
            Ok(rest) => rest.is_empty() || emit(rest),
            Err(_) => false,
        }
    }
}

/// The full `/epg.xml` response for `channels`, written on a blocking
/// thread; at most two chunks wait in the channel, so memory stays flat
/// whatever the guide size.
pub fn guide_response(
    channels: Vec<Channel>,
    gzip: bool,
    programmes_for: impl FnMut(&Channel) -> Vec<Programme> + Send + 'static,
) -> Response {
    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(2);
    let now = Utc::now();
    tokio::task::spawn_blocking(move || {
        let send = |chunk: Vec<u8>| tx.blocking_send(Bytes::from(chunk)).is_ok();
        let done = if gzip {
            let mut gz = Gzip {
                enc: GzEncoder::new(Vec::with_capacity(CHUNK), Compression::fast()),
                emit: send,
            };
            write_guide(&channels, now, programmes_for, |c| gz.push(&c)) && gz.finish()
        } else {
            write_guide(&channels, now, programmes_for, send)
        };
        if !done {
            tracing::debug!("epg.xml client went away before the end");
        }
    });
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv()
            .await
            .map(|b| (Ok::<Bytes, std::io::Error>(b), rx))
    });
    guide_body(Body::from_stream(stream), gzip)
}

/// A 200 carrying the guide, with its headers.
pub fn guide_body(body: Body, gzip: bool) -> Response {
    let mut resp = Response::new(body);
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/xml; charset=utf-8"),
    );
    h.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    if gzip {
        h.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    }
    *resp.status_mut() = StatusCode::OK;
    resp
}

/// The whole guide for `channels`, gzip-compressed, in memory (what the
/// guide cache keeps). Blocking: run it on a blocking thread.
pub fn render_gzip(
    channels: &[Channel],
    now: DateTime<Utc>,
    programmes_for: impl FnMut(&Channel) -> Vec<Programme>,
) -> Vec<u8> {
    let mut out = Vec::new();
    let mut gz = Gzip {
        enc: GzEncoder::new(Vec::with_capacity(CHUNK), Compression::fast()),
        emit: |c: Vec<u8>| {
            out.extend_from_slice(&c);
            true
        },
    };
    let ok = write_guide(channels, now, programmes_for, |c| gz.push(&c)) && gz.finish();
    debug_assert!(ok, "writing into memory cannot fail");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ch(number: &str, tvg: Option<&str>) -> Channel {
        Channel::from_config(&crate::config::ChannelConfig {
            number: number.into(),
            name: format!("Chan {number} & <Co>"),
            streams: vec!["http://u:p@x/1.ts".into()],
            tvg_id: tvg.map(str::to_string),
            ..Default::default()
        })
    }

    #[test]
    fn ids_are_valid_unique_and_prefer_tvg_id() {
        let chans = [
            ch("101", Some("bbc1.uk")),
            ch("102", Some("bbc1.uk")),
            ch("103", Some("not valid")),
            ch("5.1", None),
            ch("7", Some("7.streamforge")),
            ch("7x", None),
        ];
        let mut c = chans.to_vec();
        c[5].number = "7".into(); // collides with the tvg_id of the previous one
        let ids = xmltv_ids(&c);
        assert_eq!(ids[0], "bbc1.uk");
        assert_eq!(ids[1], "102.streamforge");
        assert_eq!(ids[2], "103.streamforge");
        assert_eq!(ids[3], "5.1.streamforge");
        assert_eq!(ids[4], "7.streamforge");
        assert_eq!(ids[5], "2-7.streamforge");
        assert!(ids.iter().all(|i| valid_xmltv_id(i)), "{ids:?}");
        assert_eq!(ids.iter().collect::<HashSet<_>>().len(), ids.len());
    }

    #[test]
    fn id_rule() {
        assert!(valid_xmltv_id("a.b"));
        assert!(valid_xmltv_id("BBC-One.uk"));
        assert!(!valid_xmltv_id("101"));
        assert!(!valid_xmltv_id("a..b"));
        assert!(!valid_xmltv_id("a.b "));
        assert!(!valid_xmltv_id(""));
    }

    #[test]
    fn placeholders_cover_seven_days_from_midnight() {
        let now = Utc.with_ymd_and_hms(2026, 3, 4, 15, 30, 0).unwrap();
        let p = placeholder_programmes(&ch("1", None), now);
        assert_eq!(p.len() as i64, 7 * 24 / PLACEHOLDER_HOURS);
        assert_eq!(xmltv_time(&p[0].start), "20260304000000 +0000");
        assert_eq!(
            p.last().unwrap().stop.unwrap(),
            Utc.with_ymd_and_hms(2026, 3, 11, 0, 0, 0).unwrap()
        );
        assert!(p.windows(2).all(|w| w[0].stop == Some(w[1].start)));
    }

    #[test]
    fn programme_children_in_dtd_order_and_escaped() {
        let p = Programme {
            start: Utc.with_ymd_and_hms(2026, 1, 1, 20, 0, 0).unwrap(),
            stop: None,
            title: "Tom & Jerry".into(),
            sub_title: Some("<Part 1>".into()),
            desc: Some("   ".into()),
            date: Some("1999".into()),
            categories: vec!["Kids".into()],
            icon: Some("http://img.example/a.png?token=secret".into()),
            episode_num: vec![("xmltv_ns".into(), "0.4.".into())],
        };
        let mut out = Vec::new();
        assert!(write_programme(&mut out, "a.b", &p));
        let s = String::from_utf8(out).unwrap();
        let order = [
            "<title>Tom &amp; Jerry",
            "<sub-title>&lt;Part 1&gt;",
            "<date>",
            "<category>",
            "<episode-num",
        ];
        let pos: Vec<_> = order
            .iter()
            .map(|o| s.find(o).unwrap_or_else(|| panic!("{o} in {s}")))
            .collect();
        assert!(pos.windows(2).all(|w| w[0] < w[1]), "{s}");
        assert!(!s.contains("<desc>"), "blank desc omitted");
        assert!(!s.contains("secret"), "tokened icon dropped");
        assert!(!write_programme(
            &mut Vec::new(),
            "a.b",
            &Programme {
                title: " ".into(),
                ..p
            }
        ));
    }

    #[test]
    fn gzip_negotiation() {
        let h = |v: &str| {
            let mut m = HeaderMap::new();
            m.insert(header::ACCEPT_ENCODING, v.parse().unwrap());
            m
        };
        assert!(accepts_gzip(&h("gzip, deflate, br")));
        assert!(accepts_gzip(&h("br;q=1.0, gzip;q=0.8")));
        assert!(!accepts_gzip(&h("gzip;q=0")));
        assert!(!accepts_gzip(&h("identity")));
        assert!(!accepts_gzip(&HeaderMap::new()));
    }

    #[test]
    fn guide_is_chunked_and_complete() {
        let chans: Vec<_> = (1..=300).map(|n| ch(&n.to_string(), None)).collect();
        let mut chunks = Vec::new();
        assert!(write_guide(
            &chans,
            Utc::now(),
            |_| Vec::new(),
            |c| {
                chunks.push(c);
                true
            }
        ));
        assert!(chunks.len() > 10);
        assert!(chunks.iter().rev().skip(1).all(|c| c.len() >= CHUNK));
        let all: Vec<u8> = chunks.concat();
        let s = String::from_utf8(all).unwrap();
        assert!(s.starts_with("<?xml") && s.ends_with("</tv>\n"));
        assert_eq!(s.matches("<channel ").count(), 300);
        assert_eq!(
            s.matches("<programme ").count() as i64,
            300 * 7 * 24 / PLACEHOLDER_HOURS
        );
    }

    #[test]
    fn writer_stops_when_the_client_goes() {
        let chans: Vec<_> = (1..=300).map(|n| ch(&n.to_string(), None)).collect();
        let mut n = 0;
        assert!(!write_guide(
            &chans,
            Utc::now(),
            |_| Vec::new(),
            |_| {
                n += 1;
                n < 3
            }
        ));
        assert_eq!(n, 3);
    }
}
