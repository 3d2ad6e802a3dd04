//! Stream-to-guide matching (first cut): exact guide id, then exact
//! normalised display name. The full matcher (fuzzy scoring with margins,
//! timeshift, regional and country awareness) replaces this module.

use std::collections::HashMap;

use serde::Serialize;

use crate::lineup::channel::Tier;

pub const DEFAULT_THRESHOLD: f64 = 0.85;

pub struct GuideChannel {
    pub id: String,
    pub names: Vec<String>,
}

pub struct StreamInfo<'a> {
    pub name: &'a str,
    pub tvg_id: Option<&'a str>,
    pub tvg_name: Option<&'a str>,
    pub group: Option<&'a str>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    GuideId,
    DisplayName,
    Fuzzy,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Candidate {
    pub guide_id: String,
    pub confidence: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MatchResult {
    pub best: Option<Candidate>,
    pub method: Option<Method>,
    pub suggestions: Vec<Candidate>,
}

pub struct Matcher {
    ids: HashMap<String, String>,
    names: HashMap<String, Vec<String>>,
}

impl Matcher {
    pub fn new(guide: &[GuideChannel]) -> Self {
        let mut ids = HashMap::new();
        let mut names: HashMap<String, Vec<String>> = HashMap::new();
        for g in guide {
            ids.insert(g.id.to_ascii_lowercase(), g.id.clone());
            for n in &g.names {
                let k = normalise(n);
                if !k.is_empty() {
                    let v = names.entry(k).or_default();
                    if !v.contains(&g.id) {
                        v.push(g.id.clone());
                    }
                }
            }
        }
        Self { ids, names }
    }

    pub fn find(&self, s: &StreamInfo) -> MatchResult {
        if let Some(id) = s
            .tvg_id
            .and_then(|t| self.ids.get(&t.trim().to_ascii_lowercase()))
        {
            return MatchResult {
                best: Some(Candidate {
                    guide_id: id.clone(),
                    confidence: 1.0,
                }),
                method: Some(Method::GuideId),
                suggestions: vec![],
            };
        }
        for n in [Some(s.name), s.tvg_name].into_iter().flatten() {
            if let Some(ids) = self.names.get(&normalise(n)) {
                // Two guide channels with the name: no margin, a suggestion.
                let confidence = if ids.len() == 1 { 0.95 } else { 0.5 };
                return MatchResult {
                    best: Some(Candidate {
                        guide_id: ids[0].clone(),
                        confidence,
                    }),
                    method: Some(Method::DisplayName),
                    suggestions: ids[1..]
                        .iter()
                        .map(|g| Candidate {
                            guide_id: g.clone(),
                            confidence,
                        })
                        .collect(),
                };
            }
        }
        MatchResult {
            best: None,
            method: None,
            suggestions: vec![],
        }
    }
}

const QUALITY: &[(&str, Tier)] = &[
    ("uhd", Tier::Uhd),
    ("4k", Tier::Uhd),
    ("2160p", Tier::Uhd),
    ("fhd", Tier::Fhd),
    ("1080p", Tier::Fhd),
    ("1080i", Tier::Fhd),
    ("hd", Tier::Hd),
    ("720p", Tier::Hd),
    ("sd", Tier::Sd),
    ("576p", Tier::Sd),
    ("480p", Tier::Sd),
    ("360p", Tier::Sd),
];

/// The quality tier a name states, by whole tokens.
pub fn tier_of(name: &str) -> Tier {
    let mut best = Tier::Unknown;
    for t in name
        .split(|c: char| !c.is_alphanumeric())
        .map(str::to_lowercase)
    {
        if let Some((_, tier)) = QUALITY.iter().find(|(q, _)| *q == t) {
            best = best.min(*tier);
        }
    }
    best
}

/// Lower case, punctuation folded, quality tokens and a short country
/// prefix (`UK:`) dropped; `+1` kept.
pub fn normalise(name: &str) -> String {
    let mut n = name.trim();
    if let Some((head, rest)) = n.split_once([':', '|'])
        && head.trim().len() <= 4
        && !rest.trim().is_empty()
    {
        n = rest;
    }
    n.replace('+', " plus")
        .split(|c: char| !c.is_alphanumeric())
        .map(str::to_lowercase)
        .filter(|t| !t.is_empty() && !QUALITY.iter().any(|(q, _)| q == t))
        .collect::<Vec<_>>()
        .join(" ")
}
