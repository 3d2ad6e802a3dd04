use chrono::{DateTime, FixedOffset};

use super::*;
use proptest::prelude::*;
use std::io::BufRead;

const MULTI_NAMES: &[u8] = include_bytes!("../../fixtures/providers/xmltv_multi_names.xml");
const OFFSETS_GZ: &[u8] = include_bytes!("../../fixtures/providers/xmltv_offsets.xml.gz");
const TRUNCATED: &[u8] = include_bytes!("../../fixtures/providers/xmltv_truncated.xml");

/// Everything a reader yields, what it skipped, and the error it ended on.
fn read_all<R: BufRead>(mut r: Reader<R>) -> (Vec<Item>, usize, Option<XmltvError>) {
    let mut items = Vec::new();
    loop {
        match r.next() {
            Ok(Some(item)) => items.push(item),
            Ok(None) => return (items, r.skipped(), None),
            Err(e) => {
                // A spent reader stays spent.
                assert!(matches!(r.next(), Ok(None)));
                return (items, r.skipped(), Some(e));
            }
        }
    }
}

fn read_bytes(bytes: &[u8]) -> (Vec<Item>, usize, Option<XmltvError>) {
    read_all(Reader::new(bytes))
}

fn error_of(bytes: &[u8]) -> XmltvError {
    read_bytes(bytes).2.expect("an error")
}

fn time(s: &str) -> DateTime<FixedOffset> {
    DateTime::parse_from_rfc3339(s).unwrap()
}

fn name(name: &str, lang: Option<&str>) -> DisplayName {
    DisplayName {
        name: name.into(),
        lang: lang.map(str::to_string),
    }
}

#[test]
fn channels_with_several_names_lcn_entities_cdata() {
    let (items, skipped, err) = read_bytes(MULTI_NAMES);
    assert!(err.is_none(), "{err:?}");
    // The channel without an id.
    assert_eq!(skipped, 1);
    let news = Programme {
        channel: "bbcone.uk".into(),
        start: time("2025-01-01T12:00:00Z"),
        stop: Some(time("2025-01-01T13:00:00Z")),
        title: "News at One & Weather".into(),
        sub_title: Some("Headlines".into()),
        desc: Some("The <latest> news & weather. Then sport.".into()),
        categories: vec!["News".into(), "Weather".into()],
        episode_num: vec![
            ("xmltv_ns".into(), "0.11.0/1".into()),
            ("onscreen".into(), "S01E12".into()),
        ],
        icon: Some("http://img.example.net/news.jpg".into()),
        rating: Some("TV-G".into()),
    };
    let empty = Programme {
        channel: "film&co.fr".into(),
        start: time("2025-01-01T13:00:00Z"),
        stop: None,
        title: String::new(),
        sub_title: None,
        desc: None,
        categories: vec![],
        episode_num: vec![],
        icon: None,
        rating: None,
    };
    assert_eq!(
        items,
        [
            Item::Channel(Channel {
                id: "bbcone.uk".into(),
                display_names: vec![
                    name("BBC One", Some("en")),
                    name("BBC Un", Some("cy")),
                    name("101", None)
                ],
                icon: Some("http://logo.example.net/bbc1.png".into()),
                lcn: Some("101".into()),
                urls: vec!["https://www.bbc.co.uk/bbcone".into()],
            }),
            Item::Channel(Channel {
                id: "film&co.fr".into(),
                display_names: vec![name("Film & Co — Été", Some("fr"))],
                icon: Some("http://logo.example.net/film.png".into()),
                lcn: None,
                urls: vec![],
            }),
            Item::Programme(news),
            Item::Programme(empty),
        ]
    );
}

#[test]
fn gzip_members_and_time_offsets() {
    let reader = open(OFFSETS_GZ).unwrap();
    assert!(reader.is_gzip());
    let (items, skipped, err) = read_all(reader);
    assert!(err.is_none(), "{err:?}");
    // Unparsable start, no channel.
    assert_eq!(skipped, 2);
    let got: Vec<(String, String, Option<String>)> = items
        .iter()
        .filter_map(|i| match i {
            Item::Programme(p) => Some((
                p.title.clone(),
                p.start.to_rfc3339(),
                p.stop.map(|s| s.to_rfc3339()),
            )),
            Item::Channel(_) => None,
        })
        .collect();
    let row =
        |t: &str, s: &str, e: Option<&str>| (t.to_string(), s.to_string(), e.map(str::to_string));
    assert_eq!(
        got,
        [
            row(
                "Plus hhmm",
                "2025-01-01T12:00:00+01:00",
                Some("2025-01-01T13:00:00+01:00")
            ),
            row("Minus, no stop", "2025-01-01T12:00:00-05:30", None),
            row(
                "No offset is UTC",
                "2025-01-01T12:00:00+00:00",
                Some("2025-01-01T12:30:00+00:00")
            ),
            row("Minutes and colon", "2025-01-01T12:30:00+02:00", None),
            row(
                "No space",
                "2025-01-01T14:00:00+00:00",
                Some("2025-01-01T15:00:00+00:00")
            ),
        ]
    );
    assert!(matches!(&items[0], Item::Channel(c) if c.id == "one.example"));
}

#[test]
fn plain_input_through_open() {
    let reader = open(MULTI_NAMES).unwrap();
    assert!(!reader.is_gzip());
    assert_eq!(read_all(reader).0.len(), 4);
    // Fewer than two bytes: not gzip, not XML.
    let err = read_all(open(&b"<"[..]).unwrap()).2.unwrap();
    assert!(
        matches!(
            err,
            XmltvError::Malformed {
                line: 1,
                offset: 0,
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn corrupt_gzip_is_an_io_error() {
    let cut = &OFFSETS_GZ[..OFFSETS_GZ.len() / 2];
    let err = read_all(open(cut).unwrap()).2.unwrap();
    assert!(matches!(err, XmltvError::Io { .. }), "{err}");
}

#[test]
fn truncated_file_reports_where() {
    let (items, _, err) = read_bytes(TRUNCATED);
    assert_eq!(items.len(), 2);
    let err = err.unwrap();
    assert_eq!(
        err.to_string(),
        format!(
            "truncated guide: end of input at line 7 (byte {}) inside <desc> opened at line 7",
            TRUNCATED.len()
        )
    );
}

#[test]
fn malformed_xml_reports_line_and_offset() {
    let doc = b"<tv>\n<channel id=\"a\">\n  <display-name>A</display-name>\n</programme>\n</tv>";
    let err = error_of(doc);
    let at = doc.windows(12).position(|w| w == b"</programme>").unwrap() as u64;
    let XmltvError::Malformed {
        line,
        offset,
        message,
    } = &err
    else {
        panic!("{err:?}");
    };
    assert_eq!((*line, *offset), (4, at), "{err}");
    assert!(message.contains("programme"), "{message}");

    let err = error_of(b"<tv>\n\n<channel id=\"a\"");
    assert!(
        matches!(
            err,
            XmltvError::Malformed {
                line: 3,
                offset: 6,
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn not_a_guide() {
    let err = error_of(b"hello world");
    assert_eq!(
        err.to_string(),
        "not XML at line 1 (byte 11): text outside the root element"
    );
    let err = error_of(br#"{"epg":[]}"#);
    assert!(matches!(err, XmltvError::NotXml { line: 1, .. }), "{err}");
    let err = error_of(b"");
    assert_eq!(
        err.to_string(),
        "not XML at line 1 (byte 0): no root element"
    );
    let err = error_of(b"<!DOCTYPE html>\n<html><head><title>Login</title>");
    assert_eq!(
        err.to_string(),
        "not an XMLTV guide: the root element at line 2 (byte 22) is <html>, not <tv>"
    );
    let err = error_of(b"<?xml version=\"1.0\"?>\n<rss/>");
    assert!(
        matches!(&err, XmltvError::RootNotTv { line: 2, found, .. } if found == "rss"),
        "{err}"
    );
    let err = error_of(b"\x00\x01\x02binary");
    assert!(matches!(err, XmltvError::NotXml { .. }), "{err}");
}

#[test]
fn empty_guides_and_trailing_content() {
    assert_eq!(read_bytes(b"<tv/>").0, []);
    let (items, _, err) = read_bytes(b"\xEF\xBB\xBF<tv>\n</tv>\n<junk>");
    assert_eq!((items.len(), err.is_none()), (0, true));
}

#[test]
fn limits_bound_memory() {
    let mut deep = b"<tv>".to_vec();
    deep.extend(b"<a>".repeat(100));
    assert!(matches!(
        error_of(&deep),
        XmltvError::TooDeep {
            limit: MAX_DEPTH,
            ..
        }
    ));

    let mut huge = b"<tv><channel id=\"a\"><display-name>".to_vec();
    huge.extend(vec![b'x'; 2 * MAX_EVENT_BYTES as usize]);
    let err = error_of(&huge);
    assert!(
        matches!(
            err,
            XmltvError::TooLarge {
                line: 1,
                offset: 34,
                ..
            }
        ),
        "{err}"
    );

    // Repeated children are capped too.
    let mut many = b"<tv><channel id=\"a\">".to_vec();
    many.extend(b"<display-name>n</display-name>".repeat(1000));
    many.extend(b"</channel></tv>");
    let (items, _, err) = read_bytes(&many);
    assert!(err.is_none(), "{err:?}");
    assert!(matches!(&items[0], Item::Channel(c) if c.display_names.len() == MAX_LIST_LEN));

    // A long field is cut at the cap, on a char boundary.
    let mut long = b"<tv><channel id=\"a\"><display-name>".to_vec();
    long.extend("é".repeat(50_000).as_bytes());
    long.extend(b"</display-name></channel></tv>");
    let (items, _, err) = read_bytes(&long);
    assert!(err.is_none(), "{err:?}");
    let Item::Channel(c) = &items[0] else {
        panic!()
    };
    assert_eq!(c.display_names[0].name.len(), MAX_TEXT_BYTES);
}

#[test]
fn unknown_entities_and_bad_attributes_are_lenient() {
    let doc = br#"<tv><programme channel="a" start="20250101120000" stop=bad><title>A&nbsp;B &#233;</title></programme></tv>"#;
    let (items, skipped, err) = read_bytes(doc);
    assert!(err.is_none(), "{err:?}");
    assert_eq!(skipped, 0);
    let Item::Programme(p) = &items[0] else {
        panic!()
    };
    assert_eq!(p.title, "A&nbsp;B &#233;");
    assert_eq!(p.stop, None);
    let (items, ..) = read_bytes(br#"<tv><programme channel="a" start="20250101120000"><title>&#233;&amp;</title></programme></tv>"#);
    assert!(matches!(&items[0], Item::Programme(p) if p.title == "é&"));
}

proptest! {
    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let _ = read_bytes(&bytes);
        if let Ok(r) = open(&bytes[..]) {
            let _ = read_all(r);
        }
    }

    #[test]
    fn random_markup_never_panics(text in "(<tv>|</tv>|<channel id=\"a\">|</channel>|<programme channel=\"a\" start=\"20250101120000\">|</programme>|<title>|</title>|<display-name>|</display-name>|<icon src=\"x\"/>|<!\\[CDATA\\[|\\]\\]>|&amp;|&|<|>|\"|[a-z ]{1,5}|\n)*") {
        let _ = read_bytes(text.as_bytes());
    }

    #[test]
    fn mutated_fixtures_never_panic(
        which in 0..3usize,
        edits in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..16),
        cut in any::<usize>(),
    ) {
        let mut bytes = [MULTI_NAMES, OFFSETS_GZ, TRUNCATED][which].to_vec();
        for (at, b) in edits {
            let i = at % bytes.len();
            bytes[i] = b;
        }
        for body in [&bytes[..], &bytes[..cut % (bytes.len() + 1)]] {
            let _ = read_bytes(body);
            if let Ok(r) = open(body) {
                let _ = read_all(r);
            }
        }
    }
}
