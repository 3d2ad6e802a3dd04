//! Building the lineup from what providers gave: guide channels define the
//! channels (name, logo, guide data) and provider streams are matched to
//! them; with no guide, provider channels form the lineup directly. A
//! channel's candidates, best first (tier, then source priority), are its
//! failover order. Numbers are assigned once and never move: a channel
//! keeps its number across re-syncs, restarts and renames, and a channel
//! that vanishes keeps it reserved while it is stale. The config's
//! `[[channel]]` entries stay as manual channels, their numbers reserved.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::Serialize;

use super::channel::{Candidate, CandidateSource, Channel, EngineOverrides};
use super::matching::{self, GuideChannel, Matcher, Method, StreamInfo};
use crate::config::Config;
use crate::store::lineup::{ChannelRow, GuideChannelRow, MatchRow, StreamRow};
use crate::store::{Store, StoreError};

/// What a build did, for the event and the API.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct BuildSummary {
    pub channels: usize,
    pub enabled: usize,
    pub streams: usize,
    /// Streams matched to a guide channel (auto or manual).
    pub matched: usize,
    /// Streams with a match below the threshold (offered, not applied).
    pub suggested: usize,
    pub unmatched: usize,
    pub numbers_assigned: usize,
    pub stale_channels: usize,
}

/// The match a stream ends up with.
struct Decided {
    guide_id: Option<String>,
    row: MatchRow,
}

/// A channel being assembled.
struct Draft {
    key: String,
    name: String,
    guide_id: Option<String>,
    logo: Option<String>,
    group: Option<String>,
    enabled_default: bool,
    provider_number: Option<String>,
    candidates: Vec<(
        Option<i64>,
        super::channel::Tier,
        i64,
        i64,
        String,
        Candidate,
    )>,
}

fn is_number(s: &str) -> bool {
    !s.is_empty() && s.chars().all(|c| c.is_ascii_digit() || c == '.')
}

fn number_key(n: &str) -> (u64, u64) {
    let (a, b) = n.split_once('.').unwrap_or((n, "0"));
    (a.parse().unwrap_or(u64::MAX), b.parse().unwrap_or(0))
}

/// The channel name a guide channel shows: its first display name that is
/// not just a number.
fn guide_name(g: &GuideChannelRow) -> String {
    g.names
        .iter()
        .find(|n| !is_number(n.trim()))
        .or(g.names.first())
        .cloned()
        .unwrap_or_else(|| g.id.clone())
}

/// Builds and stores the lineup; returns the channels (config ones first,
/// then provider channels by number) and a summary.
pub async fn build(
    store: &Store,
    config: &Config,
) -> Result<(Vec<Channel>, BuildSummary), StoreError> {
    assemble(store, config, true).await
}

/// The lineup as the stored data make it, writing nothing: for tools
/// that must not change a running server's data (`probe 1005`). Channels
/// no build has numbered yet are left out.
pub async fn peek(store: &Store, config: &Config) -> Result<Vec<Channel>, StoreError> {
    Ok(assemble(store, config, false).await?.0)
}

async fn assemble(
    store: &Store,
    config: &Config,
    persist: bool,
) -> Result<(Vec<Channel>, BuildSummary), StoreError> {
    let guide = store.merged_guide_channels().await?;
    let streams = store.all_streams().await?;
    let old_matches: HashMap<(i64, String), MatchRow> = store
        .stream_matches()
        .await?
        .into_iter()
        .map(|m| ((m.source_id, m.stream_key.clone()), m))
        .collect();
    let threshold = config.lineup.match_threshold;
    let by_id: HashMap<String, &GuideChannelRow> = guide
        .iter()
        .map(|g| (g.id.to_ascii_lowercase(), g))
        .collect();
    let matcher = Matcher::new(
        &guide
            .iter()
            .map(|g| GuideChannel {
                id: g.id.clone(),
                names: g.names.clone(),
            })
            .collect::<Vec<_>>(),
    );
    let mut summary = BuildSummary::default();
    let mut decided = Vec::with_capacity(streams.len());
    for s in streams.iter().filter(|s| !s.stale) {
        decided.push(decide(
            s,
            &matcher,
            &by_id,
            old_matches.get(&(s.source_id, s.stream.key.clone())),
            threshold,
        ));
    }
    if persist {
        store
            .save_auto_matches(&decided.iter().map(|d| d.row.clone()).collect::<Vec<_>>())
            .await?;
    }

    // Assemble channels.
    let have_guide = !guide.is_empty();
    let mut drafts: BTreeMap<String, Draft> = BTreeMap::new();
    for (s, d) in streams.iter().filter(|s| !s.stale).zip(&decided) {
        summary.streams += 1;
        match (&d.guide_id, d.row.confidence) {
            (Some(_), _) => summary.matched += 1,
            (None, Some(c)) if c > 0.0 => summary.suggested += 1,
            _ => summary.unmatched += 1,
        }
        let (key, name, guide_id, logo, enabled_default) = match d
            .guide_id
            .as_deref()
            .and_then(|g| by_id.get(&g.to_ascii_lowercase()))
        {
            Some(g) => (
                format!("guide:{}", g.id),
                guide_name(g),
                Some(g.id.clone()),
                g.icon.clone().or_else(|| s.stream.logo.clone()),
                true,
            ),
            None => {
                let n = matching::normalise(&s.stream.name);
                let n = if n.is_empty() {
                    s.stream.name.to_lowercase()
                } else {
                    n
                };
                let country = s
                    .stream
                    .group
                    .as_deref()
                    .map(country_of_group)
                    .unwrap_or_default();
                (
                    format!("name:{country}:{n}"),
                    display_name(&s.stream.name),
                    None,
                    s.stream.logo.clone(),
                    // With a guide, an unmatched stream's channel starts off.
                    !have_guide,
                )
            }
        };
        let draft = drafts.entry(key.clone()).or_insert_with(|| Draft {
            key,
            name,
            guide_id,
            logo,
            group: s.stream.group.clone(),
            enabled_default,
            provider_number: s.stream.chno.clone().filter(|n| is_number(n)),
            candidates: Vec::new(),
        });
        let tier = matching::tier_of(&s.stream.name);
        draft.candidates.push((
            d.row.rank,
            tier,
            s.priority,
            s.source_id,
            s.stream.name.clone(),
            Candidate {
                url: s.stream.url.clone(),
                source: CandidateSource::Provider {
                    source_id: s.source_id,
                    name: s.source_name.clone(),
                },
                tier,
                user_agent: s.stream.user_agent.clone(),
                referrer: s.stream.referrer.clone(),
                stream_name: Some(s.stream.name.clone()),
                stream_key: Some(s.stream.key.clone()),
            },
        ));
    }

    // Numbers: kept for known keys; new ones get the provider's number
    // (when configured and free) or the next free one.
    let existing: HashMap<String, ChannelRow> = store
        .lineup_channels()
        .await?
        .into_iter()
        .map(|c| (c.key.clone(), c))
        .collect();
    let mut taken: HashSet<String> = config.channel.iter().map(|c| c.number.clone()).collect();
    taken.extend(existing.values().map(|c| c.number.clone()));
    let mut next = config.lineup.first_number as u64;
    let mut seen = Vec::with_capacity(drafts.len());
    for d in drafts.values() {
        let number = match existing.get(&d.key) {
            Some(c) => c.number.clone(),
            None => {
                summary.numbers_assigned += 1;
                let wanted = d
                    .provider_number
                    .clone()
                    .filter(|n| config.lineup.use_provider_numbers && !taken.contains(n));
                let n = wanted.unwrap_or_else(|| {
                    while taken.contains(&next.to_string()) {
                        next += 1;
                    }
                    next.to_string()
                });
                taken.insert(n.clone());
                n
            }
        };
        seen.push(ChannelRow {
            id: 0,
            key: d.key.clone(),
            number,
            name: d.name.clone(),
            guide_id: d.guide_id.clone(),
            logo: d.logo.clone(),
            group: d.group.clone(),
            enabled: d.enabled_default,
            enabled_manual: false,
            number_manual: false,
            stale_since: None,
        });
    }
    let stored = if persist {
        store.save_lineup(&seen, config.sync.stale_days).await?
    } else {
        // Only what a build stored, as it stored it.
        let seen_keys: HashSet<&str> = seen.iter().map(|c| c.key.as_str()).collect();
        existing
            .values()
            .filter(|c| seen_keys.contains(c.key.as_str()))
            .cloned()
            .collect()
    };
    let stored: HashMap<&str, &ChannelRow> = stored.iter().map(|c| (c.key.as_str(), c)).collect();
    summary.stale_channels = stored.values().filter(|c| c.stale_since.is_some()).count();

    let mut provider: Vec<Channel> = Vec::with_capacity(drafts.len());
    for mut d in drafts.into_values() {
        let Some(row) = stored.get(d.key.as_str()) else {
            continue;
        };
        // Best first: a person's order, then quality, then source priority.
        d.candidates.sort_by(|a, b| {
            (a.0.unwrap_or(i64::MAX), a.1, a.2, a.3, &a.4).cmp(&(
                b.0.unwrap_or(i64::MAX),
                b.1,
                b.2,
                b.3,
                &b.4,
            ))
        });
        provider.push(Channel {
            id: format!("lineup:{}", row.id),
            number: row.number.clone(),
            name: row.name.clone(),
            guide_id: row.guide_id.clone(),
            logo: row.logo.clone(),
            group: row.group.clone(),
            enabled: row.enabled,
            candidates: d.candidates.into_iter().map(|c| c.5).collect(),
            overrides: EngineOverrides::default(),
        });
    }
    provider.sort_by_key(|c| number_key(&c.number));
    let mut all: Vec<Channel> = config.channel.iter().map(Channel::from_config).collect();
    all.extend(provider);
    summary.channels = all.len();
    summary.enabled = all.iter().filter(|c| c.enabled).count();
    Ok((all, summary))
}

/// A stream's match: a person's pin wins; else the matcher's answer,
/// applied at or above the threshold and suggested below it.
fn decide(
    s: &StreamRow,
    matcher: &Matcher,
    by_id: &HashMap<String, &GuideChannelRow>,
    old: Option<&MatchRow>,
    threshold: f64,
) -> Decided {
    let rank = old.and_then(|m| m.rank);
    if let Some(m) = old.filter(|m| m.manual)
        && m.guide_id
            .as_deref()
            .is_some_and(|g| by_id.contains_key(&g.to_ascii_lowercase()))
    {
        return Decided {
            guide_id: m.guide_id.clone(),
            row: MatchRow { rank, ..m.clone() },
        };
    }
    let r = matcher.find(&StreamInfo {
        name: &s.stream.name,
        tvg_id: s.stream.tvg_id.as_deref(),
        tvg_name: s.stream.tvg_name.as_deref(),
        group: s.stream.group.as_deref(),
    });
    let applied = r.best.as_ref().filter(|b| b.confidence >= threshold);
    let method = match (applied, r.method) {
        (Some(_), Some(Method::GuideId)) => "guide_id",
        (Some(_), Some(Method::DisplayName)) => "display_name",
        (Some(_), _) => "fuzzy",
        (None, _) => "none",
    };
    let mut suggestions: Vec<serde_json::Value> = Vec::new();
    if applied.is_none()
        && let Some(b) = &r.best
    {
        suggestions.push(serde_json::json!({ "guide_id": b.guide_id, "confidence": b.confidence }));
    }
    suggestions.extend(
        r.suggestions
            .iter()
            .map(|c| serde_json::json!({ "guide_id": c.guide_id, "confidence": c.confidence })),
    );
    Decided {
        guide_id: applied.map(|b| b.guide_id.clone()),
        row: MatchRow {
            source_id: s.source_id,
            stream_key: s.stream.key.clone(),
            guide_id: applied.map(|b| b.guide_id.clone()),
            confidence: r.best.as_ref().map(|b| b.confidence),
            method: method.into(),
            manual: false,
            suggestions: serde_json::Value::Array(suggestions),
            rank,
        },
    }
}

/// `UK | Sport` → `uk`; a group without a leading country code → ``.
fn country_of_group(group: &str) -> String {
    let head = group
        .split(['|', ':', '-', ' '])
        .map(str::trim)
        .find(|s| !s.is_empty())
        .unwrap_or("");
    if (2..=3).contains(&head.len()) && head.chars().all(|c| c.is_ascii_alphabetic()) {
        head.to_ascii_lowercase()
    } else {
        String::new()
    }
}

/// A provider name shown as a channel name: without a reseller's country
/// prefix and quality suffix (`UK: BBC One FHD` → `BBC One`).
fn display_name(name: &str) -> String {
    let mut n = name.trim();
    // `UK: `, `|IT| `, `[NED] `, `PL - `: a country code and a separator.
    let t = n.trim_start_matches(|c: char| matches!(c, '|' | '[' | '(') || c.is_whitespace());
    if let Some(pos) = t.find([':', '|', ']', ')', '-']) {
        let head = t[..pos].trim();
        let rest = t[pos + 1..].trim_start_matches(|c: char| {
            matches!(c, ':' | '|' | ']' | ')' | '-') || c.is_whitespace()
        });
        if (2..=4).contains(&head.len())
            && head.chars().all(|c| c.is_ascii_alphabetic())
            && !rest.is_empty()
        {
            n = rest;
        }
    }
    let words: Vec<&str> = n.split_whitespace().collect();
    let keep = words
        .iter()
        .rposition(|w| matching::tier_of(w) == super::channel::Tier::Unknown)
        .map(|i| i + 1)
        .unwrap_or(words.len());
    let out = words[..keep].join(" ");
    if out.is_empty() {
        name.trim().to_string()
    } else {
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_countries() {
        assert_eq!(display_name("UK: BBC One FHD"), "BBC One");
        assert_eq!(display_name("|IT| Rai 1 HD"), "Rai 1");
        assert_eq!(display_name("Discovery"), "Discovery");
        assert_eq!(display_name("[NED] NPO 1 HD"), "NPO 1");
        assert_eq!(display_name("PL - TVP Info"), "TVP Info");
        assert_eq!(display_name("Sky Sports F1 - 4K"), "Sky Sports F1 -");
        assert_eq!(country_of_group("UK | Sport"), "uk");
        assert_eq!(country_of_group("Sports"), "");
        assert!(number_key("5.1") < number_key("5.2") && number_key("99") < number_key("100"));
    }
}
