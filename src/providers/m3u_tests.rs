use super::*;
use proptest::prelude::*;

const PASSWORD: &str = "s3cretPW";

const CRLF_BOM: &[u8] = include_bytes!("../../fixtures/providers/m3u_crlf_bom.m3u");
const NO_HEADER: &[u8] = include_bytes!("../../fixtures/providers/m3u_no_header.m3u");
const DOUBLE_EXTINF: &[u8] = include_bytes!("../../fixtures/providers/m3u_double_extinf.m3u");
const VLCOPT: &[u8] = include_bytes!("../../fixtures/providers/m3u_vlcopt.m3u");
const GZ: &[u8] = include_bytes!("../../fixtures/providers/m3u_gz.m3u.gz");
const HOSTILE: &[u8] = include_bytes!("../../fixtures/providers/m3u_hostile_urls.m3u");
const FIXTURES: &[&[u8]] = &[CRLF_BOM, NO_HEADER, DOUBLE_EXTINF, VLCOPT, GZ, HOSTILE];

fn s(v: &str) -> Option<String> {
    Some(v.to_string())
}

/// An entry with only the fields most tests leave empty.
fn entry(line: usize, name: &str, url: &str) -> Entry {
    Entry {
        line,
        name: name.into(),
        tvg_id: None,
        tvg_name: None,
        tvg_logo: None,
        group: None,
        chno: None,
        url: url.into(),
        user_agent: None,
        referrer: None,
        duration: -1,
    }
}

fn assert_no_password(p: &Playlist) {
    let debug = format!("{p:?}");
    assert!(!debug.contains(PASSWORD), "{debug}");
    for s in &p.skipped {
        assert!(!s.reason.contains(PASSWORD), "{s:?}");
    }
}

#[test]
fn crlf_bom_quoted_commas_unquoted_values() {
    let p = parse(CRLF_BOM).unwrap();
    assert_eq!(
        p.epg_urls,
        [
            "http://epg.example.net/guide.xml.gz",
            "http://epg2.example.net/g.xml"
        ]
    );
    assert_eq!(p.skipped, []);
    let bbc = Entry {
        tvg_id: s("bbcone.uk"),
        tvg_name: s("BBC One HD"),
        tvg_logo: s("http://logo.example.net/bbc1.png"),
        group: s("UK | Entertainment, General"),
        chno: s("101"),
        ..entry(
            2,
            "BBC One, London HD",
            "http://line.example.com:8080/live/alice/s3cretPW/12345.ts",
        )
    };
    // A lone CR ends line 6; empty attribute values are None.
    let itv = Entry {
        tvg_id: s("itv1.uk"),
        chno: s("103"),
        ..entry(
            6,
            "ITV 1",
            "http://line.example.com:8080/live/alice/s3cretPW/12346.ts",
        )
    };
    // No name after the comma: tvg-name; a fractional duration.
    let cafe = Entry {
        tvg_name: s("Café Télé"),
        duration: 0,
        ..entry(8, "Café Télé", "https://cdn.example.org/play/abc123.m3u8")
    };
    assert_eq!(p.entries, [bbc, itv, cafe]);
    assert_no_password(&p);
}

#[test]
fn no_header_blank_lines_bare_urls_and_extgrp() {
    let p = parse(NO_HEADER).unwrap();
    assert_eq!(p.epg_urls, Vec::<String>::new());
    let base = "http://provider.example.com/alice/s3cretPW";
    let mut cnn = entry(4, "CNN", &format!("{base}/2001"));
    cnn.tvg_id = s("cnn.us");
    cnn.group = s("News");
    // A URL without #EXTINF is named after its last segment; #EXTGRP sticks.
    let mut bare = entry(7, "2002.ts", &format!("{base}/2002.ts"));
    bare.group = s("News");
    let mut sky = entry(9, "Sky Sports Main Event", &format!("{base}/2003"));
    sky.group = s("Football");
    let mut euro = entry(
        11,
        "Eurosport 1",
        "http://provider.example.com/hls/eurosport1/index.m3u8",
    );
    euro.group = s("Sport");
    assert_eq!(p.entries, [cnn, bare, sky, euro]);
    assert_eq!(p.skipped, []);
    assert_no_password(&p);
}

#[test]
fn double_extinf_drops_the_first_and_a_trailing_one() {
    let p = parse(DOUBLE_EXTINF).unwrap();
    let mut alive = entry(
        3,
        "Alive Channel",
        "http://line.example.com/live/alice/s3cretPW/3001.ts",
    );
    alive.tvg_id = s("alive.uk");
    assert_eq!(p.entries, [alive]);
    assert_eq!(
        p.skipped,
        [
            Skipped {
                line: 2,
                reason: "#EXTINF without a URL (another #EXTINF follows at line 3)".into()
            },
            Skipped {
                line: 5,
                reason: "#EXTINF without a URL at the end of the playlist".into()
            },
        ]
    );
}

#[test]
fn vlcopt_exthttp_and_attributes() {
    let p = parse(VLCOPT).unwrap();
    let got: Vec<(&str, Option<&str>, Option<&str>)> = p
        .entries
        .iter()
        .map(|e| {
            (
                e.name.as_str(),
                e.user_agent.as_deref(),
                e.referrer.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (
                "Option Lines",
                Some("VLC/3.0.20 LibVLC/3.0.20"),
                Some("http://portal.example.com/")
            ),
            (
                "Attributes",
                Some("Attr Agent/1.0"),
                Some("http://attr.example.com/")
            ),
            (
                "Option Beats Attribute",
                Some("Option Agent/2.0"),
                Some("http://misspelt.example.com/")
            ),
            (
                "EXTHTTP",
                Some("Json Agent/3.0"),
                Some("http://json.example.com/")
            ),
            // Options apply to the next URL only.
            ("No Options", None, None),
        ]
    );
    assert_eq!(p.entries[1].line, 7);
    assert_no_password(&p);
}

#[test]
fn gzip_input_is_detected_by_magic() {
    let p = parse(GZ).unwrap();
    assert_eq!(p.epg_urls, ["http://epg.example.net/gz.xml"]);
    let names: Vec<_> = p.entries.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names, ["Gzip One", "Gzip Two"]);
    assert_eq!(p.entries[1].group.as_deref(), Some("Gzip"));
    assert_eq!(p.entries[1].line, 4);
    // A gzip bomb stops at the cap.
    let err = parse_with_limit(GZ, 100).unwrap_err();
    assert!(
        matches!(err, M3uError::Gzip(GzipError::TooLarge { limit: 100 })),
        "{err}"
    );
}

#[test]
fn hostile_urls_are_skipped_with_a_reason() {
    let p = parse(HOSTILE).unwrap();
    assert_eq!(p.entries.len(), 1);
    assert_eq!(p.entries[0].name, "Good One");
    let skipped: Vec<(usize, &str)> = p
        .skipped
        .iter()
        .map(|s| (s.line, s.reason.as_str()))
        .collect();
    assert_eq!(
        skipped,
        [
            (
                2,
                "refused URL at line 3: scheme \"file\" is not http or https"
            ),
            (
                4,
                "refused URL at line 5: scheme \"concat\" is not http or https"
            ),
            (
                6,
                "refused URL at line 7: scheme \"udp\" is not http or https"
            ),
            (
                8,
                "refused URL at line 9: scheme \"data\" is not http or https"
            ),
            (10, "refused URL at line 11: not an absolute URL"),
            (
                12,
                "refused URL at line 13: scheme \"rtmp\" is not http or https"
            ),
            (
                14,
                "refused URL at line 15: scheme \"javascript\" is not http or https"
            ),
        ]
    );
    assert_no_password(&p);
}

#[test]
fn not_a_playlist_errors_say_why() {
    let html = b"\n\n<!DOCTYPE html><html><head><title>404 Not Found</title></head></html>";
    let err = parse(html).unwrap_err();
    assert!(
        matches!(&err, M3uError::Markup { line: 3, title: Some(t) } if t == "404 Not Found"),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "not a playlist: line 3 starts an HTML/XML page titled \"404 Not Found\""
    );
    let err = parse(br#"{"user_info":{"auth":0}}"#).unwrap_err();
    assert!(matches!(err, M3uError::Json { line: 1 }), "{err:?}");
    let err = parse(b"\x47\x40\x00\x10\x00\x00\xb0\x0d").unwrap_err();
    assert!(matches!(err, M3uError::Binary { offset: 2 }), "{err:?}");
    let err = parse(b"").unwrap_err();
    assert_eq!(err.to_string(), "not a playlist: no entries in 1 lines");
    let err = parse(b"#EXTM3U\r\n#EXTINF:-1,Only\r\nfile:///x\r\n").unwrap_err();
    assert_eq!(
        err.to_string(),
        "not a playlist: no entries in 4 lines (1 skipped; first at line 2: refused URL at line 3: scheme \"file\" is not http or https)"
    );
}

#[test]
fn invalid_utf8_is_decoded_lossily() {
    let p = parse(b"#EXTINF:-1,Caf\xe9\nhttp://h.example/1.ts\n").unwrap();
    assert_eq!(p.entries[0].name, "Caf\u{fffd}");
}

#[test]
fn attribute_edge_cases() {
    let (attrs, name) = parse_attrs(r#" tvg-ID="a" junk group-title='x, y' bad="open,Name, Two"#);
    assert_eq!(
        attrs,
        [
            ("tvg-id".to_string(), "a".to_string()),
            ("group-title".into(), "x, y".into()),
            ("bad".into(), "open".into()),
        ]
    );
    assert_eq!(name.as_deref(), Some("Name, Two"));
    assert_eq!(parse_attrs(""), (vec![], None));
    assert_eq!(parse_attrs("=x ="), (vec![], None));
    let p = parse_extinf(1, "-1.5");
    assert_eq!((p.duration, p.name.as_str()), (-1, ""));
    assert_eq!(parse_extinf(1, "abc,N").duration, -1);
    assert_eq!(parse_extinf(1, "3600 ,N").duration, 3600);
}

#[test]
fn stream_keys() {
    let cases = [
        ("http://h:8080/live/U/P/12345.ts", Some("12345")),
        ("http://other/U/P/12345", Some("12345")),
        ("https://cdn.example.org/play/abc123.m3u8", Some("abc123")),
        ("http://h/live/U/P/12345/", Some("12345")),
        ("http://h/hls/ch/index.m3u8", None),
        ("http://h/playlist.m3u8", None),
        ("http://h/stream", None),
        ("http://h/stream1", None),
        ("http://h/hls/chunklist_w123456.m3u8", None),
        ("http://h/", None),
        ("http://h", None),
        ("http://h/bbcone.m3u8", None),
        ("http://h/caf%C3%A91.ts", None),
        ("not a url", None),
    ];
    for (url, want) in cases {
        assert_eq!(stream_key(url).as_deref(), want, "{url}");
    }
}

#[test]
fn allowed_provider_urls() {
    for ok in ["http://h/x", "https://u:p@h:8443/x?y=1", " http://h/x "] {
        assert!(is_allowed_provider_url(ok), "{ok}");
    }
    for bad in [
        "file:///etc/passwd",
        "concat:http://h/a|http://h/b",
        "udp://@239.0.0.1:1234",
        "data:,x",
        "/live/1.ts",
        "h/live/1.ts",
        "ftp://h/x",
        "http://",
        "",
    ] {
        assert!(!is_allowed_provider_url(bad), "{bad}");
    }
}

proptest! {
    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let _ = parse(&bytes);
    }

    #[test]
    fn random_text_never_panics(text in "(#EXTM3U|#EXTINF:|#EXTVLCOPT:|#EXTGRP:|#EXTHTTP:|[\" ,=\r\n\t]|[a-z]{1,6}|http://h/[0-9]{1,3}|\u{fffd}|é)*") {
        let _ = parse(text.as_bytes());
        let _ = stream_key(&text);
    }

    #[test]
    fn mutated_fixtures_never_panic(
        which in 0..FIXTURES.len(),
        edits in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..16),
        cut in any::<usize>(),
    ) {
        let mut bytes = FIXTURES[which].to_vec();
        for (at, b) in edits {
            let i = at % bytes.len();
            bytes[i] = b;
        }
        let _ = parse(&bytes);
        let _ = parse(&bytes[..cut % (bytes.len() + 1)]);
    }
}
