//! Plex tuner (issue 4): the HDHomeRun HTTP API, UDP 65001 discovery
//! (with Debian's `hdhomerun_config` as an independent client), SSDP,
//! playlist.m3u, epg.xml (validated by `xmllint` against the XMLTV DTD and
//! by `tv_validate_file`) and the setup URLs, against the real server.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use streamforge::config::{ChannelConfig, Config};
use streamforge::plex::device::device_id_valid;
use streamforge::plex::discovery::{self, Reply, Request};
use streamforge::plex::ssdp::{SsdpOptions, SsdpResponder};
use streamforge::plex::{Advert, Device};

use crate::util::*;

const DTD: &str = "/usr/share/sgml/xmltv/dtd/0.5/xmltv.dtd";
const SECRET: &str = "s3cretPW";
const USER: &str = "aliceUser";

/// Channels whose stream URLs carry provider credentials; 103 is disabled.
fn channels() -> Vec<ChannelConfig> {
    let provider = |id: u32| format!("http://provider.example:8080/live/{USER}/{SECRET}/{id}.ts");
    vec![
        ChannelConfig {
            number: "101".into(),
            name: "News & Weather HD".into(),
            streams: vec![
                provider(1),
                format!("http://backup.example/get.php?username={USER}&password={SECRET}"),
            ],
            tvg_id: Some("news.example".into()),
            logo: Some("https://logos.example/news.png".into()),
            group: Some("News".into()),
            ..Default::default()
        },
        ChannelConfig {
            number: "102".into(),
            name: "Kids <Fun>".into(),
            streams: vec![provider(2)],
            tvg_id: Some("not a valid id".into()),
            logo: Some(format!(
                "http://provider.example:8080/logo.png?password={SECRET}"
            )),
            group: Some("Kids".into()),
            ..Default::default()
        },
        ChannelConfig {
            number: "103".into(),
            name: "Hidden Channel".into(),
            streams: vec![provider(3)],
            tvg_id: Some("hidden.example".into()),
            enabled: Some(false),
            ..Default::default()
        },
        ChannelConfig {
            number: "5.1".into(),
            name: "Sub Channel".into(),
            streams: vec![provider(4)],
            ..Default::default()
        },
    ]
}

fn config() -> Config {
    let mut c = fast_config(channels());
    c.tuner.count = 3;
    c
}

async fn get_with_host(url: &str, host: &str) -> serde_json::Value {
    reqwest::Client::new()
        .get(url)
        .header("Host", host)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

fn assert_no_secrets(what: &str, text: &str) {
    for s in [
        SECRET,
        USER,
        "provider.example",
        "backup.example",
        "Hidden Channel",
        "hidden.example",
    ] {
        assert!(!text.contains(s), "{what} contains {s:?}:\n{text}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn discover_json_fields_and_types() {
    let srv = TestServer::start(config()).await;
    let d = srv.json("/discover.json").await;
    let base = format!("http://{}", srv.addr);
    for key in [
        "FriendlyName",
        "Manufacturer",
        "ModelNumber",
        "FirmwareName",
        "FirmwareVersion",
        "DeviceID",
        "DeviceAuth",
        "BaseURL",
        "LineupURL",
    ] {
        assert!(d[key].is_string(), "{key} must be a string: {d}");
    }
    assert_eq!(
        d["TunerCount"],
        serde_json::json!(3),
        "TunerCount is the integer tuner.count: {d}"
    );
    assert!(d["TunerCount"].is_u64());
    assert_eq!(d["Manufacturer"], "Silicondust");
    assert_eq!(d["ModelNumber"], "HDTC-2US");
    assert_eq!(d["FirmwareName"], "hdhomeruntc_atsc");
    assert_eq!(d["FriendlyName"], "StreamForge");
    assert_eq!(d["BaseURL"], base);
    assert_eq!(d["LineupURL"], format!("{base}/lineup.json"));
    let id = d["DeviceID"].as_str().unwrap();
    assert_eq!(id.len(), 8);
    assert!(
        device_id_valid(u32::from_str_radix(id, 16).unwrap()),
        "{id} has a valid check digit"
    );
    assert_no_secrets("discover.json", &d.to_string());
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn device_id_is_stable_across_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let srv = TestServer::start_in(config(), dir.path().to_path_buf()).await;
    let first = srv.json("/discover.json").await["DeviceID"].clone();
    let auth = srv.json("/discover.json").await["DeviceAuth"].clone();
    srv.stop().await;
    let srv = TestServer::start_in(config(), dir.path().to_path_buf()).await;
    let d = srv.json("/discover.json").await;
    assert_eq!(d["DeviceID"], first);
    assert_eq!(d["DeviceAuth"], auth);
    srv.stop().await;
    // Another instance (another data directory) gets another id.
    let other = TestServer::start(config()).await;
    assert_ne!(other.json("/discover.json").await["DeviceID"], first);
    other.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn base_url_follows_the_host_header_or_public_url() {
    // Issue 12: a Host becomes the BaseURL only when it names us (the
    // machine's addresses, or server.allowed_hosts).
    let srv = TestServer::start(config()).await;
    let d = get_with_host(&srv.url("/discover.json"), "192.168.77.5:5004").await;
    assert_ne!(d["BaseURL"], "http://192.168.77.5:5004", "not one of ours");
    srv.stop().await;
    let mut c = config();
    c.server.allowed_hosts = vec!["192.168.77.5".into()];
    let srv = TestServer::start(c).await;
    let d = get_with_host(&srv.url("/discover.json"), "192.168.77.5:5004").await;
    assert_eq!(d["BaseURL"], "http://192.168.77.5:5004");
    assert_eq!(d["LineupURL"], "http://192.168.77.5:5004/lineup.json");
    let l = get_with_host(&srv.url("/lineup.json"), "192.168.77.5:5004").await;
    assert_eq!(l[0]["URL"], "http://192.168.77.5:5004/auto/v101");
    // A request to 127.0.0.1 gets 127.0.0.1, never "localhost".
    let d = srv.json("/discover.json").await;
    assert_eq!(
        d["BaseURL"],
        format!("http://127.0.0.1:{}", srv.addr.port())
    );
    // A hostile Host does not end up in the answer.
    let d = get_with_host(&srv.url("/discover.json"), "evil\"host").await;
    assert!(!d["BaseURL"].as_str().unwrap().contains("evil"), "{d}");
    srv.stop().await;

    let mut c = config();
    c.server.public_url = Some("http://tv.example.lan:8088/".into());
    let srv = TestServer::start(c).await;
    let d = get_with_host(&srv.url("/discover.json"), "192.168.77.5:5004").await;
    assert_eq!(d["BaseURL"], "http://tv.example.lan:8088");
    assert_eq!(d["LineupURL"], "http://tv.example.lan:8088/lineup.json");
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn lineup_lists_enabled_channels_in_order_with_our_urls() {
    let up = Upstream::start().await.unwrap();
    up.add("main", fixture_bytes("main.ts"));
    let mut chans = channels();
    chans[0].streams = vec![up.ts_url("main")];
    let mut c = config();
    c.channel = chans;
    let srv = TestServer::start(c).await;
    let base = format!("http://{}", srv.addr);
    let l = srv.json("/lineup.json").await;
    let l = l.as_array().unwrap();
    let numbers: Vec<_> = l.iter().map(|e| e["GuideNumber"].clone()).collect();
    assert_eq!(
        numbers,
        [
            serde_json::json!("101"),
            serde_json::json!("102"),
            serde_json::json!("5.1")
        ],
        "strings, in order, 103 disabled"
    );
    assert_eq!(l[0]["GuideName"], "News & Weather HD");
    assert_eq!(l[0]["URL"], format!("{base}/auto/v101"));
    assert_eq!(l[0]["HD"], 1);
    assert!(l[1].get("HD").is_none(), "HD unknown for 102: {}", l[1]);
    assert_eq!(l[2]["URL"], format!("{base}/auto/v5.1"));
    assert_no_secrets("lineup.json", &serde_json::to_string(l).unwrap());
    // The URL is a working stream.
    let cap = Capture::start(l[0]["URL"].as_str().unwrap()).await;
    assert_eq!(cap.status, 200);
    assert_eq!(cap.headers["content-type"], "video/mp2t");
    cap.wait_bytes(188 * 10, Duration::from_secs(10)).await;
    assert_eq!(cap.finish()[0], 0x47);
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn lineup_status_and_lineup_post() {
    let srv = TestServer::start(config()).await;
    assert_eq!(
        srv.json("/lineup_status.json").await,
        serde_json::json!({"ScanInProgress": 0, "ScanPossible": 1, "Source": "Cable", "SourceList": ["Cable"]})
    );
    let client = reqwest::Client::new();
    for (query, status) in [
        ("?scan=start&source=Cable", 200),
        ("?scan=abort", 200),
        ("?scan=bogus", 400),
        ("", 400),
    ] {
        let r = client
            .post(srv.url(&format!("/lineup.post{query}")))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), status, "{query}");
        let body = r.text().await.unwrap();
        if status == 200 {
            assert!(body.is_empty(), "{query}: {body:?}");
        }
    }
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn device_xml_is_a_upnp_root_description() {
    use quick_xml::events::Event;
    use quick_xml::name::ResolveResult;
    let srv = TestServer::start(config()).await;
    let id = srv.json("/discover.json").await["DeviceID"]
        .as_str()
        .unwrap()
        .to_string();
    for path in ["/device.xml", "/capability"] {
        let r = reqwest::get(srv.url(path)).await.unwrap();
        assert_eq!(r.status(), 200);
        assert!(
            r.headers()["content-type"]
                .to_str()
                .unwrap()
                .contains("xml")
        );
        let xml = r.text().await.unwrap();
        let mut reader = quick_xml::NsReader::from_str(&xml);
        let mut texts = std::collections::HashMap::new();
        let mut stack: Vec<String> = Vec::new();
        let mut root_ns = None;
        loop {
            match reader.read_resolved_event().unwrap() {
                (ns, Event::Start(e)) => {
                    let name = String::from_utf8(e.local_name().as_ref().to_vec()).unwrap();
                    if stack.is_empty() {
                        assert_eq!(name, "root");
                        if let ResolveResult::Bound(n) = ns {
                            root_ns = Some(String::from_utf8(n.as_ref().to_vec()).unwrap());
                        }
                    }
                    stack.push(name);
                }
                (_, Event::Text(t)) => {
                    let t = t.unescape().unwrap().trim().to_string();
                    if !t.is_empty() {
                        texts.insert(stack.join("/"), t);
                    }
                }
                (_, Event::End(_)) => {
                    stack.pop();
                }
                (_, Event::Eof) => break,
                _ => {}
            }
        }
        assert_eq!(
            root_ns.as_deref(),
            Some("urn:schemas-upnp-org:device-1-0"),
            "{xml}"
        );
        assert_eq!(texts["root/specVersion/major"], "1");
        assert_eq!(texts["root/specVersion/minor"], "0");
        assert_eq!(texts["root/URLBase"], format!("http://{}", srv.addr));
        assert_eq!(
            texts["root/device/deviceType"],
            "urn:schemas-upnp-org:device:MediaServer:1"
        );
        assert_eq!(texts["root/device/friendlyName"], "StreamForge");
        assert_eq!(texts["root/device/manufacturer"], "Silicondust");
        assert_eq!(texts["root/device/modelName"], "HDTC-2US");
        assert_eq!(texts["root/device/modelNumber"], "HDTC-2US");
        assert_eq!(texts["root/device/serialNumber"], id);
        assert!(texts["root/device/UDN"].starts_with("uuid:"), "{xml}");
    }
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn playlist_lists_enabled_channels_without_provider_urls() {
    let srv = TestServer::start(config()).await;
    let r = reqwest::get(srv.url("/playlist.m3u")).await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .contains("mpegurl")
    );
    let m3u = r.text().await.unwrap();
    let base = format!("http://{}", srv.addr);
    let lines: Vec<&str> = m3u.lines().collect();
    assert_eq!(
        lines[0],
        format!("#EXTM3U x-tvg-url=\"{base}/epg.xml\" url-tvg=\"{base}/epg.xml\"")
    );
    assert_eq!(lines.len(), 1 + 2 * 3, "{m3u}");
    assert_eq!(
        lines[1],
        "#EXTINF:-1 tvg-id=\"news.example\" tvg-name=\"News & Weather HD\" tvg-logo=\"https://logos.example/news.png\" tvg-chno=\"101\" group-title=\"News\",News & Weather HD"
    );
    assert_eq!(lines[2], format!("{base}/auto/v101"));
    assert_eq!(
        lines[3],
        "#EXTINF:-1 tvg-id=\"102.streamforge\" tvg-name=\"Kids <Fun>\" tvg-logo=\"\" tvg-chno=\"102\" group-title=\"Kids\",Kids <Fun>"
    );
    assert_eq!(lines[4], format!("{base}/auto/v102"));
    assert!(
        lines[5].contains("tvg-chno=\"5.1\"") && lines[5].ends_with(",Sub Channel"),
        "{}",
        lines[5]
    );
    assert_eq!(lines[6], format!("{base}/auto/v5.1"));
    assert_no_secrets("playlist.m3u", &m3u);
    srv.stop().await;
}

pub fn validate_xmltv(xml: &[u8]) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("epg.xml");
    std::fs::write(&path, xml).unwrap();
    let out = std::process::Command::new("xmllint")
        .args(["--noout", "--dtdvalid", DTD])
        .arg(&path)
        .output()
        .expect("xmllint is installed (libxml2-utils)");
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "xmllint --dtdvalid: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = std::process::Command::new("tv_validate_file")
        .env("XMLTV_SUPPLEMENT", "/usr/share/sgml/xmltv/dtd/0.5")
        .arg(&path)
        .output()
        .expect("tv_validate_file is installed (xmltv-util)");
    assert!(
        out.status.success(),
        "tv_validate_file: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn epg_xml_validates_and_streams_gzip() {
    let srv = TestServer::start(config()).await;
    let client = reqwest::Client::builder().no_gzip().build().unwrap();
    let r = client.get(srv.url("/epg.xml")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/xml")
    );
    assert!(r.headers().get("content-encoding").is_none());
    assert!(
        r.headers().get("content-length").is_none(),
        "streamed, not built first"
    );
    let xml = r.bytes().await.unwrap();
    validate_xmltv(&xml);
    let text = std::str::from_utf8(&xml).unwrap();
    assert!(!text.contains("<lcn"), "lcn is not in the DTD");
    for id in ["news.example", "102.streamforge", "5.1.streamforge"] {
        assert!(text.contains(&format!("<channel id=\"{id}\">")), "{id}");
        assert!(
            text.contains(&format!("channel=\"{id}\"")),
            "programmes for {id}"
        );
    }
    assert!(text.contains("<display-name>Kids &lt;Fun&gt;</display-name>"));
    assert!(
        text.contains("<display-name>101</display-name>"),
        "number as a display-name for Plex's matching"
    );
    assert!(text.contains("<icon src=\"https://logos.example/news.png\"/>"));
    assert_eq!(text.matches("<channel ").count(), 3);
    assert_no_secrets("epg.xml", text);

    let r = client
        .get(srv.url("/epg.xml"))
        .header("Accept-Encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["content-encoding"], "gzip");
    assert_eq!(r.headers()["vary"], "accept-encoding");
    let gz = r.bytes().await.unwrap();
    assert!(gz.len() < xml.len() / 3, "{} vs {}", gz.len(), xml.len());
    let mut plain = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&gz[..]), &mut plain).unwrap();
    validate_xmltv(&plain);
    assert_eq!(plain.len(), xml.len());
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn setup_urls_api_and_command() {
    let srv = TestServer::start(config()).await;
    let u = srv.json("/api/urls").await;
    let base = format!("http://{}", srv.addr);
    assert_eq!(u["tuner_address"], srv.addr.to_string());
    assert_eq!(u["base_url"], base);
    assert_eq!(u["m3u_url"], format!("{base}/playlist.m3u"));
    assert_eq!(u["xmltv_url"], format!("{base}/epg.xml"));
    assert_eq!(u["discover_url"], format!("{base}/discover.json"));
    assert_eq!(
        u["notes"].as_array().unwrap().len(),
        1,
        "loopback-only listen is flagged: {u}"
    );
    srv.stop().await;

    let mut c = config();
    c.server.public_url = Some("http://tv.example.lan:8088".into());
    let srv = TestServer::start(c).await;
    let u = srv.json("/api/urls").await;
    assert_eq!(u["tuner_address"], "tv.example.lan:8088");
    assert_eq!(u["xmltv_url"], "http://tv.example.lan:8088/epg.xml");
    srv.stop().await;

    // The command, from a config file: an unspecified listen address is
    // replaced by a LAN address, never 0.0.0.0 or localhost.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("sf.toml");
    std::fs::write(&file, "[server]\nlisten = \"0.0.0.0:5077\"\n").unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_streamforge"))
        .args(["urls", "--config"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let lan = streamforge::plex::urls::primary_lan_ipv4()
        .map_or("127.0.0.1".to_string(), |ip| ip.to_string());
    assert!(text.contains(&format!("manually: {lan}:5077")), "{text}");
    assert!(
        text.contains(&format!("http://{lan}:5077/playlist.m3u")),
        "{text}"
    );
    assert!(
        text.contains(&format!("http://{lan}:5077/epg.xml")),
        "{text}"
    );
    assert!(!text.contains("0.0.0.0"), "{text}");

    std::fs::write(
        &file,
        "[server]\nlisten = \"0.0.0.0:5077\"\npublic_url = \"https://sf.example.org/\"\n",
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_streamforge"))
        .args(["urls", "--config"])
        .arg(&file)
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("https://sf.example.org/epg.xml"), "{text}");
}

async fn udp_exchange(
    sock: &tokio::net::UdpSocket,
    to: SocketAddr,
    frame: &[u8],
) -> Option<Vec<u8>> {
    sock.send_to(frame, to).await.unwrap();
    let mut buf = [0u8; 2048];
    match tokio::time::timeout(Duration::from_millis(500), sock.recv_from(&mut buf)).await {
        Ok(Ok((n, _))) => Some(buf[..n].to_vec()),
        _ => None,
    }
}

/// The only test that binds UDP 65001: `hdhomerun_config` always sends
/// there. Also covers "port in use is a warning, not a crash".
#[tokio::test(flavor = "multi_thread")]
async fn udp_discovery_answers_hdhomerun_config() {
    // Port taken: the server still starts and serves HTTP.
    let blocker = bind_udp_65001("UDP 65001 free for this test");
    let mut c = config();
    c.discovery.udp = true;
    let srv = TestServer::start(c.clone()).await;
    assert!(srv.json("/discover.json").await["DeviceID"].is_string());
    srv.stop().await;
    drop(blocker);

    let srv = TestServer::start(c).await;
    let id_hex = srv.json("/discover.json").await["DeviceID"]
        .as_str()
        .unwrap()
        .to_string();
    let id = u32::from_str_radix(&id_hex, 16).unwrap();
    // The port HDHomeRun discovery fixes (and `hdhomerun_config` sends to).
    let target = SocketAddr::from(([127, 0, 0, 1], streamforge::plex::udp::PORT));
    let sock = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();

    // The published request vector.
    let req = Request {
        device_type: Some(discovery::DEVICE_TYPE_TUNER),
        device_id: Some(discovery::WILDCARD),
        multi_types: vec![],
    };
    assert_eq!(
        hex(&req.encode()),
        "0002000c0104000000010204ffffffff4e507f35"
    );
    let reply = Reply::decode(
        &udp_exchange(&sock, target, &req.encode())
            .await
            .expect("a reply"),
    )
    .unwrap();
    let base = format!("http://127.0.0.1:{}", srv.addr.port());
    assert_eq!(
        reply,
        Reply {
            device_id: id,
            tuner_count: 3,
            base_url: base.clone(),
            lineup_url: format!("{base}/lineup.json")
        }
    );
    // Garbage, a bad CRC and another device's id get no answer; the
    // responder keeps working afterwards.
    let mut bad_crc = req.encode();
    *bad_crc.last_mut().unwrap() ^= 0xFF;
    let other = Request {
        device_id: Some(0x10439EFD),
        ..req.clone()
    };
    for junk in [
        b"hello".to_vec(),
        vec![0xFF; 1500],
        bad_crc,
        discovery::encode_frame(2, &[0x02, 0x7F, 1]),
        other.encode(),
    ] {
        assert_eq!(udp_exchange(&sock, target, &junk).await, None);
    }
    assert!(udp_exchange(&sock, target, &req.encode()).await.is_some());

    // Debian's client finds us, with our id.
    let mut found = String::new();
    for _ in 0..5 {
        let out = std::process::Command::new("hdhomerun_config")
            .args(["discover", "127.0.0.1"])
            .output()
            .expect("hdhomerun_config is installed (hdhomerun-config)");
        found = String::from_utf8_lossy(&out.stdout).to_string();
        if found.contains("found at") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(
        found.trim(),
        format!("hdhomerun device {id_hex} found at 127.0.0.1")
    );

    // Shutdown releases the port.
    srv.stop().await;
    bind_udp_65001("65001 released at shutdown");
}

/// Binds UDP 65001 on all interfaces; a port held by something else
/// (typically `scripts/demo.sh` left running) says so instead of a bare
/// `AddrInUse` (issue 14).
fn bind_udp_65001(what: &str) -> std::net::UdpSocket {
    match std::net::UdpSocket::bind(("0.0.0.0", streamforge::plex::udp::PORT)) {
        Ok(s) => s,
        Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => panic!(
            "{what}: port 65001 is in use — is a StreamForge demo or another HDHomeRun \
             emulator running? Stop it and run the test again: {e}"
        ),
        Err(e) => panic!("{what}: binding UDP 0.0.0.0:65001: {e}"),
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

async fn recv_text(sock: &tokio::net::UdpSocket, wait: Duration) -> Option<String> {
    let mut buf = [0u8; 2048];
    match tokio::time::timeout(wait, sock.recv_from(&mut buf)).await {
        Ok(Ok((n, _))) => Some(String::from_utf8_lossy(&buf[..n]).to_string()),
        _ => None,
    }
}

fn header<'a>(msg: &'a str, name: &str) -> Option<&'a str> {
    msg.split("\r\n").find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn ssdp_answers_msearch_and_says_alive_and_byebye() {
    // A real server for LOCATION to point at.
    let srv = TestServer::start(config()).await;
    let store = streamforge::store::Store::open(&srv.data_dir)
        .await
        .unwrap();
    let device = Arc::new(
        Device::load_or_create(&store, "StreamForge")
            .await
            .unwrap()
            .serving_at(srv.addr),
    );
    let udn = device.udn();
    let advert = Arc::new(Advert {
        device,
        http_addr: srv.addr,
        public_url: None,
        tuner_count: Box::new(|| 3),
    });
    let listener = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let opts = SsdpOptions {
        bind: "127.0.0.1:0".parse().unwrap(),
        join_multicast: false,
        notify_to: Some(listener.local_addr().unwrap()),
        notify_every: Duration::from_secs(3600),
    };
    let ssdp = SsdpResponder::start(opts, advert).await.unwrap();
    let to = ssdp.local_addr();

    // ssdp:alive for the three targets at start.
    let mut alive = Vec::new();
    for _ in 0..3 {
        let m = recv_text(&listener, Duration::from_secs(2))
            .await
            .expect("NOTIFY ssdp:alive");
        assert!(m.starts_with("NOTIFY * HTTP/1.1\r\n"), "{m}");
        assert_eq!(header(&m, "NTS"), Some("ssdp:alive"));
        assert_eq!(
            header(&m, "LOCATION"),
            Some(format!("http://{}/device.xml", srv.addr).as_str())
        );
        alive.push(header(&m, "NT").unwrap().to_string());
    }
    alive.sort();
    let mut want = vec![
        "upnp:rootdevice".to_string(),
        format!("uuid:{udn}"),
        "urn:schemas-upnp-org:device:MediaServer:1".to_string(),
    ];
    want.sort();
    assert_eq!(alive, want);

    let client = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let search = |st: &str| {
        format!(
            "M-SEARCH * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\nMAN: \"ssdp:discover\"\r\nMX: 1\r\nST: {st}\r\n\r\n"
        )
    };
    for st in [
        "upnp:rootdevice",
        "urn:schemas-upnp-org:device:MediaServer:1",
    ] {
        client.send_to(search(st).as_bytes(), to).await.unwrap();
        let m = recv_text(&client, Duration::from_secs(3))
            .await
            .expect("an M-SEARCH answer");
        assert!(m.starts_with("HTTP/1.1 200 OK\r\n"), "{m}");
        assert!(m.ends_with("\r\n\r\n"));
        assert_eq!(header(&m, "CACHE-CONTROL"), Some("max-age=1800"));
        assert_eq!(header(&m, "EXT"), Some(""));
        assert_eq!(header(&m, "ST"), Some(st));
        assert_eq!(
            header(&m, "USN"),
            Some(format!("uuid:{udn}::{st}").as_str())
        );
        assert!(header(&m, "SERVER").is_some_and(|s| s.contains("UPnP/1.0")));
        // LOCATION is the live device description.
        let location = header(&m, "LOCATION").unwrap();
        assert_eq!(location, format!("http://{}/device.xml", srv.addr));
        let xml = reqwest::get(location).await.unwrap().text().await.unwrap();
        assert!(xml.contains(&format!("<UDN>uuid:{udn}</UDN>")), "{xml}");
    }
    // ssdp:all gets one answer per target.
    client
        .send_to(search("ssdp:all").as_bytes(), to)
        .await
        .unwrap();
    let mut sts = Vec::new();
    for _ in 0..3 {
        let m = recv_text(&client, Duration::from_secs(3))
            .await
            .expect("ssdp:all answers");
        sts.push(header(&m, "ST").unwrap().to_string());
    }
    sts.sort();
    assert_eq!(sts, want);
    // A target we do not have, or garbage: silence.
    client
        .send_to(
            search("urn:schemas-upnp-org:device:InternetGatewayDevice:1").as_bytes(),
            to,
        )
        .await
        .unwrap();
    client.send_to(&[0xFF; 700], to).await.unwrap();
    assert_eq!(recv_text(&client, Duration::from_millis(1500)).await, None);

    // byebye for the three targets when stopped.
    ssdp.stop().await;
    let mut bye = Vec::new();
    for _ in 0..3 {
        let m = recv_text(&listener, Duration::from_secs(2))
            .await
            .expect("NOTIFY ssdp:byebye");
        assert_eq!(header(&m, "NTS"), Some("ssdp:byebye"), "{m}");
        bye.push(header(&m, "NT").unwrap().to_string());
    }
    bye.sort();
    assert_eq!(bye, want);
    store.close().await;
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn disabled_channels_appear_nowhere() {
    let srv = TestServer::start(config()).await;
    for path in [
        "/lineup.json",
        "/playlist.m3u",
        "/epg.xml",
        "/discover.json",
        "/api/urls",
    ] {
        let body = reqwest::get(srv.url(path))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        for needle in ["Hidden", "hidden.example", "v103", ">103<", "\"103\""] {
            assert!(!body.contains(needle), "{path} contains {needle}: {body}");
        }
    }
    assert_eq!(
        reqwest::get(srv.url("/auto/v103")).await.unwrap().status(),
        404
    );
    srv.stop().await;
}
