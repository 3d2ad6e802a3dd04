//! The provider sections of the config: `[[source]]` (Xtream Codes
//! accounts, M3U playlists), `[[epg]]` (XMLTV guides) and `[sync]` (how
//! syncs guard what is stored). Validation names the key; a URL in an
//! error is redacted, a password never appears.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::error::{ConfigError, invalid};
use crate::redact::redact;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SourceKind {
    Xtream,
    M3u,
}

impl SourceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SourceKind::Xtream => "xtream",
            SourceKind::M3u => "m3u",
        }
    }
}

/// A provider of streams.
#[derive(Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SourceConfig {
    pub kind: SourceKind,
    /// Shown in the API and events; defaults to the URL's host.
    #[serde(default)]
    pub name: Option<String>,
    /// Xtream: the panel's address. M3U: the playlist's URL or a path.
    pub url: String,
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub password: Option<String>,
    /// Sent on this source's requests and streams instead of `stream.user_agent`.
    #[serde(default)]
    pub user_agent: Option<String>,
    /// Connections the account allows (overrides what the panel says).
    #[serde(default)]
    pub max_connections: Option<u32>,
    /// Lower is preferred when several sources carry a channel.
    #[serde(default = "default_priority")]
    pub priority: i64,
    /// Hours between syncs.
    #[serde(default = "default_source_hours")]
    pub sync_hours: u32,
}

/// Passwords stay out of `{:?}` too.
impl std::fmt::Debug for SourceConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SourceConfig")
            .field("kind", &self.kind)
            .field("name", &self.name)
            .field("url", &redact(&self.url))
            .field("username", &self.username.as_ref().map(|_| "***"))
            .field("password", &self.password.as_ref().map(|_| "***"))
            .field("priority", &self.priority)
            .finish_non_exhaustive()
    }
}

/// An XMLTV guide.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct EpgConfig {
    #[serde(default)]
    pub name: Option<String>,
    /// An http(s) URL or a path (`.xml` or gzip, told by content).
    pub url: String,
    #[serde(default = "default_priority")]
    pub priority: i64,
    #[serde(default = "default_epg_hours")]
    pub sync_hours: u32,
}

/// How a sync guards what is already stored.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct SyncConfig {
    /// A sync whose stream count falls by more than this share of the
    /// previous one is refused (the previous data stays).
    pub max_drop_percent: u32,
    /// Streams missing from syncs are kept this many days before they go.
    pub stale_days: u32,
    /// Guide days ahead kept.
    pub guide_days: u32,
    /// Largest download accepted, MiB.
    pub max_download_mb: u64,
    /// Per request: connect and whole-transfer limits, seconds.
    pub timeout_s: u64,
}

impl Default for SyncConfig {
    fn default() -> Self {
        Self {
            max_drop_percent: 50,
            stale_days: 7,
            guide_days: 7,
            max_download_mb: 512,
            timeout_s: 120,
        }
    }
}

fn default_priority() -> i64 {
    10
}
fn default_source_hours() -> u32 {
    12
}
fn default_epg_hours() -> u32 {
    24
}

/// A source location: an http(s) URL with a host, or an absolute path.
pub fn is_location(s: &str) -> bool {
    if Path::new(s).is_absolute() {
        return true;
    }
    url::Url::parse(s)
        .is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some())
}

pub fn validate(
    sources: &[SourceConfig],
    epgs: &[EpgConfig],
    sync: &SyncConfig,
) -> Result<(), ConfigError> {
    for (i, s) in sources.iter().enumerate() {
        validate_source(&|k: &str| format!("source[{i}].{k}"), s)?;
    }
    for (i, e) in epgs.iter().enumerate() {
        validate_epg(&|k: &str| format!("epg[{i}].{k}"), e)?;
    }
    if !(1..=100).contains(&sync.max_drop_percent) {
        return Err(invalid(
            "sync.max_drop_percent",
            sync.max_drop_percent,
            "must be between 1 and 100",
        ));
    }
    if !(1..=365).contains(&sync.stale_days) {
        return Err(invalid(
            "sync.stale_days",
            sync.stale_days,
            "must be between 1 and 365",
        ));
    }
    if !(1..=31).contains(&sync.guide_days) {
        return Err(invalid(
            "sync.guide_days",
            sync.guide_days,
            "must be between 1 and 31",
        ));
    }
    if !(1..=8192).contains(&sync.max_download_mb) {
        return Err(invalid(
            "sync.max_download_mb",
            sync.max_download_mb,
            "must be between 1 and 8192",
        ));
    }
    if !(5..=3600).contains(&sync.timeout_s) {
        return Err(invalid(
            "sync.timeout_s",
            sync.timeout_s,
            "must be between 5 and 3600",
        ));
    }
    Ok(())
}

/// One source's checks; `key` names a field (`source[0].url` in the file,
/// `url` over the API).
pub fn validate_source(key: &dyn Fn(&str) -> String, s: &SourceConfig) -> Result<(), ConfigError> {
    match s.kind {
        SourceKind::Xtream => {
            let ok = url::Url::parse(&s.url)
                .is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some());
            if !ok {
                return Err(invalid(
                    key("url"),
                    redact(&s.url),
                    "is not the http(s) address of an Xtream Codes panel",
                ));
            }
            for (k, v) in [("username", &s.username), ("password", &s.password)] {
                if v.as_deref().is_none_or(|v| v.trim().is_empty()) {
                    return Err(invalid(
                        key(k),
                        "(missing)",
                        "is required for kind = \"xtream\"",
                    ));
                }
            }
        }
        SourceKind::M3u => {
            if !is_location(&s.url) {
                return Err(invalid(
                    key("url"),
                    redact(&s.url),
                    "is not an http(s) URL or an absolute path",
                ));
            }
        }
    }
    if s.sync_hours == 0 || s.sync_hours > 24 * 30 {
        return Err(invalid(
            key("sync_hours"),
            s.sync_hours,
            "must be between 1 and 720",
        ));
    }
    if s.max_connections == Some(0) {
        return Err(invalid(key("max_connections"), 0, "must be at least 1"));
    }
    Ok(())
}

/// One guide's checks.
pub fn validate_epg(key: &dyn Fn(&str) -> String, e: &EpgConfig) -> Result<(), ConfigError> {
    if !is_location(&e.url) {
        return Err(invalid(
            key("url"),
            redact(&e.url),
            "is not an http(s) URL or an absolute path",
        ));
    }
    if e.sync_hours == 0 || e.sync_hours > 24 * 30 {
        return Err(invalid(
            key("sync_hours"),
            e.sync_hours,
            "must be between 1 and 720",
        ));
    }
    Ok(())
}
