//! The HDHomeRun HTTP API Plex calls: discover.json, lineup_status.json,
//! lineup.json, lineup.post, device.xml / capability, and the error codes
//! a refused tune answers with. Stream URLs (`/auto/v<n>`,
//! `/tuner<N>/v<n>`) are served by `crate::http`; this module only points
//! at them. Field names and types follow SiliconDust's HTTP API notes
//! (see the tests).

use axum::Json;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use super::state::{PlexState, base_url};
use super::xml::xml_escape;
use crate::lineup::Channel;
use crate::media::manager::TuneError;

pub const MANUFACTURER: &str = "Silicondust";
pub const MODEL_NUMBER: &str = "HDTC-2US";
pub const FIRMWARE_NAME: &str = "hdhomeruntc_atsc";
pub const FIRMWARE_VERSION: &str = "20200101";
pub const DEVICE_TYPE: &str = "urn:schemas-upnp-org:device:MediaServer:1";

/// `X-HDHomeRun-Error` codes a real tuner answers with (HTTP 503).
pub const ERR_ALL_TUNERS_IN_USE: &str = "805";
pub const ERR_TUNE_FAILED: &str = "806";
/// No video data in time; kept for completeness: a session that starts
/// but never delivers a keyframe ends as a failed tune (806) today.
pub const ERR_NO_VIDEO_DATA: &str = "807";

/// A refused tune as a real tuner answers it: 503 with the error code.
pub fn tune_error_response(e: &TuneError) -> Response {
    let code = match e {
        TuneError::AllTunersBusy(_) => ERR_ALL_TUNERS_IN_USE,
        TuneError::Failed(_) => ERR_TUNE_FAILED,
        TuneError::ShuttingDown => ERR_TUNE_FAILED,
    };
    let mut r = (StatusCode::SERVICE_UNAVAILABLE, format!("{e}\n")).into_response();
    r.headers_mut().insert(
        "X-HDHomeRun-Error",
        axum::http::HeaderValue::from_static(code),
    );
    r
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Discover {
    pub friendly_name: String,
    pub manufacturer: &'static str,
    pub model_number: &'static str,
    pub firmware_name: &'static str,
    pub firmware_version: &'static str,
    #[serde(rename = "DeviceID")]
    pub device_id: String,
    pub device_auth: String,
    #[serde(rename = "BaseURL")]
    pub base_url: String,
    #[serde(rename = "LineupURL")]
    pub lineup_url: String,
    /// An integer: a string makes Plex show the wrong count.
    pub tuner_count: u32,
}

#[derive(Debug, Serialize, PartialEq)]
pub struct LineupEntry {
    #[serde(rename = "GuideNumber")]
    pub guide_number: String,
    #[serde(rename = "GuideName")]
    pub guide_name: String,
    #[serde(rename = "URL")]
    pub url: String,
    /// 1 when the channel is known to be HD; omitted when unknown.
    #[serde(rename = "HD", skip_serializing_if = "Option::is_none")]
    pub hd: Option<u8>,
}

/// HD when the name carries an HD/FHD/UHD/4K token ("BBC One HD"); we do
/// not know otherwise without tuning, so the field is then left out.
pub fn is_hd_name(name: &str) -> bool {
    name.split(|c: char| !c.is_ascii_alphanumeric()).any(|t| {
        ["HD", "FHD", "UHD", "4K"]
            .iter()
            .any(|k| t.eq_ignore_ascii_case(k))
    })
}

/// Our own stream URL for a channel (never the provider's).
pub fn stream_url(base: &str, number: &str) -> String {
    format!("{base}/auto/v{number}")
}

/// Lineup entries for the enabled channels, in channel order.
pub fn lineup_entries(base: &str, channels: &[Channel]) -> Vec<LineupEntry> {
    channels
        .iter()
        .filter(|c| c.is_enabled())
        .map(|c| LineupEntry {
            guide_number: c.number.clone(),
            guide_name: c.name.clone(),
            url: stream_url(base, &c.number),
            hd: is_hd_name(&c.name).then_some(1),
        })
        .collect()
}

pub async fn discover(State(st): State<PlexState>, uri: Uri, headers: HeaderMap) -> Response {
    let base = base_url(&st, &uri, &headers);
    Json(Discover {
        friendly_name: st.device.friendly_name.clone(),
        manufacturer: MANUFACTURER,
        model_number: MODEL_NUMBER,
        firmware_name: FIRMWARE_NAME,
        firmware_version: FIRMWARE_VERSION,
        device_id: st.device.id_hex(),
        device_auth: st.device.device_auth.clone(),
        lineup_url: format!("{base}/lineup.json"),
        base_url: base,
        tuner_count: st.sessions.tuner_count(),
    })
    .into_response()
}

/// We never scan (the lineup comes from config and sources), so the status
/// is always idle with a scan possible.
pub async fn lineup_status() -> Response {
    Json(serde_json::json!({
        "ScanInProgress": 0,
        "ScanPossible": 1,
        "Source": "Cable",
        "SourceList": ["Cable"],
    }))
    .into_response()
}

pub async fn lineup(State(st): State<PlexState>, uri: Uri, headers: HeaderMap) -> Response {
    let base = base_url(&st, &uri, &headers);
    Json(lineup_entries(&base, &st.lineup.all())).into_response()
}

#[derive(Deserialize)]
pub struct LineupPost {
    scan: Option<String>,
}

/// `scan=start|abort` → 200 with an empty body (the lineup is already
/// complete); anything else → 400. Never 404/405: Plex reads those as
/// "device not found".
pub async fn lineup_post(Query(q): Query<LineupPost>) -> Response {
    match q.scan.as_deref() {
        Some("start") | Some("abort") => StatusCode::OK.into_response(),
        other => (
            StatusCode::BAD_REQUEST,
            format!(
                "scan must be start or abort, got {:?}\n",
                other.unwrap_or("")
            ),
        )
            .into_response(),
    }
}

/// The UPnP root description (also served at `/capability`).
pub fn device_xml_body(base: &str, friendly_name: &str, serial: &str, udn: &str) -> String {
    format!(
        concat!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n",
            "<root xmlns=\"urn:schemas-upnp-org:device-1-0\">\n",
            "  <specVersion>\n    <major>1</major>\n    <minor>0</minor>\n  </specVersion>\n",
            "  <URLBase>{base}</URLBase>\n",
            "  <device>\n",
            "    <deviceType>{dtype}</deviceType>\n",
            "    <friendlyName>{name}</friendlyName>\n",
            "    <manufacturer>{manufacturer}</manufacturer>\n",
            "    <modelName>{model}</modelName>\n",
            "    <modelNumber>{model}</modelNumber>\n",
            "    <serialNumber>{serial}</serialNumber>\n",
            "    <UDN>uuid:{udn}</UDN>\n",
            "  </device>\n",
            "</root>\n"
        ),
        base = xml_escape(base),
        dtype = DEVICE_TYPE,
        name = xml_escape(friendly_name),
        manufacturer = MANUFACTURER,
        model = MODEL_NUMBER,
        serial = xml_escape(serial),
        udn = xml_escape(udn),
    )
}

pub async fn device_xml(State(st): State<PlexState>, uri: Uri, headers: HeaderMap) -> Response {
    let base = base_url(&st, &uri, &headers);
    let body = device_xml_body(
        &base,
        &st.device.friendly_name,
        &st.device.id_hex(),
        &st.device.udn(),
    );
    ([(header::CONTENT_TYPE, "text/xml; charset=utf-8")], body).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hd_tokens() {
        assert!(is_hd_name("BBC One HD"));
        assert!(is_hd_name("Sport 1 (FHD)"));
        assert!(is_hd_name("Nature 4K"));
        assert!(!is_hd_name("Shadow"));
        assert!(!is_hd_name("HDNews"), "a token, not a substring");
    }

    #[test]
    fn lineup_skips_disabled_and_keeps_order() {
        let ch = |n: &str, enabled| {
            Channel::from_config(&crate::config::ChannelConfig {
                number: n.into(),
                name: format!("C{n} HD"),
                streams: vec!["http://user:pw@provider.example/live/u/p/1.ts".into()],
                enabled: Some(enabled),
                ..Default::default()
            })
        };
        let e = lineup_entries(
            "http://10.0.0.2:5004",
            &[ch("5", true), ch("2", false), ch("3", true)],
        );
        let numbers: Vec<_> = e.iter().map(|e| e.guide_number.as_str()).collect();
        assert_eq!(numbers, ["5", "3"]);
        assert_eq!(e[0].url, "http://10.0.0.2:5004/auto/v5");
        assert_eq!(e[0].hd, Some(1));
    }

    #[test]
    fn device_xml_escapes_the_name() {
        let x = device_xml_body("http://h:1", "Tom & <Jerry>", "105404BE", "u");
        assert!(x.contains("<friendlyName>Tom &amp; &lt;Jerry&gt;</friendlyName>"));
    }
}
