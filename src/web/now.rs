//! "Now playing": every live session with its channel, the candidate in
//! use, state, uptime, clients and their lag, a few minutes of bitrate,
//! stall and failover counts, and the totals. The same fragment is sent
//! over the live stream every second, so the page updates in place.

use axum::extract::State;
use maud::{Markup, html};

use super::layout::{bps, bytes, duration_s, page as shell, sparkline};
use super::state::WebState;
use crate::media::health::{SessionView, State as SessionState};
use crate::redact::redact;

pub async fn page(State(st): State<WebState>) -> Markup {
    page_markup(&st)
}

fn page_markup(st: &WebState) -> Markup {
    shell(
        "Now playing",
        "/",
        html! {
            div id="sessions" data-live="sessions" { (sessions_fragment(st)) }
        },
    )
}

fn state_word(s: SessionState) -> &'static str {
    match s {
        SessionState::Starting => "starting",
        SessionState::Healthy => "healthy",
        SessionState::Stalled => "stalled",
        SessionState::Switching => "switching",
        SessionState::Ended => "ended",
    }
}

/// The totals and the sessions table (what the live stream re-sends).
pub fn sessions_fragment(st: &WebState) -> Markup {
    let views: Vec<SessionView> = st
        .sessions
        .views()
        .into_iter()
        .filter(|v| v.state != SessionState::Ended)
        .collect();
    let lineup = st.lineup.all();
    let clients: usize = views.iter().map(|v| v.clients).sum();
    let rate_in: u64 = views.iter().map(|v| v.bitrate_bps).sum();
    // Every client is sent the session's muxed stream.
    let rate_out: u64 = views.iter().map(|v| v.bitrate_bps * v.clients as u64).sum();
    html! {
        dl.totals {
            div { dt { "Sessions" } dd data-total="sessions" { (views.len()) " of " (st.sessions.tuner_count()) " tuners" } }
            div { dt { "Clients" } dd data-total="clients" { (clients) } }
            div { dt { "In" } dd { (bps(rate_in)) } }
            div { dt { "Out" } dd title="bitrate × clients" { (bps(rate_out)) } }
        }
        @if views.is_empty() {
            p.empty { "Nothing is playing. Sessions appear here as soon as Plex or another client tunes a channel." }
        } @else {
            div.scroll {
                table.sessions {
                    caption.sr { "Live sessions" }
                    thead { tr {
                        th scope="col" { "Channel" }
                        th scope="col" { "State" }
                        th scope="col" { "Candidate" }
                        th scope="col" { "Uptime" }
                        th scope="col" { "Clients" }
                        th scope="col" { "Bitrate" }
                        th scope="col" { "Stalls" }
                        th scope="col" { "Failovers" }
                    } }
                    tbody {
                        @for v in &views {
                            @let ch = lineup.iter().find(|c| c.number == v.channel);
                            @let live = st.dashboard.live(&v.channel);
                            @let total = ch.map(|c| c.candidates.len()).unwrap_or(0);
                            @let cand = ch.and_then(|c| c.candidates.get(v.source_index));
                            tr data-channel=(v.channel) data-state=(state_word(v.state)) {
                                th scope="row" {
                                    span.num { (v.channel) }
                                    " "
                                    (ch.map(|c| c.name.as_str()).unwrap_or(""))
                                }
                                td { span class={"badge " (state_word(v.state))} { (state_word(v.state)) }
                                    @if v.ms_since_data > 1000 { " " small { (v.ms_since_data / 1000) "s quiet" } } }
                                td.cand {
                                    "#" (v.source_index + 1)
                                    @if total > 0 { " of " (total) }
                                    @if let Some(c) = cand {
                                        " · " (format!("{:?}", c.tier).to_lowercase())
                                        @if let crate::lineup::CandidateSource::Provider { name, .. } = &c.source { " · " (name) }
                                    }
                                    br;
                                    small.url { (redact(&v.source)) }
                                }
                                td { (duration_s(v.uptime_s)) }
                                td {
                                    span data-field="clients" { (v.clients) }
                                    @if v.readers_lagged > 0 || v.readers_dropped > 0 {
                                        br; small { "lagged " (v.readers_lagged) "×, dropped " (v.readers_dropped) }
                                    }
                                }
                                td.rate {
                                    (sparkline(&st.dashboard.history(&v.channel)))
                                    span { (bps(v.bitrate_bps)) }
                                    br; small { (bytes(v.bytes_in)) " in" }
                                }
                                td data-field="stalls" { (live.stalls) }
                                td {
                                    span data-field="failovers" { (v.failovers) }
                                    @if let Some(f) = &live.last_failover { br; small { "last " (f) } }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}
