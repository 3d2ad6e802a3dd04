use super::*;
use proptest::prelude::*;

const PASSWORD: &str = "s3cretPW";

const NUMBERS_AS_STRINGS: &[u8] =
    include_bytes!("../../fixtures/providers/xtream_numbers_as_strings.json");
const AUTH0: &[u8] = include_bytes!("../../fixtures/providers/xtream_auth0.json");
const EXPIRED: &[u8] = include_bytes!("../../fixtures/providers/xtream_expired.json");
const HTML_404: &[u8] = include_bytes!("../../fixtures/providers/xtream_html_404.html");
const STREAMS_NULLS: &[u8] =
    include_bytes!("../../fixtures/providers/xtream_live_streams_nulls.json");
const STREAMS_OBJECT: &[u8] =
    include_bytes!("../../fixtures/providers/xtream_live_streams_object.json");
const CATEGORIES: &[u8] = include_bytes!("../../fixtures/providers/xtream_categories.json");
const SHORT_EPG: &[u8] = include_bytes!("../../fixtures/providers/xtream_short_epg.json");
const FIXTURES: &[&[u8]] = &[
    NUMBERS_AS_STRINGS,
    AUTH0,
    EXPIRED,
    HTML_404,
    STREAMS_NULLS,
    STREAMS_OBJECT,
    CATEGORIES,
    SHORT_EPG,
];

fn assert_no_password(debug: String) {
    assert!(!debug.contains(PASSWORD), "{debug}");
}

#[test]
fn auth_with_numbers_as_strings() {
    let (account, server) = parse_auth(200, NUMBERS_AS_STRINGS).unwrap();
    assert_eq!(
        account,
        Account {
            username: "alice".into(),
            status: AccountStatus::Active,
            exp_date: Some(1767225600),
            is_trial: false,
            active_cons: Some(0),
            max_connections: Some(3),
            created_at: Some(1704067200),
            message: Some("Welcome to Example TV".into()),
            allowed_output_formats: vec!["m3u8".into(), "ts".into(), "rtmp".into()],
        }
    );
    assert_eq!(
        server,
        ServerInfo {
            url: Some("line.example.com".into()),
            port: Some(8080),
            https_port: None,
            server_protocol: Some("http".into()),
            timezone: Some("Europe/London".into()),
            timestamp_now: Some(1735689600),
        }
    );
    assert_no_password(format!("{account:?} {server:?}"));
    assert_no_password(serde_json::to_string(&account).unwrap());
}

#[test]
fn expired_account_is_returned_for_the_caller_to_judge() {
    let (account, server) = parse_auth(200, EXPIRED).unwrap();
    assert_eq!(account.status, AccountStatus::Expired);
    assert_eq!(account.exp_date, Some(1609459200));
    assert!(account.is_trial);
    assert_eq!(account.created_at, None);
    assert_eq!(account.message, None);
    assert_eq!(account.max_connections, Some(1));
    assert_eq!(account.allowed_output_formats, Vec::<String>::new());
    assert_eq!((server.port, server.https_port), (Some(80), Some(443)));
    assert_eq!(server.timezone, None);
    assert_eq!(server.timestamp_now, Some(1735689600));
    assert_no_password(format!("{account:?}"));
}

#[test]
fn refused_credentials() {
    let err = parse_auth(200, AUTH0).unwrap_err();
    assert_eq!(
        err,
        XtreamError::AuthFailed {
            status: 200,
            reason: "auth: 0"
        }
    );
    assert!(err.may_be_bad_credentials());
    for (status, body, reason) in [
        (401, &b""[..], "the panel refused the credentials"),
        (403, NUMBERS_AS_STRINGS, "the panel refused the credentials"),
        (200, b"[]", "empty answer"),
        (200, b"{}", "no user_info in the answer"),
        (200, br#"{"user_info":{}}"#, "no user_info in the answer"),
        (200, br#"{"user_info":null}"#, "no user_info in the answer"),
        (200, br#"{"user_info":"x"}"#, "user_info is not an object"),
        (
            200,
            br#"{"user_info":{"auth":"0","password":"s3cretPW"}}"#,
            "auth: 0",
        ),
    ] {
        assert_eq!(
            parse_auth(status, body).unwrap_err(),
            XtreamError::AuthFailed { status, reason },
            "{}",
            String::from_utf8_lossy(body)
        );
    }
}

#[test]
fn html_http_json_errors() {
    let err = parse_auth(404, HTML_404).unwrap_err();
    assert_eq!(
        err,
        XtreamError::NotXtream {
            status: Some(404),
            title: Some("404 Not Found".into())
        }
    );
    assert_eq!(
        err.to_string(),
        "not an Xtream Codes answer (HTTP 404): an HTML page titled \"404 Not Found\""
    );
    assert_no_password(format!("{err:?} {err}"));
    assert_eq!(
        parse_auth(502, b"Bad gateway").unwrap_err(),
        XtreamError::Http { status: 502 }
    );
    assert_eq!(parse_auth(200, b" \n").unwrap_err(), XtreamError::EmptyBody);
    assert_eq!(
        parse_auth(200, b"42").unwrap_err(),
        XtreamError::NotXtream {
            status: Some(200),
            title: None
        }
    );
    let err = parse_auth(200, b"{\"user_info\":\n{\"username\": \"s3cretPW").unwrap_err();
    let XtreamError::Json { line, column, .. } = &err else {
        panic!("{err:?}");
    };
    assert_eq!((*line, *column), (2, 22));
    assert_no_password(format!("{err:?} {err}"));
}

#[test]
fn live_streams_with_nulls_and_bad_items() {
    let list = parse_live_streams(STREAMS_NULLS).unwrap();
    assert_eq!(list.skipped, 5);
    assert_eq!(
        list.streams,
        [
            LiveStream {
                stream_id: 303879,
                num: Some(1),
                name: "UK: Sky Sports News".into(),
                stream_icon: Some("http://logo.example.net/ssn.png".into()),
                epg_channel_id: Some("skysportsnews.uk".into()),
                category_id: Some("7723".into()),
                category_ids: vec!["7723".into(), "7730".into()],
                tv_archive: false,
                added: Some(1500000000),
            },
            LiveStream {
                stream_id: 303880,
                num: Some(2),
                name: "Stream 303880".into(),
                stream_icon: None,
                epg_channel_id: None,
                category_id: None,
                category_ids: vec![],
                tv_archive: true,
                added: None,
            },
            LiveStream {
                stream_id: 303881,
                num: None,
                name: "BBC One".into(),
                stream_icon: None,
                epg_channel_id: None,
                category_id: Some("7734".into()),
                category_ids: vec!["7734".into()],
                tv_archive: true,
                added: Some(1600000000),
            },
        ]
    );
}

#[test]
fn live_streams_other_top_levels() {
    let list = parse_live_streams(STREAMS_OBJECT).unwrap();
    let ids: Vec<_> = list
        .streams
        .iter()
        .map(|s| (s.stream_id, s.name.as_str()))
        .collect();
    assert_eq!(ids, [(501, "Keyed One"), (502, "Keyed Two")]);
    for empty in [&b"{}"[..], b"[]", b"null"] {
        assert_eq!(parse_live_streams(empty).unwrap(), LiveStreams::default());
    }
    assert_eq!(
        parse_live_streams(AUTH0).unwrap_err(),
        XtreamError::AuthFailed {
            status: 200,
            reason: "the panel answered a list call with user_info"
        }
    );
    assert!(matches!(
        parse_live_streams(b"\"nope\"").unwrap_err(),
        XtreamError::Json { line: 1, .. }
    ));
    // Truncated mid-list: an error, never a short list.
    let cut = &STREAMS_NULLS[..STREAMS_NULLS.len() / 2];
    assert!(matches!(
        parse_live_streams(cut).unwrap_err(),
        XtreamError::Json { .. }
    ));
    assert!(matches!(
        parse_live_streams(HTML_404).unwrap_err(),
        XtreamError::NotXtream { status: None, .. }
    ));
}

#[test]
fn categories() {
    let cats = parse_categories(CATEGORIES).unwrap();
    assert_eq!(
        cats,
        [
            Category {
                id: "7734".into(),
                name: "UK | News".into(),
                parent_id: None
            },
            Category {
                id: "7723".into(),
                name: "UK | Sport".into(),
                parent_id: Some("7734".into())
            },
            Category {
                id: "7740".into(),
                name: "Category 7740".into(),
                parent_id: None
            },
        ]
    );
}

#[test]
fn short_epg_is_decoded() {
    let listings = parse_short_epg(SHORT_EPG).unwrap();
    assert_eq!(
        listings,
        [
            EpgListing {
                title: "Midday News".into(),
                description: Some("Headlines & weather — live.".into()),
                start: 1735732800,
                stop: 1735736400,
                epg_id: Some("101".into()),
            },
            EpgListing {
                title: "Film: Été".into(),
                description: None,
                start: 1735736400,
                stop: 1735743600,
                epg_id: Some("101".into()),
            },
        ]
    );
    assert_eq!(parse_short_epg(b"{}").unwrap(), []);
}

#[test]
fn base64_is_decoded_leniently() {
    assert_eq!(decode_b64_lenient("SGVsbG8gd29ybGQ="), "Hello world");
    assert_eq!(decode_b64_lenient("SGVsbG8gd29ybGQ"), "Hello world");
    assert_eq!(decode_b64_lenient("SGVsbG8g\nd29ybGQ="), "Hello world");
    assert_eq!(decode_b64_lenient("w4l0w6k="), "Été");
    for plain in ["News", "Hello world", "", "***", "abcd"] {
        assert_eq!(decode_b64_lenient(plain), plain);
    }
}

#[test]
fn base_urls_are_normalised() {
    for (input, want) in [
        ("http://h.example:8080", "http://h.example:8080"),
        ("http://h.example:8080/", "http://h.example:8080"),
        ("h.example:8080", "http://h.example:8080"),
        ("https://h.example:443/", "https://h.example"),
        ("http://h.example/prefix/", "http://h.example/prefix"),
        (
            "http://h.example:8080/get.php?username=u&password=p&type=m3u_plus",
            "http://h.example:8080",
        ),
        (
            "http://h.example/x/player_api.php?username=u",
            "http://h.example/x",
        ),
        ("http://u:p@h.example/live/u/p/1.ts", "http://h.example"),
        ("http://[::1]:8080/#frag", "http://[::1]:8080"),
    ] {
        assert_eq!(normalise_base(input).unwrap(), want, "{input}");
    }
    for (input, reason) in [
        ("", "empty"),
        ("ftp://h.example", "the scheme must be http or https"),
        ("http://", "not a URL"),
        ("http://exa mple.com", "not a URL"),
    ] {
        assert_eq!(
            normalise_base(input).unwrap_err(),
            XtreamError::InvalidBase { reason },
            "{input}"
        );
    }
}

#[test]
fn urls_encode_credentials() {
    let base = "http://h.example:8080/";
    assert_eq!(
        player_api_url(base, "al ice", "p&w=/?", None).unwrap(),
        "http://h.example:8080/player_api.php?username=al+ice&password=p%26w%3D%2F%3F"
    );
    assert_eq!(
        player_api_url(base, "u", "p", Some("get_live_streams")).unwrap(),
        "http://h.example:8080/player_api.php?username=u&password=p&action=get_live_streams"
    );
    assert_eq!(
        xmltv_url("h.example", "u", "p").unwrap(),
        "http://h.example/xmltv.php?username=u&password=p"
    );
    assert_eq!(
        m3u_url(base, "u", "p").unwrap(),
        "http://h.example:8080/get.php?username=u&password=p&type=m3u_plus&output=ts"
    );
    assert_eq!(
        live_url(base, "al/ice", "p%ss word", 12345, LiveFormat::Ts).unwrap(),
        "http://h.example:8080/live/al%2Fice/p%25ss%20word/12345.ts"
    );
    assert_eq!(
        live_url("http://h.example/get.php?x", "u", "p", 7, LiveFormat::M3u8).unwrap(),
        "http://h.example/live/u/p/7.m3u8"
    );
    for (user, pass) in [("..", "p"), ("u", "."), ("", "p")] {
        assert!(matches!(
            live_url(base, user, pass, 7, LiveFormat::Ts),
            Err(XtreamError::InvalidCredentials { .. })
        ));
    }
    assert_eq!(LiveFormat::from_ext("M3U8"), Some(LiveFormat::M3u8));
    assert_eq!(LiveFormat::from_ext("rtmp"), None);
}

proptest! {
    #[test]
    fn random_bytes_never_panic(status in 100u16..600, bytes in proptest::collection::vec(any::<u8>(), 0..1024)) {
        let _ = parse_auth(status, &bytes);
        let _ = parse_live_streams(&bytes);
        let _ = parse_categories(&bytes);
        let _ = parse_short_epg(&bytes);
    }

    #[test]
    fn mutated_fixtures_never_panic(
        which in 0..FIXTURES.len(),
        edits in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..8),
        cut in any::<usize>(),
    ) {
        let mut bytes = FIXTURES[which].to_vec();
        for (at, b) in edits {
            let i = at % bytes.len();
            bytes[i] = b;
        }
        for body in [&bytes[..], &bytes[..cut % (bytes.len() + 1)]] {
            if let Ok((account, server)) = parse_auth(200, body) {
                let debug = format!("{account:?}{server:?}");
                prop_assert!(!debug.contains(PASSWORD));
            }
            let _ = parse_live_streams(body);
            let _ = parse_categories(body);
            let _ = parse_short_epg(body);
        }
    }

    #[test]
    fn any_text_is_a_base_or_an_error(s in "\\PC{0,40}", user in "\\PC{0,12}", pass in "\\PC{0,12}") {
        let _ = decode_b64_lenient(&s);
        if let Ok(url) = live_url(&s, &user, &pass, 1, LiveFormat::Ts) {
            prop_assert!(url.ends_with("/1.ts"));
        }
        let _ = player_api_url(&s, &user, &pass, Some(&s));
    }
}
