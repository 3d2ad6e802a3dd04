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

use serde::Serialize;

use crate::lineup::normalize::{Parsed, group_countries, parse, split_camel};
pub use crate::lineup::normalize::{normalise, tier_of};
use crate::lineup::scoring::{Form, NONE, Vocab, score};

/// At or above it a match is applied, below it only suggested.
pub const DEFAULT_THRESHOLD: f64 = 0.85;

/// Below this a channel is not even suggested.
const MIN_SCORE: f32 = 0.3;
/// Channels scored in full per stream: the ones sharing most weight.
const SHORTLIST: usize = 32;
/// Share of a word's weight a shortlist gets for sharing its first
/// letters (typos, abbreviations).
const PREFIX_HIT: f32 = 0.5;
/// The name an id spells is trusted a little less than a display name.
const ID_ALIAS: f32 = 0.98;
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

struct Alias {
    form: Form,
    from_id: bool,
}

struct Entry {
    id: String,
    countries: Vec<&'static str>,
    aliases: Vec<Alias>,
}

/// The guide, indexed for matching.
pub struct Matcher {
    entries: Vec<Entry>,
    vocab: Vocab,
    /// Vocabulary id (token, joined pair or whole compact name) → entries.
    postings: Vec<Vec<u32>>,
    /// Lower-case guide id → entry.
    by_id: HashMap<String, u32>,
}

/// What an iptv-org style id says: `Name.cc@Feed`.
struct IdParts<'a> {
    name: Option<&'a str>,
    countries: Vec<&'static str>,
    timeshift: Option<u16>,
}

fn id_parts(id: &str) -> IdParts<'_> {
    let (base, feed) = id.split_once('@').unwrap_or((id, ""));
    let (name, suffix) = base.split_once('.').unwrap_or((base, ""));
    let mut countries = Vec::new();
    if let Some(c) = base.rsplit('.').next().filter(|_| !suffix.is_empty()) {
        countries.extend(crate::lineup::countries::from_id_suffix(c));
    }
    let mut timeshift = None;
    let f = feed.to_ascii_lowercase();
    if let Some(h) = f.strip_prefix("plus").and_then(|h| h.parse().ok()) {
        timeshift = Some(h);
    } else {
        for w in split_camel(feed).split_whitespace() {
            let w = w.to_ascii_lowercase();
            if let Some(c) = crate::lineup::countries::lookup(&w, false)
                && !countries.contains(&c)
            {
                countries.push(c);
            }
        }
    }
    let name = Some(name).filter(|n| n.len() <= 64 && n.chars().any(char::is_alphabetic));
    IdParts {
        name,
        countries,
        timeshift,
    }
}

impl Matcher {
    pub fn new(guide: &[GuideChannel]) -> Self {
        let mut vocab = Vocab::default();
        // First pass: names taken apart, tokens counted once per channel.
        let mut parsed: Vec<(Vec<&'static str>, Vec<(Parsed, bool)>)> = Vec::new();
        for ch in guide {
            let idp = id_parts(&ch.id);
            let mut names: Vec<(Parsed, bool)> = Vec::new();
            for n in &ch.names {
                let mut p = parse(n, &idp.countries);
                p.timeshift = p.timeshift.or(idp.timeshift);
                names.push((p, false));
            }
            if let Some(n) = idp.name {
                let mut p = parse(&split_camel(n), &idp.countries);
                p.timeshift = p.timeshift.or(idp.timeshift);
                if !names
                    .iter()
                    .any(|(q, _)| q.tokens == p.tokens && q.timeshift == p.timeshift)
                {
                    names.push((p, true));
                }
            }
            names.retain(|(p, _)| !p.tokens.is_empty());
            let mut seen: Vec<u32> = Vec::new();
            for (p, _) in &names {
                for t in &p.tokens {
                    let id = vocab.intern(t);
                    if !seen.contains(&id) {
                        seen.push(id);
                        vocab.count(id);
                    }
                }
            }
            parsed.push((idp.countries, names));
        }
        vocab.set_channels(guide.len());
        // Joined pairs and compact names get ids too (no frequency), so a
        // stream's `sesctv` finds the guide's `SESC TV`.
        for (_, names) in &parsed {
            for (p, _) in names {
                for w in p.tokens.windows(2) {
                    vocab.intern(&w.concat());
                }
                vocab.intern(&p.tokens.concat());
                for k in prefix_keys(&p.tokens, 5) {
                    vocab.intern(&k);
                }
            }
        }
        let mut postings: Vec<Vec<u32>> = vec![Vec::new(); vocab.len()];
        let mut entries = Vec::with_capacity(guide.len());
        let mut by_id = HashMap::with_capacity(guide.len());
        for (i, (ch, (countries, names))) in guide.iter().zip(parsed).enumerate() {
            let e = i as u32;
            by_id.entry(ch.id.to_lowercase()).or_insert(e);
            let aliases: Vec<Alias> = names
                .into_iter()
                .map(|(p, from_id)| Alias {
                    form: vocab.form(&p.tokens, &p.glued, p.timeshift),
                    from_id,
                })
                .collect();
            for a in &aliases {
                let texts: Vec<String> = a.form.toks.iter().map(|t| t.text.to_string()).collect();
                let prefixes = prefix_keys(&texts, 5).map(|k| vocab.get(&k));
                let ids = a.form.toks.iter().map(|t| t.id);
                let pairs = a.form.pairs.iter().copied();
                for id in ids.chain(pairs).chain([a.form.compact_id]).chain(prefixes) {
                    let list = &mut postings[id as usize];
                    if id != NONE && list.last() != Some(&e) {
                        list.push(e);
                    }
                }
            }
            entries.push(Entry {
                id: ch.id.clone(),
                countries,
                aliases,
            });
        }
        Self {
            entries,
            vocab,
            postings,
            by_id,
        }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn find(&self, s: &StreamInfo) -> MatchResult {
        if let Some(&e) = s
            .tvg_id
            .and_then(|t| self.by_id.get(&t.trim().to_lowercase()))
        {
            return MatchResult {
                best: Some(Candidate {
                    guide_id: self.entries[e as usize].id.clone(),
                    confidence: 1.0,
                }),
                method: Some(Method::GuideId),
                suggestions: Vec::new(),
            };
        }
        let mut countries = s.group.map(group_countries).unwrap_or_default();
        let mut queries: Vec<(Form, f32)> = Vec::new();
        let mut add = |name: &str, factor: f32, countries: &mut Vec<&'static str>| {
            let p = parse(name, countries);
            for c in &p.countries {
                if !countries.contains(c) {
                    countries.push(c);
                }
            }
            if !p.tokens.is_empty() {
                queries.push((self.vocab.form(&p.tokens, &p.glued, p.timeshift), factor));
            }
        };
        add(s.name, 1.0, &mut countries);
        if let Some(t) = s.tvg_name.filter(|t| normalise(t) != normalise(s.name)) {
            add(t, 1.0, &mut countries);
        }
        if let Some(t) = s.tvg_id {
            let idp = id_parts(t);
            for c in idp.countries {
                if !countries.contains(&c) {
                    countries.push(c);
                }
            }
            if let Some(n) = idp.name {
                add(&split_camel(n), ID_ALIAS, &mut countries);
            }
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
            guide_id: self.entries[e as usize].id.clone(),
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
        let mut acc: HashMap<u32, f32> = HashMap::new();
        for (q, _) in queries {
            let hits = q.toks.iter().map(|t| (t.id, t.weight));
            let pairs = q
                .pairs
                .iter()
                .enumerate()
                .map(|(i, &p)| (p, q.toks[i].weight + q.toks[i + 1].weight));
            let total: f32 = q.toks.iter().map(|t| t.weight).sum();
            let texts: Vec<String> = q.toks.iter().map(|t| t.text.to_string()).collect();
            let weights: Vec<f32> = q.toks.iter().map(|t| t.weight * PREFIX_HIT).collect();
            let prefixes = prefix_keys(&texts, 4)
                .zip(weights.into_iter().chain([total * PREFIX_HIT]))
                .map(|(k, w)| (self.vocab.get(&k), w));
            let hits = hits
                .chain(pairs)
                .chain([(q.compact_id, total)])
                .chain(prefixes);
            for (id, w) in hits {
                if id == NONE {
                    continue;
                }
                for &e in &self.postings[id as usize] {
                    *acc.entry(e).or_default() += w;
                }
            }
        }
        let mut short: Vec<(u32, f32)> = acc.into_iter().collect();
        if short.len() > SHORTLIST {
            short.select_nth_unstable_by(SHORTLIST, |a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
            short.truncate(SHORTLIST);
        }
        let mut out = Vec::with_capacity(short.len());
        for (e, _) in short {
            let entry = &self.entries[e as usize];
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

/// Index keys for the first letters of each word (`~disc`) and of the
/// whole name (`#sport`), for words of at least `min` letters; `min` is
/// 5 for the guide and 4 for a stream, so `disc` finds `discovery`. One
/// key per word, then the whole name's, in that order, when long enough.
fn prefix_keys(tokens: &[String], min: usize) -> impl Iterator<Item = String> + '_ {
    let word = tokens.iter().map(move |t| {
        (t.chars().count() >= min && !t.bytes().all(|b| b.is_ascii_digit()))
            .then(|| format!("~{}", t.chars().take(4).collect::<String>()))
    });
    let compact: String = tokens.concat();
    let whole = (compact.chars().count() > 5)
        .then(|| format!("#{}", compact.chars().take(5).collect::<String>()));
    word.chain([whole]).flatten()
}
