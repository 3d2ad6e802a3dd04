//! Channel names in comparison form, for the matcher: case and accents
//! folded, punctuation dropped, letter/digit runs split (`RTL7` = `RTL 7`),
//! quality and codec tokens (`FHD`, `(1080p)`, `HEVC`, `ᴴᴰ`), bracketed
//! annotations (`[Geo-blocked]`, `[Not 24/7]`) and reseller country tags
//! (`ES:`, `|IT|`, `[NED]`, `PL -`, `(España)`) taken off as whole terms.
//! The timeshift (`+1`, `+ 24`, `(+1)`) is kept apart: it makes another
//! channel. Also the quality tier a name advertises. Pure string code.

use crate::lineup::channel::Tier;
use crate::lineup::countries;

/// A name taken apart for matching.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Parsed {
    /// Comparison tokens, in order.
    pub tokens: Vec<String>,
    /// Per token: it was cut from a letter/digit run (`f` of `F1`), so a
    /// single letter is part of the name, not a reseller tag.
    pub glued: Vec<bool>,
    /// Hours of timeshift (`+1` → 1).
    pub timeshift: Option<u16>,
    /// Countries the name itself names (prefix, brackets, trailing code).
    pub countries: Vec<&'static str>,
}

impl Parsed {
    fn push_word(&mut self, w: &str) {
        if quality(w).is_some() {
            return;
        }
        let pieces = split_alnum(w);
        let glued = pieces.len() > 1;
        for p in pieces {
            let p = if TV.contains(&p) { "tv" } else { p };
            self.tokens.push(p.to_string());
            self.glued.push(glued);
        }
    }

    fn add_country(&mut self, c: &'static str) {
        if !self.countries.contains(&c) {
            self.countries.push(c);
        }
    }
}

/// The comparison form of a name: its tokens joined by spaces, then the
/// timeshift as ` +N`. `US: ESPN 2 FHD` → `espn 2`, `ITV1 +1` → `itv 1 +1`.
pub fn normalise(name: &str) -> String {
    let p = parse(name, &[]);
    let mut s = p.tokens.join(" ");
    if let Some(h) = p.timeshift {
        if !s.is_empty() {
            s.push(' ');
        }
        s.push_str(&format!("+{h}"));
    }
    s
}

/// The quality tier a name advertises, from whole tokens only: UHD, 4K,
/// 8K, 2160p → `Uhd`; FHD, 1080p/i → `Fhd`; HD, 720p, ᴴᴰ → `Hd`; SD,
/// 576p, 480p, 360p → `Sd`; the best one if several, else `Unknown`.
pub fn tier_of(name: &str) -> Tier {
    let mut best = Tier::Unknown;
    for raw in raw_tokens(&fold(name)) {
        if let Raw::Word(w) = raw
            && let Some(Some(t)) = quality(&w)
            && t < best
        {
            best = t;
        }
    }
    best
}

/// Takes a name apart. `hints` are countries known from elsewhere (the
/// stream's group): a trailing code naming one of them is a tag too
/// (`DAZN 6 PT` in a Portuguese group).
pub(crate) fn parse(name: &str, hints: &[&'static str]) -> Parsed {
    let mut p = Parsed::default();
    let (main, groups) = split_brackets(name);
    let mut kept = Vec::new();
    for g in groups {
        let raws = raw_tokens(&fold(&g));
        let words: Vec<&str> = raws
            .iter()
            .filter_map(|r| match r {
                Raw::Word(w) => Some(w.as_str()),
                Raw::Shift(_) => None,
            })
            .collect();
        for r in &raws {
            if let Raw::Shift(h) = r {
                p.timeshift = Some(*h);
            }
        }
        let codes: Vec<_> = words.iter().map(|w| countries::lookup(w, false)).collect();
        if !words.is_empty() && codes.iter().all(Option::is_some) {
            codes.into_iter().flatten().for_each(|c| p.add_country(c));
        } else if !words
            .iter()
            .all(|w| quality(w).is_some() || ANNOTATIONS.contains(w))
        {
            kept.extend(words.into_iter().map(str::to_string));
        }
    }
    let folded = fold(&main);
    let rest = strip_country_prefix(&folded, &mut p);
    for raw in raw_tokens(rest) {
        match raw {
            Raw::Word(w) => p.push_word(&w),
            Raw::Shift(h) => p.timeshift = Some(h),
        }
    }
    for w in kept {
        p.push_word(&w);
    }
    // A trailing code of a country named elsewhere: `DAZN 6 PT` in group PT.
    if p.tokens.len() > 1 {
        let last = p.tokens.last().map(String::as_str).unwrap_or("");
        let code = countries::lookup(last, false)
            .filter(|c| last.len() <= 3 && (hints.contains(c) || p.countries.contains(c)));
        if let Some(c) = code {
            p.tokens.pop();
            p.glued.pop();
            p.add_country(c);
        }
    }
    let named: Vec<_> = p
        .tokens
        .iter()
        .filter(|t| countries::is_country_word(t))
        .filter_map(|t| countries::lookup(t, true))
        .collect();
    named.into_iter().for_each(|c| p.add_country(c));
    p
}

/// The countries a playlist group names: its first word may be a code
/// (`UK | Sport`, `IT | ITALIA`), later words only unmistakable forms.
pub(crate) fn group_countries(group: &str) -> Vec<&'static str> {
    let mut out = Vec::new();
    for (i, raw) in raw_tokens(&fold(group)).into_iter().enumerate() {
        if let Raw::Word(w) = raw
            && let Some(c) = countries::lookup(&w, i > 0)
            && !out.contains(&c)
        {
            out.push(c);
        }
    }
    out
}

/// Splits `CamelCase` ids into words: `TVPKobieta` → `TVP Kobieta`.
pub(crate) fn split_camel(s: &str) -> String {
    let chars: Vec<char> = s.chars().collect();
    let mut out = String::with_capacity(s.len() + 8);
    for (i, &c) in chars.iter().enumerate() {
        if i > 0 && c.is_uppercase() {
            let prev = chars[i - 1];
            let next_lower = chars.get(i + 1).is_some_and(|n| n.is_lowercase());
            if prev.is_lowercase() || (prev.is_uppercase() && next_lower) {
                out.push(' ');
            }
        }
        out.push(c);
    }
    out
}

/// Spelled-out forms of `tv`.
const TV: &[&str] = &[
    "television",
    "televisao",
    "televisione",
    "televisie",
    "telewizja",
    "televizija",
    "televisio",
];

/// Words in brackets that say nothing about which channel it is.
const ANNOTATIONS: &[&str] = &[
    "geo",
    "blocked",
    "geoblocked",
    "not",
    "24",
    "7",
    "only",
    "live",
    "backup",
    "vip",
    "multi",
    "audio",
    "sub",
    "subs",
    "dub",
    "dual",
    "test",
    "new",
    "alt",
    "raw",
    "hls",
    "ts",
];

/// `Some(tier)` for a quality token, `Some(None)` for a codec or format
/// token with no tier (`hevc`), `None` for any other word.
fn quality(w: &str) -> Option<Option<Tier>> {
    let t = match w {
        "uhd" | "4k" | "8k" | "uhd4k" => Tier::Uhd,
        "fhd" | "fullhd" => Tier::Fhd,
        "hd" | "hdready" => Tier::Hd,
        "sd" => Tier::Sd,
        "hevc" | "h264" | "h265" | "x264" | "x265" | "avc" | "hdr" | "hdr10" | "hq" | "lq"
        | "25fps" | "30fps" | "50fps" | "60fps" | "mpeg2" | "mpeg4" => return Some(None),
        _ => {
            let digits = w.strip_suffix('p').or_else(|| w.strip_suffix('i'))?;
            if !(3..=4).contains(&digits.len()) || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            match digits.parse::<u32>().unwrap_or(0) {
                2000.. => Tier::Uhd,
                1000..=1999 => Tier::Fhd,
                700..=999 => Tier::Hd,
                _ => Tier::Sd,
            }
        }
    };
    Some(Some(t))
}

/// `rtl7` → `rtl`, `7`; `4fun` → `4`, `fun`.
fn split_alnum(w: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut prev_digit = None;
    for (i, c) in w.char_indices() {
        let d = c.is_ascii_digit();
        if prev_digit.is_some_and(|p| p != d) {
            out.push(&w[start..i]);
            start = i;
        }
        prev_digit = Some(d);
    }
    out.push(&w[start..]);
    out
}

/// A reseller's country tag at the start (`es:`, `|ita|`, `pl -`): the
/// rest of the name after it, with the country recorded.
fn strip_country_prefix<'a>(s: &'a str, p: &mut Parsed) -> &'a str {
    let t = s.trim_start_matches(|c: char| !c.is_alphanumeric() && c != '+');
    let end = t
        .find(|c: char| !c.is_ascii_alphabetic())
        .unwrap_or(t.len());
    let (code, rest) = t.split_at(end);
    let after = rest.trim_start();
    let sep = after.chars().next();
    if matches!(sep, Some(':' | '|' | '-' | '/' | ']' | '»' | '>'))
        && let Some(c) = countries::lookup(code, false)
    {
        p.add_country(c);
        return &after[sep.map_or(0, char::len_utf8)..];
    }
    s
}

/// Cuts `(…)`, `[…]` and `{…}` groups out of a name (nested ones too).
fn split_brackets(name: &str) -> (String, Vec<String>) {
    let mut main = String::with_capacity(name.len());
    let mut groups = Vec::new();
    let mut cur = String::new();
    let mut depth = 0usize;
    for c in name.chars() {
        match c {
            '(' | '[' | '{' => {
                depth += 1;
                main.push(' ');
            }
            ')' | ']' | '}' if depth > 0 => {
                depth -= 1;
                if depth == 0 && !cur.trim().is_empty() {
                    groups.push(std::mem::take(&mut cur));
                }
            }
            _ if depth > 0 => cur.push(c),
            _ => main.push(c),
        }
    }
    if !cur.trim().is_empty() {
        main.push_str(&cur);
    }
    (main, groups)
}

enum Raw {
    Word(String),
    Shift(u16),
}

/// Alphanumeric runs, with `+` read as a timeshift (`+1`, `+ 24`,
/// `Jr+1`) or as the word `plus` (`Canal+`, `Sport TV +`). `Canal+ 1`
/// (attached to the word before, spaced from the number) is a brand.
fn raw_tokens(folded: &str) -> Vec<Raw> {
    let chars: Vec<char> = folded.chars().collect();
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_alphanumeric() {
            cur.push(c);
            i += 1;
            continue;
        }
        if c == '\'' || c == '’' {
            i += 1;
            continue;
        }
        let attached = !cur.is_empty();
        if attached {
            out.push(Raw::Word(std::mem::take(&mut cur)));
        }
        i += 1;
        if c != '+' {
            continue;
        }
        let mut j = i;
        while chars.get(j) == Some(&' ') {
            j += 1;
        }
        let spaced = j > i;
        let start = j;
        while chars.get(j).is_some_and(char::is_ascii_digit) {
            j += 1;
        }
        if chars.get(j) == Some(&'h') && !chars.get(j + 1).is_some_and(|c| c.is_alphanumeric()) {
            j += 1;
        }
        let ends = !chars.get(j).is_some_and(|c| c.is_alphanumeric());
        let hours: String = chars[start..j]
            .iter()
            .filter(|c| c.is_ascii_digit())
            .collect();
        match hours.parse::<u16>() {
            Ok(h) if h > 0 && hours.len() <= 3 && ends && !(attached && spaced) => {
                out.push(Raw::Shift(h));
                i = j;
            }
            _ => out.push(Raw::Word("plus".to_string())),
        }
    }
    if !cur.is_empty() {
        out.push(Raw::Word(cur));
    }
    out
}

/// Lower case, accents folded to ASCII, superscript letters (`ᴴᴰ`) read
/// as a word of their own.
fn fold(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut sup = false;
    for c in s.chars() {
        if let Some(l) = superscript(c) {
            if !sup {
                out.push(' ');
            }
            out.push(l);
            sup = true;
            continue;
        }
        if sup {
            out.push(' ');
            sup = false;
        }
        for l in c.to_lowercase() {
            fold_char(&mut out, l);
        }
    }
    out
}

fn superscript(c: char) -> Option<char> {
    const FROM: &str = "ᴬᴮᴰᴱᴳᴴᴵᴶᴷᴸᴹᴺᴼᴾᴿᵀᵁᵂ";
    const TO: &str = "abdeghijklmnoprtuw";
    FROM.chars()
        .position(|x| x == c)
        .and_then(|i| TO.chars().nth(i))
}

fn fold_char(out: &mut String, c: char) {
    let s = match c {
        'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' | 'ā' | 'ă' | 'ą' => "a",
        'ç' | 'ć' | 'ĉ' | 'ċ' | 'č' => "c",
        'ď' | 'đ' | 'ð' => "d",
        'è' | 'é' | 'ê' | 'ë' | 'ē' | 'ĕ' | 'ė' | 'ę' | 'ě' => "e",
        'ĝ' | 'ğ' | 'ġ' | 'ģ' => "g",
        'ĥ' | 'ħ' => "h",
        'ì' | 'í' | 'î' | 'ï' | 'ĩ' | 'ī' | 'ĭ' | 'į' | 'ı' => "i",
        'ĵ' => "j",
        'ķ' => "k",
        'ĺ' | 'ļ' | 'ľ' | 'ŀ' | 'ł' => "l",
        'ñ' | 'ń' | 'ņ' | 'ň' => "n",
        'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' | 'ō' | 'ŏ' | 'ő' => "o",
        'ŕ' | 'ŗ' | 'ř' => "r",
        'ś' | 'ŝ' | 'ş' | 'š' | 'ș' => "s",
        'ţ' | 'ť' | 'ŧ' | 'ț' => "t",
        'ù' | 'ú' | 'û' | 'ü' | 'ũ' | 'ū' | 'ŭ' | 'ů' | 'ű' | 'ų' => "u",
        'ŵ' => "w",
        'ý' | 'ÿ' | 'ŷ' => "y",
        'ź' | 'ż' | 'ž' => "z",
        'ß' => "ss",
        'æ' => "ae",
        'œ' => "oe",
        'þ' => "th",
        _ => {
            out.push(c);
            return;
        }
    };
    out.push_str(s);
}

#[cfg(test)]
#[path = "normalize_tests.rs"]
mod tests;
