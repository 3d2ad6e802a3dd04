//! Why a panel answer gave no value, and the checks every body passes
//! before it is read as JSON (shared by the parent and `list`).

/// Why a panel answer gave no value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum XtreamError {
    /// The panel refused the credentials: HTTP 401/403, `"auth": 0`, or no
    /// `user_info`.
    #[error("authentication failed (HTTP {status}): {reason}")]
    AuthFailed { status: u16, reason: &'static str },
    /// An HTML page (or JSON of another shape) instead of Xtream JSON: a
    /// wrong URL, a CDN or captcha page, or a panel that answers bad
    /// credentials with a 404 page. `status` is None for list bodies.
    #[error("not an Xtream Codes answer{}: {}", status_suffix(.status), title_text(.title))]
    NotXtream {
        status: Option<u16>,
        /// The page's title, scrubbed of anything credential-like.
        title: Option<String>,
    },
    #[error("HTTP {status} from the panel")]
    Http { status: u16 },
    #[error("empty body from the panel")]
    EmptyBody,
    /// Malformed JSON; serde's message, which quotes no content.
    #[error("malformed JSON at line {line} column {column}: {message}")]
    Json {
        message: String,
        line: usize,
        column: usize,
    },
    /// A base URL the builders cannot use.
    #[error("invalid panel URL: {reason}")]
    InvalidBase { reason: &'static str },
    /// Credentials a stream URL path cannot carry.
    #[error("invalid credentials for a stream URL: {reason}")]
    InvalidCredentials { reason: &'static str },
}

impl XtreamError {
    /// Whether the answer may mean refused credentials (which the sync
    /// should report as an account problem rather than retry): an explicit
    /// refusal, or an HTML page where JSON was expected.
    pub fn may_be_bad_credentials(&self) -> bool {
        matches!(self, Self::AuthFailed { .. } | Self::NotXtream { .. })
    }

    pub(super) fn json(e: serde_json::Error) -> Self {
        Self::Json {
            message: e.to_string(),
            line: e.line(),
            column: e.column(),
        }
    }
}

fn status_suffix(status: &Option<u16>) -> String {
    status.map(|s| format!(" (HTTP {s})")).unwrap_or_default()
}

fn title_text(title: &Option<String>) -> String {
    match title {
        Some(t) => format!("an HTML page titled \"{t}\""),
        None => "a page or document of another shape".into(),
    }
}

fn is_success(status: u16) -> bool {
    (200..300).contains(&status)
}

/// Checks what every body must pass before it is read as JSON.
pub(crate) fn precheck(status: Option<u16>, body: &[u8]) -> Result<(), XtreamError> {
    if crate::providers::looks_like_markup(body) {
        return Err(XtreamError::NotXtream {
            status,
            title: crate::providers::page_title_snippet(body),
        });
    }
    if let Some(status) = status.filter(|s| !is_success(*s)) {
        return Err(XtreamError::Http { status });
    }
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(XtreamError::EmptyBody);
    }
    Ok(())
}
