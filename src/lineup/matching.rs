//! Stream-to-guide matching (issue 10): which XMLTV guide channel a
//! provider stream is, with a confidence in [0, 1], or none.
//!
//! In order: the stream's `tvg-id` equal to a guide id (any case) is
//! certain; else its name is compared with every guide channel's display
//! names and with the name its iptv-org style id spells (`TVBahia.br@HD`
//! → `TV Bahia`), in comparison form (`normalize`), scored by `scoring`.
//! Equal names give a high score, fuzzy ones less. What makes another
//! channel: another timeshift (`+1`), other numbers, another regional
//! feed word, another country (the stream's group and name prefix against
//! the id's `.cc` suffix and country feed). The best needs a margin over
//! the second best: two channels that score alike both get a low
//! confidence. The caller applies the threshold ([`DEFAULT_THRESHOLD`]).
//!
//! Pure: no I/O, no clock. The index (token → channels) is built once, so
//! a stream is scored against the few channels sharing a word with it,
//! never against the whole guide.

use std::collections::HashMap;
use std::collections::hash_map::Entry;

use serde::Serialize;

use crate::lineup::guide_index::{GuideIndex, id_parts};
use crate::lineup::normalize::{group_countries, parse, split_camel};
pub use crate::lineup::normalize::{normalise, tier_of};
use crate::lineup::scoring::{Form, score};

/// At or above it a match is applied, below it only suggested.
pub const DEFAULT_THRESHOLD: f64 = 0.85;

/// A `tvg-id` equal to a guide id but for a quality-only feed.
const SAME_BASE_ID: f64 = 0.95;
/// Below this a channel is not even suggested.
const MIN_SCORE: f32 = 0.3;
/// Channels scored in full per stream: the ones sharing most weight.
const SHORTLIST: usize = 32;
/// The name an id spells is trusted a little less than a display name.
const ID_ALIAS: f32 = 0.98;
/// The name a `tvg-id` the guide lacks spells: weak evidence (provider
/// ids are often stale or wrong).
const TVG_ID_NAME: f32 = 0.9;
/// Country factor: both known and different, or the stream's known and
/// the guide channel's not.
const OTHER_COUNTRY: f32 = 0.7;
const UNKNOWN_COUNTRY: f32 = 0.97;
/// A best with no rival within `MARGIN` keeps its score; a tie keeps
/// `TIE` of it.
const MARGIN: f32 = 0.15;
const TIE: f32 = 0.75;
/// Suggestions besides the best.
const SUGGESTIONS: usize = 3;

/// A guide channel: its id and every display name, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GuideChannel {
    pub id: String,
    pub names: Vec<String>,
}

/// What a provider stream says about itself.
#[derive(Debug, Clone, Copy, Default)]
pub struct StreamInfo<'a> {
    pub name: &'a str,
    pub tvg_id: Option<&'a str>,
    pub tvg_name: Option<&'a str>,
    pub group: Option<&'a str>,
}

/// How the best match was found.
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
    /// Up to three more, best first, excluding `best`.
    pub suggestions: Vec<Candidate>,
}

/// The guide, indexed for matching.
pub struct Matcher {
    index: GuideIndex,
}

impl Matcher {
    /// Builds the index once; `find` reads it only. Entries repeating an
    /// id (guides merged from several sources) are one channel with all
    /// their names.
    pub fn new(guide: &[GuideChannel]) -> Self {
        let mut merged: Vec<(&str, Vec<String>)> = Vec::with_capacity(guide.len());
        let mut seen: HashMap<String, usize> = HashMap::with_capacity(guide.len());
        for g in guide {
            match seen.entry(g.id.to_lowercase()) {
                Entry::Occupied(i) => merged[*i.get()].1.extend(g.names.iter().cloned()),
                Entry::Vacant(v) => {
                    v.insert(merged.len());
                    merged.push((&g.id, g.names.clone()));
                }
            }
        }
        let channels = merged.iter().map(|(id, names)| (*id, names.as_slice()));
        Self {
            index: GuideIndex::build(channels),
        }
    }

    pub fn len(&self) -> usize {
        self.index.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.index.entries.is_empty()
    }

    pub fn find(&self, s: &StreamInfo) -> MatchResult {
        let by_id = s.tvg_id.and_then(|t| self.index.by_id(t)).map(|e| (e, 1.0));
        let by_base = || {
            s.tvg_id
                .and_then(|t| self.index.by_base(t))
                .map(|e| (e, SAME_BASE_ID))
        };
        if let Some((e, confidence)) = by_id.or_else(by_base) {
            return MatchResult {
                best: Some(Candidate {
                    guide_id: self.index.entries[e as usize].id.clone(),
                    confidence,
                }),
                method: Some(Method::GuideId),
                suggestions: Vec::new(),
            };
        }
        let mut countries = s.group.map(group_countries).unwrap_or_default();
        let id = s.tvg_id.map(id_parts);
        for c in id.iter().flat_map(|i| &i.countries) {
            if !countries.contains(c) {
                countries.push(c);
            }
        }
        let mut queries: Vec<(Form, f32)> = Vec::new();
        let mut add = |name: &str, factor: f32, countries: &mut Vec<&'static str>| {
            let p = parse(name, countries);
            for c in &p.countries {
                if !countries.contains(c) {
                    countries.push(c);
                }
            }
            if !p.tokens.is_empty() {
                let form = self.index.vocab.form(&p.tokens, &p.glued, p.timeshift);
                queries.push((form, factor));
            }
        };
        add(s.name, 1.0, &mut countries);
        if let Some(t) = s.tvg_name.filter(|t| normalise(t) != normalise(s.name)) {
            add(t, 1.0, &mut countries);
        }
        if let Some(n) = id.and_then(|i| i.name) {
            add(&split_camel(n), TVG_ID_NAME, &mut countries);
        }
        let mut scored = self.score_all(&queries, &countries);
        scored.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        let Some(&(e, s1, exact)) = scored.first() else {
            return MatchResult {
                best: None,
                method: None,
                suggestions: Vec::new(),
            };
        };
        let s2 = scored.get(1).map_or(0.0, |x| x.1);
        let conf = s1 * (TIE + (1.0 - TIE) * ((s1 - s2) / MARGIN).min(1.0));
        let cand = |e: u32, c: f32| Candidate {
            guide_id: self.index.entries[e as usize].id.clone(),
            confidence: (f64::from(c) * 1000.0).round() / 1000.0,
        };
        MatchResult {
            best: Some(cand(e, conf)),
            method: Some(if exact {
                Method::DisplayName
            } else {
                Method::Fuzzy
            }),
            suggestions: scored[1..]
                .iter()
                .take(SUGGESTIONS)
                .map(|&(e, s, _)| cand(e, s.min(conf)))
                .collect(),
        }
    }

    /// The shortlist's scores (entry, score, exact), at least `MIN_SCORE`.
    fn score_all(&self, queries: &[(Form, f32)], countries: &[&str]) -> Vec<(u32, f32, bool)> {
        let forms: Vec<&Form> = queries.iter().map(|(q, _)| q).collect();
        let short = self.index.shortlist(&forms, SHORTLIST);
        let mut out = Vec::with_capacity(short.len());
        for e in short {
            let entry = &self.index.entries[e as usize];
            let mut best = (0.0f32, false);
            for (q, qf) in queries {
                for a in &entry.aliases {
                    let s = score(q, &a.form);
                    let f = if a.from_id { ID_ALIAS } else { 1.0 } * qf;
                    let v = s.value * f;
                    if v > best.0 {
                        best = (v, s.exact && !a.from_id && *qf == 1.0);
                    }
                }
            }
            let cf = if countries.is_empty() {
                1.0
            } else if entry.countries.is_empty() {
                UNKNOWN_COUNTRY
            } else if entry.countries.iter().any(|c| countries.contains(c)) {
                1.0
            } else {
                OTHER_COUNTRY
            };
            let v = best.0 * cf;
            if v >= MIN_SCORE {
                out.push((e, v, best.1));
            }
        }
        out
    }
}
