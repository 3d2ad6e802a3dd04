//! The dashboard's static files (`src/web/static/`, served at `/static/`), compiled into the
//! binary: no network, no files next to it, no front-end build.

use axum::extract::Path;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

#[derive(rust_embed::Embed)]
#[folder = "src/web/static/"]
struct Assets;

fn content_type(path: &str) -> &'static str {
    match path.rsplit('.').next() {
        Some("css") => "text/css; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("svg") => "image/svg+xml",
        _ => "application/octet-stream",
    }
}

pub async fn serve(Path(path): Path<String>) -> Response {
    match Assets::get(&path) {
        Some(f) => (
            [
                (header::CONTENT_TYPE, content_type(&path)),
                // Short: a new binary's assets show within minutes.
                (header::CACHE_CONTROL, "public, max-age=300"),
                (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            ],
            f.data,
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, "no such asset\n").into_response(),
    }
}

/// Every embedded file's name (tests, benches).
pub fn names() -> Vec<String> {
    Assets::iter().map(|n| n.to_string()).collect()
}
