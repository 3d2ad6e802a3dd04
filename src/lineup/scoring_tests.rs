use super::*;
use crate::lineup::normalize::parse;

/// Scores `q` against `a` with a vocabulary of `guide`'s names.
fn sim(q: &str, a: &str, guide: &[&str]) -> f32 {
    let mut v = Vocab::default();
    for g in guide.iter().chain([&a]) {
        for t in parse(g, &[]).tokens {
            let id = v.intern(&t);
            v.count(id);
        }
    }
    v.set_channels(guide.len() + 1);
    let form = |s: &str| {
        let p = parse(s, &[]);
        v.form(&p.tokens, &p.glued, p.timeshift)
    };
    score(&form(q), &form(a)).value
}

const GUIDE: &[&str] = &[
    "Sky Sport 24",
    "Sky Cinema Uno",
    "Rai 1",
    "TV Azteca",
    "Canal Sur",
];

#[test]
fn equal_forms_are_exact() {
    let p = parse("US: ESPN 2 FHD", &[]);
    let mut v = Vocab::default();
    for t in &p.tokens {
        v.intern(t);
    }
    let f = v.form(&p.tokens, &p.glued, p.timeshift);
    assert_eq!(
        score(&f, &f),
        Score {
            value: 1.0,
            exact: true
        }
    );
}

#[test]
fn timeshift_numbers_and_regions_make_other_channels() {
    assert_eq!(sim("History", "History +1", GUIDE), 0.0);
    assert_eq!(
        sim("Polsat Sport Premium 2", "Polsat Sport Premium 3", GUIDE),
        0.0
    );
    assert_eq!(sim("BBC One East", "BBC One West", GUIDE), 0.0);
    assert!(sim("HBO", "HBO 2", GUIDE) < 0.65);
    assert!(sim("BBC One", "BBC One London", GUIDE) >= 0.85);
}

#[test]
fn spacing_typos_and_weak_words_barely_count() {
    assert!(sim("Canal Sur 2", "CanalSur 2", GUIDE) >= 0.95);
    assert!(sim("SESC TV", "Sesctv", GUIDE) >= 0.95);
    assert!(sim("Sports Italia", "Sportitalia", GUIDE) >= 0.85);
    assert!(sim("NH Nieuws", "NH Niews", GUIDE) >= 0.85);
    assert!(sim("Canal Mega", "Mega", GUIDE) >= 0.85);
    assert!(sim("Sky Cinema Comedy", "Sky Cinema Drama", GUIDE) < 0.7);
    assert!(sim("Canal Coin", "Canal Cocina", GUIDE) < 0.7);
    assert!(sim("Caccia e Pesca", "Pesca e Caccia", GUIDE) < 0.95);
}

#[test]
fn bag_distance_bounds_the_edit_distance() {
    for (x, y) in [
        ("sportsitalia", "sportitalia"),
        ("abc", "cab"),
        ("łódź", "lodz"),
        ("", "ab"),
    ] {
        assert!(bag_distance(x, y) <= strsim::levenshtein(x, y), "{x} {y}");
    }
}
