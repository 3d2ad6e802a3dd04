//! Country tables for the matcher: the codes and names resellers put on
//! stream names and groups (`ES:`, `|ITA|`, `[NED]`, `PL -`, `UK | Sport`,
//! `(España)`), mapped to the two-letter suffix iptv-org guide ids use
//! (`Name.cc@Feed`, with `uk` for the United Kingdom). Data only: which of
//! these a name carries is decided in `normalize`.

/// Canonical code, then the folded (lower case, no accents) codes, names
/// and adjectives that mean it. Two-letter codes are only trusted where a
/// country is expected (a prefix, brackets, a group), never as a word in
/// the middle of a name.
const COUNTRIES: &[(&str, &[&str])] = &[
    (
        "es",
        &["es", "esp", "spa", "spain", "espana", "spanish", "espanol"],
    ),
    (
        "it",
        &["it", "ita", "italy", "italia", "italian", "italiano"],
    ),
    (
        "nl",
        &[
            "nl",
            "ned",
            "nld",
            "hol",
            "netherlands",
            "nederland",
            "holland",
            "dutch",
        ],
    ),
    (
        "br",
        &["br", "bra", "brazil", "brasil", "brazilian", "brasileiro"],
    ),
    ("pl", &["pl", "pol", "poland", "polska", "polish", "polski"]),
    (
        "pt",
        &["pt", "por", "prt", "portugal", "portuguese", "portugues"],
    ),
    (
        "uk",
        &[
            "uk",
            "gb",
            "gbr",
            "eng",
            "united kingdom",
            "britain",
            "british",
            "england",
        ],
    ),
    ("us", &["us", "usa", "united states", "america"]),
    ("ca", &["ca", "can", "canada", "canadian"]),
    ("mx", &["mx", "mex", "mexico", "mexican"]),
    ("ar", &["ar", "arg", "argentina"]),
    ("cl", &["cl", "chl", "chile"]),
    ("co", &["co", "col", "colombia"]),
    ("pe", &["pe", "per", "peru"]),
    (
        "de",
        &[
            "de",
            "ger",
            "deu",
            "germany",
            "deutschland",
            "german",
            "deutsch",
        ],
    ),
    ("at", &["at", "aut", "austria", "osterreich"]),
    (
        "ch",
        &[
            "ch",
            "sui",
            "che",
            "switzerland",
            "schweiz",
            "suisse",
            "svizzera",
        ],
    ),
    ("fr", &["fr", "fra", "france", "french", "francais"]),
    ("be", &["be", "bel", "belgium", "belgie", "belgique"]),
    ("lu", &["lu", "lux", "luxembourg"]),
    ("ie", &["ie", "irl", "ireland", "irish"]),
    ("dk", &["dk", "den", "dnk", "denmark", "danmark", "danish"]),
    ("se", &["se", "swe", "sweden", "sverige", "swedish"]),
    ("no", &["no", "nor", "norway", "norge", "norwegian"]),
    ("fi", &["fi", "fin", "finland", "suomi", "finnish"]),
    ("gr", &["gr", "gre", "grc", "greece", "greek"]),
    ("tr", &["tr", "tur", "turkey", "turkiye", "turkish"]),
    ("ro", &["ro", "rom", "rou", "romania", "romanian"]),
    ("hu", &["hu", "hun", "hungary", "magyar"]),
    ("cz", &["cz", "cze", "czech", "czechia"]),
    ("sk", &["sk", "svk", "slovakia", "slovak"]),
    ("hr", &["hr", "cro", "hrv", "croatia", "hrvatska"]),
    ("rs", &["rs", "srb", "serbia", "srbija"]),
    ("si", &["si", "svn", "slovenia"]),
    ("ba", &["ba", "bih", "bosnia"]),
    ("bg", &["bg", "bul", "bgr", "bulgaria"]),
    ("al", &["al", "alb", "albania"]),
    ("mk", &["mk", "mkd", "macedonia"]),
    ("ru", &["ru", "rus", "russia", "russian"]),
    ("ua", &["ua", "ukr", "ukraine"]),
    ("in", &["in", "ind", "india", "indian"]),
    ("pk", &["pk", "pak", "pakistan"]),
    ("au", &["au", "aus", "australia"]),
    ("nz", &["nz", "nzl", "new zealand"]),
    ("za", &["za", "zaf", "rsa", "south africa"]),
    ("ao", &["ao", "ago", "angola"]),
    ("mz", &["mz", "moz", "mozambique"]),
    ("il", &["il", "isr", "israel"]),
    ("ae", &["ae", "uae"]),
    ("sa", &["sa", "ksa", "saudi"]),
    ("eg", &["eg", "egy", "egypt"]),
    ("ma", &["ma", "mar", "morocco"]),
    ("cn", &["cn", "chn", "china", "chinese"]),
    ("jp", &["jp", "jpn", "japan", "japanese"]),
    ("kr", &["kr", "kor", "korea", "korean"]),
    ("ph", &["ph", "phl", "philippines"]),
    ("id", &["id", "idn", "indonesia"]),
    ("th", &["th", "tha", "thailand"]),
    ("vn", &["vn", "vnm", "vietnam"]),
    ("cy", &["cy", "cyp", "cyprus"]),
    ("mt", &["mt", "mlt", "malta"]),
];

/// The canonical code of a folded code or name (`"ned"` → `"nl"`), if it
/// is one. `strict` accepts only unmistakable forms: three-letter codes,
/// names and adjectives, not the two-letter codes that are also words
/// (`no`, `de`, `in`, `it`).
pub(crate) fn lookup(word: &str, strict: bool) -> Option<&'static str> {
    if strict && word.len() <= 2 {
        return None;
    }
    COUNTRIES
        .iter()
        .find(|(_, forms)| forms.contains(&word))
        .map(|(code, _)| *code)
}

/// Whether a folded word is a country name or adjective (`italia`,
/// `dutch`), a low-information word inside a channel name.
pub(crate) fn is_country_word(word: &str) -> bool {
    word.len() > 3
        && COUNTRIES
            .iter()
            .any(|(_, forms)| forms[1..].contains(&word))
}

/// The canonical form of a guide id's country suffix (`gb` → `uk`), if
/// it is a two-letter code the table knows.
pub(crate) fn from_id_suffix(suffix: &str) -> Option<&'static str> {
    let s = suffix.to_ascii_lowercase();
    if s.len() != 2 {
        return None;
    }
    lookup(&s, false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_names_and_adjectives_map_to_one_code() {
        assert_eq!(lookup("ned", true), Some("nl"));
        assert_eq!(lookup("espana", true), Some("es"));
        assert_eq!(lookup("gb", false), Some("uk"));
        assert_eq!(lookup("it", true), None, "two letters need a context");
        assert_eq!(lookup("it", false), Some("it"));
        assert_eq!(from_id_suffix("UK"), Some("uk"));
        assert_eq!(from_id_suffix("org"), None);
        assert!(is_country_word("italia") && !is_country_word("ita"));
    }
}
