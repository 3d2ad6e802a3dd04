//! The guide indexed once for matching: every channel's names in
//! comparison form (its display names and the name its iptv-org style id
//! spells, `TVBahia.br@HD` → `TV Bahia`), its countries and timeshift
//! from the id, and postings from index keys to channels, so a stream is
//! scored only against the channels sharing a word, a joined pair of
//! words, its whole name or a word's first letters with it. How a
//! stream and a channel compare is `scoring`'s; what wins is `matching`'s.

use std::collections::HashMap;

use crate::lineup::countries;
use crate::lineup::normalize::{Parsed, parse, split_camel};
use crate::lineup::scoring::{Form, NONE, Vocab};

/// Share of a word's weight a channel gets for sharing only its first
/// letters (typos, abbreviations).
const PREFIX_HIT: f32 = 0.5;

pub(crate) struct Alias {
    pub form: Form,
    /// Spelled by the id, not a display name.
    pub from_id: bool,
}

pub(crate) struct Entry {
    pub id: String,
    pub countries: Vec<&'static str>,
    pub aliases: Vec<Alias>,
}

pub(crate) struct GuideIndex {
    pub entries: Vec<Entry>,
    pub vocab: Vocab,
    /// Vocabulary id of an index key → entries, ascending.
    postings: Vec<Vec<u32>>,
    /// Lower-case guide id → entry.
    by_id: HashMap<String, u32>,
    /// Lower-case id without a quality-only feed (`rai1.it` for
    /// `Rai1.it@HD`) → entries.
    by_base: HashMap<String, Vec<u32>>,
}

/// What an iptv-org style id says: `Name.cc@Feed`.
pub(crate) struct IdParts<'a> {
    /// The name part, if it has a letter (`20.it` has none).
    pub name: Option<&'a str>,
    /// From the `.cc` suffix and a country feed (`@Poland`).
    pub countries: Vec<&'static str>,
    /// From a `@PlusN` feed.
    pub timeshift: Option<u16>,
}

/// Feeds that only say the quality: `Rai1.it@HD` is `Rai1.it`.
const QUALITY_FEEDS: &[&str] = &["sd", "hd", "fhd", "uhd", "4k", "hevc", "hdr"];

/// An id without its feed, lower case, if the feed says only the
/// quality (or there is none).
pub(crate) fn base_id(id: &str) -> Option<String> {
    let id = id.trim().to_lowercase();
    match id.split_once('@') {
        None => Some(id),
        Some((base, feed)) if QUALITY_FEEDS.contains(&feed) => Some(base.to_string()),
        Some(_) => None,
    }
}

pub(crate) fn id_parts(id: &str) -> IdParts<'_> {
    let (base, feed) = id.split_once('@').unwrap_or((id, ""));
    let (name, rest) = base.split_once('.').unwrap_or((base, ""));
    let mut found = Vec::new();
    if !rest.is_empty() {
        found.extend(base.rsplit('.').next().and_then(countries::from_id_suffix));
    }
    let mut timeshift = None;
    let lower = feed.to_ascii_lowercase();
    if let Some(h) = lower.strip_prefix("plus").and_then(|h| h.parse().ok()) {
        timeshift = Some(h);
    } else {
        for w in split_camel(feed).split_whitespace() {
            if let Some(c) = countries::lookup(&w.to_ascii_lowercase(), false)
                && !found.contains(&c)
            {
                found.push(c);
            }
        }
    }
    IdParts {
        name: Some(name).filter(|n| n.len() <= 64 && n.chars().any(char::is_alphabetic)),
        countries: found,
        timeshift,
    }
}

/// Index keys for the first four letters of each word of at least `min`
/// letters (`~disc`) and the first five of the whole name (`#sport`),
/// with the index of their word (`None` for the whole name). `min` is 5
/// in the guide and 4 in a stream, so `disc` finds `discovery`.
pub(crate) fn prefix_keys(tokens: &[&str], min: usize) -> Vec<(Option<usize>, String)> {
    let mut out: Vec<(Option<usize>, String)> = tokens
        .iter()
        .enumerate()
        .filter(|(_, t)| t.chars().count() >= min && !t.bytes().all(|b| b.is_ascii_digit()))
        .map(|(i, t)| {
            (
                Some(i),
                format!("~{}", t.chars().take(4).collect::<String>()),
            )
        })
        .collect();
    let compact: String = tokens.concat();
    if compact.chars().count() > 5 {
        out.push((
            None,
            format!("#{}", compact.chars().take(5).collect::<String>()),
        ));
    }
    out
}

/// A channel's id, countries and parsed names (with `from_id`), before
/// the vocabulary is complete.
type Pending<'a> = (&'a str, Vec<&'static str>, Vec<(Parsed, bool)>);

fn texts(f: &Form) -> Vec<&str> {
    f.toks.iter().map(|t| &*t.text).collect()
}

impl GuideIndex {
    /// `guide`: (id, display names) per channel.
    pub(crate) fn build<'a>(guide: impl ExactSizeIterator<Item = (&'a str, &'a [String])>) -> Self {
        let n = guide.len();
        let mut vocab = Vocab::default();
        // First pass: names taken apart, tokens counted once per channel.
        let mut pending: Vec<Pending> = Vec::new();
        for (id, display) in guide {
            let idp = id_parts(id);
            let mut names: Vec<(Parsed, bool)> = Vec::new();
            let spelled = idp.name.map(|n| (split_camel(n), true));
            let all = display.iter().map(|d| (d.clone(), false)).chain(spelled);
            for (text, from_id) in all {
                let mut p = parse(&text, &idp.countries);
                p.timeshift = p.timeshift.or(idp.timeshift);
                let known = names
                    .iter()
                    .any(|(q, _)| q.tokens == p.tokens && q.timeshift == p.timeshift);
                if !p.tokens.is_empty() && !known {
                    names.push((p, from_id));
                }
            }
            // A name of digits only is a channel number (`101`, as guides
            // made for Plex carry), not a name, unless there is no other.
            let numeric = |p: &Parsed| {
                p.tokens
                    .iter()
                    .all(|t| t.bytes().all(|b| b.is_ascii_digit()))
            };
            if names.iter().any(|(p, _)| !numeric(p)) {
                names.retain(|(p, _)| !numeric(p));
            }
            let mut seen: Vec<u32> = Vec::new();
            for t in names.iter().flat_map(|(p, _)| &p.tokens) {
                let tid = vocab.intern(t);
                if !seen.contains(&tid) {
                    seen.push(tid);
                    vocab.count(tid);
                }
            }
            pending.push((id, idp.countries, names));
        }
        vocab.set_channels(n);
        // Joined pairs, whole names and prefixes get ids too (with no
        // frequency), so a stream's `sesctv` finds the guide's `SESC TV`.
        for p in pending
            .iter()
            .flat_map(|(_, _, names)| names.iter().map(|(p, _)| p))
        {
            for w in p.tokens.windows(2) {
                vocab.intern(&w.concat());
            }
            vocab.intern(&p.tokens.concat());
            let words: Vec<&str> = p.tokens.iter().map(String::as_str).collect();
            for (_, k) in prefix_keys(&words, 5) {
                vocab.intern(&k);
            }
        }
        let mut postings: Vec<Vec<u32>> = vec![Vec::new(); vocab.len()];
        let mut entries = Vec::with_capacity(n);
        let mut by_id = HashMap::with_capacity(n);
        let mut by_base: HashMap<String, Vec<u32>> = HashMap::new();
        for (i, (id, countries, names)) in pending.into_iter().enumerate() {
            let e = i as u32;
            by_id.entry(id.to_lowercase()).or_insert(e);
            if let Some(b) = base_id(id) {
                by_base.entry(b).or_default().push(e);
            }
            let aliases: Vec<Alias> = names
                .into_iter()
                .map(|(p, from_id)| Alias {
                    form: vocab.form(&p.tokens, &p.glued, p.timeshift),
                    from_id,
                })
                .collect();
            for f in aliases.iter().map(|a| &a.form) {
                let prefixes = prefix_keys(&texts(f), 5);
                let keys = f.toks.iter().map(|t| t.id).chain(f.pairs.iter().copied());
                let keys = keys
                    .chain([f.compact_id])
                    .chain(prefixes.iter().map(|(_, k)| vocab.get(k)));
                for key in keys.filter(|&k| k != NONE) {
                    let list = &mut postings[key as usize];
                    if list.last() != Some(&e) {
                        list.push(e);
                    }
                }
            }
            entries.push(Entry {
                id: id.to_string(),
                countries,
                aliases,
            });
        }
        Self {
            entries,
            vocab,
            postings,
            by_id,
            by_base,
        }
    }

    /// The entry whose id is `id` in any case.
    pub(crate) fn by_id(&self, id: &str) -> Option<u32> {
        self.by_id.get(&id.trim().to_lowercase()).copied()
    }

    /// The one entry whose id equals `id` once quality-only feeds are
    /// ignored on both sides (`Rai1.it` → `Rai1.it@HD`); none if several.
    pub(crate) fn by_base(&self, id: &str) -> Option<u32> {
        match self.by_base.get(&base_id(id)?)?.as_slice() {
            [one] => Some(*one),
            _ => None,
        }
    }

    /// At most `n` entries sharing the most weight with `queries`: a word
    /// counts its weight, a joined pair both words', the whole name all
    /// of it, a prefix half.
    pub(crate) fn shortlist(&self, queries: &[&Form], n: usize) -> Vec<u32> {
        let mut acc: HashMap<u32, f32> = HashMap::new();
        for q in queries {
            let w = |i: usize| q.toks[i].weight;
            let total: f32 = q.toks.iter().map(|t| t.weight).sum();
            let mut keys: Vec<(u32, f32)> = q.toks.iter().map(|t| (t.id, t.weight)).collect();
            keys.extend(
                q.pairs
                    .iter()
                    .enumerate()
                    .map(|(i, &p)| (p, w(i) + w(i + 1))),
            );
            keys.push((q.compact_id, total));
            for (i, k) in prefix_keys(&texts(q), 4) {
                keys.push((self.vocab.get(&k), i.map_or(total, w) * PREFIX_HIT));
            }
            for (key, weight) in keys.into_iter().filter(|k| k.0 != NONE) {
                for &e in &self.postings[key as usize] {
                    *acc.entry(e).or_default() += weight;
                }
            }
        }
        let mut short: Vec<(u32, f32)> = acc.into_iter().collect();
        let order = |a: &(u32, f32), b: &(u32, f32)| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0));
        if short.len() > n {
            short.select_nth_unstable_by(n, order);
            short.truncate(n);
        }
        short.into_iter().map(|(e, _)| e).collect()
    }
}
