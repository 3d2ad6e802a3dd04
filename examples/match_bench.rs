//! Issue 10's matching figure: 10,000 provider streams against a
//! 2,000-channel guide, both generated (seeded) the way resellers and
//! iptv-org guides write names: brands of one to three words, numbered
//! siblings, six countries, `+1` feeds, country prefixes, quality tags.
//!
//! `nice cargo run --release --example match_bench`

use std::time::Instant;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use streamforge::lineup::matching::{DEFAULT_THRESHOLD, GuideChannel, Matcher, StreamInfo};

const GUIDE: usize = 2_000;
const STREAMS: usize = 10_000;
const COUNTRIES: &[(&str, &str, &str)] = &[
    ("es", "ES", "ESPAÑA"),
    ("it", "IT", "ITALIA"),
    ("nl", "NL", "NEDERLAND"),
    ("br", "BR", "BRASIL"),
    ("pl", "PL", "POLSKA"),
    ("uk", "UK", "UNITED KINGDOM"),
];
const COMMON: &[&str] = &[
    "Sport", "Sports", "Cinema", "News", "Kids", "Music", "Movies", "TV", "Channel", "Sky",
    "Canal", "Premium", "Family", "Action", "Comedy", "Drama", "Nature", "History", "World",
    "Plus",
];
const SUFFIXES: &[&str] = &[
    "", "", " HD", " FHD", " UHD", " 4K", " (1080p)", " ᴴᴰ", " HEVC", " SD",
];

fn word(rng: &mut StdRng) -> String {
    const ON: &[&str] = &["k", "tr", "v", "m", "l", "z", "b", "st", "p", "d", "n", "r"];
    const NU: &[&str] = &["a", "e", "i", "o", "u", "ei", "ou"];
    let mut w = String::new();
    for _ in 0..rng.gen_range(2..4) {
        w.push_str(ON[rng.gen_range(0..ON.len())]);
        w.push_str(NU[rng.gen_range(0..NU.len())]);
    }
    let mut c = w.chars();
    let first = c.next().unwrap().to_ascii_uppercase();
    std::iter::once(first).chain(c).collect()
}

fn main() {
    let mut rng = StdRng::seed_from_u64(10);
    let brands: Vec<String> = (0..600).map(|_| word(&mut rng)).collect();
    let mut guide = Vec::with_capacity(GUIDE);
    let mut display = Vec::with_capacity(GUIDE);
    while guide.len() < GUIDE {
        let (cc, _, _) = COUNTRIES[rng.gen_range(0..COUNTRIES.len())];
        let mut words = vec![brands[rng.gen_range(0..brands.len())].clone()];
        for _ in 0..rng.gen_range(0..3) {
            words.push(COMMON[rng.gen_range(0..COMMON.len())].to_string());
        }
        if rng.gen_bool(0.3) {
            words.push(rng.gen_range(1..10).to_string());
        }
        let name = words.join(" ");
        let feed = if rng.gen_bool(0.05) { "Plus1" } else { "SD" };
        let id = format!("{}.{cc}@{feed}", words.concat());
        if guide.iter().any(|g: &GuideChannel| g.id == id) {
            continue;
        }
        let shown = if feed == "Plus1" {
            format!("{name} +1")
        } else {
            name
        };
        display.push((shown.clone(), cc));
        guide.push(GuideChannel {
            id,
            names: vec![shown],
        });
    }
    let mut streams = Vec::with_capacity(STREAMS);
    for _ in 0..STREAMS {
        let (name, cc, want) = if rng.gen_bool(0.8) {
            let i = rng.gen_range(0..GUIDE);
            (
                display[i].0.clone(),
                display[i].1,
                Some(guide[i].id.clone()),
            )
        } else {
            let b = &brands[rng.gen_range(0..brands.len())];
            let cc = COUNTRIES[rng.gen_range(0..COUNTRIES.len())].0;
            (format!("{b} Extra {}", rng.gen_range(10..99)), cc, None)
        };
        let (_, code, country) = COUNTRIES.iter().find(|c| c.0 == cc).unwrap();
        let prefix = match rng.gen_range(0..4) {
            0 => format!("{code}: "),
            1 => format!("|{code}| "),
            2 => format!("{code} - "),
            _ => String::new(),
        };
        let mut styled = format!(
            "{prefix}{name}{}",
            SUFFIXES[rng.gen_range(0..SUFFIXES.len())]
        );
        if rng.gen_bool(0.2) {
            styled = styled.to_uppercase();
        }
        streams.push((styled, format!("{code} | {country}"), want));
    }

    let t0 = Instant::now();
    let m = Matcher::new(&guide);
    let built = t0.elapsed();
    let t1 = Instant::now();
    let (mut right, mut wrong, mut applied) = (0, 0, 0);
    for (name, group, want) in &streams {
        let r = m.find(&StreamInfo {
            name,
            tvg_id: None,
            tvg_name: Some(name),
            group: Some(group),
        });
        let got = r
            .best
            .filter(|b| b.confidence >= DEFAULT_THRESHOLD)
            .map(|b| b.guide_id);
        applied += usize::from(got.is_some());
        match (&got, want) {
            (Some(g), Some(w)) if g == w => right += 1,
            (Some(_), _) => wrong += 1,
            _ => {}
        }
    }
    let matched = t1.elapsed();
    println!(
        "{STREAMS} streams against {GUIDE} guide channels: index {:.1} ms, matching {:.1} ms \
         ({:.1} µs a stream), total {:.1} ms; applied {applied}, right {right}, wrong {wrong}",
        built.as_secs_f64() * 1e3,
        matched.as_secs_f64() * 1e3,
        matched.as_secs_f64() * 1e6 / STREAMS as f64,
        (built + matched).as_secs_f64() * 1e3,
    );
}
