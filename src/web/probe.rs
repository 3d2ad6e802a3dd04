//! `POST /api/probe/{number}[?seconds=N]`: "test this channel". Probes
//! every candidate of the channel in failover order with `crate::probe`
//! (on its own OS thread: FFmpeg never runs on a tokio worker) and answers
//! with the same JSON as `streamforge probe NUMBER --json`. A provider
//! candidate is probed only when its account has a connection free (the
//! probe holds it from the budget, like a session would), so a test never
//! pushes a playing session over the provider's limit. One probe at a time.

use std::time::Duration;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

use super::dashboard::LastProbe;
use super::state::WebState;
use crate::lineup::CandidateSource;
use crate::media::budget::Holder;
use crate::probe::CHANNEL_DEFAULT;
use crate::probe::describe::kbps;
use crate::probe::report::Candidate;
use crate::probe::run::{self, Options};
use crate::redact::redact;

#[derive(Deserialize, Default)]
pub struct ProbeQuery {
    /// Seconds to watch each candidate (1–30).
    pub seconds: Option<f64>,
}

fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(json!({ "error": message.into() }))).into_response()
}

/// One candidate's result in a few words, for the channels page.
pub fn line(c: &Candidate) -> String {
    match (&c.report, c.reason) {
        (Some(r), _) => {
            let h = &r.health;
            let mut t = format!("#{} alive", c.tier);
            if let Some(b) = &h.bitrate {
                t.push_str(&format!(" {}", kbps(b.summary.mean_bps)));
            }
            if let Some(k) = h.timing_ms.first_keyframe {
                t.push_str(&format!(", keyframe at {k} ms"));
            }
            if h.stalls.count > 0 {
                t.push_str(&format!(", {} stalls", h.stalls.count));
            }
            t
        }
        (None, reason) => format!(
            "#{} dead: {}",
            c.tier,
            reason.unwrap_or("error").replace('_', " ")
        ),
    }
}

pub async fn probe_channel(
    State(st): State<WebState>,
    Path(number): Path<String>,
    Query(q): Query<ProbeQuery>,
) -> Response {
    let Some(ch) = st.lineup.find(&number) else {
        return error(StatusCode::NOT_FOUND, format!("no channel {number}"));
    };
    let seconds = q.seconds.unwrap_or(CHANNEL_DEFAULT.as_secs_f64());
    if !(seconds.is_finite() && (1.0..=30.0).contains(&seconds)) {
        return error(
            StatusCode::BAD_REQUEST,
            format!("seconds ({seconds}) must be between 1 and 30"),
        );
    }
    let Ok(_one) = st.dashboard.probe_lock.try_lock() else {
        return error(
            StatusCode::CONFLICT,
            "another probe is running; try again when it ends",
        );
    };
    let stream = &st.config.stream;
    let base = Options {
        duration: Some(Duration::from_secs_f64(seconds)),
        connect_timeout: Duration::from_millis(stream.connect_timeout_ms),
        user_agent: stream.user_agent.clone(),
    };
    let holder = Holder {
        session: 0,
        channel: format!("probe {}", ch.number),
    };
    let budget = std::sync::Arc::clone(st.sessions.budget());
    let candidates = ch.candidates.clone();
    let (tx, rx) = tokio::sync::oneshot::channel();
    let spawned = std::thread::Builder::new()
        .name(format!("probe-{}", ch.number))
        .spawn(move || {
            let mut rows = Vec::new();
            for (i, k) in candidates.iter().enumerate() {
                let shown = redact(&k.url);
                let permit = match &k.source {
                    CandidateSource::Provider { source_id, .. } => {
                        match budget.try_acquire_as(*source_id, &holder) {
                            Some(p) => Some(p),
                            None => {
                                rows.push(Candidate {
                                    tier: i + 1,
                                    source: shown,
                                    alive: false,
                                    reason: Some("not_probed"),
                                    error: Some(
                                        "every connection of this account is in use; not probed"
                                            .into(),
                                    ),
                                    report: None,
                                });
                                continue;
                            }
                        }
                    }
                    CandidateSource::Config => None,
                };
                let mut opts = base.clone();
                if let Some(ua) = &k.user_agent {
                    opts.user_agent = ua.clone();
                }
                let row = match run::probe(&k.url, &opts, &mut |_| {}) {
                    Ok(r) => Candidate {
                        tier: i + 1,
                        source: shown,
                        alive: true,
                        reason: None,
                        error: None,
                        report: Some(r),
                    },
                    Err(e) => Candidate {
                        tier: i + 1,
                        source: shown,
                        alive: false,
                        reason: Some(e.reason()),
                        error: Some(crate::redact::redact_in_text(&e.to_string())),
                        report: None,
                    },
                };
                drop(permit);
                rows.push(row);
            }
            let _ = tx.send(rows);
        });
    if let Err(e) = spawned {
        return error(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("cannot start the probe thread: {e}"),
        );
    }
    let Ok(rows) = rx.await else {
        return error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the probe thread ended without a result",
        );
    };
    st.dashboard.set_probe(
        &ch.id,
        LastProbe {
            at: chrono::Utc::now().format("%Y-%m-%d %H:%M UTC").to_string(),
            candidates: rows.iter().map(line).collect(),
        },
    );
    Json(json!({
        "channel": { "number": ch.number, "name": ch.name, "enabled": ch.is_enabled() },
        "candidates": rows,
    }))
    .into_response()
}
