//! "Events": stalls, failovers (from → to, reason, switch time, the
//! splice's audio/video steps), exhaustions, sync results and the rest,
//! newest first, filtered by channel and kind, a page at a time through the
//! store query `/api/events` uses (`before` = the last id shown). New
//! events arrive over the live stream as rows rendered here.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};
use serde::Deserialize;
use serde_json::Value;

use super::layout::page as shell;
use super::state::WebState;
use crate::redact::{redact, redact_in_text};
use crate::store::events::EventQuery;

/// Rows per page.
pub const PAGE: u32 = 50;

/// The kinds a person can filter on (`EventKind::name`).
pub const KINDS: &[&str] = &[
    "failover",
    "stall",
    "stall_recovered",
    "exhausted",
    "candidate_failed",
    "session_start",
    "session_stop",
    "session_crashed",
    "reader_dropped",
    "sync_completed",
    "sync_failed",
    "lineup_built",
];

#[derive(Deserialize, Default)]
pub struct Filter {
    pub channel: Option<String>,
    pub kind: Option<String>,
    pub before: Option<i64>,
}

fn nonempty(s: &Option<String>) -> Option<String> {
    s.as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

pub async fn page(State(st): State<WebState>, Query(f): Query<Filter>) -> Response {
    let channel = nonempty(&f.channel);
    let kind = nonempty(&f.kind);
    let q = EventQuery {
        limit: PAGE,
        kind: kind.clone(),
        channel: channel.clone(),
        before_id: f.before,
    };
    let rows = match st.store.events(&q).await {
        Ok(r) => r,
        Err(e) => {
            tracing::error!("events page: {e:#}");
            return (StatusCode::INTERNAL_SERVER_ERROR, "cannot read the events").into_response();
        }
    };
    let older = (rows.len() as u32 == PAGE)
        .then(|| rows.last().map(|r| r.id))
        .flatten();
    let link = |before: Option<i64>| {
        let mut p = url::form_urlencoded::Serializer::new(String::new());
        if let Some(c) = &channel {
            p.append_pair("channel", c);
        }
        if let Some(k) = &kind {
            p.append_pair("kind", k);
        }
        if let Some(b) = before {
            p.append_pair("before", &b.to_string());
        }
        format!("/events?{}", p.finish())
    };
    shell(
        "Events",
        "/events",
        html! {
            form.filters method="get" action="/events" {
                label { "Channel " input type="text" name="channel" inputmode="decimal" size="6" value=[channel.as_deref()]; }
                label { "Kind "
                    select name="kind" {
                        option value="" { "any" }
                        @for k in KINDS {
                            option value=(k) selected[kind.as_deref() == Some(*k)] { (k.replace('_', " ")) }
                        }
                    }
                }
                button type="submit" { "Filter" }
                @if channel.is_some() || kind.is_some() { a href="/events" { "Clear" } }
            }
            div.scroll {
                table.events id="events" data-live="events"
                    data-channel=[channel.as_deref()] data-kind=[kind.as_deref()]
                    data-first-page=(f.before.is_none()) {
                    caption.sr { "Events, newest first" }
                    thead { tr {
                        th scope="col" { "Time (UTC)" }
                        th scope="col" { "Channel" }
                        th scope="col" { "Kind" }
                        th scope="col" { "What happened" }
                    } }
                    tbody {
                        @for r in &rows {
                            (row(&r.ts, r.channel.as_deref(), &r.kind, &r.detail))
                        }
                    }
                }
            }
            @if rows.is_empty() { p.empty { "No events" @if f.before.is_some() { " older than these" } "." } }
            nav.pager aria-label="Pages" {
                @if f.before.is_some() { a href=(link(None)) { "Newest" } }
                @if let Some(b) = older { a href=(link(Some(b))) rel="next" { "Older" } }
            }
        },
    )
    .into_response()
}

/// One table row: time, channel, kind, and the detail in words.
pub fn row(ts: &str, channel: Option<&str>, kind: &str, detail: &Value) -> Markup {
    let time = ts.get(..19).unwrap_or(ts).replace('T', " ");
    html! {
        tr data-kind=(kind) data-channel=(channel.unwrap_or("")) class=(severity(kind)) {
            td { time datetime=(ts) { (time) } }
            td { @if let Some(c) = channel { a href={"/events?channel=" (c)} { (c) } } }
            td { span class={"kind " (kind)} { (kind.replace('_', " ")) } }
            td { (summary(kind, detail)) }
        }
    }
}

fn severity(kind: &str) -> &'static str {
    match kind {
        "exhausted" | "session_crashed" | "sync_failed" => "bad",
        "failover" | "stall" | "candidate_failed" | "reader_dropped" => "warn",
        _ => "ok",
    }
}

fn s<'a>(d: &'a Value, k: &str) -> &'a str {
    d.get(k).and_then(Value::as_str).unwrap_or("")
}

fn n(d: &Value, k: &str) -> u64 {
    d.get(k).and_then(Value::as_u64).unwrap_or(0)
}

fn ms(d: &Value, k: &str) -> Option<f64> {
    d.get(k).and_then(Value::as_f64)
}

/// An event's detail in words. URLs are redacted again: the detail came
/// redacted from its publisher, and a page must never be the exception.
pub fn summary(kind: &str, d: &Value) -> String {
    let url = |k: &str| redact(s(d, k));
    match kind {
        "failover" => {
            let mut t = format!(
                "#{} {} → #{} {}: {}",
                n(d, "from_index") + 1,
                url("from"),
                n(d, "to_index") + 1,
                url("to"),
                s(d, "reason")
            );
            if let Some(sw) = ms(d, "switch_ms") {
                t.push_str(&format!("; switch {sw:.0} ms"));
            }
            if n(d, "stall_ms") > 0 {
                t.push_str(&format!(" after {} ms quiet", n(d, "stall_ms")));
            }
            if d.get("warm_standby").and_then(Value::as_bool) == Some(true) {
                t.push_str("; warm standby");
            }
            if let Some(step) = ms(d, "dts_step_ms") {
                t.push_str(&format!("; video step {step:.0} ms"));
            }
            if let (Some(a), b) = (ms(d, "av_offset_before_ms"), ms(d, "av_offset_after_ms")) {
                let b = b.map(|b| format!("{b:.0}")).unwrap_or_else(|| "?".into());
                t.push_str(&format!("; A/V offset {a:.0} → {b} ms"));
            }
            if d.get("new_muxer").and_then(Value::as_bool) == Some(true) {
                t.push_str("; new muxer (discontinuity)");
            }
            if let Some(note) = d.get("note").and_then(Value::as_str) {
                t.push_str(&format!("; {note}"));
            }
            t
        }
        "stall" => format!(
            "#{} {} quiet for {} ms",
            n(d, "source_index") + 1,
            url("source"),
            n(d, "quiet_ms")
        ),
        "stall_recovered" => format!("{} recovered after {} ms", url("source"), n(d, "stall_ms")),
        "candidate_failed" => format!(
            "#{} {} failed at {}: {} ({})",
            n(d, "index") + 1,
            url("source"),
            s(d, "phase"),
            s(d, "reason"),
            redact_in_text(s(d, "error"))
        ),
        "exhausted" => {
            let c = d
                .get("candidates")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .map(|f| {
                            format!(
                                "#{} {}: {}",
                                n(f, "index") + 1,
                                redact(s(f, "source")),
                                s(f, "reason")
                            )
                        })
                        .collect::<Vec<_>>()
                        .join("; ")
                })
                .unwrap_or_default();
            format!(
                "every candidate failed after {} failovers, {} s: {c}",
                n(d, "failovers"),
                n(d, "ran_ms") / 1000
            )
        }
        "session_start" => format!("started with {} candidates", n(d, "candidates")),
        "session_stop" => format!(
            "stopped after {} s, {} failovers, {} MB in{}",
            n(d, "ran_ms") / 1000,
            n(d, "failovers"),
            n(d, "bytes_in") / 1_000_000,
            if d.get("exhausted").and_then(Value::as_bool) == Some(true) {
                ", exhausted"
            } else {
                ""
            }
        ),
        "session_crashed" => "the session thread panicked; the session was ended".into(),
        "reader_dropped" => format!(
            "a client too slow for the ring was disconnected ({} lags in {} s)",
            n(d, "lags"),
            n(d, "window_s")
        ),
        "sync_completed" => {
            let mut t = format!(
                "{} ({}): {} items, {} new, {} stale, {} removed, {} skipped in {} ms",
                s(d, "source"),
                s(d, "source_kind"),
                n(d, "items"),
                n(d, "added"),
                n(d, "stale"),
                n(d, "removed"),
                n(d, "skipped"),
                n(d, "ms")
            );
            if let Some(p) = d.get("programmes").and_then(Value::as_u64) {
                t.push_str(&format!(", {p} programmes"));
            }
            t
        }
        "sync_failed" => format!(
            "{} ({}): {}: {} (kept {})",
            s(d, "source"),
            s(d, "source_kind"),
            s(d, "reason"),
            redact_in_text(s(d, "error")),
            n(d, "kept")
        ),
        "lineup_built" => format!(
            "{} channels ({} enabled) from {} streams: {} matched, {} suggested, {} unmatched in {} ms",
            n(d, "channels"),
            n(d, "enabled"),
            n(d, "streams"),
            n(d, "matched"),
            n(d, "suggested"),
            n(d, "unmatched"),
            n(d, "ms")
        ),
        _ => redact_in_text(&d.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failover_in_words() {
        let d = serde_json::json!({
            "from": "http://h/live/u/p/1.ts", "from_index": 0, "to": "http://b/x.ts", "to_index": 1,
            "reason": "stall", "stall_ms": 1000, "switch_ms": 42.4, "warm_standby": true,
            "dts_step_ms": 40.0, "av_offset_before_ms": -20.0, "av_offset_after_ms": null, "new_muxer": false,
        });
        let t = summary("failover", &d);
        assert!(t.starts_with("#1 "), "{t}");
        // Redacted by allowlist: an unknown first segment is masked too.
        assert!(t.contains("→ #2 http://b/***: stall; switch 42 ms"), "{t}");
        assert!(t.contains("A/V offset -20 → ? ms"), "{t}");
        assert!(!t.contains("/u/p/"), "credentials in {t}");
    }
}
