//! How alike one stream name and one guide name are, in [0, 1]: tokens
//! weighted by rarity in the guide (`tv`, `canal`, country words count
//! little), matched exactly, across spacing (`Sport TV` = `SportTV`) or
//! fuzzily (`strsim`), with hard rules for what makes another channel:
//! another timeshift, other numbers (`Premium 2` vs `Premium 3`), other
//! regional feed words (`East` vs `West`). Country and margin over the
//! second best are applied by `matching`, which also builds the index.

use std::collections::HashMap;

/// Vocabulary id of a token the guide never uses.
pub(crate) const NONE: u32 = u32::MAX;
/// Tokens kept per name; real names have fewer.
pub(crate) const MAX_TOKENS: usize = 12;

/// Weight of a word that says little (`tv`, `canal`, `italia`, a lone
/// letter), and of a regional word only one side has.
const WEAK: f32 = 0.35;
/// Least similarity of two whole names (edit distance over length) to
/// count as a spelling variant.
const COMPACT_SIM: f32 = 0.85;
/// Score of the same words in another order.
const REORDERED: f32 = 0.93;
/// Factor when only one side has a number (`HBO` vs `HBO 2`).
const ONE_SIDED_NUMBER: f32 = 0.6;

/// Generic words of channel names.
const STOP: &[&str] = &[
    "tv",
    "tele",
    "television",
    "televisao",
    "telewizja",
    "televizija",
    "channel",
    "chaine",
    "canal",
    "kanal",
    "network",
    "the",
    "de",
    "del",
    "la",
    "el",
    "le",
    "il",
    "lo",
    "di",
    "da",
    "do",
    "dos",
    "das",
    "e",
    "y",
    "and",
    "of",
    "en",
    "et",
    "und",
    "official",
    "oficial",
];

/// Words that name a regional or language feed: two names with different
/// ones are different channels.
const REGION: &[&str] = &[
    "east",
    "west",
    "north",
    "south",
    "oost",
    "nord",
    "noord",
    "zuid",
    "est",
    "ovest",
    "oeste",
    "europe",
    "europa",
    "asia",
    "africa",
    "oceania",
    "latam",
    "americas",
    "pacific",
    "london",
    "scotland",
    "wales",
    "cymru",
    "yorkshire",
    "midlands",
    "anglia",
    "ulster",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Class {
    Word,
    Number,
    Weak,
    Region,
}

impl Class {
    pub(crate) fn of(text: &str, glued: bool) -> Class {
        if text.bytes().all(|b| b.is_ascii_digit()) {
            Class::Number
        } else if REGION.contains(&text) {
            Class::Region
        } else if STOP.contains(&text)
            || crate::lineup::countries::is_country_word(text)
            || (text.chars().count() == 1 && !glued)
        {
            Class::Weak
        } else {
            Class::Word
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Tok {
    pub id: u32,
    pub weight: f32,
    pub class: Class,
    pub text: Box<str>,
}

/// A name ready to compare: a guide alias or a stream query.
#[derive(Debug, Clone)]
pub(crate) struct Form {
    pub toks: Vec<Tok>,
    /// Vocabulary ids of adjacent pairs joined (`sport`+`tv`).
    pub pairs: Vec<u32>,
    /// All tokens joined, and its id.
    pub compact: String,
    pub compact_id: u32,
    pub timeshift: Option<u16>,
}

/// Token ids and their document frequency (in how many guide channels).
#[derive(Debug, Default)]
pub(crate) struct Vocab {
    ids: HashMap<String, u32>,
    df: Vec<u32>,
    channels: usize,
}

impl Vocab {
    pub(crate) fn intern(&mut self, s: &str) -> u32 {
        if let Some(&id) = self.ids.get(s) {
            return id;
        }
        let id = self.df.len() as u32;
        self.ids.insert(s.to_string(), id);
        self.df.push(0);
        id
    }

    pub(crate) fn get(&self, s: &str) -> u32 {
        self.ids.get(s).copied().unwrap_or(NONE)
    }

    pub(crate) fn count(&mut self, id: u32) {
        self.df[id as usize] += 1;
    }

    pub(crate) fn set_channels(&mut self, n: usize) {
        self.channels = n;
    }

    pub(crate) fn len(&self) -> usize {
        self.df.len()
    }

    /// Rarer is heavier: 1 + ln((N + 20) / (df + 1)).
    fn weight(&self, id: u32, class: Class) -> f32 {
        let df = self.df.get(id as usize).copied().unwrap_or(0) as f32;
        let idf = 1.0 + ((self.channels as f32 + 20.0) / (df + 1.0)).ln();
        match class {
            Class::Weak => idf * WEAK,
            _ => idf,
        }
    }

    /// `tokens` in the form scoring needs, with ids from this vocabulary
    /// (`NONE` for words it lacks).
    pub(crate) fn form(&self, tokens: &[String], glued: &[bool], timeshift: Option<u16>) -> Form {
        let n = tokens.len().min(MAX_TOKENS);
        let toks: Vec<Tok> = (0..n)
            .map(|i| {
                let id = self.get(&tokens[i]);
                let class = Class::of(&tokens[i], glued.get(i).copied().unwrap_or(false));
                Tok {
                    id,
                    weight: self.weight(id, class),
                    class,
                    text: tokens[i].as_str().into(),
                }
            })
            .collect();
        let pairs = (1..n)
            .map(|i| self.get(&format!("{}{}", tokens[i - 1], tokens[i])))
            .collect();
        let compact: String = tokens[..n].concat();
        let compact_id = self.get(&compact);
        Form {
            toks,
            pairs,
            compact,
            compact_id,
            timeshift,
        }
    }
}

/// One comparison's outcome.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Score {
    pub value: f32,
    /// The two names are equal in comparison form.
    pub exact: bool,
}

const ZERO: Score = Score {
    value: 0.0,
    exact: false,
};

/// How alike a stream name `q` and a guide name `a` are.
pub(crate) fn score(q: &Form, a: &Form) -> Score {
    if q.timeshift != a.timeshift || q.toks.is_empty() || a.toks.is_empty() {
        return ZERO;
    }
    let exact = q.toks.len() == a.toks.len()
        && q.toks
            .iter()
            .zip(&a.toks)
            .all(|(x, y)| x.id != NONE && x.id == y.id);
    if exact {
        return Score {
            value: 1.0,
            exact: true,
        };
    }
    let factor = match numbers(q, a) {
        Some(f) => f,
        None => return ZERO,
    };
    if q.compact == a.compact {
        return Score {
            value: 0.99 * factor,
            exact: false,
        };
    }
    let (nq, na) = (q.toks.len(), a.toks.len());
    let mut cq = [0f32; MAX_TOKENS];
    let mut ca = [0f32; MAX_TOKENS];
    for (i, t) in q.toks.iter().enumerate() {
        if t.id == NONE {
            continue;
        }
        if let Some(j) = (0..na).find(|&j| ca[j] == 0.0 && a.toks[j].id == t.id) {
            cq[i] = 1.0;
            ca[j] = 1.0;
        }
    }
    join_pairs(q, a, &mut cq, &mut ca);
    join_pairs(a, q, &mut ca, &mut cq);
    fuzzy(q, a, &mut cq, &mut ca);
    let lone_region = |f: &Form, c: &[f32]| {
        f.toks
            .iter()
            .zip(c)
            .any(|(t, &c)| c == 0.0 && t.class == Class::Region)
    };
    let (rq, ra) = (lone_region(q, &cq), lone_region(a, &ca));
    if rq && ra {
        return ZERO;
    }
    let mut matched = 0.0;
    let mut total = 0.0;
    for (f, c) in [(q, &cq[..nq]), (a, &ca[..na])] {
        for (t, &c) in f.toks.iter().zip(c) {
            let w = if c == 0.0 && t.class == Class::Region {
                t.weight * WEAK
            } else {
                t.weight
            };
            matched += w * c;
            total += w;
        }
    }
    let mut value = if total > 0.0 { matched / total } else { 0.0 };
    // Same words in another order (`Caccia e Pesca`, `Pesca e Caccia`)
    // may well be another channel.
    if value >= 1.0 && nq == na {
        value = REORDERED;
    }
    // A near miss in spelling across token boundaries (`Sports Italia`
    // vs `Sportitalia`), when both sides have words left over.
    let left = |c: &[f32]| c.iter().any(|&c| c < 1.0);
    if left(&cq[..nq]) && left(&ca[..na]) {
        let (lq, la) = (q.compact.chars().count(), a.compact.chars().count());
        let allowed = (lq.max(la) as f32 * (1.0 - COMPACT_SIM)) as usize;
        if lq.min(la) >= 6
            && lq.abs_diff(la) <= 2
            && bag_distance(&q.compact, &a.compact) <= allowed
        {
            let d = strsim::levenshtein(&q.compact, &a.compact) as f32;
            let sim = 1.0 - d / lq.max(la) as f32;
            if sim >= COMPACT_SIM {
                value = value.max(sim - 0.02);
            }
        }
    }
    Score {
        value: value * factor,
        exact: false,
    }
}

/// A lower bound of the edit distance, in linear time: characters one
/// side has more of than the other (counted in 256 buckets; a shared
/// bucket only lowers the bound).
fn bag_distance(x: &str, y: &str) -> usize {
    let mut count = [0i32; 256];
    x.chars()
        .for_each(|c| count[(c as u32 & 0xff) as usize] += 1);
    y.chars()
        .for_each(|c| count[(c as u32 & 0xff) as usize] -= 1);
    let more: i32 = count.iter().filter(|&&c| c > 0).sum();
    let less: i32 = -count.iter().filter(|&&c| c < 0).sum::<i32>();
    more.max(less) as usize
}

/// `None` when both names carry numbers and they differ; else the
/// factor for one side only having one.
fn numbers(q: &Form, a: &Form) -> Option<f32> {
    fn nums(f: &Form) -> Vec<&str> {
        let mut v: Vec<&str> = f
            .toks
            .iter()
            .filter(|t| t.class == Class::Number)
            .map(|t| t.text.trim_start_matches('0'))
            .collect();
        v.sort_unstable();
        v
    }
    let (x, y) = (nums(q), nums(a));
    match (x.is_empty(), y.is_empty()) {
        (true, true) => Some(1.0),
        (false, false) if x == y => Some(1.0),
        (false, false) => None,
        _ => Some(ONE_SIDED_NUMBER),
    }
}

/// Two adjacent unmatched tokens of `y` equal to one unmatched token of
/// `x` (`canalsur` / `canal sur`); compared as text, since the joined
/// form may be a word the guide never uses alone.
fn join_pairs(x: &Form, y: &Form, cx: &mut [f32], cy: &mut [f32]) {
    for i in 0..y.toks.len().saturating_sub(1) {
        if cy[i] != 0.0 || cy[i + 1] != 0.0 {
            continue;
        }
        let (l, r) = (&*y.toks[i].text, &*y.toks[i + 1].text);
        let hit = (0..x.toks.len()).find(|&j| {
            let t = &*x.toks[j].text;
            cx[j] == 0.0 && t.len() == l.len() + r.len() && t.starts_with(l) && t.ends_with(r)
        });
        if let Some(j) = hit {
            cy[i] = 1.0;
            cy[i + 1] = 1.0;
            cx[j] = 1.0;
        }
    }
}

/// Typos and abbreviations between words left unmatched: one edit in a
/// word of four letters or more (two from ten letters), or a prefix of
/// four letters or more (`disc` for `discovery`).
fn fuzzy(q: &Form, a: &Form, cq: &mut [f32], ca: &mut [f32]) {
    for (i, t) in q.toks.iter().enumerate() {
        if cq[i] != 0.0 || t.class == Class::Number || t.text.len() < 4 {
            continue;
        }
        let mut best: Option<(usize, f32)> = None;
        for (j, u) in a.toks.iter().enumerate() {
            if ca[j] != 0.0 || u.class == Class::Number || u.text.len() < 4 {
                continue;
            }
            let (s, l) = if t.text.len() <= u.text.len() {
                (&*t.text, &*u.text)
            } else {
                (&*u.text, &*t.text)
            };
            let allowed = if l.len() >= 10 { 2 } else { 1 };
            let credit = if l.starts_with(s) {
                0.7
            } else if l.len() - s.len() <= allowed {
                let d = strsim::levenshtein(s, l);
                if d <= allowed {
                    1.0 - d as f32 / l.chars().count() as f32
                } else {
                    0.0
                }
            } else {
                0.0
            };
            if credit > best.map_or(0.0, |b| b.1) {
                best = Some((j, credit));
            }
        }
        if let Some((j, c)) = best {
            cq[i] = c;
            ca[j] = c;
        }
    }
}

#[cfg(test)]
#[path = "scoring_tests.rs"]
mod tests;
