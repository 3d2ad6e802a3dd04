//! "Plex setup": the address to type into Plex, the guide URL for its
//! XMLTV step, the device id, whether discovery listens (UDP 65001, SSDP)
//! and why not, and "test this channel", which runs the probe through
//! `POST /api/probe/{number}` and shows its report.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use axum::extract::State;
use maud::{Markup, html};

use super::dashboard::Listening;
use super::layout::page as shell;
use super::state::WebState;
use crate::plex::urls::SetupUrls;

pub async fn page(State(st): State<WebState>) -> Markup {
    let addr = st
        .device
        .http_addr
        .or_else(|| st.config.server.listen.parse().ok())
        .unwrap_or(SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 5004));
    let urls = SetupUrls::new(st.config.server.public_url.as_deref(), addr);
    let d = &st.dashboard.discovery;
    let first = st.lineup.enabled().into_iter().next().map(|c| c.number);
    shell(
        "Plex setup",
        "/plex",
        html! {
            section aria-labelledby="h-steps" {
                h2 id="h-steps" { "Add the tuner" }
                ol.steps {
                    li {
                        "In Plex: Settings › Live TV & DVR › Set up Plex DVR. If "
                        strong { (st.device.friendly_name) } " is not listed, enter its network address:"
                        div.copy { code id="tuner-address" { (urls.tuner_address) }
                            " " button type="button" data-action="copy" data-target="tuner-address"
                                aria-label="Copy the tuner address" { "Copy" } }
                    }
                    li {
                        "When Plex asks for a guide, choose XMLTV and give it:"
                        div.copy { code id="xmltv-url" { (urls.xmltv_url) }
                            " " button type="button" data-action="copy" data-target="xmltv-url"
                                aria-label="Copy the guide URL" { "Copy" } }
                    }
                }
                @for n in &urls.notes { p.warn role="note" { (n) } }
            }
            section aria-labelledby="h-device" {
                h2 id="h-device" { "Device" }
                dl.facts {
                    dt { "Device id" } dd { code id="device-id" { (st.device.id_hex()) } }
                    dt { "Name" } dd { (st.device.friendly_name) }
                    dt { "Tuners" } dd { (st.sessions.tuner_count()) }
                    dt { "Discovery (UDP)" } dd { (listening(&d.udp)) }
                    dt { "SSDP" } dd { (listening(&d.ssdp)) }
                    dt { "Other IPTV clients" } dd { code { (urls.m3u_url) } }
                    dt { "Lineup" } dd { code { (urls.lineup_url) } }
                }
            }
            section aria-labelledby="h-test" {
                h2 id="h-test" { "Test a channel" }
                p { "Opens each candidate of the channel in failover order, watches it for a few seconds and reports what it found." }
                form.probe-form data-action="probe-form" {
                    label for="probe-number" { "Channel number" }
                    input id="probe-number" name="number" inputmode="decimal" pattern="[0-9.]+" required value=[first.as_deref()];
                    label for="probe-seconds" { "Seconds per candidate" }
                    input id="probe-seconds" name="seconds" type="number" min="1" max="30" value="5";
                    div.buttons { button type="submit" { "Test this channel" } }
                }
                div id="probe-report" aria-live="polite" {}
            }
        },
    )
}

fn listening(l: &Listening) -> Markup {
    html! {
        span class={"badge " (if l.on { "ok" } else { "bad" })} { (if l.on { "on" } else { "off" }) }
        " " (l.text)
    }
}
