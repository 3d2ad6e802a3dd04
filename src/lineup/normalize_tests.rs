use super::*;

#[test]
fn quality_codec_and_country_tags_come_off_as_whole_terms() {
    assert_eq!(normalise("US: ESPN 2 FHD"), "espn 2");
    assert_eq!(normalise("|ES| LaLiga Hypermotion"), "laliga hypermotion");
    assert_eq!(normalise("[NED] Hustler HD"), "hustler");
    assert_eq!(normalise("PL - TVP 3 Warszawa SD"), "tvp 3 warszawa");
    assert_eq!(normalise("ESP| Canal MTV (España) ᴴᴰ"), "canal mtv");
    assert_eq!(
        normalise("Rai Storia HD (1080p) [Geo-Blocked]"),
        "rai storia"
    );
    assert_eq!(normalise("4 Fun Kids (576i) [[Not 24/7]]"), "4 fun kids");
    assert_eq!(normalise("CBS REALITY [PL] HEVC"), "cbs reality");
    assert_eq!(
        normalise("Sky Sports Main Event UHD"),
        "sky sports main event"
    );
    // Inside a word or without a separator they stay.
    assert_eq!(normalise("HDTV Shop"), "hdtv shop");
    assert_eq!(normalise("Esporte Interativo"), "esporte interativo");
    assert_eq!(normalise("ITALIA 1"), "italia 1");
}

#[test]
fn case_accents_punctuation_and_digits_fold() {
    assert_eq!(normalise("Aragón TV"), "aragon tv");
    assert_eq!(normalise("Omrop Fryslân"), "omrop fryslan");
    assert_eq!(
        normalise("Polsat Sport Fight ŁÓDŹ"),
        "polsat sport fight lodz"
    );
    assert_eq!(normalise("RTL7"), "rtl 7");
    assert_eq!(normalise("RTL 7"), "rtl 7");
    assert_eq!(normalise("Nuta.TV"), "nuta tv");
    assert_eq!(normalise("DTV Oss & Bernheze"), "dtv oss bernheze");
    assert_eq!(normalise("Telewizja Republika"), "tv republika");
    assert_eq!(normalise("Canal+"), "canal plus");
    assert_eq!(normalise("Sport TV +"), "sport tv plus");
}

#[test]
fn timeshift_is_kept() {
    assert_eq!(normalise("ITV1 +1"), "itv 1 +1");
    assert_eq!(normalise("Boomerang + 1"), "boomerang +1");
    assert_eq!(normalise("NICK JR+1 UHD"), "nick jr +1");
    assert_eq!(normalise("History (+1)"), "history +1");
    assert_eq!(normalise("SKY CINEMA + 24 HEVC"), "sky cinema +24");
    assert_eq!(
        normalise("Canal+ 1"),
        "canal plus 1",
        "a brand's +, then a number"
    );
    assert_ne!(normalise("ITV1 +1"), normalise("ITV1"));
}

#[test]
fn countries_are_read_from_prefixes_brackets_and_groups() {
    assert_eq!(parse("ES: A Punt", &[]).countries, ["es"]);
    assert_eq!(parse("|ITA| Sky Sport F1 HD", &[]).countries, ["it"]);
    assert_eq!(parse("[NED] Altena TV", &[]).countries, ["nl"]);
    assert_eq!(parse("Filmbox Extra HD (pl)", &[]).countries, ["pl"]);
    assert_eq!(parse("POR - SIC Caras", &[]).countries, ["pt"]);
    assert_eq!(parse("TV3", &[]).countries, Vec::<&str>::new());
    let p = parse("DAZN 6 PT", &["pt"]);
    assert_eq!(
        (p.tokens.join(" "), p.countries),
        ("dazn 6".into(), vec!["pt"])
    );
    assert_eq!(parse("DAZN 6 PT", &[]).tokens, ["dazn", "6", "pt"]);
    assert_eq!(group_countries("IT | ITALIA"), ["it"]);
    assert_eq!(group_countries("UK | Sport"), ["uk"]);
    assert_eq!(group_countries("Sports"), Vec::<&str>::new());
    assert_eq!(group_countries("VIP USA"), ["us"]);
}

#[test]
fn ids_split_into_words() {
    assert_eq!(split_camel("TVPKobieta"), "TVP Kobieta");
    assert_eq!(split_camel("OPENRotterdamTV"), "OPEN Rotterdam TV");
    assert_eq!(split_camel("NPO1extra"), "NPO1extra");
    assert_eq!(normalise(&split_camel("HustlerHD")), "hustler");
}

#[test]
fn tiers_from_whole_tokens() {
    assert_eq!(tier_of("Sky Sports Main Event UHD"), Tier::Uhd);
    assert_eq!(tier_of("NL - Dorcel TV 4K"), Tier::Uhd);
    assert_eq!(tier_of("US: ESPN 2 FHD"), Tier::Fhd);
    assert_eq!(tier_of("Record TV (1080i)"), Tier::Fhd);
    assert_eq!(
        tier_of("ESP: Radio Carnaval TV HD 1080p"),
        Tier::Fhd,
        "the best tier named"
    );
    assert_eq!(tier_of("Nickelodeon ᴴᴰ"), Tier::Hd);
    assert_eq!(tier_of("Solidaria TV (720p)"), Tier::Hd);
    assert_eq!(tier_of("IT - Rai 1 SD"), Tier::Sd);
    assert_eq!(tier_of("Rai Premium (576p) [Geo-blocked]"), Tier::Sd);
    assert_eq!(tier_of("Canal Parlamento (360p)"), Tier::Sd);
    assert_eq!(tier_of("HDTV Shop"), Tier::Unknown, "whole tokens only");
    assert_eq!(tier_of("SDR News"), Tier::Unknown);
    assert_eq!(tier_of("Canale 5"), Tier::Unknown);
}

#[test]
fn odd_text_never_splits_a_character() {
    assert_eq!(normalise("ES» Canal Sur"), "canal sur");
    assert_eq!(normalise("Caffè"), "caffe");
    assert_eq!(normalise("ÉÉÉp"), "eeep");
    assert_eq!(normalise(""), "");
    assert_eq!(normalise("+1"), "+1");
    assert_eq!(normalise("[(]"), "");
    assert_eq!(tier_of("ᴴᴰ"), Tier::Hd);
}
