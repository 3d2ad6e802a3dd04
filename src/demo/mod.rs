//! `serve --demo`: no network, no provider account. Starts the loopback
//! upstream with the fixtures embedded in the binary and configures
//! channels that show connect-time and mid-stream failover.

pub mod upstream;

use bytes::Bytes;

use crate::config::{ChannelConfig, Config};
use upstream::{Mode, Upstream};

pub const MAIN_TS: &[u8] = include_bytes!("../../fixtures/main.ts");
pub const BACKUP_TS: &[u8] = include_bytes!("../../fixtures/backup.ts");
pub const BACKUP_480P_TS: &[u8] = include_bytes!("../../fixtures/backup_480p.ts");

/// How long the flaky primary of channel 102 plays per connection.
pub const FLAKY_PLAY_MS: u64 = 20_000;

/// Starts the demo upstream and returns it with `config` extended by the
/// demo channels (replacing any configured ones).
pub async fn setup(mut config: Config) -> std::io::Result<(Upstream, Config)> {
    let up = Upstream::start().await?;
    up.add("main", Bytes::from_static(MAIN_TS));
    up.add("backup", Bytes::from_static(BACKUP_TS));
    up.add("backup480", Bytes::from_static(BACKUP_480P_TS));
    up.add("flaky", Bytes::from_static(MAIN_TS))
        .set_mode(Mode::StallAfter(FLAKY_PLAY_MS));
    up.add("suspended", Bytes::from_static(MAIN_TS))
        .set_mode(Mode::Html);
    // A port nothing listens on: connection refused.
    let refused = {
        let l = std::net::TcpListener::bind("127.0.0.1:0")?;
        l.local_addr()?
    };
    let ch = |number: &str, name: &str, streams: Vec<String>, tvg: &str| ChannelConfig {
        number: number.into(),
        name: name.into(),
        streams,
        tvg_id: Some(tvg.into()),
        group: Some("Demo".into()),
        ..Default::default()
    };
    config.channel = vec![
        ch("101", "Demo Steady", vec![up.ts_url("main")], "steady.demo"),
        ch(
            "102",
            "Demo Flaky (fails over once, 20 s into a session)",
            vec![up.ts_url("flaky"), up.ts_url("backup")],
            "flaky.demo",
        ),
        ch(
            "103",
            "Demo Dead Primaries",
            vec![
                format!("http://{refused}/live/demo/secret/1.ts"),
                up.ts_url("suspended"),
                up.ts_url("backup480"),
            ],
            "dead.demo",
        ),
        ch(
            "104",
            "Demo HLS",
            vec![up.hls_url("main"), up.ts_url("backup")],
            "hls.demo",
        ),
    ];
    config
        .validate()
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    Ok((up, config))
}
