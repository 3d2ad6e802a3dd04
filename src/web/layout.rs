//! The page shell (head, navigation, skip link) and the small formatters
//! every page shares. Markup only: no state is read here.

use maud::{DOCTYPE, Markup, PreEscaped, html};

/// The pages in the navigation: path and label.
const NAV: &[(&str, &str)] = &[
    ("/", "Now playing"),
    ("/events", "Events"),
    ("/channels", "Channels"),
    ("/sources", "Sources"),
    ("/plex", "Plex setup"),
];

/// A whole page. `current` is the path of the navigation entry to mark.
pub fn page(title: &str, current: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="color-scheme" content="light dark";
                title { (title) " · StreamForge" }
                link rel="icon" href="/static/favicon.svg" type="image/svg+xml";
                link rel="stylesheet" href="/static/app.css";
                script src="/static/app.js" defer {}
            }
            body data-page=(current) {
                a.skip href="#main" { "Skip to content" }
                header.top {
                    span.brand { "StreamForge" }
                    nav aria-label="Main" {
                        ul {
                            @for (href, label) in NAV {
                                li {
                                    @if *href == current {
                                        a href=(href) aria-current="page" { (label) }
                                    } @else {
                                        a href=(href) { (label) }
                                    }
                                }
                            }
                        }
                    }
                    button.logout type="button" data-action="logout" { "Log out" }
                }
                main id="main" tabindex="-1" {
                    h1 { (title) }
                    div.notice role="status" aria-live="polite" id="status" {}
                    (body)
                }
            }
        }
    }
}

/// Bits per second, the way a person reads them.
pub fn bps(b: u64) -> String {
    let b = b as f64;
    if b >= 1e6 {
        format!("{:.1} Mbit/s", b / 1e6)
    } else if b >= 1e3 {
        format!("{:.0} kbit/s", b / 1e3)
    } else {
        format!("{b:.0} bit/s")
    }
}

pub fn bytes(n: u64) -> String {
    let n = n as f64;
    if n >= 1e9 {
        format!("{:.2} GB", n / 1e9)
    } else if n >= 1e6 {
        format!("{:.1} MB", n / 1e6)
    } else if n >= 1e3 {
        format!("{:.0} kB", n / 1e3)
    } else {
        format!("{n:.0} B")
    }
}

/// `1h 02m`, `3m 05s`, `42s`.
pub fn duration_s(s: u64) -> String {
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m {:02}s", s / 60, s % 60),
        _ => format!("{}h {:02}m", s / 3600, (s % 3600) / 60),
    }
}

/// A small bitrate chart: an SVG polyline over the samples, scaled to the
/// largest. Decorative: the current value is printed beside it.
pub fn sparkline(samples: &[u64]) -> Markup {
    const W: f64 = 120.0;
    const H: f64 = 28.0;
    let max = samples.iter().copied().max().unwrap_or(0).max(1) as f64;
    let n = samples.len();
    let points: Vec<String> = samples
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let x = if n > 1 {
                W * i as f64 / (n - 1) as f64
            } else {
                W
            };
            let y = H - 2.0 - (H - 4.0) * (*v as f64 / max);
            format!("{x:.1},{y:.1}")
        })
        .collect();
    html! {
        svg.spark width="120" height="28" viewBox="0 0 120 28" aria-hidden="true" focusable="false" {
            @if n > 1 {
                polyline points=(points.join(" ")) fill="none" stroke="currentColor" stroke-width="1.5" {}
            }
        }
    }
}

/// Inline JSON for the script (`<` escaped so it cannot end the element).
pub fn json_script(id: &str, v: &serde_json::Value) -> Markup {
    let text = v.to_string().replace('<', "\\u003c");
    html! { script type="application/json" id=(id) { (PreEscaped(text)) } }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(bps(3_260_000), "3.3 Mbit/s");
        assert_eq!(bps(800_000), "800 kbit/s");
        assert_eq!(duration_s(65), "1m 05s");
        assert_eq!(duration_s(3720), "1h 02m");
        let s = json_script("x", &serde_json::json!({"a": "</script>"})).into_string();
        assert!(!s.contains("</script>\"") && s.contains("\\u003c/script>"));
    }
}
