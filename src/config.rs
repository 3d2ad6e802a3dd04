//! Configuration: built-in defaults → TOML file → `STREAMFORGE_<SECTION>_<KEY>`
//! environment variables → validation. Every validation error names the key
//! and the offending value. Components receive their own small structs.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::redact::redact;

pub mod error;
pub mod sources;

pub use error::ConfigError;
use error::{invalid, toml_error};
pub use sources::{EpgConfig, SourceConfig, SourceKind, SyncConfig};

#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub server: ServerConfig,
    pub tuner: TunerConfig,
    pub stream: StreamConfig,
    pub discovery: DiscoveryConfig,
    pub events: EventsConfig,
    pub sync: SyncConfig,
    pub lineup: LineupConfig,
    pub source: Vec<SourceConfig>,
    pub epg: Vec<EpgConfig>,
    pub channel: Vec<ChannelConfig>,
}

/// How the lineup is built from ingested streams.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct LineupConfig {
    /// New provider channels get the next free number from here.
    pub first_number: u32,
    /// Use the provider's channel number (`tvg-chno`, Xtream `num`) for a
    /// new channel when it is free.
    pub use_provider_numbers: bool,
    /// A match at or above this confidence is applied; below, suggested.
    pub match_threshold: f64,
}

impl Default for LineupConfig {
    fn default() -> Self {
        Self {
            first_number: 1000,
            use_provider_numbers: false,
            match_threshold: 0.85,
        }
    }
}

/// The event log's retention.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct EventsConfig {
    /// Events older than this many days are deleted.
    pub retention_days: u32,
    /// At most this many events are kept (the oldest go first).
    pub max_rows: u64,
}

impl Default for EventsConfig {
    fn default() -> Self {
        Self {
            retention_days: 30,
            max_rows: 100_000,
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// One HTTP port for streams, Plex endpoints and the API.
    pub listen: String,
    /// Absolute URL LAN clients use to reach us; derived from Host when unset.
    pub public_url: Option<String>,
    /// SQLite database and state.
    pub data_dir: PathBuf,
    /// Name shown in Plex.
    pub friendly_name: String,
    /// Connections served at once; at the cap the quietest idle one makes
    /// room, and when all are serving a newcomer gets 503.
    pub max_connections: u32,
    /// A request's headers must arrive within this, and an idle keep-alive
    /// connection is closed after it.
    pub header_timeout_ms: u64,
    /// A connection serving a request that moves no byte for this long is
    /// closed (a stream is exempt while its bytes flow).
    pub idle_timeout_ms: u64,
    /// `SO_SNDBUF` of client sockets in bytes (Linux doubles it); 0 leaves
    /// the kernel's autotuning, which can hide seconds of a slow client's
    /// lag in up to 4 MiB.
    pub send_buffer_bytes: u32,
    /// The admin password's argon2 hash (PHC string, as `streamforge
    /// set-password --print` prints it). Wins over one stored by
    /// `streamforge set-password`. Without either, management (`/api/*`,
    /// the dashboard) answers only to loopback.
    pub admin_password_hash: Option<String>,
    /// Host names (or addresses) besides the machine's own addresses,
    /// `localhost` and `public_url`'s host that clients may use to reach us:
    /// a `Host` outside the list never becomes a `BaseURL`, and management
    /// refuses it (DNS rebinding).
    pub allowed_hosts: Vec<String>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: "0.0.0.0:5004".into(),
            public_url: None,
            data_dir: PathBuf::from("./data"),
            friendly_name: "StreamForge".into(),
            max_connections: 1024,
            header_timeout_ms: 10_000,
            idle_timeout_ms: 60_000,
            send_buffer_bytes: 65_536,
            admin_password_hash: None,
            allowed_hosts: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct TunerConfig {
    /// Concurrent distinct channels allowed.
    pub count: u32,
    /// A tune that needs a provider account connection held by a channel
    /// that still has clients waits this long for it (Plex opens the new
    /// channel before it closes the old one). A channel with no clients
    /// left yields its connection at once, without this wait.
    pub zap_grace_ms: u64,
}

impl Default for TunerConfig {
    fn default() -> Self {
        Self {
            count: 2,
            zap_grace_ms: 2000,
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct DiscoveryConfig {
    /// HDHomeRun UDP discovery on port 65001.
    pub udp: bool,
    /// SSDP on 239.255.255.250:1900.
    pub ssdp: bool,
}

impl Default for DiscoveryConfig {
    fn default() -> Self {
        Self {
            udp: true,
            ssdp: true,
        }
    }
}

/// Stream engine settings. The failover-related ones can be overridden per
/// channel (see [`ChannelConfig`]).
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct StreamConfig {
    /// A candidate must deliver its first packet within this time.
    pub connect_timeout_ms: u64,
    /// No data for this long marks a playing session `stalled`.
    pub stall_detect_ms: u64,
    /// No data for this long switches to the next candidate.
    pub failover_after_ms: u64,
    /// Open the next candidate as soon as a stall is detected.
    pub warm_standby: bool,
    /// Sent upstream as the HTTP User-Agent.
    pub user_agent: String,
    /// How long a session outlives its last client.
    pub linger_ms: u64,
    /// Muxed output kept per channel, in MiB (a cap).
    pub ring_mb: u64,
    /// Muxed output kept per channel, in seconds: how far a slow client
    /// may fall behind before it is moved forward.
    pub ring_seconds: u64,
    /// A joining client starts this far behind live when the ring allows.
    pub join_behind_ms: u64,
    /// A client further behind live than this (in media time delivered)
    /// is moved to the newest keyframe; unset: `join_behind_ms` + 4000.
    /// The ring keeps what this needs (see [`StreamConfig::ring_age`]).
    pub max_lag_ms: Option<u64>,
}

impl StreamConfig {
    /// How far past `join_behind_ms` a client may lag by default.
    pub const LAG_PAST_JOIN_MS: u64 = 4000;

    /// The lag past which a client is moved to the newest keyframe.
    pub fn max_lag(&self) -> std::time::Duration {
        std::time::Duration::from_millis(
            self.max_lag_ms
                .unwrap_or(self.join_behind_ms + Self::LAG_PAST_JOIN_MS),
        )
    }

    /// Output the ring keeps: what a reader at the lag limit still needs,
    /// and a GOP (2 s) more than a joiner starting `join_behind_ms` back
    /// needs to find a keyframe, plus a second of coalescing slack;
    /// capped by `ring_seconds`.
    pub fn ring_age(&self) -> std::time::Duration {
        let need_ms = self
            .max_lag()
            .as_millis()
            .max(u128::from(self.join_behind_ms) + 2000) as u64
            + 1000;
        std::time::Duration::from_millis(need_ms.min(self.ring_seconds * 1000))
    }
}

impl Default for StreamConfig {
    fn default() -> Self {
        Self {
            connect_timeout_ms: 5000,
            stall_detect_ms: 3000,
            failover_after_ms: 5000,
            warm_standby: true,
            user_agent: "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36".into(),
            linger_ms: 5000,
            ring_mb: 32,
            ring_seconds: 30,
            join_behind_ms: 3000,
            max_lag_ms: None,
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ChannelConfig {
    pub number: String,
    pub name: String,
    /// Ordered candidates: primary first.
    pub streams: Vec<String>,
    pub tvg_id: Option<String>,
    pub logo: Option<String>,
    pub group: Option<String>,
    /// Disabled channels appear nowhere and cannot be tuned.
    pub enabled: Option<bool>,
    pub stall_detect_ms: Option<u64>,
    pub failover_after_ms: Option<u64>,
    pub warm_standby: Option<bool>,
    pub ring_mb: Option<u64>,
    pub ring_seconds: Option<u64>,
    pub join_behind_ms: Option<u64>,
}

impl ChannelConfig {
    pub fn is_enabled(&self) -> bool {
        self.enabled.unwrap_or(true)
    }

    /// The global stream settings with this channel's overrides applied.
    pub fn effective_stream(&self, global: &StreamConfig) -> StreamConfig {
        self.overrides().apply(global)
    }

    /// This entry's engine overrides.
    pub fn overrides(&self) -> EngineOverrides {
        EngineOverrides {
            stall_detect_ms: self.stall_detect_ms,
            failover_after_ms: self.failover_after_ms,
            warm_standby: self.warm_standby,
            ring_mb: self.ring_mb,
            ring_seconds: self.ring_seconds,
            join_behind_ms: self.join_behind_ms,
        }
    }
}

/// Per-channel overrides of the `[stream]` engine settings.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct EngineOverrides {
    pub stall_detect_ms: Option<u64>,
    pub failover_after_ms: Option<u64>,
    pub warm_standby: Option<bool>,
    pub ring_mb: Option<u64>,
    pub ring_seconds: Option<u64>,
    pub join_behind_ms: Option<u64>,
}

impl EngineOverrides {
    /// The global stream settings with these overrides applied.
    pub fn apply(&self, global: &StreamConfig) -> StreamConfig {
        StreamConfig {
            stall_detect_ms: self.stall_detect_ms.unwrap_or(global.stall_detect_ms),
            failover_after_ms: self.failover_after_ms.unwrap_or(global.failover_after_ms),
            warm_standby: self.warm_standby.unwrap_or(global.warm_standby),
            ring_mb: self.ring_mb.unwrap_or(global.ring_mb),
            ring_seconds: self.ring_seconds.unwrap_or(global.ring_seconds),
            join_behind_ms: self.join_behind_ms.unwrap_or(global.join_behind_ms),
            ..global.clone()
        }
    }
}

impl Config {
    /// Loads `path` (or `./streamforge.toml` when present), applies the
    /// environment overrides from `env`, and validates.
    pub fn load(
        path: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let (text, origin) = match path {
            Some(p) => (read(p)?, p.display().to_string()),
            None if Path::new("streamforge.toml").exists() => (
                read(Path::new("streamforge.toml"))?,
                "streamforge.toml".to_string(),
            ),
            None => (String::new(), "(defaults)".to_string()),
        };
        Self::from_toml_with_env(&text, &origin, env)
    }

    pub fn from_toml_with_env(
        text: &str,
        origin: &str,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        // toml's own messages quote the offending line (the first line of
        // `--config /etc/shadow`): say where instead, quoting nothing.
        let parse_err = |origin: &str, e: &toml::de::Error| toml_error(origin, Some(text), e);
        let mut table: toml::Table = toml::from_str(text).map_err(|e| parse_err(origin, &e))?;
        // The file alone must be valid: its errors are the file's, with
        // the position in it.
        let _: Config = toml::from_str(text).map_err(|e| parse_err(origin, &e))?;
        for (name, value) in env {
            let Some(rest) = name.strip_prefix("STREAMFORGE_") else {
                continue;
            };
            let Some((section, key)) = rest.split_once('_') else {
                continue;
            };
            let (section, key) = (section.to_ascii_lowercase(), key.to_ascii_lowercase());
            if matches!(section.as_str(), "channel" | "log" | "source" | "epg") {
                continue;
            }
            if !ENV_SECTIONS.contains(&section.as_str()) {
                return Err(invalid(
                    &name,
                    redact(&value),
                    format!(
                        "names no config section ({section:?}); variables are STREAMFORGE_<SECTION>_<KEY> with a section among {}",
                        ENV_SECTIONS.join(", ")
                    ),
                ));
            }
            let parsed = format!("v = {value}")
                .parse::<toml::Table>()
                .ok()
                .and_then(|mut t| t.remove("v"))
                .unwrap_or(toml::Value::String(value.clone()));
            let entry = table
                .entry(section.clone())
                .or_insert_with(|| toml::Value::Table(Default::default()));
            let Some(sec) = entry.as_table_mut() else {
                return Err(invalid(
                    name,
                    value,
                    "overrides a key that is not a section",
                ));
            };
            sec.insert(key.clone(), parsed);
            // Each variable is checked as it is applied, so an error names it.
            let checked: Result<Config, _> = toml::Value::Table(table.clone()).try_into();
            if let Err(e) = checked {
                return Err(toml_error(
                    &format!("environment variable {name} (for {section}.{key})"),
                    None,
                    &e,
                ));
            }
        }
        let config: Config = toml::Value::Table(table)
            .try_into()
            .map_err(|e| toml_error(origin, None, &e))?;
        config.validate()?;
        Ok(config)
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        self.server.listen.parse::<SocketAddr>().map_err(|_| {
            invalid(
                "server.listen",
                &self.server.listen,
                "is not an address like 0.0.0.0:5004",
            )
        })?;
        if let Some(u) = &self.server.public_url {
            let ok = url::Url::parse(u)
                .map(|p| matches!(p.scheme(), "http" | "https") && p.host().is_some());
            if ok != Ok(true) {
                return Err(invalid(
                    "server.public_url",
                    u,
                    "is not an absolute http(s) URL",
                ));
            }
        }
        validate_server(&self.server)?;
        if self.tuner.count == 0 {
            return Err(invalid("tuner.count", 0, "must be at least 1"));
        }
        if self.tuner.zap_grace_ms > 10_000 {
            return Err(invalid(
                "tuner.zap_grace_ms",
                self.tuner.zap_grace_ms,
                "must be at most 10000",
            ));
        }
        validate_stream("stream", &self.stream)?;
        sources::validate(&self.source, &self.epg, &self.sync)?;
        if !(1..=999_999).contains(&self.lineup.first_number) {
            return Err(invalid(
                "lineup.first_number",
                self.lineup.first_number,
                "must be between 1 and 999999",
            ));
        }
        if !(0.5..=1.0).contains(&self.lineup.match_threshold) {
            return Err(invalid(
                "lineup.match_threshold",
                self.lineup.match_threshold,
                "must be between 0.5 and 1.0",
            ));
        }
        if !(1..=3650).contains(&self.events.retention_days) {
            return Err(invalid(
                "events.retention_days",
                self.events.retention_days,
                "must be between 1 and 3650",
            ));
        }
        if !(100..=100_000_000).contains(&self.events.max_rows) {
            return Err(invalid(
                "events.max_rows",
                self.events.max_rows,
                "must be between 100 and 100000000",
            ));
        }
        let mut numbers = HashSet::new();
        for (i, ch) in self.channel.iter().enumerate() {
            let key = |k: &str| format!("channel[{i}].{k}");
            if ch.number.is_empty() || !ch.number.chars().all(|c| c.is_ascii_digit() || c == '.') {
                return Err(invalid(
                    key("number"),
                    format!("{:?}", ch.number),
                    "must be digits like \"101\" or \"5.1\"",
                ));
            }
            if !numbers.insert(ch.number.clone()) {
                return Err(invalid(
                    key("number"),
                    &ch.number,
                    "is a duplicate channel number",
                ));
            }
            if ch.name.trim().is_empty() {
                return Err(invalid(key("name"), "\"\"", "must not be empty"));
            }
            if ch.streams.is_empty() {
                return Err(invalid(
                    key("streams"),
                    "[]",
                    "must list at least one stream",
                ));
            }
            for (j, s) in ch.streams.iter().enumerate() {
                if !is_valid_stream_url(s) {
                    return Err(invalid(
                        format!("channel[{i}].streams[{j}]"),
                        redact(s),
                        "is not an http(s) URL, file:// URL or absolute path",
                    ));
                }
            }
            validate_stream(&format!("channel[{i}]"), &ch.effective_stream(&self.stream))?;
        }
        Ok(())
    }

    pub fn enabled_channels(&self) -> impl Iterator<Item = &ChannelConfig> {
        self.channel.iter().filter(|c| c.is_enabled())
    }
}

fn read(path: &Path) -> Result<String, ConfigError> {
    std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })
}

/// Sections an environment variable may override.
const ENV_SECTIONS: &[&str] = &[
    "server",
    "tuner",
    "stream",
    "discovery",
    "events",
    "sync",
    "lineup",
];

/// Upper bound of every duration in milliseconds.
const MAX_MS: u64 = 3_600_000;

fn validate_server(s: &ServerConfig) -> Result<(), ConfigError> {
    if !(16..=1_000_000).contains(&s.max_connections) {
        return Err(invalid(
            "server.max_connections",
            s.max_connections,
            "must be between 16 and 1000000",
        ));
    }
    for (k, v, min) in [
        ("server.header_timeout_ms", s.header_timeout_ms, 500),
        ("server.idle_timeout_ms", s.idle_timeout_ms, 1000),
    ] {
        if v < min || v > MAX_MS {
            return Err(invalid(k, v, format!("must be between {min} and {MAX_MS}")));
        }
    }
    if s.send_buffer_bytes != 0 && !(16_384..=64 << 20).contains(&s.send_buffer_bytes) {
        return Err(invalid(
            "server.send_buffer_bytes",
            s.send_buffer_bytes,
            "must be 0 (the kernel's default) or between 16384 and 67108864",
        ));
    }
    if let Some(h) = &s.admin_password_hash {
        if argon2::PasswordHash::new(h).is_err() {
            return Err(invalid(
                "server.admin_password_hash",
                "(not shown)",
                "is not an argon2 hash (PHC string starting with $argon2id$); make one with `streamforge set-password --print`",
            ));
        }
    }
    for h in &s.allowed_hosts {
        if h.is_empty() || h.contains(['/', ' ', '@']) {
            return Err(invalid(
                "server.allowed_hosts",
                format!("{h:?}"),
                "entries are host names or addresses, like \"tv.lan\" or \"192.168.1.9\"",
            ));
        }
    }
    Ok(())
}

fn validate_stream(prefix: &str, s: &StreamConfig) -> Result<(), ConfigError> {
    let key = |k: &str| format!("{prefix}.{k}");
    if s.connect_timeout_ms < 100 {
        return Err(invalid(
            key("connect_timeout_ms"),
            s.connect_timeout_ms,
            "must be at least 100",
        ));
    }
    if s.stall_detect_ms < 100 {
        return Err(invalid(
            key("stall_detect_ms"),
            s.stall_detect_ms,
            "must be at least 100",
        ));
    }
    for (k, v) in [
        ("connect_timeout_ms", s.connect_timeout_ms),
        ("stall_detect_ms", s.stall_detect_ms),
        ("failover_after_ms", s.failover_after_ms),
        ("linger_ms", s.linger_ms),
    ] {
        if v > MAX_MS {
            return Err(invalid(
                key(k),
                v,
                format!("must be at most {MAX_MS} (one hour)"),
            ));
        }
    }
    if s.failover_after_ms <= s.stall_detect_ms {
        return Err(invalid(
            key("failover_after_ms"),
            s.failover_after_ms,
            format!(
                "must be greater than {} ({})",
                key("stall_detect_ms"),
                s.stall_detect_ms
            ),
        ));
    }
    if s.ring_mb == 0 || s.ring_mb > 1024 {
        return Err(invalid(
            key("ring_mb"),
            s.ring_mb,
            "must be between 1 and 1024",
        ));
    }
    if !(5..=600).contains(&s.ring_seconds) {
        return Err(invalid(
            key("ring_seconds"),
            s.ring_seconds,
            "must be between 5 and 600",
        ));
    }
    if s.join_behind_ms + 2000 > s.ring_seconds * 1000 {
        return Err(invalid(
            key("join_behind_ms"),
            s.join_behind_ms,
            format!(
                "must be at least 2000 below {} ({} s)",
                key("ring_seconds"),
                s.ring_seconds
            ),
        ));
    }
    if s.join_behind_ms > 60_000 {
        return Err(invalid(
            key("join_behind_ms"),
            s.join_behind_ms,
            "must be at most 60000",
        ));
    }
    if let Some(lag) = s.max_lag_ms
        && (lag < s.join_behind_ms + 1000 || lag + 1000 > s.ring_seconds * 1000)
    {
        return Err(invalid(
            key("max_lag_ms"),
            lag,
            format!(
                "must be at least 1000 above {} ({}) and 1000 below {} ({} s)",
                key("join_behind_ms"),
                s.join_behind_ms,
                key("ring_seconds"),
                s.ring_seconds
            ),
        ));
    }
    if s.user_agent.trim().is_empty() {
        return Err(invalid(key("user_agent"), "\"\"", "must not be empty"));
    }
    Ok(())
}

/// http(s) URLs with a host, `file://` URLs, and absolute paths.
pub fn is_valid_stream_url(s: &str) -> bool {
    if s.starts_with('/') {
        return true;
    }
    match url::Url::parse(s) {
        Ok(u) => match u.scheme() {
            "http" | "https" => u.host_str().is_some_and(|h| !h.is_empty()),
            "file" => true,
            _ => false,
        },
        Err(_) => false,
    }
}
