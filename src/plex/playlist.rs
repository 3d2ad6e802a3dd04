//! `GET /playlist.m3u`: an extended M3U of the enabled channels for IPTV
//! clients other than Plex. Every URL in it is ours (`/auto/v<n>` and
//! `/epg.xml`); provider URLs and credentials never appear, and logos that
//! carry credentials are left out.

use axum::extract::State;
use axum::http::{HeaderMap, Uri, header};
use axum::response::{IntoResponse, Response};

use super::epg::xmltv_ids;
use super::hdhomerun::stream_url;
use super::state::{PlexState, base_url};
use super::xml::public_image_url;
use crate::lineup::Channel;

/// An attribute value: M3U has no escaping, so quotes become apostrophes
/// and line breaks spaces (a hostile name must not start a new line).
fn attr(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '"' => '\'',
            c if c.is_control() => ' ',
            c => c,
        })
        .collect()
}

/// The display name after the comma: one line, no control characters.
fn title(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect::<String>()
        .trim()
        .to_string()
}

/// The playlist for `channels` (disabled ones are skipped) served at `base`.
pub fn render(base: &str, channels: &[Channel]) -> String {
    let enabled: Vec<Channel> = channels
        .iter()
        .filter(|c| c.is_enabled())
        .cloned()
        .collect();
    let ids = xmltv_ids(&enabled);
    let epg = format!("{base}/epg.xml");
    let mut out = format!("#EXTM3U x-tvg-url=\"{epg}\" url-tvg=\"{epg}\"\n");
    for (ch, id) in enabled.iter().zip(&ids) {
        out.push_str(&format!(
            "#EXTINF:-1 tvg-id=\"{}\" tvg-name=\"{}\" tvg-logo=\"{}\" tvg-chno=\"{}\" group-title=\"{}\",{}\n{}\n",
            attr(id),
            attr(&ch.name),
            attr(public_image_url(ch.logo.as_deref()).unwrap_or("")),
            attr(&ch.number),
            attr(ch.group.as_deref().unwrap_or("")),
            title(&ch.name),
            stream_url(base, &ch.number),
        ));
    }
    out
}

pub async fn playlist(State(st): State<PlexState>, uri: Uri, headers: HeaderMap) -> Response {
    let base = base_url(&st, &uri, &headers);
    let body = render(&base, &st.lineup.all());
    (
        [
            (header::CONTENT_TYPE, "audio/x-mpegurl; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_enabled_channels_with_our_urls_only() {
        let chans = vec![
            Channel::from_config(&crate::config::ChannelConfig {
                number: "101".into(),
                name: "News \"24\"\nEvil".into(),
                streams: vec!["http://prov.example/live/alice/s3cret/1.ts".into()],
                tvg_id: Some("news24.uk".into()),
                logo: Some("https://logos.example/n24.png".into()),
                group: Some("News".into()),
                ..Default::default()
            }),
            Channel::from_config(&crate::config::ChannelConfig {
                number: "102".into(),
                name: "Hidden".into(),
                streams: vec!["http://prov.example/live/alice/s3cret/2.ts".into()],
                enabled: Some(false),
                ..Default::default()
            }),
            Channel::from_config(&crate::config::ChannelConfig {
                number: "103".into(),
                name: "Sport".into(),
                streams: vec!["http://prov.example/get.php?username=alice&password=s3cret".into()],
                logo: Some("http://prov.example/logo.png?password=s3cret".into()),
                ..Default::default()
            }),
        ];
        let m3u = render("http://10.0.0.5:5004", &chans);
        let lines: Vec<&str> = m3u.lines().collect();
        assert_eq!(
            lines[0],
            "#EXTM3U x-tvg-url=\"http://10.0.0.5:5004/epg.xml\" url-tvg=\"http://10.0.0.5:5004/epg.xml\""
        );
        assert_eq!(lines.len(), 5, "{m3u}");
        assert_eq!(
            lines[1],
            "#EXTINF:-1 tvg-id=\"news24.uk\" tvg-name=\"News '24' Evil\" tvg-logo=\"https://logos.example/n24.png\" tvg-chno=\"101\" group-title=\"News\",News \"24\" Evil"
        );
        assert_eq!(lines[2], "http://10.0.0.5:5004/auto/v101");
        assert!(
            lines[3].contains("tvg-id=\"103.streamforge\"") && lines[3].contains("tvg-logo=\"\"")
        );
        assert_eq!(lines[4], "http://10.0.0.5:5004/auto/v103");
        assert!(
            !m3u.contains("s3cret")
                && !m3u.contains("alice")
                && !m3u.contains("prov.example")
                && !m3u.contains("Hidden")
        );
    }
}
