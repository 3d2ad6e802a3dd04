//! Provider sync: fetch a source (HTTP or, for config sources, a file),
//! parse it with the pure parsers, guard the result, store it in one
//! transaction, and publish what happened. A sync never destroys what
//! works: a failed, malformed, empty or suspiciously shrunken answer
//! changes nothing and is an event naming the source and the error.
//!
//! Xtream accounts are spoken to gently: the account's API calls are
//! spaced, an expired, banned or disabled account stops the sync before
//! any list is fetched, and after repeated refused logins the scheduler
//! stops trying until the source is edited or a sync is asked for.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use parking_lot::Mutex;

pub use super::outcome::{Outcome, Progress, SyncError};
use super::xtream::{self, AccountStatus, LiveFormat, XtreamError};
use super::{m3u, xmltv_sync};
use crate::config::SyncConfig;
use crate::events::{EventBus, EventKind, SyncCompleted, SyncFailed};
use crate::redact::{redact, redact_in_text};
use crate::store::Store;
use crate::store::sources::{IngestedStream, SourceRow};

/// Refused logins in a row after which scheduled syncs stop.
pub const MAX_AUTH_FAILURES: i64 = 3;

/// Runs syncs: one at a time per source, any number of sources at once.
pub struct Syncer {
    pub store: Store,
    pub events: EventBus,
    pub cfg: SyncConfig,
    http: reqwest::Client,
    default_user_agent: String,
    /// Pause between one Xtream account's API calls.
    pub api_spacing: Duration,
    /// Sources being synced, with their step (short critical sections).
    running: Mutex<HashMap<i64, (String, Instant)>>,
    /// Told after every sync that stored something (the lineup rebuilds).
    pub changed: Arc<tokio::sync::Notify>,
}

impl Syncer {
    pub fn new(store: Store, events: EventBus, cfg: SyncConfig, user_agent: &str) -> Arc<Self> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(cfg.timeout_s.min(30)))
            .timeout(Duration::from_secs(cfg.timeout_s))
            .redirect(reqwest::redirect::Policy::limited(5))
            .build()
            .unwrap_or_default();
        Arc::new(Self {
            store,
            events,
            cfg,
            http,
            default_user_agent: user_agent.to_string(),
            api_spacing: Duration::from_secs(1),
            running: Mutex::new(HashMap::new()),
            changed: Arc::new(tokio::sync::Notify::new()),
        })
    }

    /// A copy with another pause between an account's calls (tests).
    pub fn with_api_spacing(self: Arc<Self>, spacing: Duration) -> Arc<Self> {
        Arc::new(Self {
            store: self.store.clone(),
            events: self.events.clone(),
            cfg: self.cfg.clone(),
            http: self.http.clone(),
            default_user_agent: self.default_user_agent.clone(),
            api_spacing: spacing,
            running: Mutex::new(HashMap::new()),
            changed: Arc::clone(&self.changed),
        })
    }

    pub fn progress(&self, id: i64) -> Option<Progress> {
        self.running.lock().get(&id).map(|(step, t)| Progress {
            step: step.clone(),
            started_ms_ago: t.elapsed().as_millis() as u64,
        })
    }

    fn step(&self, id: i64, step: &str) {
        if let Some(e) = self.running.lock().get_mut(&id) {
            e.0 = step.to_string();
        }
    }

    /// Syncs source `id`. `forced` (a person asked) also runs a source
    /// paused after refused logins. Records the result and publishes an
    /// event either way.
    pub async fn sync(&self, id: i64, forced: bool) -> Result<Outcome, SyncError> {
        let source = self
            .store
            .source(id)
            .await?
            .ok_or(SyncError::NoSuchSource(id))?;
        {
            let mut running = self.running.lock();
            if running.contains_key(&id) {
                return Err(SyncError::Busy);
            }
            running.insert(id, ("starting".into(), Instant::now()));
        }
        let t0 = Instant::now();
        let result = if !forced && source.auth_failures >= MAX_AUTH_FAILURES {
            Err(SyncError::Paused(source.auth_failures))
        } else {
            self.run(&source).await
        };
        self.running.lock().remove(&id);
        let ms = t0.elapsed().as_millis() as u64;
        match result {
            Ok(mut out) => {
                out.ms = ms;
                self.store
                    .record_sync(id, true, None, Some(out.items as i64), false)
                    .await?;
                tracing::info!(source = %source.name, items = out.items, ms, "sync completed");
                self.changed.notify_one();
                self.events.publish(
                    None,
                    EventKind::SyncCompleted(SyncCompleted {
                        source_id: id,
                        source: source.name.clone(),
                        source_kind: source.kind.clone(),
                        items: out.items,
                        added: out.added,
                        stale: out.stale,
                        removed: out.removed,
                        skipped: out.skipped,
                        programmes: out.programmes,
                        ms,
                    }),
                );
                Ok(out)
            }
            Err(e) => {
                let message = redact_in_text(&e.to_string());
                let paused = matches!(e, SyncError::Paused(_));
                if !paused && !matches!(e, SyncError::Busy | SyncError::NoSuchSource(_)) {
                    let auth = matches!(e, SyncError::AuthFailed(_));
                    let _ = self
                        .store
                        .record_sync(id, false, Some(&message), None, auth)
                        .await;
                }
                let kept = self.kept(&source).await;
                tracing::warn!(source = %source.name, reason = e.reason(), "sync failed, previous data kept: {message}");
                self.events.publish(
                    None,
                    EventKind::SyncFailed(SyncFailed {
                        source_id: id,
                        source: source.name.clone(),
                        source_kind: source.kind.clone(),
                        reason: e.reason().to_string(),
                        error: message,
                        kept,
                    }),
                );
                Err(e)
            }
        }
    }

    async fn kept(&self, s: &SourceRow) -> u64 {
        let n = if s.kind == "xmltv" {
            self.store.guide_channel_count(s.id).await
        } else {
            self.store.active_stream_count(s.id).await
        };
        n.unwrap_or(0).max(0) as u64
    }

    async fn run(&self, s: &SourceRow) -> Result<Outcome, SyncError> {
        match s.kind.as_str() {
            "xtream" => {
                let (streams, skipped) = self.xtream(s).await?;
                self.store_streams(s, streams, skipped).await
            }
            "m3u" => {
                self.step(s.id, "downloading the playlist");
                let body = self
                    .fetch(&s.url, "the playlist", s.user_agent.as_deref())
                    .await?;
                self.step(s.id, "parsing the playlist");
                let (mut streams, skipped) =
                    tokio::task::spawn_blocking(move || m3u_streams(&body))
                        .await
                        .map_err(|e| SyncError::Parse(format!("parser stopped: {e}")))??;
                // The source's user agent, unless the entry names its own.
                if let Some(ua) = &s.user_agent {
                    for st in streams.iter_mut().filter(|st| st.user_agent.is_none()) {
                        st.user_agent = Some(ua.clone());
                    }
                }
                self.store_streams(s, streams, skipped).await
            }
            "xmltv" => {
                self.step(s.id, "downloading the guide");
                let file = self
                    .download(&s.url, "the guide", s.user_agent.as_deref())
                    .await?;
                self.step(s.id, "parsing and storing the guide");
                xmltv_sync::store_guide(&self.store, s.id, file, self.cfg.guide_days).await
            }
            other => Err(SyncError::Parse(format!("unknown source kind {other:?}"))),
        }
    }

    async fn store_streams(
        &self,
        s: &SourceRow,
        streams: Vec<IngestedStream>,
        skipped: u64,
    ) -> Result<Outcome, SyncError> {
        if streams.is_empty() {
            return Err(SyncError::Empty);
        }
        let before = self.store.active_stream_count(s.id).await?;
        let floor = before as f64 * (100 - self.cfg.max_drop_percent.min(100)) as f64 / 100.0;
        if before > 0 && (streams.len() as f64) < floor {
            return Err(SyncError::Drop {
                before,
                after: streams.len(),
                percent: self.cfg.max_drop_percent,
            });
        }
        self.step(s.id, &format!("storing {} streams", streams.len()));
        let c = self
            .store
            .replace_streams(s.id, &streams, self.cfg.stale_days)
            .await?;
        Ok(Outcome {
            items: c.streams,
            added: c.added,
            stale: c.stale,
            removed: c.removed,
            skipped,
            programmes: None,
            ms: 0,
        })
    }

    /// Authenticates, records the account, then fetches categories and
    /// the live streams (one call, filtered locally).
    async fn xtream(&self, s: &SourceRow) -> Result<(Vec<IngestedStream>, u64), SyncError> {
        let user = s.username.clone().unwrap_or_default();
        let pass = s.password.clone().unwrap_or_default();
        let base = xtream::normalise_base(&s.url).map_err(|e| SyncError::Parse(e.to_string()))?;
        let api = |action: Option<&str>| {
            xtream::player_api_url(&base, &user, &pass, action)
                .map_err(|e| SyncError::Parse(e.to_string()))
        };
        let ua = s.user_agent.as_deref();
        self.step(s.id, "authenticating");
        let (status, body) = self.get(&api(None)?, "the panel", ua).await?;
        let (account, _server) = match xtream::parse_auth(status, &body) {
            Ok(a) => a,
            Err(e @ XtreamError::AuthFailed { .. }) => {
                return Err(SyncError::AuthFailed(e.to_string()));
            }
            Err(e @ XtreamError::NotXtream { .. }) if matches!(status, 401 | 403 | 404) => {
                return Err(SyncError::AuthFailed(e.to_string()));
            }
            Err(XtreamError::Http { status }) => {
                return Err(SyncError::Http {
                    what: "the panel".into(),
                    status,
                });
            }
            Err(e) => return Err(SyncError::Parse(e.to_string())),
        };
        let status_text = match &account.status {
            AccountStatus::Active => "Active".to_string(),
            AccountStatus::Banned => "Banned".to_string(),
            AccountStatus::Disabled => "Disabled".to_string(),
            AccountStatus::Expired => "Expired".to_string(),
            AccountStatus::Other(o) => o.clone(),
        };
        self.store
            .record_account(
                s.id,
                &status_text,
                account.exp_date,
                account.max_connections.map(i64::from),
                account.active_cons.map(i64::from),
                account.is_trial,
            )
            .await?;
        let expired_by_date = account
            .exp_date
            .is_some_and(|t| t > 0 && t < chrono::Utc::now().timestamp());
        if !matches!(
            account.status,
            AccountStatus::Active | AccountStatus::Other(_)
        ) || expired_by_date
        {
            let status = if expired_by_date && account.status == AccountStatus::Active {
                "Expired (by its expiry date)".to_string()
            } else {
                status_text
            };
            return Err(SyncError::AccountInactive {
                status,
                message: account.message.filter(|m| !m.trim().is_empty()),
            });
        }
        let format = if account
            .allowed_output_formats
            .iter()
            .any(|f| LiveFormat::from_ext(f) == Some(LiveFormat::Ts))
            || account.allowed_output_formats.is_empty()
        {
            LiveFormat::Ts
        } else {
            LiveFormat::M3u8
        };
        tokio::time::sleep(self.api_spacing).await;
        self.step(s.id, "fetching categories");
        let (status, body) = self
            .get(&api(Some("get_live_categories"))?, "the category list", ua)
            .await?;
        if status >= 400 {
            return Err(SyncError::Http {
                what: "the category list".into(),
                status,
            });
        }
        // Categories only name groups: a broken list is not fatal.
        let groups: HashMap<String, String> = xtream::parse_categories(&body)
            .map(|cs| cs.into_iter().map(|c| (c.id, c.name)).collect())
            .unwrap_or_default();
        tokio::time::sleep(self.api_spacing).await;
        self.step(s.id, "fetching live streams");
        let (status, body) = self
            .get(&api(Some("get_live_streams"))?, "the stream list", ua)
            .await?;
        if status >= 400 {
            return Err(SyncError::Http {
                what: "the stream list".into(),
                status,
            });
        }
        let list = xtream::parse_live_streams(&body)
            .map_err(|e| SyncError::Parse(format!("stream list: {e}")))?;
        let mut skipped = list.skipped as u64;
        let mut out = Vec::with_capacity(list.streams.len());
        let mut seen = HashSet::new();
        for ls in list.streams {
            if !seen.insert(ls.stream_id) {
                skipped += 1;
                continue;
            }
            let Ok(url) = xtream::live_url(&base, &user, &pass, ls.stream_id, format) else {
                skipped += 1;
                continue;
            };
            let group = ls
                .category_id
                .as_ref()
                .or(ls.category_ids.first())
                .and_then(|c| groups.get(c).cloned());
            out.push(IngestedStream {
                key: ls.stream_id.to_string(),
                name: ls.name,
                url,
                tvg_id: ls.epg_channel_id,
                tvg_name: None,
                logo: ls.stream_icon,
                group,
                chno: ls.num.map(|n| n.to_string()),
                user_agent: s.user_agent.clone(),
                referrer: None,
            });
        }
        Ok((out, skipped))
    }

    fn user_agent<'a>(&'a self, ua: Option<&'a str>) -> &'a str {
        ua.unwrap_or(&self.default_user_agent)
    }

    fn max_bytes(&self) -> usize {
        (self.cfg.max_download_mb as usize) << 20
    }

    /// One GET, body in memory (bounded), any status.
    async fn get(
        &self,
        url: &str,
        what: &str,
        ua: Option<&str>,
    ) -> Result<(u16, Vec<u8>), SyncError> {
        let resp = self
            .http
            .get(url)
            .header(reqwest::header::USER_AGENT, self.user_agent(ua))
            .send()
            .await
            .map_err(|e| fetch_error(what, e))?;
        let status = resp.status().as_u16();
        let mut body = Vec::new();
        let mut stream = resp.bytes_stream();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| fetch_error(what, e))?;
            if body.len() + chunk.len() > self.max_bytes() {
                return Err(SyncError::TooLarge {
                    what: what.into(),
                    mb: self.cfg.max_download_mb,
                });
            }
            body.extend_from_slice(&chunk);
        }
        Ok((status, body))
    }

    /// A playlist: an http(s) URL (2xx required) or a local file.
    async fn fetch(
        &self,
        location: &str,
        what: &str,
        ua: Option<&str>,
    ) -> Result<Vec<u8>, SyncError> {
        if std::path::Path::new(location).is_absolute() {
            let meta = tokio::fs::metadata(location)
                .await
                .map_err(|e| file_error(what, location, e))?;
            if meta.len() > self.max_bytes() as u64 {
                return Err(SyncError::TooLarge {
                    what: what.into(),
                    mb: self.cfg.max_download_mb,
                });
            }
            return tokio::fs::read(location)
                .await
                .map_err(|e| file_error(what, location, e));
        }
        let (status, body) = self.get(location, what, ua).await?;
        if !(200..300).contains(&status) {
            return Err(SyncError::Http {
                what: what.into(),
                status,
            });
        }
        Ok(body)
    }

    /// A guide: streamed to a temporary file (never whole in memory), or
    /// a local file opened as it is.
    async fn download(
        &self,
        location: &str,
        what: &str,
        ua: Option<&str>,
    ) -> Result<std::fs::File, SyncError> {
        if std::path::Path::new(location).is_absolute() {
            return std::fs::File::open(location).map_err(|e| file_error(what, location, e));
        }
        let resp = self
            .http
            .get(location)
            .header(reqwest::header::USER_AGENT, self.user_agent(ua))
            .send()
            .await
            .map_err(|e| fetch_error(what, e))?;
        let status = resp.status().as_u16();
        if !(200..300).contains(&status) {
            return Err(SyncError::Http {
                what: what.into(),
                status,
            });
        }
        let mut file = tempfile::tempfile().map_err(|e| SyncError::Fetch {
            what: what.into(),
            message: format!("cannot create a temporary file: {e}"),
        })?;
        let mut written = 0usize;
        let mut stream = resp.bytes_stream();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| fetch_error(what, e))?;
            written += chunk.len();
            if written > self.max_bytes() {
                return Err(SyncError::TooLarge {
                    what: what.into(),
                    mb: self.cfg.max_download_mb,
                });
            }
            std::io::Write::write_all(&mut file, &chunk).map_err(|e| SyncError::Fetch {
                what: what.into(),
                message: format!("cannot write the temporary file: {e}"),
            })?;
        }
        std::io::Seek::rewind(&mut file).map_err(|e| SyncError::Fetch {
            what: what.into(),
            message: e.to_string(),
        })?;
        Ok(file)
    }
}

/// reqwest's message without the URL (it holds the credentials).
fn fetch_error(what: &str, e: reqwest::Error) -> SyncError {
    let timeout = e.is_timeout();
    let e = e.without_url();
    let mut message = e.to_string();
    let mut src = std::error::Error::source(&e);
    while let Some(s) = src {
        message = format!("{message}: {s}");
        src = s.source();
    }
    if timeout {
        message = format!("timed out ({message})");
    }
    SyncError::Fetch {
        what: what.into(),
        message: redact_in_text(&message),
    }
}

fn file_error(what: &str, path: &str, e: std::io::Error) -> SyncError {
    SyncError::Fetch {
        what: what.into(),
        message: format!("{}: {e}", redact(path)),
    }
}

/// A playlist's entries as streams, with identities that survive
/// re-syncs: the stream id in the URL path, else tvg-id and name.
pub fn m3u_streams(body: &[u8]) -> Result<(Vec<IngestedStream>, u64), SyncError> {
    let list = m3u::parse(body).map_err(|e| SyncError::Parse(e.to_string()))?;
    let mut skipped = list.skipped.len() as u64;
    let mut out = Vec::with_capacity(list.entries.len());
    let mut seen: HashMap<String, u32> = HashMap::new();
    for e in list.entries {
        if !m3u::is_allowed_provider_url(&e.url) {
            skipped += 1;
            continue;
        }
        let base = m3u::stream_key(&e.url).unwrap_or_else(|| {
            format!(
                "{}|{}",
                e.tvg_id.as_deref().unwrap_or("").to_ascii_lowercase(),
                e.name.trim().to_lowercase()
            )
        });
        // The same identity twice (one channel listed in two groups):
        // number the repeats so both are kept, stably by order.
        let n = seen.entry(base.clone()).or_insert(0);
        *n += 1;
        let key = if *n == 1 { base } else { format!("{base}#{n}") };
        out.push(IngestedStream {
            key,
            name: e.name,
            url: e.url,
            tvg_id: e.tvg_id,
            tvg_name: e.tvg_name,
            logo: e.tvg_logo,
            group: e.group,
            chno: e.chno,
            user_agent: e.user_agent,
            referrer: e.referrer,
        });
    }
    Ok((out, skipped))
}
