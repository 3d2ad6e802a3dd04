//! The login page: a password field whose script posts to
//! `/api/auth/login` and then goes to `next` (a path on this server only).

use axum::extract::Query;
use maud::{DOCTYPE, Markup, html};
use serde::Deserialize;

#[derive(Deserialize, Default)]
pub struct Next {
    pub next: Option<String>,
}

/// `next` when it is a path on this server (never `//host` or a URL).
pub fn safe_next(next: Option<&str>) -> &str {
    match next {
        Some(n) if n.starts_with('/') && !n.starts_with("//") && !n.contains('\\') => n,
        _ => "/",
    }
}

pub async fn page(Query(q): Query<Next>) -> Markup {
    let next = safe_next(q.next.as_deref());
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="color-scheme" content="light dark";
                title { "Log in · StreamForge" }
                link rel="icon" href="/static/favicon.svg" type="image/svg+xml";
                link rel="stylesheet" href="/static/app.css";
                script src="/static/app.js" defer {}
            }
            body data-page="/login" {
                main id="main" class="login" {
                    h1 { "StreamForge" }
                    form.login data-action="login" data-next=(next) {
                        label for="password" { "Admin password" }
                        input id="password" name="password" type="password" autocomplete="current-password" required autofocus;
                        div.buttons { button type="submit" { "Log in" } }
                        p.result role="alert" {}
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn next_stays_on_this_server() {
        assert_eq!(safe_next(Some("/channels?q=x")), "/channels?q=x");
        assert_eq!(safe_next(Some("//evil.example/")), "/");
        assert_eq!(safe_next(Some("https://evil.example/")), "/");
        assert_eq!(safe_next(Some("/\\evil")), "/");
        assert_eq!(safe_next(None), "/");
    }
}
