//! The channel model every consumer reads: identity, guide data, the
//! ordered candidates (failover order) and the engine overrides. Separate
//! from configuration: `[[channel]]` entries convert into it, and provider
//! ingestion will build it too.

use serde::Serialize;

pub use crate::config::EngineOverrides;
use crate::config::{ChannelConfig, StreamConfig};
use crate::redact::redact;

/// A channel as Plex and the engine see it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Channel {
    /// Stable internal id, independent of the number (`config:101`).
    pub id: String,
    /// The `GuideNumber`: digits like "101" or "5.1", unique in a lineup.
    pub number: String,
    pub name: String,
    /// The XMLTV channel id the guide uses for it.
    pub guide_id: Option<String>,
    pub logo: Option<String>,
    pub group: Option<String>,
    /// Disabled channels appear nowhere and cannot be tuned.
    pub enabled: bool,
    /// Best first: the order the engine fails over through.
    pub candidates: Vec<Candidate>,
    pub overrides: EngineOverrides,
}

/// One way to get a channel's stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Candidate {
    /// The upstream URL; it may hold provider credentials, so it is never
    /// serialised as is (see [`Candidate::redacted_url`]).
    #[serde(skip)]
    pub url: String,
    pub source: CandidateSource,
    pub tier: Tier,
    /// HTTP headers this candidate needs (from a playlist's
    /// `#EXTVLCOPT:http-user-agent` / `http-referrer`).
    pub user_agent: Option<String>,
    pub referrer: Option<String>,
    /// The provider's name for this stream and its identity in its source
    /// (None for config candidates).
    pub stream_name: Option<String>,
    pub stream_key: Option<String>,
}

impl Candidate {
    /// A candidate typed into the config.
    pub fn manual(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            source: CandidateSource::Config,
            tier: Tier::Unknown,
            user_agent: None,
            referrer: None,
            stream_name: None,
            stream_key: None,
        }
    }

    pub fn redacted_url(&self) -> String {
        redact(&self.url)
    }
}

/// Where a candidate came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum CandidateSource {
    /// A `[[channel]]` entry's `streams`.
    Config,
    /// An ingested provider stream.
    Provider { source_id: i64, name: String },
}

/// Quality tier, best first (`Ord` follows the failover preference).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Tier {
    Uhd,
    Fhd,
    Hd,
    Sd,
    Unknown,
}

impl Channel {
    /// A `[[channel]]` entry (validated by `Config::validate`).
    pub fn from_config(c: &ChannelConfig) -> Self {
        Self {
            id: format!("config:{}", c.number),
            number: c.number.clone(),
            name: c.name.clone(),
            guide_id: c.tvg_id.clone(),
            logo: c.logo.clone(),
            group: c.group.clone(),
            enabled: c.is_enabled(),
            candidates: c.streams.iter().map(Candidate::manual).collect(),
            overrides: c.overrides(),
        }
    }

    /// A channel with default guide data and no overrides (tests, tools).
    pub fn new(number: &str, name: &str, urls: &[&str]) -> Self {
        Self {
            id: format!("config:{number}"),
            number: number.to_string(),
            name: name.to_string(),
            guide_id: None,
            logo: None,
            group: None,
            enabled: true,
            candidates: urls.iter().map(|u| Candidate::manual(*u)).collect(),
            overrides: EngineOverrides::default(),
        }
    }

    pub fn is_enabled(&self) -> bool {
        self.enabled
    }

    /// The global stream settings with this channel's overrides applied.
    pub fn effective_stream(&self, global: &StreamConfig) -> StreamConfig {
        self.overrides.apply(global)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_entries_convert_with_their_overrides() {
        let c = ChannelConfig {
            number: "102".into(),
            name: "Sports".into(),
            streams: vec!["http://u:p@h.example/a.ts".into(), "/srv/b.ts".into()],
            tvg_id: Some("sports.example".into()),
            enabled: Some(false),
            failover_after_ms: Some(3000),
            ..Default::default()
        };
        let ch = Channel::from_config(&c);
        assert_eq!(ch.id, "config:102");
        assert_eq!(ch.guide_id.as_deref(), Some("sports.example"));
        assert!(!ch.is_enabled());
        assert_eq!(ch.candidates.len(), 2);
        assert_eq!(ch.candidates[0].source, CandidateSource::Config);
        let g = StreamConfig::default();
        assert_eq!(ch.effective_stream(&g), c.effective_stream(&g));
        let json = serde_json::to_string(&ch).unwrap();
        assert!(
            !json.contains("u:p"),
            "credentials never serialised: {json}"
        );
        assert_eq!(ch.candidates[0].redacted_url(), redact(&c.streams[0]));
    }

    #[test]
    fn tiers_order_best_first() {
        let mut t = vec![Tier::Sd, Tier::Unknown, Tier::Uhd, Tier::Hd, Tier::Fhd];
        t.sort();
        assert_eq!(t, [Tier::Uhd, Tier::Fhd, Tier::Hd, Tier::Sd, Tier::Unknown]);
    }
}
