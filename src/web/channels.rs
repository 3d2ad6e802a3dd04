//! "Channels": number, name, logo, enabled, match status and confidence,
//! the candidates in failover order with their last probe, a page at a
//! time. Enable/disable, renumber, reorder, fix a match (with the
//! matcher's suggestions) and test are buttons whose script calls the
//! lineup API (`PATCH /api/channels/{id}`, `PUT /api/channels/{id}/order`,
//! `PUT /api/streams/{source}/{key}/match`, `POST /api/probe/{number}`).

use std::collections::HashMap;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};
use serde::Deserialize;

use super::layout::page as shell;
use super::state::WebState;
use crate::lineup::{Candidate, CandidateSource, Channel};
use crate::plex::public_image_url;
use crate::redact::redact;
use crate::store::lineup::MatchRow;

/// Rows per page unless asked otherwise.
pub const PAGE: usize = 50;

#[derive(Deserialize, Default)]
pub struct Filter {
    pub q: Option<String>,
    pub enabled: Option<String>,
    pub offset: Option<usize>,
    pub limit: Option<usize>,
}

pub async fn page(State(st): State<WebState>, Query(f): Query<Filter>) -> Response {
    let matches: HashMap<(i64, String), MatchRow> = match st.store.stream_matches().await {
        Ok(m) => m
            .into_iter()
            .map(|m| ((m.source_id, m.stream_key.clone()), m))
            .collect(),
        Err(e) => {
            tracing::error!("channels page: {e:#}");
            return (StatusCode::INTERNAL_SERVER_ERROR, "cannot read the matches").into_response();
        }
    };
    let q =
        f.q.as_deref()
            .map(str::trim)
            .filter(|q| !q.is_empty())
            .map(str::to_lowercase);
    let enabled = match f.enabled.as_deref() {
        Some("yes") => Some(true),
        Some("no") => Some(false),
        _ => None,
    };
    let all = st.lineup.all();
    let hits: Vec<&Channel> = all
        .iter()
        .filter(|c| enabled.is_none_or(|e| c.enabled == e))
        .filter(|c| {
            q.as_deref()
                .is_none_or(|q| c.name.to_lowercase().contains(q) || c.number == q)
        })
        .collect();
    let limit = f.limit.unwrap_or(PAGE).clamp(1, 500);
    let offset = f.offset.unwrap_or(0).min(hits.len());
    let shown = &hits[offset..(offset + limit).min(hits.len())];
    let link = |off: usize| {
        let mut p = url::form_urlencoded::Serializer::new(String::new());
        if let Some(q) = &q {
            p.append_pair("q", q);
        }
        if let Some(e) = f.enabled.as_deref().filter(|e| !e.is_empty()) {
            p.append_pair("enabled", e);
        }
        p.append_pair("offset", &off.to_string());
        if limit != PAGE {
            p.append_pair("limit", &limit.to_string());
        }
        format!("/channels?{}", p.finish())
    };
    shell(
        "Channels",
        "/channels",
        html! {
            form.filters method="get" action="/channels" role="search" {
                label { "Name or number " input type="search" name="q" value=[q.as_deref()]; }
                label { "Show "
                    select name="enabled" {
                        option value="" { "all" }
                        option value="yes" selected[enabled == Some(true)] { "enabled" }
                        option value="no" selected[enabled == Some(false)] { "disabled" }
                    }
                }
                button type="submit" { "Search" }
            }
            p.count { (hits.len()) " channels"
                @if !shown.is_empty() { ", showing " (offset + 1) "–" (offset + shown.len()) } }
            div.scroll data-region="channels" {
                table.channels id="channels" {
                    caption.sr { "Channels" }
                    thead { tr {
                        th scope="col" { "Number" }
                        th scope="col" { "Channel" }
                        th scope="col" { "Enabled" }
                        th scope="col" { "Match" }
                        th scope="col" { "Candidates, in failover order" }
                    } }
                    tbody {
                        @for c in shown { (row(&st, c, &matches)) }
                    }
                }
            }
            nav.pager aria-label="Pages" {
                @if offset > 0 { a href=(link(offset.saturating_sub(limit))) rel="prev" { "Previous" } }
                @if offset + limit < hits.len() { a href=(link(offset + limit)) rel="next" { "Next" } }
            }
        },
    )
    .into_response()
}

fn match_of<'a>(
    k: &Candidate,
    matches: &'a HashMap<(i64, String), MatchRow>,
) -> Option<&'a MatchRow> {
    match (&k.source, &k.stream_key) {
        (CandidateSource::Provider { source_id, .. }, Some(key)) => {
            matches.get(&(*source_id, key.clone()))
        }
        _ => None,
    }
}

fn row(st: &WebState, c: &Channel, matches: &HashMap<(i64, String), MatchRow>) -> Markup {
    let editable = c.id.starts_with("lineup:");
    let status = if c.id.starts_with("config:") {
        "manual"
    } else if c.guide_id.is_none() {
        "unmatched"
    } else {
        "matched"
    };
    let confidence = c
        .candidates
        .first()
        .and_then(|k| match_of(k, matches))
        .and_then(|m| m.confidence);
    let probe = st.dashboard.probe(&c.id);
    let label = format!("channel {} {}", c.number, c.name);
    html! {
        tr data-id=(c.id) data-number=(c.number) data-enabled=(c.enabled) {
            td.num {
                @if editable {
                    form.renumber data-action="renumber" {
                        label.sr for={"num-" (c.id)} { "Number of " (c.name) }
                        input id={"num-" (c.id)} name="number" value=(c.number) size="5" inputmode="decimal" pattern="[0-9.]+" required;
                        button type="submit" aria-label={"Save the number of " (label)} { "Save" }
                    }
                } @else {
                    (c.number)
                }
            }
            td.name {
                @if let Some(logo) = public_image_url(c.logo.as_deref()) {
                    img src=(logo) alt="" width="32" height="32" loading="lazy" referrerpolicy="no-referrer";
                }
                span { (c.name) }
                @if let Some(g) = &c.group { br; small { (g) } }
            }
            td {
                @if editable {
                    button type="button" data-action="toggle" aria-pressed=(c.enabled)
                        aria-label={(if c.enabled { "Disable " } else { "Enable " }) (label)} {
                        (if c.enabled { "Enabled" } else { "Disabled" })
                    }
                } @else {
                    (if c.enabled { "yes" } else { "no" }) br; small { "in the config file" }
                }
            }
            td {
                span class={"badge " (status)} { (status) }
                @if let Some(conf) = confidence { " " (format!("{:.0}%", conf * 100.0)) }
                @if let Some(g) = &c.guide_id { br; small { (g) } }
            }
            td {
                ol.cands {
                    @for (i, k) in c.candidates.iter().enumerate() {
                        (candidate(c, i, k, match_of(k, matches), editable))
                    }
                }
                div.probe {
                    button type="button" data-action="probe" aria-label={"Test " (label)} { "Test" }
                    output aria-live="polite" {
                        @if let Some(p) = &probe {
                            "Last test " (p.at) ": "
                            @for (i, line) in p.candidates.iter().enumerate() {
                                @if i > 0 { "; " } (line)
                            }
                        }
                    }
                }
            }
        }
    }
}

fn candidate(c: &Channel, i: usize, k: &Candidate, m: Option<&MatchRow>, editable: bool) -> Markup {
    let (source_id, source_name) = match &k.source {
        CandidateSource::Provider { source_id, name } => (Some(*source_id), name.as_str()),
        CandidateSource::Config => (None, "config"),
    };
    let key = k.stream_key.as_deref();
    let suggestions: Vec<(String, Option<f64>)> = m
        .and_then(|m| m.suggestions.as_array())
        .map(|a| {
            a.iter()
                .filter_map(|s| {
                    Some((
                        s.get("guide_id")?.as_str()?.to_string(),
                        s.get("confidence").and_then(serde_json::Value::as_f64),
                    ))
                })
                .collect()
        })
        .unwrap_or_default();
    let list_id = format!("sugg-{}-{i}", c.id.replace(':', "-"));
    html! {
        li data-source-id=[source_id] data-key=[key] {
            span.tier { (format!("{:?}", k.tier).to_lowercase()) }
            " " (source_name)
            @if let Some(n) = &k.stream_name { " · " (n) }
            @if let Some(m) = m {
                " · " small { (m.method) @if m.manual { " (manual)" }
                    @if let Some(conf) = m.confidence { " " (format!("{:.0}%", conf * 100.0)) } }
            }
            br; small.url { (redact(&k.url)) }
            @if editable && source_id.is_some() && key.is_some() {
                span.moves {
                    @if i > 0 { button type="button" data-action="up" aria-label={"Move " (source_name) " candidate " (i + 1) " up"} { "↑" } }
                    @if i + 1 < c.candidates.len() { button type="button" data-action="down" aria-label={"Move " (source_name) " candidate " (i + 1) " down"} { "↓" } }
                }
                details.fix {
                    summary { "Fix match" }
                    form data-action="match" {
                        label { "Guide channel id "
                            input name="guide_id" list=(list_id) value=[m.and_then(|m| m.guide_id.as_deref())] required; }
                        datalist id=(list_id) {
                            @for (g, _) in &suggestions { option value=(g) {} }
                        }
                        button type="submit" { "Save match" }
                        @if m.is_some_and(|m| m.manual) {
                            button type="button" data-action="clear-match" { "Clear manual match" }
                        }
                    }
                    @if !suggestions.is_empty() {
                        p.sugg { "Suggestions: "
                            @for (g, conf) in &suggestions {
                                button type="button" data-action="suggest" data-guide=(g) {
                                    (g) @if let Some(c) = conf { " " (format!("{:.0}%", c * 100.0)) }
                                }
                                " "
                            }
                        }
                    }
                }
            }
        }
    }
}
