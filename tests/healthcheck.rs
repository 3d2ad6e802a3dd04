//! `streamforge healthcheck` (issue 12), the container's health check:
//! exit 0 against a running server, found from the config file or the
//! environment like `serve`; non-zero with the reason when nothing
//! answers or the answer is not a 2xx.

use std::process::Output;

use crate::util::*;

async fn healthcheck(args: &[&str], env: &[(&str, &str)], dir: &std::path::Path) -> Output {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_streamforge"));
    cmd.arg("healthcheck").args(args).current_dir(dir);
    // Only the variables given here: the caller's STREAMFORGE_* must not
    // point the check elsewhere.
    for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("STREAMFORGE_")) {
        cmd.env_remove(k);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().await.expect("run streamforge healthcheck")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn healthcheck_passes_against_a_running_server_and_fails_without_one_issue_12() {
    let srv = TestServer::start(fast_config(vec![])).await;
    let dir = tempfile::tempdir().unwrap();
    let addr = srv.addr.to_string();

    // From a config file, as `serve --config` would read it.
    let cfg = dir.path().join("hc.toml");
    std::fs::write(&cfg, format!("[server]\nlisten = \"{addr}\"\n")).unwrap();
    let o = healthcheck(&["--config", cfg.to_str().unwrap()], &[], dir.path()).await;
    assert!(o.status.success(), "config file: {}", stderr(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("200"));

    // From ./streamforge.toml overridden by the environment (the
    // container's setup), with the unspecified address meaning loopback.
    std::fs::write(
        dir.path().join("streamforge.toml"),
        "[server]\nlisten = \"127.0.0.1:1\"\n",
    )
    .unwrap();
    let any = format!("0.0.0.0:{}", srv.addr.port());
    let o = healthcheck(&[], &[("STREAMFORGE_SERVER_LISTEN", &any)], dir.path()).await;
    assert!(o.status.success(), "env override: {}", stderr(&o));

    // An explicit URL; a path that is not 2xx fails and says the status.
    let o = healthcheck(
        &["--url", &format!("http://{addr}/healthz")],
        &[],
        dir.path(),
    )
    .await;
    assert!(o.status.success(), "{}", stderr(&o));
    let o = healthcheck(&["--url", &format!("http://{addr}/nope")], &[], dir.path()).await;
    assert!(!o.status.success());
    assert!(stderr(&o).contains("404"), "{}", stderr(&o));

    // Nothing listening: the file's 127.0.0.1:1 refuses.
    let o = healthcheck(&[], &[], dir.path()).await;
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("GET http://127.0.0.1:1/healthz"),
        "{}",
        stderr(&o)
    );

    // A stopped server is unhealthy.
    srv.stop().await;
    let o = healthcheck(&["--config", cfg.to_str().unwrap()], &[], dir.path()).await;
    assert!(!o.status.success(), "stopped server reported healthy");
}
