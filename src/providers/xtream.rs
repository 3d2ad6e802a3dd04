//! Xtream Codes `player_api.php`: the JSON a panel answers, decoded
//! leniently, and the URLs to ask it with.
//!
//! Panels disagree on types (numbers as strings or numbers, `null`, `""`,
//! booleans as `0`/`1`/`"0"`/`"1"`), so every field goes through the
//! lenient helpers in [`lenient`] and a bad list item is skipped and
//! counted instead of failing the list. The password a panel echoes in
//! `user_info` is never deserialised into anything returned, and no error
//! message quotes the body beyond an HTML page's (scrubbed) title.
//!
//! No I/O here: the sync fetches with [`player_api_url`] and hands the
//! status and body to [`parse_auth`] and the list parsers.

use base64::Engine as _;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

mod error;
mod lenient;
mod list;
mod urls;

pub use error::XtreamError;
use error::precheck;
use list::{Lenient, parse_list};
pub use urls::{LiveFormat, live_url, m3u_url, normalise_base, player_api_url, xmltv_url};

use lenient::{de_bool, de_opt_i64, de_opt_string, de_opt_u16, de_opt_u32, de_string, de_strings};

/// `user_info.status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum AccountStatus {
    Active,
    Banned,
    Disabled,
    Expired,
    /// Anything else, as written (empty when absent).
    Other(String),
}

impl Default for AccountStatus {
    fn default() -> Self {
        Self::Other(String::new())
    }
}

impl From<&str> for AccountStatus {
    fn from(s: &str) -> Self {
        match s.trim().to_ascii_lowercase().as_str() {
            "active" => Self::Active,
            "banned" => Self::Banned,
            "disabled" => Self::Disabled,
            "expired" => Self::Expired,
            _ => Self::Other(s.trim().to_string()),
        }
    }
}

impl<'de> Deserialize<'de> for AccountStatus {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(lenient::string(&Value::deserialize(d)?)
            .map(|s| Self::from(s.as_str()))
            .unwrap_or_default())
    }
}

/// `user_info`, without the password the panel echoes.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
pub struct Account {
    #[serde(default, deserialize_with = "de_string")]
    pub username: String,
    #[serde(default)]
    pub status: AccountStatus,
    /// Unix seconds; None for "never" (`null`, `""`, absent).
    #[serde(default, deserialize_with = "de_opt_i64")]
    pub exp_date: Option<i64>,
    #[serde(default, deserialize_with = "de_bool")]
    pub is_trial: bool,
    #[serde(default, deserialize_with = "de_opt_u32")]
    pub active_cons: Option<u32>,
    /// The tuner budget the panel claims (some under-report it).
    #[serde(default, deserialize_with = "de_opt_u32")]
    pub max_connections: Option<u32>,
    #[serde(default, deserialize_with = "de_opt_i64")]
    pub created_at: Option<i64>,
    #[serde(default, deserialize_with = "de_opt_string")]
    pub message: Option<String>,
    #[serde(default, deserialize_with = "de_strings")]
    pub allowed_output_formats: Vec<String>,
}

/// `server_info`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
pub struct ServerInfo {
    /// The host name the panel says it serves on.
    #[serde(default, deserialize_with = "de_opt_string")]
    pub url: Option<String>,
    #[serde(default, deserialize_with = "de_opt_u16")]
    pub port: Option<u16>,
    #[serde(default, deserialize_with = "de_opt_u16")]
    pub https_port: Option<u16>,
    #[serde(default, deserialize_with = "de_opt_string")]
    pub server_protocol: Option<String>,
    #[serde(default, deserialize_with = "de_opt_string")]
    pub timezone: Option<String>,
    #[serde(default, deserialize_with = "de_opt_i64")]
    pub timestamp_now: Option<i64>,
}

/// Reads the answer to `player_api.php?username=&password=` (no action).
/// An account that is Expired, Banned or Disabled is returned: the caller
/// decides what to do with it.
pub fn parse_auth(status_code: u16, body: &[u8]) -> Result<(Account, ServerInfo), XtreamError> {
    let refused = |reason| XtreamError::AuthFailed {
        status: status_code,
        reason,
    };
    if matches!(status_code, 401 | 403) {
        return Err(refused("the panel refused the credentials"));
    }
    precheck(Some(status_code), body)?;
    let value: Value = serde_json::from_slice(body).map_err(XtreamError::json)?;
    let map = match value {
        Value::Object(map) => map,
        // Some panels answer bad credentials with `[]`.
        Value::Array(a) if a.is_empty() => return Err(refused("empty answer")),
        _ => {
            return Err(XtreamError::NotXtream {
                status: Some(status_code),
                title: None,
            });
        }
    };
    let user_info = match map.get("user_info") {
        Some(u @ Value::Object(fields)) if !fields.is_empty() => u,
        Some(Value::Object(_) | Value::Array(_) | Value::Null) | None => {
            return Err(refused("no user_info in the answer"));
        }
        Some(_) => return Err(refused("user_info is not an object")),
    };
    if user_info.get("auth").is_some_and(|a| !lenient::truthy(a)) {
        return Err(refused("auth: 0"));
    }
    // Deserialising an object with lenient fields cannot fail; the
    // fallbacks are for the type system only.
    let account = Account::deserialize(user_info).unwrap_or_default();
    let server = map
        .get("server_info")
        .and_then(|s| ServerInfo::deserialize(s).ok())
        .unwrap_or_default();
    Ok((account, server))
}

/// `action=get_live_categories` (also VOD and series categories).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(try_from = "RawCategory")]
pub struct Category {
    pub id: String,
    /// `Category {id}` when the panel gives none.
    pub name: String,
    /// None for top-level categories (`0`, `null`, absent).
    pub parent_id: Option<String>,
}

#[derive(Deserialize)]
struct RawCategory {
    #[serde(default, deserialize_with = "de_opt_string")]
    category_id: Option<String>,
    #[serde(default, deserialize_with = "de_opt_string")]
    category_name: Option<String>,
    #[serde(default, deserialize_with = "de_opt_string")]
    parent_id: Option<String>,
}

impl TryFrom<RawCategory> for Category {
    type Error = &'static str;

    fn try_from(raw: RawCategory) -> Result<Self, Self::Error> {
        let id = raw.category_id.ok_or("no category_id")?;
        Ok(Category {
            name: raw
                .category_name
                .unwrap_or_else(|| format!("Category {id}")),
            parent_id: raw.parent_id.filter(|p| p != "0"),
            id,
        })
    }
}

/// Reads a category list; items without an id are left out.
pub fn parse_categories(body: &[u8]) -> Result<Vec<Category>, XtreamError> {
    Ok(parse_list::<Category>(body)?.items)
}

/// `action=get_live_streams`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(try_from = "RawLiveStream")]
pub struct LiveStream {
    pub stream_id: u64,
    pub num: Option<u64>,
    /// `Stream {id}` when the panel gives none.
    pub name: String,
    pub stream_icon: Option<String>,
    pub epg_channel_id: Option<String>,
    pub category_id: Option<String>,
    /// Every category of the stream, `category_id` first.
    pub category_ids: Vec<String>,
    pub tv_archive: bool,
    /// Unix seconds.
    pub added: Option<i64>,
}

#[derive(Deserialize)]
struct RawLiveStream {
    #[serde(default, deserialize_with = "de_opt_i64")]
    stream_id: Option<i64>,
    #[serde(default, deserialize_with = "de_opt_i64")]
    num: Option<i64>,
    #[serde(default, deserialize_with = "de_opt_string")]
    name: Option<String>,
    #[serde(default, deserialize_with = "de_opt_string")]
    stream_icon: Option<String>,
    #[serde(default, deserialize_with = "de_opt_string")]
    epg_channel_id: Option<String>,
    #[serde(default, deserialize_with = "de_opt_string")]
    category_id: Option<String>,
    #[serde(default, deserialize_with = "de_strings")]
    category_ids: Vec<String>,
    #[serde(default, deserialize_with = "de_bool")]
    tv_archive: bool,
    #[serde(default, deserialize_with = "de_opt_i64")]
    added: Option<i64>,
}

impl TryFrom<RawLiveStream> for LiveStream {
    type Error = &'static str;

    fn try_from(raw: RawLiveStream) -> Result<Self, Self::Error> {
        // Panels number streams from 1; 0 and negatives are junk rows.
        let stream_id = raw
            .stream_id
            .and_then(|id| u64::try_from(id).ok())
            .filter(|&id| id > 0)
            .ok_or("no usable stream_id")?;
        let mut category_ids = Vec::new();
        for id in raw.category_id.iter().chain(&raw.category_ids) {
            if !category_ids.contains(id) {
                category_ids.push(id.clone());
            }
        }
        Ok(LiveStream {
            stream_id,
            num: raw.num.and_then(|n| u64::try_from(n).ok()),
            name: raw.name.unwrap_or_else(|| format!("Stream {stream_id}")),
            stream_icon: raw.stream_icon,
            epg_channel_id: raw.epg_channel_id,
            category_id: raw.category_id,
            category_ids,
            tv_archive: raw.tv_archive,
            added: raw.added,
        })
    }
}

/// A stream list and how many items were unusable.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LiveStreams {
    pub streams: Vec<LiveStream>,
    pub skipped: usize,
}

/// Reads a live stream list: a JSON array, or an object whose values are
/// the items (some panels), or `{}`/`null` for none. One bad item is
/// counted in `skipped`; it does not fail the list.
pub fn parse_live_streams(body: &[u8]) -> Result<LiveStreams, XtreamError> {
    let list = parse_list::<LiveStream>(body)?;
    Ok(LiveStreams {
        streams: list.items,
        skipped: list.skipped,
    })
}

/// One programme of `action=get_short_epg`, title and description decoded.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(try_from = "RawListing")]
pub struct EpgListing {
    pub title: String,
    pub description: Option<String>,
    /// Unix seconds (`start_timestamp`; the date strings are in the
    /// panel's time zone and are not used).
    pub start: i64,
    pub stop: i64,
    pub epg_id: Option<String>,
}

#[derive(Deserialize)]
struct RawListing {
    #[serde(default, deserialize_with = "de_opt_string")]
    title: Option<String>,
    #[serde(default, deserialize_with = "de_opt_string")]
    description: Option<String>,
    #[serde(default, deserialize_with = "de_opt_i64")]
    start_timestamp: Option<i64>,
    #[serde(default, deserialize_with = "de_opt_i64")]
    stop_timestamp: Option<i64>,
    #[serde(default, deserialize_with = "de_opt_string")]
    epg_id: Option<String>,
}

impl TryFrom<RawListing> for EpgListing {
    type Error = &'static str;

    fn try_from(raw: RawListing) -> Result<Self, Self::Error> {
        Ok(EpgListing {
            title: raw
                .title
                .map(|t| decode_b64_lenient(&t))
                .unwrap_or_default(),
            description: raw
                .description
                .map(|d| decode_b64_lenient(&d))
                .filter(|d| !d.is_empty()),
            start: raw.start_timestamp.ok_or("no start_timestamp")?,
            stop: raw.stop_timestamp.ok_or("no stop_timestamp")?,
            epg_id: raw.epg_id,
        })
    }
}

/// Reads `{"epg_listings":[…]}`; listings without timestamps are left out.
pub fn parse_short_epg(body: &[u8]) -> Result<Vec<EpgListing>, XtreamError> {
    #[derive(Deserialize)]
    struct Answer {
        #[serde(default)]
        epg_listings: Option<Lenient<EpgListing>>,
    }
    precheck(None, body)?;
    let answer: Answer = serde_json::from_slice(body).map_err(XtreamError::json)?;
    Ok(answer.epg_listings.map(|l| l.items).unwrap_or_default())
}

/// Decodes standard-alphabet base64, padded or not, ignoring whitespace;
/// text that does not decode to printable UTF-8 is returned unchanged.
pub fn decode_b64_lenient(s: &str) -> String {
    const ENGINE: base64::engine::GeneralPurpose = base64::engine::GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        base64::engine::GeneralPurposeConfig::new()
            .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent)
            .with_decode_allow_trailing_bits(true),
    );
    let compact: String = s.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    if compact.is_empty() {
        return s.to_string();
    }
    ENGINE
        .decode(compact.as_bytes())
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .filter(|t| !t.chars().any(|c| c.is_control() && !c.is_whitespace()))
        .unwrap_or_else(|| s.to_string())
}

#[cfg(test)]
#[path = "xtream_tests.rs"]
mod tests;
