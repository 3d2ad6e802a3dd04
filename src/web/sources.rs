//! "Sources": Xtream accounts and M3U playlists, XMLTV guides, with the
//! account's status, expiry and connections in use of its maximum, the last
//! sync and its result, and a sync's progress. Add, edit, remove and "sync
//! now" are forms whose script calls `/api/sources` and `/api/epg-sources`.
//! Passwords are write-only: a form never holds one it did not just type,
//! and stored URLs (which may carry credentials) are shown redacted and
//! never put back into a form.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};

use super::layout::page as shell;
use super::state::WebState;
use crate::media::budget::AccountView as Budget;
use crate::providers::outcome::Progress;
use crate::redact::{redact, redact_in_text};
use crate::store::sources::SourceView;

pub async fn page(State(st): State<WebState>) -> Response {
    let rows = match st.store.sources().await {
        Ok(r) => r,
        Err(e) => {
            tracing::error!("sources page: {e:#}");
            return (StatusCode::INTERNAL_SERVER_ERROR, "cannot read the sources").into_response();
        }
    };
    let mut views = Vec::new();
    for r in &rows {
        match st.store.source_view(r).await {
            Ok(v) => views.push((v, st.syncer.progress(r.id))),
            Err(e) => {
                tracing::error!("sources page: {e:#}");
                return (StatusCode::INTERNAL_SERVER_ERROR, "cannot read the sources")
                    .into_response();
            }
        }
    }
    let budget = st.sessions.budget().view();
    let (guides, streams): (Vec<_>, Vec<_>) =
        views.into_iter().partition(|(v, _)| v.kind == "xmltv");
    shell(
        "Sources",
        "/sources",
        html! {
            section aria-labelledby="h-streams" {
                h2 id="h-streams" { "Streams: Xtream accounts and M3U playlists" }
                div data-region="streams" { (table("sources", &streams, &budget)) }
                (add_form("sources"))
            }
            section aria-labelledby="h-guides" {
                h2 id="h-guides" { "Guides: XMLTV" }
                div data-region="guides" { (table("epg-sources", &guides, &budget)) }
                (add_form("epg-sources"))
            }
        },
    )
    .into_response()
}

fn table(family: &str, rows: &[(SourceView, Option<Progress>)], budget: &[Budget]) -> Markup {
    html! {
        @if rows.is_empty() {
            p.empty { "None yet." }
        } @else {
            div.scroll {
                table.sources {
                    thead { tr {
                        th scope="col" { "Name" }
                        th scope="col" { "Account" }
                        th scope="col" { "Last sync" }
                        th scope="col" { "Actions" }
                    } }
                    tbody {
                        @for (v, p) in rows { (row(family, v, p.as_ref(), budget)) }
                    }
                }
            }
        }
    }
}

fn expiry(unix: i64) -> String {
    chrono::DateTime::from_timestamp(unix, 0)
        .map(|t| t.format("%Y-%m-%d").to_string())
        .unwrap_or_else(|| unix.to_string())
}

fn row(family: &str, v: &SourceView, p: Option<&Progress>, budget: &[Budget]) -> Markup {
    let used = budget.iter().find(|b| b.account == v.id);
    html! {
        tr data-id=(v.id) data-family=(family) data-state=(if p.is_some() { "syncing" } else { "idle" }) {
            th scope="row" {
                (v.name) br;
                small { (v.kind) " · " (redact(&v.url)) }
                @if v.from_config { br; small { "declared in the config file" } }
            }
            td {
                @if let Some(a) = &v.account {
                    (a.status.as_deref().unwrap_or("unknown"))
                    @if let Some(e) = a.expires { br; small { "expires " (expiry(e)) } }
                    @else { br; small { "no expiry" } }
                    @if a.trial == Some(true) { br; small { "trial" } }
                }
                @if v.kind != "xmltv" {
                    br; small data-field="connections" {
                        "connections " (used.map(|u| u.in_use).unwrap_or(0)) " in use of "
                        @match used.and_then(|u| u.max).map(i64::from).or(v.max_connections).or(v.account.as_ref().and_then(|a| a.max_connections)) {
                            Some(m) => { (m) }
                            None => { "no limit" }
                        }
                    }
                }
            }
            td data-field="last-sync" {
                @if let Some(p) = p {
                    span.badge.syncing { "syncing" } " " (p.step) " (" (p.started_ms_ago / 1000) " s)"
                } @else if let Some(s) = &v.last_sync {
                    span class={"badge " (if s.ok { "ok" } else { "bad" })} { (if s.ok { "ok" } else { "failed" }) }
                    " " time datetime=(s.at) { (s.at.get(..19).unwrap_or(&s.at).replace('T', " ")) }
                    @if let Some(c) = s.count { " · " (c) " items" }
                    @if let Some(m) = &s.message { br; span.msg { (redact_in_text(m)) } }
                } @else {
                    "never"
                }
                br; small { (v.streams) " stored" @if v.stale_streams > 0 { ", " (v.stale_streams) " stale" } }
            }
            td { div.actions {
                button type="button" data-action="sync" aria-label={"Sync " (v.name) " now"} { "Sync now" }
                @if !v.from_config {
                    details.edit {
                        summary { "Edit" }
                        (form(family, Some(v)))
                    }
                    button type="button" data-action="remove" aria-label={"Remove " (v.name)} { "Remove" }
                }
            } }
        }
    }
}

fn add_form(family: &str) -> Markup {
    html! {
        details.add open[false] {
            summary { (if family == "sources" { "Add an Xtream account or M3U playlist" } else { "Add an XMLTV guide" }) }
            (form(family, None))
        }
    }
}

/// The add or edit form. On edit, empty fields keep their stored value
/// (the URL and credentials are never sent back to the browser).
fn form(family: &str, v: Option<&SourceView>) -> Markup {
    let id = |f: &str| format!("{family}-{}-{f}", v.map(|v| v.id).unwrap_or(0));
    let keep = v.is_some();
    html! {
        form.source data-action=(if keep { "edit" } else { "add" }) data-family=(family) data-id=[v.map(|v| v.id)] {
            @if family == "sources" && !keep {
                label for=(id("kind")) { "Kind" }
                select id=(id("kind")) name="kind" {
                    option value="xtream" { "Xtream Codes account" }
                    option value="m3u" { "M3U playlist" }
                }
            }
            label for=(id("name")) { "Name" }
            input id=(id("name")) name="name" value=[v.map(|v| v.name.as_str())] autocomplete="off";
            label for=(id("url")) { (if family == "sources" { "Server or playlist URL" } else { "Guide URL" }) }
            input id=(id("url")) name="url" type="url" required[!keep] autocomplete="off"
                placeholder=(if keep { "leave empty to keep the stored URL" } else { "http://provider.example:8080" });
            @if family == "sources" && v.is_none_or(|v| v.kind == "xtream") {
                label for=(id("username")) { "Username (Xtream)" }
                input id=(id("username")) name="username" autocomplete="off"
                    placeholder=[keep.then_some("leave empty to keep")];
                label for=(id("password")) { "Password (Xtream)" }
                input id=(id("password")) name="password" type="password" autocomplete="new-password"
                    placeholder=[(keep && v.is_some_and(|v| v.has_password)).then_some("stored; leave empty to keep")];
            }
            @if family == "sources" {
                label for=(id("max")) { "Max connections" }
                input id=(id("max")) name="max_connections" type="number" min="1" inputmode="numeric"
                    value=[v.and_then(|v| v.max_connections)];
            }
            label for=(id("priority")) { "Priority (lower first)" }
            input id=(id("priority")) name="priority" type="number" inputmode="numeric" value=[v.map(|v| v.priority)];
            label for=(id("hours")) { "Sync every (hours)" }
            input id=(id("hours")) name="sync_hours" type="number" min="1" inputmode="numeric" value=[v.map(|v| v.sync_hours)];
            div.buttons { button type="submit" { (if keep { "Save" } else { "Add and sync" }) } }
            p.result role="alert" {}
        }
    }
}
